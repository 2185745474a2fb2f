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

It also writes Tests/Fixtures/tokenizer/fuzz-expected.json: seeded random strings built from
characters that stress the pre-tokenizer regexes (whitespace kinds, contractions, combining marks,
number categories, ZWJ emoji, ...) and their ids under HF `tokenizers`, for SmolLM2 and three of
llama.cpp's test vocabularies. Those tokenizers are assembled from each GGUF's vocabulary and merges
with the pre-tokenizer of the original model's tokenizer.json (GPT-2: ByteLevel; Llama 3 and Qwen2:
their Split regex + ByteLevel, Llama 3 with ignore_merges; SmolLM2: Digits + ByteLevel), control
tokens as special added tokens and user-defined ones as added tokens. Encoding uses
`encode_special_tokens = True`, i.e. special-token text is not parsed (llama.cpp's
parse_special = false).
"""

import json
import os
import random
import sys
from pathlib import Path

from gguf import GGUFReader
from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers
from transformers import AutoTokenizer

SEPARATOR = "\n#### snippet ####\n"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = LLAMA3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")

# Pieces the fuzz strings are made of.
FUZZ_ATOMS = [
    " ", "  ", "   ", "\t", "\n", "\r\n", "\r", "'s", "'LL", "'t", "'Re", "'", "\u017f", "\u212a", "\u01c5",
    "\u02b0", "\u3007", "\U0001d7d8", "\ufeff", "\u200b", "\u180e", "\x0b", "\x0c", "\x85", "\u2028", "\u00a0",
    "\u3000", "\u2009", "\u00bd", "\u00b2", "\u00e9", "e\u0301", "\u0300", "\u0436", "\u4e2d", "\ud55c",
    "\U0001f600", "\U0001f468\u200d\U0001f469", "\u0e01", "\u0e31", "\u064a", "\u0663", "\u216b", "\u2460",
    "!", ".", ",", "-", "_", "(", ")", "$", "+", "<", "=", "|", "`", "~", "^", '"', "#", "@",
    "0", "1", "12", "345", "7", "x", "ab", "Hello", "WORLD", "foo", "i",
]


def hf_from_gguf(path: Path, kind: str) -> Tokenizer:
    fields = GGUFReader(path).fields
    def strings(key):
        f = fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    tokens = strings("tokenizer.ggml.tokens")
    types = [int(fields["tokenizer.ggml.token_type"].parts[i][0]) for i in fields["tokenizer.ggml.token_type"].data]
    merges = [tuple(m.split(" ", 1)) for m in strings("tokenizer.ggml.merges")]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges,
                               ignore_merges=(kind == "llama3")))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.pre_tokenizer = {
        "gpt2": pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        "smollm": pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                           pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]),
        "llama3": pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_REGEX), "isolated"), byte_level]),
        "qwen2": pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_REGEX), "isolated"), byte_level]),
    }[kind]
    tok.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False) for i, t in enumerate(types) if t == 3])
    tok.add_tokens([AddedToken(tokens[i], special=False, normalized=False) for i, t in enumerate(types) if t == 4])
    tok.encode_special_tokens = True
    return tok


def write_fuzz(fixtures: Path, cache: Path) -> None:
    rng = random.Random(20261129)
    texts = ["".join(rng.choice(FUZZ_ATOMS) for _ in range(rng.randint(1, 14))) for _ in range(300)]
    vocabs = [("smollm2/" + GGUF_NAME, "smollm"), ("llama-vocab/ggml-vocab-gpt-2.gguf", "gpt2"),
              ("llama-vocab/ggml-vocab-llama-bpe.gguf", "llama3"), ("llama-vocab/ggml-vocab-qwen2.gguf", "qwen2")]
    parts = []
    for rel, kind in vocabs:
        tok = hf_from_gguf(cache / rel, kind)
        ids = [tok.encode(t, add_special_tokens=False).ids for t in texts]
        parts.append(json.dumps(rel) + ": [" + ",".join(json.dumps(i) for i in ids) + "]")
    path = fixtures / "fuzz-expected.json"
    body = ",\n".join("  " + p for p in parts)
    path.write_text('{"texts": ' + json.dumps(texts, ensure_ascii=True) + ',\n "ids": {\n' + body + "\n}}\n",
                    encoding="utf-8")
    print(f"wrote {path} ({len(texts)} strings x {len(vocabs)} vocabularies)")


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
    write_fuzz(fixtures, cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
