"""GLISTER-ACTIVE (Killamsetty et al. 2021): greedy bi-level selection against a validation split.

Only the last layer is considered (the paper's approximation). Pool point j, with its hypothesised label
argmax p_j, has the head gradient g_j = a_j htilde_j^T, a_j = p_j - onehot(argmax p_j), htilde_j = [h_j, 1]
(the 1 carries the bias). A one-step update theta - eta g_j lowers the validation loss by about
eta g_j . grad L_V(theta) (first-order Taylor), so each greedy step picks the largest
    gain_j = a_j^T G htilde_j,   G = sum_v (softmax(z_v) - onehot(y_v)) htilde_v^T   (C x (D+1)),
then moves the head, theta <- theta - eta g_j, which changes only the validation logits:
    z_v <- z_v - eta a_j (htilde_j . htilde_v).
No model weights are touched. When the validation split is smaller than D + 1, the kernel
K = Htilde_pool Htilde_val^T (N x V, computed once) replaces the D-dimensional products, so a step costs
O(N V C) instead of O(N D C). Without a regulariser (or with "random") most gains are never recomputed: a gain
computed at an earlier step can have grown by at most ||a_j|| ||x_j|| ||M_now - M_then||_2 (x_j the
kernel row or htilde_j, M the matrix that changed), so stale gains plus that bound are upper bounds,
and only the points whose bound reaches the top are refreshed (see _StaleGains). The picks equal those
of the full search; the saving depends on how far M drifts per step (about 25% on bench/selection.py's
synthetic data, where a full pass is still needed every few steps).

The validation split is `splits.x_val` (cfg.n_validation points carved from the training pool, never the
test set). Without one (cfg.n_validation = 0) the validation loss is taken over the labeled set with its
true labels; the paper's toolkit uses the labeled set plus pool points with hypothesised labels, which
we do not. The look-ahead step is the run's training lr unless cfg.glister_lr is set (as the
toolkit does), and the look-ahead starts from theta - lr * sum of the labeled set's head gradients, the
toolkit's starting point: the validation logits are moved by that step before the greedy search. Regularisers
(cfg.glister_regularizer): "random" draws the last GLISTER_RANDOM_FRACTION of the budget uniformly from
what is left; "diversity" subtracts GLISTER_LAMBDA * max cosine similarity to the picks so far;
"facility_location" adds GLISTER_LAMBDA * the facility-location gain over a fixed random sample of the
pool. Both are added to gains rescaled to [-1, 1] so that lambda has the same meaning in every round.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .context import SelectionContext

GLISTER_RANDOM_FRACTION = 0.1   # share of the budget drawn at random with regulariser "random"
GLISTER_LAMBDA = 1.0            # weight of the diversity / facility-location term on rescaled gains
GLISTER_FL_SAMPLE = 512         # ground-set size of the facility-location regulariser


def _with_bias(h: Tensor) -> Tensor:
    return torch.cat([h, torch.ones(h.shape[0], 1, device=h.device, dtype=h.dtype)], dim=1)


def glister_gains(a: Tensor, h: Tensor, val_logits: Tensor, val_y: Tensor, val_h: Tensor) -> Tensor:
    """First-order decrease of the summed validation cross-entropy per unit step along -g_j, for every
    pool point: a (N, C), h (N, D); validation logits (V, C), labels (V,), embeddings (V, D). Returns (N,)."""
    r = torch.softmax(val_logits.float(), 1)
    r[torch.arange(len(val_y), device=r.device), val_y] -= 1.0
    grad = r.T @ _with_bias(val_h.float())                   # (C, D+1)
    return (a * (_with_bias(h.float()) @ grad.T)).sum(1)


def glister_greedy(a: Tensor, h: Tensor, val_logits: Tensor, val_y: Tensor, val_h: Tensor, budget: int,
                   lr: float, gen: torch.Generator | None = None, regularizer: str | None = None,
                   prune: bool = True, start: tuple[Tensor, Tensor] | None = None) -> Tensor:
    """GLISTER-ACTIVE greedy selection (module doc). a: (N, C) p - onehot(argmax p); h: (N, D) pool
    embeddings; val_logits (V, C), val_y (V,), val_h (V, D); lr: the look-ahead step eta.
    Returns (budget,) int64 positions into the pool, in the order picked (ties: lower position).
    prune=False evaluates every gain at every step (the reference for the bounded search).
    start=(a_l (L, C), h_l (L, D)): residuals p - onehot(y) and embeddings of the labeled set; the
    look-ahead then starts from theta - lr * sum_l g_l (the labeled set's summed head gradient), which
    moves the validation logits by -lr * Htilde_val (Htilde_l^T a_l)."""
    n = a.shape[0]
    if not 1 <= budget <= n:
        raise ValueError(f"budget={budget} is invalid; allowed: an integer in [1, {n}]")
    if regularizer not in (None, "random", "diversity", "facility_location"):
        raise ValueError(f"regularizer={regularizer!r} is invalid; allowed: None, random, diversity, "
                         "facility_location")
    dev = a.device
    a, h = a.float(), h.float()
    ht, vt = _with_bias(h), _with_bias(val_h.float().to(dev))
    z = _start_logits(val_logits, vt, start, lr)
    y = val_y.to(dev)
    n_val = len(y)
    use_kernel = n_val < ht.shape[1]
    kern = ht @ vt.T if use_kernel else None                  # (N, V)
    taken = torch.zeros(n, dtype=torch.bool, device=dev)
    picks: list[int] = []
    n_greedy = budget
    if regularizer == "random":
        n_greedy = max(1, budget - int(round(GLISTER_RANDOM_FRACTION * budget)))
    reg = _Regularizer(regularizer, h, gen, dev) if regularizer in ("diversity", "facility_location") else None
    bounded = prune and regularizer in (None, "random")
    if bounded:
        search = _StaleGains(a, kern if use_kernel else ht)
    for _ in range(n_greedy):
        r = torch.softmax(z, 1)
        r[torch.arange(n_val, device=dev), y] -= 1.0
        if bounded:
            j = search.argmax(r.T if use_kernel else r.T @ vt, taken)
        else:
            gains = (a * (kern @ r)).sum(1) if use_kernel else (a * (ht @ (r.T @ vt).T)).sum(1)
            if reg is not None:
                gains = reg.adjust(gains)
            gains = torch.where(taken, torch.tensor(float("-inf"), device=dev), gains)
            j = int(torch.argmax(gains))
        picks.append(j)
        taken[j] = True
        k_jv = kern[j] if use_kernel else vt @ ht[j]          # (V,)
        z -= lr * k_jv[:, None] * a[j][None, :]
        if reg is not None:
            reg.add(j)
    if n_greedy < budget:
        picks.extend(_random_rest(taken, budget - n_greedy, gen))
    return torch.tensor(picks, dtype=torch.int64, device=dev)


def _start_logits(val_logits: Tensor, vt: Tensor, start: tuple[Tensor, Tensor] | None, lr: float) -> Tensor:
    """The validation logits (V, C) at the look-ahead's start: moved by the labeled set's step, if any."""
    dev = vt.device
    z = val_logits.float().to(dev).clone()
    if start is not None and len(start[0]) > 0:
        a_l, h_l = start[0].float().to(dev), _with_bias(start[1].float().to(dev))
        z -= lr * (vt @ (h_l.T @ a_l))                       # (V, D+1) @ (D+1, C)
    return z


class _Regularizer:
    """The "diversity" or "facility_location" term of the greedy search, updated as points are picked."""

    def __init__(self, kind: str, h: Tensor, gen: torch.Generator | None, dev: torch.device) -> None:
        n = h.shape[0]
        self.kind = kind
        self.unit = h / h.norm(dim=1, keepdim=True).clamp_min(1e-12)
        self.closest = torch.zeros(n, device=dev)             # max cosine similarity to the picks
        if kind == "facility_location":
            if gen is None:
                raise ValueError("regularizer='facility_location' needs a generator for its ground set")
            ground = torch.randperm(n, generator=gen, device=gen.device)[:GLISTER_FL_SAMPLE].to(dev)
            self.fl_sim = (self.unit @ self.unit[ground].T).clamp_min(0.0)   # (N, G), similarities >= 0
            self.cover = torch.zeros(len(ground), device=dev)

    def adjust(self, gains: Tensor) -> Tensor:
        """Gains rescaled to [-1, 1] plus GLISTER_LAMBDA times the regulariser's term."""
        gains = gains / gains.abs().max().clamp_min(1e-12)
        if self.kind == "diversity":
            return gains - GLISTER_LAMBDA * self.closest
        fl = (self.fl_sim - self.cover[None, :]).clamp_min(0.0).sum(1)
        return gains + GLISTER_LAMBDA * fl / fl.max().clamp_min(1e-12)

    def add(self, j: int) -> None:
        """Account for pool point j having been picked."""
        if self.kind == "diversity":
            self.closest = torch.maximum(self.closest, self.unit @ self.unit[j])
        else:
            self.cover = torch.maximum(self.cover, self.fl_sim[j])


def _random_rest(taken: Tensor, count: int, gen: torch.Generator | None) -> list[int]:
    """`count` positions drawn uniformly from those not taken (regulariser "random"), in draw order."""
    if gen is None:
        raise ValueError("regularizer='random' needs a generator")
    free = (~taken).nonzero().squeeze(1)
    return free[torch.randperm(len(free), generator=gen, device=gen.device)[:count].to(taken.device)].tolist()


_BATCH = 256          # gains refreshed together while searching for the argmax
_SLACK = 1e-5         # relative margin on the bounds for fp32 rounding


class _StaleGains:
    """Exact argmax of gain_j = a_j^T M x_j over the untaken pool without computing most gains.

    Gains computed at an earlier step s stay valid up to |a_j^T (M_t - M_s) x_j| <=
    ||a_j|| ||x_j|| ||M_t - M_s||_2, so stale + that bound is an upper bound of every current gain.
    Points are refreshed `_BATCH` at a time, largest bound first, until the largest bound belongs to
    a refreshed point; all gains are recomputed once a quarter of the pool has been refreshed since
    the last full pass. x_j is htilde_j with M = G, or the kernel row k_j with M = R^T."""

    def __init__(self, a: Tensor, x: Tensor) -> None:
        self.a, self.x = a, x
        self.w = a.norm(dim=1) * x.norm(dim=1)
        self.stale: Tensor | None = None
        self.m_s: Tensor | None = None
        self.evals = 0

    def gains(self, idx: Tensor | None, m: Tensor) -> Tensor:
        """Current gains a_j^T M x_j, shape (len(idx),), for the rows idx (all n points when idx is None)."""
        if idx is None:
            return (self.a * (self.x @ m.T)).sum(1)
        return (self.a[idx] * (self.x[idx] @ m.T)).sum(1)

    def argmax(self, m: Tensor, taken: Tensor) -> int:
        """Index of the untaken point (`taken`: (n,) bool) with the largest gain under m, exact; refreshes
        only the points whose upper bound can still win."""
        n = self.a.shape[0]
        neg_inf = torch.tensor(float("-inf"), device=m.device)
        if self.stale is None or self.evals > n // 4:
            self.stale, self.m_s, self.evals = self.gains(None, m), m.clone(), 0
            return int(torch.argmax(torch.where(taken, neg_inf, self.stale)))
        delta = float(torch.linalg.matrix_norm(m - self.m_s, ord=2))
        ub = self.stale + self.w * delta * (1 + _SLACK) + _SLACK * self.stale.abs()
        ub = torch.where(taken, neg_inf, ub)
        fresh = torch.zeros(n, dtype=torch.bool, device=m.device)
        while True:
            i = int(torch.argmax(ub))
            if bool(fresh[i]):
                return i
            vals, cand = torch.where(fresh, neg_inf, ub).topk(min(_BATCH, n))
            cand = cand[vals > neg_inf]
            ub[cand] = self.gains(cand, m)
            fresh[cand] = True
            self.evals += len(cand)


def glister_lr(cfg) -> float:
    """The look-ahead step: cfg.glister_lr, or the run's training lr cfg.lr when that is None."""
    lr = getattr(cfg, "glister_lr", None)
    return float(cfg.lr if lr is None else lr)


def glister_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """GLISTER-ACTIVE on the head, against the validation split (or the labeled set without one); the
    look-ahead starts from theta - lr * (summed labeled-set head gradient), lr = `glister_lr(cfg)`."""
    val_logits, val_h, val_y = ctx.validation
    a, h = ctx.badge_factors
    start = None
    if ctx.n_labeled > 0:
        lab_logits, lab_h = ctx.labeled_outputs
        a_l = torch.softmax(lab_logits.float(), 1)
        a_l[torch.arange(len(a_l), device=a_l.device), ctx.y_labeled.to(a_l.device)] -= 1.0
        start = (a_l, lab_h)
    pos = glister_greedy(a, h, val_logits, val_y, val_h, budget, glister_lr(ctx.cfg), gen,
                         ctx.cfg.glister_regularizer, start=start)
    return ctx.pool_idx[pos]
