#!/usr/bin/env bash
# Set up (or reuse) .venv, then run the whole test suite, notebook smoke runs included.
# Extra arguments go to pytest, e.g. `bash ci/test.sh -m "not slow"` for the fast part only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
exec .venv/bin/python -m pytest "$@"
