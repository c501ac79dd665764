"""Stochastic batch acquisition (Kirsch et al., TMLR 2023) and MC-dropout uncertainty scores.

`power_entropy`, `power_margin`, `power_bald`: instead of the top-`budget` scores, the batch is drawn
without replacement with probability proportional to score ** beta (beta = cfg.power_beta, default 1).
Gumbel-top-k does that in one pass: with u_i ~ U(0, 1) from the round's generator, the `budget`
largest keys beta * log(score_i) - log(-log u_i) are an exact sample of successive draws without
replacement from that distribution. A zero score has key -inf and is drawn only when nothing else is
left (then in index order). Cost: one O(N) pass plus a sort, on top of the scores.

`entropy_dropout`, `least_confidence_dropout`, `margin_dropout`: the usual uncertainty scores of the
MC-averaged probabilities mean_k p_k (cfg.mc_samples consistent-mask dropout passes, `ctx.mc_probs`),
the variants the paper's toolkit offers; top-`budget`, ties to the lower index.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .bald import _mc, bald_scores
from .context import SelectionContext, top_positions
from .uncertainty import entropy_scores, least_confidence_scores, margin_scores


def gumbel_top_k(scores: Tensor, k: int, beta: float, gen: torch.Generator) -> Tensor:
    """(k,) int64 positions drawn without replacement with probability proportional to scores ** beta.
    scores: (N,) >= 0 (negative values are treated as 0); beta > 0; the noise comes from gen."""
    if beta <= 0:
        raise ValueError(f"beta={beta} is invalid; allowed: a float > 0")
    s = scores.double().clamp_min(0.0)
    u = torch.rand(s.shape[0], generator=gen, dtype=torch.float64, device=gen.device).to(s.device)
    u = u.clamp(1e-300, 1.0 - 1e-16)
    keys = beta * torch.log(s) - torch.log(-torch.log(u))
    return top_positions(keys, k)


def _power(score_of):
    def select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
        beta = float(getattr(ctx.cfg, "power_beta", 1.0))
        return ctx.pool_idx[gumbel_top_k(score_of(ctx, gen), budget, beta, gen)]
    return select


power_entropy_select = _power(lambda ctx, gen: entropy_scores(ctx.probs))
power_margin_select = _power(lambda ctx, gen: margin_scores(ctx.probs))
power_bald_select = _power(lambda ctx, gen: bald_scores(_mc(ctx, gen, "power_bald")))
power_entropy_select.__doc__ = "Batch drawn with probability proportional to entropy ** cfg.power_beta."
power_margin_select.__doc__ = "Batch drawn with probability proportional to margin score ** cfg.power_beta."
power_bald_select.__doc__ = "Batch drawn with probability proportional to BALD ** cfg.power_beta."


def mc_mean_probs(mc_probs: Tensor) -> Tensor:
    """(K, N, C) MC-dropout softmax samples -> (N, C) their mean."""
    return mc_probs.float().mean(0)


def _dropout(score_fn, name):
    def select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
        return ctx.pool_idx[top_positions(score_fn(mc_mean_probs(_mc(ctx, gen, name))), budget)]
    select.__doc__ = f"The budget pool points with the largest {score_fn.__name__} of the MC-averaged probabilities."
    return select


entropy_dropout_select = _dropout(entropy_scores, "entropy_dropout")
least_confidence_dropout_select = _dropout(least_confidence_scores, "least_confidence_dropout")
margin_dropout_select = _dropout(margin_scores, "margin_dropout")
