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
    # The kernel-dependent suites once more under every other kernel set this CPU supports
    # (IQUEST_KERNELS selects the set for the whole process); the sets it lacks are reported.
    best=$(.build/release/iquest kernels --supported | tail -1)
    .build/release/iquest kernels
    for set in $(.build/release/iquest kernels --supported); do
        [ "$set" = "$best" ] && continue
        echo "== kernel set $set =="
        IQUEST_KERNELS=$set swift test -c release --skip-build \
            --filter "KernelSetTests|IntegerDotTests|BatchInvarianceTests|SmolLM2ActivationPrecisionTests|BatchSchedulerTests"
    done
    tools/live_server_test.sh
fi
