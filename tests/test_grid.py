"""dal_helpers.grid: grid expansion, resumable cells, failing cells, serial and Dask execution.

The notebook under test is a tiny one made here: in run mode it writes one result file per cell and
appends a line to an execution log (so the tests can count executions); strategy "bad" raises. In
report mode it counts the result files. No torch import, so each papermill run takes about a second."""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
import yaml

from dal_helpers import grid

PARAMS = '''strategies: list = ["a"]   # strategies of this execution
seeds: list = [0]           # seeds of this execution
lr: float = 0.1             # a knob shared by every cell
checkpoint_dir: str = "ckpt"
results_dir: str = "res"
mode: str = "run"           # run | report
'''

BODY = '''import json, os
from pathlib import Path
res = Path(results_dir); res.mkdir(parents=True, exist_ok=True)
if mode == "run":
    with open(Path(checkpoint_dir).parent / "executions.log", "a") as f:
        f.write(f"{strategies[0]} {seeds[0]}\\n")
    if strategies[0] == "bad":
        raise RuntimeError("strategy bad always fails")
    (res / f"{strategies[0]}_{seeds[0]}.json").write_text(json.dumps(
        {"lr": lr, "trim": os.environ.get("MALLOC_TRIM_THRESHOLD_"), "omp": os.environ.get("OMP_NUM_THREADS")}))
else:
    n_results = len(list(res.glob("*.json")))
    print("results:", n_results, "strategies:", strategies)
'''


@pytest.fixture()
def dummy_notebook(tmp_path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Dummy section"),
                nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(BODY)]
    path = tmp_path / "nb" / "dummy.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return path


def write_grid(path: Path, spec: dict) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def executions(out: Path) -> list[str]:
    log = out / "executions.log"
    return log.read_text().split("\n")[:-1] if log.exists() else []


# --------------------------------------------------------------------------------------------------
# Expansion
# --------------------------------------------------------------------------------------------------

def test_expand_grid_product_order_and_wrapping():
    spec = {"parameters": {"lr": 0.1, "x": 1}, "grid": {"lr": [0.1, 0.01]},
            "split": {"strategies": ["a", "b", "c"], "seeds": [0, 1]}}
    cells = grid.expand_grid(spec, overrides={"x": 2})
    # 2 grid values x 3 strategies x 2 seeds, grid axes outermost, then split axes in file order.
    assert len(cells) == 12
    expected = [(lr, s, seed) for lr in (0.1, 0.01) for s in "abc" for seed in (0, 1)]
    got = [(c.parameters["lr"], c.parameters["strategies"][0], c.parameters["seeds"][0]) for c in cells]
    assert got == expected
    first = cells[0].parameters
    assert first["strategies"] == ["a"] and first["seeds"] == [0]      # split values wrapped in a list
    assert first["x"] == 2                                               # overrides beat parameters
    assert cells[0].axes == {"lr": 0.1, "strategies": "a", "seeds": 0}
    ids = [c.cell_id for c in cells]
    assert len(set(ids)) == 12
    assert ids[0].startswith("lr=0.1_strategies=a_seeds=0_")


def test_cases_vary_parameters_together():
    spec = {"parameters": {"lr": 0.1}, "cases": [{"lr": 0.5, "seeds": [7]}, {"x": 2}],
            "split": {"strategies": ["a", "b"]}}
    cells = grid.expand_grid(spec)
    # 2 cases x 2 strategies; a case's values beat `parameters`, split values beat a case's.
    assert [(c.parameters["lr"], c.parameters.get("x"), c.parameters["strategies"]) for c in cells] == [
        (0.5, None, ["a"]), (0.5, None, ["b"]), (0.1, 2, ["a"]), (0.1, 2, ["b"])]
    assert cells[0].parameters["seeds"] == [7] and cells[0].axes == {"lr": 0.5, "seeds": [7], "strategies": "a"}
    assert len({c.cell_id for c in cells}) == 4


def test_cell_ids_are_stable_and_track_parameters():
    spec = {"parameters": {"lr": 0.1}, "split": {"seeds": [0, 1]}}
    a = [c.cell_id for c in grid.expand_grid(spec)]
    b = [c.cell_id for c in grid.expand_grid(spec)]
    c = [c.cell_id for c in grid.expand_grid(spec, overrides={"lr": 0.5})]
    assert a == b
    assert set(a).isdisjoint(c)                # other parameters -> other cells, never a stale marker


def test_no_axes_is_one_cell_and_report_parameters_list_everything():
    spec = {"parameters": {"lr": 0.1}, "split": {"seeds": [3, 4]}, "grid": {}}
    assert len(grid.expand_grid({"parameters": {"lr": 0.1}})) == 1
    assert grid.report_parameters(spec, {"lr": 0.2}) == {"lr": 0.2, "seeds": [3, 4]}


def test_load_grid_rejects_bad_files(tmp_path):
    with pytest.raises(KeyError, match="unknown key.*'axes'"):
        grid.load_grid(write_grid(tmp_path / "a.yaml", {"axes": {"seeds": [0]}}))
    with pytest.raises(ValueError, match="both 'split' and 'grid'"):
        grid.load_grid(write_grid(tmp_path / "b.yaml", {"split": {"seeds": [0]}, "grid": {"seeds": [1]}}))
    with pytest.raises(ValueError, match="split.seeds .* non-empty list"):
        grid.load_grid(write_grid(tmp_path / "c.yaml", {"split": {"seeds": 3}}))
    spec = grid.load_grid(write_grid(tmp_path / "ok_name.yaml", {"split": {"seeds": [0]}}))
    assert spec["name"] == "ok_name" and spec["parameters"] == {} and spec["grid"] == {}


def test_unknown_notebook_parameter_is_named(dummy_notebook, tmp_path):
    g = write_grid(tmp_path / "g.yaml", {"split": {"strategy": ["a"]}})
    with pytest.raises(KeyError, match="unknown parameter.*'strategy'.*allowed: checkpoint_dir"):
        grid.run_grid(dummy_notebook, g, out=tmp_path / "out", report=False, log=None)


# --------------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------------

def test_serial_grid_resumes_and_survives_a_failing_cell(dummy_notebook, tmp_path):
    g = write_grid(tmp_path / "g.yaml", {"parameters": {"lr": 0.5},
                                         "split": {"strategies": ["a", "bad", "b"], "seeds": [0]}})
    out = tmp_path / "out"
    first = grid.run_grid(dummy_notebook, g, out=out, log=None)
    assert sorted(c.split("_")[0] for c in first["ran"]) == ["strategies=a", "strategies=b"]
    assert first["skipped"] == []
    (failed,) = first["failed"]
    assert failed["cell"].startswith("strategies=bad_") and "strategy bad always fails" in failed["error"]
    # The failed cell's executed notebook is kept, and it holds the traceback.
    failed_nb = nbformat.read(failed["notebook"], as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in failed_nb.cells for o in c.get("outputs", []))
    assert (Path(failed["notebook"]).parent / grid.FAILED_MARKER).is_file()
    # The good cells wrote their results with the shared parameter, and their markers.
    assert json.loads((out / "results" / "a_0.json").read_text())["lr"] == 0.5
    assert json.loads((out / "results" / "b_0.json").read_text())["lr"] == 0.5
    assert len(list((out / "cells").glob(f"*/{grid.DONE_MARKER}"))) == 2
    # The report ran once in report mode over every split value and saw both results.
    report_nb = nbformat.read(first["report"], as_version=4)
    text = "".join(o.get("text", "") for c in report_nb.cells for o in c.get("outputs", []))
    assert "results: 2 strategies: ['a', 'bad', 'b']" in text
    assert Path(first["index"]).is_file()
    assert sorted(executions(out)) == ["a 0", "b 0", "bad 0"]

    # Second invocation: complete cells are skipped; only the failed cell is tried again.
    second = grid.run_grid(dummy_notebook, g, out=out, log=None)
    assert second["ran"] == [] and sorted(second["skipped"]) == sorted(first["ran"])
    assert [f["cell"].split("_")[0] for f in second["failed"]] == ["strategies=bad"]   # the report is fine
    assert executions(out)[3:] == ["bad 0"]


def test_second_invocation_runs_nothing_new(dummy_notebook, tmp_path):
    g = write_grid(tmp_path / "g.yaml", {"split": {"strategies": ["a", "b"]}})
    out = tmp_path / "out"
    first = grid.run_grid(dummy_notebook, g, out=out, report=False, log=None)
    assert len(first["ran"]) == 2 and first["failed"] == []
    second = grid.run_grid(dummy_notebook, g, out=out, report=False, log=None)
    assert second["ran"] == [] and len(second["skipped"]) == 2
    assert len(executions(out)) == 2
    third = grid.run_grid(dummy_notebook, g, out=out, report=False, force=True, log=None)
    assert len(third["ran"]) == 2 and len(executions(out)) == 4


def test_dask_local_cluster_runs_cells_in_worker_processes(dummy_notebook, tmp_path):
    pytest.importorskip("dask.distributed")
    g = write_grid(tmp_path / "g.yaml", {"split": {"strategies": ["a", "bad"], "seeds": [0, 1]}})
    out = tmp_path / "out"
    summary = grid.run_grid(dummy_notebook, g, out=out, workers=2, report=False, log=None)
    assert len(summary["ran"]) == 2 and len(summary["failed"]) == 2
    assert {f["cell"].split("_")[0] for f in summary["failed"]} == {"strategies=bad"}
    assert sorted(p.name for p in (out / "results").iterdir()) == ["a_0.json", "a_1.json"]
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ in its workers; the kernels must not inherit it (it makes
    # every freed tensor a page fault), and they share the cores: cpu_count // workers OMP threads each.
    threads = str(max(1, (os.cpu_count() or 1) // 2))
    for name in ("a_0.json", "a_1.json"):
        seen = json.loads((out / "results" / name).read_text())
        assert seen["trim"] is None and seen["omp"] == threads
    again = grid.run_grid(dummy_notebook, g, out=out, workers=2, report=False, log=None)
    assert again["ran"] == [] and len(again["skipped"]) == 2


def test_local_cluster_workers_skip_dasks_millisecond_housekeeping():
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client

    cluster = grid._local_cluster(2)
    try:
        with Client(cluster) as client:
            seen = client.run(lambda dask_worker: {name: pc.callback_time
                                                   for name, pc in dask_worker.periodic_callbacks.items()})
    finally:
        cluster.close()
    assert len(seen) == 2
    for callbacks in seen.values():
        # Dask's defaults add "profile" (10 ms) and "profile-cycle"; the heartbeat must still run
        assert not any(name.startswith("profile") for name in callbacks), callbacks
        assert "heartbeat" in callbacks and callbacks["tick"] >= 1000, callbacks


def test_cli_dry_run_lists_cells_with_overrides(dummy_notebook, tmp_path, capsys):
    g = write_grid(tmp_path / "g.yaml", {"split": {"seeds": [0, 1]}})
    smoke = tmp_path / "smoke.yaml"
    smoke.write_text("lr: 0.25\n")
    assert grid.main([str(dummy_notebook), str(g), "--dry-run", "-f", str(smoke), "-p", "mode", "run"]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == 2
    cell_id, params = lines[1].split(" ", 1)
    assert cell_id.startswith("seeds=1_") and json.loads(params) == {"lr": 0.25, "mode": "run", "seeds": [1]}


def test_cli_exit_code_reports_failure(dummy_notebook, tmp_path):
    g = write_grid(tmp_path / "g.yaml", {"split": {"strategies": ["bad"]}})
    assert grid.main([str(dummy_notebook), str(g), "--out", str(tmp_path / "o"), "--no-report"]) == 1
    g2 = write_grid(tmp_path / "g2.yaml", {"split": {"strategies": ["a"]}})
    assert grid.main([str(dummy_notebook), str(g2), "--out", str(tmp_path / "o2"), "--no-report"]) == 0


# --------------------------------------------------------------------------------------------------
# Ctrl-C
# --------------------------------------------------------------------------------------------------

SLOW_BODY = '''import os, time
from pathlib import Path
res = Path(results_dir); res.mkdir(parents=True, exist_ok=True)
if mode == "run" and strategies[0] == "slow" and not os.environ.get("DUMMY_FAST"):
    (Path(checkpoint_dir).parent / "kernel.pid").write_text(str(os.getpid()))
    while True:  # stands for a long training run; ignores nothing, so only a kill or SIGINT ends it
        time.sleep(0.2)
(res / f"{strategies[0]}.json").write_text("{}")
'''


def test_ctrl_c_ends_with_one_line_kills_the_kernel_and_resumes(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    import psutil

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(SLOW_BODY)]
    path = tmp_path / "nb" / "slow.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    g = write_grid(tmp_path / "g.yaml", {"split": {"strategies": ["a", "slow"]}})
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "dal_helpers.grid", str(path), str(g), "--out", str(out), "--no-report"]
    # a terminal's Ctrl-C goes to the whole foreground process group: the CLI and its kernel
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    pid_file = out / "kernel.pid"
    deadline = time.time() + 60
    while not pid_file.is_file() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert pid_file.is_file(), proc.communicate()
    kernel_pid = int(pid_file.read_text())
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    # no traceback of dal-grid itself (a dying kernel may still print its own on the shared stderr)
    assert "dal_helpers/grid.py" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1] == "[dal-grid] interrupted; run the same command to resume"
    try:
        alive = psutil.Process(kernel_pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        alive = False
    assert not alive, f"kernel {kernel_pid} still running"
    files = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in files if p.stat().st_size == 0 or p.name.endswith(grid.PARTIAL_SUFFIX)]
    done = sorted(p.parent.name for p in out.rglob(grid.DONE_MARKER))
    assert len(done) == 1 and done[0].startswith("strategies=a_")
    # the same command resumes: the finished cell is skipped, the interrupted one runs
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "DUMMY_FAST": "1"})
    assert rerun.returncode == 0, rerun.stderr
    assert "2 cells, 1 already complete, 1 to run" in rerun.stdout
    assert sorted(p.name for p in (out / "results").glob("*.json")) == ["a.json", "slow.json"]
