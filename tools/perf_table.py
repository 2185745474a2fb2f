#!/usr/bin/env python3
"""Regenerates the measured tables of docs/PERFORMANCE.md (issue #5's benchmark figures).

What it runs (all on this machine, in one go, so the rows share the machine's state):
  1. SmolLM2-135M-Instruct: the shipped Q4_1 file plus Q8_0, BF16 and F32 files that
     `iquest quantize` makes from it (cached next to it). `iquest bench -p 512 -n 128 -t 2` on each;
     with --llama-bench PATH, llama.cpp's llama-bench on the same file right after ours, so each
     row compares the two under the same load.
  2. --synthetic: the IQuest-7B shape (14 layers of the real 40B layer, vocab 76,800, random
     weights built in memory) at q4_0, q8_0 and bf16 (and q4_k when the engine has it): pp512
     tokens/s and GFLOP/s, decode tokens/s, weight GB/s and its share of the read bandwidth that
     the built-in probe measures in the same run.
  3. --shape-files DIR: GGUF files at the IQuest-7B shape with random weights in DIR, named
     iquest7b-Q4_0.gguf, iquest7b-Q4_K_M.gguf, iquest7b-Q8_0.gguf, iquest7b-BF16.gguf (written by
     tools/gen_shape_gguf.py, quantized by `iquest quantize` / llama-quantize; those present are
     used): pp512 and tg64 side by side with llama-bench (--llama-bench), the ratio, decode weight
     GB/s and its share of the probe, the kernel set.
  4. --loop: Loop vs dense decode per token on the real 40B layer shape with --layers N (both
     passes of the Loop model read every layer's weights; the ratio is what issue #5 bounds).

Usage:
  python3 tools/perf_table.py [--llama-bench PATH] [--synthetic] [--shape-files DIR] [--loop] [--reps 5] [--write]
Needs a release build (`swift build -c release`) and the SmolLM2 asset (tools/fetch-assets.sh).
--write replaces the text between the perf-table markers in docs/PERFORMANCE.md; without it
the tables go to stdout. Standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IQUEST = os.path.join(ROOT, ".build", "release", "iquest")
CACHE = os.environ.get("IQUEST_CACHE", os.path.expanduser("~/.cache/iquest"))
SMOL_DIR = os.path.join(CACHE, "smollm2")
SHIPPED = os.path.join(SMOL_DIR, "SmolLM2-135M-Instruct.Q4_1.gguf")
DOC = os.path.join(ROOT, "docs", "PERFORMANCE.md")
BEGIN, END = "<!-- perf-table:begin -->", "<!-- perf-table:end -->"

# llama.cpp b10587's figures on the issue's reference machine (Zen 5, AVX-512): for orientation
# only; the side-by-side column is what counts.
ANCHORS = {"Q4_1": (466, 172), "Q8_0": (972, 168), "BF16": (1534, 135), "F32": (1055, 74)}


def run(cmd, timeout=3600):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        sys.exit(f"command failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return done.stdout


def smol_file(kind):
    if kind == "Q4_1":
        return SHIPPED
    path = os.path.join(SMOL_DIR, f"SmolLM2-135M-Instruct.{kind}.gguf")
    if not os.path.exists(path):
        run([IQUEST, "quantize", "--input", SHIPPED, "--output", path, "--type", kind.lower()])
    return path


def parse_iquest(text):
    """Rows of `iquest bench`: {test: (median t/s, achieved, share)} plus probe and peak RSS."""
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 8 and re.fullmatch(r"(pp|tg)\d+", cells[3]):
            rows[cells[3]] = (float(cells[5]), cells[6], cells[7])
    probe = re.search(r"memory read bandwidth: ([\d.]+) GB/s", text)
    rss = re.search(r"peak RSS: ([\d.]+) MiB", text)
    return rows, (float(probe.group(1)) if probe else None), (float(rss.group(1)) if rss else None)


def llama_bench(binary, path, threads, reps, n_prompt, n_gen):
    out = run([binary, "-m", path, "-t", str(threads), "-p", str(n_prompt), "-n", str(n_gen),
               "-r", str(reps), "-o", "json"])
    result = {}
    for entry in json.loads(out):
        test = f"pp{entry['n_prompt']}" if entry["n_gen"] == 0 else f"tg{entry['n_gen']}"
        samples = entry.get("samples_ts") or [entry["avg_ts"]]
        result[test] = statistics.median(samples)
    return result


def smollm2_table(args):
    lines = ["| file | size | iquest pp512 | llama.cpp pp512 | iquest tg128 | llama.cpp tg128 | "
             "tg GB/s (share of probe) | peak RSS | anchor pp512 / tg128 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in ["Q4_1", "Q8_0", "BF16", "F32"]:
        path = smol_file(kind)
        ours, probe, rss = parse_iquest(run([IQUEST, "bench", "-m", path, "-t", "2", "-p", "512", "-n", "128",
                                             "-r", str(args.reps)]))
        theirs = llama_bench(args.llama_bench, path, 2, args.reps, 512, 128) if args.llama_bench else {}
        pp, tg = ours["pp512"], ours["tg128"]
        fmt = lambda v: f"{v:.0f}" if v is not None else "–"
        lines.append(f"| {kind} | {os.path.getsize(path) / 2**20:.0f} MiB | {pp[0]:.0f} | {fmt(theirs.get('pp512'))} | "
                     f"{tg[0]:.0f} | {fmt(theirs.get('tg128'))} | {tg[1]} ({tg[2]}) | {rss:.0f} MiB | "
                     f"{ANCHORS[kind][0]} / {ANCHORS[kind][1]} |")
    return lines


def synthetic_table(args):
    lines = ["| type | weights | pp512 t/s | pp512 GFLOP/s | tg64 t/s | tg64 weight GB/s | share of probe | probe GB/s | peak RSS |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in args.types.split(","):
        text = run([IQUEST, "bench", "--synthetic", "iquest-7b", "--type", kind, "-t", "2",
                    "-p", str(args.synthetic_prompt), "-n", "64", "-r", "1"], timeout=7200)
        rows, probe, rss = parse_iquest(text)
        size = re.search(r"([\d.]+) GB of weights", text)
        pp = rows.get(f"pp{args.synthetic_prompt}")
        tg = rows["tg64"]
        lines.append(f"| {kind} | {size.group(1) if size else '?'} GB | {pp[0]:.2f} | {pp[1]} | {tg[0]:.2f} | {tg[1]} | "
                     f"{tg[2]} | {probe:.1f} | {rss:.0f} MiB |")
    return lines


SHAPE_TYPES = ["Q4_0", "Q4_K_M", "Q8_0", "BF16"]


def shape_files_table(args):
    lines = ["| file | size | iquest pp512 | llama.cpp pp512 | ratio | iquest tg64 | llama.cpp tg64 | ratio | "
             "iquest tg GB/s (share of probe) | probe GB/s | peak RSS |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    kernels = None
    for kind in SHAPE_TYPES:
        path = os.path.join(args.shape_files, f"iquest7b-{kind}.gguf")
        if not os.path.exists(path):
            continue
        text = run([IQUEST, "bench", "-m", path, "-t", "2", "-p", "512", "-n", "64", "-r", str(args.shape_reps)],
                   timeout=7200)
        ours, probe, rss = parse_iquest(text)
        found = re.search(r"^kernels (\S+)", text, re.M)
        kernels = found.group(1) if found else kernels
        theirs = llama_bench(args.llama_bench, path, 2, args.shape_reps, 512, 64) if args.llama_bench else {}
        pp, tg = ours["pp512"], ours["tg64"]
        ratio = lambda a, b: f"{a / b:.2f}×" if b else "–"
        fmt = lambda v: f"{v:.2f}" if v is not None else "–"
        lines.append(f"| {kind} | {os.path.getsize(path) / 1e9:.2f} GB | {pp[0]:.2f} | {fmt(theirs.get('pp512'))} | "
                     f"{ratio(pp[0], theirs.get('pp512'))} | {tg[0]:.2f} | {fmt(theirs.get('tg64'))} | "
                     f"{ratio(tg[0], theirs.get('tg64'))} | {tg[1]} ({tg[2]}) | {probe:.1f} | {rss:.0f} MiB |")
    lines.append("")
    lines.append(f"Kernel set: {kernels or '?'}; {args.shape_reps} repetition(s) per test, 2 threads.")
    return lines


def loop_table(args):
    lines = [f"| shape (--layers {args.loop_layers}, q8_0) | tg32 t/s | ms/token | weight GB/s |", "|---|---:|---:|---:|"]
    rates = {}
    for name in ["iquest-40b", "iquest-40b-loop"]:
        rows, _, _ = parse_iquest(run([IQUEST, "bench", "--synthetic", name, "--layers", str(args.loop_layers),
                                       "--type", "q8_0", "-t", "2", "-p", "0", "-n", "32", "-r", "3"]))
        rates[name] = rows["tg32"][0]
        lines.append(f"| {name} | {rates[name]:.2f} | {1000 / rates[name]:.1f} | {rows['tg32'][1]} |")
    lines.append("")
    lines.append(f"Loop decode costs **{rates['iquest-40b'] / rates['iquest-40b-loop']:.2f}×** dense per token "
                 "(bound: 2.1×).")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--llama-bench", help="llama.cpp's llama-bench binary, run side by side on the same files")
    parser.add_argument("--synthetic", action="store_true", help="also the IQuest-7B-shaped rows")
    parser.add_argument("--types", default="q4_0,q8_0,bf16", help="types for --synthetic")
    parser.add_argument("--synthetic-prompt", type=int, default=512)
    parser.add_argument("--shape-files", help="directory of IQuest-7B-shape GGUF files (iquest7b-<TYPE>.gguf)")
    parser.add_argument("--shape-reps", type=int, default=1, help="repetitions for --shape-files rows")
    parser.add_argument("--loop", action="store_true", help="also Loop vs dense decode")
    parser.add_argument("--loop-layers", type=int, default=8)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="replace the marked section of docs/PERFORMANCE.md")
    args = parser.parse_args()
    if not os.path.exists(IQUEST):
        sys.exit(f"{IQUEST} is missing: run `swift build -c release` first")
    if not os.path.exists(SHIPPED):
        sys.exit(f"{SHIPPED} is missing: run tools/fetch-assets.sh smollm2 first")

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
    simd = " ".join(f for f in ["avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni"] if f in flags)
    head = [f"Generated by `python3 tools/perf_table.py {' '.join(sys.argv[1:])}` on "
            f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC: {cpu}, {os.cpu_count()} CPUs "
            f"({simd}), {platform.machine()}; medians of {args.reps} repetitions unless stated.", ""]
    body = head + ["### SmolLM2-135M-Instruct, 2 threads", ""] + smollm2_table(args)
    if args.synthetic:
        body += ["", f"### IQuest-7B shape (14 × the 40B layer, vocab 76,800, random weights), 2 threads, 1 repetition", ""]
        body += synthetic_table(args)
    if args.shape_files:
        body += ["", "### IQuest-7B shape GGUF files (random weights), side by side with llama-bench", ""]
        body += shape_files_table(args)
    if args.loop:
        body += ["", "### Loop vs dense decode (40B layer shape), 2 threads", ""] + loop_table(args)
    text = "\n".join(body)
    if args.write:
        doc = open(DOC).read()
        if BEGIN not in doc or END not in doc:
            sys.exit(f"{DOC} has no {BEGIN} … {END} section")
        start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
        open(DOC, "w").write(doc[:start] + "\n" + text + "\n" + doc[end:])
        print(f"updated {DOC}", file=sys.stderr)
    print(text)


if __name__ == "__main__":
    main()
