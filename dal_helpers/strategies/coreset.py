"""Core-set selection (Sener & Savarese 2018): greedy k-center on embeddings, seeded with the labeled set.

Each step takes the pool point farthest from its nearest centre (labeled points and earlier picks are
centres) and makes it a centre. Nearest-centre distances start from the labeled set in chunks of pool
rows (never a full N_pool x N_labeled matrix) and are refreshed incrementally after every pick.
With an empty labeled set the first centre is the pool point nearest to the pool mean (a deterministic,
central start; Sener & Savarese start from a random point); the greedy steps follow as usual.

Refreshing every distance after each pick is an O(N D) matrix-vector pass per step, memory-bound.
Distances only shrink, so a stale distance is an upper bound: the lazy version (Minoux-style) takes the
argmax of the stale values, and if that point has not yet been measured against the latest picks it
refreshes the `batch` largest stale points against the picks they have not seen (a small matrix
product) and looks again. The point it finally takes has an exact distance no smaller than any other
point's upper bound, so the picks are those of the plain greedy algorithm (up to floating-point
rounding in near-ties); far-away points are never touched again.

A large labeled set makes the first distances the whole cost (pool x labeled x D multiply-adds, 5e11
for 50k x 10k x 512). The same argument applies to them: with more than 2 x 1,024 labeled rows, every
pool point is first measured against 1,024 evenly spaced labeled rows only (an upper bound), and the
other labeled rows are folded in, 4,096 points at a time in one GEMM, only for points whose bound
reaches the top. The minimum over a split of the labeled rows is the minimum over all of them bit for
bit (each entry is the same fused product, min is exact), so the picks are unchanged.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .context import SelectionContext

_CHUNK_ELEMS = 1 << 22  # pool rows x labeled rows per block of the initial distances (16 MiB in fp32)
_LABELED_SUBSET = 1024  # labeled rows every pool point is measured against first (lazy version)
_REST_BATCH = 4096      # pool points completed against the remaining labeled rows in one block


def sq_norms(x: Tensor) -> Tensor:
    """(N,) squared Euclidean norms of the rows of x (N, D)."""
    return (x * x).sum(1)


def min_shifted(x: Tensor, y: Tensor, yn: Tensor, chunk_elems: int = _CHUNK_ELEMS) -> Tensor:
    """(N,) min over the rows y_j of y (M, D), M >= 1, of ||y_j||^2 - 2 x_i . y_j (yn: (M,) the squared
    norms), in blocks of about chunk_elems entries so that no N x M matrix exists. ||x_i||^2 is constant
    along a row, so it is added after the min: one fused GEMM per block and a single pass over it."""
    out = torch.empty(x.shape[0], device=x.device, dtype=torch.float32)
    rows = max(1, chunk_elems // max(1, y.shape[0]))
    yt = y.T
    for s in range(0, x.shape[0], rows):
        out[s:s + rows] = torch.addmm(yn[None, :], x[s:s + rows], yt, alpha=-2.0).min(1).values
    return out


def min_sq_dists(x: Tensor, y: Tensor, chunk_elems: int = _CHUNK_ELEMS) -> Tensor:
    """(N,) squared distance from each row of x (N, D) to its nearest row of y (M, D), M >= 1, computed
    in blocks of about chunk_elems entries so that no N x M matrix exists."""
    if y.shape[0] == 0:
        raise ValueError("y is empty; allowed: at least one reference row")
    return (min_shifted(x, y, sq_norms(y), chunk_elems) + sq_norms(x)).clamp_min(0.0)


def kcenter_greedy(pool: Tensor, labeled: Tensor, budget: int, lazy: bool = True, batch: int = 64) -> Tensor:
    """Greedy k-center. pool: (N, D), labeled: (L, D) embeddings (L may be 0) on one device.
    Returns (budget,) int64 positions into pool, in the order picked; ties go to the lower position.

    lazy=True (see module doc) keeps stale distances as upper bounds and refreshes only the points
    that could be the next pick, `batch` at a time, against the picks they have not seen yet.
    lazy=False refreshes every distance after every pick (the plain reference)."""
    n = pool.shape[0]
    if not 1 <= budget <= n:
        raise ValueError(f"budget={budget} is invalid; allowed: an integer in [1, {n}]")
    pool = pool.float()
    labeled = labeled.float().to(pool.device)
    dev = pool.device
    picks = torch.empty(budget, dtype=torch.int64, device=dev)
    t = 0
    if labeled.shape[0] == 0:
        first = int(torch.argmin(sq_norms(pool - pool.mean(0))))
        picks[0] = first
        m = min_sq_dists(pool, pool[first:first + 1])
        m[first] = -1.0
        t = 1
    elif lazy and labeled.shape[0] > 2 * _LABELED_SUBSET:
        # every pool point against an evenly spaced subset of the labeled rows: an upper bound; the
        # rest of the labeled rows are folded in only for points that come near the top (module doc)
        sub = torch.zeros(labeled.shape[0], dtype=torch.bool, device=dev)
        sub[::labeled.shape[0] // _LABELED_SUBSET] = True
        m = min_sq_dists(pool, labeled[sub])
        return _kcenter_lazy(pool, m, picks, t, batch, rest=labeled[~sub])
    else:
        m = min_sq_dists(pool, labeled)
    # picked points carry m = -1: never the argmax again, never lowered

    if not lazy:
        return _kcenter_plain(pool, m, picks, t)
    return _kcenter_lazy(pool, m, picks, t, batch)


def _kcenter_plain(pool: Tensor, m: Tensor, picks: Tensor, t: int) -> Tensor:
    """Fill picks[t:] greedily, refreshing every distance m after every pick (the plain reference)."""
    for t in range(t, len(picks)):
        c = int(torch.argmax(m))
        picks[t] = c
        m[c] = -1.0
        d = min_sq_dists(pool, pool[c:c + 1])
        m = torch.where(m < 0, m, torch.minimum(m, d))
    return picks


def _kcenter_lazy(pool: Tensor, m: Tensor, picks: Tensor, t: int, batch: int, rest: Tensor | None = None) -> Tensor:
    """Fill picks[t:] greedily, refreshing only the stale distances m that could be the next pick.
    rest: labeled rows not yet folded into m (None: m already covers the whole labeled set)."""
    n, budget, dev = pool.shape[0], len(picks), pool.device
    seen = torch.full((n,), t, dtype=torch.int64, device=dev)  # picks already folded into m[i]
    pn = sq_norms(pool)
    # picked rows copied into one contiguous block, so a refresh reads a slice instead of a gather
    picked_x = torch.empty(budget, pool.shape[1], device=dev)
    picked_n = torch.empty(budget, device=dev)
    if t:
        picked_x[0], picked_n[0] = pool[picks[0]], pn[picks[0]]
    done = torch.ones(n, dtype=torch.bool, device=dev)       # the labeled rest is folded into m[i]
    if rest is not None and rest.shape[0]:
        done[:] = False
        rest_n = sq_norms(rest)
    while t < budget:
        i = int(torch.argmax(m))
        if int(seen[i]) == t and bool(done[i]):
            # m[i] is exact and every other m is an upper bound: i is the farthest point
            picks[t] = i
            picked_x[t], picked_n[t] = pool[i], pn[i]
            m[i] = -1.0
            t += 1
            continue
        if not bool(done[i]):
            # the largest bounds not yet checked against the labeled rest, in one block at GEMM speed;
            # min over a split of the labeled rows equals the min over all of them, bit for bit
            vals, grp = torch.where(done, -1.0, m).topk(min(_REST_BATCH, n))
            grp = grp[vals >= 0]
            d = (min_shifted(pool[grp], rest, rest_n) + pn[grp]).clamp_min(0.0)
            m[grp] = torch.minimum(m[grp], d)
            done[grp] = True
            continue
        vals, cand = torch.where(seen < t, m, -1.0).topk(min(batch, n))
        cand = cand[vals >= 0]
        # candidates that last looked at the same pick are refreshed together, each group against
        # only the picks it has not seen, so one long-stale point does not slow down the others
        since = seen[cand]
        for lo in torch.unique(since).tolist():
            grp = cand[since == lo]
            d = pn[grp][:, None] + picked_n[None, lo:t] - 2.0 * (pool[grp] @ picked_x[lo:t].T)
            m[grp] = torch.minimum(m[grp], d.min(1).values.clamp_min(0.0))
        seen[cand] = t
    return picks


def coreset_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """Core-set: greedy k-center on pool embeddings seeded with the labeled embeddings."""
    return ctx.pool_idx[kcenter_greedy(ctx.embeddings, ctx.labeled_embeddings, budget)]
