"""Section 04, redundancy (paper Sec. 4.4, App. D, Table 7): with a pool made redundant by repeating
a part of it (up to 20×), entropy's labeling efficiency degrades (≈ 0.5 at 20×, below random) while
BADGE stays robust (≈ 1.5 at 20×) and beats entropy."""
from __future__ import annotations

from dataclasses import replace

from .. import notebook as nbh
from . import measures
from .base import Claim, ClaimSpec, paired, per_setting

KEYS = ("dataset", "model", "redundancy_mode")
SOURCE = "Sec. 4.4, App. D, Table 7 (efficiencies read off the reference toolkit's plot)"
PAPER_MAX_REDUNDANCY = 20             # the paper's highest redundancy factor
PAPER_ENTROPY_EFFICIENCY = 0.5        # at 20×
PAPER_BADGE_EFFICIENCY = 1.5          # at 20×
EFFICIENCY_TOL = 0.3                  # fallback tolerance for numbers read off a plot

_TEST_EFF = ("95% bootstrap CI over seeds of the efficiency at the end at the highest redundancy overlaps "
             f"the paper's value ± {EFFICIENCY_TOL} (fallback tolerance for numbers read off a plot); "
             f"only comparable at the paper's {PAPER_MAX_REDUNDANCY}×")
ENTROPY_HI = ClaimSpec("04.entropy_efficiency_at_max_redundancy", "entropy's efficiency at the highest redundancy "
                       "is about 0.5", PAPER_ENTROPY_EFFICIENCY, SOURCE, _TEST_EFF)
BADGE_HI = ClaimSpec("04.badge_efficiency_at_max_redundancy", "BADGE's efficiency at the highest redundancy is "
                     "about 1.5", PAPER_BADGE_EFFICIENCY, SOURCE, _TEST_EFF)
FALLS = ClaimSpec("04.entropy_efficiency_falls", "entropy's efficiency falls as redundancy grows", True, SOURCE,
                  "paired t-test over seeds of entropy's efficiency at the end, lowest vs highest redundancy")
BEATS = ClaimSpec("04.badge_beats_entropy_at_max_redundancy", "BADGE beats entropy at the highest redundancy (mean "
                  "accuracy over the rounds both have)", True, SOURCE,
                  "paired t-test over seeds of the per-seed mean accuracy gap BADGE − entropy against 0")


def _at_top(spec: ClaimSpec, part, strategy: str, top) -> Claim:
    spec = replace(spec, text=f"{spec.text} (paper: {PAPER_MAX_REDUNDANCY}×, here {top}×)")
    eff = nbh.end_efficiency(part) if strategy in set(part["strategy"]) and "random" in set(part["strategy"]) else {}
    value = eff.get(strategy)
    if value is None or value != value:
        return spec.missing(f"no efficiency of {strategy} at {top}× (needs random and {strategy} sharing an accuracy)")
    if top != PAPER_MAX_REDUNDANCY:
        return spec.not_comparable(value, f"the highest redundancy here is {top}×; the paper's value is at "
                                          f"{PAPER_MAX_REDUNDANCY}×")
    ours, rule = measures.efficiency_check(part, strategy, spec.paper, EFFICIENCY_TOL)
    return spec.judged(ours, rule)


def setting_claims(df, alpha: float = 0.05) -> list[Claim]:
    """The four claims on one (data set, model, redundancy mode) holding several redundancy factors."""
    if not len(df) or "redundancy" not in df.columns:
        return [s.missing("no redundancy runs") for s in (ENTROPY_HI, BADGE_HI, FALLS, BEATS)]
    top, low = df["redundancy"].max(), df["redundancy"].min()
    hi, lo = df[df["redundancy"] == top], df[df["redundancy"] == low]
    out = [_at_top(ENTROPY_HI, hi, "entropy", top), _at_top(BADGE_HI, hi, "badge", top)]
    eff = nbh.efficiency_by(df, "redundancy")
    e_hi = measures.nan_to_none(eff.loc[top, "entropy"]) if top in eff.index and "entropy" in eff.columns else None
    e_lo = measures.nan_to_none(eff.loc[low, "entropy"]) if low in eff.index and "entropy" in eff.columns else None
    if top == low:
        out.append(FALLS.missing(f"one redundancy factor ({top}×)"))
    elif e_hi is None or e_lo is None:
        out.append(FALLS.missing("entropy's efficiency at the lowest or highest redundancy"))
    else:
        out.append(FALLS.judged(e_hi < e_lo, paired(measures.end_efficiency(lo, "entropy"),
                                                    measures.end_efficiency(hi, "entropy"), alpha)))
    gap = nbh.mean_gap(hi, "badge", "entropy")
    if gap is None:
        out.append(BEATS.missing(f"needs BADGE and entropy at {top}× sharing a labeled-set size"))
    else:
        per_seed = measures.gap(hi, "badge", "entropy")
        rule = paired(per_seed, {s: 0.0 for s in per_seed}, alpha)
        out.append(BEATS.judged(gap > 0, {**rule, "reason": f"BADGE − entropy: {100 * gap:+.2f} points; "
                                                            f"{rule['reason']}"}))
    return out


def claims(df, alpha: float = 0.05, smoke: bool | None = None) -> list[Claim]:
    """Section 04 claims, one set per (data set, model, redundancy mode); smoke=None detects a smoke
    run (base.is_smoke)."""
    return per_setting(setting_claims, df, KEYS, smoke, alpha=alpha)
