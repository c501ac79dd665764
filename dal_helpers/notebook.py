"""Small helpers the notebooks call, so that each notebook cell stays a few lines long.

Setup (`in_colab`, `colab_setup`, `resolve_dirs`); turning a notebook's parameters into RunConfigs
(`make_configs`) and running or only loading an experiment (`run_or_load`); shared analysis over the
results table (`overview`, `summary_table`, `end_efficiency`, `efficiency_by`, ...); one
`<section>_claims(df)` per notebook that computes the "ours" side of its "paper vs ours" table from
the paper's statements (PAPER.md); and what the HTML report shows on its index page: the section's
headline figure (`headline`) and the judged verdicts (`paper_vs_ours`). The last two write display
outputs that carry `dal_helpers` metadata; `dal_helpers.report` reads them back from the executed
notebook. Accuracies are fractions in [0, 1] throughout.
"""
from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from . import REPO_URL  # noqa: E402  where Colab installs the package from (one constant, package root)
DRIVE_FOLDER = "/content/drive/MyDrive/dal_helpers"          # checkpoints and results in Colab
MODES = ("run", "report")
META_KEY = "dal_helpers"


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


def run_or_load(configs: Sequence, checkpoint_dir: str | os.PathLike, results_dir: str | os.PathLike,
                mode: str = "run", experiment: str | None = None, progress: bool | str = True):
    """mode "run": run (or resume; complete runs are skipped) every config and return their rows;
    mode "report": run nothing and return every row under results_dir (e.g. all cells of a dal-grid
    run), restricted to `experiment` when given. Returns a DataFrame, one row per (run, round)."""
    from . import results

    check_mode(mode)
    if mode == "run":
        from . import loop

        return loop.run_experiment(list(configs), checkpoint_dir=checkpoint_dir, results_dir=results_dir,
                                   progress=progress)
    df = results.load_results(results_dir)
    if experiment is not None and "experiment" in df.columns:
        df = df[df["experiment"] == experiment].reset_index(drop=True)
        if df.empty:
            raise ValueError(f"no results of experiment {experiment!r} under {str(results_dir)!r}")
    return df


# --------------------------------------------------------------------------------------------------
# What the report shows: headline figure and verdicts
# --------------------------------------------------------------------------------------------------

def _publish(data: dict[str, Any], meta: dict[str, Any]) -> None:
    from IPython.display import publish_display_data

    publish_display_data(data, metadata={META_KEY: meta})


def figure_png(fig, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def headline(fig, caption: str = "") -> None:
    """Show `fig` (a matplotlib Figure) as the section's headline figure; the report's index shows it
    on the section's card. The figure is closed so that it is not displayed twice."""
    import matplotlib.pyplot as plt

    if caption and not fig.get_suptitle():  # the caption belongs on the figure, not only on the index card
        fig.suptitle(caption)
    png = figure_png(fig)
    plt.close(fig)
    _publish({"image/png": base64.b64encode(png).decode(), "text/plain": f"<headline figure: {caption}>"},
             {"kind": "headline", "caption": caption})


_COLOURS = {"agrees": "#1a7f37", "differs": "#cf222e", "not measured": "#8c959f"}


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "-" if value != value else f"{value:.3g}"
    return str(value)


def paper_vs_ours(rows: Iterable[Mapping[str, Any]]):
    """Judge each claim with `metrics.paper_vs_ours` (rows: claim, paper, ours, optional tol and note;
    verdicts "agrees", "differs", "not measured"), display the table with coloured verdicts, and record
    it for the report's index. Returns the judged table as a DataFrame."""
    import html

    from . import metrics

    table = metrics.paper_vs_ours(rows)
    rows = [{k: (_shown(v) if k in ("paper", "ours") else v) for k, v in r.items() if k != "tol"}
            for r in table.to_dict("records")]
    cells = []
    for r in rows:
        colour = _COLOURS.get(r.get("verdict"), "#8c959f")
        cells.append("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(r.get(k, '')))}</td>"
                                      for k in ("claim", "paper", "ours"))
                     + f"<td><span style='background:{colour};color:#fff;border-radius:9px;padding:1px 9px;"
                       f"font-weight:600'>{html.escape(str(r.get('verdict')))}</span></td>"
                     + f"<td style='text-align:left;color:#57606a'>{html.escape(str(r.get('note', '')))}</td></tr>")
    head = "".join(f"<th style='text-align:left'>{h}</th>" for h in ("claim", "paper", "ours", "verdict", "note"))
    page = (f"<table><thead><tr>{head}</tr>"
            "</thead><tbody>" + "".join(cells) + "</tbody></table>")
    _publish({"text/html": page, "text/plain": table.to_string(index=False)}, {"kind": "verdict", "rows": rows})
    return table


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


def per_context(claims, df, keys: Sequence[str] = ("dataset", "model"), **kwargs) -> list[dict[str, Any]]:
    """claims(rows, **kwargs) on each (data set, model) of df (see `contexts`), so that a grid mixing
    presets is judged one setting at a time; with several settings each claim names its setting."""
    settings = contexts(df, keys)
    out = []
    for title, part in settings:
        for row in claims(part, **kwargs):
            row = dict(row)
            if len(settings) > 1:
                row["claim"] = f"{title}: {row['claim']}"
            out.append(row)
    return out


def _aubc(df, by="strategy") -> dict[str, float]:
    from . import metrics

    try:
        table = metrics.aubc(df, by=by, ci=None)
    except ValueError:
        return {}
    return {str(k): float(v) for k, v in zip(table[metrics.label_column(by)], table["aubc"])}


def _nan_to_none(v: float | None) -> float | None:
    return None if v is None or v != v else float(v)


def _subset(df, **equal):
    for k, v in equal.items():
        if k not in df.columns:
            return df.iloc[0:0]
        df = df[df[k] == v]
    return df


def _top_efficiency(df, baseline: str = "random") -> float | None:
    """The highest end efficiency of the AL strategies (see end_efficiency; below 1 when every strategy
    ends below the baseline). The baseline and NaNs are left out (built-in max is order-dependent with a
    NaN); None when no AL strategy shares an accuracy with the baseline."""
    if not len(df) or baseline not in set(df["strategy"]):
        return None
    eff = end_efficiency(df, baseline=baseline)
    return max((v for k, v in eff.items() if k != baseline and v == v), default=None)


# Paper Sec. 4.1: labeling efficiency of the top strategies, by (data set, model).
PAPER_EFFICIENCY = {("cifar10", "resnet18"): (1.8, 2.0), ("cifar10", "vgg19"): 1.6, ("cifar10", "dla"): 1.6,
                    ("cifar100", "resnet18"): 1.3, ("svhn", "resnet18"): 3.0, ("svhn", "vgg19"): 2.5,
                    ("fmnist", "resnet18"): 3.0, ("mnist", "mnist_net"): 4.5, ("mnist5k", "mnist_net"): 4.5}


def baseline_claims(df, baseline: str = "random") -> list[dict[str, Any]]:
    """Sec. 4.1 claims for one (data set, model): the top strategy's efficiency at the end, uncertainty
    sampling competitive with BADGE (within 0.5 points of AUBC), CoreSet the weakest AL strategy."""
    ds, model = str(df["dataset"].iloc[0]), str(df["model"].iloc[0])
    has_base = baseline in set(df["strategy"])
    eff = {k: v for k, v in end_efficiency(df, baseline=baseline).items() if k != baseline} if has_base else {}
    at = end_targets(df, baseline=baseline) if has_base else {}
    best = max(eff, key=lambda k: -1 if eff[k] != eff[k] else eff[k]) if eff else None
    area = _aubc(df)
    unc = [area[k] for k in ("entropy", "margin", "least_confidence") if k in area]
    active = {k: v for k, v in area.items() if k != baseline}
    return [
        {"claim": f"{ds} {model}: top strategy's labeling efficiency at the end", "tol": 0.3,
         "paper": PAPER_EFFICIENCY.get((ds, model), float("nan")),
         "ours": _nan_to_none(eff.get(best)) if best else None,
         "note": f"top: {best}, at {at[best]}" if best and eff[best] == eff[best]
         else f"no AL strategy shares an accuracy with {baseline}"},
        {"claim": f"{ds} {model}: uncertainty sampling within 0.5 points of BADGE (AUBC) or better", "paper": True,
         "ours": (max(unc) >= area["badge"] - 0.005) if unc and "badge" in area else None},
        {"claim": f"{ds} {model}: CoreSet has the lowest AUBC of the AL strategies", "paper": True,
         "ours": (min(active, key=active.get) == "coreset") if "coreset" in active and len(active) > 1 else None},
    ]


def augmentation_claims(df, alpha: float = 0.05) -> list[dict[str, Any]]:
    """Sec. 4.2: about +10 points with augmentation; efficiency higher with it; without it BADGE beats
    entropy; with it entropy beats BADGE in about 1 of 9 rounds (App. G claim 1)."""
    on, off = _subset(df, augment=True), _subset(df, augment=False)
    rows = []
    gain = None
    if len(on) and len(off):
        a_on, a_off = final_accuracy(on), final_accuracy(off)
        common = sorted(set(a_on) & set(a_off))
        gain = sum(a_on[k] - a_off[k] for k in common) / len(common) if common else None
    rows.append({"claim": "augmentation adds about 10 points of final accuracy (mean over strategies)",
                 "paper": 0.10, "ours": gain, "tol": 0.04})
    eff_on = _top_efficiency(on)
    eff_off = _top_efficiency(off)
    rows.append({"claim": "the top strategy's efficiency is higher with augmentation (1.4× → 1.8×)", "paper": True,
                 "ours": (eff_on > eff_off) if eff_on is not None and eff_off is not None else None})
    a_off = _aubc(off) if len(off) else {}
    rows.append({"claim": "without augmentation BADGE beats entropy (AUBC)", "paper": True,
                 "ours": (a_off["badge"] > a_off["entropy"]) if {"badge", "entropy"} <= set(a_off) else None})
    pm = penalty_or_none(on[on["strategy"].isin(["entropy", "badge"])], alpha=alpha) if len(on) else None
    rows.append({"claim": "with augmentation entropy beats BADGE significantly in 1 of 9 rounds (penalty cell)",
                 "paper": 0.11, "ours": cell(pm, "entropy", "badge"), "tol": 0.15})
    return rows


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


def optimizer_claims(df, alpha: float = 0.05) -> list[dict[str, Any]]:
    """Sec. 4.3 / App. C: SGD beats Adam in 8 of 9 rounds (App. G claim 2); SWA and shake-shake raise
    the final accuracy; together up to 2.25× labeling efficiency."""
    df = optimizer_variants(df)
    ent = df[df["strategy"] == "entropy"]
    pm = penalty_or_none(ent[ent["variant"].isin(["SGD", "Adam"])], by="variant", alpha=alpha)
    acc = final_accuracy(ent, by="variant") if len(ent) else {}
    both = df[df["variant"] == "SWA+SS"]
    eff = _top_efficiency(both)
    return [
        {"claim": "entropy with SGD beats entropy with Adam significantly in 8 of 9 rounds (penalty cell)",
         "paper": 0.89, "ours": cell(pm, "SGD", "Adam"), "tol": 0.2},
        {"claim": "SWA raises entropy's final accuracy over plain SGD", "paper": True,
         "ours": (acc["SWA"] > acc["SGD"]) if {"SWA", "SGD"} <= set(acc) else None},
        {"claim": "shake-shake raises entropy's final accuracy over plain SGD", "paper": True,
         "ours": (acc["SS"] > acc["SGD"]) if {"SS", "SGD"} <= set(acc) else None},
        {"claim": "SWA + shake-shake: top labeling efficiency up to 2.25×", "paper": 2.25, "ours": eff, "tol": 0.4},
    ]


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


def redundancy_claims(df) -> list[dict[str, Any]]:
    """Sec. 4.4: at the highest redundancy entropy falls below random (≈0.5×) while BADGE stays ≈1.5×;
    entropy's efficiency degrades as redundancy grows."""
    eff = efficiency_by(df, "redundancy")
    top = eff.index.max() if len(eff) else None
    low = eff.index.min() if len(eff) else None
    get = lambda k, f: _nan_to_none(eff.loc[f, k]) if k in eff.columns and f is not None else None  # noqa: E731
    e_hi, e_lo, b_hi = get("entropy", top), get("entropy", low), get("badge", top)
    gap = mean_gap(df[df["redundancy"] == top], "badge", "entropy") if top is not None else None
    return [
        {"claim": f"entropy's efficiency at the highest redundancy ({top}×) is about 0.5", "paper": 0.5,
         "ours": e_hi, "tol": 0.3},
        {"claim": f"BADGE's efficiency at the highest redundancy ({top}×) is about 1.5", "paper": 1.5,
         "ours": b_hi, "tol": 0.3},
        {"claim": "entropy's efficiency falls as redundancy grows", "paper": True,
         "ours": (e_hi < e_lo) if e_hi is not None and e_lo is not None and top != low else None},
        {"claim": "BADGE beats entropy at the highest redundancy (mean accuracy over the rounds both have)",
         "paper": True, "ours": (gap > 0) if gap is not None else None,
         "note": f"BADGE − entropy: {100 * gap:+.2f} points" if gap is not None else ""},
    ]


def per_class_claims(df) -> list[dict[str, Any]]:
    """Sec. 4.5: more unlabeled examples per class -> higher efficiency and relative accuracy."""
    eff = efficiency_by(df, "per_class")
    best = eff.drop(columns=["random"], errors="ignore").max(axis=1) if len(eff) else None
    rel = {}
    for value, part in df.groupby("per_class", sort=True):
        acc = final_accuracy(part)
        if "random" in acc and len(acc) > 1:
            rel[value] = max(v for k, v in acc.items() if k != "random") - acc["random"]
    keys = sorted(rel)
    return [
        {"claim": "top efficiency grows with the unlabeled examples per class", "paper": True,
         "ours": bool(best.iloc[-1] > best.iloc[0]) if best is not None and len(best) > 1 else None},
        {"claim": "top relative accuracy at the end grows with the examples per class", "paper": True,
         "ours": (rel[keys[-1]] > rel[keys[0]]) if len(keys) > 1 else None},
    ]


def batch_claims(df, alpha: float = 0.05) -> list[dict[str, Any]]:
    """Sec. 4.6 / Table 2: no two AL batch sizes differ significantly in more than 20% of the rounds
    (App. G claim 3), for every strategy, over the labeled-set sizes they share."""
    worst = None
    for _, part in df.groupby("strategy"):
        if part["budget"].nunique() < 2:
            continue
        pm = penalty_or_none(part, by="budget", alpha=alpha)
        if pm is not None:
            worst = max(worst or 0.0, float(pm.to_numpy().max()))
    return [{"claim": "AL batch sizes: largest penalty cell of any strategy", "paper": (0.0, 0.2), "ours": worst,
             "note": "rounds: labeled-set sizes shared by all batch sizes"}]


def seed_set_claims(df) -> list[dict[str, Any]]:
    """Sec. 4.6 / Table 3: seed sets matter at the start only (spread across seed sets shrinks)."""
    spread_first = spread_last = None
    ent = df[df["strategy"] == "entropy"] if "entropy" in set(df["strategy"]) else df
    if ent["seed_set"].nunique() > 1:
        from . import metrics

        curves = metrics.mean_curves(ent, by="seed_set")
        sizes = sorted(set.intersection(*(set(c["n_labeled"]) for _, c in curves.groupby("seed_set"))))
        at = lambda n: curves[curves["n_labeled"] == n]["mean"]  # noqa: E731
        spread_first = float(at(sizes[0]).max() - at(sizes[0]).min())
        spread_last = float(at(sizes[-1]).max() - at(sizes[-1]).min())
    return [{"claim": "seed sets matter only at the start: accuracy spread across seed sets shrinks (entropy)",
             "paper": True, "ours": (spread_last < spread_first) if spread_first is not None else None,
             "note": "" if spread_first is None else f"spread {spread_first:.3f} -> {spread_last:.3f}"}]


def _relative_or_none(df):
    """Updating's accuracy relative to resetting (metrics.relative_accuracy by="reset"), None when the
    table cannot give it (e.g. one label spans two data sets)."""
    from . import metrics

    try:
        return metrics.relative_accuracy(df, baseline=True, by="reset")
    except ValueError:
        return None


def reset_claims(df, alpha: float = 0.05) -> list[dict[str, Any]]:
    """Sec. 4.7 / App. E: no significant reset-vs-update difference over the last five rounds (App. G
    claim 5); updating is worse early; with Adam and no augmentation updating is worse throughout."""
    from . import metrics

    sgd = df[(df["optimizer"] == "sgd") & (df["augment"] == True)]  # noqa: E712
    worst = early = None
    for _, part in sgd.groupby("strategy"):
        if part["reset"].nunique() < 2:
            continue
        pm = penalty_or_none(part, by="reset", rounds=slice(-5, None), alpha=alpha)
        if pm is not None:
            worst = max(worst or 0.0, float(pm.to_numpy().max()))
        rel = _relative_or_none(part)
        rel = rel[rel["reset"] == False].sort_values("n_labeled") if rel is not None else []  # noqa: E712
        if len(rel) > 1:
            early = (early or []) + [float(rel["rel_acc"].iloc[1]) < 0]
    adam = df[(df["optimizer"] == "adam") & (df["augment"] == False)]  # noqa: E712
    worse = None
    if adam["reset"].nunique() > 1:
        rel = _relative_or_none(adam)
        rel = rel[rel["reset"] == False] if rel is not None else []  # noqa: E712
        worse = float((rel["rel_acc"] < 0).mean()) if len(rel) else None
    return [
        {"claim": "reset vs update, SGD + augmentation: largest penalty cell over the last five rounds",
         "paper": 0.0, "ours": worst, "tol": 0.2},
        {"claim": "updating is worse than resetting after the first selection round", "paper": True,
         "ours": all(early) if early else None},
        {"claim": "Adam without augmentation: fraction of rounds where updating is worse", "paper": 1.0,
         "ours": worse, "tol": 0.2},
    ]


def scalability_claims(df) -> list[dict[str, Any]]:
    """Sec. 4.8 / App. F: training dominates; BADGE selection about 18× entropy's (Table 13: 1 h vs
    3.4 min); updating saves about 1.07× training; GRAD-MATCH training about 3× faster with no
    accuracy loss at the full-training rounds (Table 14)."""
    from . import metrics

    base = df[(df["reset"] == True) & (df["dss"] == False)]  # noqa: E712
    tab = metrics.timing_table(base).set_index("strategy") if len(base) else None
    get = lambda s, c: float(tab.loc[s, c]) if tab is not None and s in tab.index else None  # noqa: E731
    train_share = None
    if get("entropy", "train_s") is not None:
        train_share = get("entropy", "train_s") / max(get("entropy", "total_s"), 1e-9)
    sel_ratio = None
    if get("badge", "select_s") and get("entropy", "select_s"):
        sel_ratio = get("badge", "select_s") / get("entropy", "select_s")
    t_reset = metrics.timing_table(base)["train_s"].sum() if len(base) else None
    upd = df[(df["reset"] == False) & (df["dss"] == False)]  # noqa: E712
    t_update = metrics.timing_table(upd)["train_s"].sum() if len(upd) else None
    dss = df[(df["dss"] == True) & (df["reset"] == True)]  # noqa: E712
    speed = loss = None
    if len(dss) and len(base):
        # the loop records which rounds trained on a subset (it also trains the last round in full)
        subset = dss["dss_round"].fillna(False).astype(bool)
        sub_rounds = dss[subset]
        full_same = base[base["round"].isin(sub_rounds["round"].unique())]
        if len(sub_rounds) and len(full_same) and sub_rounds["train_s"].mean() > 0:
            # mean seconds per (run, round) over the same rounds: full training / subset training
            speed = float(full_same["train_s"].mean() / sub_rounds["train_s"].mean())
        full_rounds = dss[~subset & (dss["round"] > 0)]
        a = full_rounds.groupby(["strategy", "n_labeled"])["test_acc"].mean()
        b = base.groupby(["strategy", "n_labeled"])["test_acc"].mean()
        common = a.index.intersection(b.index)
        if len(common):
            loss = float((b.loc[common] - a.loc[common]).mean())
    return [
        {"claim": "training dominates the loop: entropy's share of time in training", "paper": (0.9, 1.0),
         "ours": train_share},
        {"claim": "BADGE selection time ÷ entropy's (Table 13)", "paper": 18.0, "ours": sel_ratio, "tol": 8.0,
         "note": "our BADGE never forms the N×CD gradient matrix, so a lower ratio is expected"},
        {"claim": "updating instead of resetting saves training time ×", "paper": 1.07,
         "ours": (t_reset / t_update) if t_reset and t_update else None, "tol": 0.1},
        {"claim": "GRAD-MATCH (30% subsets) makes subset rounds' training faster ×", "paper": 3.0, "ours": speed,
         "tol": 1.0},
        {"claim": "GRAD-MATCH accuracy loss at full-training rounds (fraction)", "paper": 0.0, "ours": loss,
         "tol": 0.01},
    ]


PAPER_SELECT_S = {"random": 0.001, "entropy": 15.5, "least_confidence": 15.5, "margin": 16.5, "badge": 23.3,
                  "coreset": 26.5, "fass": 62.4, "glister": 62.7, "vaal": 34.2, "bald": 528.5, "batchbald": 641.3,
                  "adversarial_deepfool": 1587.5}


def lowdata_claims(df) -> list[dict[str, Any]]:
    """App. B.2: of BALD, BatchBALD, VAAL and DeepFool only DeepFool does well; BALD, BatchBALD and
    DeepFool select far slower than entropy (Table 12: 34-100×)."""
    from . import metrics

    area = _aubc(df)
    four = {k: area[k] for k in ("bald", "batchbald", "vaal", "adversarial_deepfool") if k in area}
    tab = metrics.timing_table(df).set_index("strategy")
    slow = [k for k in ("bald", "batchbald", "adversarial_deepfool") if k in tab.index]
    ratio = None
    if slow and "entropy" in tab.index and tab.loc["entropy", "select_s"] > 0:
        ratio = float(min(tab.loc[k, "select_s"] for k in slow) / tab.loc["entropy", "select_s"])
    return [
        {"claim": "DeepFool has the best AUBC of BALD, BatchBALD, VAAL, DeepFool", "paper": True,
         "ours": (max(four, key=four.get) == "adversarial_deepfool") if len(four) > 1 and "adversarial_deepfool" in four else None},
        {"claim": "slowest selection ÷ entropy's: BALD, BatchBALD, DeepFool (min ratio)", "paper": (34.0, 102.0),
         "ours": ratio, "note": "Table 12: 528.5, 641.3, 1587.5 s vs 15.5 s"},
    ]


def load_sources(sources: Mapping[str, str], base: str | os.PathLike | None = None) -> dict[str, Any]:
    """{name: results table} for each results folder in `sources` that exists (relative paths start at
    `base`, else the project root, else the working directory); missing folders are left out."""
    from . import results

    root = Path(base) if base is not None else (project_root() or Path.cwd())
    found = {}
    for name, path in sources.items():
        p = Path(path).expanduser()
        p = p if p.is_absolute() else root / p
        try:
            found[name] = results.load_results(p)
        except FileNotFoundError:
            continue
    return found


def significance_claims(found: Mapping[str, Any], alpha: float = 0.05) -> list[dict[str, Any]]:
    """App. G claims 1, 2, 3 and 5 on the results of sections 02, 03, 06 and 07 (keys as in the
    notebook's `sources`) with t-tests at level `alpha`; a section that is absent gives a "not measured" row."""
    # one row per data set (and model, except in 03 where the model is one of the compared variants)
    plan = [("02_augmentation", lambda d: augmentation_claims(d, alpha)[3:4], ("dataset", "model"),
             "with augmentation entropy beats BADGE significantly in 1 of 9 rounds (penalty cell)", 0.11, 0.15),
            ("03_optimizers", lambda d: optimizer_claims(d, alpha)[0:1], ("dataset",),
             "entropy with SGD beats entropy with Adam significantly in 8 of 9 rounds (penalty cell)", 0.89, 0.2),
            ("06_batch_size_seed_sets", lambda d: batch_claims(d[d["seed_set"] == "random"], alpha), ("dataset", "model"),
             "AL batch sizes: largest penalty cell of any strategy", (0.0, 0.2), 0.0),
            ("07_reset_update", lambda d: reset_claims(d, alpha)[0:1], ("dataset", "model"),
             "reset vs update, SGD + augmentation: largest penalty cell over the last five rounds", 0.0, 0.2)]
    rows = []
    for key, compute, keys, text, paper, tol in plan:
        got = per_context(compute, found[key], keys) if key in found else []
        for row in got:
            row["note"] = (row.get("note", "") + f" (from {key})").strip()
            rows.append(row)
        if not got:
            rows.append({"claim": text, "paper": paper, "ours": None, "tol": tol,
                         "note": f"{key} not run" if key not in found else f"{key} has no results"})
    return rows


def quickstart_claims(df) -> list[dict[str, Any]]:
    """The quickstart's indicative checks against the paper's MNIST numbers: an AL strategy beats random
    at the last round; the top labeling efficiency (paper: 4.5× late on 60,000 digits); accuracy with
    300 labels by random sampling (paper: 92.5%)."""
    acc = final_accuracy(df)
    both = "random" in acc and len(acc) > 1
    eff = [v for k, v in end_efficiency(df).items() if k != "random" and v == v] if both else []
    at_300 = df[(df["n_labeled"] == 300) & (df["strategy"] == "random")]["test_acc"]   # paper: random sampling
    return [
        {"claim": "an AL strategy beats random at the last round", "paper": True,
         "ours": max(v for k, v in acc.items() if k != "random") > acc["random"] if both else None},
        {"claim": "top labeling efficiency on MNIST (late rounds)", "paper": 4.5, "ours": max(eff, default=None),
         "tol": 1.0, "note": "paper: 60k pool, 98.5% accuracy; ours: 4k pool, a few hundred labels"},
        {"claim": "random sampling's accuracy with 300 labels", "paper": 0.925, "ours": float(at_300.mean()) if len(at_300) else None,
         "tol": 0.03},
    ]
