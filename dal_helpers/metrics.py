"""Metrics over the results table: labeling efficiency, relative accuracy, accuracy tables, penalty
matrices, the area under the budget curve and timing, as in the paper's Sec. 4 and App. G; and
statistics beyond the paper: Friedman and Holm-corrected Wilcoxon rank tests with the Nemenyi critical
difference, bootstrap confidence intervals over seeds, effect sizes and a seeds-needed estimate. A metric
that the table cannot support (too few seeds, rounds or overlap) raises `NotEnoughData`.

Every function reads the tidy results table (one row per run and round: `strategy, seed, n_labeled,
test_acc, ...`, test_acc a fraction in [0, 1]) and returns a pandas DataFrame. What is compared is
chosen with `by` (a column such as "strategy", "optimizer", "reset", or a list of columns whose values
are joined into one label, e.g. `by=["strategy", "optimizer", "reset"]` -> "entropy / adam / reset=True");
`group` names columns whose values are analysed separately (e.g. `group="redundancy"`). Curves are
matched across strategies on the labeled-set size (`x="n_labeled"`), so runs with different AL batch
sizes compare at the sizes they share. Seeds are the repetitions: means and spreads are over seeds.
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats

LABEL_SEP = " / "
# Columns that make two runs incomparable at the same labeled-set size; a table where one (group, label)
# spans several of their values is refused rather than silently averaged.
CONTEXT_COLUMNS = ("dataset", "model")
# Measurements and bookkeeping that legitimately differ between rows of the same run.
_MEASURED = {"run_id", "round", "n_labeled", "test_acc", "train_acc", "epochs", "train_s", "select_s",
             "eval_s", "energy_j", "train_energy_j", "select_energy_j", "gpu_energy_j", "cpu_energy_j",
             "train_loss", "stop", "n_seen", "swa_epochs", "dss_round", "final", "n_selected",
             "sel_class_entropy", "sel_dup_frac", "sel_dist_labeled", "sel_class_counts",
             "sel_near_dup_frac", "seed", "timestamp", "time"}


class NotEnoughData(ValueError):
    """A metric cannot be computed because the table lacks seeds, rounds or an overlap between curves
    (e.g. a t-test over one seed, AUBC of runs that share no labeled-set range). The only exception a
    caller should catch to report "not enough data"; any other error is a real mistake."""


# --------------------------------------------------------------------------------------------------
# table plumbing
# --------------------------------------------------------------------------------------------------

def require_columns(df: pd.DataFrame, columns: Iterable[str], what: str = "results table") -> None:
    """Raise ValueError listing every column of `columns` that `df` lacks (and the ones it has)."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame as the {what}, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"the {what} lacks required column(s) {missing}; it has: {list(df.columns)}")


def _as_list(cols: str | Sequence[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [cols]
    return list(cols)


def label_column(by: str | Sequence[str]) -> str:
    """Name of the label column in outputs: `by` itself for one column, "label" for several."""
    cols = _as_list(by)
    if not cols:
        raise ValueError("by=[] is invalid; name at least one column to compare (e.g. 'strategy')")
    return cols[0] if len(cols) == 1 else "label"


def make_label(df: pd.DataFrame, by: str | Sequence[str], sep: str = LABEL_SEP) -> pd.Series:
    """One label per row. A single column is returned unchanged (values keep their type); several
    columns are joined with `sep`, string values as they are and other values as `column=value`,
    so that flags stay readable: by=["strategy", "optimizer", "reset"] -> "entropy / adam / reset=True"."""
    cols = _as_list(by)
    require_columns(df, cols)
    if len(cols) == 1:
        return df[cols[0]].rename(label_column(cols))

    def part(col: str) -> pd.Series:
        s = df[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            return s.astype(str)
        return col + "=" + s.astype(str)

    out = part(cols[0])
    for c in cols[1:]:
        out = out + sep + part(c)
    return out.rename("label")


def check_numeric(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise ValueError naming each of `columns` that does not hold numbers (e.g. accuracies stored as
    strings, which would sort "1000" before "200" and give wrong areas instead of an error)."""
    bad = []
    for col in dict.fromkeys(columns):
        if col in df.columns and not (pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col])):
            examples = df[col].dropna().head(3).tolist()
            bad.append(f"{col!r} ({df[col].dtype}, e.g. {examples})")
    if bad:
        raise ValueError(f"columns {', '.join(bad)} must hold numbers; convert them "
                         "(pd.to_numeric) or fix the results files they came from")


def _prepare(df: pd.DataFrame, by, group, x: str, needed: Sequence[str]) -> tuple[pd.DataFrame, str, list[str]]:
    """Validate, add the label column, refuse ambiguous tables. Returns (frame, label name, group cols)."""
    by_cols, group_cols = _as_list(by), _as_list(group)
    require_columns(df, [*by_cols, *group_cols, x, "seed", *needed])
    if len(df) == 0:
        raise NotEnoughData("the results table is empty")
    lab = label_column(by_cols)
    if lab in group_cols:
        raise ValueError(f"column {lab!r} is both compared (by) and grouped (group); choose one")
    check_numeric(df, [x, "seed", *needed])
    if "test_acc" in needed:
        acc = pd.to_numeric(df["test_acc"], errors="coerce")
        if acc.isna().any() or (acc < 0).any() or (acc > 1).any():
            bad = df.loc[acc.isna() | (acc < 0) | (acc > 1), "test_acc"].head(3).tolist()
            raise ValueError(f"test_acc must hold accuracies as fractions in [0, 1]; got {bad} "
                             "(percentages? divide by 100; missing values? drop those rows)")
    out = df.copy()
    out[lab] = make_label(df, by_cols)
    keys = [*group_cols, lab]
    for col in CONTEXT_COLUMNS:
        if col in out.columns and col not in by_cols and col not in group_cols:
            # a label that already determines the model (e.g. a `variant` column) averages nothing across it
            spans = out.groupby(keys, sort=False, dropna=False)[col].nunique()
            if len(spans) and spans.max() > 1:
                values = out[col].dropna().unique()
                raise ValueError(f"the table mixes {col} values {sorted(map(str, values))}; filter it "
                                 f"(df[df.{col} == ...]) or pass group={[*group_cols, col]!r}")
    dup = out.duplicated([*keys, "seed", x], keep=False)
    if dup.any():
        rows = out[dup]
        first = rows.iloc[0]
        same = rows
        for k in [*keys, "seed", x]:
            same = same[same[k] == first[k]]
        differ = [c for c in same.columns if c not in _MEASURED and c not in keys
                  and same[c].astype(str).nunique() > 1]
        where = ", ".join(f"{k}={_py(first[k])!r}" for k in [*keys, "seed", x])
        hint = (f"they differ in {differ}; add them to by or group" if differ else
                "drop the repeated rows (the same run loaded twice?)")
        raise ValueError(f"{len(same)} rows share {where}; {hint}")
    return out, lab, group_cols


def _py(value):
    """A numpy scalar as the plain Python value, so that messages read `seed=0`, not `np.int64(0)`."""
    return value.item() if isinstance(value, np.generic) else value


def _groups(frame: pd.DataFrame, group_cols: list[str]):
    """Yield (dict of group values, sub-frame); one item with {} when there is no grouping."""
    if not group_cols:
        yield {}, frame
        return
    for key, sub in frame.groupby(group_cols, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        yield dict(zip(group_cols, map(_py, key))), sub


def _check_baseline(frame: pd.DataFrame, lab: str, baseline, where: Mapping) -> None:
    present = list(pd.unique(frame[lab]))
    if baseline not in present:
        in_group = f" in group {dict(where)}" if where else ""
        raise ValueError(f"baseline {lab}={baseline!r} is not in the table{in_group}; "
                         f"{lab} values present: {sorted(map(str, present))}")


def mean_curves(df: pd.DataFrame, by: str | Sequence[str] = "strategy", group=None,
                x: str = "n_labeled", y: str = "test_acc") -> pd.DataFrame:
    """Mean and sample standard deviation (ddof=1) of `y` over seeds at every labeled-set size.

    Returns columns [*group, label, x, mean, std, n_seeds], sorted; std is NaN with one seed."""
    frame, lab, g = _prepare(df, by, group, x, [y])
    agg = (frame.groupby([*g, lab, x], sort=True, dropna=False)[y]
           .agg(mean="mean", std="std", n_seeds="count").reset_index())
    return agg


# --------------------------------------------------------------------------------------------------
# labeling efficiency (paper Sec. 4.1)
# --------------------------------------------------------------------------------------------------

def labels_to_reach(n_labeled: np.ndarray, acc: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Smallest labeled-set size at which a curve first reaches each target accuracy.

    n_labeled: (n,) increasing sizes; acc: (n,) accuracies at those sizes; targets: (m,) accuracies.
    Between two rounds the curve is linear, so a target crossed between sizes x0 < x1 is reached at
    x0 + (t - a0) / (a1 - a0) * (x1 - x0). Returns (m,) sizes (float), NaN for a target above every
    point of the curve or below its first point: the curve says nothing there, and extrapolating
    would invent labels. Returns NaN for NaN targets."""
    xs = np.asarray(n_labeled, dtype=float)
    ys = np.asarray(acc, dtype=float)
    ts = np.atleast_1d(np.asarray(targets, dtype=float))
    if xs.ndim != 1 or xs.shape != ys.shape:
        raise ValueError(f"n_labeled and acc must be 1-D of equal length; got {xs.shape} and {ys.shape}")
    if len(xs) > 1 and np.any(np.diff(xs) <= 0):
        raise ValueError(f"n_labeled must be strictly increasing; got {xs.tolist()}")
    out = np.full(ts.shape, np.nan)
    if len(xs) == 0:
        return out
    reached = ys[None, :] >= ts[:, None]                   # (m, n)
    hit = reached.any(axis=1) & (ts >= ys[0])
    first = reached.argmax(axis=1)
    for k in np.nonzero(hit)[0]:
        i = first[k]
        if i == 0:
            out[k] = xs[0]
        else:
            x0, x1, a0, a1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
            out[k] = x0 + (ts[k] - a0) / (a1 - a0) * (x1 - x0)
    return out


class LabelingEfficiency(NamedTuple):
    """The two views of labeling efficiency that the paper plots (Fig. 1, upper and lower rows).

    by_accuracy: [*group, label, target_acc, n_labeled, n_labeled_baseline, efficiency]
    by_labels:   [*group, label, n_labeled, test_acc, n_labeled_baseline, efficiency]
    efficiency = labels the baseline needs / labels the strategy needs (> 1: the strategy saves labels)."""
    by_accuracy: pd.DataFrame
    by_labels: pd.DataFrame


def labeling_efficiency(df: pd.DataFrame, baseline="random", targets: Sequence[float] | None = None,
                        by: str | Sequence[str] = "strategy", group=None, x: str = "n_labeled",
                        n_targets: int = 50) -> LabelingEfficiency:
    """Labeling efficiency of every label against `baseline` (paper Sec. 4.1).

    The mean test-accuracy curve over seeds of each label is made piecewise linear in the labeled-set
    size; for a target accuracy a, efficiency(a) = (labels the baseline's curve first reaches a) /
    (labels the strategy's curve first reaches a). Targets a curve never reaches (or that lie below its
    first round) give NaN: nothing is extrapolated.

    targets: accuracies as fractions in [0, 1]; None -> `n_targets` evenly spaced accuracies from the
    baseline's first to its best mean accuracy (per group). `by_labels` evaluates the same ratio at
    each labeled-set size n of the strategy, for a = the strategy's mean accuracy at n (its
    denominator is n unless the strategy's curve reached a earlier, before a dip)."""
    frame, lab, g = _prepare(df, by, group, x, ["test_acc"])
    if targets is not None:
        t = np.atleast_1d(np.asarray(targets, dtype=float))
        if t.ndim != 1 or np.any(~np.isfinite(t)) or np.any((t < 0) | (t > 1)):
            raise ValueError(f"targets must be accuracies as fractions in [0, 1]; got {t.tolist()} "
                             "(divide percentages by 100)")
    if n_targets < 2:
        raise ValueError(f"n_targets={n_targets} is invalid; allowed: an integer >= 2")
    acc_rows, lab_rows = [], []
    for where, sub in _groups(frame, g):
        _check_baseline(sub, lab, baseline, where)
        curves = sub.groupby([lab, x], sort=True)["test_acc"].mean()
        bx = curves.loc[baseline].index.to_numpy(dtype=float)
        by_ = curves.loc[baseline].to_numpy(dtype=float)
        ts = (np.linspace(by_[0], by_.max(), n_targets) if targets is None else t)
        base_need = labels_to_reach(bx, by_, ts)
        for name in pd.unique(sub[lab]):
            cx = curves.loc[name].index.to_numpy(dtype=float)
            cy = curves.loc[name].to_numpy(dtype=float)
            need = labels_to_reach(cx, cy, ts)
            with np.errstate(divide="ignore", invalid="ignore"):
                eff = base_need / need
            acc_rows.append(pd.DataFrame({**{k: [v] * len(ts) for k, v in where.items()},
                                          lab: [name] * len(ts), "target_acc": ts, x: need,
                                          f"{x}_baseline": base_need, "efficiency": eff}))
            # The denominator is where the strategy first reached its accuracy at n, not n itself: a
            # curve that dips and recovers reached that accuracy earlier, as by_accuracy counts it.
            base_at = labels_to_reach(bx, by_, cy)
            with np.errstate(divide="ignore", invalid="ignore"):
                eff_l = base_at / labels_to_reach(cx, cy, cy)
            lab_rows.append(pd.DataFrame({**{k: [v] * len(cx) for k, v in where.items()},
                                          lab: [name] * len(cx), x: cx, "test_acc": cy,
                                          f"{x}_baseline": base_at, "efficiency": eff_l}))
    return LabelingEfficiency(pd.concat(acc_rows, ignore_index=True), pd.concat(lab_rows, ignore_index=True))


def efficiency_summary(df: pd.DataFrame, baseline="random", by: str | Sequence[str] = "strategy",
                       group=None, x: str = "n_labeled", targets: Sequence[float] | None = None) -> pd.DataFrame:
    """The efficiency numbers the paper quotes, one row per label: `final`, the efficiency at the largest
    labeled-set size where it is defined (`final_at`, that size; "efficiency at the end"), `max` over
    labeled-set sizes, and `mean_over_acc`, the mean over target accuracies (NaN targets skipped).
    Returns [*group, label, final, final_at, max, mean_over_acc]."""
    eff = labeling_efficiency(df, baseline=baseline, targets=targets, by=by, group=group, x=x)
    lab, g = label_column(by), _as_list(group)
    rows = []
    for key, s in eff.by_labels.groupby([*g, lab], sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        ok = s[np.isfinite(s["efficiency"])].sort_values(x)
        acc = eff.by_accuracy
        for col, v in zip([*g, lab], key):
            acc = acc[acc[col] == v]
        mean_acc = acc["efficiency"][np.isfinite(acc["efficiency"])]
        rows.append({**dict(zip([*g, lab], map(_py, key))),
                     "final": ok["efficiency"].iloc[-1] if len(ok) else np.nan,
                     "final_at": ok[x].iloc[-1] if len(ok) else np.nan,
                     "max": ok["efficiency"].max() if len(ok) else np.nan,
                     "mean_over_acc": mean_acc.mean() if len(mean_acc) else np.nan})
    return pd.DataFrame(rows, columns=[*g, lab, "final", "final_at", "max", "mean_over_acc"])


def final_accuracy(df: pd.DataFrame, by: str | Sequence[str] = "strategy", group=None,
                   x: str = "n_labeled") -> pd.Series:
    """Mean test accuracy (fraction in [0, 1]) over seeds of each label at its largest labeled-set size.

    Returns a Series indexed by label (by [*group, label] with `group`), named "final_acc"."""
    curves = mean_curves(df, by=by, group=group, x=x).sort_values(x)
    keys = [*_as_list(group), label_column(by)]
    out = curves.groupby(keys, sort=True, dropna=False)["mean"].last()
    return out.rename("final_acc")


def end_efficiency(df: pd.DataFrame, baseline="random", by: str | Sequence[str] = "strategy", group=None,
                   x: str = "n_labeled") -> pd.DataFrame:
    """Labeling efficiency "at the end": at the highest accuracy both curves reach.

    For each label, the target accuracy is the lower of its final mean accuracy and the baseline's
    (`final_accuracy`): a label that ends above the baseline is measured at the baseline's final
    accuracy (the paper's "efficiency at the end of the budget"), one that ends below it at its own
    final accuracy, so a worse strategy gets a value below 1 instead of NaN. efficiency = labels the
    baseline's mean curve needs to first reach the target / labels the label's curve needs (see
    `labels_to_reach`). When the target lies below the first point of either curve, the two curves
    share no accuracy: efficiency is NaN and note says "no common accuracy".

    Returns [*group, label, target_acc, efficiency, note]: target_acc a fraction, note naming whose
    final accuracy the target is ("at random's final accuracy") or why there is no number."""
    frame, lab, g = _prepare(df, by, group, x, ["test_acc"])
    rows = []
    for where, sub in _groups(frame, g):
        _check_baseline(sub, lab, baseline, where)
        curves = sub.groupby([lab, x], sort=True)["test_acc"].mean()
        bx, ba = curves.loc[baseline].index.to_numpy(float), curves.loc[baseline].to_numpy(float)
        for name in sorted(pd.unique(sub[lab]), key=str):
            cx, ca = curves.loc[name].index.to_numpy(float), curves.loc[name].to_numpy(float)
            own_lower = ca[-1] < ba[-1]
            target = ca[-1] if own_lower else ba[-1]
            need_b = labels_to_reach(bx, ba, [target])[0]
            need_c = labels_to_reach(cx, ca, [target])[0]
            if np.isnan(need_b) or np.isnan(need_c):
                eff, note = np.nan, "no common accuracy"
            else:
                eff = need_b / need_c
                note = f"at {name if own_lower else baseline}'s final accuracy"
            rows.append({**where, lab: name, "target_acc": float(target), "efficiency": float(eff),
                         "note": note})
    return pd.DataFrame(rows, columns=[*g, lab, "target_acc", "efficiency", "note"])


# --------------------------------------------------------------------------------------------------
# relative accuracy (Sec. 4.5) and accuracy tables (Tables 2, 3, 14)
# --------------------------------------------------------------------------------------------------

def relative_accuracy(df: pd.DataFrame, baseline="random", by: str | Sequence[str] = "strategy",
                      group=None, x: str = "n_labeled") -> pd.DataFrame:
    """Mean test accuracy minus the baseline's mean test accuracy at each labeled-set size both have.

    Returns [*group, label, x, test_acc, baseline_acc, rel_acc, rel_acc_std, n_seeds] with accuracies
    as fractions (rel_acc: difference of fractions; x100 for percentage points). rel_acc_std is the
    sample std over the seeds both share of the per-seed differences (NaN with fewer than 2 shared)."""
    frame, lab, g = _prepare(df, by, group, x, ["test_acc"])
    rows = []
    for where, sub in _groups(frame, g):
        _check_baseline(sub, lab, baseline, where)
        base = sub[sub[lab] == baseline].set_index([x, "seed"])["test_acc"]
        base_mean = base.groupby(level=0).mean()
        for name, s in sub.groupby(lab, sort=True):
            acc = s.set_index([x, "seed"])["test_acc"]
            mean = acc.groupby(level=0).mean()
            common = mean.index.intersection(base_mean.index)
            diff = (acc - base).dropna()          # aligned on (x, seed): per-seed paired differences
            dstd = diff.groupby(level=0).std()
            for xv in common:
                rows.append({**where, lab: name, x: xv, "test_acc": mean[xv], "baseline_acc": base_mean[xv],
                             "rel_acc": mean[xv] - base_mean[xv],
                             "rel_acc_std": dstd.get(xv, np.nan),
                             "n_seeds": int(acc.loc[xv].shape[0])})
    return pd.DataFrame(rows, columns=[*g, lab, x, "test_acc", "baseline_acc", "rel_acc", "rel_acc_std",
                                       "n_seeds"])


def accuracy_table(df: pd.DataFrame, at: Sequence[int] | None = None, by: str | Sequence[str] = "strategy",
                   group=None, x: str = "n_labeled", percent: bool = True, as_text: bool = True,
                   digits: int = 1, ci: float | None = None) -> pd.DataFrame:
    """Mean ± sample std (ddof=1) of test accuracy over seeds at chosen labeled-set sizes (Tables 2, 3, 14).

    at: labeled-set sizes (None -> every size in the table); a size no run has is an error listing the
    sizes present; a label without that size gets an empty cell. as_text=True -> one row per label (and
    group), one column per size, cells "82.5 ± 0.3" (percent by default; "82.5" with one seed).
    as_text=False -> long numeric frame [*group, label, x, mean, std, n_seeds].
    ci: a level such as 0.95 adds the t confidence interval of the mean over seeds,
    mean ± t_((1+ci)/2, n-1) std / sqrt(n) (NaN with one seed): columns ci_low, ci_high, or cells
    "82.5 ± 0.3 [82.0, 83.0]"."""
    if ci is not None and not 0 < ci < 1:
        raise ValueError(f"ci={ci} is invalid; allowed: a level in (0, 1) or None")
    curves = mean_curves(df, by, group, x)
    lab = label_column(by)
    g = _as_list(group)
    sizes = sorted(_py(v) for v in curves[x].unique())
    if at is None:
        at = sizes
    at = list(at)
    absent = [a for a in at if a not in set(sizes)]
    if absent:
        raise ValueError(f"{x} value(s) {absent} are not in the table; present: {sizes}")
    sel = curves[curves[x].isin(at)].copy()
    if percent:
        sel[["mean", "std"]] *= 100.0
    if ci is not None:
        n = sel["n_seeds"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            half = stats.t.ppf((1 + ci) / 2, n - 1) * sel["std"].to_numpy(float) / np.sqrt(n)
        sel["ci_low"], sel["ci_high"] = sel["mean"] - half, sel["mean"] + half
    if not as_text:
        return sel.reset_index(drop=True)

    def fmt(r) -> str:
        if pd.isna(r["std"]):
            return f"{r['mean']:.{digits}f}"
        cell = f"{r['mean']:.{digits}f} ± {r['std']:.{digits}f}"
        if ci is not None:
            cell += f" [{r['ci_low']:.{digits}f}, {r['ci_high']:.{digits}f}]"
        return cell

    sel["cell"] = sel.apply(fmt, axis=1)
    table = sel.pivot(index=[*g, lab], columns=x, values="cell").reindex(columns=at).fillna("")
    table.columns.name = x
    return table


# --------------------------------------------------------------------------------------------------
# significance: pairwise t-tests and the penalty matrix (App. G)
# --------------------------------------------------------------------------------------------------

def _select_points(points: list, rounds) -> list:
    if rounds is None:
        return points
    if isinstance(rounds, slice):
        return points[rounds]
    idx = list(rounds)
    n = len(points)
    bad = [i for i in idx if not isinstance(i, (int, np.integer)) or not -n <= i < n]
    if bad:
        raise ValueError(f"rounds={idx} is invalid: {bad} are not positions among the {n} comparison "
                         f"points {[_py(p) for p in points]}; allowed: integers in [-{n}, {n - 1}] or a slice")
    return [points[i] for i in idx]


def pairwise_tests(df: pd.DataFrame, alpha: float = 0.05, rounds=None, by: str | Sequence[str] = "strategy",
                   x: str = "n_labeled", paired: str | bool = "auto", group=None) -> pd.DataFrame:
    """Two-tailed t-tests of test accuracy between every pair of labels at every comparison point.

    Comparison points are the `x` values (labeled-set sizes by default; pass x="round" to match by
    round index) that every label has; `rounds` picks some of them by position (e.g. [0, 1, 2, 3] or
    slice(-5, None) for the first four / last five), None keeps all. paired: "auto" pairs by seed
    (scipy.stats.ttest_rel) when both labels have the same seeds at that point, else Welch's test
    (ttest_ind, equal_var=False); True always pairs on the shared seeds; False never pairs.
    Every label needs >= 2 seeds at every chosen point. A NaN p-value (e.g. identical accuracies in
    every seed) counts as not significant.

    With `group`, the tests run within each group (its columns lead the output).
    Returns [*group, x, a, b, mean_diff (a - b), t, p, paired, n_a, n_b, winner] with winner a, b or
    NaN (no significant difference)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha} is invalid; allowed: a probability in (0, 1)")
    if paired not in ("auto", True, False):
        raise ValueError(f"paired={paired!r} is invalid; allowed: 'auto', True, False")
    frame, lab, g = _prepare(df, by, group, x, ["test_acc"])
    out = []
    for where, sub in _groups(frame, g):
        tests = _pairwise_one(sub, lab, alpha, rounds, x, paired, where)
        for k, (col, v) in enumerate(where.items()):
            tests.insert(k, col, [v] * len(tests))
        out.append(tests)
    return pd.concat(out, ignore_index=True)


def _pairwise_one(frame: pd.DataFrame, lab: str, alpha: float, rounds, x: str, paired, where: Mapping) -> pd.DataFrame:
    names = sorted(pd.unique(frame[lab]), key=str)
    if len(names) < 2:
        in_group = f" in group {dict(where)}" if where else ""
        raise NotEnoughData(f"a pairwise comparison needs >= 2 {lab} values; the table{in_group} has {names}")
    per_label = {n: set(frame.loc[frame[lab] == n, x]) for n in names}
    points = sorted(set.intersection(*per_label.values()))
    if not points:
        raise NotEnoughData(f"no {x} value is shared by every {lab}: " +
                         "; ".join(f"{n}: {sorted(map(_py, v))}" for n, v in per_label.items()))
    points = _select_points(points, rounds)
    seeds = sorted(frame["seed"].unique())
    # (label, point, seed) accuracies, NaN where a run lacks that point; every test below is a few
    # numpy operations over all points at once.
    cube = (frame[frame[x].isin(points)].set_index([lab, x, "seed"])["test_acc"]
            .reindex(pd.MultiIndex.from_product([names, points, seeds])).to_numpy(float)
            .reshape(len(names), len(points), len(seeds)))
    present = ~np.isnan(cube)
    counts = present.sum(axis=2)
    if (counts < 2).any():
        i, k = np.argwhere(counts < 2)[0]
        have = [_py(seeds[j]) for j in np.nonzero(present[i, k])[0]]
        raise NotEnoughData(f"significance tests need >= 2 seeds per {lab}; {names[i]!r} has {counts[i, k]} "
                         f"at {x}={_py(points[k])} (seeds {have})")
    frames = []
    for i, a in enumerate(names):
        for j in range(i + 1, len(names)):
            frames.append(_t_tests(cube[i], cube[j], paired, alpha, a, names[j], points, x, lab))
    return pd.concat(frames, ignore_index=True).sort_values([x, "a", "b"], key=_sort_key,
                                                            ignore_index=True)


def _sort_key(col: pd.Series) -> pd.Series:
    return col if col.name not in ("a", "b") else col.map(str)


def _t_tests(A: np.ndarray, B: np.ndarray, paired, alpha: float, a, b, points, x: str, lab: str) -> pd.DataFrame:
    """Two-tailed t-tests of A against B at every point. A, B: (n_points, n_seeds) accuracies with NaN
    for missing runs. Paired: Student's t on the per-seed differences (n - 1 degrees of freedom), as
    scipy.stats.ttest_rel. Welch: (mean A - mean B) / sqrt(var A / n_A + var B / n_B) with the
    Welch-Satterthwaite degrees of freedom, as scipy.stats.ttest_ind(equal_var=False)."""
    ma, mb = ~np.isnan(A), ~np.isnan(B)
    same = (ma == mb).all(axis=1)
    pair = np.full(len(points), True) if paired is True else (same if paired == "auto" else np.zeros(len(points), bool))
    shared = ma & mb
    n_shared = shared.sum(axis=1)
    if (pair & (n_shared < 2)).any():
        k = int(np.argmax(pair & (n_shared < 2)))
        raise NotEnoughData(f"paired tests need >= 2 shared seeds; {a!r} and {b!r} share {int(n_shared[k])} "
                         f"at {x}={_py(points[k])}")
    with np.errstate(all="ignore"):
        d = np.where(shared, A - B, 0.0)
        n = np.maximum(n_shared, 1)
        d_mean = d.sum(axis=1) / n
        d_var = np.where(shared, (d - d_mean[:, None]) ** 2, 0.0).sum(axis=1) / (n - 1)
        t_pair = d_mean / np.sqrt(d_var / n)
        df_pair = n - 1.0

        na, nb = ma.sum(axis=1), mb.sum(axis=1)
        mean_a, mean_b = np.nansum(A, axis=1) / na, np.nansum(B, axis=1) / nb
        va = np.nansum((A - mean_a[:, None]) ** 2, axis=1) / (na - 1)
        vb = np.nansum((B - mean_b[:, None]) ** 2, axis=1) / (nb - 1)
        se2 = va / na + vb / nb
        t_welch = (mean_a - mean_b) / np.sqrt(se2)
        df_welch = se2 ** 2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))

        t = np.where(pair, t_pair, t_welch)
        dof = np.where(pair, df_pair, df_welch)
        diff = np.where(pair, d_mean, mean_a - mean_b)
        # a zero-variance difference gives t = +-inf (p = 0) or 0/0 = NaN (no evidence either way)
        p = np.where(np.isnan(t), np.nan, 2.0 * stats.t.sf(np.abs(t), np.where(np.isnan(dof), 1.0, dof)))
    sig = ~np.isnan(p) & (p < alpha)
    winner = np.where(sig, np.where(diff > 0, a, b).astype(object), None)
    return pd.DataFrame({x: list(points), "a": a, "b": b, "mean_diff": diff, "t": t, "p": p,
                         "paired": pair, "n_a": na, "n_b": nb, "winner": winner})


def testable(df: pd.DataFrame, by: str | Sequence[str] = "strategy", x: str = "n_labeled",
             min_seeds: int = 2) -> tuple[pd.DataFrame, list[str]]:
    """What a t-test over seeds can compare: (the rows of the labels with >= min_seeds seeds at every
    `x` value they reach, the sorted names of the other labels). E.g. a strategy run with one seed, or
    one whose later rounds have one seed, is left out of `penalty_matrix` instead of failing it."""
    require_columns(df, [*_as_list(by), x, "seed"])
    label = make_label(df, by).astype(str)
    fewest = df.groupby([label, df[x]])["seed"].nunique().groupby(level=0).min()
    left_out = sorted(fewest.index[fewest < min_seeds])
    return df[~label.isin(left_out)], left_out


def penalty_matrix(df: pd.DataFrame, alpha: float = 0.05, rounds=None, by: str | Sequence[str] = "strategy",
                   x: str = "n_labeled", paired: str | bool = "auto", group=None):
    """The pairwise penalty matrix of the paper's App. G.

    At each of the N chosen comparison points (see `pairwise_tests`), a two-tailed t-test at level
    `alpha` on the accuracies of labels i and j over seeds; when i is significantly better, cell (i, j)
    gains 1/N (when worse, cell (j, i) does). Cell (i, j) is thus the fraction of rounds in which row
    i beats column j. Returns a square DataFrame (index "better", columns "worse"), zero diagonal,
    with attrs n_rounds and alpha. With `group`: a dict {group value (a tuple for several columns):
    matrix}, one matrix per group (e.g. one per redundancy factor)."""
    tests = pairwise_tests(df, alpha=alpha, rounds=rounds, by=by, x=x, paired=paired, group=group)
    g = _as_list(group)
    if not g:
        return _penalty_from_tests(tests, x, alpha)
    return {(key if len(g) > 1 else key[0]): _penalty_from_tests(t, x, alpha)
            for key, t in ((k if isinstance(k, tuple) else (k,), t)
                           for k, t in tests.groupby(g, sort=True, dropna=False))}


def _penalty_from_tests(tests: pd.DataFrame, x: str, alpha: float) -> pd.DataFrame:
    names = sorted(set(tests["a"]) | set(tests["b"]), key=str)
    n_points = tests[x].nunique()
    pos = {n: k for k, n in enumerate(names)}
    counts = np.zeros((len(names), len(names)))
    won = tests[tests["winner"].notna()]
    for a, b, w in zip(won["a"], won["b"], won["winner"]):
        loser = b if w == a else a
        counts[pos[w], pos[loser]] += 1.0
    mat = pd.DataFrame(counts / n_points, index=pd.Index(names, name="better"),
                       columns=pd.Index(names, name="worse"))
    mat.attrs["n_rounds"] = n_points
    mat.attrs["alpha"] = alpha
    return mat


# --------------------------------------------------------------------------------------------------
# area under the budget curve
# --------------------------------------------------------------------------------------------------

def _normalised_area(xs: np.ndarray, ys: np.ndarray, lo: float, hi: float) -> float:
    """Trapezoid area of the piecewise-linear curve over [lo, hi] divided by (hi - lo): the curve's mean
    accuracy over that labeled-set range. lo and hi lie inside the curve's own range."""
    inner = xs[(xs > lo) & (xs < hi)]
    grid = np.concatenate([[lo], inner, [hi]])
    vals = np.interp(grid, xs, ys)
    return float(np.sum((grid[1:] - grid[:-1]) * (vals[1:] + vals[:-1]) / 2.0) / (hi - lo))


def _per_seed_aubc(frame: pd.DataFrame, lab: str, g: list[str], x: str):
    """Yield (group values, {label: (n_seeds,) AUBC per seed, in seed order}) for a prepared frame,
    every run's area taken over the labeled-set range all runs of the group cover."""
    for where, sub in _groups(frame, g):
        runs = {k: s.sort_values(x) for k, s in sub.groupby([lab, "seed"], sort=True)}
        lo = max(float(s[x].iloc[0]) for s in runs.values())
        hi = min(float(s[x].iloc[-1]) for s in runs.values())
        if not hi > lo:
            in_group = f" in group {where}" if where else ""
            raise NotEnoughData(f"AUBC needs a range of {x} that every run covers; the runs{in_group} share "
                                f"only [{lo}, {hi}] (the latest first size and the earliest last size)")
        per_label: dict = {}
        for (name, _seed), s in runs.items():
            per_label.setdefault(name, []).append(
                _normalised_area(s[x].to_numpy(float), s["test_acc"].to_numpy(float), lo, hi))
        yield where, {k: np.asarray(v) for k, v in per_label.items()}


def aubc(df: pd.DataFrame, by: str | Sequence[str] = "strategy", group=None, x: str = "n_labeled",
         n_boot: int = 2000, ci: float | None = 0.95, gen: torch.Generator | None = None,
         seed: int = 0) -> pd.DataFrame:
    """Normalised area under the budget curve (test accuracy vs labeled-set size) with a bootstrap CI.

    Each run's curve is linear between rounds; its area over the labeled-set range that every run of
    the group covers, [max first size, min last size], divided by the range's width, is its AUBC: the
    mean accuracy over the budget, a fraction in [0, 1]. The CI is a percentile bootstrap over seeds
    (`n_boot` resamples with replacement of the per-seed AUBCs, drawn from `gen`, or from a fresh
    generator seeded with `seed`); it needs >= 2 seeds per label. ci=None skips it (one seed is then
    enough). Returns [*group, label, aubc, aubc_std, ci_low, ci_high, n_seeds]."""
    if ci is not None and not 0 < ci < 1:
        raise ValueError(f"ci={ci} is invalid; allowed: a level in (0, 1) or None")
    if n_boot < 1:
        raise ValueError(f"n_boot={n_boot} is invalid; allowed: an integer >= 1")
    frame, lab, g = _prepare(df, by, group, x, ["test_acc"])
    if gen is None:
        gen = torch.Generator().manual_seed(seed)
    rows = []
    for where, per_label in _per_seed_aubc(frame, lab, g, x):
        for name in sorted(per_label, key=str):
            vals = np.asarray(per_label[name])
            low = high = np.nan
            if ci is not None:
                if len(vals) < 2:
                    raise NotEnoughData(f"a bootstrap CI needs >= 2 seeds per {lab}; {name!r} has {len(vals)}"
                                        f"{' in ' + str(where) if where else ''} (pass ci=None for the AUBC alone)")
                idx = torch.randint(0, len(vals), (n_boot, len(vals)), generator=gen).numpy()
                means = vals[idx].mean(axis=1)
                low, high = np.quantile(means, [(1 - ci) / 2, 1 - (1 - ci) / 2])
            rows.append({**where, lab: name, "aubc": vals.mean(),
                         "aubc_std": vals.std(ddof=1) if len(vals) > 1 else np.nan,
                         "ci_low": float(low), "ci_high": float(high), "n_seeds": len(vals)})
    return pd.DataFrame(rows, columns=[*g, lab, "aubc", "aubc_std", "ci_low", "ci_high", "n_seeds"])


# --------------------------------------------------------------------------------------------------
# timing and energy (Sec. 4.8, Table 13)
# --------------------------------------------------------------------------------------------------

def timing_table(df: pd.DataFrame, by: str | Sequence[str] = "strategy", group=None,
                 per_round: bool = False) -> pd.DataFrame:
    """Training and selection seconds per label, averaged over runs (seeds).

    per_round=False: one row per label with the mean over runs of each run's total seconds
    [*group, label, n_runs, train_s, select_s, (eval_s), total_s, (energy_j), train_s_std, select_s_std];
    eval_s and energy_j (joules) appear when the table has them (energy: when any value is present).
    per_round=True: one row per label and round with the per-round means and the cumulative ones
    (`*_cum`, as the paper's Table 13 reports training time). Missing values count as 0 s."""
    frame, lab, g = _prepare(df, by, group, "round", ["train_s", "select_s", "n_labeled"])
    cols = ["train_s", "select_s"]
    if "eval_s" in frame.columns:
        cols.append("eval_s")
    if "energy_j" in frame.columns and pd.to_numeric(frame["energy_j"], errors="coerce").notna().any():
        cols.append("energy_j")
    run_key = "run_id" if "run_id" in frame.columns else "seed"
    frame = frame.sort_values([*g, lab, run_key, "round"])
    for c in cols:
        frame[c] = pd.to_numeric(frame[c], errors="coerce")
    if per_round:
        filled = frame.copy()
        for c in cols:
            if c != "energy_j":
                filled[c] = filled[c].fillna(0.0)
            filled[c + "_cum"] = filled.groupby([*g, lab, run_key], sort=False)[c].cumsum()
        agg = {"n_labeled": "mean", **{c: "mean" for c in cols + [c + "_cum" for c in cols]}}
        out = filled.groupby([*g, lab, "round"], sort=True).agg(agg).reset_index()
        out.insert(len(g) + 2, "n_runs", filled.groupby([*g, lab, "round"], sort=True)[run_key].nunique().to_numpy())
        return out
    totals = frame.groupby([*g, lab, run_key], sort=True)[cols].sum(min_count=1)
    for c in cols:
        if c != "energy_j":
            totals[c] = totals[c].fillna(0.0)
    grouped = totals.groupby(level=[*g, lab], sort=True)
    out = grouped.mean()
    out["total_s"] = out[[c for c in ("train_s", "select_s", "eval_s") if c in cols]].sum(axis=1)
    out["train_s_std"] = grouped["train_s"].std()
    out["select_s_std"] = grouped["select_s"].std()
    out.insert(0, "n_runs", grouped.size())
    order = ["n_runs", "train_s", "select_s"] + (["eval_s"] if "eval_s" in cols else []) + ["total_s"] + \
        (["energy_j"] if "energy_j" in cols else []) + ["train_s_std", "select_s_std"]
    return out[order].reset_index()


# --------------------------------------------------------------------------------------------------
# paper vs ours
# --------------------------------------------------------------------------------------------------

def paper_vs_ours(rows: Iterable[Mapping]) -> pd.DataFrame:
    """A "paper vs ours" table with a verdict per claim.

    Each row is a mapping with `claim` (text), `paper` (a number, a (low, high) range, or a bool), `ours`
    (a number or bool; None/NaN when not measured) and optionally `tol` (absolute tolerance for numbers,
    default 0) and `note`. Verdicts: "agrees" when ours lies within tol of the paper's number or range
    (or equals the paper's bool), "differs" otherwise, "not measured" when ours is missing.
    Returns [claim, paper, ours, tol, verdict, note]."""
    out = []
    for i, r in enumerate(rows):
        missing = [k for k in ("claim", "paper", "ours") if k not in r]
        if missing:
            raise ValueError(f"paper_vs_ours row {i} lacks {missing}; each row needs claim, paper, ours "
                             "(and optionally tol, note)")
        paper, ours, tol = r["paper"], r["ours"], float(r.get("tol", 0.0))
        if tol < 0:
            raise ValueError(f"paper_vs_ours row {i}: tol={tol} is invalid; allowed: a number >= 0")
        if ours is None or (isinstance(ours, float) and math.isnan(ours)):
            verdict = "not measured"
        elif isinstance(paper, (bool, np.bool_)):
            verdict = "agrees" if bool(ours) == bool(paper) else "differs"
        elif isinstance(paper, (tuple, list)):
            if len(paper) != 2:
                raise ValueError(f"paper_vs_ours row {i}: paper={paper!r} is invalid; a range is (low, high)")
            low, high = sorted(map(float, paper))
            verdict = "agrees" if low - tol <= float(ours) <= high + tol else "differs"
        else:
            verdict = "agrees" if abs(float(ours) - float(paper)) <= tol else "differs"
        shown = f"{paper[0]}–{paper[1]}" if isinstance(paper, (tuple, list)) else paper
        out.append({"claim": r["claim"], "paper": shown, "ours": ours, "tol": tol, "verdict": verdict,
                    "note": r.get("note", "")})
    return pd.DataFrame(out, columns=["claim", "paper", "ours", "tol", "verdict", "note"])


# --------------------------------------------------------------------------------------------------
# statistics beyond the paper: ranks over blocks, bootstrap CIs, effect sizes, seeds needed
# --------------------------------------------------------------------------------------------------

class RankTests(NamedTuple):
    """Rank-based comparison of k labels over n_blocks blocks (Demšar 2006).

    friedman_stat, friedman_p: Friedman's chi-square test that all labels rank alike (NaN for k = 2);
    avg_ranks: (k,) mean rank per label, 1 = best (highest value), sorted best first;
    pairwise_p: (k, k) two-sided Wilcoxon signed-rank p-values over blocks, Holm-corrected over the
    k (k - 1) / 2 pairs, symmetric, NaN on the diagonal; n_blocks: blocks in which every label has a value."""
    friedman_stat: float
    friedman_p: float
    avg_ranks: pd.Series
    pairwise_p: pd.DataFrame
    n_blocks: int


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjustment: (m,) p-values -> (m,) adjusted p-values, in the input order.
    The i-th smallest p becomes max over j <= i of min(1, (m - j + 1) p_(j)); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.nonzero(~np.isnan(p))[0]
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def _block_matrix(df: pd.DataFrame, by, blocks, value: str) -> pd.DataFrame:
    """(n_blocks, k) values: one row per block with every label present, one column per label."""
    named = _as_list(blocks)
    blocks = [b for b in named if b in df.columns]   # an absent column is one block value
    lab = label_column(by)
    require_columns(df, [value])
    frame = df.assign(**{lab: make_label(df, by)})
    if not blocks:
        raise NotEnoughData(f"rank tests need block columns (e.g. seed, n_labeled); none of {named} "
                            "is in the table")
    dup = frame.duplicated([*blocks, lab])
    if dup.any():
        raise ValueError(f"{int(dup.sum())} rows repeat a (block, {lab}) pair over blocks {blocks}; "
                         "add the column that tells them apart to `blocks` or `by`")
    wide = frame.pivot(index=blocks, columns=lab, values=value)
    return wide.dropna(axis=0, how="any")


def rank_tests(df: pd.DataFrame, by: str | Sequence[str] = "strategy",
               blocks: Sequence[str] = ("dataset", "seed", "n_labeled"), value: str = "test_acc") -> RankTests:
    """Friedman test, average ranks and pairwise Wilcoxon signed-rank tests (Holm-corrected) of the
    labels over blocks: one block per combination of the `blocks` columns (data set x seed x labeled-set
    size by default; a column absent from the table counts as one value). Only blocks where every label
    has a value are used. Higher `value` ranks better (rank 1); ties share the mean rank.
    Raises NotEnoughData with fewer than 2 labels or 2 complete blocks."""
    wide = _block_matrix(df, by, blocks, value)
    names = list(wide.columns)
    if len(names) < 2 or len(wide) < 2:
        raise NotEnoughData(f"rank tests need >= 2 labels and >= 2 blocks where all of them have a value; "
                            f"got labels {[str(n) for n in names]} and {len(wide)} complete block(s)")
    vals = wide.to_numpy(float)                                       # (n_blocks, k)
    ranks = stats.rankdata(-vals, axis=1)
    avg = pd.Series(ranks.mean(axis=0), index=pd.Index(names, name=wide.columns.name),
                    name="avg_rank").sort_values(kind="stable")
    if len(names) >= 3:
        fr = stats.friedmanchisquare(*vals.T)
        f_stat, f_p = float(fr.statistic), float(fr.pvalue)
    else:
        f_stat = f_p = np.nan
    pairs, raw = [], []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            d = vals[:, i] - vals[:, j]
            pairs.append((i, j))
            raw.append(1.0 if np.all(d == 0) else float(stats.wilcoxon(vals[:, i], vals[:, j]).pvalue))
    adj = holm(raw)
    mat = np.full((len(names), len(names)), np.nan)
    for (i, j), p in zip(pairs, adj):
        mat[i, j] = mat[j, i] = p
    pw = pd.DataFrame(mat, index=pd.Index(names), columns=pd.Index(names))
    return RankTests(f_stat, f_p, avg, pw, int(len(wide)))


def critical_difference(avg_ranks, n_blocks: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of average ranks: CD = q_alpha sqrt(k (k + 1) / (6 N)), with k the
    number of labels (len(avg_ranks)), N = n_blocks and q_alpha the studentized range quantile at
    1 - alpha for k groups and infinite degrees of freedom, divided by sqrt(2) (Demšar 2006, Table 5a:
    q_0.05 = 2.569 for k = 4). Two labels whose average ranks differ by more than CD differ. In rank units."""
    k = len(avg_ranks)
    if k < 2:
        raise NotEnoughData(f"a critical difference needs >= 2 labels; got {k}")
    if n_blocks < 1:
        raise ValueError(f"n_blocks={n_blocks} is invalid; allowed: an integer >= 1")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha={alpha} is invalid; allowed: a probability in (0, 1)")
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n_blocks)))


def bootstrap_ci(values, stat=np.mean, n_boot: int = 10000, level: float = 0.95, *,
                 gen: np.random.Generator) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of `stat` over `values`.

    values: (n,) numbers (e.g. one per seed), n >= 2; stat: a reducer taking (n_boot, n) and axis=1,
    such as np.mean or np.median; n_boot resamples of n values drawn with replacement from `gen`;
    level: coverage in (0, 1). Returns (lo, hi), the (1 - level) / 2 and (1 + level) / 2 quantiles
    of the resampled statistic, in the units of `values`."""
    v = np.asarray(values, dtype=float).ravel()
    if not isinstance(gen, np.random.Generator):
        raise TypeError(f"gen must be a numpy Generator (np.random.default_rng(seed)); got {type(gen).__name__}")
    if not 0 < level < 1:
        raise ValueError(f"level={level} is invalid; allowed: a coverage in (0, 1)")
    if n_boot < 1:
        raise ValueError(f"n_boot={n_boot} is invalid; allowed: an integer >= 1")
    if np.isnan(v).any():
        raise ValueError(f"values hold NaN at positions {np.nonzero(np.isnan(v))[0].tolist()}; drop them first")
    if len(v) < 2:
        raise NotEnoughData(f"a bootstrap CI needs >= 2 values (seeds); got {len(v)}")
    idx = gen.integers(0, len(v), size=(n_boot, len(v)))
    boot = np.asarray(stat(v[idx], axis=1), dtype=float)
    lo, hi = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def aubc_ci(df: pd.DataFrame, by: str | Sequence[str] = "strategy", group=None, x: str = "n_labeled",
            n_boot: int = 10000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """AUBC (see `aubc`) with a percentile bootstrap CI over seeds from `bootstrap_ci`, all labels
    drawing in turn from one generator np.random.default_rng(seed). A label with one seed gets a NaN
    CI and a note saying so. Returns [*group, label, aubc, ci_low, ci_high, n_seeds, note], AUBC and
    its bounds as fractions in [0, 1]."""
    frame, lab, g = _prepare(df, by, group, x, ["test_acc"])
    gen = np.random.default_rng(seed)
    rows = []
    for where, per_label in _per_seed_aubc(frame, lab, g, x):
        for name in sorted(per_label, key=str):
            vals = per_label[name]
            lo = hi = np.nan
            note = ""
            if len(vals) >= 2:
                lo, hi = bootstrap_ci(vals, n_boot=n_boot, level=level, gen=gen)
            else:
                note = "1 seed: no CI"
            rows.append({**where, lab: name, "aubc": float(vals.mean()), "ci_low": lo, "ci_high": hi,
                         "n_seeds": len(vals), "note": note})
    return pd.DataFrame(rows, columns=[*g, lab, "aubc", "ci_low", "ci_high", "n_seeds", "note"])


def _reach_rows(xs: np.ndarray, Y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """labels_to_reach for many curves on one size grid: xs (n,) sizes, Y (B, n) accuracies, t (B,)
    one target per curve. Returns (B,) sizes, NaN where the curve never reaches t or starts above it."""
    reached = Y >= t[:, None]
    hit = reached.any(axis=1) & (t >= Y[:, 0])
    i = reached.argmax(axis=1)
    i0 = np.maximum(i - 1, 0)
    rows = np.arange(len(Y))
    a0, a1 = Y[rows, i0], Y[rows, i]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(i == 0, xs[0], xs[i0] + (t - a0) / (a1 - a0) * (xs[i] - xs[i0]))
    return np.where(hit, out, np.nan)


def _seed_curves(sub: pd.DataFrame, lab: str, name, x: str) -> tuple[np.ndarray, np.ndarray, list]:
    """(sizes (n,), accuracies (n_seeds, n), seeds) of one label over the sizes every seed has."""
    wide = sub[sub[lab] == name].pivot(index="seed", columns=x, values="test_acc").sort_index(axis=1)
    wide = wide.dropna(axis=1, how="any")
    return wide.columns.to_numpy(float), wide.to_numpy(float), list(wide.index)


def efficiency_ci(df: pd.DataFrame, baseline="random", by: str | Sequence[str] = "strategy", group=None,
                  x: str = "n_labeled", n_boot: int = 10000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """`end_efficiency` with a percentile bootstrap CI over seeds.

    Each of n_boot resamples draws seeds with replacement (from np.random.default_rng(seed)) for the
    baseline and the label, the same draw for both when they have the same seeds (paired), recomputes
    both mean curves, the target (the lower of the two final means) and the efficiency there. The
    bootstrap uses the labeled-set sizes every seed of a label has. A label with < 2 seeds, or a pair
    without a common accuracy, gets a NaN CI and a note; resamples without a common accuracy are left
    out of the quantiles (the note counts them). Returns [*group, label, target_acc, efficiency,
    ci_low, ci_high, n_seeds, note]; efficiency is a ratio of label counts (> 1: fewer labels than the
    baseline)."""
    point = end_efficiency(df, baseline=baseline, by=by, group=group, x=x)
    frame, lab, g = _prepare(df, by, group, x, ["test_acc"])
    gen = np.random.default_rng(seed)
    rows = []
    for where, sub in _groups(frame, g):
        pt = point
        for col, v in where.items():
            pt = pt[pt[col] == v]
        bx, B, bseeds = _seed_curves(sub, lab, baseline, x)
        for _, r in pt.iterrows():
            name = r[lab]
            cx, C, cseeds = _seed_curves(sub, lab, name, x)
            lo = hi = np.nan
            note = r["note"]
            if len(cseeds) < 2 or len(bseeds) < 2:
                note = f"{note}; < 2 seeds: no CI"
            elif np.isfinite(r["efficiency"]) and len(bx) and len(cx):
                ib = gen.integers(0, len(bseeds), size=(n_boot, len(bseeds)))
                ic = ib if cseeds == bseeds else gen.integers(0, len(cseeds), size=(n_boot, len(cseeds)))
                bm, cm = B[ib].mean(axis=1), C[ic].mean(axis=1)          # (n_boot, n_sizes)
                t = np.minimum(bm[:, -1], cm[:, -1])
                eff = _reach_rows(bx, bm, t) / _reach_rows(cx, cm, t)
                ok = np.isfinite(eff)
                if ok.any():
                    lo, hi = np.quantile(eff[ok], [(1 - level) / 2, (1 + level) / 2])
                if not ok.all():
                    note = f"{note}; CI over {int(ok.sum())} of {n_boot} resamples (others: no common accuracy)"
            rows.append({**where, lab: name, "target_acc": r["target_acc"], "efficiency": r["efficiency"],
                         "ci_low": float(lo), "ci_high": float(hi), "n_seeds": len(cseeds), "note": note})
    return pd.DataFrame(rows, columns=[*g, lab, "target_acc", "efficiency", "ci_low", "ci_high", "n_seeds",
                                       "note"])


def effect_sizes(df: pd.DataFrame, by: str | Sequence[str] = "strategy", rounds=None, x: str = "n_labeled",
                 level: float = 0.95, group=None) -> pd.DataFrame:
    """Mean accuracy difference with a t confidence interval for every pair of labels (a < b in sorted
    order) at every labeled-set size all labels share (`rounds` picks some by position, as in
    `pairwise_tests`). Paired over seeds (the CI of scipy.stats.ttest_rel) when both labels have the
    same seeds there, else Welch's interval (ttest_ind, equal_var=False); NaN CI when either side has
    < 2 seeds. Differences are fractions of accuracy (x100 for percentage points).
    Returns [*group, x, pair ("a − b"), a, b, mean_diff, ci_low, ci_high, paired, n_a, n_b]."""
    if not 0 < level < 1:
        raise ValueError(f"level={level} is invalid; allowed: a coverage in (0, 1)")
    frame, lab, g = _prepare(df, by, group, x, ["test_acc"])
    rows = []
    for where, sub in _groups(frame, g):
        names = sorted(pd.unique(sub[lab]), key=str)
        if len(names) < 2:
            raise NotEnoughData(f"effect sizes need >= 2 {lab} values; got {[str(n) for n in names]}")
        points = sorted(set.intersection(*(set(sub.loc[sub[lab] == n, x]) for n in names)))
        if not points:
            raise NotEnoughData(f"no {x} value is shared by every {lab}")
        acc = sub.set_index([lab, x, "seed"])["test_acc"].sort_index()
        for p in _select_points(points, rounds):
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    rows.append({**where, x: _py(p), **_diff_ci(acc.loc[(a, p)], acc.loc[(b, p)], level, a, b)})
    return pd.DataFrame(rows, columns=[*g, x, "pair", "a", "b", "mean_diff", "ci_low", "ci_high", "paired",
                                       "n_a", "n_b"])


def _diff_ci(A: pd.Series, B: pd.Series, level: float, a, b) -> dict:
    """Mean difference A - B (Series indexed by seed) and its t interval, paired when seeds match."""
    paired = set(A.index) == set(B.index) and len(A) >= 2
    lo = hi = np.nan
    if paired:
        d = (A - B.reindex(A.index)).to_numpy(float)
        diff = float(d.mean())
        if np.all(d == d[0]):                    # no spread: the interval is the point
            lo = hi = diff
        else:
            lo, hi = stats.ttest_rel(A.to_numpy(float), B.reindex(A.index).to_numpy(float)).confidence_interval(level)
    else:
        diff = float(A.mean() - B.mean())
        if len(A) >= 2 and len(B) >= 2:
            if A.var() == 0 and B.var() == 0:
                lo = hi = diff
            else:
                lo, hi = stats.ttest_ind(A.to_numpy(float), B.to_numpy(float),
                                         equal_var=False).confidence_interval(level)
    return {"pair": f"{a} − {b}", "a": a, "b": b, "mean_diff": diff, "ci_low": float(lo), "ci_high": float(hi),
            "paired": paired, "n_a": len(A), "n_b": len(B)}


def _t_power(n: int, effect: float, alpha: float, paired: bool) -> float:
    """Power of a two-sided t-test at level alpha: paired with n pairs (df n - 1, noncentrality
    effect sqrt(n)), or two samples of n each (df 2n - 2, noncentrality effect sqrt(n / 2))."""
    dof = n - 1 if paired else 2 * n - 2
    nc = effect * math.sqrt(n if paired else n / 2)
    tc = stats.t.ppf(1 - alpha / 2, dof)
    return float(stats.nct.sf(tc, dof, nc) + stats.nct.cdf(-tc, dof, nc))


def seeds_needed(diff: float, sd: float, alpha: float = 0.05, power: float = 0.8, paired: bool = True) -> int:
    """Fewest seeds for a two-sided t-test at level `alpha` to detect a true difference `diff` with
    probability `power`, from the noncentral t distribution (scipy.stats.nct).

    paired=True: diff is the mean of per-seed differences and sd their standard deviation; returns the
    number of seeds both labels run. paired=False: two independent samples of equal size with common
    standard deviation sd; returns the seeds per label. diff and sd in the same unit (e.g. accuracy
    fractions). Starts from the normal approximation ((z_(1-alpha/2) + z_power) sd / |diff|)^2 (times 2
    unpaired) and steps to the smallest n >= 2 whose power reaches `power`. diff = 0 is refused."""
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha={alpha}, power={power} are invalid; allowed: probabilities in (0, 1)")
    if not (math.isfinite(diff) and math.isfinite(sd)) or sd < 0:
        raise ValueError(f"diff={diff}, sd={sd} are invalid; allowed: finite numbers, sd >= 0")
    if diff == 0:
        raise ValueError("diff=0: no number of seeds detects a zero difference; pass the difference to detect")
    if sd == 0:
        return 2
    effect = abs(diff) / sd
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    n = max(2, math.ceil((z / effect) ** 2 * (1 if paired else 2)))
    while _t_power(n, effect, alpha, paired) < power:
        n += 1
    while n > 2 and _t_power(n - 1, effect, alpha, paired) >= power:
        n -= 1
    return n


def _quantiles(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (1 - level) / 2 and (1 + level) / 2 quantiles of (n_boot, m) samples over their
    finite entries; NaN for a column with none."""
    lo, hi = np.full(samples.shape[1], np.nan), np.full(samples.shape[1], np.nan)
    for j in range(samples.shape[1]):
        col = samples[:, j][np.isfinite(samples[:, j])]
        if len(col):
            lo[j], hi[j] = np.quantile(col, [(1 - level) / 2, (1 + level) / 2])
    return lo, hi


def labeling_efficiency_ci(df: pd.DataFrame, baseline="random", by: str | Sequence[str] = "strategy",
                           group=None, x: str = "n_labeled", per: str = "labels",
                           targets: Sequence[float] | None = None, n_boot: int = 2000, level: float = 0.95,
                           seed: int = 0) -> pd.DataFrame:
    """`labeling_efficiency` (per="labels": `by_labels`, per="accuracy": `by_accuracy`) with a
    percentile bootstrap CI at every point: seeds are resampled as in `efficiency_ci` (paired when
    the label and the baseline have the same seeds; from np.random.default_rng(seed)), over the
    labeled-set sizes every seed of a label has, and the curve is recomputed per resample. Points of a
    label with < 2 seeds, with a NaN efficiency, or never defined in a resample, get NaN bounds.
    Returns the chosen frame of `labeling_efficiency` with columns ci_low, ci_high added."""
    if per not in ("labels", "accuracy"):
        raise ValueError(f"per={per!r} is invalid; allowed: 'labels', 'accuracy'")
    eff = labeling_efficiency(df, baseline=baseline, targets=targets, by=by, group=group, x=x)
    point = eff.by_labels if per == "labels" else eff.by_accuracy
    frame, lab, g = _prepare(df, by, group, x, ["test_acc"])
    gen = np.random.default_rng(seed)
    parts = []
    for where, sub in _groups(frame, g):
        bx, B, bseeds = _seed_curves(sub, lab, baseline, x)
        pt = point
        for col, v in where.items():
            pt = pt[pt[col] == v]
        ts = np.unique(pt["target_acc"].to_numpy(float)) if per == "accuracy" else None
        for name in sorted(pd.unique(sub[lab]), key=str):
            cx, C, cseeds = _seed_curves(sub, lab, name, x)
            if len(cseeds) < 2 or len(bseeds) < 2 or not len(cx) or not len(bx):
                continue
            ib = gen.integers(0, len(bseeds), size=(n_boot, len(bseeds)))
            ic = ib if cseeds == bseeds else gen.integers(0, len(cseeds), size=(n_boot, len(cseeds)))
            bm, cm = B[ib].mean(axis=1), C[ic].mean(axis=1)
            cols = cm.T if per == "labels" else [np.full(n_boot, t) for t in ts]
            samples = np.column_stack([_reach_rows(bx, bm, t) / _reach_rows(cx, cm, t) for t in cols])
            lo, hi = _quantiles(samples, level)
            key = {x: cx} if per == "labels" else {"target_acc": ts}
            parts.append(pd.DataFrame({**{k: [v] * len(lo) for k, v in where.items()}, lab: [name] * len(lo),
                                       **key, "ci_low": lo, "ci_high": hi}))
    on = [*g, lab, x if per == "labels" else "target_acc"]
    bounds = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*on, "ci_low", "ci_high"]))
    out = point.merge(bounds.astype({c: point[c].dtype for c in on}), on=on, how="left")
    undefined = ~np.isfinite(out["efficiency"].to_numpy(float))   # no point estimate: no interval either
    out.loc[undefined, ["ci_low", "ci_high"]] = np.nan
    return out
