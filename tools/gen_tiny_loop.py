"""Generate tiny IQuest-Coder-V1 Loop checkpoints (IQuestLoopCoderForCausalLM) with expected logits
(dev-only; CI never runs this; the Swift tests read the committed files).

Rerun (from the repo root):
    /work/venv-ref/bin/python tools/gen_tiny_loop.py        (or .venv-ref/bin/python, see setup-reference-env.sh)

Writes Tests/Fixtures/tiny-loop/:
  hf/                           an HF checkpoint directory in the published Loop schema
    config.json                 architectures [IQuestLoopCoderForCausalLM], model_type "iquestloopcoder",
                                loop_num 2, loop_window_size 4, top-level rope_theta, explicit head_dim,
                                NO bos_token_id, eos list, clip_qkv null, torch_dtype bfloat16
    generation_config.json      bos 1, eos list
    tokenizer.model, tokenizer_config.json, special_tokens_map.json
                                the tiny IQuest tokenizer of tools/gen_tiny_iquest.py (973 SentencePiece pieces +
                                27 added tokens, chat template); vocab_size is that tokenizer's 1000
    model-00001-of-00002.safetensors   bf16: embed_tokens, layers 0-1, gate_projections 0-1
    model-00002-of-00002.safetensors   bf16: layer 2, gate_projections 2, model.norm, lm_head
    model.safetensors.index.json
  hf-relabelled/                the same files, except config.json says model_type "llama" while
                                architectures still names IQuestLoopCoderForCausalLM: must run as Loop
  expected.json                 reference logits etc. (schema in README.md next to it), plus a "chat" prompt:
                                the chat template rendered by transformers and tokenized by gen_tiny_iquest's
                                sentencepiece oracle, with its greedy continuation
  README.md

Reference: tools/loop_reference.py (numpy, float64, written from the spec), on the stored bf16 weights
upcast exactly. Before anything is written out the script asserts:
  - its own safetensors reader returns exactly what safetensors/torch returns for every tensor;
  - the three reference paths agree (full sequence, token-by-token with a pass-1 cache + W-slot ring,
    chunked prefill with 10 chunk schedules, chunks smaller and larger than W) to 1e-10, on every
    prompt + its greedy continuation;
  - the dense part (variant pass1_only) equals transformers' LlamaForCausalLM (.double(), eager) on the
    same weights to 1e-5 (an independent check of RMSNorm, rotate-half RoPE, GQA head grouping, SwiGLU;
    not tighter because transformers computes RMSNorm and the RoPE tables in float32 even in a double
    model: ~6e-7);
  - every wrong variant moves the last-position logits of the 11-token prompt by more than 1e-2;
  - every greedy step of every prompt (and of the chat prompt) has a top-1/top-2 logit margin > 1e-3, so an
    f32 engine (~1e-6 off) must reproduce the greedy ids exactly;
  - pass-2 keys/values outside the last query's window do not change its logits (exactly), inside do.
Deterministic: fixed seed, no time stamps or paths in any file; a rerun rewrites identical bytes.
"""
from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

torch.set_num_threads(1)  # 2-core shared dev machines

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "tiny-loop"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_tiny_iquest as tiny_iquest  # noqa: E402  (its tokenizer, chat template rendering, split rule)
import iquest_fixture_corpus as corpus  # noqa: E402
import loop_reference as ref  # noqa: E402

SEED = 20250416  # 20250415 left a greedy top-2 margin of 7.7e-5 once the vocabulary grew to 1000
VOCAB = tiny_iquest.VOCAB  # 1000: the tiny IQuest tokenizer (973 SentencePiece pieces + 27 added tokens)
HIDDEN = 64
INTERMEDIATE = 160
N_HEADS = 4
N_KV_HEADS = 2
HEAD_DIM = 16
N_LAYERS = 3
WINDOW = 4
MAX_POS = 2048  # room for the engine's "ring stays at W after 1,000 decoded tokens" test
ROPE_THETA = 500000.0
RMS_EPS = 1e-5
EOS = tiny_iquest.EOS_IDS  # [2, 979 <|im_end|>, 984 <|endoftext|>]
BOS = 1
N_GREEDY = 24
MIN_GREEDY_MARGIN = 1e-3  # top-1 minus top-2 logit at every greedy step of every prompt (asserted)
PROMPT_LENGTHS = {"short": 3, "medium": 11, "long": 29}

# init scales: large enough that attention is far from uniform and the gates spread over (0, 1)
STD_EMBED = 1.0
STD_ATTN = 0.15       # q/k/v/o
STD_MLP_IN = 0.125    # gate/up (fan-in 64)
STD_MLP_OUT = 0.08    # down (fan-in 160)
STD_LM_HEAD = 0.125
STD_NORM = 0.1        # norm weights = 1 + N(0, STD_NORM)
STD_GATE_W = 0.3      # gate_projections weight; dot(q2_rot, w) then has std ~1.5
STD_GATE_B = 0.5      # gate_projections bias ~ N(0, 0.5), NOT the released +2.0


def config_json(model_type: str) -> dict:
    return {
        "architectures": ["IQuestLoopCoderForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "auto_map": {
            "AutoConfig": "configuration_iquestloopcoder.IQuestLoopCoderConfig",
            "AutoModel": "modeling_iquestloopcoder.IQuestLoopCoderModel",
            "AutoModelForCausalLM": "modeling_iquestloopcoder.IQuestLoopCoderForCausalLM",
        },
        "clip_qkv": None,
        "eos_token_id": EOS,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "loop_num": 2,
        "loop_window_size": WINDOW,
        "max_position_embeddings": MAX_POS,
        "max_window_layers": 0,
        "mlp_bias": False,
        "model_type": model_type,
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


GENERATION_CONFIG = {"_from_model_config": True, "bos_token_id": BOS, "eos_token_id": EOS,
                     "transformers_version": "4.52.4"}


def make_weights(rng: np.random.Generator) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """-> (shard1, shard2) of bf16 tensors."""
    def n(shape, std):
        return torch.from_numpy(rng.normal(0.0, std, size=shape).astype(np.float32)).to(torch.bfloat16)

    def norm_w():
        return torch.from_numpy((1.0 + rng.normal(0.0, STD_NORM, size=HIDDEN)).astype(np.float32)).to(torch.bfloat16)

    s1: dict[str, torch.Tensor] = {"model.embed_tokens.weight": n((VOCAB, HIDDEN), STD_EMBED)}
    s2: dict[str, torch.Tensor] = {}
    for i in range(N_LAYERS):
        s = s1 if i < 2 else s2
        p = f"model.layers.{i}."
        s[p + "input_layernorm.weight"] = norm_w()
        s[p + "self_attn.q_proj.weight"] = n((N_HEADS * HEAD_DIM, HIDDEN), STD_ATTN)
        s[p + "self_attn.k_proj.weight"] = n((N_KV_HEADS * HEAD_DIM, HIDDEN), STD_ATTN)
        s[p + "self_attn.v_proj.weight"] = n((N_KV_HEADS * HEAD_DIM, HIDDEN), STD_ATTN)
        s[p + "self_attn.o_proj.weight"] = n((HIDDEN, N_HEADS * HEAD_DIM), STD_ATTN)
        s[p + "post_attention_layernorm.weight"] = norm_w()
        s[p + "mlp.gate_proj.weight"] = n((INTERMEDIATE, HIDDEN), STD_MLP_IN)
        s[p + "mlp.up_proj.weight"] = n((INTERMEDIATE, HIDDEN), STD_MLP_IN)
        s[p + "mlp.down_proj.weight"] = n((HIDDEN, INTERMEDIATE), STD_MLP_OUT)
        s[f"model.gate_projections.{i}.weight"] = n((N_HEADS, HEAD_DIM), STD_GATE_W)
        s[f"model.gate_projections.{i}.bias"] = n((N_HEADS,), STD_GATE_B)
    s2["model.norm.weight"] = norm_w()
    s2["lm_head.weight"] = n((VOCAB, HIDDEN), STD_LM_HEAD)
    return s1, s2


def write_checkpoint(d: Path, shards, model_type: str, proto: bytes) -> None:
    d.mkdir(parents=True, exist_ok=True)
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    weight_map, total = {}, 0
    for fname, tensors in zip(names, shards):
        save_file(tensors, str(d / fname), metadata={"format": "pt"})
        for k, t in tensors.items():
            weight_map[k] = fname
            total += t.numel() * t.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (d / "model.safetensors.index.json").write_text(json.dumps(index, indent=2) + "\n")
    (d / "config.json").write_text(json.dumps(config_json(model_type), indent=2) + "\n")
    (d / "generation_config.json").write_text(json.dumps(GENERATION_CONFIG, indent=2) + "\n")
    tiny_iquest.write_tokenizer_files(d, proto, model_max_length=MAX_POS)


def f32(a) -> list:
    """float32 values as the shortest decimal that round-trips (nested lists)."""
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 0:
        return float(str(a))
    return [f32(x) for x in a]


def dump_json(obj, indent: int = 0) -> str:
    """Indented JSON, except that a list of numbers stays on one line (a logits row is one line)."""
    pad, pad1 = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad1}{json.dumps(k)}: {dump_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in obj):
            return json.dumps(obj, separators=(",", ":"))
        return "[\n" + ",\n".join(pad1 + dump_json(x, indent + 1) for x in obj) + "\n" + pad + "]"
    return json.dumps(obj)


def maxdiff(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max())


def check_reader(d: Path, model: ref.LoopModel) -> None:
    for fname in sorted(set(json.loads((d / "model.safetensors.index.json").read_text())["weight_map"].values())):
        for k, t in load_file(str(d / fname)).items():
            assert np.array_equal(t.float().numpy().astype(np.float64), model.w[k]), k


def check_dense_vs_transformers(model: ref.LoopModel, ids) -> float:
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
                      num_hidden_layers=N_LAYERS, num_attention_heads=N_HEADS, num_key_value_heads=N_KV_HEADS,
                      head_dim=HEAD_DIM, max_position_embeddings=MAX_POS, rms_norm_eps=RMS_EPS,
                      rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA},
                      tie_word_embeddings=False, attention_bias=False, mlp_bias=False)
    cfg._attn_implementation = "eager"
    lm = LlamaForCausalLM(cfg).double().eval()
    sd = {k: torch.from_numpy(v) for k, v in model.w.items() if not k.startswith("model.gate_projections.")}
    missing, unexpected = lm.load_state_dict(sd, strict=False)
    assert not unexpected and all("rotary" in m for m in missing), (missing, unexpected)
    with torch.no_grad():
        hf = lm(torch.tensor([list(ids)])).logits[0].numpy()
    return maxdiff(hf, ref.forward_full(model, ids, "pass1_only"))


def greedy(model: ref.LoopModel, prompt) -> tuple[list[int], np.ndarray, ref.LoopState]:
    """Token-by-token path: feed the prompt one token at a time, then argmax N_GREEDY times (no eos stop).
    Returns (greedy ids, logits [N_GREEDY, vocab] that produced them, state)."""
    st = ref.LoopState(model)
    for t in prompt:
        last = st.decode(int(t))
    out, logits = [], []
    for s in range(N_GREEDY):
        logits.append(last)
        nxt = int(np.argmax(last))
        out.append(nxt)
        if s + 1 < N_GREEDY:
            last = st.decode(nxt)
    return out, np.stack(logits), st


def top2_margin(logits: np.ndarray) -> float:
    s = np.sort(logits, axis=-1)
    return float((s[..., -1] - s[..., -2]).min())


def gate_stats(gates: list[np.ndarray]) -> dict:
    g = np.stack(gates)  # [layers, T, heads]
    return {
        "min": float(g.min()), "max": float(g.max()), "mean": float(g.mean()), "std": float(g.std()),
        "per_layer_min": [float(x) for x in g.min(axis=(1, 2))],
        "per_layer_max": [float(x) for x in g.max(axis=(1, 2))],
        "fraction_below_0.25": float((g < 0.25).mean()), "fraction_above_0.75": float((g > 0.75).mean()),
    }


def perturbation_study(model: ref.LoopModel, ids) -> dict:
    """For the last query t = len(ids)-1: pass-2 keys/values at positions < t-W+1 must not matter."""
    T = len(ids)
    t = T - 1
    first_in = max(0, t - WINDOW + 1)
    base = ref.forward_full(model, ids)
    rng = np.random.default_rng(7)

    def perturber(positions, layers):
        def f(layer, k, v):
            if layer in layers:
                for p in positions:
                    k[p] += rng.normal(0.0, 1.0, size=k[p].shape)
                    v[p] += rng.normal(0.0, 1.0, size=v[p].shape)
            return k, v
        return f

    last_layer = {N_LAYERS - 1}
    all_layers = set(range(N_LAYERS))
    outside = list(range(first_in))
    o_last = ref.forward_full(model, ids, perturb_pass2=perturber(outside, last_layer))
    o_all = ref.forward_full(model, ids, perturb_pass2=perturber(outside, all_layers))
    full_outside = {
        "positions": outside,
        "last_layer_only_last_position_max_abs_diff": maxdiff(o_last[t], base[t]),
        "last_layer_only_earlier_positions_max_abs_diff": maxdiff(o_last[:t], base[:t]),
        "all_layers_last_position_max_abs_diff": maxdiff(o_all[t], base[t]),
    }
    full_inside = []
    for p in range(first_in, T):
        o = ref.forward_full(model, ids, perturb_pass2=perturber([p], last_layer))
        full_inside.append({"position": p, "last_layer_only_last_position_max_abs_diff": maxdiff(o[t], base[t])})

    # cache API: prefill positions 0..t-1, perturb one ring entry (all layers), decode token t
    st0 = ref.LoopState(model)
    st0.prefill_chunk(ids[:t])
    ring_positions = sorted(int(p) for p in st0.ring[0].pos if p >= 0)
    clean = copy.deepcopy(st0).decode(int(ids[t]))
    assert maxdiff(clean, base[t]) < 1e-10
    cache_ring = []
    for p in ring_positions:
        st = copy.deepcopy(st0)
        for r in st.ring:
            s = int(np.nonzero(r.pos == p)[0][0])
            r.k[s] += rng.normal(0.0, 1.0, size=r.k[s].shape)
            r.v[s] += rng.normal(0.0, 1.0, size=r.v[s].shape)
        cache_ring.append({"position": p, "inside_window": p >= first_in,
                           "last_position_max_abs_diff": maxdiff(st.decode(int(ids[t])), clean)})
    st = copy.deepcopy(st0)
    for i in range(N_LAYERS):
        st.k1[i][0] += rng.normal(0.0, 1.0, size=st.k1[i][0].shape)
        st.v1[i][0] += rng.normal(0.0, 1.0, size=st.v1[i][0].shape)
    pass1_pos0 = maxdiff(st.decode(int(ids[t])), clean)

    # the property, asserted
    assert full_outside["last_layer_only_last_position_max_abs_diff"] == 0.0, full_outside
    assert full_outside["last_layer_only_earlier_positions_max_abs_diff"] > 1e-2, full_outside
    assert full_outside["all_layers_last_position_max_abs_diff"] > 1e-3, full_outside  # see note
    assert all(e["last_layer_only_last_position_max_abs_diff"] > 1e-3 for e in full_inside), full_inside
    for e in cache_ring:
        assert (e["last_position_max_abs_diff"] > 1e-3) == e["inside_window"], cache_ring
    assert pass1_pos0 > 1e-3

    return {
        "prompt": "medium",
        "query_position": t,
        "window": WINDOW,
        "window_of_last_query": list(range(first_in, T)),
        "outside_window_positions": outside,
        "description": (
            f"Pass-2 keys/values of the 11-token prompt at positions < {first_in} (= 11 - W) are outside the "
            f"window of the last query (position {t}, window {first_in}..{t}); perturbing them in any layer "
            "must leave the last position's logits bit-for-bit unchanged, perturbing one inside the window "
            f"changes them. Engine test through its cache API: prefill ids[0:{t}] (positions 0..{t - 1}); the "
            f"pass-2 ring then holds positions {ring_positions} in every layer. Perturb the pass-2 key/value of "
            f"position {ring_positions[0]} (in every layer) and decode ids[{t}]: the logits must equal the "
            f"unperturbed decode exactly (and expected prompts.medium.logits[{t}] to 1e-4): that entry is still "
            f"in a W-slot ring before the new token is written but is outside the new query's window (an "
            f"off-by-one window reads it). Perturb positions {ring_positions[1:]} instead: the logits change "
            f"(reference diffs below). Perturbing a pass-1 (global) entry, even position 0, changes them too."
        ),
        "perturbation": "k += N(0,1), v += N(0,1) per element of the entry, all layers (seeded; diffs are indicative)",
        "note_on_where_to_perturb": (
            "Perturb cache entries AFTER the prefix was computed (cache API), not inside a full-sequence "
            "forward: in a whole-sequence forward, changing layer i's pass-2 entry at an old position also "
            "changes the pass-2 hidden states of later positions whose windows contain it (e.g. positions "
            f"{first_in}..{t - 1}), hence layer i+1's in-window keys, so the last position moves (see "
            "reference_full_path.outside_all_at_once.all_layers_last_position_max_abs_diff). In a full "
            "forward the property is exact only in the last layer; in the cache path it is exact in every layer."
        ),
        "reference_full_path": {"outside_all_at_once": full_outside, "inside_one_at_a_time": full_inside},
        "reference_cache_path": {"prefill_len": t, "ring_positions_before_decode": ring_positions,
                                 "ring_entries": cache_ring, "pass1_position0_max_abs_diff": pass1_pos0},
    }


def chat_prompt(model: ref.LoopModel, tok: "tiny_iquest.Tokenizer") -> dict:
    """The chat template (transformers' rendering) of one user message with the generation prompt,
    its ids by the sentencepiece oracle + split rule, and the greedy continuation (ids and the oracle's
    decode of them)."""
    messages = corpus.PROMPT_CHAT_MESSAGES
    text = tiny_iquest.render_template({"messages": messages, "add_generation_prompt": True})
    ids = tok.encode(text)
    gids, glogits, _ = greedy(model, ids)
    assert top2_margin(glogits) > MIN_GREEDY_MARGIN, top2_margin(glogits)
    return {"messages": messages, "text": text, "ids": ids, "greedy_ids": gids,
            "greedy_text": tok.decode(gids), "greedy_min_top2_margin": top2_margin(glogits)}


def main() -> None:
    proto = tiny_iquest.train_tokenizer()
    assert proto == (ROOT / "Tests" / "Fixtures" / "tiny-iquest" / "dense" / "tokenizer.model").read_bytes()
    tokenizer = tiny_iquest.Tokenizer(proto)
    assert tokenizer.sp.get_piece_size() + len(tiny_iquest.ADDED) == VOCAB
    rng = np.random.default_rng(SEED)
    shards = make_weights(rng)
    prompts = {name: [int(x) for x in rng.integers(3, VOCAB, size=L)] for name, L in PROMPT_LENGTHS.items()}

    for d in ("hf", "hf-relabelled"):  # README.md is kept (hand-written)
        if (OUT / d).exists():
            shutil.rmtree(OUT / d)
    write_checkpoint(OUT / "hf", shards, "iquestloopcoder", proto)
    write_checkpoint(OUT / "hf-relabelled", shards, "llama", proto)
    for f in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "tokenizer.model",
              "tokenizer_config.json", "special_tokens_map.json"):
        assert (OUT / "hf" / f).read_bytes() == (OUT / "hf-relabelled" / f).read_bytes()

    model = ref.load_hf(OUT / "hf")
    relabelled = ref.load_hf(OUT / "hf-relabelled")
    assert all(np.array_equal(model.w[k], relabelled.w[k]) for k in model.w)
    check_reader(OUT / "hf", model)

    expected_prompts, agreement, margins = [], {}, {}
    all_gates: list = [[] for _ in range(N_LAYERS)]
    for name, ids in prompts.items():
        full = ref.forward_full(model, ids)
        gids, glogits, st = greedy(model, ids)
        seq = ids + gids[:-1]  # everything the token path was fed
        agreement[name] = ref.self_check(model, seq)
        gates: list = []
        full_seq = ref.forward_full(model, seq, gates_out=gates)
        agreement[name]["greedy_logits_token_path_vs_full"] = maxdiff(glogits, full_seq[len(ids) - 1 :])
        agreement[name]["dense_pass1_only_vs_transformers_llama_f64"] = check_dense_vs_transformers(model, seq)
        assert agreement[name]["greedy_logits_token_path_vs_full"] < 1e-10
        assert agreement[name]["dense_pass1_only_vs_transformers_llama_f64"] < 1e-5  # HF RMSNorm/RoPE run in f32 internally
        assert st.pass2_entries() == WINDOW
        margins[name] = {"prompt_logits_min_top2_margin": top2_margin(full),
                         "greedy_min_top2_margin": top2_margin(glogits)}
        # greedy ids must survive an f32 engine's ~1e-6 rounding with room to spare
        assert margins[name]["greedy_min_top2_margin"] > MIN_GREEDY_MARGIN, (name, margins[name])
        for i, g in enumerate(gates):
            all_gates[i].append(g)
        expected_prompts.append({
            "name": name, "ids": ids, "logits": f32(full),
            "greedy_ids": gids, "greedy_logits": f32(glogits),
            "gate_stats": gate_stats(gates),
        })

    # wrong variants, 11-token prompt, last position
    med = prompts["medium"]
    correct = ref.forward_full(model, med)[-1]
    variants = []
    descriptions = {
        "gate_before_rope": "gate sigmoid(dot(q2[h], Wg[h]) + bg[h]) from the query BEFORE RoPE",
        "no_window": "local branch attends over all causal pass-2 keys/values (no window)",
        "window_plus_one": "local window of W+1 keys (positions t-W .. t): the ring off-by-one",
        "swapped_mix": "mixed = g*B + (1-g)*A (gate weights the local branch)",
        "global_reads_pass2": "global branch attends causally to pass-2 keys/values instead of pass-1's",
        "pass2_from_normed": "pass 2 starts from model.norm(pass-1 output) instead of the raw hidden state",
        "pass1_only": "no pass 2 (plain dense model): logits = lm_head(model.norm(pass-1 output))",
    }
    for v in ref.VARIANTS:
        lv = ref.forward_full(model, med, v)[-1]
        d = maxdiff(lv, correct)
        assert d > 1e-2, (v, d)
        variants.append({"name": v, "description": descriptions[v], "logits": f32(lv), "max_abs_diff": d,
                         "argmax": int(np.argmax(lv)), "argmax_same_as_correct": bool(np.argmax(lv) == np.argmax(correct))})

    # long decode: the ring never grows
    st = ref.LoopState(model)
    long_ids = [int(x) for x in np.random.default_rng(11).integers(3, VOCAB, size=64)]
    for tok in long_ids:
        st.decode(tok)
        assert st.pass2_entries() == min(st.n_past, WINDOW)

    expected = {
        "format": "iquest-tiny-loop-expected/1",
        "checkpoints": ["hf", "hf-relabelled"],
        "weights_dtype": "bfloat16",
        "reference": "tools/loop_reference.py (numpy float64 from the spec, bf16 weights upcast exactly); "
                     "values written as float32 (shortest round-trip decimal)",
        "config": {"vocab_size": VOCAB, "hidden_size": HIDDEN, "intermediate_size": INTERMEDIATE,
                   "num_hidden_layers": N_LAYERS, "num_attention_heads": N_HEADS,
                   "num_key_value_heads": N_KV_HEADS, "head_dim": HEAD_DIM, "rope_theta": ROPE_THETA,
                   "rms_norm_eps": RMS_EPS, "loop_num": 2, "loop_window_size": WINDOW,
                   "max_position_embeddings": MAX_POS, "eos_token_id": EOS, "bos_token_id_generation_config": BOS},
        "n_greedy": N_GREEDY,
        "greedy_rule": "token-by-token path: feed the prompt ids one at a time, then greedy_ids[s] = "
                       "argmax(greedy_logits[s]) and feed it; greedy_logits[s] are the logits at position "
                       "len(ids)-1+s (so greedy_logits[0] == logits[-1]); no eos stop, no BOS added",
        "prompts": expected_prompts,
        "wrong_variants": {"prompt": "medium", "position": len(med) - 1, "correct_logits": f32(correct),
                           "variants": variants},
        "perturbation": perturbation_study(model, med),
        "chat": chat_prompt(model, tokenizer),
        "gate_stats": gate_stats([np.concatenate(g) for g in all_gates]),
        "reference_agreement": {
            "description": "max abs diff of each path vs forward_full in float64 over prompt + greedy "
                           "continuation (minus its last id); decode = one token at a time; chunks_a-b-c = "
                           "chunked prefill with those chunk sizes cycled; dense = variant pass1_only vs "
                           "transformers LlamaForCausalLM in float64",
            "per_prompt": agreement,
        },
        "top2_margins": margins,
    }
    (OUT / "expected.json").write_text(dump_json(expected) + "\n")

    # summary on stdout
    print("agreement:", json.dumps(agreement, indent=1))
    print("variants:", {v["name"]: (round(v["max_abs_diff"], 4), v["argmax_same_as_correct"]) for v in variants})
    print("gates:", expected["gate_stats"])
    print("margins:", margins)
    chat = expected["chat"]
    print(f"chat: {len(chat['ids'])} prompt ids, greedy {chat['greedy_ids']}, min top2 margin {chat['greedy_min_top2_margin']:.4f}")
    print("perturbation:", json.dumps({k: expected["perturbation"][k] for k in ("reference_full_path", "reference_cache_path")}))
    for p in sorted(OUT.rglob("*")):
        if p.is_file():
            print(f"{p.stat().st_size:>9}  {p.relative_to(OUT)}")


if __name__ == "__main__":
    main()
