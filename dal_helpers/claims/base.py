"""A claim of the paper, what we measured for it, and the rule that judged it.

Verdicts: "reproduced", "not reproduced", "inconclusive" (too few seeds, runs or rounds to decide, or
nothing measured; the reason says which, and how many seeds a paired test would need where that can
be estimated), "not comparable" (our setting is not the paper's in a way that decides the claim; the
reason says how). A smoke run is never "not reproduced": its verdict is at most "inconclusive".

The rules, each returning the fields of a `Claim` it decides (`verdict`, `statistic`, `p_value`,
`ci`, `reason`): `paired` (paired t-test over seeds), `wilcoxon` (signed-rank test over matched
(seed, size) pairs), `ci_check` (a 95% t interval over seeds or runs against the paper's value),
`interval_check` (the same for an interval computed elsewhere, e.g. a bootstrap CI of an efficiency)
and `penalty_check` (a cell of the App. G penalty matrix, itself built from per-round t-tests).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy import stats

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "not comparable")

# Smoke runs (ci/smoke/*.yaml) train on the embedded 4,000-digit pool for 1-2 rounds: a table whose
# every row is on one of these data sets and reaches at most SMOKE_MAX_ROUND is a smoke run.
SMOKE_DATASETS = ("mnist5k",)
SMOKE_MAX_ROUND = 2


@dataclass(frozen=True)
class Claim:
    """One row of a section's "paper vs ours" table. paper/ours: the paper's value and ours (numbers
    as fractions or ratios, a (low, high) range, or bools); source: where the paper states it (e.g.
    "Sec. 4.4, Table 7"); test: the rule in words; statistic, p_value, ci: what the test gave (NaN /
    None when not run)."""
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


@dataclass(frozen=True)
class ClaimSpec:
    """What the paper states, before anything is measured: id ("04.entropy_..."; the section is the
    part before the dot), text, the paper's value, its source and the test that will judge it."""
    id: str
    text: str
    paper: Any
    source: str
    test: str

    @property
    def section(self) -> str:
        """The section number of the id ("04" for "04.badge_beats_entropy_at_max_redundancy")."""
        return self.id.split(".", 1)[0]

    def claim(self, ours: Any, verdict: str, reason: str, statistic: float = math.nan,
              p_value: float = math.nan, ci: tuple[float, float] | None = None) -> Claim:
        """The Claim of this spec with what was measured and the verdict a test gave."""
        return Claim(id=self.id, section=self.section, text=self.text, paper=self.paper, source=self.source,
                     test=self.test, ours=ours, statistic=statistic, p_value=p_value, ci=ci, verdict=verdict,
                     reason=reason)

    def judged(self, ours: Any, rule: Mapping[str, Any]) -> Claim:
        """The claim with `ours` and the fields a rule returned (`paired`, `ci_check`, ...)."""
        return self.claim(ours, **rule)

    def missing(self, what: str) -> Claim:
        """Nothing measured: inconclusive, reason "not measured: <what>"."""
        return self.claim(None, "inconclusive", f"not measured: {what}")

    def not_comparable(self, ours: Any, why: str) -> Claim:
        """Our setting differs from the paper's in a way that decides the claim: `why` says how."""
        return self.claim(ours, "not comparable", why)


def by_id(claims: Sequence[Claim], claim_id: str) -> Claim:
    """The claim with id `claim_id`; KeyError naming it and the ids present."""
    for c in claims:
        if c.id == claim_id:
            return c
    raise KeyError(f"no claim {claim_id!r}; present: {', '.join(c.id for c in claims) or 'none'}")


# --------------------------------------------------------------------------------------------------
# Smoke runs and settings
# --------------------------------------------------------------------------------------------------

def is_smoke(df) -> bool:
    """True for a smoke run: every row on a SMOKE_DATASETS data set (the embedded mnist5k digits) and
    no round index above SMOKE_MAX_ROUND (the ci/smoke files run 1 or 2 selection rounds)."""
    if not len(df) or "dataset" not in df.columns or "round" not in df.columns:
        return False
    return set(map(str, df["dataset"])) <= set(SMOKE_DATASETS) and int(df["round"].max()) <= SMOKE_MAX_ROUND


def resolve_smoke(df, smoke: bool | None) -> bool:
    """smoke=None: `is_smoke(df)`; True / False: as given."""
    if smoke is None:
        return is_smoke(df)
    if not isinstance(smoke, (bool, np.bool_)):
        raise TypeError(f"smoke={smoke!r} is invalid; allowed: True, False or None (detect from the table)")
    return bool(smoke)


def guard_smoke(claims: Sequence[Claim], smoke: bool) -> list[Claim]:
    """A smoke run refutes nothing: its "not reproduced" verdicts become "inconclusive"."""
    if not smoke:
        return list(claims)
    return [replace(c, verdict="inconclusive", reason="smoke run (tiny data, few rounds): " + c.reason)
            if c.verdict == "not reproduced" else c for c in claims]


def settings(df, keys: Sequence[str]) -> list[tuple[str, Any]]:
    """[(title, rows)]: one part per combination of the `keys` columns that take several values in df
    (title "cifar10/resnet18"); [("", df)] when none does (or df is empty)."""
    varying = [k for k in keys if k in df.columns and len(df) and df[k].nunique() > 1]
    if not varying:
        return [("", df)]
    return [("/".join(map(str, k if isinstance(k, tuple) else (k,))), part.reset_index(drop=True))
            for k, part in df.groupby(varying, sort=True)]


def per_setting(fn: Callable[..., list[Claim]], df, keys: Sequence[str], smoke: bool | None = None,
                **kwargs) -> list[Claim]:
    """fn(rows, **kwargs) for each setting of df (see `settings`), smoke-guarded per setting; with
    several settings each claim's id gets "@<setting>" and its text "<setting>: "."""
    out = []
    for title, part in settings(df, keys):
        for c in guard_smoke(fn(part, **kwargs), resolve_smoke(part, smoke)):
            out.append(replace(c, id=f"{c.id}@{title}", text=f"{title}: {c.text}") if title else c)
    return out


# --------------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------------

def _seeds(n: int) -> str:
    return f"{n} seed" + ("" if n == 1 else "s")


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
        return "inconclusive", math.nan, math.nan, f"{_seeds(len(a))}: a paired test needs 2 or more"
    diff = a - b
    if np.ptp(diff) <= 1e-12 * max(1.0, float(np.abs(diff).max())):   # no spread (up to rounding): t undefined
        d0 = float(diff.mean()) if abs(diff.mean()) > 1e-12 else 0.0    # rounding noise around 0 is 0
        t, p = (math.inf * np.sign(d0) if d0 else 0.0), (0.0 if d0 else 1.0)
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


def paired(a: Mapping[Any, float], b: Mapping[Any, float], alpha: float = 0.05) -> dict[str, Any]:
    """Rule for "a > b" from per-seed values ({seed: value}), paired on the seeds both have
    (`paired_verdict`); the CI is the 95% t interval of the mean difference a - b."""
    seeds = sorted(set(a) & set(b))
    x, y = [a[s] for s in seeds], [b[s] for s in seeds]
    verdict, t, p, reason = paired_verdict(x, y, alpha=alpha)
    return {"verdict": verdict, "statistic": t, "p_value": p, "ci": t_interval(np.subtract(x, y)),
            "reason": reason}


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float] | None:
    """(low, high) t interval of the mean of `values`; the point itself when they do not spread; None
    with fewer than 2 values."""
    v = np.asarray(values, float)
    if len(v) < 2:
        return None
    if np.all(v == v[0]):
        return float(v[0]), float(v[0])
    half = stats.t.ppf((1 + level) / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return float(v.mean() - half), float(v.mean() + half)


def _band(paper: Any, tol: float) -> tuple[float, float]:
    if isinstance(paper, (bool, np.bool_)):
        raise ValueError(f"paper={paper!r} is a bool; a CI is compared with a number or a (low, high) range")
    low, high = sorted(map(float, paper)) if isinstance(paper, (tuple, list)) else (float(paper),) * 2
    return low - tol, high + tol


def interval_check(ci: tuple[float, float] | None, paper: Any, tol: float = 0.0, what: str = "95% CI",
                   no_ci: str = "") -> dict[str, Any]:
    """Rule for a one-number claim: "reproduced" when the interval `ci` overlaps the paper's value (or
    range) widened by `tol` (the allowance for a number read off a plot or rounded), "not reproduced"
    when it lies wholly outside, "inconclusive" with reason `no_ci` when there is no interval."""
    if ci is None or any(not math.isfinite(x) for x in ci):
        return {"verdict": "inconclusive", "ci": None, "reason": no_ci or f"no {what}"}
    ci = (float(ci[0]), float(ci[1]))
    low, high = _band(paper, tol)
    shown = f"{what} [{ci[0]:.3g}, {ci[1]:.3g}]"
    target = f"{low:.3g}–{high:.3g}" if low != high else f"{low:.3g}"
    if ci[1] < low or ci[0] > high:
        return {"verdict": "not reproduced", "ci": ci, "reason": f"{shown} excludes the paper's {target}"}
    return {"verdict": "reproduced", "ci": ci, "reason": f"{shown} overlaps the paper's {target}"}


def ci_check(values: Sequence[float], paper: Any, tol: float = 0.0, unit: str = "seeds") -> dict[str, Any]:
    """`interval_check` with the 95% t interval of the mean of `values` (one per seed or run)."""
    n = len(values)
    return interval_check(t_interval(values), paper, tol, what=f"95% t CI over {n} {unit}",
                          no_ci=f"{n} {unit[:-1] if n == 1 else unit}: a confidence interval needs 2 or more")


def wilcoxon(a: Sequence[float], b: Sequence[float], alpha: float = 0.05, blocks: str = "(seed, size) pairs"
             ) -> dict[str, Any]:
    """Rule for "a > b" from matched pairs (e.g. one per seed and labeled-set size): two-sided Wilcoxon
    signed-rank test (pairs with no difference are dropped, as scipy's default); "reproduced" when
    significant with a positive median difference, "not reproduced" when significant the other way."""
    d = np.asarray(a, float) - np.asarray(b, float)
    nz = d[d != 0]
    if len(nz) < 2:
        return {"verdict": "inconclusive", "reason": f"{len(nz)} of {len(d)} {blocks} differ: a signed-rank test "
                "needs 2 or more"}
    res = stats.wilcoxon(nz)
    p, med = float(res.pvalue), float(np.median(nz))
    head = f"Wilcoxon signed-rank over {len(nz)} {blocks}, p = {p:.3g}"
    if p < alpha and med > 0:
        verdict = "reproduced"
    elif p < alpha:
        verdict, head = "not reproduced", head + ", the other way"
    else:
        verdict = "inconclusive"
        if p >= alpha and len(nz) < 6:
            head += f" (with {len(nz)} pairs the smallest possible p is {2 / 2 ** len(nz):.3g})"
    return {"verdict": verdict, "statistic": float(res.statistic), "p_value": p, "reason": head}


def penalty_check(cell: float | None, n_rounds: int, n_seeds: int, paper: Any, tol: float,
                  min_seeds: int = 3, alpha: float = 0.05, step: float | None = None) -> dict[str, Any]:
    """Rule for an App. G claim about a penalty cell (the fraction of rounds in which one label is
    significantly better than another, from per-round t-tests over seeds at level alpha).

    "inconclusive" when the cell's step 1 / n_rounds is coarser than `step` (default: tol), or with fewer than
    `min_seeds` seeds (the paper's 3) when the paper's cell is 0 (few seeds find no difference
    whatever the truth); otherwise "reproduced" when the cell lies within tol of the paper's value
    (or range), "not reproduced" otherwise."""
    if cell is None:
        return {"verdict": "inconclusive", "reason": "not measured: no penalty matrix (fewer than 2 seeds or labels)"}
    low, high = _band(paper, tol)
    step = tol if step is None else step
    if n_rounds < 1 or 1 / n_rounds > step + 1e-12:
        return {"verdict": "inconclusive", "statistic": cell,
                "reason": f"{n_rounds} comparison round(s): the cell moves in steps of {1 / max(n_rounds, 1):.2f}, "
                          f"coarser than the {step:.2f} the claim needs"}
    if min(map(float, paper if isinstance(paper, (tuple, list)) else (paper,))) == 0 and n_seeds < min_seeds:
        return {"verdict": "inconclusive", "statistic": cell,
                "reason": f"{_seeds(n_seeds)}: finding no significant round needs the paper's {min_seeds} or more"}
    inside = low <= cell <= high
    return {"verdict": "reproduced" if inside else "not reproduced", "statistic": cell,
            "reason": f"cell {cell:.2f} over {n_rounds} rounds, {_seeds(n_seeds)}, α = {alpha}; "
                      f"{'within' if inside else 'outside'} {max(low, 0):.2f}–{high:.2f}"}
