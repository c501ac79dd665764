"""Grid orchestration overhead: CPU that `dal-grid --workers N` spends besides the notebooks' own work.

Runs a grid of N cells over a notebook whose only cell sleeps for --seconds, through the same Dask
`LocalCluster` path as a real grid, and samples the CPU time of this process and all its descendants
(scheduler, nannies, workers, papermill, kernels) while the cells sleep. Whatever CPU is used in that
window is orchestration: the Dask scheduler and workers, papermill's polling and the idle kernels.
It runs twice: with the grid's `LOCAL_CLUSTER_CONFIG` and with Dask's defaults.

    .venv/bin/python bench/grid_overhead.py                 # 2 cells, 40 s each, about 2 minutes
    .venv/bin/python bench/grid_overhead.py --workers 4 --seconds 60
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dal_helpers import grid  # noqa: E402

PARAMS = 'strategies: list = ["a"]\nseeds: list = [0]\ncheckpoint_dir: str = "ckpt"\nresults_dir: str = "res"\nmode: str = "run"\nnap: float = 1.0\n'
BODY = 'import time\nif mode == "run":\n    time.sleep(nap)\n'


def tree_cpu(root: psutil.Process, seen: dict[int, float]) -> None:
    """Update seen[pid] with the user+system CPU seconds of root and every live descendant."""
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            seen[p.pid] = t.user + t.system
        except psutil.Error:
            pass


def measure(notebook: Path, workers: int, seconds: float, config: dict) -> float:
    """CPU seconds per wall second (1.0 = one core) used during the middle of the sleeping cells."""
    saved = dict(grid.LOCAL_CLUSTER_CONFIG)
    grid.LOCAL_CLUSTER_CONFIG.clear()
    grid.LOCAL_CLUSTER_CONFIG.update(config)
    me = psutil.Process()
    marks: list[tuple[float, float]] = []
    stop = threading.Event()

    def sampler():
        seen: dict[int, float] = {}
        while not stop.wait(0.5):
            tree_cpu(me, seen)
            marks.append((time.perf_counter(), sum(seen.values())))

    thread = threading.Thread(target=sampler, daemon=True)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            spec = {"parameters": {"nap": seconds}, "split": {"strategies": [f"c{i}" for i in range(workers)]}}
            thread.start()
            start = time.perf_counter()
            grid.run_grid(notebook, spec, out=Path(tmp) / "out", workers=workers, report=False, log=None)
            stop.set()
            thread.join()
    finally:
        grid.LOCAL_CLUSTER_CONFIG.clear()
        grid.LOCAL_CLUSTER_CONFIG.update(saved)
    # the window: from 15 s after the start (cluster and kernels up) to 5 s before the cells end
    lo, hi = start + 15.0, start + 15.0 + max(seconds - 25.0, 5.0)
    window = [(t, c) for t, c in marks if lo <= t <= hi]
    if len(window) < 2:
        raise SystemExit(f"--seconds {seconds} is too short to leave a measuring window; allowed: >= 35")
    (t0, c0), (t1, c1) = window[0], window[-1]
    return (c1 - c0) / (t1 - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=40.0, help="how long each cell sleeps (>= 35)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]}),
                    nbformat.v4.new_code_cell(BODY)]
        path = Path(tmp) / "sleep.ipynb"
        nbformat.write(nb, path)
        for name, config in (("grid config", dict(grid.LOCAL_CLUSTER_CONFIG)), ("Dask defaults", {})):
            cores = measure(path, args.workers, args.seconds, config)
            print(f"{name:14s} {args.workers} sleeping cells: orchestration uses {100 * cores:5.1f}% of one core")


if __name__ == "__main__":
    main()
