#!/usr/bin/env bash
# One short check of the CUDA path, meant for a machine with a GPU (target: under 8 minutes in all).
#   bash bench/gpu_check.sh [OUT_DIR]
# 1. the smoke notebooks 00, 01, 04, 12 on device=cuda (papermill with the CI smoke parameters);
# 2. bench/training.py --quick on cuda: train() against a bare loop, fp32 and the end-to-end round
#    skipped unless real MNIST is under $DAL_DATA_ROOT;
# 3. bench/selection.py --quick on cuda (N = 10k): seconds and peak CUDA memory of every strategy;
# 4. the same throughput cases with precision=bf16 and with compile_model=True (CUDA graphs).
# Every step prints its figures and its wall seconds; a failing step is reported and the others go on.
# OUT_DIR (default runs/gpu_check) receives the executed notebooks and one log per step.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-runs/gpu_check}"
mkdir -p "$OUT"
PY=.venv/bin/python
[ -x "$PY" ] || { bash ci/setup.sh >"$OUT/setup.log" 2>&1 || { echo "setup failed: $OUT/setup.log"; exit 1; }; }
"$PY" - <<'EOF' || { echo "no CUDA device visible to torch: nothing to check"; exit 1; }
import sys, torch
if not torch.cuda.is_available():
    sys.exit(1)
print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)
EOF
status=0
step() {  # step NAME COMMAND...: run, time, keep the log, print its tail
    local name=$1; shift
    local t0=$SECONDS
    if "$@" >"$OUT/$name.log" 2>&1; then r=ok; else r="FAILED (rc $?)"; status=1; fi
    echo "== $name: $r in $((SECONDS - t0)) s"
    tail -n "${TAIL:-15}" "$OUT/$name.log"
}
for nb in 00_quickstart 01_baselines 04_redundancy 12_semi_supervised; do
    TAIL=3 step "nb_$nb" .venv/bin/papermill --no-progress-bar "notebooks/$nb.ipynb" "$OUT/$nb.ipynb" \
        -f "ci/smoke/$nb.yaml" -p device cuda -p checkpoint_dir "$OUT/$nb/ck" -p results_dir "$OUT/$nb/res"
done
step training "$PY" bench/training.py --quick --device cuda ${DAL_DATA_ROOT:+--data-root "$DAL_DATA_ROOT"} \
    $([ -n "${DAL_DATA_ROOT:-}" ] || echo --skip-e2e)
TAIL=40 step selection "$PY" bench/selection.py --quick --device cuda
step training_bf16 "$PY" bench/training.py --quick --device cuda --skip-e2e --precision bf16
step training_compiled "$PY" bench/training.py --quick --device cuda --skip-e2e --compile
echo "gpu_check: $([ $status = 0 ] && echo all steps ok || echo some steps failed), logs in $OUT"
exit $status
