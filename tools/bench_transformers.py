"""Measures HF transformers (float32, CPU) on a GGUF the same way `iquest bench` does, so the two
can be compared on one machine: pp N = one forward over N prompt tokens, tg N = N single-token
decode steps with the KV cache. Dev-only (needs the reference venv from tools/setup-reference-env.sh).

    .venv-ref/bin/python tools/bench_transformers.py [GGUF] [--threads 2] [-p 512] [-n 128] [-r 3]
"""
import argparse
import os
import statistics
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    default = os.path.join(os.environ.get("IQUEST_CACHE", os.path.expanduser("~/.cache/iquest")),
                           "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("gguf", nargs="?", default=default)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-r", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(args.gguf), gguf_file=os.path.basename(args.gguf),
                                                 torch_dtype=torch.float32)
    model.eval()
    vocab = model.config.vocab_size
    ids = torch.tensor([[(i * 7919 + 13) % vocab for i in range(args.p)]])
    with torch.inference_mode():
        model(ids[:, :8])
        pp = []
        for _ in range(args.r):
            t = time.perf_counter()
            model(ids)
            pp.append(args.p / (time.perf_counter() - t))
        tg = []
        for _ in range(args.r):
            out = model(ids[:, :1], use_cache=True)
            past, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
            t = time.perf_counter()
            for _ in range(args.n):
                out = model(tok, past_key_values=past, use_cache=True)
                past, tok = out.past_key_values, out.logits[:, -1:].argmax(-1)
            tg.append(args.n / (time.perf_counter() - t))
    print(f"transformers fp32, {args.threads} threads: pp{args.p} {statistics.median(pp):.1f} t/s "
          f"(runs {[round(x, 1) for x in pp]}), tg{args.n} {statistics.median(tg):.1f} t/s (runs {[round(x, 1) for x in tg]})")


if __name__ == "__main__":
    main()
