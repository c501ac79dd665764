"""Metrics against values derived by hand on small hand-made results tables."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from dal_helpers import metrics as m


def table(curves: dict, xs=(100, 200, 400, 800), **extra) -> pd.DataFrame:
    """Results rows from {strategy: {seed: [acc per round]}} on the labeled-set sizes `xs`."""
    rows = []
    for strategy, seeds in curves.items():
        for seed, accs in seeds.items():
            for r, acc in enumerate(accs):
                rows.append({"experiment": "t", "run_id": f"{strategy}_s{seed}", "dataset": "mnist5k",
                             "model": "mnist_net", "strategy": strategy, "seed": seed, "round": r,
                             "n_labeled": xs[r], "test_acc": acc, "train_acc": 1.0, "epochs": 3,
                             "train_s": 1.0, "select_s": 0.5, "eval_s": 0.1, "energy_j": None, **extra})
    return pd.DataFrame(rows)


def two_seeds(accs):
    """Seeds 0 and 1 at acc + 0.01 and acc - 0.01: their mean is `accs` again."""
    return {0: [a + 0.01 for a in accs], 1: [a - 0.01 for a in accs]}


# --- labels_to_reach: interpolation and unreachable targets -----------------------------------------

def test_labels_to_reach_interpolates_between_rounds():
    x, y = [100, 200, 400], [0.5, 0.7, 0.8]
    got = m.labels_to_reach(x, y, [0.5, 0.6, 0.75, 0.8])
    # 0.5 is the first point: 100. 0.6 lies halfway between 0.5 and 0.7: 100 + 0.5 * 100 = 150.
    # 0.75 lies halfway between 0.7 and 0.8: 200 + 0.5 * 200 = 300. 0.8 is the last point: 400.
    np.testing.assert_allclose(got, [100, 150, 300, 400])


def test_labels_to_reach_gives_nan_outside_the_curve():
    # 0.85 is above every point and 0.45 below the first: neither is extrapolated.
    got = m.labels_to_reach([100, 200, 400], [0.5, 0.7, 0.8], [0.85, 0.45])
    assert np.isnan(got).all()


def test_labels_to_reach_takes_the_first_crossing_of_a_non_monotone_curve():
    # 0.68 is crossed first between x=1 (0.5) and x=2 (0.7): 1 + 0.18 / 0.2 = 1.9; the later crossing
    # between x=3 (0.65) and x=4 (0.9) at 3.12 must not be used.
    got = m.labels_to_reach([1, 2, 3, 4], [0.5, 0.7, 0.65, 0.9], [0.68])
    np.testing.assert_allclose(got, [1.9])


def test_labels_to_reach_rejects_unsorted_sizes():
    with pytest.raises(ValueError, match="strictly increasing"):
        m.labels_to_reach([200, 100], [0.5, 0.6], [0.55])


# --- labeling efficiency ---------------------------------------------------------------------------

def half_label_table():
    # random reaches 0.6 / 0.7 / 0.8 at 200 / 400 / 800 labels; "fast" reaches them at 100 / 200 / 400.
    # Between rounds both curves are linear, random's in n over twice the span of fast's, so every
    # accuracy in [0.6, 0.8] costs random exactly twice the labels: efficiency 2.0 throughout.
    return table({"random": two_seeds([0.5, 0.6, 0.7, 0.8]), "fast": two_seeds([0.6, 0.7, 0.8, 0.85])})


def test_efficiency_is_two_when_a_strategy_needs_half_the_labels():
    eff = m.labeling_efficiency(half_label_table(), targets=[0.6, 0.65, 0.7, 0.75, 0.8])
    fast = eff.by_accuracy[eff.by_accuracy.strategy == "fast"]
    np.testing.assert_allclose(fast.efficiency, [2.0] * 5)
    # 0.65: random 200 + 0.5 * 200 = 300 labels, fast 100 + 0.5 * 100 = 150.
    np.testing.assert_allclose(fast.n_labeled, [100, 150, 200, 300, 400])
    np.testing.assert_allclose(fast.n_labeled_baseline, [200, 300, 400, 600, 800])
    base = eff.by_accuracy[eff.by_accuracy.strategy == "random"]
    np.testing.assert_allclose(base.efficiency, [1.0] * 5)


def test_efficiency_per_labeled_set_size():
    eff = m.labeling_efficiency(half_label_table())
    fast = eff.by_labels[eff.by_labels.strategy == "fast"].reset_index(drop=True)
    # fast at 100/200/400 labels has 0.6/0.7/0.8, which random reaches at 200/400/800: efficiency 2.
    # fast's 0.85 at 800 is beyond random's best (0.8): NaN.
    np.testing.assert_allclose(fast.efficiency[:3], [2.0, 2.0, 2.0])
    assert math.isnan(fast.efficiency[3])
    np.testing.assert_allclose(fast.test_acc, [0.6, 0.7, 0.8, 0.85])


def test_efficiency_unreachable_targets_are_nan():
    eff = m.labeling_efficiency(half_label_table(), targets=[0.55, 0.82])
    fast = eff.by_accuracy[eff.by_accuracy.strategy == "fast"]
    # 0.55 is below fast's first point (0.6): fast's labels are unknown there. 0.82 is above random's
    # best (0.8): random never reaches it. Both NaN, neither extrapolated.
    assert fast.efficiency.isna().all()
    assert fast.n_labeled.isna().tolist() == [True, False]      # fast reaches 0.82 (at 400 + 0.4*400)
    assert fast.n_labeled.iloc[1] == pytest.approx(560.0)


def test_default_targets_span_the_baseline_curve():
    eff = m.labeling_efficiency(half_label_table(), n_targets=7)
    t = eff.by_accuracy[eff.by_accuracy.strategy == "random"].target_acc
    # from random's first mean accuracy (0.5) to its best (0.8) in 7 steps of 0.05
    np.testing.assert_allclose(t, np.linspace(0.5, 0.8, 7))


def test_efficiency_with_group_and_combined_labels():
    t1 = table({"random": two_seeds([0.5, 0.6, 0.7, 0.8]), "fast": two_seeds([0.6, 0.7, 0.8, 0.85])},
               redundancy=1, optimizer="sgd")
    # with redundancy 2 "fast" equals random: efficiency 1 everywhere
    t2 = table({"random": two_seeds([0.5, 0.6, 0.7, 0.8]), "fast": two_seeds([0.5, 0.6, 0.7, 0.8])},
               redundancy=2, optimizer="sgd")
    eff = m.labeling_efficiency(pd.concat([t1, t2]), baseline="random / sgd", by=["strategy", "optimizer"],
                                group="redundancy", targets=[0.7])
    got = eff.by_accuracy.set_index(["redundancy", "label"]).efficiency
    assert got[(1, "fast / sgd")] == pytest.approx(2.0)
    assert got[(2, "fast / sgd")] == pytest.approx(1.0)


def test_efficiency_baseline_absent_names_present_labels():
    with pytest.raises(ValueError, match=r"baseline strategy='badge'.*\['fast', 'random'\]"):
        m.labeling_efficiency(half_label_table(), baseline="badge")


def test_efficiency_baseline_absent_in_one_group():
    t1 = table({"random": two_seeds([0.5, 0.6, 0.7, 0.8])}, redundancy=1)
    t2 = table({"fast": two_seeds([0.5, 0.6, 0.7, 0.8])}, redundancy=2)
    with pytest.raises(ValueError, match=r"group \{'redundancy': 2\}.*\['fast'\]"):
        m.labeling_efficiency(pd.concat([t1, t2]), group="redundancy")


def test_targets_in_percent_are_refused():
    with pytest.raises(ValueError, match="fractions in \\[0, 1\\]"):
        m.labeling_efficiency(half_label_table(), targets=[85.0])


# --- bad tables ------------------------------------------------------------------------------------

def test_missing_columns_are_listed():
    df = half_label_table().drop(columns=["seed", "test_acc"])
    with pytest.raises(ValueError, match=r"\['seed', 'test_acc'\]"):
        m.labeling_efficiency(df)


def test_mixed_datasets_are_refused():
    df = pd.concat([half_label_table(), half_label_table().assign(dataset="cifar10")])
    with pytest.raises(ValueError, match="mixes dataset"):
        m.mean_curves(df)
    assert len(m.mean_curves(df, group="dataset")) == 16      # 2 data sets x 2 strategies x 4 sizes


def test_mixed_models_are_accepted_when_the_label_determines_the_model():
    df = pd.concat([half_label_table().assign(variant=lambda d: d["strategy"] + " / SGD"),
                    half_label_table().assign(model="shakeshake", variant=lambda d: d["strategy"] + " / SS")])
    curves = m.mean_curves(df, by="variant")
    assert len(curves) == 16                                   # 4 variants x 4 sizes, nothing averaged
    with pytest.raises(ValueError, match="mixes model"):
        m.mean_curves(df, by="strategy")                       # each strategy spans both models


def test_rows_differing_in_an_unnamed_knob_are_refused():
    df = pd.concat([half_label_table().assign(optimizer="sgd"), half_label_table().assign(optimizer="adam")])
    with pytest.raises(ValueError, match=r"differ in \['optimizer'\]"):
        m.accuracy_table(df)
    assert m.accuracy_table(df, by=["strategy", "optimizer"]).shape == (4, 4)


# --- relative accuracy and accuracy tables ----------------------------------------------------------

def test_relative_accuracy_hand_values():
    df = table({"random": {0: [0.50, 0.60], 1: [0.50, 0.61]}, "ent": {0: [0.50, 0.62], 1: [0.50, 0.66]}})
    rel = m.relative_accuracy(df).set_index(["strategy", "n_labeled"])
    # at 200: ent mean 0.64, random mean 0.605 -> +0.035; per-seed differences 0.02 and 0.05 have
    # sample std |0.05 - 0.02| / sqrt(2) = 0.0212132.
    assert rel.loc[("ent", 200), "rel_acc"] == pytest.approx(0.035)
    assert rel.loc[("ent", 200), "rel_acc_std"] == pytest.approx(0.03 / math.sqrt(2))
    assert rel.loc[("ent", 100), "rel_acc"] == pytest.approx(0.0)
    assert rel.loc[("random", 200), "rel_acc"] == pytest.approx(0.0)


def test_accuracy_table_mean_and_sample_std():
    df = table({"ent": {0: [0.80], 1: [0.82], 2: [0.84]}, "rand": {0: [0.70]}}, xs=(1000,))
    tab = m.accuracy_table(df, at=[1000])
    # ent: mean 82.0 %, deviations -2, 0, 2 -> sample variance 8 / 2 = 4 -> std 2.0; rand: one seed.
    assert tab.loc["ent", 1000] == "82.0 ± 2.0"
    assert tab.loc["rand", 1000] == "70.0"
    num = m.accuracy_table(df, as_text=False, percent=False).set_index("strategy")
    assert num.loc["ent", "mean"] == pytest.approx(0.82)
    assert num.loc["ent", "std"] == pytest.approx(0.02)
    assert num.loc["ent", "n_seeds"] == 3


def test_accuracy_table_unknown_size_lists_present_ones():
    with pytest.raises(ValueError, match=r"\[300\].*\[100, 200, 400, 800\]"):
        m.accuracy_table(half_label_table(), at=[300])


def test_accuracy_table_leaves_missing_cells_empty():
    df = table({"a": {0: [0.5, 0.6]}, "b": {0: [0.5]}}, xs=(100, 200))
    tab = m.accuracy_table(df)
    assert tab.loc["b", 200] == "" and tab.loc["a", 200] == "60.0"


# --- penalty matrix --------------------------------------------------------------------------------

def penalty_table():
    # Two rounds, three seeds. Paired differences (df = 2; two-tailed p = 1 - |t| / sqrt(t^2 + 2)):
    # round 100: A - B = [.10, .11, .12]: mean .11, sd .01, t = .11 / (.01 / sqrt 3) = 19.05, p = .0027;
    #            A - C = [-.05, .15, .05]: mean .05, sd .10, t = .866, p = .48;
    #            B - C = [-.15, .04, -.07]: mean -.06, sd .0954, t = -1.09, p = .39.
    # round 200: A - B = [.10, -.10, .00]: mean 0, p = 1; A - C = [-.05, .15, .05]: p = .48;
    #            B - C = [-.15, .25, .05]: mean .05, sd .20, t = .433, p = .71.
    # So only cell (A, B) is non-zero: A wins 1 of 2 rounds -> 0.5.
    return table({"A": {0: [0.70, 0.80], 1: [0.75, 0.85], 2: [0.80, 0.90]},
                  "B": {0: [0.60, 0.70], 1: [0.64, 0.95], 2: [0.68, 0.90]},
                  "C": {0: [0.75, 0.85], 1: [0.60, 0.70], 2: [0.75, 0.85]}}, xs=(100, 200))


def test_penalty_matrix_has_one_known_cell():
    mat = m.penalty_matrix(penalty_table())
    expected = np.zeros((3, 3))
    expected[0, 1] = 0.5
    np.testing.assert_allclose(mat.to_numpy(), expected)
    assert list(mat.index) == ["A", "B", "C"] and mat.attrs["n_rounds"] == 2


def test_testable_leaves_out_labels_with_one_seed_in_some_round():
    full = penalty_table()
    one_seed = table({"D": {0: [0.5, 0.6]}}, xs=(100, 200))                 # one seed throughout
    late = table({"E": {0: [0.5, 0.6], 1: [0.5, 0.6]}}, xs=(100, 200))
    late = late[(late["seed"] == 0) | (late["n_labeled"] == 100)]            # round 200: seed 0 only
    rows, left_out = m.testable(pd.concat([full, one_seed, late], ignore_index=True))
    assert left_out == ["D", "E"]
    assert rows.equals(full)
    np.testing.assert_allclose(m.penalty_matrix(rows).to_numpy(), m.penalty_matrix(full).to_numpy())
    assert m.testable(full, min_seeds=4)[1] == ["A", "B", "C"]


def test_pairwise_t_statistic_matches_hand_formula():
    tests = m.pairwise_tests(penalty_table())
    ab = tests[(tests.a == "A") & (tests.b == "B") & (tests.n_labeled == 100)].iloc[0]
    t = 0.11 / (0.01 / math.sqrt(3))
    assert ab.t == pytest.approx(t, rel=1e-6)
    assert ab.p == pytest.approx(1 - t / math.sqrt(t * t + 2), rel=1e-6)    # Student t, 2 d.o.f.
    assert bool(ab.paired) and ab.winner == "A"


def test_penalty_matrix_round_subsets_and_alpha():
    assert m.penalty_matrix(penalty_table(), rounds=[0]).loc["A", "B"] == pytest.approx(1.0)
    assert m.penalty_matrix(penalty_table(), rounds=slice(-1, None)).to_numpy().sum() == 0.0
    # p = 0.0027 is not below alpha = 0.001
    assert m.penalty_matrix(penalty_table(), alpha=0.001).to_numpy().sum() == 0.0
    with pytest.raises(ValueError, match="rounds"):
        m.penalty_matrix(penalty_table(), rounds=[5])


def test_penalty_matrix_pairs_by_seed_only_when_seeds_match():
    # B = A minus a small, consistent gap [.010, .011, .012]; seed effects (0.5 / 0.7 / 0.9) dwarf it.
    a = {0: [0.5], 1: [0.7], 2: [0.9]}
    b = {0: [0.490], 1: [0.689], 2: [0.888]}
    paired = m.pairwise_tests(table({"A": a, "B": b}, xs=(100,))).iloc[0]
    assert bool(paired.paired) and paired.winner == "A"
    # B's runs under other seeds: Welch's test, t = (mean A - mean B) / sqrt(sA^2/3 + sB^2/3)
    b_other = {s + 3: v for s, v in b.items()}
    welch = m.pairwise_tests(table({"A": a, "B": b_other}, xs=(100,))).iloc[0]
    va, vb = np.var([0.5, 0.7, 0.9], ddof=1), np.var([0.490, 0.689, 0.888], ddof=1)
    t = (0.7 - 0.689) / math.sqrt(va / 3 + vb / 3)          # = 0.0675
    assert not bool(welch.paired)
    assert welch.t == pytest.approx(t, rel=1e-6)
    assert pd.isna(welch.winner)


def test_penalty_matrix_other_variable():
    df = penalty_table().rename(columns={"strategy": "optimizer"})
    mat = m.penalty_matrix(df, by="optimizer")
    assert mat.loc["A", "B"] == pytest.approx(0.5)


def test_penalty_matrix_needs_two_seeds():
    df = table({"A": {0: [0.5, 0.6]}, "B": {0: [0.5, 0.7]}}, xs=(100, 200))
    with pytest.raises(ValueError, match=">= 2 seeds"):
        m.penalty_matrix(df)


# --- AUBC --------------------------------------------------------------------------------------------

def test_aubc_hand_values_and_bootstrap_ci():
    df = table({"A": {0: [0.5, 0.7, 0.8], 1: [0.5, 0.5, 0.5]}}, xs=(100, 200, 400))
    out = m.aubc(df, n_boot=4000, seed=0).iloc[0]
    # seed 0: (0.5 + 0.7) / 2 * 100 + (0.7 + 0.8) / 2 * 200 = 60 + 150 = 210 over 300 labels -> 0.7
    # seed 1: flat 0.5. Mean 0.6, sample std 0.1 * sqrt(2).
    assert out.aubc == pytest.approx(0.6)
    assert out.aubc_std == pytest.approx(0.1 * math.sqrt(2))
    # Resampling two seeds gives means 0.5 / 0.6 / 0.7 with chances 1/4, 1/2, 1/4, so the 2.5 % and
    # 97.5 % percentiles are 0.5 and 0.7.
    assert (out.ci_low, out.ci_high) == (pytest.approx(0.5), pytest.approx(0.7))


def test_aubc_uses_the_range_every_run_covers():
    df = table({"A": {0: [0.5, 0.7, 0.8], 1: [0.5, 0.9]}}, xs=(100, 200, 400))
    out = m.aubc(df, ci=None).iloc[0]
    # seed 1 stops at 200, so both are integrated over [100, 200]: 0.6 and 0.7 -> mean 0.65
    assert out.aubc == pytest.approx(0.65)


def test_aubc_bootstrap_is_reproducible_from_the_generator():
    df = table({"A": {0: [0.5, 0.7], 1: [0.5, 0.6], 2: [0.4, 0.9]}}, xs=(100, 200))
    a = m.aubc(df, gen=torch.Generator().manual_seed(3))
    b = m.aubc(df, gen=torch.Generator().manual_seed(3))
    pd.testing.assert_frame_equal(a, b)
    lo, hi = a.iloc[0][["ci_low", "ci_high"]]
    assert lo <= a.iloc[0].aubc <= hi


def test_aubc_ci_needs_two_seeds():
    df = table({"A": {0: [0.5, 0.7]}}, xs=(100, 200))
    with pytest.raises(ValueError, match=">= 2 seeds"):
        m.aubc(df)
    assert m.aubc(df, ci=None).iloc[0].aubc == pytest.approx(0.6)


# --- timing ----------------------------------------------------------------------------------------

def timing_rows():
    rows = []
    for seed, train, select, energy in [(0, [10, 20, 30], [1, 2, None], [5.0, 5.0, 5.0]),
                                        (1, [20, 20, 20], [3, 3, None], [None, None, None])]:
        for r in range(3):
            rows.append({"strategy": "ent", "seed": seed, "run_id": f"ent_s{seed}", "round": r,
                         "n_labeled": 100 * (r + 1), "test_acc": 0.5, "train_s": train[r],
                         "select_s": select[r], "energy_j": energy[r]})
    return pd.DataFrame(rows)


def test_timing_table_totals():
    out = m.timing_table(timing_rows()).iloc[0]
    # run 0: train 60 s, select 3 s (last round selects nothing); run 1: train 60 s, select 6 s.
    assert out.n_runs == 2
    assert out.train_s == pytest.approx(60.0) and out.select_s == pytest.approx(4.5)
    assert out.total_s == pytest.approx(64.5)
    assert out.select_s_std == pytest.approx(3 / math.sqrt(2))
    assert out.energy_j == pytest.approx(15.0)          # run 1 measured no energy; it is skipped


def test_timing_table_cumulative_per_round():
    out = m.timing_table(timing_rows(), per_round=True)
    # cumulative training: run 0 10/30/60, run 1 20/40/60 -> means 15/35/60
    np.testing.assert_allclose(out.train_s_cum, [15, 35, 60])
    np.testing.assert_allclose(out.select_s, [2, 2.5, 0])


def test_timing_table_without_energy():
    out = m.timing_table(timing_rows().assign(energy_j=None))
    assert "energy_j" not in out.columns


# --- paper vs ours -----------------------------------------------------------------------------------

def test_paper_vs_ours_verdicts():
    out = m.paper_vs_ours([
        {"claim": "efficiency", "paper": (1.8, 2.0), "ours": 2.05, "tol": 0.1},
        {"claim": "acc at 1k", "paper": 55.6, "ours": 50.0, "tol": 2.0},
        {"claim": "entropy beats random", "paper": True, "ours": True},
        {"claim": "not run", "paper": 1.0, "ours": float("nan")},
    ])
    assert out.verdict.tolist() == ["agrees", "differs", "agrees", "not measured"]
    assert out.paper.iloc[0] == "1.8–2.0"


def test_percent_accuracies_are_refused():
    df = half_label_table()
    df["test_acc"] *= 100
    with pytest.raises(ValueError, match="fractions in \\[0, 1\\]"):
        m.mean_curves(df)


def test_efficiency_summary():
    out = m.efficiency_summary(half_label_table(), targets=[0.6, 0.7, 0.82]).set_index("strategy")
    # fast: 2.0 at 100/200/400 labels, NaN at 800 (0.85 is beyond random) -> final 2.0 at 400;
    # over targets 0.6 and 0.7 it is 2.0, 0.82 is out of random's reach (skipped).
    assert out.loc["fast", "final"] == pytest.approx(2.0) and out.loc["fast", "final_at"] == 400
    assert out.loc["fast", "max"] == pytest.approx(2.0)
    assert out.loc["fast", "mean_over_acc"] == pytest.approx(2.0)
    assert out.loc["random", "final"] == pytest.approx(1.0) and out.loc["random", "final_at"] == 800


def test_pairwise_tests_match_scipy_on_random_tables():
    from scipy import stats
    rng = np.random.default_rng(0)
    curves = {s: {seed: list(rng.uniform(0.5, 0.9, 4)) for seed in range(4)} for s in ("A", "B", "C")}
    df = table(curves)
    # C lacks seed 3 at 800 labels: that point is compared with Welch's test, the others paired
    df = df[~((df.strategy == "C") & (df.seed == 3) & (df.n_labeled == 800))]
    got = m.pairwise_tests(df)
    for r in got.itertuples():
        sa = df[(df.strategy == r.a) & (df.n_labeled == r.n_labeled)].set_index("seed").test_acc
        sb = df[(df.strategy == r.b) & (df.n_labeled == r.n_labeled)].set_index("seed").test_acc
        if set(sa.index) == set(sb.index):
            ref = stats.ttest_rel(sa.sort_index(), sb.sort_index())
        else:
            ref = stats.ttest_ind(sa, sb, equal_var=False)
        assert r.paired == (set(sa.index) == set(sb.index))
        assert r.t == pytest.approx(ref.statistic, rel=1e-9)
        assert r.p == pytest.approx(ref.pvalue, rel=1e-7)
    assert (~got.paired).sum() == 2                         # (A, C) and (B, C) at 800 labels


def test_efficiency_per_size_counts_the_first_time_an_accuracy_was_reached():
    df = table({"random": {0: [0.5, 0.6, 0.7, 0.8], 1: [0.5, 0.6, 0.7, 0.8]},
                "dip": {0: [0.5, 0.7, 0.65, 0.9], 1: [0.5, 0.7, 0.65, 0.9]}}, xs=(1, 2, 3, 4))
    eff = m.labeling_efficiency(df).by_labels.set_index(["strategy", "n_labeled"]).efficiency
    # at 3 labels "dip" has 0.65, which it first reached at 1 + 0.15 / 0.2 = 1.75 labels; random
    # reaches 0.65 at 2.5 labels -> 2.5 / 1.75.
    assert eff[("dip", 3)] == pytest.approx(2.5 / 1.75)
    # at 2 labels: 0.7, random needs 3 -> 1.5; the baseline against itself is 1 everywhere
    assert eff[("dip", 2)] == pytest.approx(1.5)
    np.testing.assert_allclose(eff["random"], 1.0)


def test_penalty_matrix_per_group():
    # group 1 is the known table: (A, B) = 0.5. In group 2 B's accuracies are set to A's, so A - B is 0
    # in every seed (p NaN, not significant) and B vs C is A vs C (p = .48): an all-zero matrix.
    g1 = penalty_table().assign(redundancy=1)
    g2 = penalty_table().assign(redundancy=2)
    g2.loc[g2.strategy == "B", "test_acc"] = g2.loc[g2.strategy == "A", "test_acc"].to_numpy()
    mats = m.penalty_matrix(pd.concat([g1, g2]), group="redundancy")
    assert set(mats) == {1, 2}
    assert mats[1].loc["A", "B"] == pytest.approx(0.5)
    assert mats[2].to_numpy().sum() == 0.0
    tests = m.pairwise_tests(pd.concat([g1, g2]), group="redundancy")
    assert list(tests.columns[:2]) == ["redundancy", "n_labeled"] and len(tests) == 12


# --- efficiency at the end: at the highest accuracy both curves reach ------------------------------

RANDOM = [0.5, 0.6, 0.7, 0.8]


def test_end_efficiency_of_a_strategy_one_point_below_random_is_below_one():
    df = table({"random": two_seeds(RANDOM), "entropy": two_seeds([a - 0.01 for a in RANDOM])})
    got = m.end_efficiency(df).set_index("strategy")
    # Target: entropy's final 0.79 (below random's 0.80). Random reaches 0.79 between 400 (0.70) and
    # 800 (0.80): 400 + 0.09 / 0.10 * 400 = 760; entropy reaches it at its last size, 800: 760 / 800.
    assert got.loc["entropy", "target_acc"] == pytest.approx(0.79)
    assert got.loc["entropy", "efficiency"] == pytest.approx(760 / 800)
    assert got.loc["entropy", "note"] == "at entropy's final accuracy"
    assert got.loc["random", "efficiency"] == pytest.approx(1.0)


def test_end_efficiency_above_random_is_unchanged():
    df = table({"random": two_seeds(RANDOM), "badge": two_seeds([0.6, 0.7, 0.8, 0.9])})
    got = m.end_efficiency(df).set_index("strategy")
    # The previous definition: labeling_efficiency at the baseline's final mean accuracy (0.8), which
    # badge reaches at 400 and random at 800: 2.
    before = m.labeling_efficiency(df, targets=[0.8]).by_accuracy.set_index("strategy")["efficiency"]
    assert got.loc["badge", "efficiency"] == pytest.approx(2.0) == pytest.approx(before["badge"])
    assert got.loc["badge", "target_acc"] == pytest.approx(0.8)
    assert got.loc["badge", "note"] == "at random's final accuracy"


def test_end_efficiency_of_curves_without_common_accuracy():
    # The worse curve ends (0.45) below the first point of random (0.50): no accuracy both reach.
    df = table({"random": two_seeds([0.5, 0.55, 0.6, 0.65]), "bad": two_seeds([0.3, 0.35, 0.4, 0.45])})
    got = m.end_efficiency(df).set_index("strategy")
    assert math.isnan(got.loc["bad", "efficiency"])
    assert got.loc["bad", "note"] == "no common accuracy"


def test_end_efficiency_per_group():
    df = pd.concat([table({"random": two_seeds(RANDOM), "e": two_seeds([a - 0.01 for a in RANDOM])},
                          redundancy=r) for r in (1, 5)])
    got = m.end_efficiency(df, group="redundancy")
    assert list(got.columns) == ["redundancy", "strategy", "target_acc", "efficiency", "note"]
    np.testing.assert_allclose(got.loc[got.strategy == "e", "efficiency"], [0.95, 0.95])


def test_final_accuracy_is_the_mean_at_the_largest_size():
    df = table({"random": {0: [0.5, 0.6], 1: [0.5, 0.7]}, "b": {0: [0.5, 0.9]}}, xs=(10, 20))
    got = m.final_accuracy(df)
    assert got["random"] == pytest.approx(0.65) and got["b"] == pytest.approx(0.9)


def test_not_enough_data_is_a_value_error_raised_for_one_seed():
    df = table({"random": {0: RANDOM}, "b": {0: RANDOM}})
    with pytest.raises(m.NotEnoughData, match="2 seeds"):
        m.penalty_matrix(df)
    assert issubclass(m.NotEnoughData, ValueError)


# --- rank tests and the critical difference ---------------------------------------------------------

def _three_strategies(seeds=(0, 1, 2)):
    rng = np.random.default_rng(3)
    curves = {s: {k: list(np.clip(np.array(RANDOM) + off + rng.normal(0, 0.02, 4), 0, 1)) for k in seeds}
              for s, off in (("random", 0.0), ("entropy", 0.01), ("badge", 0.03))}
    return table(curves)


def test_rank_tests_match_scipy():
    df = _three_strategies()
    got = m.rank_tests(df)
    wide = df.pivot(index=["seed", "n_labeled"], columns="strategy", values="test_acc")
    fr = stats_mod().friedmanchisquare(wide["badge"], wide["entropy"], wide["random"])
    assert got.n_blocks == 12
    assert got.friedman_stat == pytest.approx(fr.statistic) and got.friedman_p == pytest.approx(fr.pvalue)
    ranks = wide.rank(axis=1, ascending=False).mean()
    pd.testing.assert_series_equal(got.avg_ranks.sort_index(), ranks.sort_index(), check_names=False)
    raw = {pair: stats_mod().wilcoxon(wide[pair[0]], wide[pair[1]]).pvalue
           for pair in (("badge", "entropy"), ("badge", "random"), ("entropy", "random"))}
    adj = dict(zip(raw, m.holm(list(raw.values()))))
    for (a, b), p in adj.items():
        assert got.pairwise_p.loc[a, b] == pytest.approx(p) == pytest.approx(got.pairwise_p.loc[b, a])


def stats_mod():
    from scipy import stats
    return stats


def test_holm_hand_values():
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04; running max -> 0.06.
    np.testing.assert_allclose(m.holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(m.holm([0.5, 0.4]), [0.8, 0.8])


def test_rank_tests_drop_incomplete_blocks_and_need_two():
    df = _three_strategies()
    df = df[~((df.strategy == "badge") & (df.seed == 2))]
    assert m.rank_tests(df).n_blocks == 8
    with pytest.raises(m.NotEnoughData, match="2 blocks"):
        m.rank_tests(df[(df.n_labeled == 100) & (df.seed == 0)])
    with pytest.raises(ValueError, match="repeat"):          # seeds are not blocks here: refused
        m.rank_tests(df, blocks=("n_labeled",))


def test_critical_difference_matches_demsar_table():
    # Demšar (2006), Table 5a: q_0.05 = 2.569 for k = 4; CD = 2.569 sqrt(4 * 5 / (6 * 10)).
    assert m.critical_difference([1, 2, 3, 4], n_blocks=10) == pytest.approx(2.569 * math.sqrt(20 / 60), abs=1e-3)
    # k = 2: q_0.05 = 1.960 (the normal quantile), CD = 1.96 sqrt(6 / (6 * 5)).
    assert m.critical_difference([1, 2], n_blocks=5) == pytest.approx(1.960 * math.sqrt(1 / 5), abs=1e-3)


# --- bootstrap CIs -------------------------------------------------------------------------------

def test_bootstrap_ci_of_two_values_is_their_range_and_reproducible():
    # Resamples of (0, 1) have means 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4: the 2.5% and 97.5%
    # quantiles of 10,000 of them are 0 and 1.
    lo, hi = m.bootstrap_ci([0.0, 1.0], gen=np.random.default_rng(0))
    assert (lo, hi) == (0.0, 1.0)
    a = m.bootstrap_ci([0.1, 0.4, 0.2, 0.9], gen=np.random.default_rng(5), n_boot=500)
    assert a == m.bootstrap_ci([0.1, 0.4, 0.2, 0.9], gen=np.random.default_rng(5), n_boot=500)


def test_bootstrap_ci_agrees_with_scipy_percentile_bootstrap():
    x = np.random.default_rng(1).normal(0.8, 0.02, 8)
    ours = m.bootstrap_ci(x, n_boot=20000, gen=np.random.default_rng(2))
    ref = stats_mod().bootstrap((x,), np.mean, n_resamples=20000, method="percentile",
                                rng=np.random.default_rng(3)).confidence_interval
    np.testing.assert_allclose(ours, (ref.low, ref.high), atol=1.5e-3)


def test_bootstrap_ci_needs_two_values_and_a_generator():
    with pytest.raises(m.NotEnoughData):
        m.bootstrap_ci([0.5], gen=np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        m.bootstrap_ci([0.5, 0.6], gen=0)


def test_aubc_ci_brackets_the_aubc_and_notes_one_seed():
    df = table({"random": {0: [0.5, 0.6], 1: [0.7, 0.8]}, "b": {0: [0.5, 0.6]}}, xs=(100, 200))
    got = m.aubc_ci(df, seed=0).set_index("strategy")
    # per-seed AUBCs of random: 0.55 and 0.75; two values -> the CI is their range (as above)
    assert got.loc["random", "aubc"] == pytest.approx(0.65)
    assert (got.loc["random", "ci_low"], got.loc["random", "ci_high"]) == pytest.approx((0.55, 0.75))
    assert math.isnan(got.loc["b", "ci_low"]) and got.loc["b", "note"] == "1 seed: no CI"


def test_reach_rows_matches_labels_to_reach():
    rng = np.random.default_rng(0)
    xs = np.array([10.0, 20.0, 40.0, 80.0])
    Y = rng.uniform(0.4, 0.9, (50, 4))
    t = rng.uniform(0.3, 0.95, 50)
    ref = np.array([m.labels_to_reach(xs, y, [tt])[0] for y, tt in zip(Y, t)])
    np.testing.assert_allclose(m._reach_rows(xs, Y, t), ref)


def test_efficiency_ci_brackets_every_paired_resample():
    # Two seeds each, paired: the bootstrap draws seed index pairs (0,0), (0,1), (1,0), (1,1) for both
    # labels at once; with 10,000 draws its 2.5% / 97.5% quantiles are the smallest and largest of the
    # four end efficiencies, computed here on the resampled tables themselves.
    curves = {"random": {0: [0.5, 0.6, 0.7, 0.8], 1: [0.5, 0.62, 0.7, 0.78]},
              "e": {0: [0.5, 0.58, 0.66, 0.79], 1: [0.5, 0.6, 0.7, 0.77]}}
    df = table(curves)
    values = []
    for pick in ((0, 0), (0, 1), (1, 1)):
        resampled = table({s: {k: curves[s][p] for k, p in enumerate(pick)} for s in curves})
        values.append(m.end_efficiency(resampled).set_index("strategy").loc["e", "efficiency"])
    got = m.efficiency_ci(df, seed=0).set_index("strategy").loc["e"]
    assert got["efficiency"] == pytest.approx(m.end_efficiency(df).set_index("strategy").loc["e", "efficiency"])
    assert (got["ci_low"], got["ci_high"]) == pytest.approx((min(values), max(values)))
    assert got["efficiency"] < 1


# --- effect sizes and seeds needed -------------------------------------------------------------------

def test_effect_sizes_match_scipy_paired_and_welch():
    df = _three_strategies()
    got = m.effect_sizes(df, rounds=[-1]).set_index("pair")
    wide = df[df.n_labeled == 800].pivot(index="seed", columns="strategy", values="test_acc")
    ci = stats_mod().ttest_rel(wide["badge"], wide["random"]).confidence_interval(0.95)
    row = got.loc["badge − random"]
    assert row["paired"] and row["mean_diff"] == pytest.approx((wide["badge"] - wide["random"]).mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((ci.low, ci.high))
    # different seeds: Welch's interval
    df2 = pd.concat([df[df.strategy != "badge"], df[df.strategy == "badge"].assign(seed=lambda d: d.seed + 10)])
    got2 = m.effect_sizes(df2, rounds=[-1]).set_index("pair").loc["badge − random"]
    a = df2[(df2.strategy == "badge") & (df2.n_labeled == 800)]["test_acc"]
    b = df2[(df2.strategy == "random") & (df2.n_labeled == 800)]["test_acc"]
    ci2 = stats_mod().ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert not got2["paired"] and (got2["ci_low"], got2["ci_high"]) == pytest.approx((ci2.low, ci2.high))


def test_seeds_needed_matches_power_tables():
    # Cohen's tables (two-sided, alpha 0.05, power 0.8): paired d = 0.5 -> 34 pairs, d = 0.8 -> 15,
    # d = 1 -> 10; two independent samples d = 0.5 -> 64 per group, d = 0.8 -> 26.
    assert [m.seeds_needed(d, 1.0) for d in (0.5, 0.8, 1.0)] == [34, 15, 10]
    assert [m.seeds_needed(d * 0.02, 0.02, paired=False) for d in (0.5, 0.8)] == [64, 26]


def test_seeds_needed_reaches_the_power_by_simulation():
    # For d = 1 the answer is 10 pairs: simulated paired t-tests with 10 pairs reject about 80% of the
    # time, with 9 pairs less.
    rng = np.random.default_rng(0)
    n = m.seeds_needed(0.01, 0.01)
    d = rng.normal(0.01, 0.01, (20000, n))
    p = stats_mod().ttest_1samp(d, 0.0, axis=1).pvalue
    assert (p < 0.05).mean() == pytest.approx(0.8, abs=0.02)
    with pytest.raises(ValueError, match="diff=0"):
        m.seeds_needed(0.0, 0.01)


def test_accuracy_table_ci_matches_scipy_t_interval():
    df = table({"random": {0: [0.5, 0.6], 1: [0.52, 0.64], 2: [0.51, 0.68]}}, xs=(10, 20))
    long = m.accuracy_table(df, as_text=False, ci=0.95, percent=False)
    row = long[long.n_labeled == 20].iloc[0]
    vals = [0.6, 0.64, 0.68]
    ref = stats_mod().t.interval(0.95, 2, loc=np.mean(vals), scale=stats_mod().sem(vals))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(ref)
    text = m.accuracy_table(df, ci=0.95, digits=1)
    assert text.loc["random", 20] == f"64.0 ± 4.0 [{100 * ref[0]:.1f}, {100 * ref[1]:.1f}]"
    assert m.accuracy_table(df).loc["random", 20] == "64.0 ± 4.0"          # unchanged without ci


def test_labeling_efficiency_ci_brackets_every_paired_resample_per_size():
    curves = {"random": {0: [0.5, 0.6, 0.7, 0.8], 1: [0.5, 0.62, 0.7, 0.78]},
              "e": {0: [0.5, 0.58, 0.66, 0.79], 1: [0.5, 0.6, 0.7, 0.77]}}
    df = table(curves)
    per_pick = []
    for pick in ((0, 0), (0, 1), (1, 1)):
        resampled = table({s: {k: curves[s][p] for k, p in enumerate(pick)} for s in curves})
        e = m.labeling_efficiency(resampled).by_labels
        per_pick.append(e[e.strategy == "e"]["efficiency"].to_numpy())
    per_pick = np.array(per_pick)                                     # (3 resamples, 4 sizes)
    got = m.labeling_efficiency_ci(df, n_boot=4000, seed=0)
    got = got[got.strategy == "e"]
    np.testing.assert_allclose(got["ci_low"], per_pick.min(axis=0))
    np.testing.assert_allclose(got["ci_high"], per_pick.max(axis=0))
    point = m.labeling_efficiency(df).by_labels
    np.testing.assert_allclose(got["efficiency"], point[point.strategy == "e"]["efficiency"])


def test_bad_arguments_are_not_reported_as_missing_data():
    df = table({"random": two_seeds(RANDOM), "b": two_seeds(RANDOM)})
    with pytest.raises(ValueError, match="alpha") as err:
        m.penalty_matrix(df, alpha=2.0)
    assert not isinstance(err.value, m.NotEnoughData)
    with pytest.raises(ValueError, match="baseline") as err:
        m.end_efficiency(df, baseline="nope")
    assert not isinstance(err.value, m.NotEnoughData)


def test_metrics_refuse_columns_stored_as_strings():
    # Accuracies and sizes read from hand-written files as strings: "1000" sorts before "200", so an
    # area computed on them would be wrong; every metric refuses, naming the column.
    from dal_helpers import metrics as m

    df = pd.DataFrame({"strategy": ["random"] * 3, "seed": [0] * 3, "n_labeled": ["200", "1000", "600"],
                       "test_acc": ["0.5", "0.7", "0.6"]})
    with pytest.raises(ValueError, match=r"'n_labeled' \(\w+, e\.g\. \['200', '1000', '600'\]\).*'test_acc'"):
        m.aubc(df, ci=None)
    with pytest.raises(ValueError, match="must hold numbers"):
        m.mean_curves(df)
    fixed = df.assign(n_labeled=pd.to_numeric(df["n_labeled"]), test_acc=pd.to_numeric(df["test_acc"]))
    # (0.5 + 0.6) / 2 * 400 + (0.6 + 0.7) / 2 * 400 over 800 labels = 0.6
    assert m.aubc(fixed, ci=None)["aubc"].iloc[0] == pytest.approx(0.6)
