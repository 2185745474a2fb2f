"""Dump a GGUF file's structure with the reference `gguf` Python library, as a JSON test fixture.

Regenerate the SmolLM2 fixture used by Tests/IQuestFormatsTests (after tools/fetch-assets.sh):

    /work/venv-ref/bin/python tools/gen_gguf_fixture.py \
        "${IQUEST_CACHE:-$HOME/.cache/iquest}/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" \
        Tests/Fixtures/gguf/smollm2-q4_1.json

Output: version, alignment, data offset, every tensor (name, ggml-order shape, ggml type id,
offset relative to the data section, byte count), metadata keys in file order, scalar values,
and for arrays their element type, length and first/last 3 elements.
"""
import json
import sys

from gguf import GGUFReader, GGUFValueType

EDGE = 3


def type_name(t: GGUFValueType) -> str:
    return t.name.lower()


def field_json(field) -> dict:
    main = field.types[0]
    if main != GGUFValueType.ARRAY:
        return {"type": type_name(main), "value": field.contents()}
    if len(field.types) > 2:
        raise SystemExit(f"{field.name}: nested arrays are not supported by this dump")
    element = field.types[-1] if len(field.types) > 1 else GGUFValueType.UINT8
    n = len(field.data)
    head = field.contents(slice(0, min(EDGE, n)))
    tail = field.contents(slice(max(n - EDGE, 0), n))
    return {"type": "array", "element_type": type_name(element), "length": n, "first": head, "last": tail}


def main() -> None:
    src, dst = sys.argv[1], sys.argv[2]
    reader = GGUFReader(src)
    version = reader.fields["GGUF.version"].contents()
    keys = [k for k in reader.fields if not k.startswith("GGUF.")]
    out = {
        "version": version,
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "tensor_count": len(reader.tensors),
        "metadata_keys": keys,
        "metadata": {k: field_json(reader.fields[k]) for k in keys},
        "tensors": [
            {
                "name": t.name,
                "shape": [int(d) for d in t.shape],
                "type": int(t.tensor_type),
                "offset": int(t.data_offset - reader.data_offset),
                "n_bytes": int(t.n_bytes),
            }
            for t in reader.tensors
        ],
    }
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
