"""Check the tokenizer metadata `iquest quantize` writes, with gguf-py's reader (dev-only; CI does not run it).

Rerun (from the repo root, after `swift build`):
    /work/venv-ref/bin/python tools/check_gguf_tokenizer.py [--iquest .build/debug/iquest]
        (or .venv-ref/bin/python, see setup-reference-env.sh)

For tiny-iquest/dense and tiny-loop/hf (both carry the tiny IQuest tokenizer), converts the directory to
an f32 GGUF with the built binary in a temporary directory, opens it with gguf.GGUFReader and asserts that
every key of docs/GGUF-TOKENIZER.md has llama.cpp's value type and the value the HF files give:
  - tokens / scores / token_type against the `sentencepiece` library's own view of tokenizer.model (piece,
    score, and type from is_unknown/is_control/is_unused/is_byte) for ids below its size, and against
    tokenizer_config.json's added_tokens_decoder above it (special -> control 3, otherwise user-defined 4);
  - bos/eos/unk/padding/eot ids from the token contents named in tokenizer_config.json;
  - add_bos/add_eos from tokenizer_config.json, add_space_prefix from the proto's normalizer_spec;
  - tokenizer.chat_template equal to tokenizer_config.json's chat_template;
  - tokenizer.iquest.eos_token_ids equal to generation_config.json's eos list followed by config.json's
    (duplicates dropped), tokenizer.iquest.added_token_ids the added_tokens_decoder ids.
Interop: for tiny-iquest/dense (a `llama` GGUF; transformers refuses the `iquestloopcoder` architecture),
transformers' own GGUF tokenizer loader reads the file: 1000 tokens, bos/eos/unk/pad as tokenizer_config.json
names them. (Not an oracle for ids: its conversion drops the dummy prefix after added tokens, see
../shared/spec/test-assets.md.)
Prints one summary line per checkpoint; exits non-zero on the first mismatch.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import sentencepiece as spm
from gguf import GGUFReader, GGUFValueType
from sentencepiece import sentencepiece_model_pb2

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ["Tests/Fixtures/tiny-iquest/dense", "Tests/Fixtures/tiny-loop/hf"]
T = GGUFValueType


def field(reader: GGUFReader, key: str, types: list[GGUFValueType]):
    f = reader.fields.get(key)
    assert f is not None, f"{key} is missing"
    assert f.types == types, f"{key}: types {f.types}, expected {types}"
    return f.contents()


def spm_type(sp: spm.SentencePieceProcessor, i: int) -> int:
    if sp.is_unknown(i):
        return 2
    if sp.is_control(i):
        return 3
    if sp.is_unused(i):
        return 5
    if sp.is_byte(i):
        return 6
    return 1  # normal (this tokenizer has no user-defined pieces of its own)


def check(directory: Path, iquest: Path) -> str:
    tcfg = json.loads((directory / "tokenizer_config.json").read_text())
    config = json.loads((directory / "config.json").read_text())
    gen = json.loads((directory / "generation_config.json").read_text())
    proto_bytes = (directory / "tokenizer.model").read_bytes()
    sp = spm.SentencePieceProcessor(model_proto=proto_bytes)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(proto_bytes)
    added = {int(k): v for k, v in tcfg["added_tokens_decoder"].items()}
    vocab = config["vocab_size"]

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.gguf"
        subprocess.run([str(iquest), "quantize", "-i", str(directory), "-o", str(out), "--type", "f32"],
                       check=True, capture_output=True)
        r = GGUFReader(str(out))

        assert field(r, "tokenizer.ggml.model", [T.STRING]) == "llama"
        tokens = field(r, "tokenizer.ggml.tokens", [T.ARRAY, T.STRING])
        scores = field(r, "tokenizer.ggml.scores", [T.ARRAY, T.FLOAT32])
        types = field(r, "tokenizer.ggml.token_type", [T.ARRAY, T.INT32])
        assert len(tokens) == len(scores) == len(types) == vocab, (len(tokens), vocab)
        for i in range(vocab):
            if i in added and not (i < sp.get_piece_size() and spm_type(sp, i) in (2, 3)):
                want = (added[i]["content"], -1000.0, 3 if added[i]["special"] else 4)
            elif i < sp.get_piece_size():
                want = (sp.id_to_piece(i), sp.get_score(i), spm_type(sp, i))
            else:
                want = (f"[PAD{i}]", -1000.0, 5)
            got = (tokens[i], scores[i], types[i])
            assert got == want, f"token {i}: {got} != {want}"

        def id_of(name: str) -> int:
            content = tcfg[name] if isinstance(tcfg[name], str) else tcfg[name]["content"]
            return tokens.index(content)

        ids = {k: field(r, f"tokenizer.ggml.{k}", [T.UINT32]) for k in
               ("bos_token_id", "eos_token_id", "unknown_token_id", "padding_token_id", "eot_token_id")}
        want_ids = {"bos_token_id": id_of("bos_token"), "eos_token_id": id_of("eos_token"),
                    "unknown_token_id": id_of("unk_token"), "padding_token_id": id_of("pad_token"),
                    "eot_token_id": tokens.index("<|im_end|>")}
        assert ids == want_ids, (ids, want_ids)
        assert field(r, "tokenizer.ggml.add_bos_token", [T.BOOL]) == tcfg["add_bos_token"]
        assert field(r, "tokenizer.ggml.add_eos_token", [T.BOOL]) == tcfg["add_eos_token"]
        assert field(r, "tokenizer.ggml.add_space_prefix", [T.BOOL]) == proto.normalizer_spec.add_dummy_prefix
        assert field(r, "tokenizer.chat_template", [T.STRING]) == tcfg["chat_template"]
        stops: list[int] = []
        for source in (gen["eos_token_id"], config["eos_token_id"]):
            for i in source if isinstance(source, list) else [source]:
                if i not in stops:
                    stops.append(i)
        assert field(r, "tokenizer.iquest.eos_token_ids", [T.ARRAY, T.UINT32]) == stops
        assert field(r, "tokenizer.iquest.added_token_ids", [T.ARRAY, T.UINT32]) == sorted(added)
        interop = ""
        if config["model_type"] != "iquestloopcoder":
            from transformers import AutoTokenizer
            t = AutoTokenizer.from_pretrained(tmp, gguf_file=out.name)
            specials = (t.bos_token, t.eos_token, t.unk_token, t.pad_token)
            assert len(t) == vocab and specials == ("<s>", "<|im_end|>", "<unk>", "<PAD>"), (len(t), specials)
            interop = f"; transformers reads it ({len(t)} tokens, bos/eos/unk/pad {specials})"
    return (f"{directory.relative_to(ROOT)}: {vocab} tokens ({sp.get_piece_size()} sentencepiece pieces, "
            f"{len(added)} added), ids {want_ids}, stops {stops}{interop}: OK")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iquest", type=Path, default=ROOT / ".build" / "debug" / "iquest")
    args = ap.parse_args()
    for c in CHECKPOINTS:
        print(check(ROOT / c, args.iquest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
