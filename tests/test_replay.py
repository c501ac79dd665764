"""Tests of replay.py and the round models the loop keeps (RunConfig.keep_round_models): replaying a run's
own strategy on its stored round models reproduces the recorded batches exactly (CPU, fp32, the stored
selection-generator state), the kept files load without unpickling, keeping them changes no row and
no run id, and overlaps are worked out by hand."""
from __future__ import annotations

import matplotlib
import pandas as pd
import pytest
import torch

from dal_helpers import checkpoint as ckpt
from dal_helpers import plots, replay
from dal_helpers.config import RunConfig
from dal_helpers.loop import TIMING_COLUMNS, checkpoint_path, run_active_learning
from tests.conftest import tiny_splits

matplotlib.use("Agg")
BASE = dict(n_init=9, budget=6, n_rounds=3, max_epochs=2, batch_size=8, lr=0.05, augment=False, precision="fp32",
            device="cpu")


@pytest.fixture(scope="module")
def sp():
    return tiny_splits(n_train=48, n_test=12, size=12)


def _stable(df):
    return df.drop(columns=[c for c in TIMING_COLUMNS if c in df.columns]).reset_index(drop=True)


@pytest.mark.parametrize("strategy", ["random", "entropy", "badge"])   # random and BADGE draw from the generator
def test_replaying_the_runs_own_strategy_reproduces_its_selections(sp, tmp_path, strategy):
    cfg = RunConfig(strategy=strategy, keep_round_models=True, **BASE)
    rows = run_active_learning(cfg, sp, checkpoint_dir=tmp_path, progress=False)
    assert ckpt.kept_rounds(checkpoint_path(tmp_path, cfg)) == [0, 1, 2, 3]
    out = replay.replay(rows, [strategy, "margin"], checkpoint_dir=tmp_path, splits=sp)
    assert out["round"].tolist() == [0, 0, 1, 1, 2, 2]        # the last round's model selects nothing
    final = ckpt.load_checkpoint(checkpoint_path(tmp_path, cfg))["labeled_round"]
    own = out[out.strategy == strategy]
    for _, row in own.iterrows():
        recorded = sorted((final == row["batch_round"]).nonzero().squeeze(1).tolist())
        assert row["selected"] == recorded
    assert (own["jaccard_run"] == 1.0).all() and (own["shared_run"] == 1.0).all()
    # the replayed batch's diagnostics are the ones the run recorded for that batch
    recorded_rows = rows.set_index("round").loc[own["batch_round"]]
    assert own["sel_class_counts"].tolist() == recorded_rows["sel_class_counts"].tolist()
    assert own["sel_near_dup_frac"].tolist() == recorded_rows["sel_near_dup_frac"].tolist()
    assert (out[f"jaccard_{strategy}"][out.strategy == strategy] == 1.0).all()
    assert (out["select_s"] >= 0).all() and (out["budget"] == 6).all()
    ax = plots.plot_replay_overlap(out)
    assert ax.images


def test_kept_round_models_change_no_row_and_no_run_id_and_load_without_pickle(sp, tmp_path):
    plain = RunConfig(strategy="entropy", **BASE)
    kept = plain.replace(keep_round_models=True)
    assert kept.run_id == plain.run_id
    a = run_active_learning(plain, sp, checkpoint_dir=tmp_path / "a", progress=False)
    b = run_active_learning(kept, sp, checkpoint_dir=tmp_path / "b", progress=False)
    pd.testing.assert_frame_equal(_stable(a), _stable(b), check_exact=True)
    assert "keep_round_models" not in b.columns
    assert ckpt.kept_rounds(checkpoint_path(tmp_path / "a", plain)) == []
    path = ckpt.round_model_path(checkpoint_path(tmp_path / "b", kept), 1)
    state = torch.load(path, weights_only=True)                 # plain tensors and values only
    assert state["round"] == 1 and int((state["labeled_round"] >= 0).sum()) == 15
    assert not list(path.parent.glob("*.prev")) and not list(path.parent.glob(".*tmp-*"))
    # the same folders can be resumed with the flag switched either way (it is an execution field)
    again = run_active_learning(plain, sp, checkpoint_dir=tmp_path / "b", progress=False)
    pd.testing.assert_frame_equal(_stable(again), _stable(b), check_exact=True)


def test_replay_errors_name_what_is_missing(sp, tmp_path):
    cfg = RunConfig(strategy="random", **BASE)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        replay.replay(cfg, ["random"], checkpoint_dir=tmp_path, splits=sp)
    run_active_learning(cfg, sp, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(FileNotFoundError, match="keep_round_models=True"):
        replay.replay(cfg, ["random"], checkpoint_dir=tmp_path, splits=sp)
    with pytest.raises(ValueError, match="needs a checkpoint_dir"):
        run_active_learning(cfg.replace(keep_round_models=True), sp, progress=False)
    kept = cfg.replace(experiment="kept", keep_round_models=True)
    run_active_learning(kept, sp, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"rounds=\[3\].*allowed: the rounds \[0, 1, 2\]"):
        replay.replay(kept, ["random"], rounds=[3], checkpoint_dir=tmp_path, splits=sp)
    with pytest.raises(KeyError, match="entorpy"):
        replay.replay(kept, ["entorpy"], checkpoint_dir=tmp_path, splits=sp)
    with pytest.raises(ValueError, match="repeats"):
        replay.replay(kept, ["random", "random"], checkpoint_dir=tmp_path, splits=sp)


def test_overlaps_by_hand():
    a, b = torch.tensor([1, 2, 3, 4]), torch.tensor([3, 4, 5, 6])
    assert replay.jaccard(a, b) == pytest.approx(2 / 6)   # {3, 4} of {1..6}
    assert replay.shared(a, b) == pytest.approx(2 / 4)
    t = pd.DataFrame({"strategy": ["x", "y", "x", "y"], "round": [0, 0, 1, 1], "run_strategy": "x",
                      "jaccard_run": [1.0, 0.2, 1.0, 0.4], "jaccard_x": [1.0, 0.2, 1.0, 0.4],
                      "jaccard_y": [0.2, 1.0, 0.4, 1.0]})
    m = replay.overlap_matrix(t)
    assert m.loc["y", "run"] == pytest.approx(0.3) and m.loc["run", "y"] == pytest.approx(0.3)
    assert m.loc["run", "run"] == 1.0 and m.loc["x", "y"] == pytest.approx(0.3)


def test_as_config_reads_a_row_of_a_mixed_table():
    cfg = RunConfig(strategy="entropy", label_cap=3000, n_rounds=None)
    row = {**cfg.to_dict(), "label_cap": 3000.0, "init_seed": float("nan"), "test_acc": 0.5}
    assert replay.as_config(row) == cfg
    with pytest.raises(ValueError, match="2 runs"):
        replay.as_config(pd.DataFrame({"run_id": ["a", "b"]}))
