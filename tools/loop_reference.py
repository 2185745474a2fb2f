"""Independent numpy reference of the IQuest-Coder-V1 Loop forward pass (IQuestLoopCoderForCausalLM).

Dev-only; CI never runs it. Written from ../shared/spec/iquest-coder-v1.md §2-§3 alone: not from the
engine's Swift code and not from the official HF modeling files (both are wrong somewhere, spec §3).
All arithmetic is float64 (weights are the stored bf16 values upcast exactly), so this is the yardstick
an f32 engine is measured against.

The model (spec §3), for a chunk of new tokens at absolute positions p .. p+L-1:
  pass 1   layers 0..N-1 as a plain Llama block (RMSNorm, rotate-half RoPE, causal GQA, SwiGLU).
           Layer i appends its keys (after RoPE) and values to a full per-layer "global" cache.
  between  the hidden state leaving pass 1 enters pass 2 unchanged (no norm, no re-embedding, no shift).
  pass 2   the same layers, weights and positions. In layer i:
             h = RMSNorm_in(x); q2, k2, v2 = projections of h; RoPE on q2, k2;
             g[t, h] = sigmoid(dot(q2_rot[t, h], Wg_i[h]) + bg_i[h])       (query AFTER RoPE)
             A = q2 attends causally to layer i's PASS-1 keys/values (whole history incl. this chunk)
             B = q2 attends to layer i's PASS-2 keys/values at positions max(0, t-W+1) .. t
             mixed = g*A + (1-g)*B per head; x += o_proj(mixed); x += MLP(RMSNorm_post(x)).
  logits   model.norm + lm_head on the pass-2 output only.

Three independent ways to compute it (they must agree to ~1e-12 in float64; `self_check` asserts it):
  forward_full(model, ids)              all tokens at once, with explicit [T, T] masks.
  LoopState.decode(token)               one token at a time with explicit caches: a growing pass-1 cache
                                        per layer and a RING of W slots per layer for pass 2 (slot =
                                        position mod W). The new entry is written into the ring first
                                        (overwriting position t-W), then the query attends to every
                                        occupied slot, with no position arithmetic at all.
  LoopState.prefill_chunk(ids)          a chunk of any length with the same caches: the chunk's query rows
                                        are masked against (ring contents written before the chunk) +
                                        (the chunk's own keys) by absolute position; the chunk's entries go
                                        into the ring only AFTER all rows are computed (a chunk longer than
                                        W would otherwise evict keys its own earlier rows need).

Wrong variants (only in forward_full, for differential tests; never something a user can switch on):
  gate_before_rope     gate computed from q2 before RoPE
  no_window            local branch attends over all (causal) pass-2 keys
  window_plus_one      local window holds W+1 keys (positions t-W .. t): the ring's off-by-one
  swapped_mix          mixed = g*B + (1-g)*A
  global_reads_pass2   global branch attends to pass-2 keys/values instead of pass-1's
  pass2_from_normed    pass 2 starts from model.norm(pass-1 output)
  pass1_only           no pass 2: logits = lm_head(model.norm(pass-1 output)) (the plain dense model)

Usage:
    from loop_reference import load_hf, forward_full, LoopState, self_check
    model = load_hf("Tests/Fixtures/tiny-loop/hf")
    logits = forward_full(model, [5, 17, 42])             # [3, vocab] float64
    python tools/loop_reference.py DIR [ID ...]           # runs self_check, prints last-position top 5
"""
from __future__ import annotations

import json
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

VARIANTS = (
    "gate_before_rope",
    "no_window",
    "window_plus_one",
    "swapped_mix",
    "global_reads_pass2",
    "pass2_from_normed",
    "pass1_only",
)


# ---------------------------------------------------------------------------------------------------
# checkpoint loading (own safetensors parser: header JSON + raw little-endian data; bf16 -> f32 exact)
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LoopConfig:
    vocab: int
    hidden: int
    intermediate: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int
    rope_theta: float
    rms_eps: float
    loop_num: int
    window: int

    @staticmethod
    def from_json(cfg: dict) -> "LoopConfig":
        archs = cfg.get("architectures") or []
        if "IQuestLoopCoderForCausalLM" not in archs:  # whole-name comparison, model_type is not consulted
            raise ValueError(f"not a Loop checkpoint: architectures = {archs}")
        theta = cfg.get("rope_theta")
        if theta is None:
            theta = (cfg.get("rope_parameters") or {}).get("rope_theta")
        if cfg.get("rope_scaling") not in (None, {}):
            raise ValueError("rope_scaling is not supported")
        if cfg.get("clip_qkv") is not None:
            raise ValueError("clip_qkv must be null")
        loop_num = int(cfg["loop_num"])
        if loop_num != 2:
            raise ValueError(f"loop_num {loop_num} unsupported (only 2)")
        heads = int(cfg["num_attention_heads"])
        return LoopConfig(
            vocab=int(cfg["vocab_size"]),
            hidden=int(cfg["hidden_size"]),
            intermediate=int(cfg["intermediate_size"]),
            n_layers=int(cfg["num_hidden_layers"]),
            n_heads=heads,
            n_kv_heads=int(cfg["num_key_value_heads"]),
            head_dim=int(cfg.get("head_dim") or cfg["hidden_size"] // heads),
            rope_theta=float(theta),
            rms_eps=float(cfg["rms_norm_eps"]),
            loop_num=loop_num,
            window=int(cfg["loop_window_size"]),
        )


_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = Path(path).read_bytes()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + hlen])
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        buf = raw[base + a : base + b]
        shape = tuple(info["shape"])
        if info["dtype"] == "BF16":
            u16 = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            arr = u16.view(np.float32)
        else:
            arr = np.frombuffer(buf, dtype=np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = arr.reshape(shape).astype(np.float64)
    return out


@dataclass
class LoopModel:
    cfg: LoopConfig
    w: dict[str, np.ndarray]  # HF names -> float64 arrays, [out, in] for linears

    def layer(self, i: int, name: str) -> np.ndarray:
        return self.w[f"model.layers.{i}.{name}"]

    def gate_w(self, i: int) -> np.ndarray:
        return self.w[f"model.gate_projections.{i}.weight"]  # [n_heads, head_dim]

    def gate_b(self, i: int) -> np.ndarray:
        return self.w[f"model.gate_projections.{i}.bias"]  # [n_heads]


def load_hf(directory) -> LoopModel:
    d = Path(directory)
    cfg = LoopConfig.from_json(json.loads((d / "config.json").read_text()))
    index = d / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else ["model.safetensors"]
    w: dict[str, np.ndarray] = {}
    for f in files:
        w.update(read_safetensors(d / f))
    w = {k: v for k, v in w.items() if not k.endswith("rotary_emb.inv_freq")}
    c = cfg
    need = {"model.embed_tokens.weight": (c.vocab, c.hidden), "model.norm.weight": (c.hidden,),
            "lm_head.weight": (c.vocab, c.hidden)}
    for i in range(c.n_layers):
        p = f"model.layers.{i}."
        need.update({
            p + "input_layernorm.weight": (c.hidden,),
            p + "self_attn.q_proj.weight": (c.n_heads * c.head_dim, c.hidden),
            p + "self_attn.k_proj.weight": (c.n_kv_heads * c.head_dim, c.hidden),
            p + "self_attn.v_proj.weight": (c.n_kv_heads * c.head_dim, c.hidden),
            p + "self_attn.o_proj.weight": (c.hidden, c.n_heads * c.head_dim),
            p + "post_attention_layernorm.weight": (c.hidden,),
            p + "mlp.gate_proj.weight": (c.intermediate, c.hidden),
            p + "mlp.up_proj.weight": (c.intermediate, c.hidden),
            p + "mlp.down_proj.weight": (c.hidden, c.intermediate),
            f"model.gate_projections.{i}.weight": (c.n_heads, c.head_dim),
            f"model.gate_projections.{i}.bias": (c.n_heads,),
        })
    for name, shape in need.items():
        if name not in w:
            raise KeyError(f"missing tensor {name}")
        if tuple(w[name].shape) != shape:
            raise ValueError(f"{name}: shape {w[name].shape}, expected {shape}")
    extra = set(w) - set(need)
    if extra:
        raise ValueError(f"unexpected tensors: {sorted(extra)}")
    return LoopModel(cfg, w)


# ---------------------------------------------------------------------------------------------------
# building blocks (x rows are tokens)
# ---------------------------------------------------------------------------------------------------

def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    ms = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(ms + eps) * weight


def rope(x: np.ndarray, positions: np.ndarray, theta: float) -> np.ndarray:
    """x [T, H, D]; HF rotate-half layout: element j pairs with j + D/2, angle pos * theta^(-2i/D)."""
    d = x.shape[-1]
    half = d // 2
    inv_freq = theta ** (-np.arange(half, dtype=np.float64) * 2.0 / d)
    ang = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]  # [T, half]
    cos = np.cos(ang)[:, None, :]
    sin = np.sin(ang)[:, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def attend(q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """q [T, Hq, D], k/v [S, Hkv, D], allowed [T, S] bool (None: all). GQA: head h reads kv h // (Hq/Hkv)."""
    hq, hkv, d = q.shape[1], k.shape[1], q.shape[2]
    group = hq // hkv
    kk = np.repeat(k, group, axis=1)  # [S, Hq, D]: kv head j serves query heads j*group .. j*group+group-1
    vv = np.repeat(v, group, axis=1)
    scores = np.einsum("thd,shd->hts", q, kk) / np.sqrt(d)  # [Hq, T, S]
    if allowed is not None:
        if not allowed.any(axis=1).all():
            raise AssertionError("a query row has no key to attend to")
        scores = np.where(allowed[None, :, :], scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    p = np.exp(scores)
    p = p / p.sum(axis=-1, keepdims=True)
    return np.einsum("hts,shd->thd", p, vv)


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def qkv(model: LoopModel, i: int, x: np.ndarray, positions: np.ndarray):
    """-> (q_before_rope, q_rot, k_rot, v), shapes [T, H, D]."""
    c = model.cfg
    h = rms_norm(x, model.layer(i, "input_layernorm.weight"), c.rms_eps)
    t = x.shape[0]
    q = (h @ model.layer(i, "self_attn.q_proj.weight").T).reshape(t, c.n_heads, c.head_dim)
    k = (h @ model.layer(i, "self_attn.k_proj.weight").T).reshape(t, c.n_kv_heads, c.head_dim)
    v = (h @ model.layer(i, "self_attn.v_proj.weight").T).reshape(t, c.n_kv_heads, c.head_dim)
    return q, rope(q, positions, c.rope_theta), rope(k, positions, c.rope_theta), v


def finish_layer(model: LoopModel, i: int, x: np.ndarray, attn: np.ndarray) -> np.ndarray:
    """x += o_proj(attn); x += down(silu(gate(m)) * up(m)) with m = post-norm(x)."""
    c = model.cfg
    x = x + attn.reshape(x.shape[0], -1) @ model.layer(i, "self_attn.o_proj.weight").T
    m = rms_norm(x, model.layer(i, "post_attention_layernorm.weight"), c.rms_eps)
    ff = silu(m @ model.layer(i, "mlp.gate_proj.weight").T) * (m @ model.layer(i, "mlp.up_proj.weight").T)
    return x + ff @ model.layer(i, "mlp.down_proj.weight").T


def gate(model: LoopModel, i: int, q: np.ndarray) -> np.ndarray:
    """q [T, Hq, D] -> g [T, Hq]."""
    return sigmoid(np.einsum("thd,hd->th", q, model.gate_w(i)) + model.gate_b(i)[None, :])


def lm_head(model: LoopModel, x: np.ndarray) -> np.ndarray:
    return rms_norm(x, model.w["model.norm.weight"], model.cfg.rms_eps) @ model.w["lm_head.weight"].T


# ---------------------------------------------------------------------------------------------------
# path 1: the whole sequence at once, masks written out
# ---------------------------------------------------------------------------------------------------

def forward_full(model: LoopModel, ids, variant: str | None = None, *, gates_out: list | None = None,
                 perturb_pass2=None) -> np.ndarray:
    """Logits [T, vocab] for token ids at positions 0..T-1.

    variant: None (correct) or one of VARIANTS.
    gates_out: if a list, receives one [T, Hq] gate array per layer (pass 2).
    perturb_pass2: optional callable (layer, k2 [T,Hkv,D], v2 [T,Hkv,D]) -> (k2', v2') applied to the
      pass-2 keys/values the LOCAL branch reads (the differential "old keys don't matter" check).
    """
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant}")
    c = model.cfg
    ids = np.asarray(ids, dtype=np.int64)
    t = len(ids)
    pos = np.arange(t)
    tq, ts = pos[:, None], pos[None, :]
    causal = ts <= tq
    w = c.window + 1 if variant == "window_plus_one" else c.window
    local = causal & (ts > tq - w)  # positions max(0, t-W+1) .. t
    if variant == "no_window":
        local = causal

    x = model.w["model.embed_tokens.weight"][ids]
    k1s, v1s = [], []
    for i in range(c.n_layers):  # pass 1
        _, q, k, v = qkv(model, i, x, pos)
        k1s.append(k)
        v1s.append(v)
        x = finish_layer(model, i, x, attend(q, k, v, causal))
    if variant == "pass1_only":
        return lm_head(model, x)
    if variant == "pass2_from_normed":
        x = rms_norm(x, model.w["model.norm.weight"], c.rms_eps)
    for i in range(c.n_layers):  # pass 2
        q_raw, q, k2, v2 = qkv(model, i, x, pos)
        g = gate(model, i, q_raw if variant == "gate_before_rope" else q)
        if gates_out is not None:
            gates_out.append(g)
        if variant == "global_reads_pass2":
            a = attend(q, k2, v2, causal)
        else:
            a = attend(q, k1s[i], v1s[i], causal)
        kl, vl = (k2, v2) if perturb_pass2 is None else perturb_pass2(i, k2.copy(), v2.copy())
        b = attend(q, kl, vl, local)
        g3 = g[:, :, None]
        mixed = g3 * b + (1 - g3) * a if variant == "swapped_mix" else g3 * a + (1 - g3) * b
        x = finish_layer(model, i, x, mixed)
    return lm_head(model, x)


# ---------------------------------------------------------------------------------------------------
# paths 2 and 3: explicit caches (full pass-1 cache per layer, ring of W slots per layer for pass 2)
# ---------------------------------------------------------------------------------------------------

@dataclass
class Ring:
    """W slots; slot s holds the entry of absolute position pos[s] (-1 = empty); position p -> slot p % W."""
    k: np.ndarray
    v: np.ndarray
    pos: np.ndarray

    @staticmethod
    def empty(w: int, hkv: int, d: int) -> "Ring":
        return Ring(np.zeros((w, hkv, d)), np.zeros((w, hkv, d)), np.full(w, -1, dtype=np.int64))

    def write(self, p: int, k: np.ndarray, v: np.ndarray) -> None:
        s = p % len(self.pos)
        self.k[s], self.v[s], self.pos[s] = k, v, p

    def occupied(self) -> np.ndarray:
        return np.nonzero(self.pos >= 0)[0]


@dataclass
class LoopState:
    model: LoopModel
    n_past: int = 0
    k1: list = field(default_factory=list)  # per layer: [n_past, Hkv, D] (after RoPE)
    v1: list = field(default_factory=list)
    ring: list = field(default_factory=list)  # per layer: Ring
    gates: list = field(default_factory=list)  # per call: [L layers][T, Hq]

    def __post_init__(self):
        c = self.model.cfg
        self.k1 = [np.zeros((0, c.n_kv_heads, c.head_dim)) for _ in range(c.n_layers)]
        self.v1 = [np.zeros((0, c.n_kv_heads, c.head_dim)) for _ in range(c.n_layers)]
        self.ring = [Ring.empty(c.window, c.n_kv_heads, c.head_dim) for _ in range(c.n_layers)]

    # path 2 ---------------------------------------------------------------------------------------
    def decode(self, token: int) -> np.ndarray:
        """One token at position n_past -> logits [vocab]."""
        m, c = self.model, self.model.cfg
        p = self.n_past
        pos = np.array([p])
        x = m.w["model.embed_tokens.weight"][[token]]
        for i in range(c.n_layers):
            _, q, k, v = qkv(m, i, x, pos)
            self.k1[i] = np.concatenate([self.k1[i], k])
            self.v1[i] = np.concatenate([self.v1[i], v])
            x = finish_layer(m, i, x, attend(q, self.k1[i], self.v1[i], None))  # all past is causal
        gl = []
        for i in range(c.n_layers):
            _, q, k2, v2 = qkv(m, i, x, pos)
            g = gate(m, i, q)
            gl.append(g)
            a = attend(q, self.k1[i], self.v1[i], None)
            r = self.ring[i]
            r.write(p, k2[0], v2[0])  # evicts position p-W: the ring now holds exactly the window
            occ = r.occupied()
            assert len(occ) == min(p + 1, c.window)
            b = attend(q, r.k[occ], r.v[occ], None)
            x = finish_layer(m, i, x, g[:, :, None] * a + (1 - g[:, :, None]) * b)
        self.gates.append(gl)
        self.n_past += 1
        return lm_head(m, x)[0]

    # path 3 ---------------------------------------------------------------------------------------
    def prefill_chunk(self, ids) -> np.ndarray:
        """A chunk of any length at positions n_past .. n_past+L-1 -> logits [L, vocab]."""
        m, c = self.model, self.model.cfg
        ids = np.asarray(ids, dtype=np.int64)
        L, p0 = len(ids), self.n_past
        pos = np.arange(p0, p0 + L)
        x = m.w["model.embed_tokens.weight"][ids]
        for i in range(c.n_layers):
            _, q, k, v = qkv(m, i, x, pos)
            self.k1[i] = np.concatenate([self.k1[i], k])
            self.v1[i] = np.concatenate([self.v1[i], v])
            kpos = np.arange(p0 + L)
            x = finish_layer(m, i, x, attend(q, self.k1[i], self.v1[i], kpos[None, :] <= pos[:, None]))
        gl = []
        for i in range(c.n_layers):
            _, q, k2, v2 = qkv(m, i, x, pos)
            g = gate(m, i, q)
            gl.append(g)
            kpos1 = np.arange(p0 + L)
            a = attend(q, self.k1[i], self.v1[i], kpos1[None, :] <= pos[:, None])
            r = self.ring[i]
            occ = r.occupied()  # entries written by earlier calls only (all positions < p0)
            assert (r.pos[occ] < p0).all()
            keys = np.concatenate([r.k[occ], k2])
            vals = np.concatenate([r.v[occ], v2])
            kpos = np.concatenate([r.pos[occ], pos])
            allowed = (kpos[None, :] <= pos[:, None]) & (kpos[None, :] > pos[:, None] - c.window)
            b = attend(q, keys, vals, allowed)
            x = finish_layer(m, i, x, g[:, :, None] * a + (1 - g[:, :, None]) * b)
            for j in range(L):  # only now: the chunk's own earlier rows needed what this evicts
                r.write(int(pos[j]), k2[j], v2[j])
        self.gates.append(gl)
        self.n_past += L
        return lm_head(m, x)

    def pass2_entries(self) -> int:
        """Occupied pass-2 slots per layer (never more than W)."""
        n = {len(r.occupied()) for r in self.ring}
        assert len(n) == 1
        return n.pop()


def run_decode(model: LoopModel, ids) -> np.ndarray:
    st = LoopState(model)
    return np.stack([st.decode(int(t)) for t in ids])


def run_chunked(model: LoopModel, ids, sizes) -> np.ndarray:
    """sizes: chunk lengths, cycled until ids are used up."""
    st = LoopState(model)
    out, j, n = [], 0, 0
    while n < len(ids):
        L = sizes[j % len(sizes)]
        out.append(st.prefill_chunk(ids[n : n + L]))
        n += L
        j += 1
    return np.concatenate(out)


CHUNK_SCHEDULES = ([1], [2], [3], [4], [5], [7], [9], [64], [5, 1, 9, 2], [1, 4, 3, 6])


def self_check(model: LoopModel, ids, tol: float = 1e-10) -> dict:
    """Asserts full == token-by-token == chunked (all CHUNK_SCHEDULES); returns the max abs diffs."""
    full = forward_full(model, ids)
    res = {"decode": float(np.abs(run_decode(model, ids) - full).max())}
    for s in CHUNK_SCHEDULES:
        res["chunks_" + "-".join(map(str, s))] = float(np.abs(run_chunked(model, ids, s) - full).max())
    bad = {k: v for k, v in res.items() if not v <= tol}
    if bad:
        raise AssertionError(f"reference paths disagree (tol {tol}): {bad}")
    return res


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        print(__doc__)
        sys.exit(2)
    model = load_hf(argv[1])
    ids = [int(a) for a in argv[2:]] or list(range(3, 3 + 2 * model.cfg.window + 3))
    print("agreement (max abs diff vs full):", self_check(model, ids))
    last = forward_full(model, ids)[-1]
    top = np.argsort(-last)[:5]
    print("last position top 5:", [(int(t), float(last[t])) for t in top])


if __name__ == "__main__":
    main(sys.argv)
