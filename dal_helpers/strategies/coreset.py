"""Core-set selection (Sener & Savarese 2018): greedy k-center on embeddings, seeded with the labeled set.

Each step takes the pool point farthest from its nearest centre (labeled points and earlier picks are
centres) and makes it a centre. Nearest-centre distances start from the labeled set in chunks of pool
rows (never a full N_pool x N_labeled matrix) and are refreshed incrementally after every pick.
With an empty labeled set the first centre is the pool point nearest to the pool mean (a deterministic,
central start; Sener & Savarese start from a random point); the greedy steps follow as usual.

The refresh after each pick would be an O(N D) pass. An exact lower bound skips most of it: with V an
orthonormal basis of the top principal directions of the pool (from a subsample, any orthonormal V is
valid) and rho_i the length of the part of x_i - mu outside span(V),
    ||x_i - x_c||^2 >= ||V^T (x_i - x_c)||^2 + (rho_i - rho_c)^2,
an O(N r) computation with r << D. Only points whose bound is below their current distance get an exact
D-dimensional distance. The result is the same as without the bound up to floating-point rounding.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .context import SelectionContext

_SLACK = 1e-4          # relative margin before a bound may skip a point (fp32 rounding)
_CHUNK_ELEMS = 1 << 22  # pool rows x labeled rows per block of the initial distances (16 MiB in fp32)


def sq_norms(x: Tensor) -> Tensor:
    return (x * x).sum(1)


def min_sq_dists(x: Tensor, y: Tensor, chunk_elems: int = _CHUNK_ELEMS) -> Tensor:
    """(N,) squared distance from each row of x (N, D) to its nearest row of y (M, D), M >= 1, computed
    in blocks of about chunk_elems entries so that no N x M matrix exists."""
    if y.shape[0] == 0:
        raise ValueError("y is empty; allowed: at least one reference row")
    out = torch.empty(x.shape[0], device=x.device, dtype=torch.float32)
    yn = sq_norms(y)
    rows = max(1, chunk_elems // max(1, y.shape[0]))
    for s in range(0, x.shape[0], rows):
        xb = x[s:s + rows]
        d = sq_norms(xb)[:, None] + yn[None, :] - 2.0 * (xb @ y.T)
        out[s:s + rows] = d.min(1).values.clamp_min(0.0)
    return out


def kcenter_greedy(pool: Tensor, labeled: Tensor, budget: int, lazy: bool = True, batch: int = 64,
                   n_probe: int = 256) -> Tensor:
    """Greedy k-center. pool: (N, D), labeled: (L, D) embeddings (L may be 0) on one device.
    Returns (budget,) int64 positions into pool, in the order picked; ties go to the lower position.

    lazy=True (see module doc) keeps upper bounds and refreshes only the points that could be the next
    pick, `batch` at a time; the first bounds come from `n_probe` evenly spaced labeled points.
    lazy=False refreshes every distance after every pick (the plain reference)."""
    n = pool.shape[0]
    if not 1 <= budget <= n:
        raise ValueError(f"budget={budget} is invalid; allowed: an integer in [1, {n}]")
    pool = pool.float()
    labeled = labeled.float().to(pool.device)
    dev = pool.device
    picks = torch.empty(budget, dtype=torch.int64, device=dev)
    n_lab = labeled.shape[0]
    t = 0
    if n_lab == 0:
        first = int(torch.argmin(sq_norms(pool - pool.mean(0))))
        picks[0] = first
        m = min_sq_dists(pool, pool[first:first + 1])
        m[first] = -1.0
        t = 1
        fresh_lab = torch.ones(n, dtype=torch.bool, device=dev)
    elif not lazy or n_lab <= n_probe:
        m = min_sq_dists(pool, labeled)
        fresh_lab = torch.ones(n, dtype=torch.bool, device=dev)
    else:
        probe = torch.linspace(0, n_lab - 1, n_probe, device=dev).round().long()
        m = min_sq_dists(pool, labeled[probe])         # upper bounds of the distance to the labeled set
        fresh_lab = torch.zeros(n, dtype=torch.bool, device=dev)
    # picked points carry m = -1: never the argmax again, never lowered

    if not lazy:
        for t in range(t, budget):
            c = int(torch.argmax(m))
            picks[t] = c
            m[c] = -1.0
            d = min_sq_dists(pool, pool[c:c + 1])
            m = torch.where(m < 0, m, torch.minimum(m, d))
        return picks

    seen = torch.full((n,), t, dtype=torch.int64, device=dev)  # picks already folded into m[i]
    neg_inf = torch.tensor(float("-inf"), device=dev)
    while t < budget:
        i = int(torch.argmax(m))
        if bool(fresh_lab[i]) and int(seen[i]) == t:
            # m[i] is exact and every other m is an upper bound: i is the farthest point
            picks[t] = i
            m[i] = -1.0
            t += 1
            continue
        stale = ~(fresh_lab & (seen == t)) & (m >= 0)
        vals, cand = torch.where(stale, m, neg_inf).topk(min(batch, n))
        cand = cand[vals > neg_inf]
        need = cand[~fresh_lab[cand]]
        if need.numel():
            m[need] = torch.minimum(m[need], min_sq_dists(pool[need], labeled))
            fresh_lab[need] = True
        lo = int(seen[cand].min())
        if lo < t:
            # re-measuring a pick a point has already seen is harmless (min is idempotent)
            m[cand] = torch.minimum(m[cand], min_sq_dists(pool[cand], pool[picks[lo:t]]))
        seen[cand] = t
    return picks


def coreset_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """Core-set: greedy k-center on pool embeddings seeded with the labeled embeddings."""
    return ctx.pool_idx[kcenter_greedy(ctx.embeddings, ctx.labeled_embeddings, budget)]
