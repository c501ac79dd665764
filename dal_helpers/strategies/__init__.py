"""Every active-learning strategy of the paper behind one interface.

`select(name, ctx, budget, gen)` returns `budget` unique global train indices of unlabeled points.
A strategy is a function `fn(ctx: SelectionContext, budget: int, gen: torch.Generator) -> LongTensor`
registered by name in `STRATEGIES`; its math lives in a pure function over tensors next to it
(`entropy_scores(probs)`, `kmeans_pp(a, h, budget, gen)`, `kcenter_greedy(pool, labeled, budget)`, ...)
so that it can be tested without a model. `select` validates the budget, applies partitioning when
`ctx.cfg.partitions > 1` (the configured strategy runs inside each random pool partition with a budget
proportional to the partition's size, as the paper does for BADGE on CIFAR-100; `random` is never
partitioned because it would not change), and checks what the strategy returned. The name
`partitioned` means partitioned BADGE over `cfg.partitions` partitions.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .adversarial import bim_norms, bim_select, deepfool_norms, deepfool_select
from .badge import badge_select, badge_sq_dists, kmeans_pp
from .bald import bald_scores, bald_select, batchbald_greedy, batchbald_select
from .coldstart import (ball_graph, choose_delta, probcover_greedy, probcover_positions, probcover_select,
                        typicality, typiclust_pick, typiclust_positions, typiclust_select)
from .context import SelectionContext, fixed_dropout_masks, top_positions
from .coreset import coreset_select, kcenter_greedy, min_sq_dists
from .fass import facility_location_gains, facility_location_greedy, fass_select
from .glister import glister_gains, glister_greedy, glister_select
from .kmeans import kmeans_select, kmeans_select_positions, lloyd, nearest_unique
from .partitioned import partition_budgets, partitioned_badge_select, partitioned_select
from .stochastic import (entropy_dropout_select, gumbel_top_k, least_confidence_dropout_select,
                         margin_dropout_select, mc_mean_probs, power_bald_select, power_entropy_select,
                         power_margin_select)
from .uncertainty import (entropy_scores, entropy_select, least_confidence_scores, least_confidence_select,
                          margin_scores, margin_select, random_select)
from .vaal import labeled_probability, train_vaal, vaal_select

Strategy = Callable[[SelectionContext, int, torch.Generator], Tensor]

STRATEGIES: dict[str, Strategy] = {
    "random": random_select,
    "entropy": entropy_select,
    "least_confidence": least_confidence_select,
    "margin": margin_select,
    "badge": badge_select,
    "coreset": coreset_select,
    "fass": fass_select,
    "glister": glister_select,
    "bald": bald_select,
    "batchbald": batchbald_select,
    "kmeans": kmeans_select,
    "adversarial_deepfool": deepfool_select,
    "adversarial_bim": bim_select,
    "vaal": vaal_select,
    "partitioned": partitioned_badge_select,
    "power_entropy": power_entropy_select,
    "power_margin": power_margin_select,
    "power_bald": power_bald_select,
    "entropy_dropout": entropy_dropout_select,
    "least_confidence_dropout": least_confidence_dropout_select,
    "margin_dropout": margin_dropout_select,
    "typiclust": typiclust_select,
    "probcover": probcover_select,
}

# Strategies for which partitioning would change nothing or that partition themselves.
_NEVER_PARTITIONED = {"random", "partitioned"}


def get_strategy(name: str) -> Strategy:
    """The registered strategy function called `name`; KeyError listing the registered names otherwise."""
    if name not in STRATEGIES:
        raise KeyError(f"unknown strategy {name!r}; choose one of: {', '.join(sorted(STRATEGIES))}")
    return STRATEGIES[name]


def _check_budget(budget, n_pool: int) -> int:
    if isinstance(budget, bool) or not isinstance(budget, int):
        if isinstance(budget, Tensor) and budget.numel() == 1 and not budget.is_floating_point():
            budget = int(budget)
        else:
            raise TypeError(f"budget={budget!r} is invalid; allowed: an integer in [1, {n_pool}]")
    if budget <= 0:
        raise ValueError(f"budget={budget} is invalid; allowed: an integer in [1, {n_pool}] "
                         f"(the number of unlabeled points left in the pool)")
    if budget > n_pool:
        raise ValueError(f"budget={budget} exceeds the {n_pool} unlabeled points left in the pool")
    return budget


def _check_result(name: str, idx: Tensor, ctx: SelectionContext, budget: int) -> Tensor:
    if idx.dim() != 1 or idx.numel() != budget:
        raise RuntimeError(f"strategy {name!r} returned {tuple(idx.shape)} indices; expected ({budget},)")
    if idx.dtype != torch.int64:
        raise RuntimeError(f"strategy {name!r} returned dtype {idx.dtype}; expected torch.int64")
    if torch.unique(idx).numel() != budget:
        raise RuntimeError(f"strategy {name!r} returned repeated indices")
    lr = ctx.labeled_round
    if bool((idx < 0).any()) or bool((idx >= lr.shape[0]).any()) or bool((lr[idx.to(lr.device)] >= 0).any()):
        raise RuntimeError(f"strategy {name!r} returned indices outside the unlabeled pool")
    return idx


def select(name: str, ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """(budget,) int64 global train indices of unlabeled points chosen by strategy `name`.

    Raises KeyError for an unknown name, ValueError for budget <= 0 or budget > pool size.
    With ctx.cfg.partitions > 1 the strategy runs inside random pool partitions (see module doc)."""
    fn = get_strategy(name)
    budget = _check_budget(budget, ctx.n_pool)
    n_parts = int(getattr(ctx.cfg, "partitions", 1) or 1)
    if n_parts > 1 and name not in _NEVER_PARTITIONED:
        idx = partitioned_select(fn, ctx, budget, gen, n_parts)
    else:
        idx = fn(ctx, budget, gen)
    return _check_result(name, idx, ctx, budget)


__all__ = ["STRATEGIES", "SelectionContext", "get_strategy", "select", "top_positions",
           "fixed_dropout_masks", "partition_budgets", "partitioned_select",
           "entropy_scores", "least_confidence_scores", "margin_scores", "badge_sq_dists", "kmeans_pp",
           "kcenter_greedy", "min_sq_dists", "facility_location_gains", "facility_location_greedy",
           "glister_gains", "glister_greedy", "bald_scores", "batchbald_greedy",
           "lloyd", "nearest_unique", "kmeans_select_positions", "deepfool_norms", "bim_norms", "train_vaal",
           "labeled_probability", "gumbel_top_k", "mc_mean_probs",
           "typicality", "typiclust_pick", "typiclust_positions", "ball_graph", "choose_delta",
           "probcover_greedy", "probcover_positions"]
