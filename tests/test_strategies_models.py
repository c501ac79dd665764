"""Strategies that need a model or train one: k-means, adversarial (DeepFool / BIM), VAAL, the
MC-dropout warning, and partitioned selection, each against a reference computed another way."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dal_helpers.config import RunConfig
from dal_helpers.models.base import ALModel
from dal_helpers.strategies import (SelectionContext, lloyd, nearest_unique, partition_budgets,
                                    partitioned_select, select)
from dal_helpers.strategies.adversarial import _bim_batch, _deepfool_batch
from dal_helpers.strategies.vaal import labeled_probability, train_vaal
from tests.conftest import tiny_splits


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------
# k-means
# ---------------------------------------------------------------------------------------------
def test_lloyd_matches_simple_loop():
    x, c0 = rand(40, 3, seed=1), rand(4, 3, seed=2)
    ref = c0.clone()
    for _ in range(5):
        assign = torch.cdist(x, ref).argmin(1)
        ref = torch.stack([x[assign == k].mean(0) if (assign == k).any() else ref[k] for k in range(4)])
    torch.testing.assert_close(lloyd(x, c0, n_iter=5, tol=0.0), ref, rtol=1e-5, atol=1e-5)


def test_kmeans_runs_lloyd_to_a_fixed_point_before_picking():
    # elongated overlapping blobs need many Lloyd iterations; the former 5-iteration cap stopped early
    x = torch.cat([rand(200, 2, seed=3) * torch.tensor([6.0, 0.5]) + torch.tensor([0.0, s]) for s in range(4)])
    from dal_helpers.strategies import kmeans_select_positions
    from dal_helpers.strategies.badge import kmeans_pp
    seeds = kmeans_pp(torch.ones(len(x), 1), x, 6, torch.Generator().manual_seed(0))
    ref = x[seeds].double()
    xd = x.double()
    for it in range(1000):   # plain Lloyd in float64 until no assignment changes
        assign = torch.cdist(xd, ref).argmin(1)
        new = torch.stack([xd[assign == k].mean(0) if (assign == k).any() else ref[k] for k in range(6)])
        if torch.equal(new, ref):
            break
        ref = new
    assert it > 5
    got = kmeans_select_positions(x, 6, torch.Generator().manual_seed(0))
    # each pick is the point nearest its converged centre (distinct here)
    assert got.tolist() == torch.cdist(ref, xd).argmin(1).tolist()


def test_nearest_unique_claims_in_centre_order():
    x = torch.tensor([[0.0], [1.0], [2.0], [10.0]])
    centres = torch.tensor([[0.9], [1.1], [9.0]])
    # centre 0 takes 1.0; centre 1's nearest (1.0) is taken, next nearest is 2.0 (distance 0.9 < 1.1)
    assert nearest_unique(x, centres).tolist() == [1, 2, 3]


# ---------------------------------------------------------------------------------------------
# adversarial
# ---------------------------------------------------------------------------------------------
def linear_model(n_in, n_cls, seed):
    m = nn.Sequential(nn.Flatten(), nn.Linear(n_in, n_cls))
    with torch.no_grad():
        m[1].weight.copy_(rand(n_cls, n_in, seed=seed))
        m[1].bias.copy_(rand(n_cls, seed=seed + 1))
    return m.eval()


@pytest.mark.parametrize("n_cls", [2, 3])
def test_deepfool_is_exact_on_a_linear_model(n_cls):
    m = linear_model(12, n_cls, seed=3)
    x0 = rand(9, 1, 3, 4, seed=4)
    w, b = m[1].weight, m[1].bias
    f = x0.flatten(1) @ w.T + b
    orig = f.argmax(1)
    # distance to the nearest linear boundary: min_k |f_k - f_orig| / ||w_k - w_orig||
    dist = torch.stack([torch.stack([(f[i, k] - f[i, orig[i]]).abs() / (w[k] - w[orig[i]]).norm()
                                     for k in range(n_cls) if k != orig[i]]).min() for i in range(9)])
    got = _deepfool_batch(m, x0, max_iter=50, overshoot=0.02, n_candidates=10)
    # one step of length dist + 1e-4, scaled by the overshoot
    torch.testing.assert_close(got, 1.02 * (dist + 1e-4), rtol=1e-4, atol=1e-5)


def test_bim_counts_sign_steps_on_a_binary_linear_model():
    m = linear_model(12, 2, seed=5)
    x0 = rand(7, 1, 3, 4, seed=6)
    w, b = m[1].weight, m[1].bias
    f = x0.flatten(1) @ w.T + b
    orig = f.argmax(1)
    other = 1 - orig
    gap = (f[torch.arange(7), orig] - f[torch.arange(7), other]).detach()
    # each step moves f_other - f_orig by eps * ||w_other - w_orig||_1; a flip needs gap / that, rounded up
    l1 = (w[other] - w[orig]).abs().sum(1).detach()
    eps = 0.05
    steps = torch.ceil(gap / (eps * l1))
    expected = torch.where(steps <= 50, steps * eps * math.sqrt(12), torch.tensor(float("inf")))
    torch.testing.assert_close(_bim_batch(m, x0, eps=eps, max_iter=50), expected, rtol=1e-4, atol=1e-5)


def test_deepfool_checks_its_last_step():
    # one DeepFool step flips every point of a linear model, so max_iter=1 must give finite norms
    m = linear_model(12, 3, seed=3)
    x0 = rand(9, 1, 3, 4, seed=4)
    one = _deepfool_batch(m, x0, max_iter=1, overshoot=0.02, n_candidates=10)
    assert bool(torch.isfinite(one).all())
    torch.testing.assert_close(one, _deepfool_batch(m, x0, max_iter=50, overshoot=0.02, n_candidates=10))


def test_bim_checks_its_last_step():
    # with max_iter = the steps a point needs, that point flips at exactly the last step: finite
    m = linear_model(12, 2, seed=5)
    x0 = rand(7, 1, 3, 4, seed=6)
    ref = _bim_batch(m, x0, eps=0.05, max_iter=50)
    steps = torch.round(ref / (0.05 * math.sqrt(12)))
    k = int(steps.max())
    got = _bim_batch(m, x0, eps=0.05, max_iter=k)
    torch.testing.assert_close(got, ref)
    fewer = _bim_batch(m, x0, eps=0.05, max_iter=k - 1)
    assert bool(torch.isinf(fewer[steps == k]).all()) and bool(torch.isfinite(fewer[steps < k]).all())


def test_adversarial_selects_points_nearest_the_boundary():
    # a 2-class linear model on the normalised images: the selection must be the smallest distances
    splits = tiny_splits(n_train=30, n_classes=2)

    class Lin(ALModel):
        def __init__(self):
            super().__init__(embedding_dim=784, n_classes=2, dropout=0.0)
            with torch.no_grad():
                self.head.weight.copy_(rand(2, 784, seed=7) * 0.05)
                self.head.bias.zero_()

        def embed(self, x):
            return x.flatten(1)

    model = Lin()
    lr = torch.full((30,), -1, dtype=torch.int64)
    ctx = SelectionContext(model, splits, lr, RunConfig(), torch.device("cpu"))
    from dal_helpers.data import normalize
    x = normalize(splits.x_train, splits.info).flatten(1)
    f = model.head(x).detach()
    w = model.head.weight.detach()
    dist = (f[:, 0] - f[:, 1]).abs() / (w[0] - w[1]).norm()
    expected = set(torch.argsort(dist)[:5].tolist())
    assert set(select("adversarial_deepfool", ctx, 5, torch.Generator()).tolist()) == expected


# ---------------------------------------------------------------------------------------------
# VAAL
# ---------------------------------------------------------------------------------------------
def test_vaal_is_deterministic_and_separates_labeled_from_unlabeled_looks():
    g = torch.Generator().manual_seed(0)
    bright = torch.rand(40, 1, 28, 28, generator=g) + 1.0
    dark = torch.rand(40, 1, 28, 28, generator=g) - 1.0
    labeled = bright[:20]
    pool = torch.cat([bright[20:], dark])          # 20 labeled-looking, 40 not
    vae, disc = train_vaal(labeled, pool, torch.Generator().manual_seed(1), steps=40, batch=16)
    p = labeled_probability(vae, disc, pool)
    assert p.shape == (60,) and bool(((p >= 0) & (p <= 1)).all())
    assert float(p[:20].mean()) > float(p[20:].mean())
    vae2, disc2 = train_vaal(labeled, pool, torch.Generator().manual_seed(1), steps=40, batch=16)
    torch.testing.assert_close(labeled_probability(vae2, disc2, pool), p)


# ---------------------------------------------------------------------------------------------
# MC dropout warning, partitioned selection
# ---------------------------------------------------------------------------------------------
class NoDropout(ALModel):
    def __init__(self):
        super().__init__(embedding_dim=8, n_classes=3, dropout=0.0)
        self.lin = nn.Linear(784, 8)

    def embed(self, x):
        return self.lin(x.flatten(1))


@pytest.mark.parametrize("name", ["bald", "batchbald"])
def test_mc_dropout_strategies_warn_without_dropout(name):
    splits = tiny_splits(n_train=20)
    ctx = SelectionContext(NoDropout(), splits, torch.full((20,), -1, dtype=torch.int64),
                           RunConfig(mc_samples=2), torch.device("cpu"))
    with pytest.warns(RuntimeWarning, match="no dropout"):
        select(name, ctx, 3, torch.Generator())


def test_partitioned_select_runs_inner_on_disjoint_proportional_partitions():
    splits = tiny_splits(n_train=50)
    lr = torch.full((50,), -1, dtype=torch.int64)
    lr[:3] = 0
    ctx = SelectionContext(NoDropout(), splits, lr, RunConfig(), torch.device("cpu"))
    seen = []

    def inner(sub, budget, gen):
        seen.append((sub.pool_idx.clone(), budget))
        return sub.pool_idx[:budget]

    out = partitioned_select(inner, ctx, 10, torch.Generator().manual_seed(0), 4)
    parts = [p for p, _ in seen]
    assert sorted(torch.cat(parts).tolist()) == ctx.pool_idx.tolist()     # a partition of the pool
    assert [b for _, b in seen] == partition_budgets([len(p) for p in parts], 10)
    assert out.tolist() == torch.cat([p[:b] for p, b in seen]).tolist()
