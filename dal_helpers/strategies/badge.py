"""BADGE (Ash et al. 2020): k-means++ seeding on last-layer gradient embeddings with pseudo-labels.

The gradient of the cross-entropy at the predicted label w.r.t. the head weights is g_i = a_i h_i^T with
a_i = p_i - onehot(argmax p_i) (C values) and h_i the penultimate embedding (D values). Its C*D entries
are never formed: squared distances come from the factors,
    ||g_i - g_j||^2 = ||a_i||^2 ||h_i||^2 + ||a_j||^2 ||h_j||^2 - 2 (a_i . a_j)(h_i . h_j),
so memory stays O(N (C + D)). The first centre is the point of largest gradient norm; every further
centre is drawn with probability proportional to the squared distance to its nearest centre, from the
round's generator.

Each step must refresh the nearest-centre distance of every point, an O(N D) pass. An exact lower
bound skips most of that work: a point i at squared distance m_i from its nearest centre cannot get
closer to the new centre c when the distance computed with h_i . h_c replaced by its extreme value
hr_i . hr_c +- rho_i rho_c is >= m_i, where hr are the coordinates of h in an r-dimensional
orthonormal basis (top eigenvectors of h^T h, r = 32) and rho the length of the remainder
(Cauchy-Schwarz on the remainder). That is one pass over an (N, C + r) block per step instead of
(N, C + D); only the points that survive are touched in D dimensions. The bound is never weaker than
the reverse triangle inequality on the norms, (||g_i|| - ||g_c||)^2, and it changes no result beyond
floating-point rounding (a point is skipped only when its bound exceeds m_i by a relative margin).
Penultimate-layer embeddings concentrate in a few directions, which is what makes it tight.

Exact copies. The factored distance of a point to an identical copy of itself is not 0 in floating
point (about 1e-7 ||g||^2 is left in float32), which would let copies of a chosen centre be drawn in a
redundant pool, the very effect the redundancy study measures. So whenever a centre c is chosen, the
points whose computed D^2 to c is within rounding of 0 are compared with c value by value, and every
exact copy (equal a and equal h) gets D^2 = 0 exactly (`zero_copies`). The pruning test keeps such
near-zero points too, so no copy escapes; the extra work is a few row comparisons per step.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .context import SelectionContext, top_positions

# A point is skipped only if its lower bound exceeds its current distance by this relative margin, so
# that fp32 rounding in the bounds can never hide a strictly closer centre.
_SLACK = 1e-4


def badge_sq_dists(a: Tensor, h: Tensor, a_c: Tensor, h_c: Tensor) -> Tensor:
    """Squared distances between gradient embeddings a_i h_i^T (a: (N, C), h: (N, D)) and one centre
    a_c h_c^T (a_c: (C,), h_c: (D,)), from the factors. Returns (N,), clamped at 0."""
    g2 = (a * a).sum(1) * (h * h).sum(1)
    g2c = (a_c * a_c).sum() * (h_c * h_c).sum()
    return (g2 + g2c - 2.0 * (a @ a_c) * (h @ h_c)).clamp_min(0.0)


def _draw_d2(m: Tensor, chosen: Tensor, gen: torch.Generator) -> int:
    """One position drawn with probability proportional to m (float, >= 0). When every unchosen
    point is at distance 0 (duplicates), one unchosen point is drawn uniformly instead."""
    cs = m.double().cumsum(0)
    total = float(cs[-1])
    u = torch.rand((), generator=gen, dtype=torch.float64, device=gen.device).item()
    if total > 0.0:
        pos = int(torch.searchsorted(cs, torch.tensor([u * total], dtype=torch.float64, device=cs.device),
                                     right=True)[0])
        pos = min(pos, len(m) - 1)
        if not bool(chosen[pos]):
            return pos
    free = (~chosen).nonzero().squeeze(1)
    return int(free[min(int(u * len(free)), len(free) - 1)])


_COPY_TOL = 1e-4   # relative D^2 under which a point is compared bitwise with the new centre


def zero_copies(m: Tensor, d: Tensor, idx: Tensor | None, a: Tensor, h: Tensor, g2: Tensor, c: int) -> None:
    """Set m to exactly 0 at every exact copy of row c among the points idx (None = all) whose
    computed D^2 to c, d, is within rounding of 0 (d <= _COPY_TOL (||g_i||^2 + ||g_c||^2)); a copy
    is a row whose a and h compare equal to those of c."""
    g2i = g2 if idx is None else g2[idx]
    near = (d <= _COPY_TOL * (g2i + g2[c])).nonzero().squeeze(1)
    if idx is not None:
        near = idx[near]
    if near.numel() == 0:
        return
    same = (a[near] == a[c]).all(1) & (h[near] == h[c]).all(1)
    m[near[same]] = 0.0


def principal_basis(h: Tensor, r: int, max_rows: int = 4096) -> Tensor:
    """(D, r) orthonormal basis of the top-r eigenvectors of h^T h, estimated from evenly spaced rows
    (at most max_rows). Any orthonormal basis keeps the bounds below valid; a good one makes them tight."""
    step = max(1, h.shape[0] // max_rows)
    sub = h[::step].double()
    _, vecs = torch.linalg.eigh(sub.T @ sub)
    return vecs[:, -r:].to(h.dtype).contiguous()


def kmeans_pp(a: Tensor, h: Tensor, budget: int, gen: torch.Generator, prune: bool = True,
              n_components: int = 32) -> Tensor:
    """k-means++ seeding on the gradient embeddings a_i h_i^T. a: (N, C), h: (N, D) on any device;
    gen: a torch.Generator (its draws decide every centre after the first). Returns (budget,) int64
    positions into a/h, in the order chosen. prune=False refreshes every distance each step (the
    reference for the pruned version); n_components is r of the projected bound."""
    n = a.shape[0]
    if not 1 <= budget <= n:
        raise ValueError(f"budget={budget} is invalid; allowed: an integer in [1, {n}]")
    a = a.float()
    h = h.float()
    dev = a.device
    na2, nh2 = (a * a).sum(1), (h * h).sum(1)
    g2 = na2 * nh2
    gn = g2.sqrt()
    centres = torch.empty(budget, dtype=torch.int64, device=dev)
    chosen = torch.zeros(n, dtype=torch.bool, device=dev)
    r = min(n_components, h.shape[1])
    if prune:
        hr = h @ principal_basis(h, r)                         # (N, r) coordinates in the basis
        # length of the rest of h_i, rounded up a little so that fp32 error cannot make it too short
        rho = ((nh2 - (hr * hr).sum(1)).clamp_min(0.0) + 1e-5 * nh2).sqrt()

    c = int(top_positions(g2, 1)[0])
    centres[0] = c
    chosen[c] = True
    m = badge_sq_dists(a, h, a[c], h[c])
    zero_copies(m, m, None, a, h, g2, c)
    m[c] = 0.0
    for t in range(1, budget):
        c = _draw_d2(m, chosen, gen)
        centres[t] = c
        chosen[c] = True
        m[c] = 0.0
        if not prune:
            d = badge_sq_dists(a, h, a[c], h[c])
            m = torch.where((d < m) & ~chosen, d, m)
            zero_copies(m, d, None, a, h, g2, c)
            continue
        # the bound for every point at once: two matrix-vector products over (N, C) and (N, r)
        ac = a @ a[c]
        lb = g2 + g2[c] - 2.0 * (ac * (hr @ hr[c]) + ac.abs() * rho * rho[c])
        # points within rounding of distance 0 are kept as well: they may be exact copies of c
        keep = ((lb < m * (1.0 + _SLACK)) | (lb <= _COPY_TOL * (g2 + g2[c]))) & ~chosen
        idx = keep.nonzero().squeeze(1)
        if idx.numel() == 0:
            continue
        ac = ac[idx]
        d = (g2[idx] + g2[c] - 2.0 * ac * (h[idx] @ h[c])).clamp_min(0.0)
        closer = d < m[idx]
        m[idx[closer]] = d[closer]
        zero_copies(m, d, idx, a, h, g2, c)
    return centres


def badge_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """BADGE: k-means++ on the factored gradient embeddings of the pool (see module doc)."""
    a, h = ctx.badge_factors
    return ctx.pool_idx[kmeans_pp(a, h, budget, gen)]
