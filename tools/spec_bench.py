#!/usr/bin/env python3
"""Speculative decoding benchmark (issue #18): decode tokens/s with and without drafts on the
code-editing and open-ended prompts of Tests/Fixtures/speculative/prompts.json.

    python3 tools/spec_bench.py --iquest .build/release/iquest \
        --model ~/.cache/iquest/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --threads 1 --temps 0,0.6

Each (prompt, temperature, mode) runs `iquest generate --chat --json` with a fixed seed; the
table gives decode tokens/s (median of --reps), the speedup over `off`, acceptance and tokens
per forward, and whether the ids equal the `off` run's (they must: drafts never change output).
"""
import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def common_arguments(ap):
    """The options spec_bench.py and spec_analyze.py share."""
    ap.add_argument("--iquest", default=str(ROOT / ".build/release/iquest"))
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-tokens", type=int, default=256)


def run(args, prompt, temp, mode, draft_max=None):
    """One `iquest generate --json` run: (generated ids, the summary line)."""
    cmd = [args.iquest, "generate", "--model", args.model, "--chat", "--prompt", prompt, "--json",
           "-n", str(args.max_tokens), "--temperature", str(temp), "--seed", "1", "--threads", str(args.threads),
           "--speculative", mode, "--draft-max", str(draft_max or args.draft_max)]
    if mode == "draft":
        cmd += ["--model-draft", args.model_draft]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd[:6])} …\n{out.stderr}")
    lines = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    done = lines[-1]
    ids = [l["id"] for l in lines[:-1]]
    return ids, done


def main():
    ap = argparse.ArgumentParser()
    common_arguments(ap)
    ap.add_argument("--temps", default="0,0.6")
    ap.add_argument("--modes", default="off,ngram")
    ap.add_argument("--draft-max", type=int, default=8)
    ap.add_argument("--model-draft", default="", help="the draft model for mode 'draft' (e.g. --modes off,ngram,draft)")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated prompt names")
    args = ap.parse_args()
    prompts = json.load(open(ROOT / "Tests/Fixtures/speculative/prompts.json"))["prompts"]
    if args.only:
        prompts = [p for p in prompts if p["name"] in args.only.split(",")]
    modes = args.modes.split(",")
    if "draft" in modes and not args.model_draft:
        sys.exit("mode 'draft' needs --model-draft PATH")
    print(f"model {Path(args.model).name}, {args.threads} thread(s), {args.max_tokens} tokens, draft max {args.draft_max}")
    print("| prompt | T | mode | tokens | decode t/s | speedup | accepted/drafted | tokens/forward | same ids |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    summary = {}
    for temp in [float(t) for t in args.temps.split(",")]:
        for p in prompts:
            base_ids, base_rate = None, None
            for mode in modes:
                rates, ids, done = [], None, None
                for _ in range(args.reps):
                    ids, done = run(args, p["prompt"], temp, mode)
                    rates.append(done["decode_tps"])
                rate = statistics.median(rates)
                if mode == "off" or base_ids is None:
                    base_ids, base_rate = ids, rate
                speed = rate / base_rate if base_rate else 0
                same = "yes" if ids == base_ids else "NO"
                fw = done["forwards"] or 1
                acc = f"{done['accepted_tokens']}/{done['drafted_tokens']}" if done["drafted_tokens"] else "–"
                print(f"| {p['name']} | {temp:g} | {mode} | {done['generated_tokens']} | {rate:.1f} | {speed:.2f}× | {acc} | "
                      f"{done['generated_tokens'] / fw:.2f} | {same} |", flush=True)
                summary.setdefault((p["kind"], temp, mode), []).append(speed)
    print("\nmedian speedup over off by set:")
    for (kind, temp, mode), speeds in sorted(summary.items()):
        if mode != "off":
            print(f"  {kind:5} T={temp:g} {mode}: {statistics.median(speeds):.2f}× (per prompt: {', '.join(f'{s:.2f}' for s in speeds)})")


if __name__ == "__main__":
    main()
