#!/usr/bin/env python3
"""Why speculative decoding is (not) faster on a prompt set (issue #18): for each prompt, the
plain greedy run's own ids are replayed through the n-gram drafter offline, so the table shows
what prompt lookup can at best achieve on this model, separately from what the engine achieved.

    python3 tools/spec_analyze.py --model ~/.cache/iquest/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
        --threads 1 --max-tokens 256 --curve-depth 2300

Per prompt:
  - measured: plain (`off`) and `ngram` runs — decode t/s, speedup, acceptance, tokens per
    forward, mean draft length (drafted / forwards), ms per forward;
  - replay: the `off` run's ids fed to the same n-gram lookup as NGramDrafter (latest earlier
    match of the last n tokens, n = ngram-max…ngram-min, over prompt + output) with a fixed draft
    length K; a step accepts the drafted prefix that equals the ids the model did write. That is
    exactly what a greedy run drafting K each step would accept, so it bounds the drafter on
    this model. With the measured cost curve T(k)/T(1) at the prompts' depth it gives the
    speedup each K implies, and the ceiling a perfect drafter would reach (every draft right).
  - copy fraction: share of output ids that a lookup of ≥ ngram-min tokens predicted correctly
    (the model is "copying" there).
"""
import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import spec_bench

ROOT = Path(__file__).resolve().parent.parent


def generate(args, prompt, mode, draft_max):
    """Greedy ids and summary of one run (spec_bench's runner at temperature 0)."""
    return spec_bench.run(args, prompt, 0, mode, draft_max)


def lookup(tokens, count, ngram_max, ngram_min):
    """NGramDrafter.draft, written again: latest earlier occurrence of the longest suffix."""
    length = len(tokens)
    if count <= 0 or length < 2:
        return []
    for n in range(min(ngram_max, length - 1), max(1, ngram_min) - 1, -1):
        suffix = tokens[length - n:]
        for j in range(length - n - 1, -1, -1):
            if tokens[j:j + n] == suffix:
                start = j + n
                end = min(start + count, length)
                if start < end:
                    return tokens[start:end]
                break
    return []


def replay(prompt_ids, output, k, ngram_max, ngram_min):
    """Greedy run drafting up to k per step: (forwards, drafted, accepted, row counts per forward)."""
    seq = list(prompt_ids) + [output[0]]
    i, forwards, drafted, accepted, rows = 1, 0, 0, 0, []
    while i < len(output):
        draft = lookup(seq, min(k, len(output) - i), ngram_max, ngram_min)
        a = 0
        while a < len(draft) and draft[a] == output[i + a]:
            a += 1
        take = min(a + 1, len(output) - i)
        seq += output[i:i + take]
        i += take
        forwards += 1
        drafted += len(draft)
        accepted += a
        rows.append(1 + len(draft))
    return forwards, drafted, accepted, rows


def cost_curve(args, depth):
    """T(k)/T(1) for k = 1…17 from `iquest bench --verify-rows` at `depth` positions."""
    ks = list(range(1, 18))
    cmd = [args.iquest, "bench", "-m", args.model, "-p", "0", "-n", str(args.curve_steps), "-r", "3",
           "--threads", str(args.threads), "--verify-rows", ",".join(map(str, ks))]
    if depth:
        cmd += ["-d", str(depth)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        sys.exit(f"bench failed:\n{out.stderr}")
    curve = {}
    for line in out.stdout.splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", line)
        if m:
            curve[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
    return curve


def main():
    ap = argparse.ArgumentParser()
    spec_bench.common_arguments(ap)
    ap.add_argument("--ngram-max", type=int, default=4)
    ap.add_argument("--ngram-min", type=int, default=2)
    ap.add_argument("--draft-max", type=int, default=16)
    ap.add_argument("--only", default="", help="comma-separated prompt names")
    ap.add_argument("--curve-depth", type=int, default=0, help="context depth for the T(k) curve (0: none measured)")
    ap.add_argument("--curve-steps", type=int, default=8)
    ap.add_argument("--curve", default="", help="a measured curve instead: 'k:T(k)/T(1),…' e.g. 1:1,2:1.3,…")
    ap.add_argument("--no-measure", action="store_true", help="skip the timed ngram run (replay only)")
    ap.add_argument("--sweep", action="store_true", help="also replay other n-gram min…max settings")
    ap.add_argument("--cache", default="", help="JSON file keeping the plain runs, so replays with other n-gram settings reuse them")
    args = ap.parse_args()
    prompts = json.load(open(ROOT / "Tests/Fixtures/speculative/prompts.json"))["prompts"]
    if args.only:
        prompts = [p for p in prompts if p["name"] in args.only.split(",")]
    curve = cost_curve(args, args.curve_depth) if args.curve_depth else {}
    if args.curve:
        curve = {int(k): (0.0, float(r)) for k, r in (part.split(":") for part in args.curve.split(","))}
    if curve:
        print(f"T(k)/T(1) ({'given' if args.curve else f'measured at depth {args.curve_depth}'}): " + ", ".join(f"{k}:{r:.2f}" for k, (_, r) in sorted(curve.items())))
    def ratio(rows):
        # T(rows)/T(1), linear between measured k (and past the last one, on the last slope).
        if not curve:
            return float("nan")
        ks = sorted(curve)
        if rows in curve:
            return curve[rows][1]
        lo = max([k for k in ks if k < rows], default=ks[0])
        hi = min([k for k in ks if k > rows], default=None)
        if hi is None:
            lo, hi = ks[-2], ks[-1]
        a, b = curve[lo][1], curve[hi][1]
        return a + (b - a) * (rows - lo) / (hi - lo)
    print(f"model {Path(args.model).name}, {args.threads} thread(s), {args.max_tokens} tokens, "
          f"n-gram {args.ngram_min}…{args.ngram_max}, draft max {args.draft_max}")
    print("| prompt | prompt ids | off t/s | ngram t/s | speedup | acc/drafted | tok/fwd | mean draft | ms/fwd off→ngram | copy frac |"
          " replay K: tok/fwd, implied× | perfect drafter K=16 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    sweeps = []
    cache = json.load(open(args.cache)) if args.cache and Path(args.cache).exists() else {}
    for p in prompts:
        key = f"{Path(args.model).name}|{p['name']}|{args.max_tokens}|{args.threads}"
        if key not in cache:
            cache[key] = generate(args, p["prompt"], "off", args.draft_max)
            if args.cache:
                json.dump(cache, open(args.cache, "w"))
        out, base = cache[key]
        pids = base["prompt_ids"]
        off_ms = 1000 / base["decode_tps"] if base["decode_tps"] else 0
        measured = "| – | – | – | – | – | –"
        if not args.no_measure:
            ids, spec = generate(args, p["prompt"], "ngram", args.draft_max)
            fw = spec["forwards"] or 1
            ms = 1000 * spec["generated_tokens"] / spec["decode_tps"] / fw if spec["decode_tps"] else 0
            same = "" if ids == out else " (ids differ!)"
            measured = (f"| {spec['decode_tps']:.1f} | {spec['decode_tps'] / base['decode_tps']:.2f}×{same} | "
                        f"{spec['accepted_tokens']}/{spec['drafted_tokens']} | {spec['generated_tokens'] / fw:.2f} | "
                        f"{spec['drafted_tokens'] / fw:.1f} | {off_ms:.1f}→{ms:.1f}")
        # Copy fraction: output ids that a one-token draft predicted right.
        _, d1, a1, _ = replay(pids, out, 1, args.ngram_max, args.ngram_min)
        copy = a1 / max(1, len(out) - 1)
        cells = []
        for k in (2, 4, 8, 16):
            fwd, dr, acc, rows = replay(pids, out, k, args.ngram_max, args.ngram_min)
            tpf = (len(out) - 1) / max(1, fwd)
            implied = (len(out) - 1) / sum(ratio(r) for r in rows) if curve else float("nan")
            cells.append(f"{k}: {tpf:.2f}, {implied:.2f}×")
        perfect = 17 / ratio(17) if curve else float("nan")
        if args.sweep:
            # Other lookup settings on the same ids, K = 16: does a longer or shorter n-gram help?
            cells_sweep = []
            for nmax, nmin in ((2, 1), (4, 1), (4, 2), (4, 3), (8, 2), (8, 4), (16, 4)):
                fwd, dr, acc, _ = replay(pids, out, 16, nmax, nmin)
                cells_sweep.append(f"{nmin}…{nmax}: {(len(out) - 1) / max(1, fwd):.2f} ({acc}/{dr})")
            sweeps.append(f"{p['name']}: " + "; ".join(cells_sweep))
        print(f"| {p['name']} | {len(pids)} | {base['decode_tps']:.1f} {measured} | {copy:.2f} | {'; '.join(cells)} | "
              f"{perfect:.2f}× |", flush=True)

    if sweeps:
        print("\nreplay at K=16 with other n-gram min…max: tokens/forward (accepted/drafted)")
        for line in sweeps:
            print("  " + line)


if __name__ == "__main__":
    main()
