"""The notebooks: stored clean (a `parameters` cell, no outputs), smoke runs through papermill with the
ci/smoke parameters rendered to HTML (slow; CI runs them), and the notebook helpers they call.

The helper tests use hand-made results tables whose efficiencies and accuracies are worked out in the
comments, so they fail if the helpers compute something else."""
from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml

from dal_helpers import config
from dal_helpers import notebook as nbh
from dal_helpers.claims import VERDICTS, by_id, s00_quickstart, s02_augmentation, s07_reset_update, s08_scalability
from dal_helpers.claims import measures, s04_redundancy, s05_per_class, s10_significance

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SECTIONS = ["00_quickstart", "01_baselines", "02_augmentation", "03_optimizers", "04_redundancy",
            "05_examples_per_class", "06_batch_size_seed_sets", "07_reset_update", "08_scalability",
            "09_lowdata_mnist", "10_significance", "11_your_data", "12_semi_supervised"]
COMMON = {"experiment", "checkpoint_dir", "results_dir", "data_root", "device", "mode", "overrides"}


def test_every_section_has_a_notebook_and_a_smoke_file():
    assert [p.stem for p in NOTEBOOKS] == SECTIONS
    for name in SECTIONS:
        assert (ROOT / "ci" / "smoke" / f"{name}.yaml").is_file(), name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean_with_a_parameters_cell(path):
    import papermill

    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None, f"{path.name} stores outputs"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# ")
    assert f"colab.research.google.com/github/" in first.source and f"notebooks/{path.name}" in first.source
    # papermill --help-notebook shows every parameter with its type and comment.
    params = papermill.inspect_notebook(str(path))
    assert COMMON <= set(params), COMMON - set(params)
    # papermill skips a line it cannot parse (e.g. '=' in the comment) with a warning only: every
    # assignment of the parameters cell must come back as a parameter
    names = [ln.split(":")[0].split("=")[0].strip() for ln in tagged[0].source.splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    assert set(names) <= set(params), f"{path.name}: papermill cannot parse {sorted(set(names) - set(params))}"
    for name, p in params.items():
        assert p["inferred_type_name"] != "None" and p["help"], f"{path.name}: {name} lacks a type or comment"
    assert params["mode"]["default"] == '"run"'
    # Smoke parameters name only real parameters; overrides name only RunConfig fields.
    smoke = yaml.safe_load((ROOT / "ci" / "smoke" / f"{path.stem}.yaml").read_text())
    assert set(smoke) <= set(params), set(smoke) - set(params)
    config.RunConfig().replace(**smoke.get("overrides", {}))
    # Literate: a sentence precedes every code cell but the parameters, and the last cell interprets the verdicts.
    for prev, c in zip(nb.cells, nb.cells[1:]):
        if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", []):
            assert prev.cell_type == "markdown", f"{path.name}: code cell without a sentence before it: {c.source[:60]!r}"
    assert nb.cells[-1].cell_type == "markdown" and "verdict" in nb.cells[-1].source, f"{path.name}: no closing interpretation"
    # Code cells stay short: longer logic belongs in dal_helpers.
    for c in nb.cells:
        if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", []):
            assert len(c.source.splitlines()) <= 8, f"{path.name}: a code cell of {len(c.source.splitlines())} lines"


def test_default_parameters_are_valid_presets():
    """Every preset a notebook names by default exists, and the defaults build valid configs."""
    import ast

    import papermill

    for path in NOTEBOOKS:
        params = papermill.inspect_notebook(str(path))
        for key in ("preset", "variants"):
            if key in params:
                value = ast.literal_eval(params[key]["default"])
                for name in [value] if isinstance(value, str) else value:
                    assert name in config.PRESETS, f"{path.name}: {key} {name!r}"


@pytest.mark.slow
@pytest.mark.parametrize("name", SECTIONS)
def test_notebook_smoke_run_and_html(name, tmp_path):
    """Execute the notebook with its smoke parameters, then render it: no error, a headline figure and
    a "paper vs ours" table end up in the report."""
    import papermill

    from dal_helpers import report

    params = yaml.safe_load((ROOT / "ci" / "smoke" / f"{name}.yaml").read_text())
    params.update(checkpoint_dir=str(tmp_path / "ckpt"), results_dir=str(tmp_path / "results"))
    out = tmp_path / "runs" / f"{name}.ipynb"
    out.parent.mkdir()
    papermill.execute_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"), str(out), parameters=params,
                               cwd=str(tmp_path), progress_bar=False)
    summary = report.summarize(out)
    assert summary.status == "ok"
    assert summary.headline_png and summary.verdicts
    assert {r["verdict"] for r in summary.verdicts} <= set(VERDICTS)
    assert "not reproduced" not in {r["verdict"] for r in summary.verdicts}     # a smoke run refutes nothing
    index = report.build(tmp_path / "runs", tmp_path / "reports")
    assert f'href="{name}.html"' in index.read_text()
    assert "<img" in (tmp_path / "reports" / f"{name}.html").read_text()


# --------------------------------------------------------------------------------------------------
# Helpers the notebooks call
# --------------------------------------------------------------------------------------------------

def table(curves: dict[str, list[float]], sizes=(100, 200, 300), seeds=(0,), dataset="mnist5k") -> pd.DataFrame:
    """A results table: strategy -> mean accuracy per size; each seed adds +/- 0.01 around it."""
    rows = []
    for s, accs in curves.items():
        for i, seed in enumerate(seeds):
            shift = 0.0 if len(seeds) == 1 else (0.01 if i % 2 else -0.01)
            for r, (n, a) in enumerate(zip(sizes, accs)):
                rows.append({"experiment": "t", "run_id": f"{s}_s{seed}", "dataset": dataset, "model": "mnist_net",
                             "strategy": s, "seed": seed, "round": r, "n_labeled": n, "test_acc": a + shift,
                             "train_s": 1.0, "select_s": 0.5 if s != "random" else 0.0})
    return pd.DataFrame(rows)


def test_end_efficiency_and_final_accuracy_by_hand():
    # random reaches its final 0.80 at 300 labels. entropy: 0.70 at 100, 0.90 at 200 -> reaches 0.80
    # at 150 (linear) -> efficiency 300 / 150 = 2, at random's final accuracy. margin ends below random,
    # at 0.70: measured at its own final accuracy, which random reaches at 200 labels and margin at 300
    # -> 200 / 300 = 2/3.
    df = table({"random": [0.6, 0.7, 0.8], "entropy": [0.7, 0.9, 0.95], "margin": [0.5, 0.6, 0.7]})
    eff = nbh.end_efficiency(df)
    assert eff == pytest.approx({"random": 1.0, "entropy": 2.0, "margin": 2 / 3})
    assert nbh.end_targets(df) == {"random": "80.0% (random's final)", "entropy": "80.0% (random's final)",
                                   "margin": "70.0% (margin's final)"}
    summary = nbh.summary_table(df)
    assert summary.loc["margin", "efficiency vs random"] == pytest.approx(0.667, abs=1e-3)
    assert summary.loc["margin", "efficiency at"] == "70.0% (margin's final)"
    assert nbh.final_accuracy(df) == pytest.approx({"random": 0.8, "entropy": 0.95, "margin": 0.7})
    with pytest.raises(ValueError, match="baseline strategy='badge' is not in the table"):
        nbh.end_efficiency(df, baseline="badge")
    # Curves with no accuracy in common: margin ends (0.55) below random's first point (0.6).
    apart = table({"random": [0.6, 0.7, 0.8], "margin": [0.45, 0.5, 0.55]})
    assert math.isnan(nbh.end_efficiency(apart)["margin"])
    assert nbh.end_targets(apart)["margin"] == "no common accuracy"


def test_mean_gap_compares_what_both_strategies_have():
    # badge - entropy at 100/200/300 labels: 0.1, 0.2, 0.1 -> mean 0.4 / 3; at 400 only badge has a row.
    df = table({"badge": [0.6, 0.8, 0.9, 0.95], "entropy": [0.5, 0.6, 0.8]}, sizes=(100, 200, 300, 400))
    assert nbh.mean_gap(df, "badge", "entropy") == pytest.approx(0.4 / 3)
    assert nbh.mean_gap(df, "entropy", "badge") == pytest.approx(-0.4 / 3)
    assert nbh.mean_gap(df, "badge", "coreset") is None
    assert nbh.mean_gap(table({"badge": [0.6], "entropy": [0.5]}, sizes=(100,)).assign(
        n_labeled=lambda d: d["strategy"].map({"badge": 100, "entropy": 200})), "badge", "entropy") is None


def test_summary_table_of_a_grid_in_progress():
    # random has two rounds, entropy only its seed-set round: the runs share no range of labels, so
    # there is no AUBC (NaN) but the rest of the summary is still shown.
    df = table({"random": [0.6, 0.7], "entropy": [0.6]}, sizes=(100, 200))
    summary = nbh.summary_table(df)
    assert math.isnan(summary.loc["entropy", "AUBC (%)"]) and math.isnan(summary.loc["random", "AUBC (%)"])
    assert summary.loc["random", "final acc (%)"] == pytest.approx(70.0)


def test_summary_table_and_penalty_helpers():
    df = table({"random": [0.6, 0.7, 0.8], "entropy": [0.7, 0.9, 0.95]}, seeds=(0, 1, 2))
    summary = nbh.summary_table(df)
    # Seeds are shifted by -0.01, +0.01, -0.01: mean final entropy = 0.95 - 0.01/3.
    assert summary.loc["entropy", "final acc (%)"] == pytest.approx(100 * (0.95 - 0.01 / 3), abs=1e-3)
    assert summary.loc["entropy", "seeds"] == 3
    assert summary.loc["entropy", "select (s)"] == pytest.approx(1.5)        # 3 rounds x 0.5 s
    assert summary.loc["entropy", "energy (kJ)"] == "not available"         # no energy_j column
    measured = df.assign(energy_j=[float("nan") if s == "random" else 2000.0 for s in df["strategy"]])
    energy = nbh.summary_table(measured)["energy (kJ)"]
    assert energy["entropy"] == pytest.approx(6.0) and energy["random"] == "not available"  # 3 rounds x 2 kJ
    # Entropy is ahead by 0.1, 0.2, 0.15 in every seed (paired differences constant): significant in
    # every round -> cell (entropy, random) = 1, the reverse 0.
    pm = nbh.penalty_or_none(df)
    assert nbh.cell(pm, "entropy", "random") == pytest.approx(1.0)
    assert nbh.cell(pm, "random", "entropy") == 0.0
    assert nbh.cell(pm, "badge", "random") is None
    assert nbh.penalty_or_none(table({"random": [0.6], "entropy": [0.7]}, sizes=(100,))) is None   # one seed


def test_make_configs_presets_overrides_axes_and_dedup():
    cfgs = nbh.make_configs("mnist5k", {"max_epochs": 5}, strategy=["random", "entropy"], seed=[0, 1],
                            experiment="x")
    assert len(cfgs) == 4 and {c.max_epochs for c in cfgs} == {5} and {c.experiment for c in cfgs} == {"x"}
    assert cfgs[0].n_init == config.PRESETS["mnist5k"]["n_init"]
    # opt_sgd and opt_shakeshake differ only in the model; overriding it leaves one config per cell.
    both = nbh.make_configs(["opt_sgd", "opt_shakeshake"], {"model": "mnist_net", "dataset": "mnist5k"},
                            strategy=["random"])
    assert len(both) == 1
    with pytest.raises(KeyError, match="unknown preset"):
        nbh.make_configs("cifar11", {})


def test_resolve_dirs_and_mode(tmp_path):
    ckpt, res = nbh.resolve_dirs("a/ckpt", None, base=tmp_path)
    assert ckpt == tmp_path / "a" / "ckpt" and res == ckpt / "results" and res.is_dir()
    ckpt2, res2 = nbh.resolve_dirs(tmp_path / "abs", "r", base=tmp_path / "elsewhere")
    assert ckpt2 == tmp_path / "abs" and res2 == tmp_path / "elsewhere" / "r"
    assert nbh.colab_setup() is None and not nbh.in_colab()
    with pytest.raises(ValueError, match="mode='train' is invalid; allowed: run, report"):
        nbh.check_mode("train")


def test_run_or_load_report_mode_filters_the_experiment(tmp_path):
    from dal_helpers import results

    for exp, acc in (("a", 0.5), ("b", 0.9)):
        results.append_row(results.results_path(tmp_path, exp, "random_s0"),
                           {"experiment": exp, "strategy": "random", "seed": 0, "n_labeled": 10, "test_acc": acc})
    df = nbh.run_or_load([], tmp_path, tmp_path, mode="report", experiment="b")
    assert df["test_acc"].tolist() == [0.9]
    with pytest.raises(ValueError, match="no results of experiment 'c'"):
        nbh.run_or_load([], tmp_path, tmp_path, mode="report", experiment="c")


def test_section_claims_on_hand_made_tables():
    # Redundancy: at 1x entropy 2x efficient; at 2x entropy ends below random at 0.75, which random
    # reaches at 250 labels (linear) and entropy at 300 -> 250 / 300; badge reaches random's final 0.80
    # at 150 labels (2x).
    low = table({"random": [0.6, 0.7, 0.8], "entropy": [0.7, 0.9, 0.95], "badge": [0.6, 0.7, 0.8]})
    high = table({"random": [0.6, 0.7, 0.8], "entropy": [0.5, 0.6, 0.75], "badge": [0.7, 0.9, 0.95]})
    df = pd.concat([low.assign(redundancy=1), high.assign(redundancy=2)])
    eff = nbh.efficiency_by(df, "redundancy")
    assert eff.loc[1, "entropy"] == pytest.approx(2.0) and eff.loc[2, "badge"] == pytest.approx(2.0)
    assert eff.loc[2, "entropy"] == pytest.approx(250 / 300)
    claims = s04_redundancy.claims(df.assign(redundancy_mode="duplicate"))
    assert by_id(claims, "04.entropy_efficiency_at_max_redundancy").ours == pytest.approx(250 / 300)
    assert by_id(claims, "04.entropy_efficiency_falls").ours is True                  # 2.0 -> 0.83
    # The table: the claims' text, shown values, the test, p / CI, the verdict and its reason.
    judged = nbh.paper_vs_ours(claims)
    assert list(judged.columns) == ["id", "claim", "paper", "ours", "test", "p / CI", "verdict", "reason", "source"]
    assert judged["ours"].tolist() == ["0.833", "2", "yes", "yes"]
    assert judged["verdict"].tolist() == ["not comparable", "not comparable", "inconclusive", "inconclusive"]
    assert judged["p / CI"].tolist() == ["-"] * 4                                   # one seed: no test ran


def test_paper_vs_ours_shows_p_and_ci_and_still_takes_old_rows():
    df = table({"random": [0.6, 0.7, 0.8], "entropy": [0.7, 0.9, 0.95]}, seeds=(0, 1))
    judged = nbh.paper_vs_ours(s00_quickstart.claims(df)).set_index("id")
    assert judged.loc["00.al_beats_random_at_last_round", "p / CI"] == "p = 0; CI [0.15, 0.15]"
    assert judged.loc["00.random_accuracy_at_300_labels", "p / CI"] == "CI [0.673, 0.927]"
    assert judged.loc["00.random_accuracy_at_300_labels", "paper"] == "0.925"
    old = nbh.paper_vs_ours([{"claim": "a", "paper": True, "ours": True}, {"claim": "b", "paper": (1.8, 2.0),
                             "ours": 1.2, "tol": 0.1}, {"claim": "c", "paper": 0.11, "ours": None}])
    assert old["verdict"].tolist() == ["reproduced", "not reproduced", "inconclusive"]
    assert old["paper"].tolist() == ["yes", "1.8–2", "0.11"] and old["reason"].tolist()[2] == "not measured: no value"
    with pytest.raises(TypeError, match="not a mix; got dict"):
        nbh.paper_vs_ours(s00_quickstart.claims(df)[:1] + [{"claim": "a", "paper": True, "ours": True}])


@pytest.mark.slow
def test_smoke_grid_of_baselines_on_dask(tmp_path):
    """The 01 smoke grid (2 strategies x 2 seeds) on a Dask LocalCluster reached through its scheduler
    address (the remote-cluster code path), then again with --workers 2: nothing new runs. The report
    shows the summary figure (accuracy, efficiency, penalty matrix) and the verdicts."""
    from dask.distributed import LocalCluster

    from dal_helpers import grid, report

    nb = ROOT / "notebooks" / "01_baselines.ipynb"
    spec = ROOT / "ci" / "smoke" / "grid_01_baselines.yaml"
    out = tmp_path / "runs" / "smoke_01"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        first = grid.run_grid(nb, spec, out=out, scheduler=cluster.scheduler_address, log=None)
    assert len(first["ran"]) == 4 and first["failed"] == [], first["failed"]
    assert len(list((out / "results").rglob("*.jsonl"))) == 4
    summary = report.summarize(first["report"])
    assert summary.status == "ok" and summary.headline_png and summary.verdicts
    page = Path(first["index"]).read_text()
    assert summary.headline_png in page and page.count('class="pill ok"') >= 5   # report + 4 cells
    again = grid.run_grid(nb, spec, out=out, workers=2, report=False, log=None)
    assert again["ran"] == [] and len(again["skipped"]) == 4


def test_optimizer_variants_follow_table_6_names():
    df = pd.DataFrame({"optimizer": ["sgd", "adam", "sgd", "sgd", "sgd"], "swa": [False, False, True, False, True],
                       "model": ["resnet18", "resnet18", "resnet18", "resnet18_shakeshake", "resnet18_shakeshake"]})
    assert nbh.optimizer_variants(df)["variant"].tolist() == ["SGD", "Adam", "SWA", "SS", "SWA+SS"]
    labelled = nbh.add_label(df.assign(strategy="entropy"), ["strategy", "swa"], "setting")
    assert labelled["setting"].tolist()[:3] == ["entropy / swa=False", "entropy / swa=False", "entropy / swa=True"]


def test_top_efficiency_skips_random_and_nan():
    # entropy reaches random's final 0.80 at 150 labels (2x); margin ends below random: 2/3 (see
    # test_end_efficiency_and_final_accuracy_by_hand).
    df = table({"random": [0.6, 0.7, 0.8], "margin": [0.5, 0.6, 0.7], "entropy": [0.7, 0.9, 0.95]})
    assert measures.top_efficiency(df) == pytest.approx(2.0)
    below = table({"random": [0.6, 0.7, 0.8], "margin": [0.5, 0.6, 0.7]})
    assert measures.top_efficiency(below) == pytest.approx(2 / 3)      # not random's own 1.0
    apart = table({"random": [0.6, 0.7, 0.8], "margin": [0.45, 0.5, 0.55]})
    assert measures.top_efficiency(apart) is None                        # NaN left out, not max'ed
    both = pd.concat([below.assign(augment=True), table({"random": [0.6, 0.7, 0.8], "entropy": [0.7, 0.9, 0.95]})
                      .assign(augment=False)])
    row = by_id(s02_augmentation.claims(both), "02.efficiency_higher_with_augmentation")
    assert row.ours is False                                         # 2/3 with, 2.0 without
    assert row.verdict == "inconclusive" and row.reason == "1 seed: a paired test needs 2 or more"
    half = pd.concat([apart.assign(augment=True), both[both["augment"] == False]])  # noqa: E712
    assert by_id(s02_augmentation.claims(half), "02.efficiency_higher_with_augmentation").ours is None


def test_scalability_claims_use_the_recorded_subset_rounds():
    # Rounds 0..3, full training every 2 rounds and at the last round: round 3 trains in full although
    # 3 % 2 != 0, so only round 1 is a subset round.
    rows = []
    for dss, reset in ((False, True), (True, True)):
        for r in range(4):
            sub = dss and r == 1
            rows.append({"experiment": "t", "run_id": f"entropy_{dss}", "dataset": "mnist5k", "model": "mnist_net",
                         "strategy": "entropy", "seed": 0, "round": r, "n_labeled": 100 * (r + 1),
                         "test_acc": 0.5 + 0.1 * r - (0.05 if sub else 0.0), "train_s": 1.0 if sub else 4.0,
                         "select_s": 0.1, "eval_s": 0.1, "reset": reset, "dss": dss, "dss_full_every": 2,
                         "dss_round": sub})
    claims = s08_scalability.claims(pd.DataFrame(rows))
    assert by_id(claims, "08.gradmatch_speedup").ours == pytest.approx(4.0)    # round 1: 4 s full vs 1 s subset
    assert by_id(claims, "08.gradmatch_no_loss").ours == pytest.approx(0.0)   # rounds 2, 3


def test_quickstart_accuracy_at_300_labels_is_random_sampling():
    df = table({"random": [0.6, 0.7, 0.8], "entropy": [0.7, 0.9, 0.95]})
    claim = by_id(s00_quickstart.claims(df), "00.random_accuracy_at_300_labels")
    assert claim.ours == pytest.approx(0.8)                                         # not (0.8 + 0.95) / 2


def test_scalability_notebook_builds_full_training_runs_only_when_asked():
    nb = nbformat.read(ROOT / "notebooks" / "08_scalability.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    build = next(c for c in nb.cells if c.cell_type == "code" and "dss_values" in c.source and c is not params)
    ns = {"nbh": nbh}
    exec(params.source, ns)
    ns["dss_values"] = [True]
    exec(build.source, ns)
    assert ns["configs"] and all(c.dss for c in ns["configs"])
    ns["dss_values"] = [False, True]
    exec(build.source, ns)
    assert {c.dss for c in ns["configs"]} == {False, True}


def test_claims_on_a_table_mixing_two_data_sets():
    def setting(dataset, gain, column):
        """Two runs per strategy and seed, differing in `column`: accuracy lower by `gain` when False."""
        rows = []
        for flag in (True, False):
            part = table({"random": [0.6, 0.7, 0.8], "entropy": [0.7, 0.9, 0.95], "badge": [0.65, 0.8, 0.9]},
                         seeds=(0, 1), dataset=dataset)
            part["test_acc"] -= 0.0 if flag else gain
            rows.append(part.assign(**{"augment": True, "reset": True, column: flag}, optimizer="sgd",
                                    seed_set="random", budget=100, per_class=1000))
        return pd.concat(rows)

    df = pd.concat([setting("cifar10", 0.1, "augment"), setting("svhn", 0.2, "augment")], ignore_index=True)
    resets = pd.concat([setting("cifar10", 0.1, "reset"), setting("svhn", 0.2, "reset")], ignore_index=True)
    # Each section module splits a mixed table by setting itself; ids get "@<setting>".
    gain = {c.id: c.ours for c in s02_augmentation.claims(df) if c.id.startswith("02.augmentation_gain")}
    assert gain == pytest.approx({"02.augmentation_gain@cifar10": 0.1, "02.augmentation_gain@svhn": 0.2})
    assert len(s05_per_class.claims(resets[resets["reset"]])) == 4
    reset = s07_reset_update.claims(resets)
    assert len(reset) == 6 and by_id(reset, "07.update_worse_early@cifar10").ours is True   # worse after round 0
    assert by_id(reset, "07.adam_update_worse_throughout@svhn").reason.startswith("not measured")
    # The old helper still splits any claims function by setting.
    assert [c.id for c in nbh.per_context(s07_reset_update.setting_claims, resets)][:1] == \
        ["07.no_difference_last_five_rounds@cifar10 / mnist_net"]
    sig = s10_significance.claims({"02_augmentation": df, "07_reset_update": resets})
    assert len(sig) == 6 and all(c.text.startswith(("cifar10", "svhn")) for c in sig if "(from 0" in c.reason)
    assert {c.verdict for c in sig} <= set(VERDICTS)


def test_significance_claims_use_the_given_alpha():
    # entropy - badge per seed: 0.03, 0.02, 0.04 at every size -> paired t = 0.03 / (0.01 / sqrt 3) = 5.2,
    # 2 degrees of freedom, p = 0.035: significant at 0.05, not at 0.01.
    rows = []
    for s, (e, b) in enumerate([(0.73, 0.70), (0.71, 0.69), (0.75, 0.71)]):
        for r, n in enumerate((100, 200, 300)):
            for strategy, acc in (("entropy", e), ("badge", b)):
                rows.append({"experiment": "t", "run_id": f"{strategy}_s{s}", "dataset": "cifar10",
                             "model": "resnet18", "strategy": strategy, "seed": s, "round": r, "n_labeled": n,
                             "test_acc": acc + 0.05 * r, "train_s": 1.0, "select_s": 0.5, "augment": True})
    found = {"02_augmentation": pd.DataFrame(rows)}
    assert s10_significance.claims(found)[0].ours == pytest.approx(1.0)
    assert s10_significance.claims(found, alpha=0.01)[0].ours == pytest.approx(0.0)


def test_resolve_data_root_puts_relative_roots_in_the_drive_folder(tmp_path):
    assert nbh.resolve_data_root(None, base=tmp_path) is None
    assert nbh.resolve_data_root("data", base=tmp_path) == str(tmp_path / "data")
    assert nbh.resolve_data_root("/abs/data", base=tmp_path) == "/abs/data"
    assert nbh.resolve_data_root("data") == "data"  # outside Colab: as given (torchvision's own lookup)


def test_rank_tests_or_none_ranks_after_the_seed_set_and_says_none_when_it_cannot():
    # Rounds 1 and 2 (200 and 300 labels) of 2 seeds = 4 blocks; in each, entropy > random > margin, so the
    # average ranks are exactly 1, 2, 3. Round 0 (margin best there) is left out: the seed set is shared.
    df = table({"random": [0.6, 0.7, 0.8], "entropy": [0.6, 0.9, 0.95], "margin": [0.7, 0.6, 0.7]}, seeds=(0, 1))
    rt = nbh.rank_tests_or_none(df)
    assert rt.n_blocks == 4
    assert rt.avg_ranks.to_dict() == {"entropy": 1.0, "random": 2.0, "margin": 3.0}
    assert nbh.rank_tests_or_none(table({"random": [0.6, 0.7, 0.8]}, seeds=(0, 1))) is None


def test_run_or_load_side_by_side_gives_the_rows_of_a_serial_run(tmp_path):
    """Two spawned one-thread workers write the same rows as the same runs trained one after another on
    one thread (the selected batches' class entropy included)."""
    import torch

    cfgs = nbh.make_configs("mnist5k", {"n_init": 20, "budget": 20, "n_rounds": 1, "max_epochs": 1, "per_class": 30},
                            experiment="side", strategy=["random", "entropy"], seed=[0])
    par = nbh.run_or_load(cfgs, tmp_path / "a_ck", tmp_path / "a_res", workers=2, progress=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ser = nbh.run_or_load(cfgs, tmp_path / "b_ck", tmp_path / "b_res", workers=1, progress=False)
    finally:
        torch.set_num_threads(threads)
    cols = ["run_id", "round", "n_labeled", "test_acc", "train_acc", "epochs", "sel_class_entropy"]
    pd.testing.assert_frame_equal(par[cols].reset_index(drop=True), ser[cols].reset_index(drop=True))
    assert list(par["run_id"].unique()) == [c.run_id for c in cfgs]            # config order
    with pytest.raises(ValueError, match="workers=0 is invalid"):
        nbh.run_or_load(cfgs, tmp_path / "a_ck", tmp_path / "a_res", workers=0)


def test_load_sources_reads_a_folder_or_a_list_of_folders_into_one_table(tmp_path):
    from dal_helpers import results

    results.append_row(results.results_path(tmp_path / "a", "e1", "random_s0"), {"run_id": "random_s0", "reset": True})
    results.append_row(results.results_path(tmp_path / "b", "e2", "random_s0_u"), {"run_id": "random_s0_u", "reset": False})
    found = nbh.load_sources({"one": "a", "both": ["a", "b", "missing"], "none": ["missing"], "gone": "missing"},
                             base=tmp_path)
    assert set(found) == {"one", "both"}
    assert found["one"]["reset"].tolist() == [True]
    assert sorted(found["both"]["reset"].tolist()) == [False, True]
