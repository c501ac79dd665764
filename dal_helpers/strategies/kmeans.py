"""k-means selection: cluster the pool embeddings into `budget` clusters and take, for each centre, the
nearest pool point not taken yet.

Seeding is k-means++ (the BADGE core with a_i = 1, so ||g_i - g_j|| = ||h_i - h_j||; first centre = the
largest norm, then D^2 sampling from the generator), followed by Lloyd iterations in blocks of rows (no
N x k matrix) until convergence, as the paper's toolkit runs k-means: until no point changes cluster or
no centre moves by more than cfg.kmeans_tol (squared, relative to the mean squared norm of the data),
at most cfg.kmeans_max_iter iterations; an empty cluster keeps its previous centre. Then each converged
centre takes its nearest pool point, in centre order, a point already taken going to the next nearest,
so the result has exactly `budget` distinct points.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .badge import kmeans_pp
from .context import SelectionContext

KMEANS_ITERS = 100     # Lloyd iterations at most by default (each costs N * budget * D)
KMEANS_TOL = 1e-4      # default convergence tolerance
_BLOCK_ELEMS = 1 << 22


def _nearest(x: Tensor, centres: Tensor) -> Tensor:
    """(N,) index of the nearest centre for every row of x, in row blocks."""
    out = torch.empty(x.shape[0], dtype=torch.int64, device=x.device)
    cn = (centres * centres).sum(1)
    rows = max(1, _BLOCK_ELEMS // max(1, centres.shape[0]))
    for s in range(0, x.shape[0], rows):
        xb = x[s:s + rows]
        out[s:s + rows] = (cn[None, :] - 2.0 * (xb @ centres.T)).argmin(1)
    return out


def lloyd(x: Tensor, centres: Tensor, n_iter: int = KMEANS_ITERS, tol: float = KMEANS_TOL) -> Tensor:
    """Lloyd iterations from `centres` (k, D) on x (N, D) until converged: no assignment changes, or no
    centre moves (squared) more than tol * mean ||x||^2; at most n_iter iterations. Returns (k, D)."""
    x = x.float()
    centres = centres.float().clone()
    k = centres.shape[0]
    scale = float((x * x).sum(1).mean()) + 1e-12
    prev = None
    for _ in range(n_iter):
        assign = _nearest(x, centres)
        if prev is not None and torch.equal(assign, prev):
            break
        prev = assign
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        new = torch.where(counts[:, None] > 0, sums / counts.clamp_min(1)[:, None], centres)
        shift = float(((new - centres) ** 2).sum(1).max())
        centres = new
        if shift <= tol * scale:
            break
    return centres


def nearest_unique(x: Tensor, centres: Tensor) -> Tensor:
    """For each centre in order, the position of the nearest row of x not claimed by an earlier centre
    (ties: lower position). x: (N, D), centres: (k, D), k <= N. Returns (k,) int64."""
    n, k = x.shape[0], centres.shape[0]
    if k > n:
        raise ValueError(f"{k} centres but only {n} points; allowed: at most as many centres as points")
    xn = (x * x).sum(1)
    taken = torch.zeros(n, dtype=torch.bool, device=x.device)
    out = torch.empty(k, dtype=torch.int64, device=x.device)
    rows = max(1, _BLOCK_ELEMS // max(1, n))
    inf = torch.tensor(float("inf"), device=x.device)
    for s in range(0, k, rows):
        d = xn[None, :] - 2.0 * (centres[s:s + rows] @ x.T)          # (block, N), up to ||c||^2
        for r in range(d.shape[0]):
            j = int(torch.argmin(torch.where(taken, inf, d[r])))
            out[s + r] = j
            taken[j] = True
    return out


def kmeans_select_positions(x: Tensor, budget: int, gen: torch.Generator, n_iter: int = KMEANS_ITERS,
                            tol: float = KMEANS_TOL) -> Tensor:
    """k-means++ seeding + Lloyd to convergence on x (N, D), then the nearest free point to each
    centre. (budget,) int64."""
    x = x.float()
    seeds = kmeans_pp(torch.ones(x.shape[0], 1, device=x.device), x, budget, gen)
    centres = lloyd(x, x[seeds], n_iter, tol)
    return nearest_unique(x, centres)


def kmeans_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """k-means on pool embeddings (cfg.kmeans_tol, cfg.kmeans_max_iter); the nearest pool point to each centre."""
    n_iter = int(getattr(ctx.cfg, "kmeans_max_iter", KMEANS_ITERS))
    tol = float(getattr(ctx.cfg, "kmeans_tol", KMEANS_TOL))
    return ctx.pool_idx[kmeans_select_positions(ctx.embeddings, budget, gen, n_iter, tol)]
