"""Writes Tests/Fixtures/quant/reference-quants.json: a fixed random f32 matrix and its encoding
by the reference `gguf` library (gguf.quants.quantize) for Q8_0, Q4_0, Q4_1, F16 and BF16, so the
engine's quantizers can be checked byte for byte against the format's own implementation.

    .venv-ref/bin/python tools/gen_quant_fixtures.py      (or /work/venv-ref/bin/python)
"""
import json
import os

import numpy as np
import gguf
from gguf.quants import quantize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    rng = np.random.default_rng(1234)
    rows, cols = 6, 96
    x = rng.normal(0, 1, size=(rows, cols)).astype(np.float32)
    x[1] *= 1e-3            # small scales
    x[2, :32] = 0.0         # an all-zero block
    x[3, 5] = 40.0          # an outlier
    x[4] = np.abs(x[4])     # all-positive row (q4_1 min > 0)
    x[5, 40] = -7.9375      # largest magnitude negative in its block (q4_0 sign handling)
    out = {"format": "iquest-quant-reference/1", "rows": rows, "columns": cols,
           "values": [[float(v) for v in r] for r in x], "encodings": {}}
    for name, t in [("q8_0", gguf.GGMLQuantizationType.Q8_0), ("q4_0", gguf.GGMLQuantizationType.Q4_0),
                    ("q4_1", gguf.GGMLQuantizationType.Q4_1), ("f16", gguf.GGMLQuantizationType.F16),
                    ("bf16", gguf.GGMLQuantizationType.BF16)]:
        q = quantize(x, t)
        out["encodings"][name] = q.view(np.uint8).tobytes().hex()
    path = os.path.join(ROOT, "Tests", "Fixtures", "quant", "reference-quants.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", path)


if __name__ == "__main__":
    main()
