#!/usr/bin/env bash
# Live test of `iquest serve` with the official openai client (see live_server_test.py).
# Creates .venv-live (openai, anthropic, ollama; pinned) once; expects a release build and the fetched SmolLM2 file.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-live
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import openai, anthropic, ollama, jsonschema" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "openai==3.57.0" "anthropic==2.10.0" "ollama==0.6.3" "jsonschema==4.26.0"
fi
model="$(tools/fetch-assets.sh smollm2)/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
"$venv/bin/python" tools/live_server_test.py --binary .build/release/iquest --model "$model" "$@"
