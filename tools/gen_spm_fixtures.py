"""Writes the SentencePiece / HF-directory / tokenizer.json fixtures under Tests/Fixtures/tokenizer/.

Rerun:

    tools/fetch-assets.sh vocab                        # for the llama.cpp checks (optional)
    /work/venv-ref/bin/python tools/gen_spm_fixtures.py

Oracles: `sentencepiece` 0.2.3 (SentencePieceProcessor) and HF `tokenizers` (Tokenizer.encode/decode).
Nothing here is computed by the Swift code.

1. llama.cpp check (printed, and written to spm/llama-vocab-check.json): rebuilds a SentencePiece
   ModelProto from ggml-vocab-llama-spm.gguf and ggml-vocab-phi-3.gguf (type BPE, byte_fallback,
   identity normalizer, add_dummy_prefix true, remove_extra_whitespaces false, pieces/scores/types
   copied) and counts how many .inp cases `sentencepiece` encodes to the .out ids.
2. spm/bpe.model and spm/unigram.model: trained here on CORPUS_TEXT (deterministic flags), and
   spm/expected.json: ids, pieces and decoded text from sentencepiece for every TEST_STRINGS entry.
3. hf-spm/ (IQuest-like checkpoint directory: tokenizer.model = bpe.model, tokenizer_config.json
   with added_tokens_decoder, special_tokens_map.json, generation_config.json) and
   hf-spm-legacy/ (added_tokens.json, add_bos_token true, no added_tokens_decoder), each with
   expected.json computed by sentencepiece + the spec §5 split rule (every added token, special or
   not, longest match at each position; pieces between them encoded separately).
4. hf-json/<name>/tokenizer.json built with `tokenizers` (SentencePiece BPE with a Metaspace
   pre-tokenizer and decoder, the same with the legacy Prepend+Replace normalizer and
   Replace/ByteFallback/Fuse/Strip decoders, and two byte-level BPEs trained
   by tokenizers' BpeTrainer: GPT-2 ByteLevel regex, and Qwen2 Split regex + ByteLevel) and
   hf-json/expected.json with the `tokenizers` ids and decodes.
"""

import json
import os
import shutil
import sys
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as spm_pb2

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/Fixtures/tokenizer"
CACHE = Path(os.environ.get("IQUEST_CACHE") or Path.home() / ".cache/iquest")

CORPUS_TEXT = """
The quick brown fox jumps over the lazy dog. A tokenizer splits text into pieces.
SentencePiece treats the input as a raw stream of Unicode characters, including spaces.
Byte-pair encoding merges the most frequent pair of symbols again and again.
In 2024 the model was trained on 1234567 tokens; version 3.14 shipped on 2025-01-31.
def add(a, b):
    return a + b

def fibonacci(n: int) -> int:
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)

class Stack:
    def __init__(self):
        self.items = []
    def push(self, item):
        self.items.append(item)
    def pop(self):
        return self.items.pop()

for (int i = 0; i < 10; i++) {
    printf("%d\\n", i);
}
func greet(name: String) -> String {
    return "Hello, \\(name)!"
}
let values = [1, 2, 3].map { $0 * 2 }
import numpy as np
x = np.zeros((3, 4), dtype=np.float32)
print(f"shape = {x.shape}")
// This comment explains why the loop terminates.
/* Block comments are common in C-like languages. */
if err != nil {
\treturn err
}
The function returns the sum of its arguments, and the test checks it.
Programs must be written for people to read, and only incidentally for machines to execute.
Simple is better than complex. Complex is better than complicated.
Le café est très bon, naïve façade. Привет, мир! 中文分词测试 日本語のテキスト
""".strip("\n")

TEST_STRINGS = [
    "",
    " ",
    "   ",
    "\n",
    "\t",
    "hello",
    " hello",
    "  hello",
    "hello ",
    "hello   world",
    "Hello World",
    "The quick brown fox",
    "def add(a, b):\n    return a + b\n",
    "class Stack:\n    def push(self, item):\n        self.items.append(item)",
    "if err != nil {\n\treturn err\n}",
    "for (int i = 0; i < 10; i++) {}",
    "x = 1234567890 + 3.14159",
    "2024-01-31",
    "    indented four",
    "\t\ttabs",
    "trailing spaces   ",
    "multiple\n\n\nnewlines",
    "mixed \t \n whitespace",
    "Le café brûlé, naïve façade",
    "Привет, мир",
    "中文分词测试",
    "日本語とEnglishの混在",
    "emoji 🙂 and family 👨\u200d👩\u200d👧\u200d👦",
    "flag 🇫🇷!",
    "price: €42.50 (≈ $45)",
    "print(f\"shape = {x.shape}\")",
    "// comment\n/* block */",
    "<tool>call</tool>",
    "a<tool>b",
    "x<ctrl>y",
    "<s>not parsed</s>",
    "▁already▁escaped",
    "ZZZ qqq jjj",
    "a",
    "ab cd ef gh",
    "Ω≈ç√∫˜µ≤≥÷",
    " \u00a0non-breaking",
]

# Added tokens of the IQuest-like fixture directory (spec §5), appended after the SentencePiece vocab.
IQUEST_SPECIAL = ["<CLS>", "<SEP>", "<EOD>", "<MASK>", "<PAD>", "<|im_start|>", "<|im_end|>",
                  "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|endoftext|>",
                  "<|repo_name|>", "<|file_sep|>"]
IQUEST_NONSPECIAL = ["<think>", "</think>", "<tools>", "</tools>", "<tool_call>", "</tool_call>",
                     "<tool_response>", "</tool_response>"]

DIRECTORY_STRINGS = TEST_STRINGS + [
    "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n",
    "a<think>b",
    "x</tool_call>y",
    "<think>\nreasoning here\n</think>\n\nanswer",
    "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
    "<tools></tools><tool_response>ok</tool_response>",
    "<|fim_prefix|>def f(x):\n    <|fim_suffix|>\n    return y<|fim_middle|>",
    "text<|endoftext|>more",
    " <|im_start|> spaced <|im_end|> ",
    "<|im_start|assistant",
    "<think <thinking> </think",
    "<s>bos</s>eos<unk>",
    "<|repo_name|>iquest<|file_sep|>main.swift",
    "   leading spaces then <think> tag",
    "emoji 🙂<think>中文</think>",
]


def sp_from_proto(proto):
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(proto.SerializeToString())
    return sp


def llama_vocab_check():
    from gguf import GGUFReader
    results = {}
    for name in ["llama-spm", "phi-3"]:
        path = CACHE / f"llama-vocab/ggml-vocab-{name}.gguf"
        if not path.exists():
            print(f"{name}: {path} missing (run tools/fetch-assets.sh vocab); skipped")
            continue
        r = GGUFReader(str(path))
        f = r.fields
        def arr(key):
            fld = f[key]
            return [fld.parts[i] for i in fld.data]
        tokens = [bytes(p).decode("utf-8") for p in arr("tokenizer.ggml.tokens")]
        scores = [float(p[0]) for p in arr("tokenizer.ggml.scores")]
        types = [int(p[0]) for p in arr("tokenizer.ggml.token_type")]
        # Entries after the last NORMAL piece are HF added tokens (phi-3: <|endoftext|>, <|user|>, ...,
        # some typed UNKNOWN by the converter), not SentencePiece pieces.
        last_normal = max(i for i, t in enumerate(types) if t == 1)
        tokens, scores, types = tokens[:last_normal + 1], scores[:last_normal + 1], types[:last_normal + 1]
        m = spm_pb2.ModelProto()
        m.trainer_spec.model_type = spm_pb2.TrainerSpec.BPE
        m.trainer_spec.byte_fallback = True
        m.normalizer_spec.name = "identity"
        m.normalizer_spec.add_dummy_prefix = True
        m.normalizer_spec.remove_extra_whitespaces = False
        for t, s, ty in zip(tokens, scores, types):
            p = m.pieces.add()
            p.piece, p.score, p.type = t, s, ty
        sp = sp_from_proto(m)
        inp = (CACHE / f"llama-vocab/ggml-vocab-{name}.gguf.inp").read_text(encoding="utf-8")
        out = (CACHE / f"llama-vocab/ggml-vocab-{name}.gguf.out").read_text(encoding="utf-8")
        inputs = inp.split("\n__ggml_vocab_test__\n")
        if inputs and inputs[-1] == "":
            inputs.pop()
        lines = out.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        ok, bad = 0, []
        for i, (text, line) in enumerate(zip(inputs, lines)):
            expected = [int(x) for x in line.split()]
            got = sp.encode(text)
            if got == expected:
                ok += 1
            else:
                bad.append({"case": i, "text": text, "expected": expected, "sentencepiece": got})
        print(f"{name}: sentencepiece on the rebuilt ModelProto reproduces {ok}/{len(inputs)} .out cases")
        for b in bad:
            print("   differs:", json.dumps(b, ensure_ascii=False))
        results[name] = {"cases": len(inputs), "sentencepiece_matches": ok, "differing": bad}
    return results


def train_models(spm_dir):
    corpus = spm_dir / "corpus.txt.tmp"
    corpus.write_text("\n".join([CORPUS_TEXT] * 3), encoding="utf-8")
    common = dict(input=str(corpus), num_threads=1, shuffle_input_sentence=False, input_sentence_size=0,
                  character_coverage=1.0, normalization_rule_name="identity", minloglevel=2,
                  unk_id=0, bos_id=1, eos_id=2, pad_id=-1)
    # Llama-style BPE: byte fallback, split digits, no whitespace cleanup; one user-defined and one
    # control symbol.
    spm.SentencePieceTrainer.train(model_prefix=str(spm_dir / "bpe"), model_type="bpe", vocab_size=700,
                                   byte_fallback=True, split_digits=True, remove_extra_whitespaces=False,
                                   user_defined_symbols=["<tool>", "</tool>"], control_symbols=["<ctrl>"],
                                   **common)
    # Unigram: default whitespace cleanup, no byte fallback (unknown characters become <unk>).
    spm.SentencePieceTrainer.train(model_prefix=str(spm_dir / "unigram"), model_type="unigram",
                                   vocab_size=400, byte_fallback=False, split_digits=True,
                                   user_defined_symbols=["<tool>"], control_symbols=["<ctrl>"],
                                   hard_vocab_limit=False, **common)
    corpus.unlink()
    for n in ["bpe", "unigram"]:
        (spm_dir / f"{n}.vocab").unlink()
        size = (spm_dir / f"{n}.model").stat().st_size
        assert size < 100_000, f"{n}.model is {size} bytes"


def spm_expected(spm_dir):
    out = {"reference": f"sentencepiece {spm.__version__} SentencePieceProcessor.encode / decode",
           "strings": TEST_STRINGS, "models": {}}
    for n in ["bpe", "unigram"]:
        sp = spm.SentencePieceProcessor(model_file=str(spm_dir / f"{n}.model"))
        out["models"][n] = {
            "vocab_size": sp.get_piece_size(),
            "ids": [sp.encode(s) for s in TEST_STRINGS],
            "pieces": [sp.encode(s, out_type=str) for s in TEST_STRINGS],
            "decoded": [sp.decode(sp.encode(s)) for s in TEST_STRINGS],
        }
    return out


def split_rule_encode(sp, added, text):
    """Spec §5: split on every added token (longest match at each position), encode pieces separately."""
    ids, piece_start, i = [], 0, 0
    contents = sorted(added, key=len, reverse=True)
    while i < len(text):
        match = next((c for c in contents if text.startswith(c, i)), None)
        if match is None:
            i += 1
            continue
        if piece_start < i:
            ids += sp.encode(text[piece_start:i])
        ids.append(added[match])
        i += len(match)
        piece_start = i
    if piece_start < len(text):
        ids += sp.encode(text[piece_start:])
    return ids


def split_rule_decode(sp, by_id, special_ids, ids, skip_special):
    out, run = "", []
    for t in ids:
        if t in by_id:
            out += sp.decode(run)
            run = []
            if not (skip_special and t in special_ids):
                out += by_id[t]
        else:
            run.append(t)
    return out + sp.decode(run)


def added_token_entry(content, special):
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False,
            "single_word": False, "special": special}


def hf_directories(spm_dir):
    sp = spm.SentencePieceProcessor(model_file=str(spm_dir / "bpe.model"))
    n = sp.get_piece_size()

    # hf-spm: IQuest-like (added_tokens_decoder, add_bos_token false, eos list in generation_config).
    d = OUT / "hf-spm"
    d.mkdir(exist_ok=True)
    shutil.copy(spm_dir / "bpe.model", d / "tokenizer.model")
    decoder = {"0": added_token_entry("<unk>", True), "1": added_token_entry("<s>", True),
               "2": added_token_entry("</s>", True)}
    added = {"<unk>": 0, "<s>": 1, "</s>": 2}
    special_ids = {0, 1, 2}
    next_id = n
    for c in IQUEST_SPECIAL + IQUEST_NONSPECIAL:
        special = c in IQUEST_SPECIAL
        decoder[str(next_id)] = added_token_entry(c, special)
        added[c] = next_id
        if special:
            special_ids.add(next_id)
        next_id += 1
    config = {"add_bos_token": False, "add_eos_token": False, "add_prefix_space": False,
              "added_tokens_decoder": decoder, "bos_token": "<s>",
              "eos_token": {"content": "<|im_end|>", "lstrip": False, "normalized": False,
                            "rstrip": False, "single_word": False},
              "pad_token": "<PAD>", "unk_token": "<unk>", "legacy": True,
              "tokenizer_class": "IQuestCoderTokenizer"}
    (d / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")
    (d / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": "<s>", "eos_token": "<|im_end|>", "unk_token": "<unk>", "pad_token": "<PAD>",
         "additional_special_tokens": IQUEST_SPECIAL}, indent=2) + "\n")
    eos_list = [2, added["<|im_end|>"], added["<|endoftext|>"]]
    (d / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": eos_list}, indent=2) + "\n")
    by_id = {v: k for k, v in added.items()}
    cases = []
    for s in DIRECTORY_STRINGS:
        ids = split_rule_encode(sp, added, s)
        cases.append({"text": s, "ids": ids,
                      "decoded": split_rule_decode(sp, by_id, special_ids, ids, False),
                      "decoded_skip_special_tokens": split_rule_decode(sp, by_id, special_ids, ids, True)})
    (d / "expected.json").write_text(json.dumps(
        {"reference": "sentencepiece + spec §5 split rule (see tools/gen_spm_fixtures.py)",
         "vocab_size": next_id, "bos_id": 1, "eos_token_ids": eos_list, "add_bos": False,
         "special_ids": sorted(special_ids), "cases": cases}, indent=1, ensure_ascii=False) + "\n")

    # hf-spm-legacy: added_tokens.json only, add_bos_token true, bos/eos as {content} objects.
    d = OUT / "hf-spm-legacy"
    d.mkdir(exist_ok=True)
    shutil.copy(spm_dir / "bpe.model", d / "tokenizer.model")
    legacy_added = {"<|im_start|>": n, "<|im_end|>": n + 1, "<think>": n + 2}
    (d / "added_tokens.json").write_text(json.dumps(legacy_added, indent=2) + "\n")
    (d / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": {"content": "<s>"}, "eos_token": {"content": "</s>"}, "unk_token": "<unk>",
         "additional_special_tokens": ["<|im_start|>", "<|im_end|>"]}, indent=2) + "\n")
    (d / "tokenizer_config.json").write_text(json.dumps(
        {"add_bos_token": True, "add_eos_token": False, "bos_token": {"content": "<s>"},
         "eos_token": {"content": "</s>"}}, indent=2) + "\n")
    # Which are special: the added tokens named in special_tokens_map, plus the SentencePiece
    # control/unknown pieces (which are matched only as SentencePiece pieces, not split here).
    added2 = dict(legacy_added)
    by_id2 = {v: k for k, v in added2.items()}
    special2 = {n, n + 1}
    cases = []
    for s in DIRECTORY_STRINGS:
        ids = [1] + split_rule_encode(sp, added2, s)
        cases.append({"text": s, "ids": ids,
                      "decoded_skip_special_tokens": split_rule_decode(sp, by_id2, special2, ids[1:], True)})
    (d / "expected.json").write_text(json.dumps(
        {"reference": "sentencepiece + spec §5 split rule, BOS prepended (add_bos_token true)",
         "vocab_size": n + 3, "cases": cases}, indent=1, ensure_ascii=False) + "\n")


def hf_json(spm_dir):
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers.convert_slow_tokenizer import SentencePieceExtractor

    base = OUT / "hf-json"
    base.mkdir(exist_ok=True)
    expected = {"reference": "HF tokenizers (see tools/gen_spm_fixtures.py)", "strings": DIRECTORY_STRINGS,
                "tokenizers": {}}

    added_specials = [AddedToken(c, special=True, normalized=False) for c in ["<|im_start|>", "<|im_end|>", "<|fim_prefix|>", "<|fim_middle|>"]]
    added_plain = [AddedToken(c, special=False, normalized=False) for c in ["<think>", "</think>", "<tool_call>", "</tool_call>"]]

    from tokenizers.models import BPE as _BPE
    kw = SentencePieceExtractor(str(spm_dir / "bpe.model")).extract(_BPE)
    vocab, merges = kw["vocab"], kw["merges"]
    def spm_bpe():
        t = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
        t.add_special_tokens([AddedToken(c, special=True, normalized=False) for c in ["<unk>", "<s>", "</s>"]])
        return t

    made = {}
    t = spm_bpe()
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    t.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="first")])
    t.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    made["spm-metaspace"] = t

    t = spm_bpe()
    t.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                   decoders.Strip(" ", 1, 0)])
    made["spm-legacy"] = t

    corpus = [CORPUS_TEXT] * 3
    for name, pre in [
        ("bytelevel-gpt2", pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)),
        ("bytelevel-qwen2", pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"),
                                 behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])),
    ]:
        t = Tokenizer(models.BPE())
        t.pre_tokenizer = pre
        t.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=600, min_frequency=2, show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      special_tokens=["<|endoftext|>"])
        t.train_from_iterator(corpus, trainer=trainer)
        made[name] = t

    for name, t in made.items():
        t.add_special_tokens(added_specials)
        t.add_tokens(added_plain)
        d = base / name
        d.mkdir(exist_ok=True)
        t.save(str(d / "tokenizer.json"))
        t = Tokenizer.from_file(str(d / "tokenizer.json"))
        enc = [t.encode(s, add_special_tokens=False).ids for s in DIRECTORY_STRINGS]
        enc_special = [t.encode(s, add_special_tokens=True).ids for s in DIRECTORY_STRINGS]
        t.encode_special_tokens = True
        enc_no_parse = [t.encode(s, add_special_tokens=False).ids for s in DIRECTORY_STRINGS]
        expected["tokenizers"][name] = {
            "vocab_size": t.get_vocab_size(with_added_tokens=True),
            "ids": enc,
            "ids_add_special_tokens": enc_special,
            "ids_encode_special_tokens": enc_no_parse,
            "decoded": [t.decode(ids, skip_special_tokens=False) for ids in enc],
            "decoded_skip_special_tokens": [t.decode(ids, skip_special_tokens=True) for ids in enc],
        }
        print(f"hf-json/{name}: {(d / 'tokenizer.json').stat().st_size} bytes")
    (base / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n")


def main():
    spm_dir = OUT / "spm"
    spm_dir.mkdir(parents=True, exist_ok=True)
    check = llama_vocab_check()
    (spm_dir / "llama-vocab-check.json").write_text(json.dumps(check, indent=1, ensure_ascii=False) + "\n")
    train_models(spm_dir)
    (spm_dir / "expected.json").write_text(json.dumps(spm_expected(spm_dir), indent=1, ensure_ascii=False) + "\n")
    hf_directories(spm_dir)
    hf_json(spm_dir)
    print("wrote", OUT)


if __name__ == "__main__":
    sys.exit(main())
