"""Section 07, resetting vs updating the model between rounds (paper Sec. 4.7, App. E, App. G claim 5):
with SGD and augmentation no significant difference over the last five rounds, updating worse early;
with Adam and no augmentation updating is worse throughout."""
from __future__ import annotations

import numpy as np

from .. import notebook as nbh
from . import measures
from .base import Claim, ClaimSpec, paired, penalty_check, per_setting, wilcoxon

KEYS = ("dataset", "model")
SOURCE = "Sec. 4.7, App. E"
PAPER_LAST5_CELL, CELL_TOL = 0.0, 0.2     # App. G claim 5: no significant cell over the last five rounds

LAST5 = ClaimSpec("07.no_difference_last_five_rounds", "reset vs update, SGD + augmentation: largest penalty cell "
                  "over the last five rounds", PAPER_LAST5_CELL, "Sec. 4.7, App. G claim 5",
                  f"per-round two-tailed t-tests over seeds (App. G) over the last five rounds; the largest cell of "
                  f"any strategy is within {CELL_TOL}, with 5 rounds and the paper's 3 or more seeds")
EARLY = ClaimSpec("07.update_worse_early", "updating is worse than resetting after the first selection round", True,
                  SOURCE, "paired t-test over seeds of the accuracy (mean over strategies) at the first selection "
                  "round, reset vs update (SGD + augmentation)")
ADAM = ClaimSpec("07.adam_update_worse_throughout", "Adam without augmentation: fraction of rounds where updating is "
                 "worse", 1.0, SOURCE, "Wilcoxon signed-rank test of reset − update accuracy over matched "
                 "(strategy, seed, size) pairs after the seed set")


def _matched(part):
    """(reset, update) accuracies matched on (strategy, seed, n_labeled), rounds after the seed set."""
    rows = part[part["round"] > 0] if "round" in part.columns else part
    wide = rows.pivot_table(index=["strategy", "seed", "n_labeled"], columns="reset", values="test_acc").dropna()
    if True not in wide.columns or False not in wide.columns:
        return np.array([]), np.array([])
    return wide[True].to_numpy(float), wide[False].to_numpy(float)


def _early(sgd, alpha: float) -> Claim:
    flags, reset_acc, update_acc = [], {}, {}
    for s, part in sgd.groupby("strategy"):
        if part["reset"].nunique() < 2:
            continue
        rel = measures.relative_reset(part)
        rel = rel[rel["reset"] == False].sort_values("n_labeled") if rel is not None else []  # noqa: E712
        if len(rel) > 1:
            flags.append(float(rel["rel_acc"].iloc[1]) < 0)
            at = part[part["n_labeled"] == rel["n_labeled"].iloc[1]]
            for flag, store in ((True, reset_acc), (False, update_acc)):
                for seed, v in at[at["reset"] == flag].set_index("seed")["test_acc"].items():
                    store.setdefault(seed, []).append(float(v))
    if not flags:
        return EARLY.missing("needs reset and update runs (SGD + augmentation) with 2 or more rounds")
    mean = lambda d: {k: float(np.mean(v)) for k, v in d.items() if len(v) == len(flags)}  # noqa: E731
    return EARLY.judged(all(flags), paired(mean(reset_acc), mean(update_acc), alpha))


def setting_claims(df, alpha: float = 0.05) -> list[Claim]:
    """The three claims on one (data set, model) holding reset and update runs."""
    if not len(df) or not {"reset", "optimizer", "augment"} <= set(df.columns):
        return [s.missing("no reset/update runs") for s in (LAST5, EARLY, ADAM)]
    sgd = df[(df["optimizer"] == "sgd") & (df["augment"] == True)]  # noqa: E712
    worst, rounds = None, []
    for _, part in sgd.groupby("strategy"):
        if part["reset"].nunique() < 2:
            continue
        pm = nbh.penalty_or_none(part, by="reset", rounds=slice(-5, None), alpha=alpha)
        if pm is not None:
            worst = max(worst or 0.0, float(pm.to_numpy().max()))
            rounds.append(pm.attrs["n_rounds"])
    out = [LAST5.missing("needs reset and update runs (SGD + augmentation), 2 or more seeds") if worst is None else
           LAST5.judged(worst, penalty_check(worst, min(rounds), measures.n_seeds(sgd), PAPER_LAST5_CELL, CELL_TOL,
                                             alpha=alpha))]
    out.append(_early(sgd, alpha))
    adam = df[(df["optimizer"] == "adam") & (df["augment"] == False)]  # noqa: E712
    rel = measures.relative_reset(adam) if adam["reset"].nunique() > 1 else None
    rel = rel[rel["reset"] == False] if rel is not None else []  # noqa: E712
    if len(rel):
        reset, update = _matched(adam)
        out.append(ADAM.judged(float((rel["rel_acc"] < 0).mean()),
                               wilcoxon(reset, update, alpha, blocks="(strategy, seed, size) pairs")))
    else:
        out.append(ADAM.missing("needs reset and update runs with Adam and no augmentation"))
    return out


def claims(df, alpha: float = 0.05, smoke: bool | None = None) -> list[Claim]:
    """Section 07 claims, one set per (data set, model); smoke=None detects a smoke run (base.is_smoke)."""
    return per_setting(setting_claims, df, KEYS, smoke, alpha=alpha)
