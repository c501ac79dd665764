"""Adversarial selection (DFAL, Ducoffe & Precioso 2018): the pool points closest to the decision
boundary, measured by the size of the smallest adversarial perturbation that flips the prediction.

`deepfool_norms` runs DeepFool (Moosavi-Dezfooli et al. 2016) on a whole batch at once: every step
linearises the `n_candidates` most likely other classes and moves each still-unflipped point to the
nearest linearised boundary (with a small overshoot). `bim_norms` runs the basic iterative method
(Kurakin et al. 2017): steps of size `eps` along the sign of the loss gradient at the predicted label.
Both stop after `max_iter` steps, each of which is checked (including the last); a point that has not
flipped after its `max_iter`-th step gets +inf (selected last).
Perturbations are measured in L2 on the normalised input. The model stays in eval mode throughout.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..data import DatasetInfo
from ..inference import batches
from .context import SelectionContext, top_positions

DEEPFOOL_MAX_ITER = 50     # as in the original DeepFool code
DEEPFOOL_OVERSHOOT = 0.02
DEEPFOOL_CANDIDATES = 10   # classes linearised per step
BIM_EPS = 0.05             # step size on the normalised input
BIM_MAX_ITER = 50


def _deepfool_batch(model: nn.Module, x0: Tensor, max_iter: int, overshoot: float, n_candidates: int) -> Tensor:
    n = x0.shape[0]
    dev = x0.device
    with torch.no_grad():
        logits0 = model(x0).float()
    n_cls = logits0.shape[1]
    cand = logits0.topk(min(n_candidates, n_cls), dim=1).indices       # (n, k); column 0 = prediction
    orig = cand[:, 0]
    r_tot = torch.zeros_like(x0)
    norms = torch.full((n,), float("inf"), device=dev)
    act = torch.arange(n, device=dev)                                   # points not flipped yet
    # max_iter steps need max_iter + 1 flip tests: the result of the last step is checked too
    for it in range(max_iter + 1):
        # only the points still unflipped go through the network again
        x = (x0[act] + (1 + overshoot) * r_tot[act]).detach().requires_grad_(True)
        logits = model(x).float()
        flipped = logits.argmax(1) != orig[act]
        done = act[flipped]
        norms[done] = ((1 + overshoot) * r_tot[done]).flatten(1).norm(dim=1)
        if it == max_iter or bool(flipped.all()) or cand.shape[1] < 2:
            act = act[~flipped]
            break
        sel = logits.gather(1, cand[act])                               # (a, k)
        grads = []
        for j in range(cand.shape[1]):
            g, = torch.autograd.grad(sel[:, j].sum(), x, retain_graph=j < cand.shape[1] - 1)
            grads.append(g)
        keep = ~flipped
        grads = torch.stack(grads, 1).flatten(2)[keep]                  # (a', k, P)
        w = grads[:, 1:] - grads[:, :1]                                 # (a', k-1, P)
        f = (sel[:, 1:] - sel[:, :1]).detach()[keep]                    # (a', k-1)
        wn = w.norm(dim=2).clamp_min(1e-12)
        dist = f.abs() / wn
        best = dist.argmin(1)
        rows = torch.arange(len(best), device=dev)
        step = ((dist[rows, best] + 1e-4) / wn[rows, best])[:, None] * w[rows, best]
        act = act[keep]
        r_tot[act] += step.view(-1, *x0.shape[1:])
    return norms


def _bim_batch(model: nn.Module, x0: Tensor, eps: float, max_iter: int) -> Tensor:
    dev = x0.device
    with torch.no_grad():
        orig = model(x0).argmax(1)
    x = x0.clone()
    norms = torch.full((len(x0),), float("inf"), device=dev)
    act = torch.arange(len(x0), device=dev)                             # points not flipped yet
    for it in range(max_iter + 1):                                      # the last step is checked too
        xa = x[act].detach().requires_grad_(True)
        logits = model(xa).float()
        flipped = logits.argmax(1) != orig[act]
        done = act[flipped]
        norms[done] = (x[done] - x0[done]).flatten(1).norm(dim=1)
        keep = ~flipped
        if it == max_iter or not bool(keep.any()):
            break
        # the loss of the unflipped points only; each point's gradient depends on its own input alone
        loss = nn.functional.cross_entropy(logits[keep], orig[act][keep], reduction="sum")
        g, = torch.autograd.grad(loss, xa)
        act = act[keep]
        x[act] = x[act] + eps * g[keep].sign()
    return norms


def _run(fn, model: nn.Module, x: Tensor, info: DatasetInfo, device: torch.device, batch_size: int,
         **kw) -> Tensor:
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.enable_grad():
            for xb in batches(x, info, device, batch_size):
                out.append(fn(model, xb.float(), **kw))
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, device=device)


def deepfool_norms(model: nn.Module, x: Tensor, info: DatasetInfo, device: torch.device, batch_size: int = 256,
                   max_iter: int = DEEPFOOL_MAX_ITER, overshoot: float = DEEPFOOL_OVERSHOOT,
                   n_candidates: int = DEEPFOOL_CANDIDATES) -> Tensor:
    """(N,) L2 norm of the DeepFool perturbation of each uint8 image in x (N, C, H, W); +inf when no flip
    within max_iter steps."""
    return _run(_deepfool_batch, model, x, info, device, batch_size, max_iter=max_iter, overshoot=overshoot,
                n_candidates=n_candidates)


def bim_norms(model: nn.Module, x: Tensor, info: DatasetInfo, device: torch.device, batch_size: int = 256,
              eps: float = BIM_EPS, max_iter: int = BIM_MAX_ITER) -> Tensor:
    """(N,) L2 norm of the BIM perturbation that first flips each prediction; +inf when none within max_iter."""
    return _run(_bim_batch, model, x, info, device, batch_size, eps=eps, max_iter=max_iter)


def _smallest(norms: Tensor, budget: int) -> Tensor:
    return top_positions(-norms, budget)


def deepfool_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """DFAL with DeepFool: the budget pool points with the smallest adversarial perturbation."""
    norms = deepfool_norms(ctx.model, ctx.x_pool, ctx.info, ctx.device, min(ctx.batch_size, 256))
    return ctx.pool_idx[_smallest(norms, budget)]


def bim_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """DFAL with BIM: the budget pool points with the smallest perturbation that flips the prediction."""
    norms = bim_norms(ctx.model, ctx.x_pool, ctx.info, ctx.device, min(ctx.batch_size, 256))
    return ctx.pool_idx[_smallest(norms, budget)]
