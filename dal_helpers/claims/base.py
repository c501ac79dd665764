"""A claim of the paper, what we measured for it, and the rule that judged it.

Verdicts: "reproduced", "not reproduced", "inconclusive" (too few seeds or runs to decide; the reason
says how many seeds a paired test would need), "not comparable" (our setting is not the paper's; the
reason says how). A smoke run is never "not reproduced": its verdict is at most "inconclusive".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import stats

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "not comparable")


@dataclass(frozen=True)
class Claim:
    """One row of a section's "paper vs ours" table. paper/ours: the paper's value and ours (numbers
    as fractions or ratios, or bools); source: where the paper states it (e.g. "Sec. 4.4, Table 7");
    test: the rule in words; statistic, p_value, ci: what the test gave (NaN / None when not run)."""
    id: str
    section: str
    text: str
    paper: Any
    source: str
    test: str
    ours: Any = None
    statistic: float = math.nan
    p_value: float = math.nan
    ci: tuple[float, float] | None = None
    verdict: str = "inconclusive"
    reason: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict={self.verdict!r} is invalid; allowed: {', '.join(VERDICTS)}")


def by_id(claims: Sequence[Claim], claim_id: str) -> Claim:
    """The claim with id `claim_id`; KeyError naming it and the ids present."""
    for c in claims:
        if c.id == claim_id:
            return c
    raise KeyError(f"no claim {claim_id!r}; present: {', '.join(c.id for c in claims) or 'none'}")


def paired_verdict(a: Sequence[float], b: Sequence[float], expect_greater: bool = True, alpha: float = 0.05,
                   smoke: bool = False) -> tuple[str, float, float, str]:
    """(verdict, t statistic, p, reason) for the claim "a > b" (expect_greater) or "a is not different
    from b" (expect_greater=False), from a paired t-test over seeds (a[i], b[i] share seed i).

    Fewer than 2 pairs, or a non-significant difference for a "greater" claim, gives "inconclusive"
    with the seeds a paired test would need for 80% power; a significant difference the wrong way
    gives "not reproduced" (never for smoke runs)."""
    from .. import metrics

    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape != b.shape:
        raise ValueError(f"paired_verdict needs one value per seed on both sides; got {a.shape} and {b.shape}")
    if len(a) < 2:
        return "inconclusive", math.nan, math.nan, f"{len(a)} seed(s): a paired test needs 2 or more"
    diff = a - b
    if np.all(diff == diff[0]):                      # no spread: the t statistic is undefined
        t, p = (math.inf * np.sign(diff[0]) if diff[0] else 0.0), (0.0 if diff[0] else 1.0)
    else:
        t, p = (float(x) for x in stats.ttest_rel(a, b))
    significant = p < alpha
    if expect_greater and significant and t > 0:
        verdict, reason = "reproduced", f"paired t-test over {len(a)} seeds, p = {p:.3g}"
    elif significant and (not expect_greater or t < 0):
        verdict, reason = "not reproduced", f"significant difference the other way, p = {p:.3g}"
    elif not expect_greater:
        verdict, reason = "inconclusive", (f"no significant difference over {len(a)} seeds (p = {p:.3g}); "
                                           "absence of a difference is not shown by one test")
    else:
        sd = float(np.std(diff, ddof=1))
        need = metrics.seeds_needed(float(np.mean(diff)), sd) if sd > 0 and np.mean(diff) != 0 else None
        verdict = "inconclusive"
        reason = f"p = {p:.3g} over {len(a)} seeds" + (f"; about {need} seeds needed for 80% power" if need else "")
    if smoke and verdict == "not reproduced":
        verdict, reason = "inconclusive", "smoke run: " + reason
    return verdict, t, p, reason
