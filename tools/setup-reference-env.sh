#!/usr/bin/env bash
# Creates the Python reference environment .venv-ref/ in the repo root, for the dev-only fixture
# generators (tools/gen_tiny_llama.py, tools/gen_smollm2_parity.py, tools/numpy_llama.py).
# CI never runs this; it only runs the Swift tests against the committed fixtures.
#
# Usage: tools/setup-reference-env.sh          (re-running reuses .venv-ref and re-checks the pins)
#   PYTHON=python3.11 tools/setup-reference-env.sh   to pick the interpreter (default python3; the
#                                                    local torch +cpu wheel is built for CPython 3.11)
#   IQUEST_WHEELS=/dir  where the torch==2.13.0+cpu wheel lies (default /opt/wheels). A plain
#                       "pip install torch" would pull a ~3 GB CUDA build instead.
# Pins: tools/requirements-reference.txt (the versions the committed fixtures were generated with).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-python3}"
wheels="${IQUEST_WHEELS:-/opt/wheels}"
venv="$root/.venv-ref"

[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
find_links=()
[ -d "$wheels" ] && find_links=(--find-links "$wheels")
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install "${find_links[@]}" -r "$root/tools/requirements-reference.txt"
"$venv/bin/python" - <<'PY'
from importlib.metadata import version
import torch, transformers, gguf, numpy  # noqa: F401  (fails here if an install is broken)
assert "+cpu" in torch.__version__, f"expected the CPU torch build, got {torch.__version__}"
print("reference env ok: " + ", ".join(f"{p} {version(p)}" for p in ("torch", "transformers", "gguf", "numpy")))
PY
echo "$venv"
