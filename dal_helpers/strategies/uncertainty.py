"""Uncertainty sampling (paper Sec. 3): score each pool point from its softmax and take the top budget.

Every score is "higher = more informative" and safe at p = 0 and p = 1 (no log 0, no NaN):
entropy -sum_c p_c log p_c, least confidence 1 - max_c p_c, margin 1 - (p_(1) - p_(2)) where p_(1) >= p_(2)
are the two largest probabilities. `random` lives here as the baseline of the family.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .context import SelectionContext, top_positions


def entropy_scores(probs: Tensor) -> Tensor:
    """probs: (N, C) rows summing to 1. Returns (N,) entropies in nats; 0 log 0 is taken as 0."""
    p = probs.float()
    return -torch.special.xlogy(p, p).sum(dim=1)


def least_confidence_scores(probs: Tensor) -> Tensor:
    """probs: (N, C). Returns (N,) 1 - max_c p_c, in [0, 1 - 1/C]."""
    return 1.0 - probs.float().max(dim=1).values


def margin_scores(probs: Tensor) -> Tensor:
    """probs: (N, C), C >= 2. Returns (N,) 1 - (p_(1) - p_(2)), in [0, 1]; 1 = a tie between the top two."""
    if probs.shape[1] < 2:
        raise ValueError(f"margin needs at least 2 classes; got probs of shape {tuple(probs.shape)}")
    top2 = probs.float().topk(2, dim=1).values
    return 1.0 - (top2[:, 0] - top2[:, 1])


def random_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """budget pool points drawn uniformly without replacement from `gen`."""
    perm = torch.randperm(ctx.n_pool, generator=gen, device=gen.device)[:budget]
    return ctx.pool_idx[perm.to(ctx.pool_idx.device)]


def _by_score(score_fn):
    def select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
        return ctx.pool_idx[top_positions(score_fn(ctx.probs), budget)]
    select.__doc__ = f"The budget pool points with the largest {score_fn.__name__} (ties: lower index)."
    return select


entropy_select = _by_score(entropy_scores)
least_confidence_select = _by_score(least_confidence_scores)
margin_select = _by_score(margin_scores)
