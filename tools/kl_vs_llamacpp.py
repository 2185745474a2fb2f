#!/usr/bin/env python3
"""Next-token KL against the exact path, for the engine's prompt paths and for llama.cpp, on the
same GGUF file and the SmolLM2 parity prompts (Tests/Fixtures/smollm2/parity.json).

The reference is `iquest logits --activations exact` (f32 activations, which the parity suites
hold to transformers); each prompt is one forward, so every position comes from the prompt path.
llama.cpp's logits come from tools/llama_logits.c (build line in its header).

  python3 tools/kl_vs_llamacpp.py --llama-logits ./llama_logits MODEL.gguf [MODEL2.gguf ...]

Prints per file and path: KL(P_exact || P) max / mean / median over all positions and top-1
agreement with the exact path.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATHS = [("default (int8 prompt rows)", []), ("--prompt-products integer (int16)", ["--prompt-products", "integer"])]


def log_softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def load(path, vocab):
    return log_softmax(np.fromfile(path, dtype=np.float32).reshape(-1, vocab).astype(np.float64))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--iquest", default=os.path.join(ROOT, ".build/release/iquest"))
    ap.add_argument("--llama-logits", help="the built tools/llama_logits.c (omit to skip llama.cpp)")
    ap.add_argument("--threads", default="2")
    args = ap.parse_args()
    parity = json.load(open(os.path.join(ROOT, "Tests/Fixtures/smollm2/parity.json")))
    vocab = parity["vocab_size"]
    with tempfile.TemporaryDirectory() as tmp:
        ids = os.path.join(tmp, "ids.txt")
        with open(ids, "w") as f:
            f.writelines(" ".join(map(str, p["ids"])) + "\n" for p in parity["prompts"])
        print("| file | path | KL max | KL mean | KL median | top-1 agreement |")
        print("|---|---|---:|---:|---:|---:|")
        for model in args.models:
            def iquest(flags, name):
                out = os.path.join(tmp, name)
                subprocess.run([args.iquest, "logits", "-m", model, "--ids", ids, "-o", out, "-t", args.threads] + flags,
                               check=True, stderr=subprocess.DEVNULL)
                return load(out, vocab)
            reference = iquest(["--activations", "exact"], "exact.f32")
            p_ref = np.exp(reference)
            runs = [(name, iquest(flags, f"run{i}.f32")) for i, (name, flags) in enumerate(PATHS)]
            if args.llama_logits:
                out = os.path.join(tmp, "llama.f32")
                subprocess.run([args.llama_logits, model, ids, out, args.threads], check=True, stderr=subprocess.DEVNULL)
                runs.append(("llama.cpp", load(out, vocab)))
            for name, got in runs:
                if got.shape != reference.shape:
                    sys.exit(f"{name}: {got.shape} logits, expected {reference.shape}")
                kl = (p_ref * (reference - got)).sum(axis=1)
                top = (reference.argmax(axis=1) == got.argmax(axis=1)).mean()
                print(f"| {os.path.basename(model)} | {name} | {kl.max():.2e} | {kl.mean():.2e} | {np.median(kl):.2e} "
                      f"| {100 * top:.1f}% of {len(kl)} |")


if __name__ == "__main__":
    main()
