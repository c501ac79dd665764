"""Small helpers the notebooks call, so that each notebook cell stays a few lines long.

Setup (`in_colab`, `colab_setup`, `resolve_dirs`); turning a notebook's parameters into RunConfigs
(`make_configs`) and running or only loading an experiment (`run_or_load`); shared analysis over the
results table (`overview`, `summary_table`, `end_efficiency`, `efficiency_by`, `mean_gap`, ...); and
what the HTML report shows on its index page: the section's headline figure (`headline`) and its
"paper vs ours" table (`paper_vs_ours`). A section's claims, the paper's numbers behind them and the
statistical tests that judge them live in `dal_helpers.claims` (one module per section, e.g.
`claims.s04_redundancy.claims(df) -> list[Claim]`); `paper_vs_ours` shows those Claims with their
test, p-value or CI, verdict and reason. `headline` and `paper_vs_ours` write display outputs that
carry `dal_helpers` metadata (both live in `dal_helpers.display` and are re-exported here);
`dal_helpers.report` reads them back from the executed notebook.
Accuracies are fractions in [0, 1] throughout.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import REPO_URL  # noqa: E402  where Colab installs the package from (one constant, package root)
DRIVE_FOLDER = "/content/drive/MyDrive/dal_helpers"          # checkpoints and results in Colab
MODES = ("run", "report")


# --------------------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------------------

def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    if "google.colab" in sys.modules:
        return True
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def colab_setup(package: str | None = None, drive_folder: str = DRIVE_FOLDER, mount: bool = True) -> Path | None:
    """In Colab: pip-install the package (unless already importable from a checkout) and mount Google
    Drive so checkpoints survive a runtime reset. Returns the Drive folder used as the base of relative
    checkpoint and results paths. Outside Colab: does nothing and returns None."""
    if not in_colab():
        return None
    try:
        import dal_helpers.loop  # noqa: F401
    except ImportError:
        spec = package or f"dal-helpers @ git+{REPO_URL}"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", spec], check=True)
    if mount:
        from google.colab import drive  # type: ignore[import-not-found]

        drive.mount("/content/drive")
    folder = Path(drive_folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def project_root(start: str | os.PathLike | None = None) -> Path | None:
    """The checkout this package was imported from when `start` (default: cwd) lies inside it."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "dal_helpers").is_dir():
            return folder
    return None


def resolve_dirs(checkpoint_dir: str | os.PathLike, results_dir: str | os.PathLike | None = None,
                 base: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Absolute (checkpoint_dir, results_dir), both created.

    Relative paths are taken from `base` (the Drive folder `colab_setup` returns), else the project root
    when the notebook runs inside a checkout (so `runs/...` means the same folder from `notebooks/` and
    from the repository root), else the working directory. results_dir=None -> checkpoint_dir/results."""
    root = Path(base) if base is not None else (project_root() or Path.cwd())

    def absolute(p: str | os.PathLike) -> Path:
        p = Path(p).expanduser()
        return p if p.is_absolute() else root / p

    ckpt = absolute(checkpoint_dir)
    res = absolute(results_dir) if results_dir is not None else ckpt / "results"
    ckpt.mkdir(parents=True, exist_ok=True)
    res.mkdir(parents=True, exist_ok=True)
    return ckpt, res


def resolve_data_root(data_root: str | os.PathLike | None, base: str | os.PathLike | None = None) -> str | None:
    """The torchvision data root a notebook passes on. None stays None ($DAL_DATA_ROOT or ./data later);
    a relative path lies in `base` when there is one (the Drive folder in Colab, so downloaded data sets
    survive a runtime reset); otherwise the path is returned unchanged."""
    if data_root is None:
        return None
    path = Path(data_root).expanduser()
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    return str(path)


def check_mode(mode: str) -> str:
    """`mode` when it is one of MODES ("run", "report"); ValueError naming it otherwise."""
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is invalid; allowed: {', '.join(MODES)}")
    return mode


# --------------------------------------------------------------------------------------------------
# Parameters -> configs -> results
# --------------------------------------------------------------------------------------------------

def make_configs(preset: str | Sequence[str] | None, overrides: Mapping[str, Any] | None = None,
                 **axes: Any) -> list:
    """RunConfigs of a notebook: the named paper preset(s) (config.PRESETS; None = RunConfig defaults),
    then `overrides` (a dict from the parameters cell, e.g. a smoke file), then the Cartesian product of
    `axes` (name -> list of values; a scalar is one value). Several presets give the union of their
    configs; configs that end up identical (e.g. presets differing only in a knob an override fixes)
    are kept once.

    make_configs("mnist5k", {"max_epochs": 5}, strategy=["random", "entropy"], seed=[0, 1]) -> 4 configs."""
    from . import config

    presets = [preset] if preset is None or isinstance(preset, str) else list(preset)
    out, seen = [], set()
    for name in presets:
        base = config.preset(name) if name else config.RunConfig()
        base = base.replace(**dict(overrides)) if overrides else base
        for cfg in config.expand(base, **axes):
            if cfg not in seen:
                seen.add(cfg)
                out.append(cfg)
    return out


def _has_accelerator() -> bool:
    import torch

    return torch.cuda.is_available() or (hasattr(torch.backends, "mps") and torch.backends.mps.is_available())


def _run_group(configs: list, checkpoint_dir, results_dir, progress: bool | str) -> int:
    """Child-process body of run_or_load(workers > 1): torch on one thread, then the group's runs."""
    import torch

    from . import loop

    torch.set_num_threads(1)
    loop.run_experiment(configs, checkpoint_dir=checkpoint_dir, results_dir=results_dir, progress=progress)
    return len(configs)


def _run_side_by_side(configs: list, checkpoint_dir, results_dir, progress: bool | str, workers: int) -> None:
    """Train the configs in `workers` spawned processes (round-robin groups, one torch thread each).
    Every run keeps its own checkpoint and rows, so an interrupted call resumes like a serial one."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    groups = [configs[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(len(groups), mp_context=multiprocessing.get_context("spawn")) as pool:
        for job in [pool.submit(_run_group, g, checkpoint_dir, results_dir, progress) for g in groups]:
            job.result()   # re-raises a run's error here


def run_or_load(configs: Sequence, checkpoint_dir: str | os.PathLike, results_dir: str | os.PathLike,
                mode: str = "run", experiment: str | None = None, progress: bool | str = True,
                workers: int = 1):
    """mode "run": run (or resume; complete runs are skipped) every config and return their rows;
    mode "report": run nothing and return every row under results_dir (e.g. all cells of a dal-grid
    run), restricted to `experiment` when given. Returns a DataFrame, one row per (run, round).

    workers > 1 trains the runs side by side in that many processes with one torch thread each (on a
    small CPU model, two one-thread runs finish sooner than two runs one after another on two threads);
    the rows are then read back in config order. Needs a checkpoint_dir and results_dir; with a GPU or a
    configured num_threads the runs are trained one after another as usual."""
    from . import results

    check_mode(mode)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers={workers!r} is invalid; allowed: an integer >= 1")
    if mode == "run":
        from . import loop

        configs = list(configs)
        side_by_side = (workers > 1 and len(configs) > 1 and checkpoint_dir is not None and results_dir is not None
                        and all(str(c.device) == "cpu" or (str(c.device) == "auto" and not _has_accelerator())
                                for c in configs)
                        and all(c.num_threads is None for c in configs))
        if side_by_side:
            _run_side_by_side(configs, checkpoint_dir, results_dir, progress, min(workers, len(configs)))
        return loop.run_experiment(configs, checkpoint_dir=checkpoint_dir, results_dir=results_dir,
                                   progress=progress)
    df = results.load_results(results_dir)
    if experiment is not None and "experiment" in df.columns:
        df = df[df["experiment"] == experiment].reset_index(drop=True)
        if df.empty:
            raise ValueError(f"no results of experiment {experiment!r} under {str(results_dir)!r}")
    return df


# --------------------------------------------------------------------------------------------------
# What the report shows: headline figure and verdicts (dal_helpers.display, re-exported here)
# --------------------------------------------------------------------------------------------------

from .display import COLUMNS, META_KEY, figure_png, headline, paper_vs_ours  # noqa: E402,F401

# --------------------------------------------------------------------------------------------------
# Analysis shared by the section notebooks (tables in, tables out; accuracies as fractions)
# --------------------------------------------------------------------------------------------------

def add_label(df, columns: Sequence[str], name: str = "variant"):
    """A copy of df with a `name` column joining the values of `columns` as metrics.make_label does
    ("entropy / reset=True"), so that one column can stand for several in `by=`."""
    from . import metrics

    out = df.copy()
    out[name] = metrics.make_label(out, list(columns)).astype(str)
    return out


def end_efficiency(df, by: str | Sequence[str] = "strategy", baseline: str = "random") -> dict[str, float]:
    """Labeling efficiency "at the end" per label (see metrics.end_efficiency): evaluated at the highest
    accuracy both the label's and the baseline's mean curves reach, i.e. the lower of the two final mean
    accuracies. A label that ends above the baseline is measured at the baseline's final accuracy (the
    paper's "efficiency at the end of the budget"), one that ends below it at its own final accuracy, so
    a strategy worse than the baseline gets a value below 1. NaN only when the two curves share no
    accuracy at all; `end_targets` says which target each number uses."""
    from . import metrics

    table = metrics.end_efficiency(df, baseline=baseline, by=by)
    lab = metrics.label_column(by)
    return {str(k): float(v) for k, v in zip(table[lab], table["efficiency"])}


def end_targets(df, by: str | Sequence[str] = "strategy", baseline: str = "random") -> dict[str, str]:
    """The target accuracy behind each `end_efficiency` number, as shown in tables: "80.0% (random's
    final)", "70.0% (margin's final)", or "no common accuracy"."""
    from . import metrics

    table = metrics.end_efficiency(df, baseline=baseline, by=by)
    lab = metrics.label_column(by)
    out = {}
    for name, target, note in zip(table[lab], table["target_acc"], table["note"]):
        if note == "no common accuracy":
            out[str(name)] = note
        else:
            whose = note.removeprefix("at ").removesuffix(" accuracy")
            out[str(name)] = f"{100 * target:.1f}% ({whose})"
    return out


def mean_gap(df, better: str, worse: str, by: str = "strategy") -> float | None:
    """Mean over the labeled-set sizes both labels have of (mean accuracy of `better` − mean accuracy of
    `worse`), a fraction; None when either label is missing or they share no size. What a comparison of
    two strategies uses, since both always have an accuracy per round (an efficiency can be NaN)."""
    from . import metrics

    if not len(df):
        return None
    curves = metrics.mean_curves(df, by=by)
    lab = metrics.label_column(by)
    a = curves[curves[lab] == better].set_index("n_labeled")["mean"]
    b = curves[curves[lab] == worse].set_index("n_labeled")["mean"]
    common = a.index.intersection(b.index)
    if a.empty or b.empty or not len(common):
        return None
    return float((a[common] - b[common]).mean())


def final_accuracy(df, by: str | Sequence[str] = "strategy") -> dict[str, float]:
    """Mean test accuracy (fraction) of each label at its largest labeled-set size."""
    from . import metrics

    curves = metrics.mean_curves(df, by=by).sort_values("n_labeled")
    lab = metrics.label_column(by)
    return {str(k): float(c["mean"].iloc[-1]) for k, c in curves.groupby(lab, sort=True)}


def penalty_or_none(df, by: str | Sequence[str] = "strategy", rounds=None, alpha: float = 0.05):
    """metrics.penalty_matrix, or None when the table cannot support a test (e.g. fewer than 2 seeds)."""
    from . import metrics

    try:
        return metrics.penalty_matrix(df, alpha=alpha, rounds=rounds, by=by)
    except ValueError:
        return None


def rank_tests_or_none(df, by: str | Sequence[str] = "strategy"):
    """metrics.rank_tests over (data set, seed, labeled-set size) blocks after the shared seed set, or
    None when the table has fewer than 2 strategies or 2 complete blocks (metrics.NotEnoughData)."""
    from . import metrics

    rows = df[df["round"] > 0] if "round" in df.columns and (df["round"] > 0).any() else df
    try:
        return metrics.rank_tests(rows, by=by)
    except metrics.NotEnoughData:
        return None


def cell(matrix, better: str, worse: str) -> float | None:
    """matrix[better, worse] of a penalty matrix, None when the matrix or a label is missing."""
    if matrix is None or better not in matrix.index or worse not in matrix.columns:
        return None
    return float(matrix.loc[better, worse])


def summary_table(df, by: str | Sequence[str] = "strategy", baseline: str = "random"):
    """One row per label: final accuracy (%), labeling efficiency at the end (see end_efficiency) and
    the accuracy it is evaluated at ("efficiency at"), the normalised area under the budget curve (%),
    seeds, total training and selection seconds, and the energy per run in kJ ("not available" where
    the machine has neither NVML nor RAPL counters)."""
    import pandas as pd

    from . import metrics

    lab = metrics.label_column(by)
    acc = final_accuracy(df, by)
    has_base = baseline in set(metrics.make_label(df, by))
    eff = end_efficiency(df, by, baseline) if has_base else {}
    at = end_targets(df, by, baseline) if has_base else {}
    try:
        area = metrics.aubc(df, by=by, ci=None).set_index(lab)["aubc"]
    except ValueError:  # the runs share no range of labels yet (e.g. a grid still running): no AUBC
        area = pd.Series(dtype=float)
    timing = metrics.timing_table(df, by=by).set_index(lab)
    seeds = df.assign(_l=metrics.make_label(df, by)).groupby("_l")["seed"].nunique()
    rows = [{lab: k, "final acc (%)": 100 * v, f"efficiency vs {baseline}": eff.get(k, float("nan")),
             "efficiency at": at.get(k, "no baseline"),
             "AUBC (%)": 100 * float(area.get(k, float("nan"))), "seeds": int(seeds.get(k, 0)),
             "train (s)": float(timing["train_s"].get(k, float("nan"))),
             "select (s)": float(timing["select_s"].get(k, float("nan"))),
             "energy (kJ)": _energy_cell(timing, k)} for k, v in acc.items()]
    return pd.DataFrame(rows).set_index(lab).round(3)


NO_ENERGY = "not available"


def _energy_cell(timing, label: str) -> float | str:
    """Mean energy per run in kJ, or "not available" where the machine exposed neither NVML (GPU) nor
    RAPL (CPU) counters: a missing measurement is not a number."""
    if "energy_j" not in timing.columns:
        return NO_ENERGY
    value = timing["energy_j"].get(label, float("nan"))
    return NO_ENERGY if value != value else round(float(value) / 1000, 3)


def overview(df, by: str | Sequence[str] = "strategy", baseline: str = "random", caption: str = "",
             is_headline: bool = True):
    """The four-panel summary figure (accuracy, labeling efficiency, relative accuracy, penalty matrix)
    shown as the section's headline, then the summary table. Returns the table. When the baseline is
    not among the labels (e.g. a run without random), the first label in sorted order stands in."""
    from IPython.display import display

    from . import metrics, plots

    labels = sorted(map(str, set(metrics.make_label(df, by))))
    if baseline not in labels:
        baseline = labels[0]

    fig = plots.plot_summary(df, baseline=baseline, by=by)
    if is_headline:
        headline(fig, caption)
    else:
        if caption:  # e.g. one figure per redundancy level: the caption tells them apart
            fig.suptitle(caption)
        display(fig)
        import matplotlib.pyplot as plt

        plt.close(fig)
    table = summary_table(df, by, baseline)
    display(table)
    return table


def contexts(df, keys: Sequence[str] = ("dataset", "model")) -> list[tuple[str, Any]]:
    """[(title, rows)] per distinct (data set, model): metrics refuse to average across them."""
    keys = [k for k in keys if k in df.columns]
    if not keys:
        return [("", df)]
    return [(" / ".join(map(str, k if isinstance(k, tuple) else (k,))), part.reset_index(drop=True))
            for k, part in df.groupby(keys, sort=True)]


def per_context(claims, df, keys: Sequence[str] = ("dataset", "model"), **kwargs) -> list:
    """claims(rows, **kwargs) on each (data set, model) of df (see `contexts`), so that a grid mixing
    presets is judged one setting at a time; with several settings each claim names its setting (a
    Claim's id gets "@<setting>" and its text "<setting>: "; a dict row's "claim" gets the prefix).
    The section modules of dal_helpers.claims already split by setting themselves."""
    from dataclasses import replace

    settings = contexts(df, keys)
    out = []
    for title, part in settings:
        for row in claims(part, **kwargs):
            if len(settings) > 1:
                row = (dict(row, claim=f"{title}: {row['claim']}") if isinstance(row, Mapping)
                       else replace(row, id=f"{row.id}@{title}", text=f"{title}: {row.text}"))
            out.append(row)
    return out


def _optimizer_variant(row) -> str:
    parts = ["Adam" if row["optimizer"] == "adam" else ""]
    parts.append("SWA" if bool(row["swa"]) else "")
    parts.append("SS" if "shakeshake" in str(row["model"]) else "")
    return "+".join(p for p in parts if p) or "SGD"


def optimizer_variants(df):
    """df with a `variant` column named as in the paper's Table 6: SGD, Adam, SWA, SS, SWA+SS."""
    out = df.copy()
    out["variant"] = out.apply(_optimizer_variant, axis=1) if len(out) else []
    return out


def efficiency_by(df, column: str, baseline: str = "random"):
    """Labeling efficiency at the end (see end_efficiency) per value of `column` (rows) and strategy
    (columns), each value analysed on its own runs."""
    import pandas as pd

    rows = {}
    for value, part in df.groupby(column, sort=True):
        if baseline in set(part["strategy"]):
            rows[value] = end_efficiency(part, baseline=baseline)
    table = pd.DataFrame(rows).T
    table.index.name = column
    return table


def efficiency_figure(eff, xlabel: str, logx: bool = False, caption: str = "", is_headline: bool = True):
    """Line plot of an `efficiency_by` table (one line per strategy but the baseline) against its
    index, shown as the section's headline (or only displayed); a note instead when the table is empty (e.g. a grid cell
    that ran one strategy only)."""
    import matplotlib.pyplot as plt

    from . import plots

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    lines = eff.drop(columns="random", errors="ignore") if len(eff) else eff
    if lines.empty:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "labeling efficiency needs random and another strategy", ha="center", va="center")
    else:
        colours = plots.styles(list(lines.columns))
        for name in lines.columns:
            ax.plot(lines.index, lines[name], marker="o", label=str(name), color=colours[name]["color"])
        ax.axhline(1.0, linestyle=":", color="grey", label="random (= 1)")
        ax.set(xlabel=xlabel, ylabel="labeling efficiency (× vs random)", xscale="log" if logx else "linear")
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize="small")
    if is_headline:
        headline(fig, caption)
    else:
        from IPython.display import display

        ax.set_title(caption)
        display(fig)
        plt.close(fig)


def load_sources(sources: Mapping[str, str | Sequence[str]], base: str | os.PathLike | None = None) -> dict[str, Any]:
    """{name: results table} for each entry of `sources`: a results folder, or a list of folders read
    into one table (e.g. the reset rows of one section beside the update rows of another). Relative
    paths start at `base`, else the project root, else the working directory; folders that do not
    exist are left out, and a name none of whose folders exists is left out."""
    from . import results

    root = Path(base) if base is not None else (project_root() or Path.cwd())
    found = {}
    for name, paths in sources.items():
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        full = [p if p.is_absolute() else root / p for p in (Path(q).expanduser() for q in paths)]
        full = [p for p in full if p.exists()]
        if full:
            try:
                found[name] = results.load_results(full)
            except FileNotFoundError:
                continue
    return found


def __getattr__(name: str):
    """The paper's numbers now live with their section's claims; these names stay importable here."""
    if name == "PAPER_EFFICIENCY":
        from .claims.s01_baselines import PAPER_EFFICIENCY
        return PAPER_EFFICIENCY
    if name == "PAPER_SELECT_S":
        from .claims.s09_lowdata import PAPER_SELECT_S
        return PAPER_SELECT_S
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
