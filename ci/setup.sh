#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install the package with the exact
# versions of ci/constraints.txt. Re-running is cheap: nothing is reinstalled unless pyproject.toml or
# the constraints changed. Override the interpreter with PYTHON=python3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.dal-installed"
want="$(cat pyproject.toml ci/constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "[setup] installing dal_helpers and its pinned dependencies (first time: a few minutes)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -c ci/constraints.txt -e ".[dev]"
    "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
    echo "$want" > "$stamp"
else
    echo "[setup] $VENV is up to date"
fi
