"""Section 01, baselines (paper Sec. 4.1, Fig. 1, App. B): the top strategies' labeling efficiency
per data set and model, uncertainty sampling competitive with BADGE, CoreSet the weakest."""
from __future__ import annotations

from .. import metrics
from .. import notebook as nbh
from . import measures
from .base import Claim, ClaimSpec, paired, per_setting

KEYS = ("dataset", "model")
SOURCE = "Sec. 4.1, Fig. 1"
# Labeling efficiency of the top strategies, by (data set, model).
PAPER_EFFICIENCY = {("cifar10", "resnet18"): (1.8, 2.0), ("cifar10", "vgg19"): 1.6, ("cifar10", "dla"): 1.6,
                    ("cifar100", "resnet18"): 1.3, ("svhn", "resnet18"): 3.0, ("svhn", "vgg19"): 2.5,
                    ("fmnist", "resnet18"): 3.0, ("mnist", "mnist_net"): 4.5}
# Settings where the paper's number exists but was measured on another pool.
NOT_COMPARABLE = {("mnist5k", "mnist_net"): "the paper's 4.5× is on the 60,000-digit MNIST pool, late rounds at "
                                            "98.5% accuracy; mnist5k has 4,000 digits"}
EFFICIENCY_TOL = 0.3      # fallback tolerance: the paper's efficiencies are read off plots
MARGIN = 0.005            # "competitive": at most 0.5 points of AUBC below BADGE
UNCERTAINTY = ("entropy", "margin", "least_confidence")

TEST_EFF = ("95% bootstrap CI over seeds of the top strategy's efficiency at the end overlaps the paper's "
            f"value ± {EFFICIENCY_TOL} (fallback tolerance for numbers read off plots)")
COMPETITIVE = ClaimSpec("01.uncertainty_competitive_with_badge",
                        "uncertainty sampling within 0.5 points of BADGE (AUBC) or better", True, SOURCE,
                        "non-inferiority: paired t-test over seeds of AUBC(best uncertainty strategy) + 0.5 "
                        "points vs AUBC(BADGE)")
CORESET = ClaimSpec("01.coreset_weakest", "CoreSet has the lowest AUBC of the AL strategies", True, SOURCE,
                    "Wilcoxon signed-rank tests (Holm-corrected) of CoreSet vs every other AL strategy over "
                    "(seed, labeled-set size) blocks (metrics.rank_tests)")


def top_efficiency_spec(dataset: str, model: str) -> ClaimSpec:
    """The spec of "top strategy's efficiency at the end" with the paper's value for (dataset, model)."""
    return ClaimSpec("01.top_efficiency", "top strategy's labeling efficiency at the end",
                     PAPER_EFFICIENCY.get((dataset, model)), SOURCE, TEST_EFF)


def _coreset_weakest(df, alpha: float) -> Claim:
    active = df[df["strategy"] != "random"]
    names = set(active["strategy"])
    if "coreset" not in names or len(names) < 2:
        return CORESET.missing("needs CoreSet and another AL strategy")
    area = measures.aubc_by_label(active)
    ours = min(area, key=area.get) == "coreset" if area else None
    try:
        ranks = metrics.rank_tests(active, blocks=("seed", "n_labeled"))
    except ValueError as err:
        return CORESET.claim(ours, "inconclusive", f"no rank test: {err}")
    p_vs = ranks.pairwise_p.loc["coreset"].drop("coreset")
    worst = ranks.avg_ranks.index[-1]
    rank = float(ranks.avg_ranks["coreset"])
    head = f"over {ranks.n_blocks} blocks; CoreSet's mean rank {rank:.2f} of {len(names)}"
    if worst == "coreset" and (p_vs < alpha).all():
        return CORESET.claim(ours, "reproduced", f"{head}; every Holm p < {alpha} (largest {p_vs.max():.3g})",
                             statistic=rank, p_value=float(p_vs.max()))
    if worst != "coreset" and p_vs[worst] < alpha:
        return CORESET.claim(ours, "not reproduced", f"{head}; {worst} ranks lower, Holm p = {p_vs[worst]:.3g}",
                             statistic=rank, p_value=float(p_vs[worst]))
    return CORESET.claim(ours, "inconclusive", f"{head}; largest Holm p vs CoreSet {p_vs.max():.3g}",
                         statistic=rank, p_value=float(p_vs.max()))


def setting_claims(df, alpha: float = 0.05, baseline: str = "random") -> list[Claim]:
    """The three claims on one (data set, model)."""
    ds, model = (str(df["dataset"].iloc[0]), str(df["model"].iloc[0])) if len(df) else ("", "")
    spec = top_efficiency_spec(ds, model)
    out = []
    eff = ({k: v for k, v in nbh.end_efficiency(df, baseline=baseline).items() if k != baseline and v == v}
           if len(df) and baseline in set(df["strategy"]) else {})
    if not eff:
        out.append(spec.missing(f"no AL strategy shares an accuracy with {baseline}"))
    else:
        best = max(eff, key=eff.get)
        at = nbh.end_targets(df, baseline=baseline)[best]
        if (ds, model) in NOT_COMPARABLE:
            out.append(spec.not_comparable(eff[best], NOT_COMPARABLE[(ds, model)]))
        elif spec.paper is None:
            out.append(spec.not_comparable(eff[best], f"the paper reports no efficiency for {ds} {model}"))
        else:
            ours, rule = measures.efficiency_check(df, best, spec.paper, EFFICIENCY_TOL, baseline=baseline)
            out.append(spec.judged(ours, {**rule, "reason": f"at {at}; {rule['reason']}"}))
    area = measures.aubc_by_label(df) if len(df) else {}
    unc = {k: area[k] for k in UNCERTAINTY if k in area}
    if unc and "badge" in area:
        best_unc = max(unc, key=unc.get)
        shifted = {s: v + MARGIN for s, v in measures.aubc(df, best_unc).items()}
        rule = paired(shifted, measures.aubc(df, "badge"), alpha)
        out.append(COMPETITIVE.judged(unc[best_unc] >= area["badge"] - MARGIN,
                                      {**rule, "reason": f"{best_unc}: {rule['reason']}"}))
    else:
        out.append(COMPETITIVE.missing("needs BADGE and an uncertainty strategy"))
    out.append(_coreset_weakest(df, alpha) if len(df) else CORESET.missing("no results"))
    return out


def claims(df, alpha: float = 0.05, smoke: bool | None = None) -> list[Claim]:
    """Section 01 claims, one set per (data set, model); smoke=None detects a smoke run (base.is_smoke)."""
    return per_setting(setting_claims, df, KEYS, smoke, alpha=alpha)
