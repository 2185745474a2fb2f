"""HumanEval completions from HF transformers, as `iquest eval humaneval` makes them: the same
prompts, stop strings, truncation and chat extraction (Sources/IQuestEval/HumanEval/
CompletionRules.swift; change both together), greedy, one problem at a time (no padding, so
every sequence is computed exactly as alone). The records it writes are scored by the engine's
sandbox, so both runs share one harness:

    .venv-ref/bin/python tools/humaneval_transformers.py MODEL.gguf -o hf.jsonl [--limit N] [--mode completion|chat]
    iquest eval score hf.jsonl -o hf-scored.jsonl
    iquest eval compare f32.jsonl hf-scored.jsonl --chart pass1.svg

MODEL is a GGUF file (transformers dequantizes it to float32; give the F32 GGUF made by
`iquest quantize` to compare with the engine's F32 run on identical weights) or an HF directory.
Dev-only: needs the reference venv (tools/setup-reference-env.sh).
"""
import argparse
import json
import os
import sys
import time

import torch

import gguf_hf_tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList

STOP_STRINGS = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]


def truncate(text):
    end = len(text)
    for stop in STOP_STRINGS:
        i = text.find(stop)
        if i != -1 and i < end:
            end = i
    return text[:end]


def chat_message(problem):
    return ("Complete the following Python function. Reply with the whole function in one ```python code block.\n\n```python\n"
            + problem["prompt"] + "```")


def fenced_blocks(text):
    blocks, rest = [], text
    while True:
        i = rest.find("```")
        if i == -1:
            break
        nl = rest.find("\n", i + 3)
        if nl == -1:
            break
        start = nl + 1
        close = rest.find("```", start)
        if close == -1:
            blocks.append(rest[start:])
            break
        blocks.append(rest[start:close])
        rest = rest[close + 3:]
    return blocks


def body(code):
    lines = code.split("\n")
    first = next((l for l in lines if l.strip() != ""), None)
    if first is None:
        return code
    text = code if first.startswith((" ", "\t")) else "\n".join("" if l == "" else "    " + l for l in lines)
    return text if text.endswith("\n") else text + "\n"


def extract_chat(reply, problem):
    blocks = fenced_blocks(reply)
    definition = "def %s(" % problem["entry_point"]
    code = next((b for b in blocks if definition in b), blocks[0] if blocks else reply)
    if definition in code:
        return "\n" + code + ("" if code.endswith("\n") else "\n")
    return body(code)


class StopOnStrings(StoppingCriteria):
    """Ends generation once the new text holds a stop string (the text is cut again after)."""

    def __init__(self, tokenizer, prompt_length):
        self.tokenizer, self.prompt_length = tokenizer, prompt_length

    def __call__(self, input_ids, scores, **kwargs):
        text = self.tokenizer.decode(input_ids[0, self.prompt_length:], skip_special_tokens=True)
        return any(s in text for s in STOP_STRINGS)


def main():
    cache = os.environ.get("IQUEST_CACHE", os.path.expanduser("~/.cache/iquest"))
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--data", default=os.path.join(cache, "humaneval", "HumanEval.jsonl"))
    ap.add_argument("--limit", type=int)
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--mode", choices=["completion", "chat"], default="completion")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if os.path.isdir(args.model):
        tokenizer = AutoTokenizer.from_pretrained(args.model)
        model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.float32)
    else:
        folder, name = os.path.dirname(os.path.abspath(args.model)), os.path.basename(args.model)
        tokenizer = gguf_hf_tokenizer.load(args.model)  # pre-tokenizer as the GGUF declares (see that file)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, torch_dtype=torch.float32)
    model.eval()
    problems = [json.loads(line) for line in open(args.data) if line.strip()][: args.limit]
    started = time.perf_counter()
    with open(args.output, "w") as out, torch.inference_mode():
        for number, problem in enumerate(problems):
            if args.mode == "completion":
                ids = tokenizer(problem["prompt"], return_tensors="pt").input_ids
                stopping = StoppingCriteriaList([StopOnStrings(tokenizer, ids.shape[1])])
            else:
                ids = tokenizer.apply_chat_template([{"role": "user", "content": chat_message(problem)}],
                                                    add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
                stopping = None
            t = time.perf_counter()
            generated = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.max_tokens, do_sample=False,
                                       stopping_criteria=stopping, pad_token_id=tokenizer.eos_token_id)
            new = generated[0, ids.shape[1]:]
            raw = tokenizer.decode(new, skip_special_tokens=True)
            completion = truncate(raw) if args.mode == "completion" else extract_chat(raw, problem)
            # raw is cut at the stop string as the engine's is (the engine never emits the stop text).
            if args.mode == "completion":
                raw = completion
            finish = "stop" if (len(new) < args.max_tokens or completion != raw) else "length"
            record = {"task_id": problem["task_id"], "sample": 0, "completion": completion, "raw": raw, "passed": False,
                      "error": None, "detail": "not executed", "tokens": int(len(new)), "finish_reason": finish,
                      "generation_seconds": time.perf_counter() - t, "execution_seconds": 0.0,
                      # For tools/humaneval_divergence.py: where two runs part and by how much.
                      "prompt_ids": ids[0].tolist(), "token_ids": new.tolist()}
            out.write(json.dumps(record, sort_keys=True) + "\n")
            out.flush()
            elapsed = time.perf_counter() - started
            print(f"\r{number + 1}/{len(problems)} {elapsed:.0f}s", end="", file=sys.stderr, flush=True)
    print(f"\nwrote {args.output} in {time.perf_counter() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
