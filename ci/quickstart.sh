#!/usr/bin/env bash
# Set up (or reuse) .venv, execute notebooks/00_quickstart.ipynb with papermill on the embedded mnist5k
# data set, and render it to reports/00_quickstart.html. Extra arguments go to papermill
# (e.g. -p n_rounds 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
mkdir -p runs/quickstart reports
# Per-epoch progress lines go to this terminal while the notebook runs, not into the report.
export DAL_PROGRESS="${DAL_PROGRESS:-terminal}"
.venv/bin/papermill notebooks/00_quickstart.ipynb runs/quickstart/00_quickstart.ipynb \
    -p checkpoint_dir runs/quickstart "$@"
.venv/bin/jupyter nbconvert --to html --output-dir reports --output 00_quickstart \
    runs/quickstart/00_quickstart.ipynb
echo "report: $(pwd)/reports/00_quickstart.html"
echo "quickstart: ${SECONDS} s wall (setup included)"
