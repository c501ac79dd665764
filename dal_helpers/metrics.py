"""Metrics over the results table: labeling efficiency, relative accuracy, accuracy tables, penalty
matrices, the area under the budget curve and timing, as in the paper's Sec. 4 and App. G.

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
             "sel_class_entropy", "sel_dup_frac", "sel_dist_labeled", "seed", "timestamp", "time"}


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


def _prepare(df: pd.DataFrame, by, group, x: str, needed: Sequence[str]) -> tuple[pd.DataFrame, str, list[str]]:
    """Validate, add the label column, refuse ambiguous tables. Returns (frame, label name, group cols)."""
    by_cols, group_cols = _as_list(by), _as_list(group)
    require_columns(df, [*by_cols, *group_cols, x, "seed", *needed])
    if len(df) == 0:
        raise ValueError("the results table is empty")
    lab = label_column(by_cols)
    if lab in group_cols:
        raise ValueError(f"column {lab!r} is both compared (by) and grouped (group); choose one")
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
                   digits: int = 1) -> pd.DataFrame:
    """Mean ± sample std (ddof=1) of test accuracy over seeds at chosen labeled-set sizes (Tables 2, 3, 14).

    at: labeled-set sizes (None -> every size in the table); a size no run has is an error listing the
    sizes present; a label without that size gets an empty cell. as_text=True -> one row per label (and
    group), one column per size, cells "82.5 ± 0.3" (percent by default; "82.5" with one seed).
    as_text=False -> long numeric frame [*group, label, x, mean, std, n_seeds]."""
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
    if not as_text:
        return sel.reset_index(drop=True)

    def fmt(r) -> str:
        if pd.isna(r["std"]):
            return f"{r['mean']:.{digits}f}"
        return f"{r['mean']:.{digits}f} ± {r['std']:.{digits}f}"

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
        raise ValueError(f"a pairwise comparison needs >= 2 {lab} values; the table{in_group} has {names}")
    per_label = {n: set(frame.loc[frame[lab] == n, x]) for n in names}
    points = sorted(set.intersection(*per_label.values()))
    if not points:
        raise ValueError(f"no {x} value is shared by every {lab}: " +
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
        raise ValueError(f"significance tests need >= 2 seeds per {lab}; {names[i]!r} has {counts[i, k]} "
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
        raise ValueError(f"paired tests need >= 2 shared seeds; {a!r} and {b!r} share {int(n_shared[k])} "
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
    for where, sub in _groups(frame, g):
        runs = {k: s.sort_values(x) for k, s in sub.groupby([lab, "seed"], sort=True)}
        lo = max(float(s[x].iloc[0]) for s in runs.values())
        hi = min(float(s[x].iloc[-1]) for s in runs.values())
        if not hi > lo:
            in_group = f" in group {where}" if where else ""
            raise ValueError(f"AUBC needs a range of {x} that every run covers; the runs{in_group} share "
                             f"only [{lo}, {hi}] (the latest first size and the earliest last size)")
        per_label: dict = {}
        for (name, _seed), s in runs.items():
            per_label.setdefault(name, []).append(
                _normalised_area(s[x].to_numpy(float), s["test_acc"].to_numpy(float), lo, hi))
        for name in sorted(per_label, key=str):
            vals = np.asarray(per_label[name])
            low = high = np.nan
            if ci is not None:
                if len(vals) < 2:
                    raise ValueError(f"a bootstrap CI needs >= 2 seeds per {lab}; {name!r} has {len(vals)}"
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
