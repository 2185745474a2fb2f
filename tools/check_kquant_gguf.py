"""Reads a GGUF written by `iquest quantize --type q4_k_m` (or q4_k / q6_k) with the reference
`gguf` library: prints each tensor's type and, given the f32/f16/bf16 GGUF it was converted
from, the relative RMS error of gguf-py's dequantization against the source, per type.
An independent check that the file is well-formed for llama.cpp-family readers and that our
k-quant bytes mean what we think they mean.

    .venv-ref/bin/python tools/check_kquant_gguf.py OUT.gguf [SOURCE.gguf]
"""
import sys
from collections import defaultdict

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def tensors(path):
    reader = GGUFReader(path)
    return reader, {t.name: t for t in reader.tensors}


def main():
    out_path = sys.argv[1]
    reader, out = tensors(out_path)
    ft = reader.fields.get("general.file_type")
    print("general.file_type =", int(ft.parts[ft.data[0]][0]) if ft else None)
    src = tensors(sys.argv[2])[1] if len(sys.argv) > 2 else None
    errors = defaultdict(list)
    for name, t in out.items():
        line = f"{name:40s} {t.tensor_type.name:6s} {[int(d) for d in t.shape]}"
        if src is not None and name in src:
            got = dequantize(t.data, t.tensor_type).astype(np.float64).reshape(-1)
            s = src[name]
            want = dequantize(s.data, s.tensor_type).astype(np.float64).reshape(-1)
            err = np.sqrt(np.mean((got - want) ** 2) / max(np.mean(want ** 2), 1e-30))
            errors[t.tensor_type.name].append(err)
            line += f"  rel RMS {err:.4g}"
        print(line)
    for kind, errs in sorted(errors.items()):
        print(f"{kind}: {len(errs)} tensors, rel RMS mean {np.mean(errs):.4g}, max {np.max(errs):.4g}")


if __name__ == "__main__":
    main()
