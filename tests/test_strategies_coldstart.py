"""Known-answer tests of the cold-start strategies (strategies/coldstart.py) against brute-force references
on small inputs: dense float64 distance matrices, the selection rules written as plain loops."""
from __future__ import annotations

import pytest
import torch

from dal_helpers.config import RunConfig
from dal_helpers.seeding import seed_features, seed_set
from dal_helpers.strategies import coldstart as cs
from dal_helpers.strategies import select
from tests.conftest import tiny_splits
from tests.test_strategies import CFG, make_ctx


def dense_dists(x):
    return torch.cdist(x.double(), x.double())


def blobs(n_per, centres, spread, seed=0):
    g = torch.Generator().manual_seed(seed)
    c = torch.tensor(centres, dtype=torch.float32)
    x = torch.cat([ci + spread * torch.randn(n_per, c.shape[1], generator=g) for ci in c])
    return x, torch.arange(len(c)).repeat_interleave(n_per)


# --- TypiClust ---------------------------------------------------------------------------------------

def typicality_reference(x, assign, knn=20):
    d = dense_dists(x)
    out = []
    for i in range(len(x)):
        others = [float(d[i, j]) for j in range(len(x)) if j != i and assign[j] == assign[i]]
        if not others:
            out.append(float("inf"))
            continue
        near = sorted(others)[:min(knn, len(others))]
        out.append(len(near) / sum(near))
    return torch.tensor(out, dtype=torch.float64)


def test_typicality_matches_a_dense_reference():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(60, 4, generator=g)
    # a cluster of 35 (k = 20 neighbours), one of 24 (k = 20), one singleton (+inf)
    assign = torch.cat([torch.zeros(35), torch.ones(24), torch.full((1,), 7)]).long()[torch.randperm(60, generator=g)]
    torch.testing.assert_close(cs.typicality(x, assign), typicality_reference(x, assign), rtol=1e-4, atol=0)
    # small clusters: k = size - 1
    small = torch.tensor([0, 0, 0, 1, 1, 2] * 10)
    torch.testing.assert_close(cs.typicality(x, small, knn=3), typicality_reference(x, small, knn=3), rtol=1e-4, atol=0)


def typiclust_reference(assign, typ, n_pool, budget):
    # the rule of the module doc, written as a loop over clusters and members
    assign, typ = assign.tolist(), typ.tolist()
    clusters = sorted(set(assign))
    used = {c: sum(1 for a in assign[n_pool:] if a == c) for c in clusters}
    size = {c: assign.count(c) for c in clusters}
    picked = []
    for _ in range(budget):
        best = None
        for c in clusters:
            free = [p for p in range(n_pool) if assign[p] == c and p not in picked]
            if not free:
                continue
            top = max(typ[p] for p in free)
            cand = min(p for p in free if typ[p] == top)
            key = (used[c], -size[c], cand)
            if best is None or key < best[0]:
                best = (key, c, cand)
        picked.append(best[2])
        used[best[1]] += 1
    return picked


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_typiclust_pick_matches_the_rule_on_fixed_clusters(seed):
    g = torch.Generator().manual_seed(seed)
    n_pool, n_lab = 50, 8
    assign = torch.randint(0, 9, (n_pool + n_lab,), generator=g)
    typ = torch.randint(0, 4, (n_pool + n_lab,), generator=g).double()     # many ties
    for budget in (1, 5, 12, n_pool):                                       # beyond the free clusters too
        got = cs.typiclust_pick(assign, typ, n_pool, budget)
        assert got.tolist() == typiclust_reference(assign, typ, n_pool, budget)


def test_typiclust_first_picks_are_the_most_typical_of_the_largest_unlabeled_clusters():
    # clusters 0 (size 5, holds a labeled point), 1 (size 4), 2 (size 3), 3 (size 2); pool = rows 0..12
    assign = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 0])
    typ = torch.tensor([9., 1, 1, 1, 1, 5, 5, 2, 3, 8, 1, 1, 1, 1])
    # cluster 1 (largest free): members 4..7, typ 5 at 5 and 6 -> 5; then cluster 2 -> 9; then 3 -> 11
    # (tie -> lower); only then cluster 0, whose most typical pool member is 0
    assert cs.typiclust_pick(assign, typ, 13, 4).tolist() == [5, 9, 11, 0]


def test_typiclust_positions_is_k_means_then_the_rule_and_deterministic():
    x, _ = blobs(30, [[0, 0], [20, 0], [0, 20], [20, 20]], 1.0)
    pool, lab = x[:100], x[100:]
    a = cs.typiclust_positions(pool, lab, 6, torch.Generator().manual_seed(4))
    assert torch.equal(a, cs.typiclust_positions(pool, lab, 6, torch.Generator().manual_seed(4)))
    allx = torch.cat([pool, lab])
    assign = cs.kmeans_assign(allx, 20 + 6, torch.Generator().manual_seed(4))
    assert a.tolist() == cs.typiclust_pick(assign, cs.typicality(allx, assign), 100, 6).tolist()


# --- ProbCover: graph and greedy -----------------------------------------------------------------------

def delta_in_a_gap(d):
    # the midpoint of the widest gap between consecutive distinct pairwise distances near the 30% quantile,
    # so that float32 rounding cannot move any pair across delta
    v = torch.unique(d[d > 0])
    lo = len(v) // 4
    gaps = v[lo + 1:lo + 40] - v[lo:lo + 39]
    i = int(gaps.argmax())
    return float((v[lo + i] + v[lo + i + 1]) / 2)


@pytest.mark.parametrize("clustered", [False, True])
def test_ball_graph_equals_the_dense_adjacency(clustered):
    x, _ = blobs(40, [[0, 0, 0], [6, 0, 0], [0, 30, 0], [0, 0, 30]], 1.0, seed=3)
    d = dense_dists(x)
    delta = delta_in_a_gap(d)
    assign = cs.kmeans_assign(x, 4, torch.Generator().manual_seed(0)) if clustered else None
    graph = cs.ball_graph(x, delta, assign)
    adj = d <= delta
    assert graph.n_edges == int(adj.sum())
    for j in range(len(x)):
        (nb,) = graph.neighbours(torch.tensor([j]))
        assert sorted(nb.tolist()) == adj[j].nonzero().squeeze(1).tolist()
    assert torch.equal(graph.degrees(), adj.sum(1))
    assert cs.ball_graph(x, delta, assign, max_edges=int(adj.sum()) - 1) is None


def test_ball_graph_with_the_principal_filter_equals_the_dense_adjacency():
    # D = 96 > 64 turns on the lower-bound filter; points on a 6-dimensional subspace plus a little noise
    g = torch.Generator().manual_seed(11)
    x = torch.randn(300, 6, generator=g) @ torch.randn(6, 96, generator=g) + 0.1 * torch.randn(300, 96, generator=g)
    d = dense_dists(x)
    delta = delta_in_a_gap(d)
    graph = cs.ball_graph(x, delta, cs.kmeans_assign(x, 5, torch.Generator().manual_seed(0)))
    adj = d <= delta
    assert graph.n_edges == int(adj.sum())
    for j in range(0, 300, 7):
        (nb,) = graph.neighbours(torch.tensor([j]))
        assert sorted(nb.tolist()) == adj[j].nonzero().squeeze(1).tolist()


def greedy_reference(adj, n_pool, labeled):
    # brute-force greedy max coverage on the dense adjacency; stops once everything is covered
    covered = adj[labeled].any(0) if len(labeled) else torch.zeros(len(adj), dtype=torch.bool)
    picks = []
    while not bool(covered.all()):
        gain = [int((adj[i] & ~covered).sum()) if i not in picks else -1 for i in range(n_pool)]
        best = max(gain)
        i = gain.index(best)          # first maximum: the lower index
        picks.append(i)
        covered |= adj[i]
    return picks


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_probcover_greedy_equals_brute_force_max_coverage(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(120, 3, generator=g)
    d = dense_dists(x)
    delta = delta_in_a_gap(d)
    adj = d <= delta
    n_pool = 100
    graph = cs.ball_graph(x, delta, cs.kmeans_assign(x, 3, torch.Generator().manual_seed(seed)))
    labeled = torch.arange(n_pool, 120)
    ref = greedy_reference(adj, n_pool, labeled.tolist())
    got = cs.probcover_greedy(graph, n_pool, labeled, len(ref))
    assert got.tolist() == ref
    # after full coverage: the greedy picks, then distinct random unpicked pool points from the generator
    more = cs.probcover_greedy(graph, n_pool, labeled, len(ref) + 10, torch.Generator().manual_seed(5))
    assert more[:len(ref)].tolist() == ref and len(set(more.tolist())) == len(ref) + 10
    assert bool((more < n_pool).all())
    assert torch.equal(more, cs.probcover_greedy(graph, n_pool, labeled, len(ref) + 10,
                                                 torch.Generator().manual_seed(5)))
    # no labeled set
    assert cs.probcover_greedy(graph, 120, torch.empty(0, dtype=torch.long), 3).tolist() == \
        greedy_reference(adj, 120, [])[:3]


def test_probcover_positions_with_explicit_delta_equals_the_dense_greedy():
    g = torch.Generator().manual_seed(8)
    x = torch.randn(90, 4, generator=g)
    d = dense_dists(x)
    delta = delta_in_a_gap(d)
    ref = greedy_reference(d <= delta, 70, list(range(70, 90)))
    got = cs.probcover_positions(x[:70], x[70:], len(ref), torch.Generator().manual_seed(0), delta=delta)
    assert got.tolist() == ref


# --- ProbCover: delta ----------------------------------------------------------------------------------

def test_delta_on_two_well_separated_blobs_is_the_brute_force_grid_pick():
    x, blob = blobs(60, [[0.0] * 5, [40.0] + [0.0] * 4], 1.0, seed=2)
    gen = torch.Generator().manual_seed(0)
    assign = cs.kmeans_assign(x, 2, torch.Generator().manual_seed(0))
    assert torch.equal(assign == assign[0], blob == 0)           # k-means finds the blobs
    delta, grid, purity, edges = cs.choose_delta(x, 2, gen, assign=assign)
    d = dense_dists(x)
    diam_blob = max(float(d[blob == b][:, blob == b].max()) for b in (0, 1))
    gap = float(d[blob == 0][:, blob == 1].min())
    # brute force over the grid: a ball is pure when every point within delta has the point's label
    same = assign[:, None] == assign[None, :]
    ref_pur = torch.stack([(((d <= v) & ~same).sum(1) == 0).double().mean() for v in grid.tolist()])
    torch.testing.assert_close(purity, ref_pur)
    # every row is sampled (N < PURITY_SAMPLE), so the edge count is exact (up to fp32 at the boundary)
    ref_edges = torch.tensor([float((d <= v).sum()) for v in grid.tolist()], dtype=torch.float64)
    assert float((edges - ref_edges).abs().max()) <= 4
    assert delta == float(grid[int((ref_pur >= 0.95).nonzero().max())])
    # each ball holds its whole blob; delta may pass the gap as long as 95% of the balls stay pure
    assert diam_blob < delta < 2 * gap
    i = int((grid == delta).nonzero().max())
    assert ref_pur[i] >= 0.95 > ref_pur[i + 1]
    # ProbCover then needs one pick per blob before the random tail
    picks = cs.probcover_positions(x, x[:0], 2, torch.Generator().manual_seed(0), n_classes=2)
    assert sorted(blob[picks].tolist()) == [0, 1]


def test_automatic_delta_respects_the_edge_cap():
    x, _ = blobs(100, [[0.0] * 4, [40.0] + [0.0] * 3], 1.0, seed=4)
    cap = 2_000                                                   # far below the 10 000 the pure delta gives
    delta, grid, purity, edges = cs.choose_delta(x, 2, torch.Generator().manual_seed(0), max_edges=cap)
    assert edges[int((grid == delta).nonzero().max())] <= cap / 2
    graph = cs.ball_graph(x, delta, None)
    assert graph.n_edges <= cap
    got = cs.probcover_positions(x, x[:0], 5, torch.Generator().manual_seed(1), n_classes=2, max_edges=cap)
    assert len(set(got.tolist())) == 5
    with pytest.raises(ValueError, match="probcover_delta=50.0"):
        cs.probcover_positions(x, x[:0], 5, torch.Generator(), delta=50.0, max_edges=cap)


# --- through the registry, seeding and the config ----------------------------------------------------

def test_strategies_read_the_context_and_config():
    splits = tiny_splits(n_train=60, n_test=20)
    ctx = make_ctx(splits, cfg=CFG.replace(probcover_delta=2.5))
    got = select("probcover", ctx, 6, torch.Generator().manual_seed(0))
    ref = cs.probcover_positions(ctx.embeddings, ctx.labeled_embeddings, 6, torch.Generator().manual_seed(0),
                                 delta=2.5, n_classes=splits.n_classes)
    assert torch.equal(got, ctx.pool_idx[ref])
    got = select("typiclust", ctx, 6, torch.Generator().manual_seed(0))
    ref = cs.typiclust_positions(ctx.embeddings, ctx.labeled_embeddings, 6, torch.Generator().manual_seed(0))
    assert torch.equal(got, ctx.pool_idx[ref])


@pytest.mark.parametrize("method", ["typiclust", "probcover"])
def test_seed_sets_run_the_strategies_on_label_free_features(method):
    x = torch.randint(0, 256, (80, 1, 8, 8), dtype=torch.uint8)
    a = seed_set(method, x, 7, torch.Generator().manual_seed(3))
    assert a.dtype == torch.int64 and len(set(a.tolist())) == 7
    assert torch.equal(a, seed_set(method, x, 7, torch.Generator().manual_seed(3)))
    f = seed_features(x)
    fn = cs.typiclust_positions if method == "typiclust" else cs.probcover_positions
    assert a.tolist() == fn(f, f[:0], 7, torch.Generator().manual_seed(3)).tolist()
    assert seed_set(method, x, 0, torch.Generator()).numel() == 0
    with pytest.raises(ValueError, match="n=81"):
        seed_set(method, x, 81, torch.Generator())
    assert RunConfig(seed_set=method).seed_set == method


def test_bad_inputs_name_the_value():
    x = torch.randn(20, 3)
    for bad in (0, 21):
        with pytest.raises(ValueError, match=f"budget={bad}"):
            cs.typiclust_positions(x, x[:0], bad, torch.Generator())
        with pytest.raises(ValueError, match=f"budget={bad}"):
            cs.probcover_positions(x, x[:0], bad, torch.Generator())
    with pytest.raises(ValueError, match="probcover_delta=0"):
        cs.probcover_positions(x, x[:0], 2, torch.Generator(), delta=0)
    with pytest.raises(ValueError, match="n_classes=0"):
        cs.probcover_positions(x, x[:0], 2, torch.Generator(), n_classes=0)
    with pytest.raises(ValueError, match=r"pool has shape \(20, 3\) and labeled \(4, 2\)"):
        cs.typiclust_positions(x, torch.randn(4, 2), 2, torch.Generator())
    with pytest.raises(ValueError, match="budget=6"):
        cs.typiclust_pick(torch.zeros(5, dtype=torch.long), torch.ones(5), 5, 6)
    with pytest.raises(ValueError, match="purity=1.5"):
        cs.choose_delta(x, 2, torch.Generator(), purity=1.5)
    with pytest.raises(ValueError, match="probcover_delta=-1.0"):
        RunConfig(probcover_delta=-1.0)
    with pytest.raises(ValueError, match="seed_set='typiclus'"):
        RunConfig(seed_set="typiclus")
