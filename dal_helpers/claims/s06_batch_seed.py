"""Section 06, AL batch size and seed sets (paper Sec. 4.6, Tables 2, 3 and 9, App. G claim 3): no two
AL batch sizes differ significantly in more than 20% of the rounds; the seed set matters only at the
start (the spread of accuracy across seed sets shrinks)."""
from __future__ import annotations

from .. import notebook as nbh
from . import measures
from .base import Claim, ClaimSpec, paired, penalty_check, per_setting

KEYS = ("dataset", "model")
PAPER_BATCH_CELL = (0.0, 0.2)        # App. G claim 3: no cell above 0.2 over the 5 comparable rounds
BATCH_STEP = 0.2                     # the paper's 5 rounds: the cell moves in steps of 0.2

BATCH = ClaimSpec("06.batch_size_penalty", "AL batch sizes: largest penalty cell of any strategy", PAPER_BATCH_CELL,
                  "Sec. 4.6, Table 2, App. G claim 3", "per-round two-tailed t-tests over seeds between batch sizes "
                  "(App. G) at the labeled-set sizes they share; the largest cell is at most 0.2, with 5 or more "
                  "rounds and the paper's 3 or more seeds")
SEED_SETS = ClaimSpec("06.seed_sets_matter_only_at_start", "seed sets matter only at the start: accuracy spread "
                      "across seed sets shrinks (entropy)", True, "Sec. 4.6, Table 3",
                      "paired t-test over seeds of the spread (max − min accuracy across seed sets), first vs last "
                      "shared labeled-set size")


def _batch(sizes, alpha: float) -> Claim:
    worst, rounds = None, []
    for _, part in sizes.groupby("strategy") if len(sizes) else []:
        if part["budget"].nunique() < 2:
            continue
        pm = nbh.penalty_or_none(part, by="budget", alpha=alpha)
        if pm is not None:
            worst = max(worst or 0.0, float(pm.to_numpy().max()))
            rounds.append(pm.attrs["n_rounds"])
    if worst is None:
        return BATCH.missing("needs 2 or more batch sizes of one strategy, 2 or more seeds")
    return BATCH.judged(worst, penalty_check(worst, min(rounds), measures.n_seeds(sizes), PAPER_BATCH_CELL, 0.0,
                                             alpha=alpha, step=BATCH_STEP))


def _spread(part, sizes_at) -> dict:
    """{seed: max − min accuracy across seed sets at labeled-set size `sizes_at`}."""
    at = part[part["n_labeled"] == sizes_at]
    wide = at.pivot_table(index="seed", columns="seed_set", values="test_acc").dropna()
    return {} if wide.shape[1] < 2 else (wide.max(axis=1) - wide.min(axis=1)).to_dict()


def _seed_sets(seeded, alpha: float) -> tuple[Claim, ...]:
    if not len(seeded) or seeded["seed_set"].nunique() < 2:
        return (SEED_SETS.missing("needs 2 or more seed sets"),)
    from .. import metrics

    ent = seeded[seeded["strategy"] == "entropy"] if "entropy" in set(seeded["strategy"]) else seeded
    curves = metrics.mean_curves(ent, by="seed_set")
    sizes = sorted(set.intersection(*(set(c["n_labeled"]) for _, c in curves.groupby("seed_set"))))
    if len(sizes) < 2:
        return (SEED_SETS.missing("needs 2 or more labeled-set sizes shared by the seed sets"),)
    at = lambda n: curves[curves["n_labeled"] == n]["mean"]  # noqa: E731
    first, last = float(at(sizes[0]).max() - at(sizes[0]).min()), float(at(sizes[-1]).max() - at(sizes[-1]).min())
    rule = paired(_spread(ent, sizes[0]), _spread(ent, sizes[-1]), alpha)
    return (SEED_SETS.judged(last < first, {**rule, "reason": f"spread {first:.3f} -> {last:.3f}; {rule['reason']}"}),)


def setting_claims(df, alpha: float = 0.05, seed_set_budget: int | None = None) -> list[Claim]:
    """The batch-size claim on the runs with random seed sets, the seed-set claim on the runs with
    `seed_set_budget` labels per round (None: the budget of the runs with other seed sets)."""
    if not len(df):
        return [BATCH.missing("no results"), SEED_SETS.missing("no results")]
    sizes = df[df["seed_set"] == "random"] if "seed_set" in df.columns else df
    if seed_set_budget is None and "seed_set" in df.columns:
        others = df.loc[df["seed_set"] != "random", "budget"].unique()
        seed_set_budget = int(others[0]) if len(others) == 1 else None
    seeded = df[df["budget"] == seed_set_budget] if seed_set_budget is not None else df.iloc[0:0]
    return [_batch(sizes, alpha), *_seed_sets(seeded, alpha)]


def claims(df, alpha: float = 0.05, seed_set_budget: int | None = None, smoke: bool | None = None) -> list[Claim]:
    """Section 06 claims, one set per (data set, model); smoke=None detects a smoke run (base.is_smoke)."""
    return per_setting(setting_claims, df, KEYS, smoke, alpha=alpha, seed_set_budget=seed_set_budget)
