"""Section 09, low-data MNIST (paper App. B.2, Table 12): with a seed set of 50 and 10 labels per
round, of BALD, BatchBALD, VAAL and adversarial DeepFool only DeepFool does well; BALD, BatchBALD and
DeepFool select far slower than entropy (Table 12: 34-102×)."""
from __future__ import annotations

from .. import metrics
from . import measures
from .base import Claim, ClaimSpec, ci_check, paired, per_setting

KEYS = ("dataset", "model")
SOURCE = "App. B.2, Table 12"
# Table 12: mean selection seconds per round on low-data MNIST.
PAPER_SELECT_S = {"random": 0.001, "entropy": 15.5, "least_confidence": 15.5, "margin": 16.5, "badge": 23.3,
                  "coreset": 26.5, "fass": 62.4, "glister": 62.7, "vaal": 34.2, "bald": 528.5, "batchbald": 641.3,
                  "adversarial_deepfool": 1587.5}
FOUR = ("bald", "batchbald", "vaal", "adversarial_deepfool")
SLOW = ("bald", "batchbald", "adversarial_deepfool")
PAPER_SLOW_RATIO = (34.0, 102.0)      # 528.5 / 15.5 and 1587.5 / 15.5

DEEPFOOL = ClaimSpec("09.deepfool_best_of_four", "DeepFool has the best AUBC of BALD, BatchBALD, VAAL, DeepFool",
                     True, "App. B.2", "paired t-test over seeds of AUBC(DeepFool) vs AUBC(the best of the other "
                     "three)")
SLOWNESS = ClaimSpec("09.slow_selection_ratio", "slowest selection ÷ entropy's: BALD, BatchBALD, DeepFool (min ratio)",
                     PAPER_SLOW_RATIO, SOURCE, "95% t CI over seeds of min(selection seconds of BALD, BatchBALD, "
                     "DeepFool) ÷ entropy's overlaps 34–102 (Table 12: 528.5, 641.3, 1587.5 s vs 15.5 s)")


def _slow_ratio_per_seed(df, slow) -> list[float]:
    out = []
    for _, part in df.groupby("seed"):
        sel = part.groupby("strategy")["select_s"].sum()
        if "entropy" in sel.index and sel["entropy"] > 0 and all(k in sel.index for k in slow):
            out.append(float(min(sel[k] for k in slow) / sel["entropy"]))
    return out


def setting_claims(df, alpha: float = 0.05) -> list[Claim]:
    """The two claims on one (data set, model)."""
    if not len(df):
        return [DEEPFOOL.missing("no results"), SLOWNESS.missing("no results")]
    area = measures.aubc_by_label(df)
    four = {k: area[k] for k in FOUR if k in area}
    out = []
    if len(four) > 1 and "adversarial_deepfool" in four:
        rival = max((k for k in four if k != "adversarial_deepfool"), key=four.get)
        rule = paired(measures.aubc(df, "adversarial_deepfool"), measures.aubc(df, rival), alpha)
        out.append(DEEPFOOL.judged(max(four, key=four.get) == "adversarial_deepfool",
                                   {**rule, "reason": f"vs {rival}: {rule['reason']}"}))
    else:
        out.append(DEEPFOOL.missing("needs DeepFool and another of BALD, BatchBALD, VAAL"))
    tab = metrics.timing_table(df).set_index("strategy")
    slow = [k for k in SLOW if k in tab.index]
    if slow and "entropy" in tab.index and tab.loc["entropy", "select_s"] > 0:
        ratio = float(min(tab.loc[k, "select_s"] for k in slow) / tab.loc["entropy", "select_s"])
        out.append(SLOWNESS.judged(ratio, ci_check(_slow_ratio_per_seed(df, slow), PAPER_SLOW_RATIO)))
    else:
        out.append(SLOWNESS.missing("needs entropy and one of BALD, BatchBALD, DeepFool with selection times"))
    return out


def claims(df, alpha: float = 0.05, smoke: bool | None = None) -> list[Claim]:
    """Section 09 claims, one set per (data set, model); smoke=None detects a smoke run (base.is_smoke)."""
    return per_setting(setting_claims, df, KEYS, smoke, alpha=alpha)
