"""Section 03, optimizers and generalization (paper Sec. 4.3, App. C, Table 6, App. G claim 2): SGD
beats Adam in 8 of 9 rounds; SWA and shake-shake each raise the final accuracy; together they reach
up to 2.25× labeling efficiency. Variants are named as in Table 6 (`notebook.optimizer_variants`)."""
from __future__ import annotations

from .. import notebook as nbh
from . import measures
from .base import Claim, ClaimSpec, paired, penalty_check, per_setting

KEYS = ("dataset",)            # the model is one of the compared variants (shake-shake)
SOURCE = "Sec. 4.3, App. C, Table 6"
PAPER_SGD_OVER_ADAM, CELL_TOL = 0.89, 0.2      # App. G claim 2: 8 of 9 rounds
PAPER_SWA_SS_EFFICIENCY, EFFICIENCY_TOL = 2.25, 0.4

SGD_ADAM = ClaimSpec("03.sgd_beats_adam_rounds", "entropy with SGD beats entropy with Adam significantly in 8 of 9 "
                     "rounds (penalty cell)", PAPER_SGD_OVER_ADAM, "Sec. 4.3, App. G claim 2",
                     f"per-round two-tailed t-tests over seeds (App. G); the cell lies within ±{CELL_TOL} of 0.89")
SWA = ClaimSpec("03.swa_raises_accuracy", "SWA raises entropy's final accuracy over plain SGD", True, SOURCE,
                "paired t-test over seeds of entropy's final accuracy, SWA vs SGD")
SS = ClaimSpec("03.shakeshake_raises_accuracy", "shake-shake raises entropy's final accuracy over plain SGD", True,
               SOURCE, "paired t-test over seeds of entropy's final accuracy, shake-shake vs SGD")
BOTH = ClaimSpec("03.swa_shakeshake_top_efficiency", "SWA + shake-shake: top labeling efficiency up to 2.25×",
                 PAPER_SWA_SS_EFFICIENCY, SOURCE, "95% bootstrap CI over seeds of the top efficiency at the end "
                 f"overlaps 2.25 ± {EFFICIENCY_TOL} (fallback tolerance for a number read off a plot)")


def _raises(spec: ClaimSpec, ent, variant: str, acc: dict, alpha: float) -> Claim:
    if not {variant, "SGD"} <= set(acc):
        return spec.missing(f"needs entropy runs with {variant} and with plain SGD")
    rule = paired(measures.final_acc(ent, variant, by="variant"), measures.final_acc(ent, "SGD", by="variant"), alpha)
    return spec.judged(acc[variant] > acc["SGD"], rule)


def setting_claims(df, alpha: float = 0.05) -> list[Claim]:
    """The four claims on one data set."""
    df = nbh.optimizer_variants(df)
    ent = df[df["strategy"] == "entropy"] if len(df) else df
    two = ent[ent["variant"].isin(["SGD", "Adam"])] if len(ent) else ent
    pm = nbh.penalty_or_none(two, by="variant", alpha=alpha) if len(two) else None
    value = nbh.cell(pm, "SGD", "Adam")
    out = [SGD_ADAM.missing("needs entropy with SGD and with Adam, 2 or more seeds") if value is None else
           SGD_ADAM.judged(value, penalty_check(value, pm.attrs["n_rounds"], measures.n_seeds(two),
                                                PAPER_SGD_OVER_ADAM, CELL_TOL, alpha=alpha))]
    acc = nbh.final_accuracy(ent, by="variant") if len(ent) else {}
    out += [_raises(SWA, ent, "SWA", acc, alpha), _raises(SS, ent, "SS", acc, alpha)]
    both = df[df["variant"] == "SWA+SS"] if len(df) else df
    eff = {k: v for k, v in nbh.end_efficiency(both).items() if k != "random" and v == v} \
        if len(both) and "random" in set(both["strategy"]) else {}
    if eff:
        ours, rule = measures.efficiency_check(both, max(eff, key=eff.get), PAPER_SWA_SS_EFFICIENCY, EFFICIENCY_TOL)
        out.append(BOTH.judged(ours, rule))
    else:
        out.append(BOTH.missing("needs SWA + shake-shake runs of random and an AL strategy sharing an accuracy"))
    return out


def claims(df, alpha: float = 0.05, smoke: bool | None = None) -> list[Claim]:
    """Section 03 claims, one set per data set; smoke=None detects a smoke run (base.is_smoke)."""
    return per_setting(setting_claims, df, KEYS, smoke, alpha=alpha)
