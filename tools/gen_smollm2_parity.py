"""Generate the SmolLM2-135M-Instruct parity fixture (dev-only; CI never runs this).

Writes Tests/Fixtures/smollm2/parity.json: for 3 prompts (a ChatML coding request, a raw code prefix,
an English sentence) the prompt text and ids, the top-16 (id, logit) at every prompt position, the
logits of a fixed set of 48 random ids (the same ids for every position, stored once) at every
prompt position, and the 32-token greedy continuation (argmax of the full logits, no EOS stop) with
each step's top-5 (id, logit).

Rerun (from the repo root, after tools/setup-reference-env.sh and tools/fetch-assets.sh smollm2):
    .venv-ref/bin/python tools/gen_smollm2_parity.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
The GGUF defaults to $IQUEST_CACHE/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf (IQUEST_CACHE defaults to
~/.cache/iquest).

Reference used: HF transformers loading the GGUF itself (AutoModelForCausalLM.from_pretrained(dir,
gguf_file=..., dtype=float32), which dequantizes every tensor and un-permutes Q/K), float32, eager
attention, and its tokenizer built from the same GGUF (AutoTokenizer.from_pretrained(dir,
gguf_file=...)). Cross-check printed (not written): tools/numpy_llama.py's independent numpy forward
pass against transformers on every prompt.

Deterministic: the 48 ids come from a fixed seed; no time stamps. A rerun rewrites the same file.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(1)  # the dev machines have 2 cores; leave one free

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fixtures" / "smollm2" / "parity.json"
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_llama  # noqa: E402
import gguf_hf_tokenizer

SEED = 135
N_TOP = 16
N_PROBE = 48
N_GREEDY = 32
N_STEP_TOP = 5
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

PROMPTS = [
    ("chat_code", "<|im_start|>user\nWrite a Python function that returns the sum of a list.<|im_end|>\n"
                  "<|im_start|>assistant\n"),
    ("code_prefix", "def fibonacci(n):\n    "),
    # picked among a few candidate sentences for the widest top-1/top-2 logit gap over its greedy
    # continuation (min 0.069), so engines with slightly different arithmetic keep the same path
    ("prose", "Water boils at a lower temperature on the top of a high mountain because the air pressure there "
              "is lower than it is at sea level."),
]


def f32(x) -> float:
    """A float32 as the shortest decimal that round-trips it."""
    return float(str(np.float32(x)))


def top_k(row: np.ndarray, k: int):
    order = np.argsort(-row, kind="stable")[:k]
    return [int(i) for i in order], [f32(row[i]) for i in order]


def to_json(obj, indent: int = 0) -> str:
    """json.dumps-compatible text, but every list of scalars on one line (small, diffable files)."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}" if items else "{}"
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in obj) + "]"
        return "[\n" + ",\n".join(inner + to_json(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


@torch.no_grad()
def logits_of(model, ids: list[int]) -> np.ndarray:
    return model(torch.tensor([ids]), use_cache=False).logits[0].float().numpy()


def main() -> int:
    import gguf
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cache = Path(os.environ.get("IQUEST_CACHE", Path.home() / ".cache" / "iquest"))
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else cache / "smollm2" / GGUF_NAME
    if not path.is_file():
        print(f"missing {path}; run tools/fetch-assets.sh smollm2 first", file=sys.stderr)
        return 1

    t0 = time.time()
    tok = gguf_hf_tokenizer.load(str(path))  # the pre-tokenizer the GGUF declares (see that file)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
    vocab = model.config.vocab_size
    eos_id = tok.eos_token_id
    print(f"loaded in {time.time() - t0:.1f}s: vocab {vocab}, bos {tok.bos_token_id} eos {eos_id}, "
          f"tied {model.config.tie_word_embeddings}")

    probe_ids = sorted(int(i) for i in np.random.default_rng(SEED).choice(vocab, size=N_PROBE, replace=False))
    records = []
    # The checkpoint's own chat template (what `iquest generate --chat` renders), as transformers
    # applies it: SmolLM2's adds a default system turn.
    templated = tok.apply_chat_template(
        [{"role": "user", "content": "Write a Python function that returns the sum of a list."}],
        tokenize=False, add_generation_prompt=True)
    for name, text in PROMPTS + [("chat_template", templated)]:
        ids = tok.encode(text, add_special_tokens=True)
        assert ids == tok.encode(text, add_special_tokens=False), "expected no BOS/EOS to be added"
        assert tok.decode(ids) == text, "tokenizer does not round-trip the prompt"
        lg = logits_of(model, ids)

        t1 = time.time()
        np_lg = numpy_llama.forward(str(path), ids)
        d = np.abs(np_lg - lg)
        print(f"{name}: {len(ids)} tokens; numpy_llama vs transformers max|diff| {d.max():.3e} "
              f"(mean {d.mean():.2e}; max|logit| {np.abs(lg).max():.1f}); argmax agree "
              f"{bool((np_lg.argmax(-1) == lg.argmax(-1)).all())}; numpy took {time.time() - t1:.1f}s")

        top_ids, top_logits = zip(*(top_k(row, N_TOP) for row in lg))
        seq, g_ids, s_ids, s_logits = list(ids), [], [], []
        for _ in range(N_GREEDY):
            last = logits_of(model, seq)[-1]
            i5, l5 = top_k(last, N_STEP_TOP)
            g_ids.append(i5[0])
            s_ids.append(i5)
            s_logits.append(l5)
            seq.append(i5[0])
        first_eos = g_ids.index(eos_id) if eos_id in g_ids else None
        print(f"  greedy: {tok.decode(g_ids)!r} (first EOS at {first_eos})")
        records.append({
            "name": name,
            "text": text,
            "ids": ids,
            "top_ids": [list(r) for r in top_ids],
            "top_logits": [list(r) for r in top_logits],
            "probe_logits": [[f32(row[j]) for j in probe_ids] for row in lg],
            "greedy_ids": g_ids,
            "greedy_text": tok.decode(g_ids),
            "greedy_first_eos_index": first_eos,
            "greedy_top_ids": s_ids,
            "greedy_top_logits": s_logits,
        })

    r = gguf.GGUFReader(str(path))
    doc = {
        "format": "iquest-smollm2-parity/1",
        "gguf": path.name,
        "gguf_size": path.stat().st_size,
        "reference": f"transformers {transformers.__version__} AutoModelForCausalLM.from_pretrained(gguf_file=...), "
                     f"float32, eager attention, full recompute per step (no KV cache); tokenizer from the same GGUF",
        "vocab_size": vocab,
        "bos_id": tok.bos_token_id,
        "eos_id": eos_id,
        "add_bos": bool(r.fields["tokenizer.ggml.add_bos_token"].contents()),
        "n_top": N_TOP,
        "n_greedy": N_GREEDY,
        "n_greedy_top": N_STEP_TOP,
        "greedy_stops_at_eos": False,
        "probe_ids": probe_ids,
        "prompts": records,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    text = to_json(doc) + "\n"
    assert json.loads(text) == doc
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes) in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
