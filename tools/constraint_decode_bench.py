#!/usr/bin/env python3
"""Decode tokens/s with a JSON Schema constraint vs without, on the same prompt (issue #17).

Runs `iquest generate --json` greedily on one chat prompt, alternating plain and constrained runs
(so load drifts hit both alike), and prints the median decode tokens/s of each and their ratio,
per thread count. The default schema is an array of at least 40 objects, so the constrained run
cannot finish before -n tokens either: both runs decode the same number of tokens.

Usage: python3 tools/constraint_decode_bench.py [--iquest .build/release/iquest]
           [--model ~/.cache/iquest/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf] [--threads 1,2]
           [--runs 5] [-n 96] [--schema FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

SCHEMA = {
    "type": "array", "minItems": 40,
    "items": {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "author": {"type": "string"},
            "year": {"type": "integer", "minimum": 1000, "maximum": 2100},
            "genre": {"enum": ["fiction", "science", "history", "poetry"]},
        },
        "required": ["title", "author", "year", "genre"],
        "additionalProperties": False,
    },
}
PROMPT = "List forty well-known books as a JSON array of objects with title, author, year and genre."


def run(args, threads, schema_path):
    cmd = [args.iquest, "generate", "-m", args.model, "-t", str(threads), "--chat", "-p", PROMPT,
           "-n", str(args.n), "--temperature", "0", "--json"]
    if schema_path:
        cmd += ["--json-schema", schema_path]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    done = json.loads(out.strip().splitlines()[-1])
    return done["decode_tps"], done["generated_tokens"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--iquest", default=".build/release/iquest")
    p.add_argument("--model", default=os.path.expanduser("~/.cache/iquest/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--threads", default="1,2")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("-n", type=int, default=96)
    p.add_argument("--schema")
    args = p.parse_args()
    schema_path = args.schema
    if not schema_path:
        f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(SCHEMA, f)
        f.close()
        schema_path = f.name
    for threads in [int(t) for t in args.threads.split(",")]:
        plain, constrained, counts = [], [], set()
        for _ in range(args.runs):
            tps, n = run(args, threads, None)
            plain.append(tps); counts.add(("plain", n))
            tps, n = run(args, threads, schema_path)
            constrained.append(tps); counts.add(("schema", n))
        a, b = statistics.median(plain), statistics.median(constrained)
        print(f"threads {threads}: tg{args.n} plain {a:.1f} t/s, with schema {b:.1f} t/s -> {100 * b / a:.1f}% "
              f"(medians of {args.runs}; runs {sorted(plain)} vs {sorted(constrained)}; tokens {sorted(counts)})")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
