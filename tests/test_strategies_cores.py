"""Known-answer tests of each strategy's math core against references written the simple way."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from dal_helpers.strategies import (bald_scores, badge_sq_dists, batchbald_greedy, entropy_scores,
                                    facility_location_gains, facility_location_greedy, glister_gains,
                                    glister_greedy, kcenter_greedy, kmeans_pp, least_confidence_scores,
                                    margin_scores, min_sq_dists)
from dal_helpers.strategies.bald import _joint_entropies
from dal_helpers.strategies.fass import SimilarityRows


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def softmax_rows(n, c, seed=0, temp=1.0):
    return torch.softmax(rand(n, c, seed=seed) * temp, 1)


# ---------------------------------------------------------------------------------------------
# uncertainty
# ---------------------------------------------------------------------------------------------
def test_uncertainty_scores_hand_computed():
    p = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.7, 0.2, 0.1]])
    # entropy: 0 (0 log 0 = 0); ln 2; 0.7 ln(1/0.7) + 0.2 ln 5 + 0.1 ln 10 = 0.24967 + 0.32189 + 0.23026
    torch.testing.assert_close(entropy_scores(p), torch.tensor([0.0, math.log(2), 0.801818]), atol=1e-5, rtol=0)
    # least confidence: 1 - max p
    torch.testing.assert_close(least_confidence_scores(p), torch.tensor([0.0, 0.5, 0.3]))
    # margin: 1 - (p1 - p2): 1 - 1, 1 - 0, 1 - 0.5
    torch.testing.assert_close(margin_scores(p), torch.tensor([0.0, 1.0, 0.5]))
    assert torch.isfinite(entropy_scores(torch.eye(4))).all()


# ---------------------------------------------------------------------------------------------
# BADGE
# ---------------------------------------------------------------------------------------------
def badge_inputs(n=60, c=4, d=7, seed=0):
    p = softmax_rows(n, c, seed, temp=2.0)
    a = p.clone()
    a[torch.arange(n), p.argmax(1)] -= 1
    h = rand(n, d, seed=seed + 1).relu() + 0.1 * rand(n, d, seed=seed + 2)
    return a, h


def materialise(a, h):
    return (a[:, :, None] * h[:, None, :]).reshape(len(a), -1)


def test_badge_factored_distances_match_materialised_gradients():
    a, h = badge_inputs()
    g = materialise(a, h)
    for c in (0, 5, 17):
        ref = ((g - g[c]) ** 2).sum(1)
        torch.testing.assert_close(badge_sq_dists(a, h, a[c], h[c]), ref, rtol=1e-4, atol=1e-5)


def kmeans_pp_reference(g, budget, gen):
    """k-means++ on materialised vectors: largest norm first, then D^2 sampling with one uniform draw
    per step mapped through the cumulative distribution (the protocol kmeans_pp documents)."""
    n = len(g)
    centres = [int(torch.argmax((g * g).sum(1)))]
    m = ((g - g[centres[0]]) ** 2).sum(1)
    m[centres[0]] = 0
    for _ in range(1, budget):
        u = torch.rand((), generator=gen, dtype=torch.float64).item()
        cs = m.double().cumsum(0)
        pos = int((cs <= u * cs[-1]).sum())
        centres.append(pos)
        d = ((g - g[pos]) ** 2).sum(1)
        m = torch.minimum(m, d)
        m[centres] = 0
    return torch.tensor(centres)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_pp_matches_materialised_reference(seed):
    a, h = badge_inputs(seed=seed)
    ref = kmeans_pp_reference(materialise(a, h), 15, torch.Generator().manual_seed(seed))
    fast = kmeans_pp(a, h, 15, torch.Generator().manual_seed(seed))
    plain = kmeans_pp(a, h, 15, torch.Generator().manual_seed(seed), prune=False)
    assert torch.equal(fast, ref)
    assert torch.equal(plain, ref)
    # the first centre is the largest gradient norm
    assert int(fast[0]) == int(torch.argmax(a.norm(dim=1) * h.norm(dim=1)))


def test_kmeans_pp_pruned_equals_plain_on_clustered_data():
    # clustered embeddings make the bounds bite; the picks must not change
    g = torch.Generator().manual_seed(4)
    centres = torch.randn(5, 16, generator=g) * 4
    y = torch.randint(0, 5, (400,), generator=g)
    h = centres[y] + 0.3 * torch.randn(400, 16, generator=g)
    p = torch.softmax(torch.randn(400, 5, generator=g) * 3, 1)
    a = p.clone()
    a[torch.arange(400), p.argmax(1)] -= 1
    fast = kmeans_pp(a, h, 60, torch.Generator().manual_seed(9))
    plain = kmeans_pp(a, h, 60, torch.Generator().manual_seed(9), prune=False)
    assert torch.equal(fast, plain)


def test_kmeans_pp_duplicates_all_zero_gradients():
    a = torch.zeros(10, 3)
    h = torch.ones(10, 4)
    out = kmeans_pp(a, h, 10, torch.Generator().manual_seed(0))
    assert sorted(out.tolist()) == list(range(10))


# ---------------------------------------------------------------------------------------------
# Core-set
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("prune", [True, False])
def test_kmeans_pp_never_repicks_an_exact_copy_of_a_centre(prune):
    # 300 distinct points x 3 copies, confident model: in float32 the factored distance of a copy to
    # its centre is ~1e-7 ||g||^2, not 0, and copies used to be drawn (2-5 of 280 picks on these seeds)
    for seed in (0, 2, 3):
        g = torch.Generator().manual_seed(seed)
        p = torch.softmax(torch.randn(300, 10, generator=g) * 6, 1)
        a = p.clone()
        a[torch.arange(300), p.argmax(1)] -= 1
        h = torch.relu(torch.randn(300, 64, generator=g) + 1.0) * 10
        picks = kmeans_pp(a.repeat(3, 1), h.repeat(3, 1), 280, torch.Generator().manual_seed(seed), prune=prune)
        assert torch.unique(picks % 300).numel() == 280


def kcenter_reference(pool, labeled, budget):
    """O(N^2) greedy k-center with the full distance matrix."""
    allx = torch.cat([labeled, pool])
    d = torch.cdist(pool.double(), allx.double())
    centres = list(range(len(labeled)))
    picks = []
    for _ in range(budget):
        if centres:
            m = d[:, centres].min(1).values
        else:  # no labeled set: start at the point nearest to the mean
            m = -((pool - pool.mean(0)) ** 2).sum(1).double()
        m[picks] = -1
        i = int(torch.argmax(m))
        picks.append(i)
        centres.append(len(labeled) + i)
    return torch.tensor(picks)


@pytest.mark.parametrize("n_lab", [0, 3, 40])
def test_kcenter_greedy_matches_quadratic_reference(n_lab):
    pool, lab = rand(120, 6, seed=1), rand(n_lab, 6, seed=2)
    ref = kcenter_reference(pool, lab, 25)
    for lazy in (True, False):
        got = kcenter_greedy(pool, lab, 25, lazy=lazy, batch=4)
        assert torch.equal(got, ref), (lazy, got, ref)


@pytest.mark.parametrize("rest_batch", [7, 1000])
def test_kcenter_greedy_with_a_labeled_subset_first_matches_the_reference(monkeypatch, rest_batch):
    # a labeled set larger than twice the subset: pool points are measured against 8 evenly spaced
    # labeled rows first and against the other 92 only when they come near the top, rest_batch at a time
    from dal_helpers.strategies import coreset
    monkeypatch.setattr(coreset, "_LABELED_SUBSET", 8)
    monkeypatch.setattr(coreset, "_REST_BATCH", rest_batch)
    pool, lab = rand(300, 6, seed=7), rand(100, 6, seed=8)
    ref = kcenter_reference(pool, lab, 40)
    got = kcenter_greedy(pool, lab, 40, lazy=True, batch=5)
    assert torch.equal(got, ref)
    assert torch.equal(got, kcenter_greedy(pool, lab, 40, lazy=False))


def test_min_sq_dists_chunked_matches_cdist():
    x, y = rand(50, 5, seed=3), rand(33, 5, seed=4)
    ref = torch.cdist(x, y).min(1).values ** 2
    torch.testing.assert_close(min_sq_dists(x, y, chunk_elems=40), ref, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# FASS / facility location
# ---------------------------------------------------------------------------------------------
def dense_fl(sim, subset):
    return float(sim[:, subset].max(1).values.sum()) if subset else 0.0


def test_facility_location_gains_match_dense_evaluation():
    x = rand(30, 4, seed=5)
    sims = SimilarityRows(x, store="float32")
    # the similarity: exp(-d^2 / sigma^2), sigma^2 = mean squared distance over all ordered pairs
    d2 = torch.cdist(x.double(), x.double()) ** 2
    sim = torch.exp(-d2 / d2.mean()).float()
    torch.testing.assert_close(sims(torch.arange(30)), sim, rtol=1e-4, atol=1e-5)
    subset = [3, 17, 8]
    cover = sim[:, subset].max(1).values
    gains = facility_location_gains(sim, cover)
    ref = torch.tensor([dense_fl(sim, subset + [j]) - dense_fl(sim, subset) for j in range(30)])
    torch.testing.assert_close(gains, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("store", ["float32", "none"])
def test_lazy_facility_location_matches_plain_greedy(store):
    x = rand(80, 5, seed=6)
    d2 = torch.cdist(x.double(), x.double()) ** 2
    sim = torch.exp(-d2 / d2.mean())
    picks = []
    for _ in range(12):
        base = dense_fl(sim, picks)
        gains = torch.tensor([dense_fl(sim, picks + [j]) - base if j not in picks else -1.0 for j in range(80)])
        picks.append(int(torch.argmax(gains)))
    got = facility_location_greedy(x, 12, batch=3, store=store)
    assert got.tolist() == picks


# ---------------------------------------------------------------------------------------------
# GLISTER
# ---------------------------------------------------------------------------------------------
def test_glister_gains_and_greedy_match_autograd_lookahead():
    n, v, d, c, lr = 25, 9, 6, 3, 0.5
    h, hv = rand(n, d, seed=7), rand(v, d, seed=8)
    yv = torch.randint(0, c, (v,), generator=torch.Generator().manual_seed(9))
    head = torch.nn.Linear(d, c)
    with torch.no_grad():
        head.weight.copy_(rand(c, d, seed=10))
        head.bias.copy_(rand(c, seed=11))
    w, b = head.weight.detach().clone(), head.bias.detach().clone()

    def pool_grads(w, b):
        """Per-point head gradient of the cross-entropy at the predicted label, flattened."""
        out = []
        for j in range(n):
            ww, bb = w.clone().requires_grad_(), b.clone().requires_grad_()
            logit = h[j] @ ww.T + bb
            loss = torch.nn.functional.cross_entropy(logit[None], logit.argmax()[None])
            gw, gb = torch.autograd.grad(loss, (ww, bb))
            out.append(torch.cat([gw.flatten(), gb]))
        return torch.stack(out)

    def val_grad(w, b):
        ww, bb = w.clone().requires_grad_(), b.clone().requires_grad_()
        loss = torch.nn.functional.cross_entropy(hv @ ww.T + bb, yv, reduction="sum")
        gw, gb = torch.autograd.grad(loss, (ww, bb))
        return torch.cat([gw.flatten(), gb])

    p = torch.softmax(h @ w.T + b, 1)
    a = p.clone()
    a[torch.arange(n), p.argmax(1)] -= 1
    gains = glister_gains(a, h, hv @ w.T + b, yv, hv)
    torch.testing.assert_close(gains, pool_grads(w, b) @ val_grad(w, b), rtol=1e-4, atol=1e-5)

    # greedy reference: move the head one step along each pick's (fixed, round-start) gradient
    g0 = pool_grads(w, b)
    picks, ww, bb = [], w.clone(), b.clone()
    for _ in range(5):
        s = g0 @ val_grad(ww, bb)
        s[picks] = -float("inf")
        j = int(torch.argmax(s))
        picks.append(j)
        step = g0[j]
        ww = ww - lr * step[:c * d].view(c, d)
        bb = bb - lr * step[c * d:]
    # V = 9 > D + 1 = 7: the D-dimensional form
    assert glister_greedy(a, h, hv @ w.T + b, yv, hv, 5, lr).tolist() == picks
    # kernel form (V < D + 1): pad the embeddings with zero dimensions, which changes no gradient
    pad = lambda t: torch.cat([t, torch.zeros(len(t), 10)], 1)
    assert glister_greedy(a, pad(h), hv @ w.T + b, yv, pad(hv), 5, lr).tolist() == picks


def test_glister_starts_from_the_labeled_gradient_step_and_lookahead_changes_picks():
    n, v, d, c, n_lab, lr = 40, 9, 6, 3, 8, 0.01
    h, hv, hl = rand(n, d, seed=17) * 30, rand(v, d, seed=18) * 30, rand(n_lab, d, seed=19) * 30
    g = torch.Generator().manual_seed(20)
    yv, yl = torch.randint(0, c, (v,), generator=g), torch.randint(0, c, (n_lab,), generator=g)
    w, b = rand(c, d, seed=21), rand(c, seed=22)

    def sum_grad(x, y, w, b):
        ww, bb = w.clone().requires_grad_(), b.clone().requires_grad_()
        loss = torch.nn.functional.cross_entropy(x @ ww.T + bb, y, reduction="sum")
        gw, gb = torch.autograd.grad(loss, (ww, bb))
        return gw, gb

    p = torch.softmax(h @ w.T + b, 1)
    a = p.clone()
    a[torch.arange(n), p.argmax(1)] -= 1
    a_l = torch.softmax(hl @ w.T + b, 1)
    a_l[torch.arange(n_lab), yl] -= 1
    # reference: theta0 = theta - lr * (labeled gradient), then greedy steps along the pool gradients
    gw, gb = sum_grad(hl, yl, w, b)
    ww, bb = w - lr * gw, b - lr * gb
    g_pool = [(a[j][:, None] * h[j][None, :], a[j]) for j in range(n)]
    picks = []
    for _ in range(6):
        vw, vb = sum_grad(hv, yv, ww, bb)
        s = torch.tensor([float((gj_w * vw).sum() + (gj_b * vb).sum()) for gj_w, gj_b in g_pool])
        s[picks] = -float("inf")
        j = int(torch.argmax(s))
        picks.append(j)
        ww, bb = ww - lr * g_pool[j][0], bb - lr * g_pool[j][1]
    got = glister_greedy(a, h, hv @ w.T + b, yv, hv, 6, lr, start=(a_l, hl))
    assert got.tolist() == picks
    # with the run's lr the look-ahead matters: the picks are not the static top-k of the round's gains
    static = torch.sort(glister_gains(a, h, hv @ w.T + b, yv, hv), descending=True, stable=True).indices[:6]
    assert set(got.tolist()) != set(static.tolist())
    # ... whereas the former default step 0.001 without the labeled start reproduced the static top-k
    assert set(glister_greedy(a, h, hv @ w.T + b, yv, hv, 6, 0.001).tolist()) == set(static.tolist())


def test_glister_lr_defaults_to_the_runs_lr():
    from dal_helpers.config import RunConfig
    from dal_helpers.strategies.glister import glister_lr
    assert RunConfig().glister_lr is None and glister_lr(RunConfig(lr=0.05)) == 0.05
    assert glister_lr(RunConfig(lr=0.05, glister_lr=0.2)) == 0.2
    with pytest.raises(ValueError, match="glister_lr"):
        RunConfig(glister_lr=0.0)


# ---------------------------------------------------------------------------------------------
# BALD / BatchBALD
# ---------------------------------------------------------------------------------------------
def mc_inputs(k=4, n=7, c=3, seed=0):
    return torch.softmax(rand(k, n, c, seed=seed) * 2, 2)


def test_bald_scores_match_direct_formula():
    mc = mc_inputs()
    k, n, c = mc.shape
    ref = []
    for i in range(n):
        mean = [sum(mc[s, i, y] for s in range(k)) / k for y in range(c)]
        h_mean = -sum(m * math.log(m) for m in mean)
        h_each = sum(-sum(float(mc[s, i, y]) * math.log(mc[s, i, y]) for y in range(c)) for s in range(k)) / k
        ref.append(h_mean - h_each)
    torch.testing.assert_close(bald_scores(mc), torch.tensor(ref), rtol=1e-4, atol=1e-6)


def joint_mi(mc, subset):
    """I(y_S; w) by enumerating every label configuration of S."""
    k, _, c = mc.shape
    h = 0.0
    for ys in itertools.product(range(c), repeat=len(subset)):
        pr = sum(math.prod(float(mc[s, i, y]) for i, y in zip(subset, ys)) for s in range(k)) / k
        if pr > 0:
            h -= pr * math.log(pr)
    cond = sum(float(-(mc[:, i] * mc[:, i].log()).sum(1).mean()) for i in subset)
    return h - cond


def test_batchbald_exact_matches_enumeration():
    mc = mc_inputs(k=5, n=8, c=3, seed=1)
    picks = []
    for _ in range(4):
        scores = [joint_mi(mc, picks + [j]) if j not in picks else -1e9 for j in range(8)]
        picks.append(max(range(8), key=lambda j: scores[j]))
    got = batchbald_greedy(mc, 4, torch.Generator().manual_seed(0), exact_limit=10 ** 6)
    assert got.tolist() == picks
    # batch of one = BALD's top point
    assert int(batchbald_greedy(mc, 1, torch.Generator())[0]) == int(torch.argmax(bald_scores(mc)))


def test_batchbald_sampled_joint_entropy_estimate_is_close():
    mc = mc_inputs(k=6, n=5, c=3, seed=2).double()
    subset = [0, 1, 2]
    # exact log-probabilities of all 27 configurations of the subset
    log_cfg = torch.zeros(6, 1, dtype=torch.float64)
    for i in subset:
        log_cfg = (log_cfg[:, :, None] + mc[:, i, None, :].log()).reshape(6, -1)
    exact = _joint_entropies(log_cfg, False, mc)
    rows = torch.multinomial(log_cfg.exp().mean(0), 20000, replacement=True,
                             generator=torch.Generator().manual_seed(0))
    est = _joint_entropies(log_cfg[:, rows], True, mc)
    torch.testing.assert_close(est, exact, rtol=0, atol=0.03)
    # sampled mode runs end to end and returns distinct picks
    got = batchbald_greedy(mc.float(), 5, torch.Generator().manual_seed(0), n_configs=64, exact_limit=3)
    assert sorted(got.tolist()) == list(range(5))


@pytest.mark.parametrize("regularizer", [None, "random", "diversity", "facility_location"])
def test_glister_bounded_search_equals_full_evaluation(regularizer):
    n, v, d, c = 300, 40, 8, 4
    h, hv = rand(n, d, seed=12).relu(), rand(v, d, seed=13).relu()
    p = softmax_rows(n, c, seed=14, temp=3.0)
    a = p.clone()
    a[torch.arange(n), p.argmax(1)] -= 1
    yv = torch.randint(0, c, (v,), generator=torch.Generator().manual_seed(15))
    zv = rand(v, c, seed=16)
    got = glister_greedy(a, h, zv, yv, hv, 30, 0.01, torch.Generator().manual_seed(0), regularizer)
    ref = glister_greedy(a, h, zv, yv, hv, 30, 0.01, torch.Generator().manual_seed(0), regularizer, prune=False)
    assert torch.equal(got, ref)
    assert torch.unique(got).numel() == 30


def test_lazy_facility_location_breaks_exact_ties_to_the_lower_position():
    # copies give exactly equal gains: plain greedy (ties -> lower position) takes the first copy
    x = torch.tensor([[0.0, 0.0], [3.0, 0.0], [3.0, 0.0], [0.0, 3.0], [0.0, 3.0]])
    for batch in (1, 2, 32):
        picks = facility_location_greedy(x, 3, batch=batch).tolist()
        ref = []
        sim = SimilarityRows(x, store="float32").matrix.double()
        cover = torch.zeros(5, dtype=torch.float64)
        for _ in range(3):
            gains = (sim - cover[None]).clamp_min(0).sum(1)
            gains[ref] = -1
            j = int(torch.nonzero(gains == gains.max()).min())
            ref.append(j)
            cover = torch.maximum(cover, sim[j])
        assert picks == ref


def test_fass_per_class_budgets_follow_the_class_share_of_candidates():
    from dal_helpers.strategies.fass import fass_positions
    from dal_helpers.strategies.partitioned import partition_budgets
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(60, 3, generator=g) * 2, 1)
    emb = torch.randn(60, 4, generator=g)
    n_cand, budget = 30, 7
    cand = torch.sort(torch.sort(entropy_scores(probs), descending=True, stable=True).indices[:n_cand]).values
    cls = probs[cand].argmax(1)
    sizes = [int((cls == k).sum()) for k in torch.unique(cls).tolist()]
    got = fass_positions(probs, emb, budget, n_cand, per_class=True)
    got_cls = probs[got].argmax(1)
    assert [int((got_cls == k).sum()) for k in torch.unique(cls).tolist()] == partition_budgets(sizes, budget)
    # within each class the picks are facility location's over that class's candidates
    for k in torch.unique(cls).tolist():
        m = cand[cls == k]
        b = int((got_cls == k).sum())
        if 0 < b < len(m):
            assert got[got_cls == k].tolist() == m[facility_location_greedy(emb[m], b)].tolist()
    flat = fass_positions(probs, emb, budget, n_cand, per_class=False)
    assert flat.tolist() == cand[facility_location_greedy(emb[cand], budget)].tolist()


@pytest.mark.parametrize("full_frac", [0.125, 0.0, 1.0])
def test_kmeans_pp_pruned_equals_plain_with_many_classes(full_frac):
    # 20 classes, low-rank embeddings plus noise: level 1 (Cauchy-Schwarz on h) and level 2 (the projected
    # bound) both prune, and the all-points product for large survivor sets (full_frac) is used or not;
    # the picks must equal the unpruned loop's
    g = torch.Generator().manual_seed(11)
    y = torch.randint(0, 20, (3000,), generator=g)
    basis = torch.linalg.qr(torch.randn(48, 6, generator=g)).Q
    h = (torch.randn(20, 48, generator=g)[y] * 2 + torch.randn(3000, 6, generator=g) @ basis.T * 2
         + 0.2 * torch.randn(3000, 48, generator=g)).relu()
    p = torch.softmax(torch.randn(3000, 20, generator=g) * 2 + 4 * torch.nn.functional.one_hot(y, 20), 1)
    a = p.clone()
    a[torch.arange(3000), p.argmax(1)] -= 1
    fast = kmeans_pp(a, h, 400, torch.Generator().manual_seed(3), n_components=4, full_frac=full_frac)
    plain = kmeans_pp(a, h, 400, torch.Generator().manual_seed(3), prune=False)
    assert torch.equal(fast, plain)
