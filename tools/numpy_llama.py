"""Independent numpy-only forward pass of a llama-architecture GGUF model (dev-only reference).

Writes nothing. It is the second, independent reference next to HF transformers: the fixture
generators (tools/gen_tiny_llama.py, tools/gen_smollm2_parity.py) compare it against transformers,
and later dev work can call it directly:

    from numpy_llama import forward            # with tools/ on sys.path
    logits = forward("model.gguf", [1, 2, 3])  # -> np.ndarray [len(ids), vocab], float32

or from the command line (prints the argmax of every position and the last position's top 5):

    .venv-ref/bin/python tools/numpy_llama.py MODEL.gguf ID [ID ...]

Reference used: only the `gguf` Python library (GGUFReader to read the file, gguf.quants.dequantize
to turn every tensor into float32) and numpy. The maths is written out here in llama.cpp's
conventions, working directly on the GGUF layout:
  - matrices are [out, in] (numpy shape; ggml's ne is the reverse), y = W @ x;
  - Q and K rows are in llama.cpp's permuted order, so RoPE rotates ADJACENT pairs (2i, 2i+1) of
    each head with angle pos * base^(-2i/head_dim) (llama.cpp's "normal" rope mode);
  - RMSNorm: x / sqrt(mean(x^2) + eps) * w;  SwiGLU FFN: down(silu(gate x) * up x);
  - grouped-query attention: query head h reads KV head h // (n_head / n_head_kv), causal mask,
    scale 1/sqrt(head_dim);
  - tied embeddings: when there is no output.weight, token_embd.weight is the output matrix.
Deterministic; no randomness anywhere.
"""
from __future__ import annotations

import functools
import sys
from dataclasses import dataclass

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


@dataclass(frozen=True)
class LlamaParams:
    n_vocab: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    rope_base: float
    rms_eps: float


@dataclass
class LlamaModel:
    params: LlamaParams
    tensors: dict[str, np.ndarray]  # name -> dequantized float32 array in GGUF layout ([out, in])

    def t(self, name: str) -> np.ndarray:
        return self.tensors[name]


def _field(reader: GGUFReader, key: str, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


def load(gguf_path: str) -> LlamaModel:
    """Read a llama GGUF and dequantize every tensor to float32 (numpy shape [out, in])."""
    r = GGUFReader(gguf_path)
    arch = _field(r, "general.architecture")
    if arch != "llama":
        raise ValueError(f"{gguf_path}: architecture {arch!r}, expected 'llama'")
    tensors: dict[str, np.ndarray] = {}
    for t in r.tensors:
        tensors[t.name] = np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
    n_embd = int(_field(r, "llama.embedding_length"))
    n_head = int(_field(r, "llama.attention.head_count"))
    n_vocab = _field(r, "llama.vocab_size")
    if n_vocab is None:
        n_vocab = tensors["token_embd.weight"].shape[0]
    head_dim = _field(r, "llama.rope.dimension_count") or n_embd // n_head
    params = LlamaParams(
        n_vocab=int(n_vocab),
        n_embd=n_embd,
        n_layer=int(_field(r, "llama.block_count")),
        n_head=n_head,
        n_head_kv=int(_field(r, "llama.attention.head_count_kv", n_head)),
        head_dim=int(head_dim),
        n_ff=int(_field(r, "llama.feed_forward_length")),
        rope_base=float(_field(r, "llama.rope.freq_base", 10000.0)),
        rms_eps=float(_field(r, "llama.attention.layer_norm_rms_epsilon")),
    )
    return LlamaModel(params=params, tensors=tensors)


@functools.lru_cache(maxsize=4)
def _load_cached(gguf_path: str) -> LlamaModel:
    return load(gguf_path)


def rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    """x: [T, D]; normalize each row, then scale by w."""
    ms = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(ms + eps) * w


def rope_adjacent(x: np.ndarray, positions: np.ndarray, base: float) -> np.ndarray:
    """Rotate adjacent pairs (2i, 2i+1) of the last axis. x: [T, H, D], positions: [T]."""
    d = x.shape[-1]
    inv_freq = base ** (-np.arange(0, d, 2, dtype=np.float64) / d)          # [D/2]
    ang = positions.astype(np.float64)[:, None] * inv_freq[None, :]          # [T, D/2]
    cos = np.cos(ang)[:, None, :].astype(x.dtype)
    sin = np.sin(ang)[:, None, :].astype(x.dtype)
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Causal GQA. q: [T, H, D]; k, v: [T, Hkv, D] -> [T, H*D]."""
    T, H, D = q.shape
    hkv = k.shape[1]
    group = H // hkv
    out = np.empty((T, H, D), dtype=q.dtype)
    mask = np.triu(np.ones((T, T), dtype=bool), k=1)
    scale = 1.0 / np.sqrt(D)
    for h in range(H):
        kh = k[:, h // group, :]
        vh = v[:, h // group, :]
        s = (q[:, h, :] @ kh.T) * scale                 # [T, T]
        s = np.where(mask, -np.inf, s)
        out[:, h, :] = softmax(s, axis=-1) @ vh
    return out.reshape(T, H * D)


def forward_model(model: LlamaModel, ids, dtype=np.float32) -> np.ndarray:
    """Logits [len(ids), vocab] for the token ids, positions 0..len(ids)-1, computed in `dtype`."""
    p = model.params
    ids = np.asarray(ids, dtype=np.int64)
    T = ids.shape[0]
    pos = np.arange(T)

    def W(name: str) -> np.ndarray:
        return model.t(name).astype(dtype, copy=False)

    x = W("token_embd.weight")[ids]                                       # [T, D]
    for i in range(p.n_layer):
        b = f"blk.{i}."
        h = rms_norm(x, W(b + "attn_norm.weight"), p.rms_eps)
        q = (h @ W(b + "attn_q.weight").T).reshape(T, p.n_head, p.head_dim)
        k = (h @ W(b + "attn_k.weight").T).reshape(T, p.n_head_kv, p.head_dim)
        v = (h @ W(b + "attn_v.weight").T).reshape(T, p.n_head_kv, p.head_dim)
        q = rope_adjacent(q, pos, p.rope_base)
        k = rope_adjacent(k, pos, p.rope_base)
        x = x + attention(q, k, v) @ W(b + "attn_output.weight").T
        h = rms_norm(x, W(b + "ffn_norm.weight"), p.rms_eps)
        g = h @ W(b + "ffn_gate.weight").T
        u = h @ W(b + "ffn_up.weight").T
        x = x + (silu(g) * u) @ W(b + "ffn_down.weight").T
    x = rms_norm(x, W("output_norm.weight"), p.rms_eps)
    out_name = "output.weight" if "output.weight" in model.tensors else "token_embd.weight"
    return (x @ W(out_name).T).astype(np.float32)


def forward(gguf_path: str, ids, dtype=np.float32) -> np.ndarray:
    """Logits [len(ids), vocab] (float32) for `ids` with the model in `gguf_path` (loaded once, cached)."""
    return forward_model(_load_cached(str(gguf_path)), ids, dtype=dtype)


def _main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__)
        return 2
    logits = forward(argv[1], [int(a) for a in argv[2:]])
    print("argmax per position:", logits.argmax(-1).tolist())
    top = np.argsort(-logits[-1])[:5]
    print("last position top-5:", [(int(i), float(logits[-1, i])) for i in top])
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
