"""Generate the tiny random Llama GGUF fixtures and their expected outputs (dev-only; CI never runs this).

Writes, under Tests/Fixtures/tiny-llama/:
  tiny-<type>.gguf      for <type> in f32, f16, bf16, q8_0, q4_0, q4_1: one tiny random llama checkpoint,
                        written with the reference `gguf` library (GGUFWriter) in llama.cpp's conventions.
                        Matrices (token_embd included) in <type> (quantized with gguf.quants.quantize),
                        norms F32. tiny-q8_0.gguf has a separate output.weight; the others are tied
                        (no output.weight). Q/K rows are permuted exactly as convert_hf_to_gguf does.
  expected-<type>.json  for each file: prompt ids, float32 logits at every prompt position, and the
                        16-token greedy continuation of each prompt.
  tokenizer-cases.json  text -> ids (and ids -> text) for the tiny byte-level BPE tokenizer, plus a
                        rendered ChatML conversation.

Rerun (from the repo root, after tools/setup-reference-env.sh):
    .venv-ref/bin/python tools/gen_tiny_llama.py

Reference used: HF transformers (LlamaForCausalLM, float32, eager attention). Its weights are the
DEQUANTIZED contents of each written GGUF (read back with gguf.GGUFReader, gguf.quants.dequantize,
Q/K rows un-permuted to HF's rotate-half layout). Tokenizer cases come from transformers' GGUF
tokenizer loader. Cross-checks printed (not written): transformers' own GGUF model loader vs the
hand-built model, tools/numpy_llama.py vs transformers, model.generate vs the argmax loop, and a small
BPE encoder written here vs transformers' tokenizer.

Deterministic: fixed seeds, no time stamps; a rerun rewrites identical files.
"""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import regex

import gguf
from gguf import GGMLQuantizationType as QT
from gguf import GGUFReader, GGUFWriter, LlamaFileType, TokenType
from gguf.quants import dequantize, quantize

import torch

torch.set_num_threads(1)  # the dev machines have 2 cores; leave one free

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "tiny-llama"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_llama  # noqa: E402

SEED = 20240611

# ---- model shape -----------------------------------------------------------------------------
N_VOCAB = 320
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2
HEAD_DIM = 16
N_FF = 128
N_LAYER = 2
N_CTX = 256
ROPE_BASE = 10000.0
RMS_EPS = 1e-5
N_GREEDY = 16

TYPES = {
    # name: (ggml type, general.file_type, separate output.weight?)
    "f32": (QT.F32, LlamaFileType.ALL_F32, False),
    "f16": (QT.F16, LlamaFileType.MOSTLY_F16, False),
    "bf16": (QT.BF16, LlamaFileType.MOSTLY_BF16, False),
    "q8_0": (QT.Q8_0, LlamaFileType.MOSTLY_Q8_0, True),
    "q4_0": (QT.Q4_0, LlamaFileType.MOSTLY_Q4_0, False),
    "q4_1": (QT.Q4_1, LlamaFileType.MOSTLY_Q4_1, False),
}

# ---- tokenizer -------------------------------------------------------------------------------
N_MERGES = 61  # 256 bytes + 61 merges + 3 control tokens = 320
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
GPT2_SPLIT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
TRAIN_TEXT = (
    "The little engine hummed along the track. It was the third time that the engine had made the "
    "trip, and the driver knew every turn of the line. In the morning the fields were green and the "
    "river was still; in the evening the light turned gold and the shadows grew long. The children "
    "waved at the train, and the train answered with a whistle. There is nothing quite like the sound "
    "of an engine at the end of the day, when the work is done and the station is in sight. "
    "Then the driver said: \"We are there, and the tea is on the stove.\" Everyone laughed, and the "
    "little engine rested in the shed until the next morning came."
)
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character map, in GPT-2's order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    out = {b: chr(b) for b in printable}
    n = 0
    for b in range(256):
        if b not in out:
            out[b] = chr(256 + n)
            n += 1
    return out  # dict order: printable bytes first, then the remapped ones (GPT-2's vocab order)


B2U = bytes_to_unicode()


def train_bpe(text: str, n_merges: int) -> list[tuple[str, str]]:
    """Plain byte-level BPE on `text`; ties broken by the pair's spelling so it is deterministic."""
    words = Counter(tuple(B2U[b] for b in piece.encode("utf-8")) for piece in GPT2_SPLIT.findall(text))
    vocab = set(B2U.values())
    merges: list[tuple[str, str]] = []
    while len(merges) < n_merges:
        pairs: Counter = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        best = None
        for pair, _ in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0])):
            if pair[0] + pair[1] not in vocab:
                best = pair
                break
        if best is None:
            raise RuntimeError("training text too short for the number of merges")
        merges.append(best)
        vocab.add(best[0] + best[1])
        new_words: Counter = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words[tuple(out)] += c
        words = new_words
    return merges


def build_vocab():
    merges = train_bpe(TRAIN_TEXT, N_MERGES)
    tokens = list(B2U.values()) + [a + b for a, b in merges] + SPECIALS
    types = [TokenType.NORMAL] * (256 + N_MERGES) + [TokenType.CONTROL] * len(SPECIALS)
    assert len(tokens) == N_VOCAB and len(set(tokens)) == N_VOCAB
    return tokens, types, merges


def simple_bpe_encode(text: str, tokens: list[str], merges: list[tuple[str, str]]) -> list[int]:
    """Independent little encoder (no special-token handling) to cross-check transformers' tokenizer."""
    rank = {m: i for i, m in enumerate(merges)}
    index = {t: i for i, t in enumerate(tokens)}
    ids: list[int] = []
    for piece in GPT2_SPLIT.findall(text):
        w = [B2U[b] for b in piece.encode("utf-8")]
        while len(w) > 1:
            cands = [(rank[(w[i], w[i + 1])], i) for i in range(len(w) - 1) if (w[i], w[i + 1]) in rank]
            if not cands:
                break
            _, i = min(cands)
            w = w[:i] + [w[i] + w[i + 1]] + w[i + 2:]
        ids.extend(index[s] for s in w)
    return ids


# ---- weights ---------------------------------------------------------------------------------
def make_hf_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random weights in HF layout (nn.Linear [out, in], Q/K rows in rotate-half order).

    Scales are chosen so the tiny model is not trivial: embeddings ~N(0, 0.3) give logits with std ~2
    after the final norm, attention weights ~N(0, 0.15) give peaked-but-not-one-hot attention,
    norm weights are 1 + N(0, 0.1)."""
    def n(shape, std):
        return (rng.standard_normal(shape) * std).astype(np.float32)

    w = {"model.embed_tokens.weight": n((N_VOCAB, N_EMBD), 0.3)}
    for i in range(N_LAYER):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1.0 + n((N_EMBD,), 0.1)
        w[p + "self_attn.q_proj.weight"] = n((N_HEAD * HEAD_DIM, N_EMBD), 0.15)
        w[p + "self_attn.k_proj.weight"] = n((N_HEAD_KV * HEAD_DIM, N_EMBD), 0.15)
        w[p + "self_attn.v_proj.weight"] = n((N_HEAD_KV * HEAD_DIM, N_EMBD), 0.15)
        w[p + "self_attn.o_proj.weight"] = n((N_EMBD, N_HEAD * HEAD_DIM), 0.15)
        w[p + "post_attention_layernorm.weight"] = 1.0 + n((N_EMBD,), 0.1)
        w[p + "mlp.gate_proj.weight"] = n((N_FF, N_EMBD), 0.12)
        w[p + "mlp.up_proj.weight"] = n((N_FF, N_EMBD), 0.12)
        w[p + "mlp.down_proj.weight"] = n((N_EMBD, N_FF), 0.1)
    w["model.norm.weight"] = 1.0 + n((N_EMBD,), 0.1)
    w["lm_head.weight"] = n((N_VOCAB, N_EMBD), 0.3)  # used only by the untied file
    return w


def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF rotate-half row order -> llama.cpp adjacent-pair row order (what convert_hf_to_gguf does)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """Inverse of permute_qk."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


HF_TO_GGUF = {
    "input_layernorm": "attn_norm",
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
# per-layer tensor order as convert_hf_to_gguf writes a llama (HF safetensors names, sorted)
LAYER_ORDER = ["input_layernorm", "mlp.down_proj", "mlp.gate_proj", "mlp.up_proj", "post_attention_layernorm",
               "self_attn.k_proj", "self_attn.o_proj", "self_attn.q_proj", "self_attn.v_proj"]


def gguf_tensors(hf: dict[str, np.ndarray], separate_output: bool) -> list[tuple[str, np.ndarray]]:
    """(gguf name, float32 array in GGUF layout) in file order."""
    out = [("token_embd.weight", hf["model.embed_tokens.weight"])]
    for i in range(N_LAYER):
        for key in LAYER_ORDER:
            a = hf[f"model.layers.{i}.{key}.weight"]
            if key == "self_attn.q_proj":
                a = permute_qk(a, N_HEAD)
            elif key == "self_attn.k_proj":
                a = permute_qk(a, N_HEAD_KV)
            out.append((f"blk.{i}.{HF_TO_GGUF[key]}.weight", a))
    out.append(("output_norm.weight", hf["model.norm.weight"]))
    if separate_output:
        out.append(("output.weight", hf["lm_head.weight"]))
    return out


def write_gguf(path: Path, tname: str, tokens, types, merges) -> None:
    qtype, ftype, separate_output = TYPES[tname]
    hf = make_hf_weights(np.random.default_rng(SEED))  # the same float weights for every file
    w = GGUFWriter(str(path), "llama", use_temp_file=False)
    w.add_type("model")
    w.add_name(f"iquest tiny llama {tname}")
    w.add_block_count(N_LAYER)
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_freq_base(ROPE_BASE)
    w.add_layer_norm_rms_eps(RMS_EPS)
    w.add_file_type(int(ftype))
    w.add_vocab_size(N_VOCAB)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_add_space_prefix(False)
    w.add_add_bos_token(False)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(tokens)
    w.add_token_types([int(t) for t in types])
    w.add_token_merges([f"{a} {b}" for a, b in merges])
    eot = tokens.index("<|endoftext|>")
    w.add_bos_token_id(eot)
    w.add_eos_token_id(eot)
    w.add_chat_template(CHAT_TEMPLATE)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    for name, a in gguf_tensors(hf, separate_output):
        if a.ndim == 1 or qtype == QT.F32:
            w.add_tensor(name, a.astype(np.float32))
        elif qtype == QT.F16:
            w.add_tensor(name, quantize(a, QT.F16))
        else:
            w.add_tensor(name, quantize(a, qtype), raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ---- reference model -------------------------------------------------------------------------
def hf_config(tied: bool, eot: int):
    from transformers import LlamaConfig
    return LlamaConfig(
        vocab_size=N_VOCAB, hidden_size=N_EMBD, intermediate_size=N_FF, num_hidden_layers=N_LAYER,
        num_attention_heads=N_HEAD, num_key_value_heads=N_HEAD_KV, head_dim=HEAD_DIM,
        max_position_embeddings=N_CTX, rms_norm_eps=RMS_EPS,
        rope_parameters={"rope_type": "default", "rope_theta": ROPE_BASE},
        tie_word_embeddings=tied, bos_token_id=eot, eos_token_id=eot, pad_token_id=None,
        hidden_act="silu", attention_bias=False, mlp_bias=False,
    )


def hf_model_from_gguf(path: Path, eot: int):
    """LlamaForCausalLM whose weights are the dequantized tensors of `path`, Q/K un-permuted."""
    from transformers import LlamaForCausalLM
    r = GGUFReader(str(path))
    g = {t.name: np.array(dequantize(t.data, t.tensor_type), dtype=np.float32) for t in r.tensors}
    tied = "output.weight" not in g
    cfg = hf_config(tied, eot)
    cfg._attn_implementation = "eager"
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).to(torch.float32).eval()
    inv = {v: k for k, v in HF_TO_GGUF.items()}
    sd = {"model.embed_tokens.weight": g["token_embd.weight"], "model.norm.weight": g["output_norm.weight"],
          "lm_head.weight": g["token_embd.weight"] if tied else g["output.weight"]}
    for i in range(N_LAYER):
        for short, hfname in inv.items():
            a = g[f"blk.{i}.{short}.weight"]
            if short == "attn_q":
                a = unpermute_qk(a, N_HEAD)
            elif short == "attn_k":
                a = unpermute_qk(a, N_HEAD_KV)
            sd[f"model.layers.{i}.{hfname}.weight"] = a
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}, strict=True)
    if tied:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    return model, tied


@torch.no_grad()
def logits_of(model, ids: list[int]) -> np.ndarray:
    return model(torch.tensor([ids]), use_cache=False).logits[0].float().numpy()


@torch.no_grad()
def greedy(model, ids: list[int], n: int):
    """Argmax loop, full recompute every step (no cache). Returns ids and each step's top-2."""
    seq = list(ids)
    out, top2_ids, top2_logits = [], [], []
    for _ in range(n):
        last = logits_of(model, seq)[-1]
        order = np.argsort(-last, kind="stable")[:2]
        nxt = int(order[0])
        out.append(nxt)
        top2_ids.append([int(j) for j in order])
        top2_logits.append([f32(last[j]) for j in order])
        seq.append(nxt)
    return out, top2_ids, top2_logits


def f32(x) -> float:
    """A float32 as the shortest decimal that round-trips it (keeps the JSON small and exact)."""
    return float(str(np.float32(x)))


def prompts(tokens: list[str], merges) -> list[dict]:
    rng = np.random.default_rng(SEED + 1)
    eot, ims = tokens.index("<|endoftext|>"), tokens.index("<|im_start|>")
    short = [int(v) for v in rng.integers(0, 256 + N_MERGES, size=5)]
    medium = [eot] + [int(v) for v in rng.integers(0, 256 + N_MERGES, size=16)]
    text = "user\nThe engine hummed along the track, and the driver knew every turn of the line at night."
    long_ = [ims] + simple_bpe_encode(text, tokens, merges)
    long_ = (long_ + [int(v) for v in rng.integers(0, 256 + N_MERGES, size=40)])[:40]
    return [{"name": "short", "ids": short}, {"name": "medium", "ids": medium}, {"name": "long", "ids": long_}]


def tokenizer_cases(gguf_path: Path, tokens, merges) -> dict:
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    texts = [
        "",
        "The engine",
        "the little engine hummed along the track.",
        "Hello, World! It's 2024 and we're here.",
        "  two  spaces\n\n\tand a tab  ",
        "héllo wörld — naïve café 🙂",
        "def f(x):\n    return x * 42\n",
        "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n",
        "a<|endoftext|>b",
    ]
    cases = []
    for t in texts:
        ids = tok.encode(t, add_special_tokens=False)
        if "<|" not in t:
            mine = simple_bpe_encode(t, tokens, merges)
            if mine != ids:
                print(f"  !! tokenizer mismatch on {t!r}: transformers {ids} vs local BPE {mine}")
        dec = tok.decode(ids, skip_special_tokens=False)
        if dec != t:
            print(f"  !! decode does not round-trip for {t!r}: {dec!r}")
        cases.append({"text": t, "ids": ids})
    with_special = tok.encode("hi", add_special_tokens=True)
    conv = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi!"}]
    rendered = tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
    return {
        "format": "iquest-tiny-tokenizer-cases/1",
        "gguf": gguf_path.name,
        "reference": "transformers AutoTokenizer.from_pretrained(gguf_file=...), encode(add_special_tokens=False)",
        "vocab_size": len(tokens),
        "bos_id": tokens.index("<|endoftext|>"),
        "eos_id": tokens.index("<|endoftext|>"),
        "im_start_id": tokens.index("<|im_start|>"),
        "im_end_id": tokens.index("<|im_end|>"),
        "n_merges": len(merges),
        "add_bos_token": False,
        "encode_hi_with_special_tokens": with_special,
        "cases": cases,
        "chat": {"messages": conv, "add_generation_prompt": True, "rendered": rendered,
                 "ids": tok.encode(rendered, add_special_tokens=False)},
    }


def to_json(obj, indent: int = 0) -> str:
    """json.dumps-compatible text, but every list of scalars on one line (small, diffable files)."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in obj) + "]"
        return "[\n" + ",\n".join(inner + to_json(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


def dump_json(obj, path: Path) -> None:
    text = to_json(obj) + "\n"
    assert json.loads(text) == obj
    path.write_text(text, encoding="utf-8")


def main() -> int:
    import transformers
    OUT.mkdir(parents=True, exist_ok=True)
    tokens, types, merges = build_vocab()
    eot = tokens.index("<|endoftext|>")
    ps = prompts(tokens, merges)
    for tname in TYPES:
        path = OUT / f"tiny-{tname}.gguf"
        write_gguf(path, tname, tokens, types, merges)
        model, tied = hf_model_from_gguf(path, eot)
        records = []
        for p in ps:
            lg = logits_of(model, p["ids"])
            g_ids, t2i, t2l = greedy(model, p["ids"], N_GREEDY)
            x = torch.tensor([p["ids"]])
            gen = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=N_GREEDY, min_new_tokens=N_GREEDY,
                                 do_sample=False, pad_token_id=eot, eos_token_id=None)
            gen_ids = gen[0, len(p["ids"]):].tolist()
            if gen_ids != g_ids:
                print(f"  !! {tname}/{p['name']}: model.generate (KV cache) {gen_ids} != argmax loop {g_ids}")
            np_lg = numpy_llama.forward(str(path), p["ids"])
            print(f"{tname:5s} {p['name']:6s} len={len(p['ids']):2d} logit std={lg.std():.3f} "
                  f"numpy_llama max|diff|={np.abs(np_lg - lg).max():.2e} greedy={g_ids}")
            records.append({
                "name": p["name"],
                "ids": p["ids"],
                "logits_positions": list(range(len(p["ids"]))),
                "logits": [[f32(v) for v in row] for row in lg],
                "greedy_ids": g_ids,
                "greedy_top2_ids": t2i,
                "greedy_top2_logits": t2l,
            })
        qtype, ftype, _ = TYPES[tname]
        expected = {
            "format": "iquest-tiny-llama-expected/1",
            "gguf": path.name,
            "tensor_type": tname,
            "ggml_type": int(qtype),
            "file_type": int(ftype),
            "tied_embeddings": tied,
            "reference": f"transformers {transformers.__version__} LlamaForCausalLM, float32, eager attention, "
                         f"weights = gguf.quants.dequantize of the file, Q/K un-permuted",
            "config": {
                "vocab_size": N_VOCAB, "hidden_size": N_EMBD, "n_layer": N_LAYER, "n_head": N_HEAD,
                "n_head_kv": N_HEAD_KV, "head_dim": HEAD_DIM, "ffn_size": N_FF, "context_length": N_CTX,
                "rope_base": ROPE_BASE, "rms_eps": RMS_EPS, "bos_id": eot, "eos_id": eot,
            },
            "n_greedy": N_GREEDY,
            "prompts": records,
        }
        dump_json(expected, OUT / f"expected-{tname}.json")

    # transformers' own GGUF loader against the hand-built models (weights, permutation, config)
    from transformers import AutoModelForCausalLM
    for tname in TYPES:
        path = OUT / f"tiny-{tname}.gguf"
        ours, _ = hf_model_from_gguf(path, eot)
        try:
            theirs = AutoModelForCausalLM.from_pretrained(str(OUT), gguf_file=path.name, dtype=torch.float32,
                                                          attn_implementation="eager").eval()
        except Exception as e:  # noqa: BLE001
            print(f"transformers GGUF loader failed on {path.name}: {type(e).__name__}: {e}")
            continue
        d = max(float(np.abs(logits_of(theirs, p["ids"]) - logits_of(ours, p["ids"])).max()) for p in ps)
        print(f"transformers GGUF loader vs hand-built, {tname}: max|diff| = {d:.3e}")

    dump_json(tokenizer_cases(OUT / "tiny-f32.gguf", tokens, merges), OUT / "tokenizer-cases.json")
    for f in sorted(OUT.iterdir()):
        print(f"{f.name:24s} {f.stat().st_size:8d} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
