"""Section 08, scalability (paper Sec. 4.8, App. F, Tables 13 and 14): training dominates the loop;
BADGE selects about 18× slower than entropy; updating saves about 1.07× training time; GRAD-MATCH on
30% subsets trains about 3× faster with no accuracy loss at the full-training rounds. Times depend on
the machine: the ratios are what is compared."""
from __future__ import annotations

from .. import metrics
from . import measures
from .base import Claim, ClaimSpec, ci_check, per_setting

KEYS = ("dataset", "model")
SOURCE = "Sec. 4.8, App. F, Table 13"
PAPER_TRAIN_SHARE = (0.9, 1.0)
PAPER_SELECT_RATIO = 18.0            # Table 13: BADGE ≈ 1 h of selection vs entropy's ≈ 3.4 min
PAPER_UPDATE_SAVING, SAVING_TOL = 1.07, 0.1
PAPER_DSS_SPEEDUP, SPEEDUP_TOL = 3.0, 1.0
PAPER_DSS_LOSS, LOSS_TOL = 0.0, 0.01  # Table 14: at most a few tenths of a point

SHARE = ClaimSpec("08.training_dominates", "training dominates the loop: entropy's share of time in training",
                  PAPER_TRAIN_SHARE, SOURCE, "95% t CI over entropy's runs of the training share overlaps 0.9–1.0")
SELECT = ClaimSpec("08.badge_selection_ratio", "BADGE selection time ÷ entropy's (Table 13)", PAPER_SELECT_RATIO,
                   SOURCE, "compared only for an implementation like the paper's")
SAVING = ClaimSpec("08.update_saves_training_time", "updating instead of resetting saves training time ×",
                   PAPER_UPDATE_SAVING, SOURCE, f"95% t CI over seeds of total training seconds reset ÷ update overlaps "
                   f"1.07 ± {SAVING_TOL} (fallback tolerance for timing noise)")
SPEEDUP = ClaimSpec("08.gradmatch_speedup", "GRAD-MATCH (30% subsets) makes subset rounds' training faster ×",
                    PAPER_DSS_SPEEDUP, "Sec. 4.8, App. F", "95% t CI over seeds of full ÷ subset training seconds "
                    f"at the subset rounds overlaps 3.0 ± {SPEEDUP_TOL} (fallback tolerance for 'about')")
LOSS = ClaimSpec("08.gradmatch_no_loss", "GRAD-MATCH accuracy loss at full-training rounds (fraction)", PAPER_DSS_LOSS,
                 "Sec. 4.8, Table 14", f"95% t CI over seeds of (full − GRAD-MATCH) accuracy at the full-training "
                 f"rounds overlaps 0 ± {LOSS_TOL}")
OUR_BADGE = ("our BADGE never forms the N×CD gradient matrix of the paper's implementation (and runs on other "
             "hardware), so its selection cost measures another algorithm's constant")


def _per_seed_ratio(num, den, column: str = "train_s") -> list[float]:
    a, b = num.groupby("seed")[column].sum(), den.groupby("seed")[column].sum()
    common = a.index.intersection(b.index)
    return [float(a[s] / b[s]) for s in common if b[s] > 0]


def setting_claims(df, alpha: float = 0.05) -> list[Claim]:
    """The five claims on one (data set, model) of full-training (reset and update) and GRAD-MATCH runs.
    `alpha` is unused (every rule is an interval); it is accepted for a uniform call."""
    if not len(df) or not {"reset", "dss"} <= set(df.columns):
        return [s.missing("no timing runs with reset and dss columns") for s in (SHARE, SELECT, SAVING, SPEEDUP, LOSS)]
    base = df[(df["reset"] == True) & (df["dss"] == False)]  # noqa: E712
    tab = metrics.timing_table(base).set_index("strategy") if len(base) else None
    get = lambda s, c: float(tab.loc[s, c]) if tab is not None and s in tab.index else None  # noqa: E731
    out = []
    if get("entropy", "train_s") is not None:
        runs = base[base["strategy"] == "entropy"]
        parts = [c for c in ("train_s", "select_s", "eval_s") if c in runs.columns]
        totals = runs.groupby("run_id")[parts].sum()
        shares = (totals["train_s"] / totals.sum(axis=1).clip(lower=1e-9)).tolist()
        ours = get("entropy", "train_s") / max(get("entropy", "total_s"), 1e-9)
        out.append(SHARE.judged(ours, ci_check(shares, PAPER_TRAIN_SHARE, 0.0, unit="runs")))
    else:
        out.append(SHARE.missing("no full-training entropy runs"))
    if get("badge", "select_s") and get("entropy", "select_s"):
        out.append(SELECT.not_comparable(get("badge", "select_s") / get("entropy", "select_s"), OUR_BADGE))
    else:
        out.append(SELECT.missing("needs BADGE and entropy selection times"))
    upd = df[(df["reset"] == False) & (df["dss"] == False)]  # noqa: E712
    if len(base) and len(upd):
        t_reset, t_update = metrics.timing_table(base)["train_s"].sum(), metrics.timing_table(upd)["train_s"].sum()
        out.append(SAVING.judged(t_reset / t_update if t_update else None,
                                 ci_check(_per_seed_ratio(base, upd), PAPER_UPDATE_SAVING, SAVING_TOL)))
    else:
        out.append(SAVING.missing("needs full-training runs with reset and with update"))
    dss = df[(df["dss"] == True) & (df["reset"] == True)]  # noqa: E712
    speed_claim = SPEEDUP.missing("needs GRAD-MATCH and full-training runs")
    loss_claim = LOSS.missing("needs GRAD-MATCH and full-training runs")
    if len(dss) and len(base):
        # the loop records which rounds trained on a subset (it also trains the last round in full)
        subset = dss["dss_round"].fillna(False).astype(bool)
        sub_rounds = dss[subset]
        full_same = base[base["round"].isin(sub_rounds["round"].unique())]
        if len(sub_rounds) and len(full_same) and sub_rounds["train_s"].mean() > 0:
            # mean seconds per (run, round) over the same rounds: full training / subset training
            speed = float(full_same["train_s"].mean() / sub_rounds["train_s"].mean())
            a, b = full_same.groupby("seed")["train_s"].mean(), sub_rounds.groupby("seed")["train_s"].mean()
            per_seed = [float(a[s] / b[s]) for s in a.index.intersection(b.index) if b[s] > 0]
            speed_claim = SPEEDUP.judged(speed, ci_check(per_seed, PAPER_DSS_SPEEDUP, SPEEDUP_TOL))
        full_rounds = dss[~subset & (dss["round"] > 0)]
        a = full_rounds.groupby(["strategy", "n_labeled"])["test_acc"].mean()
        b = base.groupby(["strategy", "n_labeled"])["test_acc"].mean()
        common = a.index.intersection(b.index)
        if len(common):
            keys = ["strategy", "n_labeled", "seed"]
            pa, pb = full_rounds.groupby(keys)["test_acc"].mean(), base.groupby(keys)["test_acc"].mean()
            diff = (pb - pa).dropna()
            per_seed = diff.groupby(level="seed").mean().tolist()
            loss_claim = LOSS.judged(float((b.loc[common] - a.loc[common]).mean()),
                                     ci_check(per_seed, PAPER_DSS_LOSS, LOSS_TOL))
    return out + [speed_claim, loss_claim]


def claims(df, alpha: float = 0.05, smoke: bool | None = None) -> list[Claim]:
    """Section 08 claims, one set per (data set, model); smoke=None detects a smoke run (base.is_smoke)."""
    return per_setting(setting_claims, df, KEYS, smoke, alpha=alpha)

