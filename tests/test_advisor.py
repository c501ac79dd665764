"""Strategy advisor: chunked nearest neighbours against torch.cdist, near-duplicate rates worked out by
hand, redundancy detection on mnist5k variants (and no false alarm on the original pool), rules, errors."""
from __future__ import annotations

import math

import pytest
import torch

from dal_helpers import data
from dal_helpers.advisor import (FLAG_RATE, Advice, advise, advisor_table, cluster_balance, near_copy_rate,
                                 nearest_neighbours, pixel_features)
from dal_helpers.strategies import STRATEGIES

from .conftest import tiny_splits


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def random_splits(x_train, n_test=40, seed=1):
    g = torch.Generator().manual_seed(seed)
    x_test = torch.randint(0, 256, (n_test, 1, 28, 28), generator=g, dtype=torch.uint8)
    return data.Splits("mnist5k", x_train, torch.arange(len(x_train)) % 10, x_test, torch.arange(n_test) % 10,
                       tuple(str(i) for i in range(10)))


@pytest.fixture(scope="module")
def variants(mnist5k):
    out = {"original": mnist5k}
    for mode in ("duplicate", "augment"):
        for factor in (2, 10):
            out[f"{mode} x{factor}"] = data.make_redundant(mnist5k, factor, torch.Generator().manual_seed(0),
                                                           n_unique=1000, mode=mode)
    return out


# ---------------------------------------------------------------------------------------------
# nearest neighbours
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_elems", [1, 37, 1 << 22])
def test_nearest_neighbours_match_cdist(chunk_elems):
    x = rand(53, 6, seed=1)
    q = rand(17, 6, seed=2)
    dist, idx = nearest_neighbours(q, x, chunk_elems=chunk_elems)
    ref = torch.cdist(q.double(), x.double())
    torch.testing.assert_close(dist.double(), ref.min(1).values, rtol=1e-5, atol=1e-5)
    assert torch.equal(idx, ref.argmin(1))


@pytest.mark.parametrize("chunk_elems", [1, 37, 1 << 22])
def test_nearest_neighbours_excluding_self_match_cdist(chunk_elems):
    x = rand(41, 5, seed=3)
    pos = torch.tensor([0, 7, 8, 40])
    dist, idx = nearest_neighbours(x[pos], x, exclude=pos, chunk_elems=chunk_elems)
    ref = torch.cdist(x.double(), x.double())
    ref.fill_diagonal_(math.inf)
    torch.testing.assert_close(dist.double(), ref[pos].min(1).values, rtol=1e-5, atol=1e-5)
    assert torch.equal(idx, ref[pos].argmin(1))


def test_exact_copies_are_at_distance_zero_and_ties_go_to_the_lower_row():
    x = rand(20, 8, seed=4) * 100
    x[13] = x[5]
    x[17] = x[5]
    dist, idx = nearest_neighbours(x[[5, 13]], x, exclude=torch.tensor([5, 13]))
    assert dist.tolist() == [0.0, 0.0]
    assert idx.tolist() == [13, 5]


def test_near_copy_rate_hand_computed():
    # 0 always counts; 0.7 x 10 = 7: 3 and 7 count, 7.5 and 20 do not -> 3 of 5
    assert near_copy_rate(torch.tensor([0.0, 3.0, 7.0, 7.5, 20.0]), reference=10.0, ratio=0.7) == 0.6


def test_cluster_balance_hand_computed():
    assert cluster_balance([10, 10]) == (1.0, 1.0)
    ratio, ent = cluster_balance([30, 10])
    # shares 0.75, 0.25: entropy -(0.75 ln 0.75 + 0.25 ln 0.25) / ln 2 = 0.8113
    assert ratio == 3.0 and ent == pytest.approx(0.811278, abs=1e-6)
    assert cluster_balance([5, 0, 5])[0] == math.inf


# ---------------------------------------------------------------------------------------------
# near-duplicate rate on pools
# ---------------------------------------------------------------------------------------------
def test_rate_of_a_hand_made_pool():
    # 100 distinct noise images, then exact copies of the first 50: 50 originals + 50 copies have a copy,
    # the other 50 do not -> 100 / 150
    g = torch.Generator().manual_seed(0)
    base = torch.randint(0, 256, (100, 1, 28, 28), generator=g, dtype=torch.uint8)
    splits = random_splits(torch.cat([base, base[:50]]))
    adv = advise(splits, budget=10)
    assert adv.n_measured == 150
    assert adv.near_duplicate_rate == pytest.approx(100 / 150)
    assert adv.exact_duplicate_rate == pytest.approx(100 / 150)
    assert adv.redundant


def test_rate_of_a_sampled_pool_counts_the_sample_only():
    # a sample of 60 of the 150 points: the rate is the share of the sampled points with a copy
    g = torch.Generator().manual_seed(0)
    base = torch.randint(0, 256, (100, 1, 28, 28), generator=g, dtype=torch.uint8)
    splits = random_splits(torch.cat([base, base[:50]]))
    adv = advise(splits, budget=10, sample=60)
    pos = torch.randperm(150, generator=torch.Generator().manual_seed(0))[:60]
    has_copy = (pos < 50) | (pos >= 100)
    assert adv.n_measured == 60
    assert adv.near_duplicate_rate == pytest.approx(float(has_copy.double().mean()))


def test_original_mnist5k_is_not_flagged(variants):
    adv = advise(variants["original"], budget=100)
    assert adv.near_duplicate_rate < FLAG_RATE
    assert adv.exact_duplicate_rate == 0.0
    assert not adv.redundant


@pytest.mark.parametrize("name", ["duplicate x2", "duplicate x10", "augment x2", "augment x10"])
def test_redundant_mnist5k_variants_are_flagged(variants, name):
    # 3,000 of the 4,000 points are repeated; nearly all of them should be found
    adv = advise(variants[name], budget=100)
    assert adv.redundant
    assert adv.near_duplicate_rate > 0.6


def test_advisor_table_has_one_row_per_variant(variants):
    table = advisor_table(variants, budget=100)
    assert list(table.index) == list(variants)
    assert table["redundant"].tolist() == [False, True, True, True, True]
    assert {"near_duplicate_rate", "cluster_entropy", "pool_per_budget", "recommended"} <= set(table.columns)


def test_features_are_deterministic_and_shift_tolerant(mnist5k):
    x = mnist5k.x_train[:200]
    f = pixel_features(x, mnist5k.info)
    assert torch.equal(f, pixel_features(x, mnist5k.info)) and f.shape == (200, 64)
    shifted = torch.roll(x, shifts=(2, -1), dims=(2, 3))       # MNIST digits have blank borders
    d_shift = (pixel_features(shifted, mnist5k.info) - f).norm(dim=1).median()
    d_other = (f - f.roll(1, 0)).norm(dim=1).median()
    assert d_shift < 0.1 * d_other


# ---------------------------------------------------------------------------------------------
# recommendations
# ---------------------------------------------------------------------------------------------
def test_recommendations_are_registered_names_with_reasons(variants):
    for name in ("original", "duplicate x10"):
        adv = advise(variants[name], budget=100)
        assert adv.top and set(adv.top) <= set(STRATEGIES)
        assert all(r.reasons and all(r.reasons) for r in adv.recommendations)
        assert [r.score for r in adv.recommendations] == sorted((r.score for r in adv.recommendations), reverse=True)


def test_redundant_pool_prefers_badge_and_power_entropy_over_entropy(variants):
    adv = advise(variants["duplicate x10"], budget=100)
    assert adv.top[:2] == ["badge", "power_entropy"]
    assert adv.top.index("entropy") > adv.top.index("random")
    assert f"{adv.near_duplicate_rate:.0%} of the pool has a near copy" in adv.recommendations[0].reasons[0]


def test_very_small_budget_prefers_random(variants):
    adv = advise(variants["original"], budget=10)
    assert adv.top[0] == "random"
    assert "budget/classes = 1.0" in adv.recommendations[0].reasons[0]


def test_advice_renders_as_tables_and_text(variants):
    adv = advise(variants["original"], budget=100, n_rounds=5)
    assert isinstance(adv, Advice)
    t = adv.table()
    assert list(t.columns) == ["rank", "strategy", "score", "reason"] and t["rank"].tolist()[0] == 1
    assert "near-duplicate rate" in adv.figures()["figure"].tolist()
    text = str(adv)
    assert "budget 100 x 5 rounds" in text and adv.top[0] in text and "12.5%" in text


def test_same_seed_same_advice_and_a_model_gives_its_embeddings():
    from dal_helpers.models import make_model
    splits = tiny_splits(n_train=60, n_test=30, n_classes=3)
    assert advise(splits, 5, seed=3) == advise(splits, 5, seed=3)
    torch.manual_seed(0)  # model weights only
    adv = advise(splits, 5, model=make_model("mnist_net", 3, 1))
    assert adv.feature_space.startswith("model.embed")


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("budget, match", [(0, r"budget=0 is invalid; allowed: an integer in \[1, 60\]"),
                                           (-3, r"budget=-3 is invalid; allowed: an integer in \[1, 60\]"),
                                           (61, r"budget=61 is invalid; allowed: an integer in \[1, 60\]"),
                                           (2.5, r"budget=2.5 is invalid; allowed: an integer")])
def test_bad_budget_raises_naming_the_value_and_what_is_allowed(budget, match):
    with pytest.raises(ValueError, match=match):
        advise(tiny_splits(), budget)


def test_too_many_rounds_raise():
    with pytest.raises(ValueError, match=r"n_rounds=7 is invalid; allowed: an integer in \[1, 6\]"):
        advise(tiny_splits(), 10, n_rounds=7)
