#!/usr/bin/env bash
# The README's second command: fetch the test assets (once) and run the whole test suite in
# release mode (the model-parity tests run real forward passes; debug builds are far too slow).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/fetch-assets.sh all >/dev/null
swift build -c release --build-tests
swift test -c release --skip-build "$@"
