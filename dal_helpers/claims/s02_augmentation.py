"""Section 02, data augmentation (paper Sec. 4.2, Table 5, App. G claim 1): about +10 points of
accuracy with augmentation, a higher efficiency at the end with it, BADGE ahead of entropy without it,
entropy ahead of BADGE in only 1 of 9 rounds with it."""
from __future__ import annotations

import numpy as np

from .. import notebook as nbh
from . import measures
from .base import Claim, ClaimSpec, ci_check, paired, penalty_check, per_setting

KEYS = ("dataset", "model")
SOURCE = "Sec. 4.2, Table 5"
PAPER_GAIN, GAIN_TOL = 0.10, 0.04            # "about 10 points"
PAPER_EFFICIENCY = {"without": (1.4, 1.3), "with": (1.8, 1.7)}   # ResNet-18, VGG-11 at the end
PAPER_ENTROPY_OVER_BADGE, CELL_TOL = 0.11, 0.15   # App. G claim 1: 1 of 9 rounds

GAIN = ClaimSpec("02.augmentation_gain", "augmentation adds about 10 points of final accuracy (mean over "
                 "strategies)", PAPER_GAIN, SOURCE, "95% t CI over seeds of the per-seed gain (mean over strategies "
                 f"of final accuracy with minus without) overlaps 0.10 ± {GAIN_TOL} (fallback tolerance: 'about')")
EFFICIENCY = ClaimSpec("02.efficiency_higher_with_augmentation", "the top strategy's efficiency is higher with "
                       "augmentation (1.4× → 1.8×)", True, SOURCE, "paired t-test over seeds of the top efficiency "
                       "at the end with vs without augmentation")
BADGE_NOAUG = ClaimSpec("02.badge_beats_entropy_without_augmentation", "without augmentation BADGE beats entropy "
                        "(AUBC)", True, SOURCE, "paired t-test over seeds of AUBC(BADGE) vs AUBC(entropy)")
ROUNDS = ClaimSpec("02.entropy_beats_badge_rounds", "with augmentation entropy beats BADGE significantly in 1 of 9 "
                   "rounds (penalty cell)", PAPER_ENTROPY_OVER_BADGE, "Sec. 4.2, App. G claim 1",
                   f"per-round two-tailed t-tests over seeds (App. G); the cell lies within ±{CELL_TOL} of 0.11")


def setting_claims(df, alpha: float = 0.05) -> list[Claim]:
    """The four claims on one (data set, model) holding runs with and without augmentation."""
    on, off = measures.subset(df, augment=True), measures.subset(df, augment=False)
    out = []
    if len(on) and len(off):
        a_on, a_off = nbh.final_accuracy(on), nbh.final_accuracy(off)
        common = sorted(set(a_on) & set(a_off))
        gains = {}
        for s in common:
            f_on, f_off = measures.final_acc(on, s), measures.final_acc(off, s)
            for seed in set(f_on) & set(f_off):
                gains.setdefault(seed, []).append(f_on[seed] - f_off[seed])
        per_seed = [float(np.mean(v)) for k, v in sorted(gains.items()) if len(v) == len(common)]
        ours = sum(a_on[k] - a_off[k] for k in common) / len(common) if common else None
        out.append(GAIN.judged(ours, ci_check(per_seed, PAPER_GAIN, GAIN_TOL)) if common
                   else GAIN.missing("no strategy run both with and without augmentation"))
    else:
        out.append(GAIN.missing("needs runs with and without augmentation"))
    eff_on, eff_off = measures.top_efficiency(on), measures.top_efficiency(off)
    if eff_on is not None and eff_off is not None:
        rule = paired(measures.top_end_efficiency(on), measures.top_end_efficiency(off), alpha)
        out.append(EFFICIENCY.judged(eff_on > eff_off, rule))
    else:
        out.append(EFFICIENCY.missing("needs random and an AL strategy sharing an accuracy, with and without "
                                      "augmentation"))
    area = measures.aubc_by_label(off) if len(off) else {}
    if {"badge", "entropy"} <= set(area):
        out.append(BADGE_NOAUG.judged(area["badge"] > area["entropy"],
                                      paired(measures.aubc(off, "badge"), measures.aubc(off, "entropy"), alpha)))
    else:
        out.append(BADGE_NOAUG.missing("needs BADGE and entropy without augmentation"))
    pair = on[on["strategy"].isin(["entropy", "badge"])] if len(on) else on
    pm = nbh.penalty_or_none(pair, alpha=alpha) if len(pair) else None
    value = nbh.cell(pm, "entropy", "badge")
    if value is None:
        out.append(ROUNDS.missing("needs entropy and BADGE with augmentation, 2 or more seeds"))
    else:
        out.append(ROUNDS.judged(value, penalty_check(value, pm.attrs["n_rounds"], measures.n_seeds(pair),
                                                      PAPER_ENTROPY_OVER_BADGE, CELL_TOL, alpha=alpha)))
    return out


def claims(df, alpha: float = 0.05, smoke: bool | None = None) -> list[Claim]:
    """Section 02 claims, one set per (data set, model); smoke=None detects a smoke run (base.is_smoke)."""
    return per_setting(setting_claims, df, KEYS, smoke, alpha=alpha)
