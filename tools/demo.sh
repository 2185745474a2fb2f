#!/usr/bin/env bash
# The README's first command: fetch SmolLM2-135M-Instruct (once, into ~/.cache/iquest), build in
# release mode and answer a coding prompt, streaming the answer and printing the speed.
# Extra arguments go to `iquest generate` (e.g. --prompt "..." or --threads 1).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=$(tools/fetch-assets.sh smollm2)
swift build -c release --product iquest 2>&1 | grep -E "error|warning: unre|Compiling|Build" >&2 || true
test -x .build/release/iquest
prompt="Write a Python function that checks whether a number is prime."
exec .build/release/iquest generate --model "$cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" \
    --chat --temperature 0 --max-tokens 200 --prompt "$prompt" "$@"
