#!/usr/bin/env bash
# The README's second command: fetch the test assets (once) and run the whole test suite in
# release mode (the model-parity tests run real forward passes; debug builds are far too slow),
# then the live server test (`iquest serve` on SmolLM2 driven by the openai client). Arguments
# go to `swift test` (e.g. --filter); the live test runs only on a full run.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/fetch-assets.sh all >/dev/null
swift build -c release --build-tests
swift test -c release --skip-build "$@"
if [ "$#" -eq 0 ]; then
    tools/live_server_test.sh
fi
