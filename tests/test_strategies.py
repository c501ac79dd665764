"""The contract every registered strategy keeps, and the shared SelectionContext / select machinery.

Known-answer tests of each strategy's math core live in tests/test_strategies_<family>.py."""
from __future__ import annotations

import pytest
import torch

from dal_helpers.config import RunConfig
from dal_helpers.data import Splits
from dal_helpers.models import make_model
from dal_helpers.strategies import STRATEGIES, SelectionContext, get_strategy, partition_budgets, select
from tests.conftest import tiny_splits

# Knobs shrunk so that every strategy runs in well under a second on a 60-point pool.
CFG = RunConfig(mc_samples=4, fass_candidates=2, eval_batch_size=32)


def make_ctx(splits, n_labeled=6, cfg=CFG, seed=0):
    torch.manual_seed(0)  # model init only; strategies get their randomness from `gen`
    model = make_model("mnist_net", splits.n_classes, 1, dropout=0.5)
    lr = torch.full((splits.n_train,), -1, dtype=torch.int64)
    lr[torch.arange(n_labeled) * 3] = 0
    return SelectionContext(model, splits, lr, cfg, torch.device("cpu"))


def with_validation(splits, n_val=12):
    return Splits(splits.name, splits.x_train, splits.y_train, splits.x_test, splits.y_test, splits.classes,
                  x_val=splits.x_test[:n_val], y_val=splits.y_test[:n_val])


@pytest.fixture(autouse=True)
def short_vaal(monkeypatch):
    # the contract does not depend on how long VAAL trains; a few steps keep the file fast
    import dal_helpers.strategies.vaal as vaal
    monkeypatch.setattr(vaal, "VAAL_STEPS", 3)


@pytest.fixture(scope="module")
def splits():
    return with_validation(tiny_splits(n_train=60, n_test=20))


def check_selection(idx, ctx, budget):
    assert idx.dtype == torch.int64 and idx.shape == (budget,)
    assert torch.unique(idx).numel() == budget
    assert bool((ctx.labeled_round[idx] < 0).all())


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_contract(name, splits):
    budget = 7
    ctx = make_ctx(splits)
    a = select(name, ctx, budget, torch.Generator().manual_seed(3))
    check_selection(a, ctx, budget)
    # deterministic for a fixed generator, also with a fresh context (nothing cached carries state)
    b = select(name, make_ctx(splits), budget, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    # the whole pool, and a single point
    check_selection(select(name, make_ctx(splits), ctx.n_pool, torch.Generator().manual_seed(1)), ctx, ctx.n_pool)
    check_selection(select(name, make_ctx(splits), 1, torch.Generator().manual_seed(1)), ctx, 1)
    for bad in (0, -2, ctx.n_pool + 1):
        with pytest.raises(ValueError, match=f"budget={bad}"):
            select(name, ctx, bad, torch.Generator())


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_contract_duplicate_pool_and_empty_labeled_set(name, splits):
    # every pool image identical: all scores tie, all distances are 0
    x = splits.x_train[:1].expand(40, -1, -1, -1).clone()
    y = torch.zeros(40, dtype=torch.int64)
    dup = Splits(splits.name, x, y, splits.x_test, splits.y_test, splits.classes,
                 x_val=splits.x_val, y_val=splits.y_val)
    for n_labeled in (0, 4):
        ctx = make_ctx(dup, n_labeled=n_labeled)
        idx = select(name, ctx, 9, torch.Generator().manual_seed(0))
        check_selection(idx, ctx, 9)
    # empty labeled set on ordinary data
    ctx = make_ctx(splits, n_labeled=0)
    check_selection(select(name, ctx, 5, torch.Generator().manual_seed(0)), ctx, 5)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_contract_partitioned(name, splits):
    ctx = make_ctx(splits, cfg=CFG.replace(partitions=3))
    idx = select(name, ctx, 10, torch.Generator().manual_seed(0))
    check_selection(idx, ctx, 10)


def test_unknown_strategy_lists_registered_names():
    with pytest.raises(KeyError, match="entorpy.*badge|entorpy.*entropy"):
        get_strategy("entorpy")


def test_context_pool_and_caches(splits):
    ctx = make_ctx(splits, n_labeled=6)
    assert torch.equal(ctx.labeled_idx, torch.arange(6) * 3)
    expected_pool = torch.tensor([i for i in range(60) if not (i % 3 == 0 and i < 18)])
    assert torch.equal(ctx.pool_idx, expected_pool)
    p, e = ctx.probs, ctx.embeddings
    assert p.shape == (54, 3) and e.shape == (54, 128)
    torch.testing.assert_close(p.sum(1), torch.ones(54))
    # probs and embeddings agree with a direct forward pass of the model in eval mode
    from dal_helpers.data import normalize
    ctx.model.eval()
    with torch.no_grad():
        xin = normalize(splits.x_train[expected_pool], splits.info)
        torch.testing.assert_close(p, torch.softmax(ctx.model(xin), 1), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(e, ctx.model.embed(xin), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(ctx.labeled_embeddings,
                                   ctx.model.embed(normalize(splits.x_train[:18:3], splits.info)),
                                   rtol=1e-4, atol=1e-5)
    a, h = ctx.badge_factors
    onehot = torch.nn.functional.one_hot(p.argmax(1), 3).float()
    torch.testing.assert_close(a, p - onehot)
    assert h is e
    assert ctx.probs is p  # cached
    sub = ctx.restrict(torch.tensor([0, 5, 7]))
    assert torch.equal(sub.pool_idx, expected_pool[[0, 5, 7]])
    torch.testing.assert_close(sub.probs, p[[0, 5, 7]])
    assert torch.equal(sub.labeled_idx, ctx.labeled_idx)


def test_mc_probs_consistent_masks_and_batchnorm_eval(splits):
    ctx = make_ctx(splits)
    g = torch.Generator().manual_seed(5)
    mc = ctx.mc_probs(6, g)
    assert mc.shape == (6, 54, 3)
    torch.testing.assert_close(mc.sum(2), torch.ones(6, 54))
    assert not torch.allclose(mc[0], mc[1])  # dropout is on
    assert ctx.model.training  # a fresh model is in train mode; its mode is restored after MC passes
    # same masks for the same generator seed, whatever the batch size (masks are per sample, not per batch)
    ctx2 = make_ctx(splits, cfg=CFG.replace(eval_batch_size=7))
    torch.testing.assert_close(ctx2.mc_probs(6, torch.Generator().manual_seed(5)), mc)
    # a BatchNorm model: MC passes leave the running statistics untouched and use them
    bn = make_model("resnet18", 3, 1, dropout=0.3)
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    lr = torch.full((60,), -1, dtype=torch.int64)
    ctx3 = SelectionContext(bn, splits, lr, CFG, torch.device("cpu"))
    ctx3.x_pool.__len__()
    sub = ctx3.restrict(torch.arange(4))
    sub.mc_probs(2, torch.Generator().manual_seed(0))
    for k, v in bn.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_partition_budgets():
    # 10 over sizes (4, 3, 3): exact shares 4, 3, 3
    assert partition_budgets([4, 3, 3], 10) == [4, 3, 3]
    # 5 over (4, 3, 3): exact 2.0, 1.5, 1.5 -> floors 2, 1, 1, one left to the earlier of the tied remainders
    assert partition_budgets([4, 3, 3], 5) == [2, 2, 1]
    assert sum(partition_budgets([7, 7, 6, 1], 13)) == 13


# ---------------------------------------------------------------------------------------------
# stochastic batch acquisition and MC-dropout uncertainty
# ---------------------------------------------------------------------------------------------
def test_gumbel_top_k_samples_without_replacement_proportional_to_power():
    import itertools
    from dal_helpers.strategies import gumbel_top_k
    scores, beta, k = torch.tensor([0.5, 1.0, 2.0, 0.0]), 2.0, 2
    w = scores.double() ** beta
    # exact probability of each ordered pair drawn in sequence without replacement
    exact = {(i, j): float(w[i] / w.sum() * w[j] / (w.sum() - w[i]))
             for i, j in itertools.permutations(range(4), 2) if w[i] > 0 and w[j] > 0}
    gen = torch.Generator().manual_seed(0)
    n_draws = 20000
    counts: dict = {}
    for _ in range(n_draws):
        pair = tuple(gumbel_top_k(scores, k, beta, gen).tolist())
        counts[pair] = counts.get(pair, 0) + 1
    assert set(counts) <= set(exact)          # the zero-score point is never drawn while others remain
    for pair, p in exact.items():
        assert abs(counts.get(pair, 0) / n_draws - p) < 4 * (p * (1 - p) / n_draws) ** 0.5 + 1e-3
    # the zero-score point comes last, when everything else is taken
    assert gumbel_top_k(scores, 4, beta, gen)[-1].item() == 3


@pytest.mark.parametrize("name", ["power_entropy", "power_margin", "power_bald"])
def test_power_strategies_use_the_config_beta(name, splits):
    # the strategy equals Gumbel-top-k of its base score with cfg.power_beta and the same generator
    from dal_helpers.strategies import bald_scores, entropy_scores, gumbel_top_k, margin_scores
    cfg = CFG.replace(power_beta=3.0)
    ctx = make_ctx(splits, cfg=cfg)
    got = select(name, ctx, 5, torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(4)
    if name == "power_bald":
        score = bald_scores(make_ctx(splits, cfg=cfg).mc_probs(cfg.mc_samples, gen))
    else:
        score = (entropy_scores if name == "power_entropy" else margin_scores)(ctx.probs)
    assert got.tolist() == ctx.pool_idx[gumbel_top_k(score, 5, 3.0, gen)].tolist()
    low = [set(select(name, make_ctx(splits), 5, torch.Generator().manual_seed(s)).tolist()) for s in range(4)]
    assert len({frozenset(x) for x in low}) > 1   # a real draw, not the top-k


@pytest.mark.parametrize("name", ["entropy_dropout", "least_confidence_dropout", "margin_dropout"])
def test_dropout_variants_score_the_mc_averaged_probabilities(name, splits):
    import numpy as np
    ctx = make_ctx(splits)
    mc = ctx.mc_probs(CFG.mc_samples, torch.Generator().manual_seed(5)).double().numpy()
    p = mc.mean(0)
    if name == "entropy_dropout":
        s = -(p * np.log(np.where(p > 0, p, 1.0))).sum(1)
    elif name == "least_confidence_dropout":
        s = 1 - p.max(1)
    else:
        top2 = np.sort(p, 1)[:, ::-1][:, :2]
        s = 1 - (top2[:, 0] - top2[:, 1])
    expected = ctx.pool_idx[torch.from_numpy(np.argsort(-s, kind="stable")[:5].copy())]
    got = select(name, ctx, 5, torch.Generator().manual_seed(5))
    assert set(got.tolist()) == set(expected.tolist())
