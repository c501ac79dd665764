"""Selection scaling: the exponent fit on hand-made timings, a tiny sweep, the dal-bench-select CLI, errors."""
from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from dal_helpers.scaling import (check_strategies, fit_exponent, main, plot_scaling, sweep,  # noqa: E402
                                 synthetic_context)

SIZES = [200, 400, 800]


def test_fit_exponent_recovers_the_power_of_hand_made_timings():
    n = [1_000, 10_000, 100_000]
    df = pd.DataFrame(dict(strategy=["quad"] * 3 + ["lin"] * 3, N=n + n,
                           seconds=[3e-9 * x ** 2 for x in n] + [5e-6 * x for x in n]))
    exps = fit_exponent(df)
    assert exps.loc["quad", "exponent"] == pytest.approx(2.0, abs=1e-9)
    assert exps.loc["lin", "exponent"] == pytest.approx(1.0, abs=1e-9)
    assert exps.loc["quad", "n_sizes"] == 3 and exps.loc["quad", "note"] == ""


def test_fit_exponent_says_why_when_it_cannot_fit():
    df = pd.DataFrame(dict(strategy=["a", "a"], N=[100, 100], seconds=[1.0, 2.0]))
    exps = fit_exponent(df)
    assert pd.isna(exps.loc["a", "exponent"]) and "two or more needed" in exps.loc["a", "note"]


def test_synthetic_context_holds_the_model_outputs():
    ctx = synthetic_context(50, 10, 16, 4, seed=3)
    assert ctx.n_pool == 50 and ctx.n_labeled == 10
    assert ctx.probs.shape == (50, 4) and ctx.embeddings.shape == (50, 16)
    torch.testing.assert_close(ctx.probs.sum(1), torch.ones(50))
    assert torch.equal(ctx.embeddings, synthetic_context(50, 10, 16, 4, seed=3).embeddings)


def test_sweep_times_every_strategy_and_size():
    df = sweep(["random", "entropy", "badge", "coreset", "bald"], SIZES, dim=32, budget=50, n_labeled=100)
    assert len(df) == 15
    assert sorted(set(df["N"])) == SIZES
    assert (df["seconds"] > 0).all() and (df["budget"] == 50).all()
    assert set(df["memory"]) <= {"peak RSS", "not measured: the peak RSS cannot be reset on this system"}
    assert torch.get_num_threads() == 1          # conftest's setting, restored after the sweep
    fig = plot_scaling(df)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(legend) == 5 and legend[2].startswith("badge (N^")
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"


def test_unknown_strategy_raises_with_a_suggestion():
    with pytest.raises(KeyError, match=r"unknown strategy 'bagde' \(did you mean 'badge'\?\); choose one of: "):
        sweep(["bagde"], SIZES)
    with pytest.raises(ValueError, match=r"strategy 'vaal' needs a model"):
        check_strategies(["vaal"])


@pytest.mark.parametrize("kwargs, match", [
    (dict(sizes=[10, 400]), r"size 10 is invalid; allowed: integers >= budget=100"),
    (dict(sizes=[]), r"sizes is empty"),
    (dict(threads=0), r"threads=0 is invalid; allowed: an integer >= 1"),
    (dict(threads=10_000), r"threads=10000 is invalid; allowed: at most the"),
])
def test_bad_arguments_raise_naming_the_value(kwargs, match):
    args = dict(strategies=["random"], sizes=SIZES) | kwargs
    with pytest.raises(ValueError, match=match):
        sweep(**args)


def test_cli_prints_json_lines_and_writes_csv_and_png(tmp_path, capsys):
    assert main(["--strategies", "random,coreset", "--sizes", "200,400", "--budget", "20", "--labeled", "50",
                 "--dim", "16", "--out", str(tmp_path)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    cases = [x for x in lines if "seconds" in x]
    assert [(x["strategy"], x["N"]) for x in cases] == [("random", 200), ("coreset", 200), ("random", 400),
                                                        ("coreset", 400)]
    assert {x["strategy"] for x in lines if "exponent" in x} == {"random", "coreset"}
    df = pd.read_csv(tmp_path / "selection_scaling.csv")
    assert len(df) == 4 and {"seconds", "extra_mb", "N", "strategy"} <= set(df.columns)
    assert (tmp_path / "selection_scaling.png").stat().st_size > 1000


def test_cli_rejects_an_unknown_strategy(capsys):
    with pytest.raises(SystemExit) as err:
        main(["--strategies", "random,entropi", "--sizes", "200"])
    assert err.value.code == 2
    assert "unknown strategy 'entropi' (did you mean 'entropy'?)" in capsys.readouterr().err
