"""Per-seed measurements the claim rules pair over seeds: {seed: value} for the final accuracy, the
AUBC, the efficiency at the end and the accuracy gap of two strategies. Every function takes a
results table (one row per run and round; accuracies as fractions) and returns only the seeds for
which the quantity exists."""
from __future__ import annotations

import math
from typing import Any, Callable

from .. import metrics


def by_seed(df, fn: Callable[[Any], float | None]) -> dict[Any, float]:
    """{seed: fn(rows of that seed)}, leaving out seeds where fn returns None or NaN or the table
    cannot give the number (metrics raise ValueError, e.g. no shared range or a missing baseline)."""
    out = {}
    if not len(df):
        return out
    for seed, part in df.groupby("seed", sort=True):
        try:
            v = fn(part)
        except (ValueError, KeyError):
            continue
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            out[seed] = float(v)
    return out


def final_acc(df, label, by: str = "strategy") -> dict[Any, float]:
    """{seed: test accuracy of `label` at its largest labeled-set size}."""
    def one(part):
        rows = part[part[by] == label].sort_values("n_labeled")
        return float(rows["test_acc"].iloc[-1]) if len(rows) else None
    return by_seed(df, one)


def aubc(df, label, by: str = "strategy") -> dict[Any, float]:
    """{seed: AUBC of `label`}, each seed's area over the labeled-set range its runs share."""
    def one(part):
        table = metrics.aubc(part, by=by, ci=None).set_index(metrics.label_column(by))["aubc"]
        return float(table[label]) if label in table.index else None
    return by_seed(df, one)


def end_efficiency(df, label, baseline: str = "random", by: str = "strategy") -> dict[Any, float]:
    """{seed: efficiency at the end of `label` against `baseline`} (metrics.end_efficiency per seed)."""
    def one(part):
        labels = set(part[by])
        if label not in labels or baseline not in labels:
            return None
        table = metrics.end_efficiency(part, baseline=baseline, by=by).set_index(metrics.label_column(by))
        return float(table.loc[label, "efficiency"])
    return by_seed(df, one)


def top_end_efficiency(df, baseline: str = "random") -> dict[Any, float]:
    """{seed: the highest efficiency at the end of any strategy but the baseline} in that seed."""
    def one(part):
        if baseline not in set(part["strategy"]):
            return None
        table = metrics.end_efficiency(part, baseline=baseline)
        vals = [v for k, v in zip(table["strategy"], table["efficiency"]) if k != baseline and v == v]
        return max(vals, default=None)
    return by_seed(df, one)


def gap(df, better, worse, by: str = "strategy") -> dict[Any, float]:
    """{seed: mean over the labeled-set sizes both have of accuracy(better) - accuracy(worse)}."""
    def one(part):
        a = part[part[by] == better].set_index("n_labeled")["test_acc"]
        b = part[part[by] == worse].set_index("n_labeled")["test_acc"]
        common = a.index.intersection(b.index)
        return float((a[common] - b[common]).mean()) if len(common) else None
    return by_seed(df, one)


def n_seeds(df) -> int:
    """Distinct seeds in a results table (0 for an empty one)."""
    return int(df["seed"].nunique()) if len(df) and "seed" in df.columns else 0


def efficiency_check(df, strategy, paper, tol: float, baseline: str = "random", n_boot: int = 2000
                     ) -> tuple[float | None, dict[str, Any]]:
    """(ours, rule) for "the efficiency at the end of `strategy` is about `paper`": ours from
    metrics.end_efficiency, judged by `base.interval_check` with the percentile bootstrap CI over
    seeds of metrics.efficiency_ci (2 or more seeds) against paper ± tol."""
    from .base import interval_check

    table = metrics.efficiency_ci(df, baseline=baseline, n_boot=n_boot, seed=0).set_index("strategy")
    row = table.loc[strategy]
    if not math.isfinite(row["efficiency"]):
        return None, {"verdict": "inconclusive",
                      "reason": f"not measured: {strategy} and {baseline} share no accuracy"}
    ci = (row["ci_low"], row["ci_high"]) if math.isfinite(row["ci_low"]) else None
    n = int(row["n_seeds"])
    rule = interval_check(ci, paper, tol, what=f"95% bootstrap CI over {n} seeds",
                          no_ci=f"{n} seed{'' if n == 1 else 's'}: a bootstrap CI needs 2 or more")
    return float(row["efficiency"]), {**rule, "reason": f"{strategy}: {rule['reason']}"}


# --------------------------------------------------------------------------------------------------
# Whole-table quantities the section modules share (not per seed)
# --------------------------------------------------------------------------------------------------

def aubc_by_label(df, by: str = "strategy") -> dict[str, float]:
    """{label: AUBC over the labeled-set range every run covers} (metrics.aubc); {} when the table
    cannot give one (metrics.NotEnoughData, e.g. runs that share no range)."""
    try:
        table = metrics.aubc(df, by=by, ci=None)
    except metrics.NotEnoughData:
        return {}
    return {str(k): float(v) for k, v in zip(table[metrics.label_column(by)], table["aubc"])}


def nan_to_none(v: float | None) -> float | None:
    """None for None or NaN, else the value as a float (a claim's "not measured")."""
    return None if v is None or v != v else float(v)


def subset(df, **equal):
    """Rows of df whose columns equal the given values; no rows when a column is missing."""
    for k, v in equal.items():
        if k not in df.columns:
            return df.iloc[0:0]
        df = df[df[k] == v]
    return df


def top_efficiency(df, baseline: str = "random") -> float | None:
    """The highest end efficiency of the AL strategies (notebook.end_efficiency; below 1 when every
    strategy ends below the baseline). The baseline and NaNs are left out (built-in max is
    order-dependent with a NaN); None when no AL strategy shares an accuracy with the baseline."""
    from .. import notebook as nbh

    if not len(df) or baseline not in set(df["strategy"]):
        return None
    eff = nbh.end_efficiency(df, baseline=baseline)
    return max((v for k, v in eff.items() if k != baseline and v == v), default=None)


def relative_reset(df):
    """Updating's accuracy relative to resetting (metrics.relative_accuracy by="reset"), None when the
    table cannot give it (metrics.NotEnoughData, e.g. one label spans two data sets)."""
    try:
        return metrics.relative_accuracy(df, baseline=True, by="reset")
    except metrics.NotEnoughData:
        return None
