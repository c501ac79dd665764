"""Plots of the results table: accuracy curves with ± std bands, labeling efficiency, relative accuracy,
penalty-matrix heatmaps and cumulative time bars, in the same look in every notebook.

Every function takes the results table (or a frame computed from it by `metrics`), draws on the
matplotlib Axes given as `ax=` (a new figure when None) and returns it. Colours are fixed per strategy
name (`PALETTE`), so entropy is the same blue in every notebook; a label that combines a strategy with
a variant ("entropy / adam") keeps the strategy's colour and gets its own line style, and labels that
are not strategy names get stable colours from `FALLBACK_COLORS`. Axis labels carry units and titles
name the data set and the model when the table says which.
"""
from __future__ import annotations

import zlib
from typing import Iterable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from . import metrics

# Fixed colours per strategy name: uncertainty methods in blues/greens, diversity and hybrid methods in
# reds/oranges/purples, random in grey so that the baseline recedes.
PALETTE: dict[str, str] = {
    "random": "#666666",
    "entropy": "#1f77b4",
    "least_confidence": "#17becf",
    "margin": "#2ca02c",
    "badge": "#d62728",
    "coreset": "#8c564b",
    "fass": "#ff7f0e",
    "glister": "#9467bd",
    "kmeans": "#bcbd22",
    "bald": "#e377c2",
    "batchbald": "#7b4173",
    "adversarial_deepfool": "#393b79",
    "adversarial_bim": "#637939",
    "vaal": "#843c39",
    "partitioned": "#d6616b",
}
MARKERS: dict[str, str] = {
    "random": "o", "entropy": "s", "least_confidence": "v", "margin": "^", "badge": "D", "coreset": "X",
    "fass": "P", "glister": "*", "kmeans": "h", "bald": "<", "batchbald": ">", "adversarial_deepfool": "p",
    "adversarial_bim": "d", "vaal": "H", "partitioned": "8",
}
# Colours for labels that are not strategy names (optimizers, seed sets, batch sizes ...): chosen by a
# stable hash of the label so a label keeps its colour across notebooks, then the next free one.
FALLBACK_COLORS: tuple[str, ...] = ("#3182bd", "#e6550d", "#31a354", "#756bb1", "#de2d26", "#636363",
                                    "#fd8d3c", "#74c476", "#9e9ac8", "#6baed6", "#a55194", "#e7ba52")
LINESTYLES: tuple = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3)))
X_LABELS = {"n_labeled": "labeled-set size (images)", "round": "AL round"}


def styles(labels: Iterable, sep: str = metrics.LABEL_SEP) -> dict:
    """Line style per label: {label: {"color", "linestyle", "marker"}}.

    A label whose first part (before `sep`) is a strategy in PALETTE takes that colour and marker;
    labels sharing a colour get different line styles in sorted order; other labels take a colour from
    FALLBACK_COLORS by a hash of their text, moving on to the next unused one on a clash."""
    labels = list(dict.fromkeys(labels))
    out: dict = {}
    used: set[str] = set()
    base_of = {lab: str(lab).split(sep)[0].strip() for lab in labels}
    for lab in sorted(labels, key=str):
        base = base_of[lab]
        if base in PALETTE:
            out[lab] = {"color": PALETTE[base], "marker": MARKERS.get(base, "o")}
            used.add(PALETTE[base])
    for lab in sorted(labels, key=str):
        if lab in out:
            continue
        start = zlib.crc32(str(lab).encode()) % len(FALLBACK_COLORS)
        order = [FALLBACK_COLORS[(start + k) % len(FALLBACK_COLORS)] for k in range(len(FALLBACK_COLORS))]
        color = next((c for c in order if c not in used), order[0])
        used.add(color)
        out[lab] = {"color": color, "marker": "o"}
    by_color: dict[str, list] = {}
    for lab in sorted(labels, key=str):
        by_color.setdefault(out[lab]["color"], []).append(lab)
    for group in by_color.values():
        for k, lab in enumerate(group):
            out[lab]["linestyle"] = LINESTYLES[k % len(LINESTYLES)]
    return out


def _axes(ax: Axes | None, figsize=(6.4, 4.2)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    return ax


def describe(df: pd.DataFrame | None) -> str:
    """ "MNIST · mnist_net" from the table's dataset and model columns (several values joined), or ""."""
    if df is None:
        return ""
    parts = []
    for col in ("dataset", "model"):
        if col in df.columns:
            vals = [str(v) for v in pd.unique(df[col].dropna())]
            if vals:
                parts.append(", ".join(sorted(vals)))
    return " · ".join(parts)


def _title(ax: Axes, what: str, df: pd.DataFrame | None, title: str | None) -> None:
    if title is None:
        where = describe(df)
        title = f"{what} — {where}" if where else what
    ax.set_title(title)


def _x_label(x: str) -> str:
    return X_LABELS.get(x, x)


def _legend(ax: Axes, title: str) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(title=title, fontsize="small", title_fontsize="small", frameon=False)


def plot_accuracy(df: pd.DataFrame, by: str | Sequence[str] = "strategy", x: str = "n_labeled",
                  ax: Axes | None = None, band: bool = True, title: str | None = None) -> Axes:
    """Mean test accuracy (%) over seeds against the labeled-set size, one line per label, with a
    ± 1 sample-std band when there are >= 2 seeds."""
    curves = metrics.mean_curves(df, by=by, x=x)
    lab = metrics.label_column(by)
    ax = _axes(ax)
    st = styles(curves[lab])
    for name, c in curves.groupby(lab, sort=True):
        s = st[name]
        ax.plot(c[x], c["mean"] * 100, label=str(name), color=s["color"], linestyle=s["linestyle"],
                marker=s["marker"], markersize=4)
        if band and c["std"].notna().any():
            sd = c["std"].fillna(0.0) * 100
            ax.fill_between(c[x], c["mean"] * 100 - sd, c["mean"] * 100 + sd, color=s["color"], alpha=0.15,
                            linewidth=0)
    ax.set_xlabel(_x_label(x))
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    _legend(ax, lab)
    _title(ax, "Test accuracy", df, title)
    return ax


def plot_labeling_efficiency(df: pd.DataFrame | metrics.LabelingEfficiency, baseline="random",
                             by: str | Sequence[str] = "strategy", per: str = "labels",
                             targets: Sequence[float] | None = None, ax: Axes | None = None,
                             title: str | None = None, show_baseline: bool = False,
                             ci: float | None = 0.95, n_boot: int = 2000, seed: int = 0) -> Axes:
    """Labeling efficiency against `baseline` (paper Fig. 1): per="labels" plots it against the
    labeled-set size, per="accuracy" against the target test accuracy (%). `df` is the results table
    or a `metrics.LabelingEfficiency`. A dotted line marks 1 (as efficient as the baseline); NaN points
    (accuracies the baseline never reaches) leave gaps. With the results table and ci a level, the
    bootstrap CI over seeds of `metrics.labeling_efficiency_ci` (n_boot resamples, generator seeded
    with `seed`) is drawn as error bars (per="labels") or a band (per="accuracy") for labels with
    >= 2 seeds; ci=None draws none."""
    if per not in ("labels", "accuracy"):
        raise ValueError(f"per={per!r} is invalid; allowed: 'labels', 'accuracy'")
    if isinstance(df, metrics.LabelingEfficiency):
        eff, table = df, None
        frame = eff.by_labels if per == "labels" else eff.by_accuracy
    else:
        table = df
        if ci is None:
            eff = metrics.labeling_efficiency(df, baseline=baseline, targets=targets, by=by)
            frame = eff.by_labels if per == "labels" else eff.by_accuracy
        else:
            frame = metrics.labeling_efficiency_ci(df, baseline=baseline, by=by, per=per, targets=targets,
                                                   n_boot=n_boot, level=ci, seed=seed)
    lab = metrics.label_column(by)
    if lab not in frame.columns:
        raise ValueError(f"the efficiency frame has no column {lab!r} (by={by!r}); it has {list(frame.columns)}")
    ax = _axes(ax)
    st = styles(frame[lab])
    xcol = "n_labeled" if per == "labels" else "target_acc"
    for name, c in frame.groupby(lab, sort=True):
        if name == baseline and not show_baseline:
            continue
        s = st[name]
        xs = c[xcol] * (100 if per == "accuracy" else 1)
        ax.plot(xs, c["efficiency"], label=str(name), color=s["color"], linestyle=s["linestyle"],
                marker=s["marker"] if per == "labels" else None, markersize=4)
        if "ci_low" in c.columns and c["ci_low"].notna().any():
            if per == "labels":
                ax.vlines(xs, c["ci_low"], c["ci_high"], color=s["color"], linewidth=1.2, alpha=0.8)
            else:
                ax.fill_between(xs, c["ci_low"], c["ci_high"], color=s["color"], alpha=0.15, linewidth=0)
    ax.axhline(1.0, color=PALETTE["random"], linestyle=":", linewidth=1, label=f"{baseline} (= 1)")
    ax.set_xlabel(_x_label("n_labeled") if per == "labels" else "target test accuracy (%)")
    ax.set_ylabel(f"labeling efficiency (× vs {baseline})")
    ax.grid(alpha=0.3)
    _legend(ax, lab)
    _title(ax, "Labeling efficiency", table, title)
    return ax


def plot_relative_accuracy(df: pd.DataFrame, baseline="random", by: str | Sequence[str] = "strategy",
                           x: str = "n_labeled", ax: Axes | None = None, band: bool = True,
                           title: str | None = None) -> Axes:
    """Mean test accuracy minus the baseline's, in percentage points, against the labeled-set size
    (paper Sec. 4.5), with a ± 1 std band of the per-seed differences where seeds are shared."""
    rel = metrics.relative_accuracy(df, baseline=baseline, by=by, x=x)
    lab = metrics.label_column(by)
    ax = _axes(ax)
    st = styles(rel[lab])
    for name, c in rel.groupby(lab, sort=True):
        if name == baseline:
            continue
        s = st[name]
        y = c["rel_acc"] * 100
        ax.plot(c[x], y, label=str(name), color=s["color"], linestyle=s["linestyle"], marker=s["marker"],
                markersize=4)
        if band and c["rel_acc_std"].notna().any():
            sd = c["rel_acc_std"].fillna(0.0) * 100
            ax.fill_between(c[x], y - sd, y + sd, color=s["color"], alpha=0.15, linewidth=0)
    ax.axhline(0.0, color=PALETTE["random"], linestyle=":", linewidth=1, label=f"{baseline} (= 0)")
    ax.set_xlabel(_x_label(x))
    ax.set_ylabel(f"accuracy − {baseline} (percentage points)")
    ax.grid(alpha=0.3)
    _legend(ax, lab)
    _title(ax, "Accuracy relative to " + str(baseline), df, title)
    return ax


def plot_penalty_matrix(data: pd.DataFrame, ax: Axes | None = None, alpha: float = 0.05, rounds=None,
                        by: str | Sequence[str] = "strategy", title: str | None = None, cmap: str = "Reds",
                        colorbar: bool = True) -> Axes:
    """Heatmap of a penalty matrix with its value in every cell: row i, column j = fraction of rounds
    in which i is significantly better than j (App. G). `data` is the matrix from
    `metrics.penalty_matrix` or the results table (the matrix is then computed with alpha, rounds, by)."""
    table = None
    if "test_acc" in getattr(data, "columns", []):
        table = data
        data = metrics.penalty_matrix(data, alpha=alpha, rounds=rounds, by=by)
    if not isinstance(data, pd.DataFrame) or data.shape[0] != data.shape[1]:
        raise ValueError("plot_penalty_matrix needs a square penalty matrix (metrics.penalty_matrix) or the "
                         f"results table; got {type(data).__name__} of shape {getattr(data, 'shape', None)}")
    ax = _axes(ax, figsize=(1.2 + 0.9 * len(data), 0.9 + 0.8 * len(data)))
    values = data.to_numpy(dtype=float)
    im = ax.imshow(values, cmap=cmap, vmin=0.0, vmax=1.0)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize="small",
                    color="white" if v > 0.6 else "black")
    ax.set_xticks(range(values.shape[1]), [str(c) for c in data.columns], rotation=35, ha="right")
    ax.set_yticks(range(values.shape[0]), [str(r) for r in data.index])
    ax.set_xlabel("worse (column)")
    ax.set_ylabel("significantly better (row)")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, label="fraction of rounds", fraction=0.046, pad=0.04)
    n = data.attrs.get("n_rounds")
    a = data.attrs.get("alpha", alpha)
    what = f"Penalty matrix (α = {a}" + (f", {n} rounds)" if n else ")")
    _title(ax, what, table, title)
    return ax


def _time_unit(seconds: float, unit: str) -> tuple[float, str]:
    if unit == "auto":
        unit = "s" if seconds < 120 else "min" if seconds < 2 * 3600 else "h"
    scale = {"s": 1.0, "min": 60.0, "h": 3600.0}
    if unit not in scale:
        raise ValueError(f"unit={unit!r} is invalid; allowed: 'auto', 's', 'min', 'h'")
    return scale[unit], unit


def plot_timing(df: pd.DataFrame, by: str | Sequence[str] = "strategy", ax: Axes | None = None,
                unit: str = "auto", title: str | None = None) -> Axes:
    """Stacked bars of the mean cumulative training (solid) and selection (hatched) time per label
    (paper Sec. 4.8, Table 13); the total energy in kJ is written above a bar when the table has it."""
    tab = metrics.timing_table(df, by=by)
    lab = metrics.label_column(by)
    ax = _axes(ax)
    scale, unit = _time_unit(float(tab["total_s"].max()), unit)
    st = styles(tab[lab])
    pos = np.arange(len(tab))
    train = tab["train_s"].to_numpy(float) / scale
    select = tab["select_s"].to_numpy(float) / scale
    colors = [st[n]["color"] for n in tab[lab]]
    ax.bar(pos, train, color=colors, edgecolor="black", linewidth=0.5)
    ax.bar(pos, select, bottom=train, color=colors, alpha=0.45, hatch="//", edgecolor="black", linewidth=0.5)
    if "energy_j" in tab.columns:
        for p, top, e in zip(pos, train + select, tab["energy_j"]):
            if pd.notna(e):
                ax.annotate(f"{e / 1000:.1f} kJ", (p, top), ha="center", va="bottom", fontsize="x-small",
                            xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(pos, [str(n) for n in tab[lab]], rotation=30, ha="right")
    ax.set_xlabel(lab)
    ax.set_ylabel(f"cumulative time ({unit})")
    ax.legend(handles=[Patch(facecolor="#bbbbbb", edgecolor="black", label="training"),
                       Patch(facecolor="#bbbbbb", alpha=0.45, hatch="//", edgecolor="black",
                             label="selection")], fontsize="small", frameon=False)
    ax.grid(alpha=0.3, axis="y")
    _title(ax, "Time over all rounds", df, title)
    return ax


def plot_summary(df: pd.DataFrame, baseline="random", by: str | Sequence[str] = "strategy",
                 figsize=(12.0, 8.5)) -> Figure:
    """One figure of four panels: accuracy, labeling efficiency per labeled-set size, relative accuracy,
    and the penalty matrix over the labels with >= 2 seeds at each of their points (the title names
    the labels left out; a note in its place when fewer than two labels remain)."""
    fig, axes = plt.subplots(2, 2, figsize=figsize, constrained_layout=True)
    plot_accuracy(df, by=by, ax=axes[0, 0], title="Test accuracy")
    plot_labeling_efficiency(df, baseline=baseline, by=by, ax=axes[0, 1], title="Labeling efficiency")
    plot_relative_accuracy(df, baseline=baseline, by=by, ax=axes[1, 0], title=f"Accuracy relative to {baseline}")
    testable, left_out = metrics.testable(df, by=by)
    title = "Penalty matrix" + (f" (too few seeds: {', '.join(left_out)})" if left_out else "")
    if metrics.make_label(testable, by).nunique() < 2:
        testable = df                         # penalty_matrix then says what is missing, as a note
    try:
        plot_penalty_matrix(testable, by=by, ax=axes[1, 1], title=title)
    except metrics.NotEnoughData as err:
        axes[1, 1].set_axis_off()
        axes[1, 1].text(0.5, 0.5, f"No penalty matrix:\n{err}", ha="center", va="center", wrap=True,
                        fontsize="small", transform=axes[1, 1].transAxes)
    where = describe(df)
    if where:
        fig.suptitle(where)
    return fig


def plot_effect_sizes(effects: pd.DataFrame, ax: Axes | None = None, at=None, x: str = "n_labeled",
                      title: str | None = None) -> Axes:
    """Forest plot of `metrics.effect_sizes`, to sit beside the penalty matrix: one row per pair
    ("a − b"), its mean accuracy difference in percentage points with the CI as a horizontal bar, at
    the labeled-set size `at` (None -> the largest in the frame). A dotted line marks 0; pairs whose
    CI excludes 0 are drawn filled, the others hollow."""
    metrics.require_columns(effects, [x, "pair", "mean_diff", "ci_low", "ci_high"], "effect-size frame")
    sizes = sorted(effects[x].unique())
    if not sizes:
        raise metrics.NotEnoughData("the effect-size frame is empty")
    at = sizes[-1] if at is None else at
    if at not in set(sizes):
        raise ValueError(f"{x}={at} is not in the effect-size frame; present: {[metrics._py(v) for v in sizes]}")
    rows = effects[effects[x] == at].reset_index(drop=True)
    ax = _axes(ax, figsize=(5.0, 0.9 + 0.4 * len(rows)))
    pos = np.arange(len(rows))[::-1]
    mean, lo, hi = (rows[c].to_numpy(float) * 100 for c in ("mean_diff", "ci_low", "ci_high"))
    ax.hlines(pos, lo, hi, color="black", linewidth=1.5)
    clear = (lo > 0) | (hi < 0)
    ax.scatter(mean[clear], pos[clear], color="black", zorder=3, s=25)
    ax.scatter(mean[~clear], pos[~clear], facecolor="white", edgecolor="black", zorder=3, s=25)
    ax.axvline(0.0, color=PALETTE["random"], linestyle=":", linewidth=1)
    ax.set_yticks(pos, [str(p) for p in rows["pair"]])
    ax.set_xlabel("accuracy difference (percentage points)")
    ax.grid(alpha=0.3, axis="x")
    if title is None:
        title = f"Effect sizes at {x}={metrics._py(at)}"
    ax.set_title(title)
    return ax


def plot_critical_difference(rank_tests: metrics.RankTests, ax: Axes | None = None, alpha: float = 0.05,
                             title: str | None = None) -> Axes:
    """Critical-difference diagram (Demšar 2006) of `metrics.rank_tests`: the average rank of every
    label on an axis from 1 (best, left) to k, a bar of the Nemenyi critical difference at level
    `alpha` (`metrics.critical_difference`), and thick bars joining labels whose average ranks differ
    by less than it (not significantly different). The title gives Friedman's p and the block count."""
    ranks = rank_tests.avg_ranks.sort_values(kind="stable")
    k = len(ranks)
    cd = metrics.critical_difference(ranks, rank_tests.n_blocks, alpha=alpha)
    ax = _axes(ax, figsize=(6.4, 1.6 + 0.3 * k))
    st = styles(ranks.index)
    half = (k + 1) // 2
    ax.hlines(0, 1, k, color="black", linewidth=1)
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.08, color="black", linewidth=1)
        ax.text(r, 0.12, str(r), ha="center", va="bottom", fontsize="small")
    for i, (name, r) in enumerate(ranks.items()):
        left = i < half
        y = -0.35 - 0.3 * (i if left else k - 1 - i)
        end = 0.6 if left else k + 0.4
        color = st[name]["color"]
        ax.plot([r, r, end], [0, y, y], color=color, linewidth=1)
        ax.text(end + (-0.05 if left else 0.05), y, f"{name} ({r:.2f})", ha="right" if left else "left",
                va="center", fontsize="small", color=color)
    ax.plot([1, 1 + cd], [0.45, 0.45], color="black", linewidth=2)
    ax.text(1 + cd / 2, 0.5, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize="small")
    values = ranks.to_numpy(float)
    cliques = [(i, j) for i in range(k) for j in range(i + 1, k) if values[j] - values[i] < cd]
    maximal = [(i, j) for i, j in cliques if not any(a <= i and j <= b and (a, b) != (i, j) for a, b in cliques)]
    for n, (i, j) in enumerate(maximal):
        y = -0.1 - 0.08 * n
        ax.plot([values[i] - 0.03, values[j] + 0.03], [y, y], color="black", linewidth=3, solid_capstyle="round")
    ax.set_xlim(-0.6, k + 1.6)
    ax.set_ylim(-0.5 - 0.3 * half, 0.8)
    ax.set_axis_off()
    if title is None:
        p = rank_tests.friedman_p
        title = (f"Average ranks over {rank_tests.n_blocks} blocks"
                 + (f" (Friedman p = {p:.2g}, α = {alpha})" if p == p else f" (α = {alpha})"))
    ax.set_title(title)
    return ax


def facets(df: pd.DataFrame, plot, group: str | Sequence[str], ncols: int = 3,
           panel_size: tuple[float, float] = (5.0, 3.6), **kwargs) -> Figure:
    """One panel per value of `group` (e.g. the redundancy factor or the data set), each drawn by
    `plot(sub_table, ax=..., title="redundancy=5", **kwargs)` with any plot function of this module.
    Returns the Figure; the table's data set and model name it."""
    cols = metrics._as_list(group)
    metrics.require_columns(df, cols)
    if ncols < 1:
        raise ValueError(f"ncols={ncols} is invalid; allowed: an integer >= 1")
    parts = list(df.groupby(cols, sort=True, dropna=False))
    if not parts:
        raise ValueError("the results table is empty")
    nrows = -(-len(parts) // ncols)
    ncols = min(ncols, len(parts))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
                             constrained_layout=True, squeeze=False)
    for ax, (key, sub) in zip(axes.ravel(), parts):
        key = key if isinstance(key, tuple) else (key,)
        plot(sub, ax=ax, title=", ".join(f"{c}={metrics._py(v)}" for c, v in zip(cols, key)), **kwargs)
    for ax in axes.ravel()[len(parts):]:
        ax.set_axis_off()
    where = describe(df)
    if where:
        fig.suptitle(where)
    return fig


# Batch diagnostics of the loop (loop.batch_diagnostics): column -> (panel title, y label, scale).
DIAGNOSTICS: dict[str, tuple[str, str, float]] = {
    "sel_class_entropy": ("Class balance of the batch", "class entropy / log(classes)", 1.0),
    "sel_dup_frac": ("Repeats within the batch", "share of the batch (%)", 100.0),
    "sel_near_dup_frac": ("Near-duplicates (pixel features)", "share of the batch (%)", 100.0),
    "sel_dist_labeled": ("Distance to the labeled set", "mean distance (seed features)", 1.0),
}


def _not_measured(ax: Axes, title: str, why: str) -> None:
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, why, ha="center", va="center", wrap=True, fontsize="small", transform=ax.transAxes)


def class_histograms(df: pd.DataFrame, by: str | Sequence[str] = "strategy") -> pd.DataFrame:
    """Selected points per class summed over the rounds after the seed set (round >= 1), averaged over
    seeds: one row per label, one column per class index. Rows without `sel_class_counts` (results
    written before it existed) are left out."""
    metrics.require_columns(df, ["round", "seed", "sel_class_counts"])
    lab = metrics.label_column(by)
    t = df.assign(**{lab: metrics.make_label(df, by)})
    t = t[(t["round"] >= 1) & t["sel_class_counts"].map(lambda v: isinstance(v, (list, tuple, np.ndarray)))]
    if t.empty:
        return pd.DataFrame()
    counts = pd.DataFrame(t["sel_class_counts"].map(list).tolist(), index=t.index).fillna(0)
    summed = counts.join(t[[lab, "seed"]]).groupby([lab, "seed"]).sum()
    return summed.groupby(level=0).mean()


def plot_diagnostics(df: pd.DataFrame, by: str | Sequence[str] = "strategy", x: str = "round",
                     figsize_per_panel=(4.2, 3.2)) -> Figure:
    """One panel per batch diagnostic of the loop (the `sel_*` columns, see loop.batch_diagnostics)
    against the AL round, one line per label (mean over seeds; round 0 is the seed set), and a last
    panel with the class histogram of everything selected after the seed set (mean over seeds). A
    diagnostic the table lacks (rows written before it existed) gets a note in its panel."""
    metrics.require_columns(df, [x, "seed", *metrics._as_list(by)])
    lab = metrics.label_column(by)
    t = df.assign(**{lab: metrics.make_label(df, by)})
    names = list(DIAGNOSTICS)
    fig, axes = plt.subplots(1, len(names) + 1, constrained_layout=True, squeeze=False,
                             figsize=(figsize_per_panel[0] * (len(names) + 1), figsize_per_panel[1]))
    axes = axes[0]
    st = styles(t[lab])
    for ax, col in zip(axes, names):
        title, ylabel, scale = DIAGNOSTICS[col]
        if col not in t.columns or pd.to_numeric(t[col], errors="coerce").notna().sum() == 0:
            _not_measured(ax, title, f"not measured: the table has no {col} values")
            continue
        mean = (t.assign(v=pd.to_numeric(t[col], errors="coerce") * scale)
                .groupby([lab, x], sort=True)["v"].mean().reset_index())
        for name, c in mean.groupby(lab, sort=True):
            s = st[name]
            ax.plot(c[x], c["v"], label=str(name), color=s["color"], linestyle=s["linestyle"],
                    marker=s["marker"], markersize=4)
        ax.set_title(title)
        ax.set_xlabel(_x_label(x))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    _legend(axes[0], lab)
    ax = axes[-1]
    hist = class_histograms(t, by=lab) if "sel_class_counts" in t.columns else pd.DataFrame()
    if hist.empty:
        _not_measured(ax, "Selected per class", "not measured: no sel_class_counts after the seed set")
    else:
        width = 0.8 / len(hist)
        pos = np.arange(hist.shape[1])
        for k, (name, row) in enumerate(hist.iterrows()):
            ax.bar(pos + k * width - 0.4 + width / 2, row.to_numpy(float), width=width, label=str(name),
                   color=st[name]["color"])
        ax.set_xticks(pos, [str(c) for c in hist.columns])
        ax.set_title("Selected per class (rounds >= 1)")
        ax.set_xlabel("class")
        ax.set_ylabel("points (mean over seeds)")
        ax.grid(alpha=0.3, axis="y")
    where = describe(df)
    fig.suptitle(f"Batch diagnostics — {where}" if where else "Batch diagnostics")
    return fig


def plot_replay_overlap(df: pd.DataFrame, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Heatmap of the mean Jaccard overlap (%) over rounds between the batches that replayed strategies
    pick from the same round models, and the batch the run recorded ("run"); input: a `replay.replay`
    table (see `replay.overlap_matrix`). 100% on the diagonal; the run's own strategy against "run" is
    100% when the replay reproduces the run."""
    from .replay import overlap_matrix

    m = overlap_matrix(df) * 100
    ax = _axes(ax, figsize=(1.2 * len(m) + 2.0, 1.0 * len(m) + 1.2))
    im = ax.imshow(m.to_numpy(float), vmin=0, vmax=100, cmap="viridis")
    labels = [f"run ({', '.join(map(str, pd.unique(df['run_strategy'])))})" if n == "run" and "run_strategy" in df
              else str(n) for n in m.index]
    ax.set_xticks(range(len(m)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(m)), labels)
    for i in range(len(m)):
        for j in range(len(m)):
            v = m.iat[i, j]
            ax.text(j, i, "—" if v != v else f"{v:.0f}", ha="center", va="center", fontsize="small",
                    color="white" if v == v and v < 60 else "black")
    ax.figure.colorbar(im, ax=ax, label="Jaccard overlap (%)")
    rounds = sorted(pd.unique(df["round"])) if "round" in df else []
    _title(ax, f"Overlap of selected batches (rounds {', '.join(map(str, rounds))})", df, title)
    return ax
