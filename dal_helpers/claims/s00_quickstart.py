"""Section 00, the quickstart: indicative checks of the paper's MNIST numbers on the embedded
4,000-digit pool (an AL strategy beats random at the end; the top efficiency, 4.5× late on 60,000
digits, which a 4,000-digit pool cannot reach; random sampling's accuracy with 300 labels)."""
from __future__ import annotations

from .. import notebook as nbh
from . import measures
from .base import Claim, ClaimSpec, ci_check, paired, per_setting

KEYS = ("dataset", "model")
PAPER_TOP_EFFICIENCY = 4.5        # Sec. 4.1: MNIST, late rounds, 60,000-digit pool
PAPER_RANDOM_AT_300 = 0.925       # read off the reference toolkit's MNIST plot (random, 300 labels)

BEATS = ClaimSpec("00.al_beats_random_at_last_round", "an AL strategy beats random at the last round", True,
                  "Sec. 4.1, Fig. 1", "paired t-test over seeds of the final accuracy of the AL strategy with "
                  "the highest mean final accuracy vs random's")
TOP = ClaimSpec("00.top_efficiency", "top labeling efficiency on MNIST (late rounds)", PAPER_TOP_EFFICIENCY,
                "Sec. 4.1", "95% bootstrap CI over seeds of the top strategy's efficiency at the end overlaps "
                "4.5 ± 1.0 (fallback tolerance for a number read off a plot); only on the full MNIST pool")
AT_300 = ClaimSpec("00.random_accuracy_at_300_labels", "random sampling's accuracy with 300 labels",
                   PAPER_RANDOM_AT_300, "App. B.1, Fig. 1 (MNIST plot of the reference toolkit)",
                   "95% t CI over seeds of random's accuracy at 300 labels overlaps 0.925 ± 0.03 (fallback "
                   "tolerance for a number read off a plot)")


def setting_claims(df, alpha: float = 0.05) -> list[Claim]:
    """The three claims on one (data set, model) of a results table."""
    out = []
    acc = nbh.final_accuracy(df) if len(df) else {}
    active = {k: v for k, v in acc.items() if k != "random"}
    if "random" in acc and active:
        best = max(active, key=active.get)
        rule = paired(measures.final_acc(df, best), measures.final_acc(df, "random"), alpha)
        out.append(BEATS.judged(active[best] > acc["random"], {**rule, "reason": f"{best}: {rule['reason']}"}))
        eff = {k: v for k, v in nbh.end_efficiency(df).items() if k != "random" and v == v}
        if not eff:
            out.append(TOP.missing("no AL strategy shares an accuracy with random"))
        elif str(df["dataset"].iloc[0]) != "mnist":
            top = max(eff, key=eff.get)
            out.append(TOP.not_comparable(eff[top], f"the paper's 4.5× is on 60,000 digits at 98.5% accuracy; "
                                          f"ours: {df['dataset'].iloc[0]}, up to {int(df['n_labeled'].max())} labels"))
        else:
            top = max(eff, key=eff.get)
            ours, rule = measures.efficiency_check(df, top, PAPER_TOP_EFFICIENCY, tol=1.0)
            out.append(TOP.judged(ours, rule))
    else:
        out += [BEATS.missing("needs random and an AL strategy"), TOP.missing("needs random and an AL strategy")]
    at = df[(df["n_labeled"] == 300) & (df["strategy"] == "random")] if len(df) else df
    if len(at):
        values = at.groupby("seed")["test_acc"].mean().tolist()
        out.append(AT_300.judged(float(at["test_acc"].mean()), ci_check(values, PAPER_RANDOM_AT_300, tol=0.03)))
    else:
        out.append(AT_300.missing("no random run with 300 labels"))
    return out


def claims(df, alpha: float = 0.05, smoke: bool | None = None) -> list[Claim]:
    """Section 00 claims, one set per (data set, model); smoke=None detects a smoke run (base.is_smoke)."""
    return per_setting(setting_claims, df, KEYS, smoke, alpha=alpha)
