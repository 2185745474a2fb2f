"""Long-context fixtures for issue #14: tiny IQuest checkpoints with the full 131072-token context,
and float64 reference logits at positions up to 131071.

Writes Tests/Fixtures/long-context/{dense,loop}/ (config.json with max_position_embeddings 131072,
head_dim 32 so every KV cache type applies, bf16 safetensors with random weights, the tiny IQuest
tokenizer files copied from Tests/Fixtures/tiny-iquest/dense) and expected.json:

  cases: one per (model, position offset): a 16,384-token prompt of seeded random ids, rotary
  positions offset + 0 … offset + 16383 (offset 0, and 114688 so the last position is 131071),
  and the full logits row at positions 4095, 8191, 12287 and 16383.

The reference is numpy in float64, written from the spec (docs of tools/loop_reference.py, whose
building blocks it reuses: RMSNorm, rotate-half RoPE with angles in float64, SwiGLU, the Loop
gate) with attention computed in query chunks so no T×T matrix is formed. The engine applies
the offset through `rotaryPositionOffset` (keys, values and the causal mask keep cache
positions 0 … 16383, exactly as here).

Run: python3 tools/gen_long_context.py   (numpy only; ~1 minute on 2 cores). Rerunning rewrites
byte-identical files.
"""
from __future__ import annotations

import json
import shutil
import struct
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import loop_reference as ref  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "long-context"
TOKENIZER_FROM = ROOT / "Tests" / "Fixtures" / "tiny-iquest" / "dense"

VOCAB, HIDDEN, LAYERS, HEADS, KV_HEADS, HEAD_DIM, FF = 1000, 128, 2, 4, 2, 32, 256
CONTEXT = 131072
WINDOW = 64
PROMPT = 16384
PROBES = [4095, 8191, 12287, 16383]
OFFSETS = [0, CONTEXT - PROMPT]


def bf16_round(a: np.ndarray) -> np.ndarray:
    """float32 -> bf16 bits (round to nearest even)."""
    bits = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        data = bf16_round(tensors[name]).tobytes()
        header[name] = {"dtype": "BF16", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def make_weights(rng: np.random.Generator, loop: bool) -> dict[str, np.ndarray]:
    def mat(rows, cols, scale):
        return (rng.standard_normal((rows, cols)) * scale).astype(np.float32)

    w = {
        "model.embed_tokens.weight": mat(VOCAB, HIDDEN, 1.0),
        "model.norm.weight": (1 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32),
        "lm_head.weight": mat(VOCAB, HIDDEN, 0.3),
    }
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32)
        w[p + "post_attention_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(HIDDEN)).astype(np.float32)
        # Queries and keys larger than usual so attention is peaked enough for positions to matter.
        w[p + "self_attn.q_proj.weight"] = mat(HEADS * HEAD_DIM, HIDDEN, 0.35)
        w[p + "self_attn.k_proj.weight"] = mat(KV_HEADS * HEAD_DIM, HIDDEN, 0.35)
        w[p + "self_attn.v_proj.weight"] = mat(KV_HEADS * HEAD_DIM, HIDDEN, 0.1)
        w[p + "self_attn.o_proj.weight"] = mat(HIDDEN, HEADS * HEAD_DIM, 0.1)
        w[p + "mlp.gate_proj.weight"] = mat(FF, HIDDEN, 0.1)
        w[p + "mlp.up_proj.weight"] = mat(FF, HIDDEN, 0.1)
        w[p + "mlp.down_proj.weight"] = mat(HIDDEN, FF, 0.1)
        if loop:
            w[f"model.gate_projections.{i}.weight"] = mat(HEADS, HEAD_DIM, 0.2)
            w[f"model.gate_projections.{i}.bias"] = (0.5 * rng.standard_normal(HEADS)).astype(np.float32)
    return w


def config(loop: bool) -> dict:
    c = {
        "architectures": ["IQuestLoopCoderForCausalLM" if loop else "IQuestCoderForCausalLM"],
        "model_type": "iquestloopcoder" if loop else "iquestcoder",
        "attention_bias": False, "mlp_bias": False, "hidden_act": "silu",
        "bos_token_id": 1, "eos_token_id": [2, 979, 984],
        "vocab_size": VOCAB, "hidden_size": HIDDEN, "intermediate_size": FF, "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "head_dim": HEAD_DIM,
        "max_position_embeddings": CONTEXT, "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "rope_scaling": None,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", "use_sliding_window": False, "sliding_window": None,
    }
    if loop:
        c.update({"loop_num": 2, "loop_window_size": WINDOW})
    return c


def write_checkpoint(directory: Path, loop: bool, seed: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    weights = make_weights(np.random.default_rng(seed), loop)
    write_safetensors(directory / "model.safetensors", weights)
    (directory / "config.json").write_text(json.dumps(config(loop), indent=2) + "\n")
    for name in ["tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"]:
        shutil.copyfile(TOKENIZER_FROM / name, directory / name)


def load(directory: Path, loop: bool) -> ref.LoopModel:
    if loop:
        return ref.load_hf(directory)
    # The dense config read through the Loop parser: only its pass-1 fields are used.
    dense = json.loads((directory / "config.json").read_text())
    cfg = ref.LoopConfig.from_json({**dense, "architectures": ["IQuestLoopCoderForCausalLM"], "loop_num": 2, "loop_window_size": 1})
    return ref.LoopModel(cfg, ref.read_safetensors(directory / "model.safetensors"))


def attend_chunked(q: np.ndarray, k: np.ndarray, v: np.ndarray, window: int | None, chunk: int = 512) -> np.ndarray:
    """Causal GQA attention, query i over keys j ≤ i (and j > i − window); q [T,Hq,D], k/v [T,Hkv,D]."""
    t, hq, d = q.shape
    group = hq // k.shape[1]
    kk = np.repeat(k, group, axis=1).transpose(1, 0, 2)  # [Hq, T, D]
    vv = np.repeat(v, group, axis=1).transpose(1, 0, 2)
    out = np.empty_like(q)
    for a in range(0, t, chunk):
        b = min(t, a + chunk)
        lo = 0 if window is None else max(0, a - window + 1)
        qi = np.arange(a, b)[:, None]
        kj = np.arange(lo, b)[None, :]
        allowed = kj <= qi
        if window is not None:
            allowed &= kj > qi - window
        scores = q[a:b].transpose(1, 0, 2) @ kk[:, lo:b].transpose(0, 2, 1) / np.sqrt(d)  # [Hq, b-a, b-lo]
        scores = np.where(allowed[None], scores, -np.inf)
        scores -= scores.max(axis=-1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=-1, keepdims=True)
        out[a:b] = (p @ vv[:, lo:b]).transpose(1, 0, 2)
    return out


def forward(model: ref.LoopModel, ids: np.ndarray, offset: int, loop: bool) -> np.ndarray:
    """Logits [len(PROBES), vocab] in float64 (the spec's forward; rotary positions offset + i)."""
    c = model.cfg
    pos = np.arange(len(ids)) + offset
    x = model.w["model.embed_tokens.weight"][ids]
    k1s, v1s = [], []
    for i in range(c.n_layers):
        _, q, k, v = ref.qkv(model, i, x, pos)
        k1s.append(k)
        v1s.append(v)
        x = ref.finish_layer(model, i, x, attend_chunked(q, k, v, None))
    if loop:
        for i in range(c.n_layers):
            _, q, k2, v2 = ref.qkv(model, i, x, pos)
            g = ref.gate(model, i, q)[:, :, None]
            a = attend_chunked(q, k1s[i], v1s[i], None)
            b = attend_chunked(q, k2, v2, c.window)
            x = ref.finish_layer(model, i, x, g * a + (1 - g) * b)
    return ref.lm_head(model, x[PROBES])


def main() -> None:
    cases = []
    ids = np.random.default_rng(14).integers(3, VOCAB - 40, size=PROMPT)
    for name, loop, seed in [("dense", False, 1401), ("loop", True, 1402)]:
        directory = OUT / name
        write_checkpoint(directory, loop, seed)
        model = load(directory, loop)
        for offset in OFFSETS:
            logits = forward(model, ids, offset, loop)
            cases.append({"model": name, "offset": int(offset), "positions": PROBES,
                          "logits": [[float(f"{v:.7g}") for v in row] for row in logits]})
            top = np.argsort(-logits, axis=1)[:, :2]
            gaps = [float(logits[r, top[r, 0]] - logits[r, top[r, 1]]) for r in range(len(PROBES))]
            spread = float(np.abs(logits).max())
            print(f"{name} offset {offset}: |logit| max {spread:.3f}, top-1/top-2 gaps {['%.4f' % g for g in gaps]}")
    doc = {"generator": "tools/gen_long_context.py", "prompt_ids": [int(i) for i in ids], "window": WINDOW, "cases": cases}
    (OUT / "expected.json").write_text(json.dumps(doc, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
