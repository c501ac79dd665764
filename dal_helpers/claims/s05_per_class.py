"""Section 05, unlabeled examples per class (paper Sec. 4.5, Table 8): with more unlabeled images per
class (1k, 2k, 3k) AL gains more: the top labeling efficiency and the top relative accuracy grow."""
from __future__ import annotations

from .. import notebook as nbh
from . import measures
from .base import Claim, ClaimSpec, paired, per_setting

KEYS = ("dataset", "model")
SOURCE = "Sec. 4.5, Table 8"

EFFICIENCY = ClaimSpec("05.efficiency_grows_with_per_class", "top efficiency grows with the unlabeled examples per "
                       "class", True, SOURCE, "paired t-test over seeds of the top efficiency at the end, largest vs "
                       "smallest examples per class")
RELATIVE = ClaimSpec("05.relative_accuracy_grows", "top relative accuracy at the end grows with the examples per "
                     "class", True, SOURCE, "paired t-test over seeds of (best AL strategy's final accuracy − "
                     "random's), largest vs smallest examples per class")


def _top_relative(part) -> dict:
    """{seed: max over AL strategies of final accuracy − random's final accuracy}."""
    base = measures.final_acc(part, "random")
    per = [measures.final_acc(part, s) for s in sorted(set(part["strategy"]) - {"random"})]
    return {seed: max(p[seed] for p in per if seed in p) - base[seed]
            for seed in base if any(seed in p for p in per)}


def setting_claims(df, alpha: float = 0.05) -> list[Claim]:
    """The two claims on one (data set, model) holding several `per_class` values."""
    if not len(df) or "per_class" not in df.columns or df["per_class"].nunique() < 2:
        return [s.missing("needs 2 or more per_class values") for s in (EFFICIENCY, RELATIVE)]
    small, large = df["per_class"].min(), df["per_class"].max()
    lo, hi = df[df["per_class"] == small], df[df["per_class"] == large]
    out = []
    eff = nbh.efficiency_by(df, "per_class")
    best = eff.drop(columns=["random"], errors="ignore").max(axis=1) if len(eff) else None
    if best is not None and {small, large} <= set(best.dropna().index):
        out.append(EFFICIENCY.judged(bool(best[large] > best[small]),
                                     paired(measures.top_end_efficiency(hi), measures.top_end_efficiency(lo), alpha)))
    else:
        out.append(EFFICIENCY.missing("top efficiency at the smallest or largest per_class"))
    rel = {}
    for value, part in ((small, lo), (large, hi)):
        acc = nbh.final_accuracy(part)
        if "random" in acc and len(acc) > 1:
            rel[value] = max(v for k, v in acc.items() if k != "random") - acc["random"]
    if len(rel) == 2:
        out.append(RELATIVE.judged(rel[large] > rel[small], paired(_top_relative(hi), _top_relative(lo), alpha)))
    else:
        out.append(RELATIVE.missing("needs random and an AL strategy at the smallest and largest per_class"))
    return out


def claims(df, alpha: float = 0.05, smoke: bool | None = None) -> list[Claim]:
    """Section 05 claims, one set per (data set, model); smoke=None detects a smoke run (base.is_smoke)."""
    return per_setting(setting_claims, df, KEYS, smoke, alpha=alpha)
