"""Section 11, your own data: does the strategy advisor (`dal_helpers.advisor`) pick well here, and does
active learning pay off on this pool at all?

The claims are the toolkit's own, built on the paper's findings that the advisor's rules encode
(uncertainty is competitive with BADGE on a pool without copies, Sec. 4.1; top-k uncertainty suffers
from copies while BADGE does not, Sec. 4.4):
1. the advisor's pick, chosen from the unlabeled pool before any label is bought, is at least as
   label-efficient as entropy, the common default (paired t-test over seeds of the efficiency at the end);
2. active learning beats random sampling here: the advisor's pick against random over matched
   (seed, labeled-set size) pairs after the seed set (Wilcoxon signed-rank). Testing the pick rather than
   the best strategy of the table avoids choosing the winner after seeing the labels; when the pick is
   random itself the AL strategy with the highest AUBC stands in, and the reason says so;
3. the advisor flags the toolkit's redundant variants of this pool (x2..x20 duplicates and near-copies,
   `data.make_redundant`) and not the original pool (every row of `advisor.advisor_table` checked).
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from . import measures
from .base import Claim, ClaimSpec, guard_smoke, paired, per_setting, resolve_smoke, wilcoxon

KEYS = ("dataset", "model")
SOURCE = "advisor rules from Sec. 4.1 and 4.4"
ORIGINAL = "original"    # the variant name of the unchanged pool in the validation table

PICK_VS_ENTROPY = ClaimSpec(
    "11.advisor_pick_at_least_as_efficient_as_entropy",
    "the advisor's pick is at least as label-efficient as entropy: efficiency at the end against random, "
    "pick − entropy", True, SOURCE,
    "paired t-test over seeds of the efficiency at the end (metrics.end_efficiency against random): "
    "reproduced when the pick is significantly more efficient, not reproduced when significantly less, "
    "otherwise inconclusive (no significant difference does not show 'at least as')")
AL_BEATS_RANDOM = ClaimSpec(
    "11.al_beats_random_here",
    "active learning (the advisor's pick) beats random sampling on this pool: mean accuracy gain in points "
    "over matched (seed, size) pairs after the seed set", True, "Sec. 4.1 (on the paper's data sets)",
    "Wilcoxon signed-rank test of pick − random accuracy over matched (seed, labeled-set size) pairs "
    "after the seed set; reproduced when significant with a positive median")
FLAGS = ClaimSpec(
    "11.advisor_flags_redundant_variants",
    "the advisor flags every redundant variant of this pool (x2..x20) and not the original: variants "
    "judged right", 1.0, "advisor module doc; Sec. 4.4 (App. D variants)",
    "every row of advisor.advisor_table over the original pool and its data.make_redundant variants: "
    "reproduced when each variant's `redundant` flag equals (variant != original), not reproduced otherwise")


def stand_in(df, pick: str, baseline: str = "random") -> tuple[str | None, str]:
    """(the AL strategy tested against the baseline, why): the advisor's pick, or, when the pick is the
    baseline itself, the other strategy of the table with the highest AUBC (None when there is none)."""
    if pick != baseline:
        return pick, f"the advisor's pick {pick}"
    scores = {k: v for k, v in measures.aubc_by_label(df).items() if k != baseline}
    if not scores:
        return None, "no AL strategy in the table"
    best = max(sorted(scores), key=scores.get)
    return best, f"{best}, the highest AUBC (the advisor picked {baseline}, so the winner is chosen after the fact)"


def matched_accuracies(df, a: str, b: str) -> pd.DataFrame:
    """Accuracies of strategies a and b matched on (seed, n_labeled) after the seed set (round >= 1):
    columns a, b, indexed by (seed, n_labeled); pairs that only one strategy has are dropped."""
    rows = df[(df["round"] >= 1) & df["strategy"].isin([a, b])]
    wide = rows.pivot_table(index=["seed", "n_labeled"], columns="strategy", values="test_acc")
    if a not in wide.columns or b not in wide.columns:
        return pd.DataFrame(columns=[a, b])
    return wide[[a, b]].dropna()


def _pick_vs_entropy(df, pick: str, alpha: float) -> Claim:
    present = set(df["strategy"]) if len(df) else set()
    if pick == "entropy":
        return PICK_VS_ENTROPY.missing("the advisor's pick is entropy itself")
    need = [s for s in (pick, "entropy", "random") if s not in present]
    if need:
        return PICK_VS_ENTROPY.missing(f"no runs of {need} in the table")
    a, b = measures.end_efficiency(df, pick), measures.end_efficiency(df, "entropy")
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return PICK_VS_ENTROPY.missing(f"{pick} or entropy shares no accuracy with random in any seed")
    rule = paired(a, b, alpha)
    diff = sum(a[s] - b[s] for s in seeds) / len(seeds)
    return PICK_VS_ENTROPY.judged(round(diff, 4), {**rule, "reason": f"{pick} vs entropy: {rule['reason']}"})


def _al_beats_random(df, pick: str, alpha: float) -> Claim:
    if not len(df) or "random" not in set(df["strategy"]):
        return AL_BEATS_RANDOM.missing("no random runs in the table")
    name, why = stand_in(df, pick)
    if name is None or name not in set(df["strategy"]):
        return AL_BEATS_RANDOM.missing(f"no runs of {name or 'an AL strategy'} in the table")
    wide = matched_accuracies(df, name, "random")
    if wide.empty:
        return AL_BEATS_RANDOM.missing(f"{name} and random share no (seed, size) after the seed set")
    rule = wilcoxon(wide[name].to_numpy(float), wide["random"].to_numpy(float), alpha)
    ours = round(100 * float((wide[name] - wide["random"]).mean()), 2)
    return AL_BEATS_RANDOM.judged(ours, {**rule, "reason": f"{why}: {rule['reason']}"})


def _flags(validation: pd.DataFrame | None) -> Claim:
    if validation is None or not len(validation):
        return FLAGS.missing("no advisor validation table given")
    if ORIGINAL not in validation.index:
        return FLAGS.missing(f"the validation table has no {ORIGINAL!r} row (variants: {list(validation.index)})")
    truth = pd.Series([name != ORIGINAL for name in validation.index], index=validation.index)
    wrong = [name for name in validation.index if bool(validation.loc[name, "redundant"]) != truth[name]]
    n = len(validation)
    ours = (n - len(wrong)) / n
    if wrong:
        return FLAGS.claim(ours, "not reproduced", f"{len(wrong)} of {n} pools judged wrong: {wrong}")
    return FLAGS.claim(ours, "reproduced", f"all {n} pools judged right (the original unflagged, "
                                           f"{n - 1} variants flagged)")


def setting_claims(df, pick: str, alpha: float = 0.05) -> list[Claim]:
    """Claims 1 and 2 on one (data set, model) of a results table."""
    return [_pick_vs_entropy(df, pick, alpha), _al_beats_random(df, pick, alpha)]


def claims(df, pick: str, validation: pd.DataFrame | None = None, alpha: float = 0.05,
           smoke: bool | None = None) -> list[Claim]:
    """Section 11 claims: 1 and 2 per (data set, model) of df, with `pick` the advisor's top strategy
    (advisor.advise(...).top[0]); 3 from `validation`, the advisor_table over the original pool (row
    "original") and its redundant variants. smoke=None detects a smoke run (base.is_smoke); a smoke run
    is never "not reproduced"."""
    if not isinstance(pick, str) or not pick:
        raise ValueError(f"pick={pick!r} is invalid; allowed: the name of the advisor's top strategy")
    out: list[Any] = per_setting(setting_claims, df, KEYS, smoke, pick=pick, alpha=alpha)
    return out + guard_smoke([_flags(validation)], resolve_smoke(df, smoke))
