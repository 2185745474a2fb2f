"""transformers' tokenizer for a GGUF file, with the pre-tokenizer its `tokenizer.ggml.pre` declares.

transformers' GGUF converter gives every byte-level BPE ("gpt2") vocabulary a plain GPT-2 ByteLevel
pre-tokenizer and ignores `tokenizer.ggml.pre`. For the names below (StarCoder's split: each digit
alone, then the GPT-2 regex; SmolLM2's published tokenizer.json declares exactly
Sequence[Digits(individual_digits=True), ByteLevel]) that drops the digit split, so "\\n    3"
becomes "\\n   " + " " + "3" instead of "\\n    " + "3": on HumanEval, 33 of the 164 prompts
(a number alone on a doctest line) came out as token sequences the model never saw in training.
The reference scripts load tokenizers through `load` so they encode as the model's own tokenizer
does (tools/gen_tokenizer_fixtures.py applies the same correction and counts what it changes).
"""
import os
import sys

DIGITS_FIRST_PRE = {"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"}


def pre_tokenizer_name(path):
    from gguf import GGUFReader
    field = GGUFReader(path).fields.get("tokenizer.ggml.pre")
    return None if field is None else bytes(field.parts[field.data[0]]).decode()


def load(path):
    """AutoTokenizer for the GGUF at `path`, its pre-tokenizer repaired where transformers gets it wrong."""
    from transformers import AutoTokenizer
    folder, name = os.path.dirname(os.path.abspath(path)), os.path.basename(path)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    pre = pre_tokenizer_name(path)
    if pre in DIGITS_FIRST_PRE:
        from tokenizers import pre_tokenizers
        tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    print(f"{name}: tokenizer.ggml.pre = {pre}; pre-tokenizer {tokenizer.backend_tokenizer.pre_tokenizer}", file=sys.stderr)
    return tokenizer
