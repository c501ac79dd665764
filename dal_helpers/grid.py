"""Parameter grids over a notebook: one papermill execution per grid cell, locally or on a Dask cluster.

A grid file (YAML) names the notebook parameters shared by every cell and the axes to vary:

    parameters:                 # passed to every cell as papermill parameters
      preset: cifar10_resnet18
    split:                      # one cell per element; the notebook receives a one-element list
      strategies: [random, entropy, badge]
      seeds: [0, 1, 2]
    grid:                       # one cell per value; the notebook receives the value as it is
      augment: [true, false]
    cases:                      # optional: parameter sets that vary together (one cell each)
      - {budgets: [1000], seed_sets: [random]}
      - {budgets: [], seed_sets: [facility_location]}

`run_grid` expands the file into cells (the Cartesian product of `cases`, `grid` and `split`, in order),
executes each cell with `mode="run"` into `OUT/cells/<cell_id>/` (the executed notebook is kept there
for inspection), and writes `done.json` atomically when a cell succeeds, so a second invocation skips
it. All cells share `OUT/checkpoints` and `OUT/results`, so the notebook's own resume logic also works
across cells. Cells run serially in this process (`workers=1`), on a Dask `LocalCluster` of worker
processes (`workers>1`) or on a running Dask scheduler (`scheduler="tcp://host:8786"`); the last two
share one code path through `dask.distributed.Client`. A remote cluster must see the same paths (shared
storage). A failing cell is reported with its notebook path and the others go on. Finally the notebook
runs once with `mode="report"` over all results and `report.build` renders the HTML.

CLI: `dal-grid NOTEBOOK GRID [--workers N] [--scheduler ADDRESS] [--out runs/NAME]`.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

GRID_KEYS = ("name", "notebook", "parameters", "cases", "split", "grid")
DONE_MARKER = "done.json"
FAILED_MARKER = "failed.json"
PARTIAL_SUFFIX = ".partial"      # papermill's output while a cell runs (see execute_notebook)
INTERRUPTED = "interrupted; run the same command to resume"
MODES = ("run", "report")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One papermill execution of the grid.

    cell_id: folder name under OUT/cells (readable axis values plus a hash of all parameters);
    axes: the values that vary across the grid (for display); parameters: everything papermill injects."""
    cell_id: str
    axes: dict[str, Any]
    parameters: dict[str, Any]


# --------------------------------------------------------------------------------------------------
# Grid files
# --------------------------------------------------------------------------------------------------

def load_grid(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a grid YAML file. Returns a dict with every key of GRID_KEYS filled in."""
    import yaml

    path = Path(path)
    with open(path) as f:
        spec = yaml.safe_load(f) or {}
    if not isinstance(spec, dict):
        raise ValueError(f"grid file {str(path)!r} must hold a mapping with keys {', '.join(GRID_KEYS)}; "
                         f"got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(GRID_KEYS))
    if unknown:
        raise KeyError(f"unknown key(s) {unknown} in grid file {str(path)!r}; allowed: {', '.join(GRID_KEYS)}")
    for key in ("parameters", "split", "grid"):
        value = spec.get(key) or {}
        if not isinstance(value, dict):
            raise ValueError(f"{key!r} in grid file {str(path)!r} must be a mapping of parameter names; "
                             f"got {type(value).__name__}")
        spec[key] = value
    for key in ("split", "grid"):
        for name, values in spec[key].items():
            if not isinstance(values, list) or not values:
                raise ValueError(f"{key}.{name} in grid file {str(path)!r} must be a non-empty list; got {values!r}")
    cases = spec.get("cases") or []
    if not isinstance(cases, list) or not all(isinstance(c, dict) for c in cases):
        raise ValueError(f"'cases' in grid file {str(path)!r} must be a list of mappings; got {cases!r}")
    spec["cases"] = cases
    both = sorted(set(spec["split"]) & set(spec["grid"]))
    if both:
        raise ValueError(f"parameter(s) {both} appear in both 'split' and 'grid' of {str(path)!r}; use one")
    spec.setdefault("name", path.stem)
    spec.setdefault("notebook", None)
    return spec


def _slug(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = "+".join(map(str, value))
    return re.sub(r"[^A-Za-z0-9.+=-]+", "-", str(value)).strip("-")[:40] or "x"


def _hash(parameters: Mapping[str, Any]) -> str:
    blob = json.dumps(parameters, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:8]


def expand_grid(spec: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> list[Cell]:
    """The cells of a grid: the product of `cases`, then `grid` axes, then `split` axes, in file order.

    Each cell's parameters are `parameters`, then `overrides` (e.g. a smoke file), then the cell's case
    and axis values (split values wrapped in a one-element list). Cell ids are unique and stable: they change
    only when the cell's parameters change."""
    base = {**(spec.get("parameters") or {}), **(overrides or {})}
    grid, split = spec.get("grid") or {}, spec.get("split") or {}
    names = list(grid) + list(split)
    cells: list[Cell] = []
    for case, *combo in itertools.product(spec.get("cases") or [{}], *(list(grid.values()) + list(split.values()))):
        axes = {**case, **dict(zip(names, combo))}
        params = dict(base)
        for name, value in axes.items():
            params[name] = [value] if name in split else value
        readable = "_".join(f"{name}={_slug(value)}" for name, value in axes.items()) or "all"
        cells.append(Cell(f"{readable}_{_hash(params)}", axes, params))
    return cells


def report_parameters(spec: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Parameters of the final report-mode execution: the shared parameters, with every split axis
    given its full list (the report covers all of them). Grid axes and cases keep the notebook's defaults
    because a report reads every result under results_dir anyway."""
    params = {**(spec.get("parameters") or {}), **(overrides or {})}
    for name, values in (spec.get("split") or {}).items():
        params[name] = list(values)
    return params


def check_parameters(notebook: str | os.PathLike, names: Iterable[str]) -> None:
    """Raise KeyError when a name is not a parameter of the notebook's `parameters` cell."""
    import papermill

    allowed = set(papermill.inspect_notebook(str(notebook)))
    if not allowed:
        raise ValueError(f"notebook {str(notebook)!r} has no cell tagged 'parameters'")
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise KeyError(f"unknown parameter(s) {unknown} for notebook {str(notebook)!r}; "
                       f"allowed: {', '.join(sorted(allowed))}")


# --------------------------------------------------------------------------------------------------
# Executing one cell (a top-level function so that Dask can ship it to a worker)
# --------------------------------------------------------------------------------------------------

def _write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    os.replace(tmp, path)


def _set_environment(values: Mapping[str, str | None]) -> None:
    """Set each variable of `values` in os.environ, removing those whose value is None."""
    for var, value in values.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value


@contextlib.contextmanager
def _kernel_environment(threads: int | None):
    """The environment the notebook's kernel inherits, restored afterwards.

    threads: OMP/MKL thread caps. DAL_PROGRESS defaults to "terminal" (training.progress_bar).
    MALLOC_TRIM_THRESHOLD_ is removed: Dask's nanny sets it to 64 KiB in
    its workers (to hand memory back to the OS), and a kernel inheriting it returns every freed tensor
    buffer to the OS and page-faults it back on the next allocation. Measured on a 2-core machine with
    two parallel cells of the MNIST net: 53-60 ms per SGD step with it, 32-37 ms without (29-30 ms in
    two plain processes)."""
    changes: dict[str, str | None] = {"MALLOC_TRIM_THRESHOLD_": None,
                                      # per-epoch progress to the grid's terminal, not into the cell's notebook
                                      "DAL_PROGRESS": os.environ.get("DAL_PROGRESS", "terminal")}
    if threads:
        changes.update({var: str(threads) for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")})
    saved = {var: os.environ.get(var) for var in changes}
    try:
        _set_environment(changes)
        yield
    finally:
        _set_environment(saved)


def execute_notebook(notebook: str, output: str, parameters: Mapping[str, Any], kernel: str | None = None,
                     cwd: str | None = None, timeout: float | None = None, threads: int | None = None,
                     marker_dir: str | None = None) -> dict[str, Any]:
    """Execute `notebook` into `output` with papermill; never raises on notebook errors.

    Returns {"status": "done" | "failed", "notebook": output, "seconds": float, "error": str | None}.
    With marker_dir, writes done.json (atomically, on success) or failed.json there. `threads` caps the
    kernel's CPU threads (OMP/MKL) so parallel cells do not oversubscribe the machine."""
    import papermill

    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    marker = Path(marker_dir) if marker_dir else None
    if marker is not None:
        marker.mkdir(parents=True, exist_ok=True)
        (marker / FAILED_MARKER).unlink(missing_ok=True)
    start = time.perf_counter()
    error = None
    # papermill rewrites its output after every cell; it writes to a partial file (not *.ipynb, so the
    # report never reads it) that takes the final name once execution ends, so an interrupt never
    # leaves an empty or truncated notebook behind.
    partial = out.with_name(out.name + PARTIAL_SUFFIX)
    try:
        with _kernel_environment(threads), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The specified file .* does not end in")  # the partial name
            papermill.execute_notebook(str(notebook), str(partial), parameters=dict(parameters), kernel_name=kernel,
                                       cwd=cwd, execution_timeout=timeout, progress_bar=False, log_output=False)
    except KeyboardInterrupt:
        partial.unlink(missing_ok=True)
        raise
    except Exception as err:  # a failing notebook is data for the report, not a reason to stop the grid
        error = f"{type(err).__name__}: {err}".strip()
        if hasattr(err, "ename"):
            error = f"{err.ename}: {err.evalue}"
    if partial.is_file() and partial.stat().st_size > 0:
        os.replace(partial, out)
    else:
        partial.unlink(missing_ok=True)
    seconds = time.perf_counter() - start
    record = {"status": "failed" if error else "done", "notebook": str(out), "seconds": round(seconds, 3),
              "error": error, "parameters": dict(parameters),
              "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if marker is not None:
        _write_json_atomic(marker / (FAILED_MARKER if error else DONE_MARKER), record)
    return record


def cell_done(cell_dir: str | os.PathLike) -> bool:
    """True if `cell_dir` holds the done marker (DONE_MARKER) written by a successful execution."""
    return (Path(cell_dir) / DONE_MARKER).is_file()


# --------------------------------------------------------------------------------------------------
# Executors: serial in-process, or Dask (LocalCluster or remote scheduler, same path)
# --------------------------------------------------------------------------------------------------

def _run_serial(jobs: list[dict], on_result: Callable[[dict], None],
                log: Callable[[str], None] = print) -> None:
    for k, job in enumerate(jobs, 1):
        log(f"[dal-grid] running {Path(job['marker_dir']).name} ({k}/{len(jobs)})")
        on_result(execute_notebook(**job))


def _kill_children(grace_s: float = 3.0) -> int:
    """Terminate every process this one started (papermill's kernels, Dask's workers and their kernels),
    then kill those still alive after `grace_s` seconds. Returns how many there were."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    return len(children)


def _remove_partials(out: Path) -> None:
    """Delete the partial and empty files an interrupt may leave under out/cells."""
    for path in (out / "cells").rglob("*"):
        if path.is_file() and (path.name.endswith(PARTIAL_SUFFIX) or path.stat().st_size == 0):
            path.unlink(missing_ok=True)


# A local cluster's workers each run one notebook for minutes to hours, so Dask's millisecond-scale
# housekeeping is pure overhead there: its sampling profiler (100 Hz stack walks), the 20 ms event-loop
# tick check and the 100 ms memory monitor. Measured by bench/grid_overhead.py on a 2-core machine (two
# cells that only sleep): orchestration used 14.8% of one core with Dask's defaults, 2.3% with these
# settings, i.e. ~6% of the machine given back to the notebooks. Nannies hand the config on to workers.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def _local_cluster(workers: int):
    """A Dask LocalCluster of `workers` single-threaded worker processes, with LOCAL_CLUSTER_CONFIG."""
    import dask
    from dask.distributed import LocalCluster

    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0")


def _run_dask(jobs: list[dict], on_result: Callable[[dict], None], workers: int,
              scheduler: str | None, log: Callable[[str], None] = print) -> None:
    from dask.distributed import Client, as_completed

    cluster = None
    if scheduler is None:
        cluster = _local_cluster(workers)
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = [client.submit(execute_notebook, **job, pure=False) for job in jobs]
        names = {f.key: Path(job["marker_dir"]).name for f, job in zip(futures, jobs)}
        for n_done, future in enumerate(as_completed(futures), 1):
            with contextlib.suppress(Exception):  # progress only; never fails the grid
                running = sorted(names[k] for keys in client.processing().values() for k in keys if k in names)
                log(f"[dal-grid] {n_done}/{len(jobs)} finished; running: {', '.join(running) or '-'}")
            try:
                record = future.result()
            except Exception as err:  # worker died or could not run the task at all
                record = {"status": "failed", "notebook": "?", "seconds": 0.0,
                          "error": f"{type(err).__name__}: {err}"}
            on_result(record)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# --------------------------------------------------------------------------------------------------
# The grid
# --------------------------------------------------------------------------------------------------

def run_grid(notebook: str | os.PathLike, grid: str | os.PathLike | Mapping[str, Any],
             out: str | os.PathLike | None = None, workers: int = 1, scheduler: str | None = None,
             overrides: Mapping[str, Any] | None = None, kernel: str | None = None,
             timeout: float | None = None, report: bool = True, report_dir: str | os.PathLike | None = None,
             force: bool = False, log: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Run every cell of `grid` (a YAML path or a loaded spec) over `notebook`, then the report.

    out: run folder (default runs/<grid name>); workers: parallel cells (1 = serial in this process,
    >1 = Dask LocalCluster with that many worker processes); scheduler: address of a running Dask
    scheduler (overrides workers); overrides: parameters applied on top of the grid's `parameters`
    (e.g. a ci/smoke file); timeout: seconds per notebook cell; force: re-run completed cells.

    Returns {"ran": [cell ids], "skipped": [...], "failed": [{"cell", "notebook", "error"}],
    "report": path of the report notebook or None, "index": path of index.html or None}."""
    log = log or (lambda msg: None)
    spec = _grid_spec(grid)
    if workers < 1:
        raise ValueError(f"workers={workers} is invalid; allowed: an integer >= 1")
    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise FileNotFoundError(f"notebook {str(notebook)!r} does not exist")
    out = Path(out if out is not None else Path("runs") / spec["name"]).resolve()
    cells = expand_grid(spec, overrides)
    shared = {"checkpoint_dir": str(out / "checkpoints"), "results_dir": str(out / "results")}
    check_parameters(notebook, set(cells[0].parameters) | set(shared) | {"mode"})

    out.mkdir(parents=True, exist_ok=True)
    _write_json_atomic(out / "grid.json", {"notebook": str(notebook), "spec": spec, "overrides": overrides,
                                           "cells": [dataclasses.asdict(c) for c in cells]})
    threads = None
    if scheduler is None and workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
    jobs, skipped = _cell_jobs(cells, notebook, out, shared, kernel, timeout, threads, force)
    log(f"[dal-grid] {spec['name']}: {len(cells)} cells, {len(skipped)} already complete, {len(jobs)} to run"
        + (f" on {scheduler}" if scheduler else f" with {workers} worker(s)") + f" -> {out}")

    ran: list[str] = []
    failed: list[dict[str, Any]] = []
    _execute_jobs(jobs, _result_recorder(jobs, ran, failed, log), workers, scheduler, out, log)

    summary: dict[str, Any] = {"ran": ran, "skipped": skipped, "failed": failed, "report": None, "index": None}
    if report:
        _run_report(notebook, spec, overrides, shared, kernel, timeout, out, report_dir, summary, log)
    if failed:
        log(f"[dal-grid] {len(failed)} failed: " + ", ".join(f["notebook"] for f in failed))
    return summary


def _grid_spec(grid: str | os.PathLike | Mapping[str, Any]) -> dict[str, Any]:
    """The grid spec (loaded from YAML, or a copy of the mapping) with its optional keys filled in."""
    spec = load_grid(grid) if not isinstance(grid, Mapping) else {**grid}
    for key in ("parameters", "split", "grid"):
        spec.setdefault(key, {})
    spec.setdefault("cases", [])
    spec.setdefault("name", "grid")
    return spec


def _cell_jobs(cells: list[Cell], notebook: Path, out: Path, shared: dict[str, str], kernel: str | None,
               timeout: float | None, threads: int | None, force: bool) -> tuple[list[dict], list[str]]:
    """(execute_notebook keyword sets of the cells to run, ids of the cells already complete)."""
    jobs, skipped = [], []
    for cell in cells:
        cell_dir = out / "cells" / cell.cell_id
        if cell_done(cell_dir) and not force:
            skipped.append(cell.cell_id)
            continue
        jobs.append(dict(notebook=str(notebook), output=str(cell_dir / notebook.name),
                         parameters={**cell.parameters, **shared, "mode": "run"}, kernel=kernel,
                         cwd=str(notebook.parent), timeout=timeout, threads=threads, marker_dir=str(cell_dir)))
    return jobs, skipped


def _result_recorder(jobs: list[dict], ran: list[str], failed: list[dict[str, Any]],
                     log: Callable[[str], None]) -> Callable[[dict], None]:
    """A callback that files each execution record under ran or failed (by cell id) and logs it."""
    by_notebook = {job["output"]: Path(job["marker_dir"]).name for job in jobs}

    def on_result(record: dict) -> None:
        cell_id = by_notebook.get(record["notebook"], "?")
        if record["status"] == "done":
            ran.append(cell_id)
            log(f"[dal-grid] done   {cell_id} ({record['seconds']:.1f} s)")
        else:
            failed.append({"cell": cell_id, "notebook": record["notebook"], "error": record["error"]})
            log(f"[dal-grid] FAILED {cell_id}: {record['error']}\n           notebook: {record['notebook']}")

    return on_result


def _execute_jobs(jobs: list[dict], on_result: Callable[[dict], None], workers: int, scheduler: str | None,
                  out: Path, log: Callable[[str], None]) -> None:
    """Run the jobs serially or on Dask; on Ctrl-C, kill the kernels and remove partial files."""
    try:
        if jobs and (scheduler is not None or workers > 1):
            _run_dask(jobs, on_result, workers, scheduler, log)
        elif jobs:
            _run_serial(jobs, on_result, log)
    except KeyboardInterrupt:
        # Ctrl-C: no kernel may outlive the grid, and no half-written file may look like a result.
        # Finished cells keep their done.json, so the same command resumes with the rest.
        _kill_children()
        _remove_partials(out)
        raise


def _run_report(notebook: Path, spec: dict[str, Any], overrides: Mapping[str, Any] | None, shared: dict[str, str],
                kernel: str | None, timeout: float | None, out: Path, report_dir: str | os.PathLike | None,
                summary: dict[str, Any], log: Callable[[str], None]) -> None:
    """Execute the notebook in report mode and build the HTML report, filling summary's report and index."""
    report_nb = out / notebook.name
    record = execute_notebook(str(notebook), str(report_nb),
                              {**report_parameters(spec, overrides), **shared, "mode": "report"},
                              kernel=kernel, cwd=str(notebook.parent), timeout=timeout)
    summary["report"] = str(report_nb)
    if record["status"] != "done":
        summary["failed"].append({"cell": "report", "notebook": str(report_nb), "error": record["error"]})
        log(f"[dal-grid] FAILED report: {record['error']}\n           notebook: {report_nb}")
    from . import report as report_module

    index = report_module.build(out, report_dir if report_dir is not None else out / "report")
    summary["index"] = str(index)
    log(f"[dal-grid] report: {index}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point of `dal-grid` (argv None: sys.argv). Returns the exit status: 0 when every
    cell succeeded (or --dry-run), 1 when a cell failed, 130 on Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="dal-grid", description="Run a notebook over a parameter grid with papermill (locally or on Dask), "
        "then execute it once in report mode and render HTML.")
    parser.add_argument("notebook", help="notebook to execute, e.g. notebooks/01_baselines.ipynb")
    parser.add_argument("grid", help="grid YAML, e.g. grids/01_baselines.yaml")
    parser.add_argument("--out", help="run folder (default: runs/<grid name>)")
    parser.add_argument("--workers", type=int, default=1,
                        help="parallel cells: 1 = serial in this process, N > 1 = Dask LocalCluster of N processes")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    parser.add_argument("-f", "--parameters-file", action="append", default=[],
                        help="YAML of parameter overrides applied to every cell (e.g. ci/smoke/01_baselines.yaml)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="one parameter override; VALUE is parsed as YAML")
    parser.add_argument("--kernel", help="Jupyter kernel name (default: the notebook's)")
    parser.add_argument("--timeout", type=float, help="seconds allowed per notebook code cell")
    parser.add_argument("--report-dir", help="where HTML goes (default: OUT/report)")
    parser.add_argument("--no-report", action="store_true", help="skip the report-mode execution and HTML")
    parser.add_argument("--force", action="store_true", help="re-run cells that are already complete")
    parser.add_argument("--dry-run", action="store_true", help="list the cells and exit")
    args = parser.parse_args(argv)

    import yaml

    overrides: dict[str, Any] = {}
    for path in args.parameters_file:
        with open(path) as f:
            overrides.update(yaml.safe_load(f) or {})
    for name, value in args.parameter:
        overrides[name] = yaml.safe_load(value)
    if args.dry_run:
        spec = load_grid(args.grid)
        for cell in expand_grid(spec, overrides):
            print(cell.cell_id, json.dumps(cell.parameters, default=str))
        return 0
    try:
        summary = run_grid(args.notebook, args.grid, out=args.out, workers=args.workers, scheduler=args.scheduler,
                           overrides=overrides, kernel=args.kernel, timeout=args.timeout,
                           report=not args.no_report, report_dir=args.report_dir, force=args.force)
    except KeyboardInterrupt:
        _kill_children()  # also when Ctrl-C came during the report-mode execution
        print(f"[dal-grid] {INTERRUPTED}", file=sys.stderr, flush=True)
        return 130
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
