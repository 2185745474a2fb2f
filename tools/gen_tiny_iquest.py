"""Generate tiny IQuest-Coder-V1 checkpoints in the published Hugging Face schema, with expected outputs
(dev-only; CI never runs this; the Swift tests read the committed files).

Rerun (from the repo root; any venv with the pins of tools/requirements-reference.txt):
    /work/venv-ref/bin/python tools/gen_tiny_iquest.py        (or .venv-ref/bin/python, see setup-reference-env.sh)

Writes, under Tests/Fixtures/tiny-iquest/:
  dense/                       an HF checkpoint directory as IQuest publishes it (IQuestCoderForCausalLM):
    config.json                model_type "iquestcoder", top-level rope_theta, explicit head_dim, eos list,
                               auto_map, clip_qkv/use_sliding_window/max_window_layers, torch_dtype bfloat16.
    generation_config.json     bos/eos ids only (eos a list).
    model-00001-of-00002.safetensors, model-00002-of-00002.safetensors, model.safetensors.index.json
                               random weights (fixed seed) stored as bf16, spec §4 tensor names, HF rotate-half
                               layout (no Q/K permutation).
    tokenizer.model            SentencePiece BPE model trained here (sentencepiece trainer, deterministic flags)
                               on the corpus in tools/iquest_fixture_corpus.py.
    tokenizer_config.json      IQuest's slow-tokenizer config: added_tokens_decoder (the 3 SentencePiece
                               controls + the 27 IQuest added tokens at the end of the vocab), the Qwen3-style
                               chat_template written for this project, add_bos_token false, ...
    special_tokens_map.json
    expected.json              reference logits + greedy continuations (see below).
    tokenizer-expected.json    text -> ids / pieces / decoded text for ~40 strings.
    template-expected.json     chat template renderings and their ids.
  dense-rope-parameters/       the SAME weights written the way transformers 5 writes a Llama checkpoint:
                               rope_parameters instead of rope_theta, no head_dim key, LlamaForCausalLM /
                               model_type "llama", eos_token_id a single int, one unsharded model.safetensors in
                               FLOAT16 (the bf16 values are exactly representable in f16: the generator zeroes the
                               few values whose magnitude is below f16's normal range before writing either
                               file). Tokenizer files copied from dense/; its own expected.json.

Reference each output comes from:
  - expected.json (both dirs): transformers LlamaForCausalLM (the IQuestCoder dense block is a plain Llama
    decoder, spec §2), float32, eager attention, weights = the stored bf16 values upcast to float32.
    For dense/ the model is built in memory from an equivalent LlamaConfig; for dense-rope-parameters/ it is
    LlamaForCausalLM.from_pretrained(<that directory>, dtype=float32). Cross-checks printed, not written:
    dense/ reloaded by from_pretrained after relabelling its config as llama (must equal the in-memory
    reference), dense-rope-parameters/ equal to dense/, model.generate (KV cache) equal to the argmax loop.
    Prompt ids come from the tokenizer rule below (no BOS: add_bos_token is false).
  - tokenizer-expected.json: the `sentencepiece` library (SentencePieceProcessor on tokenizer.model) plus
    the split rule of spec §5, implemented here and cross-checked against transformers' own added-token
    Trie. transformers' conversion of tokenizer.model is NOT used (it drops the dummy prefix).
  - template-expected.json: transformers' chat-template rendering (apply_chat_template(tokenize=False),
    jinja2 sandbox) of the chat_template stored in tokenizer_config.json; ids by the same tokenizer rule.

Deterministic: fixed seeds, single-threaded SentencePiece trainer, no time stamps or paths in any file; a
rerun rewrites identical bytes (the script trains the tokenizer twice and asserts it).
"""
from __future__ import annotations

import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch
from safetensors.torch import load_file, save_file

torch.set_num_threads(1)  # 2-core shared dev machines: leave one core free

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "tiny-iquest"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import iquest_fixture_corpus as corpus  # noqa: E402

SEED = 20250107

# ---- model shape -----------------------------------------------------------------------------
HIDDEN = 64
INTERMEDIATE = 160
N_HEADS = 4
N_KV_HEADS = 2
HEAD_DIM = 16
N_LAYERS = 3
MAX_POS = 256
ROPE_THETA = 500000.0
RMS_EPS = 1e-5
N_GREEDY = 16
LONG_KEEP = 8  # logits kept for the last LONG_KEEP positions of the long prompt

# ---- tokenizer -------------------------------------------------------------------------------
SP_VOCAB = 973  # SentencePiece pieces (ids 0..972); the 27 added tokens take 973..999
# IQuest's added tokens, in order, appended after the SentencePiece vocab (spec §5). The first nine
# (and their order) are published; "<|fim_suffix|>" .. "<|file_sep|>" and the five reserved tokens
# are a reconstruction chosen so that <|endoftext|> sits at offset 11 like the published third
# eos id (75869 = 75858 + 11). The eight non-special tokens are the published ones.
ADDED = [
    ("<CLS>", True), ("<SEP>", True), ("<EOD>", True), ("<MASK>", True), ("<PAD>", True),
    ("<|im_start|>", True), ("<|im_end|>", True), ("<|fim_prefix|>", True), ("<|fim_middle|>", True),
    ("<|fim_suffix|>", True), ("<|fim_pad|>", True), ("<|endoftext|>", True), ("<|repo_name|>", True),
    ("<|file_sep|>", True),
    ("<think>", False), ("</think>", False), ("<tools>", False), ("</tools>", False),
    ("<tool_call>", False), ("</tool_call>", False), ("<tool_response>", False), ("</tool_response>", False),
    ("<|reserved_special_token_0|>", True), ("<|reserved_special_token_1|>", True),
    ("<|reserved_special_token_2|>", True), ("<|reserved_special_token_3|>", True),
    ("<|reserved_special_token_4|>", True),
]
VOCAB = SP_VOCAB + len(ADDED)
ADDED_IDS = {content: SP_VOCAB + i for i, (content, _) in enumerate(ADDED)}
IM_END = ADDED_IDS["<|im_end|>"]
ENDOFTEXT = ADDED_IDS["<|endoftext|>"]
EOS_IDS = [2, IM_END, ENDOFTEXT]


# ==== tokenizer ===============================================================================

def train_tokenizer() -> bytes:
    """SentencePiece BPE in Llama's conventions (byte fallback, split digits, dummy prefix, identity)."""
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus.TRAIN_LINES), model_writer=buf,
        model_type="bpe", vocab_size=SP_VOCAB, character_coverage=0.9995,
        byte_fallback=True, split_digits=True, add_dummy_prefix=True, remove_extra_whitespaces=False,
        normalization_rule_name="identity", allow_whitespace_only_pieces=True,
        split_by_whitespace=True, split_by_unicode_script=True, split_by_number=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, unk_piece="<unk>", bos_piece="<s>", eos_piece="</s>",
        num_threads=1, shuffle_input_sentence=False, input_sentence_size=0, minloglevel=2,
    )
    return buf.getvalue()


def added_tokens_decoder() -> dict[int, dict]:
    """tokenizer_config.json's added_tokens_decoder: SentencePiece controls 0-2 plus IQuest's 27."""
    def entry(content, special):
        return {"content": content, "lstrip": False, "normalized": False, "rstrip": False,
                "single_word": False, "special": special}
    out = {0: entry("<unk>", True), 1: entry("<s>", True), 2: entry("</s>", True)}
    for content, special in ADDED:
        out[ADDED_IDS[content]] = entry(content, special)
    return out


class Tokenizer:
    """The oracle of spec §5: split on every added_tokens_decoder entry (longest match at each
    position), emit its id, SentencePiece-encode each non-empty piece between them separately."""

    def __init__(self, proto: bytes):
        self.sp = spm.SentencePieceProcessor(model_proto=proto)
        self.added = {v["content"]: k for k, v in added_tokens_decoder().items()}
        self.special = {k for k, v in added_tokens_decoder().items() if v["special"]}
        self.content = {k: v["content"] for k, v in added_tokens_decoder().items()}

    def split(self, text: str) -> list[tuple[str, bool]]:
        """[(segment, is_added_token)]"""
        out, start, i = [], 0, 0
        by_len = sorted(self.added, key=len, reverse=True)
        while i < len(text):
            hit = next((t for t in by_len if text.startswith(t, i)), None)
            if hit is None:
                i += 1
                continue
            if i > start:
                out.append((text[start:i], False))
            out.append((hit, True))
            i += len(hit)
            start = i
        if start < len(text):
            out.append((text[start:], False))
        return out

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for seg, is_added in self.split(text):
            ids.extend([self.added[seg]] if is_added else self.sp.encode(seg))
        return ids

    def pieces(self, ids: list[int]) -> list[str]:
        return [self.content[i] if i in self.content else self.sp.id_to_piece(i) for i in ids]

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        """Runs of SentencePiece ids -> sentencepiece decode (each run loses its leading dummy-prefix
        space); an added_tokens_decoder id -> its literal content, or nothing when it is special and
        skip_special_tokens is set (non-special added tokens such as <think> always stay)."""
        out, run = [], []
        for i in ids:
            if i in self.content:
                if run:
                    out.append(self.sp.decode(run))
                    run = []
                if not (skip_special_tokens and i in self.special):
                    out.append(self.content[i])
            else:
                run.append(i)
        if run:
            out.append(self.sp.decode(run))
        return "".join(out)


# ==== chat template rendering =================================================================

def render_template(case: dict) -> str:
    """transformers' own apply_chat_template(tokenize=False) on the committed chat_template."""
    from tokenizers import Tokenizer as HFTok
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    # A stand-in tokenizer object: only its apply_chat_template (jinja2 rendering) is used.
    tok = PreTrainedTokenizerFast(tokenizer_object=HFTok(WordLevel({"<unk>": 0, "<s>": 1, "</s>": 2}, unk_token="<unk>")),
                                  bos_token="<s>", eos_token="<|im_end|>", unk_token="<unk>", pad_token="<PAD>")
    return tok.apply_chat_template(case["messages"], tools=case.get("tools"), chat_template=corpus.CHAT_TEMPLATE,
                                   tokenize=False, add_generation_prompt=case["add_generation_prompt"],
                                   **case.get("template_kwargs", {}))


# ==== weights =================================================================================

def tensor_names() -> list[str]:
    names = ["model.embed_tokens.weight"]
    for i in range(N_LAYERS):
        p = f"model.layers.{i}."
        names += [p + "input_layernorm.weight", p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                  p + "self_attn.v_proj.weight", p + "self_attn.o_proj.weight",
                  p + "post_attention_layernorm.weight", p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight",
                  p + "mlp.down_proj.weight"]
    return names + ["model.norm.weight", "lm_head.weight"]


def make_weights() -> dict[str, torch.Tensor]:
    """Random weights as bf16 tensors, scaled so that attention is not uniform and logits spread
    over a few units. Values below f16's smallest normal are zeroed so f16 can hold them exactly."""
    rng = np.random.default_rng(SEED)
    kv = N_KV_HEADS * HEAD_DIM
    shapes = {
        "embed_tokens": ((VOCAB, HIDDEN), 1.0), "q_proj": ((N_HEADS * HEAD_DIM, HIDDEN), 0.3),
        "k_proj": ((kv, HIDDEN), 0.3), "v_proj": ((kv, HIDDEN), 0.15), "o_proj": ((HIDDEN, N_HEADS * HEAD_DIM), 0.15),
        "gate_proj": ((INTERMEDIATE, HIDDEN), 0.15), "up_proj": ((INTERMEDIATE, HIDDEN), 0.15),
        "down_proj": ((HIDDEN, INTERMEDIATE), 0.1), "lm_head": ((VOCAB, HIDDEN), 0.3),
    }
    out = {}
    for name in tensor_names():
        if name.endswith("norm.weight"):
            a = rng.uniform(0.6, 1.4, size=HIDDEN)
        else:
            key = name.split(".")[-2]
            shape, std = shapes[key]
            a = rng.standard_normal(shape) * std
        t = torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
        t[t.abs() < 2.0 ** -14] = 0  # f16's smallest normal: below it f16 would round the bf16 value
        out[name] = t.contiguous()
    for name, t in out.items():  # every bf16 value round-trips through f16 exactly
        assert torch.equal(t.to(torch.float16).to(torch.bfloat16), t), name
    return out


def write_json(obj, path: Path, sort_keys: bool = False) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n", encoding="utf-8")


def write_dense(d: Path, weights: dict[str, torch.Tensor], proto: bytes) -> None:
    d.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["IQuestCoderForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "auto_map": {
            "AutoConfig": "configuration_iquestcoder.IQuestCoderConfig",
            "AutoModel": "modeling_iquestcoder.IQuestCoderModel",
            "AutoModelForCausalLM": "modeling_iquestcoder.IQuestCoderForCausalLM",
        },
        "bos_token_id": 1,
        "clip_qkv": None,
        "eos_token_id": EOS_IDS,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": MAX_POS,
        "max_window_layers": 0,
        "mlp_bias": False,
        "model_type": "iquestcoder",
        "num_attention_heads": N_HEADS,
        "num_hidden_layers": N_LAYERS,
        "num_key_value_heads": N_KV_HEADS,
        "pretraining_tp": 1,
        "rms_norm_eps": RMS_EPS,
        "rope_scaling": None,
        "rope_theta": ROPE_THETA,
        "sliding_window": None,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.52.4",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": VOCAB,
    }
    write_json(config, d / "config.json", sort_keys=True)
    write_json({"_from_model_config": True, "bos_token_id": 1, "eos_token_id": EOS_IDS,
                "transformers_version": "4.52.4"}, d / "generation_config.json")

    # Two shards in state-dict order: embeddings + layers 0-1, then layer 2 + final norm + lm_head.
    names = tensor_names()
    cut = names.index("model.layers.2.input_layernorm.weight")
    shards = [names[:cut], names[cut:]]
    weight_map, total = {}, 0
    for k, part in enumerate(shards, start=1):
        fname = f"model-{k:05d}-of-{len(shards):05d}.safetensors"
        save_file({n: weights[n] for n in part}, str(d / fname), metadata={"format": "pt"})
        for n in part:
            weight_map[n] = fname
            total += weights[n].numel() * weights[n].element_size()
    write_json({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))},
               d / "model.safetensors.index.json")
    write_tokenizer_files(d, proto)


def write_tokenizer_files(d: Path, proto: bytes, model_max_length: int = MAX_POS) -> None:
    """tokenizer.model, tokenizer_config.json, special_tokens_map.json (tools/gen_tiny_loop.py reuses it)."""
    (d / "tokenizer.model").write_bytes(proto)
    atd = added_tokens_decoder()
    specials_added = [c for c, s in ADDED if s]

    def tok(c):
        return {"content": c, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}

    tcfg = {
        "add_bos_token": False,
        "add_eos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {str(k): v for k, v in sorted(atd.items())},
        "additional_special_tokens": specials_added,
        "auto_map": {"AutoTokenizer": ["tokenization_iquestcoder.IQuestCoderTokenizer", None]},
        "bos_token": "<s>",
        "chat_template": corpus.CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "extra_special_tokens": {},
        "legacy": True,
        "model_max_length": model_max_length,
        "pad_token": "<PAD>",
        "sp_model_kwargs": {},
        "tokenizer_class": "IQuestCoderTokenizer",
        "unk_token": "<unk>",
        "use_default_system_prompt": False,
    }
    write_json(tcfg, d / "tokenizer_config.json")
    write_json({"additional_special_tokens": [tok(c) for c in specials_added], "bos_token": tok("<s>"),
                "eos_token": tok("<|im_end|>"), "pad_token": tok("<PAD>"), "unk_token": tok("<unk>")},
               d / "special_tokens_map.json")


def write_rope_parameters_dir(d: Path, weights: dict[str, torch.Tensor], dense: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "dtype": "float16",
        "eos_token_id": IM_END,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": MAX_POS,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": N_HEADS,
        "num_hidden_layers": N_LAYERS,
        "num_key_value_heads": N_KV_HEADS,
        "pad_token_id": None,
        "pretraining_tp": 1,
        "rms_norm_eps": RMS_EPS,
        "rope_parameters": {"rope_theta": ROPE_THETA, "rope_type": "default"},
        "tie_word_embeddings": False,
        "transformers_version": "5.24.0",
        "use_cache": True,
        "vocab_size": VOCAB,
    }
    assert HIDDEN // N_HEADS == HEAD_DIM  # head_dim omitted: it must follow from hidden / heads
    write_json(config, d / "config.json", sort_keys=True)
    write_json({"_from_model_config": True, "bos_token_id": 1, "eos_token_id": IM_END,
                "transformers_version": "5.24.0"}, d / "generation_config.json")
    save_file({n: weights[n].to(torch.float16).contiguous() for n in tensor_names()}, str(d / "model.safetensors"),
              metadata={"format": "pt"})
    for f in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(dense / f, d / f)


# ==== reference model =========================================================================

def llama_config():
    from transformers import LlamaConfig
    return LlamaConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE, num_hidden_layers=N_LAYERS,
        num_attention_heads=N_HEADS, num_key_value_heads=N_KV_HEADS, head_dim=HEAD_DIM, hidden_act="silu",
        max_position_embeddings=MAX_POS, rms_norm_eps=RMS_EPS, rope_theta=ROPE_THETA, rope_scaling=None,
        attention_bias=False, mlp_bias=False, tie_word_embeddings=False, bos_token_id=1, eos_token_id=EOS_IDS,
    )


def reference_model(weights: dict[str, torch.Tensor]):
    from transformers import LlamaForCausalLM
    cfg = llama_config()
    cfg._attn_implementation = "eager"
    model = LlamaForCausalLM(cfg).to(torch.float32).eval()
    sd = {n: t.to(torch.float32) for n, t in weights.items()}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [m for m in missing if "rotary_emb" not in m]
    assert not missing and not unexpected, (missing, unexpected)
    return model


@torch.no_grad()
def logits_of(model, ids: list[int]) -> np.ndarray:
    return model(torch.tensor([ids]), use_cache=False).logits[0].float().numpy()


@torch.no_grad()
def greedy(model, ids: list[int], n: int):
    seq, out, t2i, t2l = list(ids), [], [], []
    for _ in range(n):
        last = logits_of(model, seq)[-1]
        order = np.argsort(-last, kind="stable")[:2]
        out.append(int(order[0]))
        t2i.append([int(order[0]), int(order[1])])
        t2l.append([f32(last[order[0]]), f32(last[order[1]])])
        seq.append(int(order[0]))
    return out, t2i, t2l


def f32(x) -> float:
    """A float32 as the shortest decimal that round-trips it (keeps the JSON small and exact)."""
    return float(str(np.float32(x)))


def prompts(tok: Tokenizer) -> list[dict]:
    chat_text = render_template({"messages": corpus.PROMPT_CHAT_MESSAGES, "add_generation_prompt": True})
    out = [
        {"name": "code", "text": corpus.PROMPT_CODE},
        {"name": "chat", "text": chat_text, "messages": corpus.PROMPT_CHAT_MESSAGES},
        {"name": "long", "text": corpus.PROMPT_LONG},
    ]
    for p in out:
        p["ids"] = tok.encode(p["text"])
    n = len(out[2]["ids"])
    assert 55 <= n <= 70, f"long prompt has {n} tokens"
    return out


def expected_outputs(model, ps: list[dict], checkpoint: str, dtype: str, reference: str) -> dict:
    records = []
    for p in ps:
        lg = logits_of(model, p["ids"])
        n = len(p["ids"])
        positions = list(range(n)) if p["name"] != "long" else list(range(n - LONG_KEEP, n))
        g, t2i, t2l = greedy(model, p["ids"], N_GREEDY)
        x = torch.tensor([p["ids"]])
        with torch.no_grad():
            gen = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=N_GREEDY,
                                 min_new_tokens=N_GREEDY, do_sample=False, eos_token_id=None, pad_token_id=0)
        if gen[0, n:].tolist() != g:
            print(f"  !! {checkpoint}/{p['name']}: generate (KV cache) {gen[0, n:].tolist()} != argmax loop {g}")
        margin = min(a - b for a, b in t2l)
        print(f"{checkpoint:22s} {p['name']:5s} n={n:3d} logit std={lg.std():.3f} min top1-top2 margin={margin:.4f}"
              f" greedy={g}")
        rec = {"name": p["name"], "text": p["text"]}
        if "messages" in p:
            rec["messages"] = p["messages"]
        rec.update({
            "ids": p["ids"],
            "logits_positions": positions,
            "logits": [[f32(v) for v in lg[i]] for i in positions],
            "greedy_ids": g,
            "greedy_top2_ids": t2i,
            "greedy_top2_logits": t2l,
        })
        records.append(rec)
    return {
        "format": "iquest-tiny-expected/1",
        "checkpoint": checkpoint,
        "weights_dtype": dtype,
        "reference": reference,
        "config": {
            "vocab_size": VOCAB, "hidden_size": HIDDEN, "intermediate_size": INTERMEDIATE,
            "num_hidden_layers": N_LAYERS, "num_attention_heads": N_HEADS, "num_key_value_heads": N_KV_HEADS,
            "head_dim": HEAD_DIM, "max_position_embeddings": MAX_POS, "rope_theta": ROPE_THETA,
            "rms_norm_eps": RMS_EPS, "bos_token_id": 1, "eos_token_ids": EOS_IDS,
        },
        "n_greedy": N_GREEDY,
        "greedy_rule": "argmax of the last position's float32 logits, full recompute each step, no stop on eos, "
                       "ties to the lower id",
        "prompts": records,
    }


# ==== JSON helpers ============================================================================

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


# ==== tokenizer / template expectations =======================================================

TOKENIZER_RULE = (
    "encode: split the text on every added_tokens_decoder entry (special or not; at each position the longest "
    "entry that matches), emit that entry's id, and encode every non-empty piece between them separately with "
    "SentencePieceProcessor(tokenizer.model).encode (so each piece gets the dummy-prefix '▁'); no BOS/EOS added."
)
DECODE_RULE = (
    "decode: consecutive non-added ids are decoded together with SentencePieceProcessor.decode (which drops the "
    "leading dummy-prefix space of each such run and joins byte-fallback pieces into UTF-8); an added_tokens_decoder "
    "id becomes its literal content; with skip_special_tokens the ids whose entry has special=true (including "
    "<unk>, <s>, </s>) produce nothing, while non-special added tokens (<think>, <tool_call>, ...) stay."
)


def tokenizer_expected(tok: Tokenizer) -> dict:
    cases = []
    for text in corpus.TOKENIZER_CASES:
        ids = tok.encode(text)
        dec = tok.decode(ids)
        if dec != text:
            print(f"  note: decode does not round-trip {text!r} -> {dec!r}")
        cases.append({"text": text, "ids": ids, "pieces": tok.pieces(ids), "decoded": dec,
                      "decoded_skip_special_tokens": tok.decode(ids, skip_special_tokens=True)})
    return {
        "format": "iquest-tiny-tokenizer-expected/1",
        "tokenizer_model": "tokenizer.model",
        "reference": f"sentencepiece {spm.__version__} SentencePieceProcessor + the spec §5 split rule",
        "encode_rule": TOKENIZER_RULE,
        "decode_rule": DECODE_RULE,
        "sentencepiece_vocab_size": SP_VOCAB,
        "vocab_size": VOCAB,
        "unk_id": 0, "bos_id": 1, "eos_id": 2,
        "eos_token_ids": EOS_IDS,
        "added_tokens": [{"id": k, "content": v["content"], "special": v["special"]}
                         for k, v in sorted(added_tokens_decoder().items())],
        "cases": cases,
    }


def template_expected(tok: Tokenizer) -> dict:
    import jinja2
    import transformers
    cases = []
    for c in corpus.TEMPLATE_CASES:
        text = render_template(c)
        cases.append({
            "name": c["name"],
            "messages": c["messages"],
            "tools": c.get("tools"),
            "add_generation_prompt": c["add_generation_prompt"],
            "template_kwargs": c.get("template_kwargs", {}),
            "text": text,
            "ids": tok.encode(text),
        })
    return {
        "format": "iquest-tiny-template-expected/1",
        "template": "tokenizer_config.json chat_template",
        "reference": f"transformers {transformers.__version__} apply_chat_template(tokenize=False) "
                     f"(jinja2 {jinja2.__version__} sandbox, trim_blocks, lstrip_blocks, tojson ensure_ascii=False); "
                     f"template variables: messages, tools (null = not passed), add_generation_prompt, "
                     f"template_kwargs, and the special tokens (bos_token <s>, eos_token <|im_end|>, ...)",
        "default_system_prompt": corpus.DEFAULT_SYSTEM,
        "encode_rule": TOKENIZER_RULE,
        "cases": cases,
    }


# ==== checks ==================================================================================

def check_tokenizer(tok: Tokenizer, proto: bytes) -> None:
    assert train_tokenizer() == proto, "SentencePiece training is not deterministic"
    got = tok.pieces(tok.encode("a<think>b"))
    assert got == ["▁a", "<think>", "▁b"], got
    print(f"a<think>b -> {got}")
    # the split must agree with transformers' own added-token Trie (slow tokenizers' rule)
    from transformers.tokenization_python import Trie
    trie = Trie()
    for content in tok.added:
        trie.add(content)
    for text in corpus.TOKENIZER_CASES:
        ours = [s for s, _ in tok.split(text)]
        theirs = [s for s in trie.split(text) if s]
        assert ours == theirs, (text, ours, theirs)
    print("split rule == transformers Trie.split on every tokenizer case")


def check_reload(dense: Path, ropep: Path, ps: list[dict], ref_model) -> None:
    """dense/ relabelled as llama and loaded by transformers; dense-rope-parameters/ loaded as is."""
    from transformers import LlamaForCausalLM
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for f in dense.iterdir():
            shutil.copyfile(f, t / f.name)
        cfg = json.loads((dense / "config.json").read_text())
        cfg.update({"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
        for k in ("auto_map", "clip_qkv", "use_sliding_window", "max_window_layers", "sliding_window"):
            cfg.pop(k)
        (t / "config.json").write_text(json.dumps(cfg))
        m = LlamaForCausalLM.from_pretrained(str(t), dtype=torch.float32, attn_implementation="eager").eval()
        assert m.config.head_dim == HEAD_DIM
        d = max(float(np.abs(logits_of(m, p["ids"]) - logits_of(ref_model, p["ids"])).max()) for p in ps)
        print(f"dense/ via LlamaForCausalLM.from_pretrained vs in-memory reference: max|diff| = {d:.3e}")
        assert d == 0.0 or d < 1e-5
    m2 = LlamaForCausalLM.from_pretrained(str(ropep), dtype=torch.float32, attn_implementation="eager").eval()
    d2 = max(float(np.abs(logits_of(m2, p["ids"]) - logits_of(ref_model, p["ids"])).max()) for p in ps)
    print(f"dense-rope-parameters/ (f16 file) vs dense reference: max|diff| = {d2:.3e}")
    assert d2 < 1e-5
    return m2


def main() -> int:
    import transformers
    OUT.mkdir(parents=True, exist_ok=True)
    dense, ropep = OUT / "dense", OUT / "dense-rope-parameters"
    for d in (dense, ropep):
        if d.exists():
            shutil.rmtree(d)

    (OUT / ".gitattributes").write_text("*.safetensors binary\n*.model binary\n*.json -text\n")
    proto = train_tokenizer()
    tok = Tokenizer(proto)
    assert tok.sp.get_piece_size() == SP_VOCAB
    check_tokenizer(tok, proto)

    weights = make_weights()
    write_dense(dense, weights, proto)
    write_rope_parameters_dir(ropep, weights, dense)

    # the stored files hold exactly the in-memory weights
    stored = {}
    for f in sorted(dense.glob("model-*.safetensors")):
        stored.update(load_file(str(f)))
    assert set(stored) == set(weights) and all(torch.equal(stored[n], weights[n]) for n in weights)
    f16 = load_file(str(ropep / "model.safetensors"))
    assert all(torch.equal(f16[n].to(torch.float32), weights[n].to(torch.float32)) for n in weights)

    ps = prompts(tok)
    model = reference_model(weights)
    ref = (f"transformers {transformers.__version__} LlamaForCausalLM, float32, eager attention; weights = the "
           f"stored bf16 values upcast to float32; prompt ids by the tokenizer rule (no BOS)")
    dump_json(expected_outputs(model, ps, "dense", "bfloat16", ref), dense / "expected.json")

    m2 = check_reload(dense, ropep, ps, model)
    ref2 = (f"transformers {transformers.__version__} LlamaForCausalLM.from_pretrained(dense-rope-parameters, "
            f"dtype=float32), eager attention; weights = the stored float16 values (= dense's bf16 values)")
    dump_json(expected_outputs(m2, ps, "dense-rope-parameters", "float16", ref2), ropep / "expected.json")

    dump_json(tokenizer_expected(tok), dense / "tokenizer-expected.json")
    dump_json(template_expected(tok), dense / "template-expected.json")

    total = 0
    for d in (dense, ropep):
        size = 0
        for f in sorted(d.iterdir()):
            size += f.stat().st_size
            print(f"  {d.name}/{f.name:38s} {f.stat().st_size:9d} bytes")
        print(f"{d.name}: {size} bytes")
        total += size
    print(f"total: {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
