"""Partitioned selection: run a strategy inside random partitions of the pool.

The paper runs BADGE on CIFAR-100 this way (App. A.3): the pool is shuffled with the round's generator,
cut into `n_partitions` near-equal parts, and each part receives a share of the budget proportional to
its size (largest-remainder rounding, so the shares add up to the budget exactly). Selection cost then
grows with the partition size instead of the whole pool.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .context import SelectionContext


def partition_budgets(sizes: list[int], budget: int) -> list[int]:
    """Split `budget` over partitions of the given sizes in proportion to size (largest remainder,
    ties to the earlier partition). sum(result) == budget and result[i] <= sizes[i] when
    budget <= sum(sizes)."""
    total = sum(sizes)
    if budget > total:
        raise ValueError(f"budget={budget} exceeds the {total} points of all partitions")
    exact = [budget * s / total for s in sizes]
    shares = [int(e) for e in exact]
    left = budget - sum(shares)
    order = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[:left]:
        shares[i] += 1
    return shares


def partitioned_select(inner: Callable[[SelectionContext, int, torch.Generator], Tensor],
                       ctx: SelectionContext, budget: int, gen: torch.Generator,
                       n_partitions: int) -> Tensor:
    """Run `inner` on each of n_partitions random pool partitions with proportional budgets.
    Returns (budget,) global indices. n_partitions is capped at the pool size."""
    if n_partitions < 1:
        raise ValueError(f"n_partitions={n_partitions} is invalid; allowed: an integer >= 1")
    n_parts = min(n_partitions, ctx.n_pool)
    if n_parts == 1:
        return inner(ctx, budget, gen)
    perm = torch.randperm(ctx.n_pool, generator=gen, device=gen.device).to(ctx.device)
    parts = [p.sort().values for p in torch.tensor_split(perm, n_parts)]
    shares = partition_budgets([len(p) for p in parts], budget)
    chosen = [inner(ctx.restrict(p), share, gen) for p, share in zip(parts, shares) if share > 0]
    return torch.cat(chosen)


def partitioned_badge_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """The registered `partitioned` strategy: BADGE inside cfg.partitions random pool partitions
    (the paper's CIFAR-100 setting); with cfg.partitions == 1 it is plain BADGE."""
    from .badge import badge_select
    return partitioned_select(badge_select, ctx, budget, gen, int(ctx.cfg.partitions))
