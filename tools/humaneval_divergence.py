"""Where an engine run and the transformers reference part ways on HumanEval, and whether it was a
near-tie: for every problem whose completions differ, the first generated token where the texts
disagree, with the top-2 log-probabilities there from transformers and from the engine
(`iquest generate --prompt-ids … --json --top-logprobs 2`, same context). Dev-only (reference venv).

    .venv-ref/bin/python tools/humaneval_divergence.py ENGINE.jsonl HF.jsonl MODEL.gguf --iquest .build/release/iquest
HF.jsonl is tools/humaneval_transformers.py's output (it records prompt_ids and token_ids).
"""
import argparse
import json
import os
import subprocess

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
import gguf_hf_tokenizer


def load(path):
    return {r["task_id"]: r for r in (json.loads(l) for l in open(path) if l.strip()) if r.get("sample", 0) == 0}


def engine_top2(iquest, model, ids):
    out = subprocess.run([iquest, "generate", "--model", model, "--prompt-ids", ",".join(map(str, ids)), "--json",
                          "--top-logprobs", "2", "-n", "1", "--temperature", "0", "--threads", "2"],
                         capture_output=True, text=True, check=True).stdout
    first = json.loads(out.splitlines()[0])
    return [(a["id"], a["logprob"]) for a in first["top_logprobs"]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("engine")
    ap.add_argument("hf")
    ap.add_argument("model")
    ap.add_argument("--iquest", default=".build/release/iquest")
    args = ap.parse_args()
    torch.set_num_threads(2)
    folder, name = os.path.dirname(os.path.abspath(args.model)), os.path.basename(args.model)
    tokenizer = gguf_hf_tokenizer.load(args.model)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32).eval()
    engine, hf = load(args.engine), load(args.hf)
    differing = [t for t in hf if t in engine and engine[t]["completion"] != hf[t]["completion"]]
    print(f"{len(differing)} of {len(set(engine) & set(hf))} problems have different completions")
    print("| task | engine passed | hf passed | first differing token | hf top-2 (logprob) | gap | engine top-2 (logprob) | gap |")
    print("| --- | --- | --- | ---: | --- | ---: | --- | ---: |")
    for task in sorted(differing, key=lambda t: int(t.split("/")[1])):
        e, h = engine[task], hf[task]
        ids = h["token_ids"]
        i = 0
        while i < len(ids) and e["raw"].startswith(tokenizer.decode(ids[: i + 1], skip_special_tokens=True)):
            i += 1
        if i == len(ids):
            print(f"| {task} | {e['passed']} | {h['passed']} | none (hf's text is a prefix of the engine's: hf stopped first) | | | | |")
            continue
        context = h["prompt_ids"] + ids[:i]
        with torch.inference_mode():
            logp = torch.log_softmax(model(torch.tensor([context])).logits[0, -1].double(), -1)
        top = torch.topk(logp, 2)
        hf_top = [(int(t), float(v)) for v, t in zip(top.values, top.indices)]
        eng_top = engine_top2(args.iquest, args.model, context)
        fmt = lambda pairs: ", ".join(f"{tokenizer.decode([t])!r} {v:.4f}" for t, v in pairs)
        print(f"| {task} | {e['passed']} | {h['passed']} | {i} | {fmt(hf_top)} | {hf_top[0][1] - hf_top[1][1]:.4f} | "
              f"{fmt(eng_top)} | {eng_top[0][1] - eng_top[1][1]:.4f} |")


if __name__ == "__main__":
    main()
