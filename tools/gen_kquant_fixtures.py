"""Writes Tests/Fixtures/quant/reference-kquants.json: random Q4_K and Q6_K super-blocks (random
scale/quant bytes, f16 super-block scales drawn from a sane range, including negative ones and
an all-zero-scale block) and their values as dequantized by the reference `gguf` library
(gguf.quants.dequantize, a numpy port of ggml's dequantize_row_q4_K / dequantize_row_q6_K), so
the engine's decoders and dot kernels are checked against the format's own implementation.

    .venv-ref/bin/python tools/gen_kquant_fixtures.py      (run from the repository root)

gguf-py has no Q4_K/Q6_K quantizer, so the engine's quantizers are checked by round-trip error
and by decoding their output with the decoders this fixture pins down.
"""
import json
import os

import numpy as np
import gguf
from gguf.quants import dequantize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def half_bytes(rng, n, lo, hi):
    mag = rng.uniform(lo, hi, size=n) * rng.choice([-1.0, 1.0], size=n)
    return mag.astype(np.float16).view(np.uint8).reshape(n, 2)


def main():
    rng = np.random.default_rng(20261129)
    blocks = 4
    out = {"format": "iquest-kquant-reference/1", "superBlocks": blocks, "encodings": {}}

    # block_q4_K: f16 d, f16 dmin, 12 scale bytes, 128 nibble bytes.
    q4 = rng.integers(0, 256, size=(blocks, 144), dtype=np.uint8)
    q4[:, 0:2] = half_bytes(rng, blocks, 1e-3, 0.1)
    q4[:, 2:4] = half_bytes(rng, blocks, 1e-3, 0.1)
    q4[3, 0:4] = 0  # d = dmin = 0: all zeros
    # block_q6_K: 128 ql, 64 qh, 16 int8 scales, f16 d.
    q6 = rng.integers(0, 256, size=(blocks, 210), dtype=np.uint8)
    q6[:, 208:210] = half_bytes(rng, blocks, 1e-4, 0.01)
    q6[2, 192:208] = np.array([-128, 127] * 8, dtype=np.int8).view(np.uint8)  # extreme scales

    for name, t, data in [("q4_K", gguf.GGMLQuantizationType.Q4_K, q4), ("q6_K", gguf.GGMLQuantizationType.Q6_K, q6)]:
        values = dequantize(data.reshape(-1), t).astype(np.float32).reshape(-1)
        assert values.size == 256 * blocks and np.all(np.isfinite(values))
        out["encodings"][name] = {"bytes": data.tobytes().hex(), "values": [float(v) for v in values]}
    path = os.path.join(ROOT, "Tests", "Fixtures", "quant", "reference-kquants.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=0)
    print("wrote", path)


if __name__ == "__main__":
    main()
