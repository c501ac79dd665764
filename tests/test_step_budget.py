"""Tests of the step-budget stopping rule (RunConfig.step_budget): the epoch cap by hand, a round that
stops on it, a cosine schedule that spans the capped epochs, and the cut-off still ending a round first."""
from __future__ import annotations

import pytest
import torch

from tests.conftest import tiny_splits
from dal_helpers.config import RunConfig
from dal_helpers.models import make_model
from dal_helpers.training import epoch_cap, make_optimizer, train


def _model(seed=0):
    torch.manual_seed(seed)
    return make_model("mnist_net", 3, 1, image_size=12)


@pytest.mark.parametrize("n,batch,budget,max_epochs,expected", [
    (300, 20, None, 300, 300),     # no budget: the paper's cap
    (300, 20, 5000, 300, 300),     # 15 batches per epoch: 334 epochs allowed, capped at 300
    (3300, 20, 5000, 300, 31),     # 165 batches: ceil(5000 / 165) = 31
    (1300, 20, 5000, 300, 77),     # 65 batches: ceil(5000 / 65) = 77 (76.9)
    (41, 20, 3, 300, 2),           # 41 = 20 + 21 (the lone example joins): 2 batches, ceil(3 / 2) = 2
    (1000, 20, 1, 300, 1),         # at least one epoch
])
def test_epoch_cap_by_hand(n, batch, budget, max_epochs, expected):
    cfg = RunConfig(batch_size=batch, step_budget=budget, max_epochs=max_epochs)
    assert epoch_cap(cfg, n) == expected


def test_a_round_stops_on_the_step_budget_and_the_schedule_spans_it():
    small = tiny_splits(n_train=30, n_test=12, size=12)
    # 30 points, batch 8: 4 batches per epoch; 10 steps -> ceil(10 / 4) = 3 epochs
    cfg = RunConfig(batch_size=8, max_epochs=50, step_budget=10, train_acc_cutoff=1.0, patience=100, lr=1e-6,
                    augment=False)
    s = train(_model(), small.x_train, small.y_train, cfg, torch.Generator().manual_seed(0), info=small.info)
    assert s.stop == "step_budget" and s.epochs == 3 and s.n_seen == 3 * 30
    # the cosine schedule is built over the capped epochs: it reaches lr 0 at their end
    opt, sched = make_optimizer(_model(), cfg, epoch_cap(cfg, 30))
    for _ in range(3):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    # with the budget off the same round runs to max_epochs
    s = train(_model(), small.x_train, small.y_train, cfg.replace(step_budget=None, max_epochs=5),
              torch.Generator().manual_seed(0), info=small.info)
    assert s.stop == "max_epochs" and s.epochs == 5


def test_the_cut_off_still_ends_a_round_before_the_budget():
    small = tiny_splits(n_train=30, n_test=12, size=12)
    cfg = RunConfig(augment=False, max_epochs=60, lr=0.05, step_budget=10_000)
    s = train(_model(), small.x_train, small.y_train, cfg, torch.Generator().manual_seed(0), info=small.info)
    assert s.stop == "cutoff" and s.epochs < epoch_cap(cfg, 30)


def test_step_budget_must_be_positive():
    with pytest.raises(ValueError, match="step_budget"):
        RunConfig(step_budget=0).validate()
