"""Plots draw on the Axes they are given, label their axes with units, and keep colours fixed."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from dal_helpers import metrics, plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def results(strategies=("random", "entropy", "badge"), seeds=(0, 1, 2)) -> pd.DataFrame:
    """Three rounds per run; entropy and badge gain 1 point per round over random; seeds shift by 0.5."""
    rows = []
    for s in strategies:
        for seed in seeds:
            for r, n in enumerate((300, 1300, 2300)):
                acc = 0.90 + 0.02 * r + (0.01 * r if s != "random" else 0.0) + 0.005 * seed
                rows.append({"experiment": "t", "run_id": f"{s}_s{seed}", "dataset": "mnist5k",
                             "model": "mnist_net", "strategy": s, "seed": seed, "round": r, "n_labeled": n,
                             "test_acc": acc, "train_s": 30.0, "select_s": 5.0 if s == "badge" else 1.0,
                             "energy_j": 2000.0, "optimizer": "sgd"})
    return pd.DataFrame(rows)


def check_labels(ax, title_has=("mnist5k", "mnist_net")):
    assert ax.get_xlabel() and ax.get_ylabel()
    for word in title_has:
        assert word in ax.get_title()


def test_accuracy_plot_draws_means_in_percent_on_the_given_axes():
    fig, ax = plt.subplots()
    out = plots.plot_accuracy(results(), ax=ax)
    assert out is ax
    check_labels(ax)
    assert "(%)" in ax.get_ylabel() and "labeled" in ax.get_xlabel()
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"random", "entropy", "badge"}
    # entropy at 2300 labels: 0.90 + 0.04 + 0.02 + mean seed shift 0.005 = 0.965 -> 96.5 %
    np.testing.assert_allclose(lines["entropy"].get_ydata(), [90.5, 93.5, 96.5])
    assert lines["entropy"].get_color() == plots.PALETTE["entropy"]
    assert len(ax.collections) == 3                     # one ± std band per strategy


def test_efficiency_plot_both_views():
    fig, (a1, a2) = plt.subplots(1, 2)
    plots.plot_labeling_efficiency(results(), ax=a1, per="labels")
    plots.plot_labeling_efficiency(results(), ax=a2, per="accuracy")
    for ax in (a1, a2):
        check_labels(ax)
        assert "efficiency" in ax.get_ylabel()
        assert "random" not in [ln.get_label() for ln in ax.get_lines()]      # the baseline is the 1-line
    assert "(%)" in a2.get_xlabel()
    # at 300 labels every strategy has the same accuracy: efficiency 1
    ent = next(ln for ln in a1.get_lines() if ln.get_label() == "entropy")
    assert ent.get_ydata()[0] == pytest.approx(1.0)


def test_efficiency_plot_accepts_a_computed_result():
    eff = metrics.labeling_efficiency(results())
    ax = plots.plot_labeling_efficiency(eff, ax=plt.subplots()[1])
    assert ax.get_xlabel() and ax.get_ylabel() and len(ax.get_lines()) == 3     # 2 strategies + the 1-line
    with pytest.raises(ValueError, match="per="):
        plots.plot_labeling_efficiency(eff, per="rounds")


def test_relative_accuracy_plot_in_percentage_points():
    ax = plots.plot_relative_accuracy(results(), ax=plt.subplots()[1])
    check_labels(ax)
    assert "percentage points" in ax.get_ylabel()
    badge = next(ln for ln in ax.get_lines() if ln.get_label() == "badge")
    # badge gains 1 point per round over random
    np.testing.assert_allclose(badge.get_ydata(), [0.0, 1.0, 2.0], atol=1e-9)


def test_penalty_heatmap_writes_every_cell():
    df = results()
    mat = metrics.penalty_matrix(df)
    ax = plots.plot_penalty_matrix(df, ax=plt.subplots()[1])
    check_labels(ax)
    texts = [t.get_text() for t in ax.texts]
    assert texts == [f"{v:.2f}" for v in mat.to_numpy().ravel()]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(mat.index)
    # a matrix given directly works too
    ax2 = plots.plot_penalty_matrix(mat, ax=plt.subplots()[1], colorbar=False)
    assert len(ax2.texts) == 9 and ax2.get_xlabel()


def test_penalty_heatmap_refuses_one_seed():
    with pytest.raises(ValueError, match=">= 2 seeds"):
        plots.plot_penalty_matrix(results(seeds=(0,)), ax=plt.subplots()[1])


def test_timing_bars_stack_training_and_selection():
    ax = plots.plot_timing(results(), ax=plt.subplots()[1], unit="s")
    check_labels(ax)
    assert ax.get_ylabel() == "cumulative time (s)"
    heights = [p.get_height() for p in ax.patches]
    # sorted labels badge, entropy, random: training 3 x 30 s = 90 s each; selection 3 x 5 s for badge
    # and 3 x 1 s for the others, stacked on top of training.
    assert heights == pytest.approx([90, 90, 90, 15, 3, 3])
    assert [p.get_y() for p in ax.patches[3:]] == pytest.approx([90, 90, 90])
    assert [t.get_text() for t in ax.texts] == ["6.0 kJ"] * 3


def test_timing_unit_auto_and_bad_unit():
    ax = plots.plot_timing(results().assign(train_s=3600.0), ax=plt.subplots()[1])
    assert ax.get_ylabel() == "cumulative time (h)"
    with pytest.raises(ValueError, match="unit="):
        plots.plot_timing(results(), unit="days")


def test_styles_fixed_for_strategies_and_stable_for_others():
    st = plots.styles(["badge", "entropy / sgd", "entropy / adam", "sgd", "adam"])
    assert st["badge"]["color"] == plots.PALETTE["badge"]
    assert st["entropy / sgd"]["color"] == st["entropy / adam"]["color"] == plots.PALETTE["entropy"]
    assert st["entropy / sgd"]["linestyle"] != st["entropy / adam"]["linestyle"]
    assert st["sgd"]["color"] != st["adam"]["color"]
    assert not {st["sgd"]["color"], st["adam"]["color"]} & set(plots.PALETTE.values())
    # the same labels in another order (another notebook) get the same styles
    assert plots.styles(["adam", "sgd", "entropy / adam", "entropy / sgd", "badge"]) == st


def test_combined_labels_plot():
    df = pd.concat([results(("entropy",)), results(("entropy",)).assign(optimizer="adam",
                                                                        test_acc=lambda d: d.test_acc - 0.01)])
    ax = plots.plot_accuracy(df, by=["strategy", "optimizer"], ax=plt.subplots()[1])
    assert {ln.get_label() for ln in ax.get_lines()} == {"entropy / sgd", "entropy / adam"}


def test_summary_figure_and_one_seed_note():
    fig = plots.plot_summary(results())
    assert len(fig.axes) == 5                              # four panels + the heatmap's colour bar
    fig1 = plots.plot_summary(results(seeds=(0,)))
    assert any(">= 2 seeds" in t.get_text() for t in fig1.axes[3].texts)
    # a strategy run with one seed (or with one seed in a late round) is left out of the matrix, by name
    partial = results(strategies=("coreset",), seeds=(0, 1))
    partial = partial[(partial["seed"] == 0) | (partial["n_labeled"] < 2300)]
    fig2 = plots.plot_summary(pd.concat([results(), partial, results(strategies=("margin",), seeds=(0,))]))
    heat = fig2.axes[3]
    assert [t.get_text() for t in heat.get_yticklabels()] == ["badge", "entropy", "random"]
    assert "too few seeds: coreset, margin" in heat.get_title()
    # entropy and badge beat random by 1-2 points with the same seed offsets: significant in rounds 2, 3
    assert float(heat.texts[1 * 3 + 2].get_text()) == pytest.approx(2 / 3, abs=0.01)


def test_plots_report_missing_columns():
    with pytest.raises(ValueError, match="test_acc"):
        plots.plot_accuracy(results().drop(columns=["test_acc"]), ax=plt.subplots()[1])


def test_facets_one_panel_per_group():
    df = pd.concat([results().assign(redundancy=1), results().assign(redundancy=5)])
    fig = plots.facets(df, plots.plot_accuracy, "redundancy", ncols=3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["redundancy=1", "redundancy=5"]
    assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes)
    assert "mnist5k" in fig.get_suptitle()


def test_efficiency_plot_draws_the_bootstrap_ci_as_error_bars():
    df = results()
    ax = plots.plot_labeling_efficiency(df, ax=plt.subplots()[1], per="labels", n_boot=500, seed=1)
    ci = metrics.labeling_efficiency_ci(df, per="labels", n_boot=500, seed=1)
    bars = ax.collections                               # one vertical-bar collection per strategy shown
    assert len(bars) == 2
    drawn = sorted(float(seg[1][1]) for coll in bars for seg in coll.get_segments() if len(seg))
    shown = ci[(ci.strategy != "random") & ci.ci_high.notna()]["ci_high"]
    np.testing.assert_allclose(drawn, sorted(shown))
    none = plots.plot_labeling_efficiency(df, ax=plt.subplots()[1], ci=None)
    assert len(none.collections) == 0


def test_critical_difference_diagram_shows_ranks_and_the_cd_bar():
    df = results(seeds=(0, 1, 2, 3))
    rt = metrics.rank_tests(df)
    ax = plots.plot_critical_difference(rt, ax=plt.subplots()[1])
    cd = metrics.critical_difference(rt.avg_ranks, rt.n_blocks)
    texts = [t.get_text() for t in ax.texts]
    assert f"CD = {cd:.2f}" in texts
    for name, r in rt.avg_ranks.items():
        assert f"{name} ({r:.2f})" in texts
    bar = next(ln for ln in ax.get_lines() if list(ln.get_ydata()) == [0.45, 0.45])
    assert np.ptp(bar.get_xdata()) == pytest.approx(cd)
    assert "Friedman p" in ax.get_title()


def test_effect_size_forest_plot_draws_each_pair_ci_in_points():
    eff = metrics.effect_sizes(results())
    ax = plots.plot_effect_sizes(eff, ax=plt.subplots()[1])
    last = eff[eff.n_labeled == 2300].reset_index(drop=True)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(last["pair"])
    segs = ax.collections[0].get_segments()
    for seg, (_, r) in zip(segs, last.iterrows()):
        np.testing.assert_allclose([seg[0][0], seg[1][0]], [100 * r["ci_low"], 100 * r["ci_high"]])
    with pytest.raises(ValueError, match="not in the effect-size frame"):
        plots.plot_effect_sizes(eff, at=999, ax=plt.subplots()[1])


def test_summary_figure_lets_real_errors_through(monkeypatch):
    # Only "not enough data" becomes a note in the penalty panel; any other error is a mistake to see.
    def broken(*args, **kwargs):
        raise ValueError("a real bug")

    monkeypatch.setattr(metrics, "penalty_matrix", broken)
    with pytest.raises(ValueError, match="a real bug"):
        plots.plot_summary(results())
