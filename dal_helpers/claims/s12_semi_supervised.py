"""Section 12, active learning with semi-supervised training (no section of the paper: the claims come
from later evaluations, Lüth et al. NeurIPS 2023, Chan et al. 2021, LabelBench 2024): FixMatch raises
accuracy at every labeled-set size, and the gain of AL over random sampling is smaller with FixMatch
than with labeled points only.

The table holds runs with `ssl` = None (labeled points only) and "fixmatch", on the same seeds, so a
supervised run and its FixMatch twin share the initial model and the seed set: every comparison here
is paired on (strategy, seed, labeled-set size) or (strategy, seed)."""
from __future__ import annotations

import math

import numpy as np

from . import measures
from .base import Claim, ClaimSpec, per_setting, wilcoxon

KEYS = ("dataset", "model")
SOURCE = "Lüth et al. 2023; Chan et al. 2021"
SSL_LABEL, SUP_LABEL = "fixmatch", "supervised"

RAISES = ClaimSpec("12.fixmatch_raises_accuracy", "FixMatch raises test accuracy at every labeled-set size: "
                   "fraction of matched (strategy, seed, size) pairs where it is higher", 1.0, SOURCE,
                   "Wilcoxon signed-rank test of FixMatch − supervised accuracy over matched (strategy, seed, size) "
                   "pairs; reproduced when significant and FixMatch is ahead at every size on average")
EFFICIENCY = ClaimSpec("12.al_efficiency_smaller_with_fixmatch", "AL's labeling efficiency over random is smaller "
                       "with FixMatch: mean efficiency at the end, supervised vs FixMatch", True, SOURCE,
                       "Wilcoxon signed-rank test of supervised − FixMatch efficiency at the end "
                       "(metrics.end_efficiency) over matched (AL strategy, seed) pairs")
GAIN = ClaimSpec("12.al_gain_smaller_with_fixmatch", "AL's accuracy gain over random (mean over the labeled-set "
                 "sizes) is smaller with FixMatch", True, SOURCE,
                 "Wilcoxon signed-rank test of supervised − FixMatch gain over random over matched "
                 "(AL strategy, seed) pairs")


def training_label(df):
    """A copy of df with a "training" column: "fixmatch" for rows with ssl="fixmatch", "supervised"
    for rows trained on labeled points only (ssl None / NaN / missing)."""
    out = df.copy()
    ssl = out["ssl"] if "ssl" in out.columns else None
    out["training"] = SUP_LABEL if ssl is None else [SSL_LABEL if v == "fixmatch" else SUP_LABEL for v in ssl]
    return out


def _matched_acc(df):
    """(supervised, fixmatch) accuracies matched on (strategy, seed, n_labeled)."""
    wide = df.pivot_table(index=["strategy", "seed", "n_labeled"], columns="training", values="test_acc").dropna()
    if SSL_LABEL not in wide.columns or SUP_LABEL not in wide.columns:
        return wide, np.array([]), np.array([])
    return wide, wide[SUP_LABEL].to_numpy(float), wide[SSL_LABEL].to_numpy(float)


def _raises(df, alpha: float) -> Claim:
    wide, sup, fix = _matched_acc(df)
    if not len(sup):
        return RAISES.missing("needs supervised and FixMatch runs on the same seeds")
    per_size = (wide[SSL_LABEL] - wide[SUP_LABEL]).groupby(level="n_labeled").mean()
    rule = wilcoxon(fix, sup, alpha, blocks="(strategy, seed, size) pairs")
    ours = float(np.mean(fix > sup))
    lagging = [int(n) for n, v in per_size.items() if v <= 0]
    if rule["verdict"] == "reproduced" and lagging:
        rule = {**rule, "verdict": "not reproduced",
                "reason": rule["reason"] + f"; but FixMatch is behind on average at {lagging} labels"}
    gaps = ", ".join(f"{int(n)}: {100 * v:+.1f}" for n, v in per_size.items())
    return RAISES.judged(ours, {**rule, "reason": rule["reason"] + f"; mean gain in points by size: {gaps}"})


def _al_pairs(df, fn):
    """{(strategy, seed): (supervised value, FixMatch value)} of fn(rows of one training, strategy) for
    every AL strategy (not random) with both trainings."""
    out = {}
    strategies = sorted(s for s in set(df["strategy"]) if s != "random")
    for s in strategies:
        vals = {}
        for training in (SUP_LABEL, SSL_LABEL):
            part = df[(df["training"] == training) & df["strategy"].isin([s, "random"])]
            vals[training] = fn(part, s)
        for seed in sorted(set(vals[SUP_LABEL]) & set(vals[SSL_LABEL])):
            out[(s, seed)] = (vals[SUP_LABEL][seed], vals[SSL_LABEL][seed])
    return out


def _smaller(spec: ClaimSpec, pairs, alpha: float, what: str) -> Claim:
    pairs = {k: v for k, v in pairs.items() if all(math.isfinite(x) for x in v)}
    if not pairs:
        return spec.missing(f"no (strategy, seed) with {what} under both trainings")
    sup = np.array([v[0] for v in pairs.values()])
    fix = np.array([v[1] for v in pairs.values()])
    rule = wilcoxon(sup, fix, alpha, blocks="(AL strategy, seed) pairs")
    ours = (float(sup.mean()), float(fix.mean()))
    return spec.judged(ours, {**rule, "reason": rule["reason"] + f"; mean {what}: supervised {ours[0]:.3g}, "
                                                                 f"FixMatch {ours[1]:.3g}"})


def setting_claims(df, alpha: float = 0.05) -> list[Claim]:
    """The three claims on one (data set, model) holding supervised and FixMatch runs."""
    if not len(df):
        return [s.missing("no runs") for s in (RAISES, EFFICIENCY, GAIN)]
    df = training_label(df)
    if df["training"].nunique() < 2:
        return [s.missing("needs runs with and without FixMatch") for s in (RAISES, EFFICIENCY, GAIN)]
    out = [_raises(df, alpha)]
    if "random" not in set(df["strategy"]):
        return out + [s.missing("needs random sampling as the baseline") for s in (EFFICIENCY, GAIN)]
    out.append(_smaller(EFFICIENCY, _al_pairs(df, lambda p, s: measures.end_efficiency(p, s)), alpha,
                        "efficiency at the end"))
    out.append(_smaller(GAIN, _al_pairs(df, lambda p, s: measures.gap(p, s, "random")), alpha,
                        "accuracy gain over random"))
    return out


def claims(df, alpha: float = 0.05, smoke: bool | None = None) -> list[Claim]:
    """Section 12 claims, one set per (data set, model); smoke=None detects a smoke run (base.is_smoke)."""
    return per_setting(setting_claims, df, KEYS, smoke, alpha=alpha)
