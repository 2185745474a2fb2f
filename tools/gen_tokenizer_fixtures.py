"""Writes Tests/Fixtures/tokenizer/smollm2-expected.json: HF reference token ids for the corpus.

Rerun (after editing Tests/Fixtures/tokenizer/corpus.txt, or to check the fixture):

    tools/fetch-assets.sh smollm2
    /work/venv-ref/bin/python tools/gen_tokenizer_fixtures.py

It loads SmolLM2-135M-Instruct's tokenizer from the GGUF in $IQUEST_CACHE/smollm2 (default
~/.cache/iquest) with transformers (`AutoTokenizer.from_pretrained(dir, gguf_file=name)`) and encodes
every corpus snippet (snippets are separated by "\\n#### snippet ####\\n") with
add_special_tokens=False; added tokens written in the text (<|im_start|> ...) are still matched, as
HF always does.

One correction is applied: transformers' GGUF converter gives every "gpt2" vocabulary a plain
ByteLevel pre-tokenizer and drops the GGUF's `tokenizer.ggml.pre = "smollm"`. SmolLM2's published
tokenizer.json declares Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False,
use_regex=True)] (llama.cpp maps "smollm" to the same split), so that pre-tokenizer is restored
before encoding. The script prints how many snippets the correction changes.
"""

import json
import os
import sys
from pathlib import Path

from tokenizers import pre_tokenizers
from transformers import AutoTokenizer

SEPARATOR = "\n#### snippet ####\n"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> int:
    repo = Path(__file__).resolve().parent.parent
    fixtures = repo / "Tests" / "Fixtures" / "tokenizer"
    cache = Path(os.environ.get("IQUEST_CACHE") or Path.home() / ".cache" / "iquest")
    gguf_dir = cache / "smollm2"
    if not (gguf_dir / GGUF_NAME).is_file():
        print(f"missing {gguf_dir / GGUF_NAME}; run tools/fetch-assets.sh smollm2", file=sys.stderr)
        return 1

    corpus = (fixtures / "corpus.txt").read_bytes().decode("utf-8")
    snippets = corpus.split(SEPARATOR)

    tok = AutoTokenizer.from_pretrained(str(gguf_dir), gguf_file=GGUF_NAME)
    backend = tok.backend_tokenizer
    as_converted = [tok.encode(s, add_special_tokens=False) for s in snippets]

    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    expected = [tok.encode(s, add_special_tokens=False) for s in snippets]
    changed = sum(a != b for a, b in zip(as_converted, expected))
    print(f"{len(snippets)} snippets; restoring the Digits split changed {changed} of them")

    # Sanity checks that the reference behaves like SmolLM2: ChatML markers are single ids and
    # decoding gives the text back.
    im_start, im_end = tok.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    chat = tok.encode("<|im_start|>user\nhi<|im_end|>", add_special_tokens=False)
    assert chat[0] == im_start and chat[-1] == im_end and len(chat) == 5, chat
    for s, ids in zip(snippets, expected):
        assert tok.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False) == s, s

    out = {
        "source": f"transformers {__import__('transformers').__version__} / tokenizers "
                  f"{__import__('tokenizers').__version__}, {GGUF_NAME}, pre-tokenizer Digits+ByteLevel",
        "separator": SEPARATOR,
        "cases": [{"text": s, "ids": ids} for s, ids in zip(snippets, expected)],
    }
    path = fixtures / "smollm2-expected.json"
    # One line per case keeps diffs readable when the corpus changes.
    lines = ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in out["cases"])
    header = json.dumps({k: v for k, v in out.items() if k != "cases"}, ensure_ascii=False)[:-1]
    path.write_text(header + ', "cases": [\n' + lines + "\n]}\n", encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
