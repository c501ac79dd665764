"""BADGE (Ash et al. 2020): k-means++ seeding on last-layer gradient embeddings with pseudo-labels.

The gradient of the cross-entropy at the predicted label w.r.t. the head weights is g_i = a_i h_i^T with
a_i = p_i - onehot(argmax p_i) (C values) and h_i the penultimate embedding (D values). Its C*D entries
are never formed: squared distances come from the factors,
    ||g_i - g_j||^2 = ||a_i||^2 ||h_i||^2 + ||a_j||^2 ||h_j||^2 - 2 (a_i . a_j)(h_i . h_j),
so memory stays O(N (C + D)). The first centre is the point of largest gradient norm; every further
centre is drawn with probability proportional to the squared distance to its nearest centre, from the
round's generator.

Each step must refresh the nearest-centre distance of every point, an O(N D) pass. Two exact lower
bounds skip most of that work. With X_i = (a_i . a_c)(h_i . h_c), the new centre c can be closer to i
than its current squared distance m_i only if g2_i + g2_c - 2 X_i < m_i, so any upper bound on X_i
that keeps i above m_i proves c is not closer.
  Level 1, every point: |a_i . a_c| ||h_i|| ||h_c|| (Cauchy-Schwarz on h), one pass over an (N, C)
  block stored transposed so that it streams; points of another predicted class than c barely pass.
  Level 2, the survivors: h_i . h_c replaced by hr_i . hr_c + rho_i rho_c, where hr are the
  coordinates of h in an r-dimensional orthonormal basis (top eigenvectors of h^T h, r = 32) and rho
  the length of the remainder (Cauchy-Schwarz on the remainder).
Only the points that pass both are touched in D dimensions, and their distance is computed exactly as
the unpruned loop computes it (the same row-major products), so pruning changes no bit of any distance
and no pick: a point is skipped only when its bound exceeds m_i by a relative margin that covers fp32
rounding in the bounds. Penultimate-layer embeddings concentrate in a few directions, which is what
makes level 2 tight. The tests compare the pruned loop with the unpruned one pick by pick.

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
              n_components: int = 32, full_frac: float = 0.125) -> Tensor:
    """k-means++ seeding on the gradient embeddings a_i h_i^T. a: (N, C), h: (N, D) on any device;
    gen: a torch.Generator (its draws decide every centre after the first). Returns (budget,) int64
    positions into a/h, in the order chosen. prune=False refreshes every distance each step (the
    reference for the pruned version); n_components is r of the projected bound; when more than
    full_frac * N points survive both bounds, h . h_c is computed for all N at once (early steps)."""
    n = a.shape[0]
    if not 1 <= budget <= n:
        raise ValueError(f"budget={budget} is invalid; allowed: an integer in [1, {n}]")
    a = a.float()
    h = h.float()
    dev = a.device
    na2, nh2 = (a * a).sum(1), (h * h).sum(1)
    g2 = na2 * nh2
    centres = torch.empty(budget, dtype=torch.int64, device=dev)
    chosen = torch.zeros(n, dtype=torch.bool, device=dev)

    c = int(top_positions(g2, 1)[0])
    centres[0] = c
    chosen[c] = True
    m = badge_sq_dists(a, h, a[c], h[c])
    zero_copies(m, m, None, a, h, g2, c)
    m[c] = 0.0
    if not prune:
        for t in range(1, budget):
            c = _draw_d2(m, chosen, gen)
            centres[t] = c
            chosen[c] = True
            m[c] = 0.0
            d = badge_sq_dists(a, h, a[c], h[c])
            m = torch.where((d < m) & ~chosen, d, m)
            zero_copies(m, d, None, a, h, g2, c)
        return centres

    r = min(n_components, h.shape[1])
    hr = h @ principal_basis(h, r)                             # (N, r) coordinates in the basis
    # length of the rest of h_i, rounded up a little so that fp32 error cannot make it too short
    rho = ((nh2 - (hr * hr).sum(1)).clamp_min(0.0) + 1e-5 * nh2).sqrt()
    nh = nh2.sqrt() * (1.0 + 1e-6)
    a_t = a.T.contiguous()                                     # (C, N): a . a_c as one streaming pass
    hr_rho = torch.cat([hr, rho[:, None]], 1)                  # one gather fetches the level-2 inputs
    big = max(1, int(full_frac * n))

    def half_gap(m_: Tensor, g2_: Tensor) -> Tensor:
        # i is kept while its bound lb_i = g2_i + g2_c - 2 X_i is <= thr_i, i.e. X_i >= u_i + g2_c / 2.
        # thr_i: the current distance with the relative margin, or the copy tolerance (an exact copy of c
        # has g2_i = g2_c, so 2 _COPY_TOL g2_i is the tolerance zero_copies applies to it).
        return 0.5 * (g2_ - torch.maximum(m_ * (1.0 + _SLACK), 2.0 * _COPY_TOL * g2_))

    u = half_gap(m, g2)
    for t in range(1, budget):
        c = _draw_d2(m, chosen, gen)
        centres[t] = c
        chosen[c] = True
        m[c] = 0.0
        u[c] = half_gap(m[c], g2[c])
        g2c = float(g2[c])
        ac = a[c] @ a_t
        # level 1, every point: h_i . h_c at its Cauchy-Schwarz extreme, X_i <= |a_i . a_c| ||h_i|| ||h_c||
        x1 = ac.abs().mul_(nh).mul_(float(nh[c]))
        cand = (x1 >= u + 0.5 * g2c).nonzero().squeeze(1)
        if cand.numel() == 0:
            continue
        # level 2, the candidates: X_i = (a_i . a_c)(hr_i . hr_c) + |a_i . a_c| rho_i rho_c
        q = hr_rho.index_select(0, cand)
        ak = ac.index_select(0, cand)
        x2 = torch.addcmul(ak * (q[:, :r] @ hr[c]), ak.abs(), q[:, r], value=float(rho[c]))
        sel = (x2 >= u.index_select(0, cand) + 0.5 * g2c).nonzero().squeeze(1)
        if sel.numel() == 0:
            continue
        idx = cand.index_select(0, sel)
        if idx.numel() > big:
            hh = (h @ h[c]).index_select(0, idx)
        else:
            hh = h.index_select(0, idx) @ h[c]
        g2i = g2.index_select(0, idx)
        # the exact distance with a_i . a_c from the row-major product, as badge_sq_dists computes it, so
        # that pruning changes no bit of any distance (the transposed product above rounds differently)
        d = (g2i + g2c - 2.0 * (a.index_select(0, idx) @ a[c]) * hh).clamp_min(0.0)
        mi = m.index_select(0, idx)
        m.index_put_((idx,), torch.where(d < mi, d, mi))
        zero_copies(m, d, idx, a, h, g2, c)
        u.index_put_((idx,), half_gap(m.index_select(0, idx), g2i))
    return centres


def badge_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """BADGE: k-means++ on the factored gradient embeddings of the pool (see module doc)."""
    a, h = ctx.badge_factors
    return ctx.pool_idx[kmeans_pp(a, h, budget, gen)]
