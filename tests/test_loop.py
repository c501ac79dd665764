"""Tests of loop.py: two-round loops for every training option, the shared start of an experiment, exact
reset, reproducibility, resume after SIGKILL in a subprocess, damaged checkpoints, config errors,
run_experiment skipping finished runs, and the batch diagnostics."""
from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
import torch

from dal_helpers import checkpoint as ckpt
from dal_helpers import loop, results
from dal_helpers.config import RunConfig
from dal_helpers.loop import (TIMING_COLUMNS, batch_diagnostics, checkpoint_path, initial_model, run_active_learning,
                              run_experiment)
from tests.conftest import tiny_splits

REPO = Path(__file__).resolve().parents[1]
SPLITS_ARGS = dict(n_train=48, n_test=12, size=12)
BASE = dict(n_init=9, budget=6, n_rounds=2, max_epochs=3, batch_size=8, lr=0.05, augment=False)


@pytest.fixture(scope="module")
def sp():
    return tiny_splits(**SPLITS_ARGS)


def _cfg(**kw) -> RunConfig:
    return RunConfig(**{**BASE, **kw})


def _stable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in TIMING_COLUMNS if c in df.columns]).reset_index(drop=True)


def _assert_same_rows(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(_stable(a), _stable(b), check_exact=True)


@pytest.mark.parametrize("options", [
    dict(),
    dict(optimizer="adam", lr=1e-3),
    dict(augment=True),
    dict(reset=False),
    dict(swa=True, swa_start_acc=0.3),
    dict(dss=True, dss_interval=2, dss_full_every=2, n_rounds=3),
    dict(train_acc_mode="eval"),
    dict(seed_set="facility_location"),
    dict(seed_set="dispersion_min", strategy="entropy"),
])
def test_loop_runs_every_training_option(sp, tmp_path, options):
    cfg = _cfg(**options)
    df = run_active_learning(cfg, sp, checkpoint_dir=tmp_path / "ck", results_dir=tmp_path / "rs", progress=False)
    sizes = cfg.label_schedule(sp.n_train)
    assert df["round"].tolist() == list(range(len(sizes)))
    assert df["n_labeled"].tolist() == sizes
    assert df["n_selected"].tolist() == [sizes[0]] + [b - a for a, b in zip(sizes, sizes[1:])]
    assert df["final"].tolist() == [False] * (len(sizes) - 1) + [True]
    assert df["test_acc"].between(0, 1).all() and (df["epochs"] >= 1).all()
    assert (df[["train_s", "select_s", "eval_s"]] >= 0).all().all()
    for col in ("experiment", "run_id", "dataset", "model", "strategy", "seed", "train_acc", "energy_j",
                "sel_class_entropy", "sel_dup_frac", "sel_dist_labeled", "lr", "optimizer", "reset"):
        assert col in df.columns
    state = ckpt.load_checkpoint(checkpoint_path(tmp_path / "ck", cfg))
    lr = state["labeled_round"]
    assert [int((lr == r).sum()) for r in range(len(sizes))] == df["n_selected"].tolist()
    assert state["complete"] and len(state["rows"]) == len(sizes)
    _assert_same_rows(results.load_results(tmp_path / "rs"), df)
    if options.get("dss"):
        # rounds 0, 2 (every dss_full_every-th) and the last (3) train on everything; round 1 on subsets.
        assert df["dss_round"].tolist() == [False, True, False, False]


def test_identical_seeds_give_identical_rows_and_other_seeds_differ(sp):
    a = run_active_learning(_cfg(strategy="entropy"), sp, progress=False)
    b = run_active_learning(_cfg(strategy="entropy"), sp, progress=False)
    _assert_same_rows(a, b)
    c = run_active_learning(_cfg(strategy="entropy", seed=1), sp, progress=False)
    assert not _stable(a).drop(columns=["seed", "run_id"]).equals(_stable(c).drop(columns=["seed", "run_id"]))


def test_every_strategy_starts_from_the_same_model_and_seed_set(sp, tmp_path):
    rows, seeds = {}, {}
    for strategy in ("random", "entropy"):
        cfg = _cfg(strategy=strategy)
        rows[strategy] = run_active_learning(cfg, sp, checkpoint_dir=tmp_path, progress=False)
        lr = ckpt.load_checkpoint(checkpoint_path(tmp_path, cfg))["labeled_round"]
        seeds[strategy] = (lr == 0).nonzero().squeeze(1)
    assert torch.equal(seeds["random"], seeds["entropy"])
    r0 = [rows[s].iloc[0][["test_acc", "train_acc", "epochs", "train_loss"]] for s in rows]
    assert r0[0].equals(r0[1])
    # init_seed pins the start while seed varies the rest.
    m1 = initial_model(_cfg(seed=1, init_seed=7), sp).state_dict()
    m2 = initial_model(_cfg(seed=2, init_seed=7), sp).state_dict()
    assert all(torch.equal(m1[k], m2[k]) for k in m1)


@pytest.mark.parametrize("reset", [True, False])
def test_reset_restores_the_initial_weights_exactly(sp, monkeypatch, reset):
    cfg = _cfg(reset=reset)
    seen = []
    real_train = loop.train

    def spy(model, *args, **kw):
        before = {k: v.clone() for k, v in model.state_dict().items()}
        stats = real_train(model, *args, **kw)
        seen.append((before, {k: v.clone() for k, v in model.state_dict().items()}))
        return stats

    monkeypatch.setattr(loop, "train", spy)
    run_active_learning(cfg, sp, progress=False)
    init = initial_model(cfg, sp).state_dict()
    assert len(seen) == 3
    for r, (before, _) in enumerate(seen):
        expected = init if (reset or r == 0) else seen[r - 1][1]
        assert all(torch.equal(before[k], expected[k]) for k in init), f"round {r}"
    assert not all(torch.equal(seen[0][1][k], init[k]) for k in init)  # training did change the weights


CHILD = textwrap.dedent("""
    import os, signal, sys
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, {repo!r})
    from tests.conftest import tiny_splits
    from dal_helpers import checkpoint, loop
    from dal_helpers.config import RunConfig

    kill_at = {kill_at!r}
    calls = {{"n": 0}}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    if kill_at == "train_round_2":          # in the middle of a round's training
        real_train = loop.train
        def train(*a, **kw):
            calls["n"] += 1
            if calls["n"] == 3:
                die()
            return real_train(*a, **kw)
        loop.train = train
    elif kill_at == "between_renames":       # after the old checkpoint became .prev, before the new one lands
        real_replace = os.replace
        def replace(src, dst):           # os is shared: count only the checkpoint's renames
            real_replace(src, dst)
            if str(dst).endswith((".pt", ".prev")):
                calls["n"] += 1
                if calls["n"] == 2:          # save 1: one rename; save 2: current -> .prev, then die
                    die()
        os.replace = replace
    elif kill_at == "mid_write":             # half of the temporary file written
        real_save = torch.save
        def save(obj, f):
            calls["n"] += 1
            if calls["n"] == 2:
                real_save(obj, f)
                f.truncate(f.tell() // 2)
                f.flush()
                die()
            real_save(obj, f)
        checkpoint.torch.save = save
    elif kill_at == "select_round_2":        # during the selection of round 2's batch
        import dal_helpers.strategies as strategies
        real_select = strategies.select
        def select(*a, **kw):
            calls["n"] += 1
            if calls["n"] == 2:
                die()
            return real_select(*a, **kw)
        strategies.select = select

    cfg = RunConfig(**{cfg!r})
    loop.run_active_learning(cfg, tiny_splits(**{splits!r}), checkpoint_dir={ck!r}, results_dir={rs!r},
                             progress=False)
""")


@pytest.mark.parametrize("kill_at", ["train_round_2", "between_renames", "mid_write", "select_round_2"])
def test_resume_after_sigkill_equals_uninterrupted_run(sp, tmp_path, kill_at):
    cfg_kw = {**BASE, "strategy": "entropy", "reset": False}
    cfg = RunConfig(**cfg_kw)
    ck, rs = str(tmp_path / "ck"), str(tmp_path / "rs")
    script = CHILD.format(repo=str(REPO), kill_at=kill_at, cfg=cfg_kw, splits=SPLITS_ARGS, ck=ck, rs=rs)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    killed_rows = results.read_rows(results.results_path(rs, cfg.experiment, cfg.run_id))
    assert 1 <= len(killed_rows) < 3          # it really stopped part-way
    resumed = run_active_learning(cfg, sp, checkpoint_dir=ck, results_dir=rs, progress=False)
    uninterrupted = run_active_learning(cfg, sp, progress=False)
    _assert_same_rows(resumed, uninterrupted)
    _assert_same_rows(results.load_results(rs), uninterrupted)
    assert not [p.name for p in Path(ck).rglob("*") if ".tmp-" in p.name]   # no half-written files left


def test_damaged_latest_checkpoint_falls_back_and_loses_nothing(sp, tmp_path):
    cfg = _cfg(strategy="entropy")
    full = run_active_learning(cfg, sp, checkpoint_dir=tmp_path, progress=False)
    path = checkpoint_path(tmp_path, cfg)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.warns(RuntimeWarning, match=path.name):
        again = run_active_learning(cfg, sp, checkpoint_dir=tmp_path, progress=False)
    _assert_same_rows(again, full)
    assert ckpt.load_checkpoint(path)["complete"]


def test_checkpoint_of_a_different_config_is_refused(sp, tmp_path):
    cfg = _cfg()
    run_active_learning(cfg, sp, checkpoint_dir=tmp_path, progress=False)
    state = ckpt.load_checkpoint(checkpoint_path(tmp_path, cfg))
    state["config"]["lr"] = 0.5
    ckpt.save_checkpoint(state, checkpoint_path(tmp_path, cfg))
    with pytest.raises(ValueError, match=r"\['lr'\]"):
        run_active_learning(cfg, sp, checkpoint_dir=tmp_path, progress=False)


@pytest.mark.parametrize("kw,match", [
    (dict(n_init=49), "n_init=49 exceeds the 48"),
    (dict(n_init=0), "n_init=0"),
    (dict(budget=40), "budget=40 exceeds the 39"),
    (dict(strategy="entorpy"), "unknown strategy 'entorpy'"),
])
def test_config_errors_before_training(sp, monkeypatch, kw, match):
    monkeypatch.setattr(loop, "train", lambda *a, **k: pytest.fail("trained despite a bad config"))
    with pytest.raises((ValueError, KeyError), match=match):
        run_active_learning(_cfg(**kw), sp, progress=False)


def test_run_experiment_skips_completed_runs(sp, tmp_path, monkeypatch):
    configs = [_cfg(strategy=s) for s in ("random", "entropy")]
    first = run_experiment(configs, tmp_path / "ck", tmp_path / "rs", progress=False, splits=sp)
    assert len(first) == 6 and sorted(first.strategy.unique()) == ["entropy", "random"]
    monkeypatch.setattr(loop, "train", lambda *a, **k: pytest.fail("a completed run was trained again"))
    again = run_experiment(configs, tmp_path / "ck", tmp_path / "rs", progress=False, splits=sp)
    _assert_same_rows(again, first)
    # Results alone (no checkpoints) also mark a run complete.
    again = run_experiment(configs, None, tmp_path / "rs", progress=False)
    _assert_same_rows(again, first)
    with pytest.raises(ValueError, match="share experiment"):
        run_experiment([configs[0], configs[0]], tmp_path / "ck", progress=False, splits=sp)


def test_batch_diagnostics_hand_computed():
    y = torch.tensor([0, 0, 1, 2, 1, 0])
    ids = torch.tensor([0, 1, 2, 3, 2, 5])     # rows 2 and 4 are copies of one original
    feats = torch.tensor([[0.0, 0], [3, 4], [1, 0], [0, 2], [1, 0], [6, 8]])
    d = batch_diagnostics(torch.tensor([2, 3, 4, 5]), torch.tensor([0, 1]), y, ids, feats, n_classes=3)
    # classes {1: 2, 2: 1, 0: 1}: H = -(0.5 ln 0.5 + 2 * 0.25 ln 0.25) = 1.0397; / ln 3 = 0.9464.
    assert d["sel_class_entropy"] == pytest.approx((0.5 * math.log(2) + 0.5 * math.log(4)) / math.log(3))
    # 4 rows, 3 distinct originals -> 1/4 of the batch repeats another of its points.
    assert d["sel_dup_frac"] == pytest.approx(0.25)
    # nearest labeled point ((0,0) or (3,4)): 1, 2, 1, 5 -> mean 2.25.
    assert d["sel_dist_labeled"] == pytest.approx(2.25)
    assert math.isnan(batch_diagnostics(torch.tensor([0]), torch.tensor([], dtype=torch.long), y, ids, feats,
                                        3)["sel_dist_labeled"])


def test_shakeshake_with_swa_is_reproducible():
    # Shake-shake draws its branch mixing from torch's global generator during training; the loop seeds
    # it from the run's training generator, so two runs agree exactly.
    sp3 = tiny_splits(n_train=20, n_test=6, size=8, channels=3, name="cifar10")
    cfg = RunConfig(dataset="cifar10", model="resnet18_shakeshake", strategy="entropy", n_init=8, budget=4,
                    n_rounds=1, max_epochs=1, batch_size=4, swa=True, swa_start_acc=1e-6, augment=True)
    a = run_active_learning(cfg, sp3, progress=False)
    b = run_active_learning(cfg, sp3, progress=False)
    _assert_same_rows(a, b)
    assert (a["swa_epochs"] >= 1).all()


@pytest.mark.parametrize("poison", ["weight", "loss"])
def test_non_finite_training_stops_the_round_before_any_row(sp, tmp_path, monkeypatch, poison):
    real_train = loop.train
    calls = {"n": 0}

    def bad_round_1(model, *a, **kw):
        stats = real_train(model, *a, **kw)
        calls["n"] += 1
        if calls["n"] == 2:                      # round 1 diverges
            if poison == "weight":
                with torch.no_grad():
                    next(model.parameters()).view(-1)[0] = math.nan
            else:
                stats.loss = math.inf
        return stats

    monkeypatch.setattr(loop, "train", bad_round_1)
    cfg = _cfg()
    with pytest.raises(FloatingPointError, match="round 1" + (".*non-finite" if poison == "weight" else ".*inf")):
        run_active_learning(cfg, sp, checkpoint_dir=tmp_path / "ck", results_dir=tmp_path / "rs", progress=False)
    rows = results.read_rows(results.results_path(tmp_path / "rs", cfg.experiment, cfg.run_id))
    assert [r["round"] for r in rows] == [0]     # round 1's row was never written
    assert len(ckpt.load_checkpoint(checkpoint_path(tmp_path / "ck", cfg))["rows"]) == 1


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", "", ".hidden"])
def test_experiment_names_cannot_leave_their_folders(name):
    with pytest.raises(ValueError, match="experiment=.*non-empty name without"):
        RunConfig(experiment=name)
    with pytest.raises(TypeError, match="experiment=None"):
        RunConfig(experiment=None)


def test_paths_refuse_bad_run_ids(tmp_path):
    with pytest.raises(ValueError, match=r"run_id='\.\./up'"):
        results.results_path(tmp_path, "exp", "../up")
    with pytest.raises(ValueError, match=r"experiment='\.\.'"):
        results.results_path(tmp_path, "..", "r")
    assert checkpoint_path(tmp_path, _cfg()).parent == tmp_path / "default"


def test_a_second_process_on_the_same_run_refuses_and_writes_nothing(sp, tmp_path):
    # A live process holds the run (as a running notebook would); this one must refuse before it
    # writes a row, then run normally once the holder is gone (killed: its lock dies with it).
    cfg = _cfg(strategy="entropy")
    ck, rs = tmp_path / "ck", tmp_path / "rs"
    held = checkpoint_path(ck, cfg)
    child = subprocess.Popen([sys.executable, "-c", (
        "import time; from dal_helpers import checkpoint as c\n"
        f"with c.run_lock({str(held)!r}):\n    print('held', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(ckpt.RunLockedError, match=f"run '{cfg.run_id}' is being written by process {child.pid}"):
            run_active_learning(cfg, sp, checkpoint_dir=ck, results_dir=rs, progress=False)
        assert not results.results_path(rs, cfg.experiment, cfg.run_id).exists()
        child.send_signal(signal.SIGKILL)
        child.wait()
        df = run_active_learning(cfg, sp, checkpoint_dir=ck, results_dir=rs, progress=False)
        _assert_same_rows(df, run_active_learning(cfg, sp, progress=False))
        assert not [p.name for p in tmp_path.rglob("*.lock")]        # released at the end
    finally:
        child.kill()
        child.wait()


def test_more_rounds_extend_the_same_run_and_equal_a_longer_run(sp, tmp_path):
    # A finished 2-round experiment asked for 3 rounds: the run continues from its checkpoint under the
    # new id (one results file, no rows of the old id left), and equals a 3-round run from the start.
    from dal_helpers.loop import run_experiment

    ck, rs = tmp_path / "ck", tmp_path / "rs"
    short, long = _cfg(strategy="entropy", n_rounds=2), _cfg(strategy="entropy", n_rounds=3)
    run_experiment([short], ck, rs, progress=False, splits=sp)
    extended = run_experiment([long], ck, rs, progress=False, splits=sp)
    files = sorted(p.name for p in (rs / long.experiment).iterdir())
    assert files == [f"{long.run_id}.jsonl"]
    assert not checkpoint_path(ck, short).exists() and checkpoint_path(ck, long).exists()
    _assert_same_rows(extended, run_active_learning(long, sp, progress=False))
    stored = results.read_rows(results.results_path(rs, long.experiment, long.run_id))
    assert [r["final"] for r in stored] == [False, False, False, True]
    assert {r["run_id"] for r in stored} == {long.run_id}


def test_runs_that_cannot_be_extended_are_refused_by_name(sp, tmp_path):
    from dal_helpers.loop import run_experiment

    ck, rs = tmp_path / "ck", tmp_path / "rs"
    three = _cfg(strategy="random", n_rounds=3)
    run_experiment([three], ck, rs, progress=False, splits=sp)
    with pytest.raises(ValueError, match=rf"would extend run '{three.run_id}'.*fewer rounds: 3 < 4"):
        run_experiment([_cfg(strategy="random", n_rounds=2)], ck, rs, progress=False, splits=sp)
    # Rows without a checkpoint (e.g. committed results) cannot be continued.
    with pytest.raises(ValueError, match="has no checkpoint to continue from"):
        run_experiment([_cfg(strategy="random", n_rounds=4)], tmp_path / "other_ck", rs, progress=False, splits=sp)
