"""FixMatch in the AL loop (dal_helpers/ssl.py): the unlabeled loss by hand, the strong augmentation's
operations, what the pool gives to training, determinism and a smoke run of the loop."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from dal_helpers import ssl
from dal_helpers.config import RunConfig
from dal_helpers.loop import TIMING_COLUMNS, run_active_learning
from tests.conftest import tiny_splits

BASE = dict(n_init=9, budget=6, n_rounds=2, max_epochs=2, batch_size=8, lr=0.05, augment=False, ssl="fixmatch",
            ssl_mu=2)


def test_unlabeled_loss_masks_by_threshold_and_averages_over_all_images():
    # Image 0: weak logits (10, 0) -> p = 0.99995 >= 0.95, pseudo-label 0; strong logits (0, 0) -> CE ln 2.
    # Image 1: weak logits (0, 0.1) -> top p = 0.525 < 0.95: masked. Loss = (ln 2 + 0) / 2 images.
    weak = torch.tensor([[10.0, 0.0], [0.0, 0.1]])
    strong = torch.tensor([[0.0, 0.0], [5.0, -5.0]], requires_grad=True)
    loss, mask = ssl.fixmatch_unlabeled_loss(weak, strong, threshold=0.95)
    assert mask.tolist() == [True, False]
    assert loss.item() == pytest.approx(math.log(2) / 2)
    loss.backward()
    assert strong.grad[1].abs().sum() == 0          # a masked image gives no gradient
    # Pseudo-labels carry no gradient into the weak view.
    weak_g = weak.clone().requires_grad_()
    ssl.fixmatch_unlabeled_loss(weak_g, strong.detach().clone().requires_grad_(), 0.5)[0].backward()
    assert weak_g.grad is None or weak_g.grad.abs().sum() == 0
    with_all = ssl.fixmatch_unlabeled_loss(weak, strong.detach(), threshold=0.5)[0]  # both kept: 0.525 >= 0.5
    expected = (math.log(2) + torch.nn.functional.cross_entropy(torch.tensor([[5.0, -5.0]]), torch.tensor([1]))) / 2
    assert float(with_all) == pytest.approx(float(expected))


def test_operations_of_the_strong_view_by_hand():
    img = torch.tensor([0.2, 0.6, 0.8, 1.0]).view(1, 1, 2, 2).repeat(2, 1, 1, 1)
    k = ssl.STRONG_OPS.index
    out = ssl._apply_ops(img, torch.tensor([k("solarize"), k("identity")]), torch.tensor([0.5, 0.3]))
    assert torch.allclose(out[0].flatten(), torch.tensor([0.2, 0.4, 0.2, 0.0]))   # >= 0.5 inverted
    assert torch.equal(out[1], img[1])
    out = ssl._apply_ops(img, torch.tensor([k("autocontrast"), k("brightness")]), torch.tensor([0.0, 0.5]))
    assert torch.allclose(out[0].flatten(), torch.tensor([0.0, 0.5, 0.75, 1.0]))  # (x - 0.2) / 0.8
    assert torch.allclose(out[1], img[1] * 1.0)                                    # factor 0.05 + 1.9 * 0.5
    # Translation by 30% of the side (s = +1: 0.6 grid units) moves a bright column by 3 of 10 pixels
    # (sampling from the right, so the content moves left); a rotation of 0 degrees changes nothing.
    col = torch.zeros(1, 1, 10, 10)
    col[..., 4] = 1.0
    moved = ssl._affine(col, "translate_x", torch.tensor([1.0]))
    assert moved[0, 0, 5].argmax().item() == 1
    assert torch.allclose(ssl._affine(col, "rotate", torch.tensor([0.5])), col, atol=1e-6)


def test_strong_augment_is_deterministic_keeps_shape_and_cuts_out_half_the_side():
    x = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    a = ssl.strong_augment(x, torch.Generator().manual_seed(5))
    b = ssl.strong_augment(x, torch.Generator().manual_seed(5))
    assert a.dtype == torch.uint8 and a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, ssl.strong_augment(x, torch.Generator().manual_seed(6)))
    grey = (a == 128).flatten(1).sum(1)             # the cutout fill (0.5 -> 128)
    assert int(grey.min()) >= 7 * 7                 # at least a quarter of the 14 x 14 square lies inside


def test_fixmatch_trains_on_the_pool_minus_labeled_points_never_the_test_split(monkeypatch):
    sp = tiny_splits(n_train=48, n_test=12, size=12)
    seen = []
    real = ssl.train_fixmatch

    def spy(model, x, y, x_pool, *a, **kw):
        seen.append((len(x), x_pool.clone()))
        return real(model, x, y, x_pool, *a, **kw)

    monkeypatch.setattr(ssl, "train_fixmatch", spy)
    df = run_active_learning(RunConfig(**BASE, strategy="entropy"), sp, progress=False)
    assert [n for n, _ in seen] == [9, 15, 21]
    for n, pool in seen:
        assert len(pool) == 48 - n                                  # the unlabeled part of the pool
        rows = {tuple(r.flatten().tolist()) for r in pool}
        assert rows <= {tuple(r.flatten().tolist()) for r in sp.x_train}
        assert not rows & {tuple(r.flatten().tolist()) for r in sp.x_test}
    assert set(df["stop"]) == {"ssl_steps"} and df["ssl_kept_frac"].between(0, 1).all()
    assert (df["epochs"] == 2).all()


def test_fixmatch_runs_are_deterministic_and_differ_from_supervised_ones():
    sp = tiny_splits(n_train=48, n_test=12, size=12)
    drop = lambda d: d.drop(columns=[c for c in TIMING_COLUMNS if c in d]).reset_index(drop=True)  # noqa: E731
    a = run_active_learning(RunConfig(**BASE, strategy="random"), sp, progress=False)
    b = run_active_learning(RunConfig(**BASE, strategy="random"), sp, progress=False)
    pd.testing.assert_frame_equal(drop(a), drop(b), check_exact=True)
    plain = run_active_learning(RunConfig(**{**BASE, "ssl": None}, strategy="random"), sp, progress=False)
    assert plain["stop"].iloc[0] != "ssl_steps" and not drop(plain)["train_loss"].equals(drop(a)["train_loss"])


@pytest.mark.parametrize("kw,match", [
    (dict(ssl="mixmatch"), r"ssl='mixmatch' is invalid; allowed: None or fixmatch"),
    (dict(ssl="fixmatch", ssl_threshold=1.5), "ssl_threshold=1.5"),
    (dict(ssl="fixmatch", ssl_mu=0), "ssl_mu=0"),
    (dict(ssl="fixmatch", dss=True), "not supported"),
])
def test_bad_ssl_settings_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        RunConfig(**kw)
