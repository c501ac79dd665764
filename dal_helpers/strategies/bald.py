"""BALD and BatchBALD (Houlsby et al. 2011; Kirsch et al. 2019) from MC-dropout predictions.

Both read `ctx.mc_probs(cfg.mc_samples, gen)`: K forward passes with dropout layers on (and nothing else
in train mode), one mask per pass shared by all pool points, so that sample k is one consistent model
across the pool, as BatchBALD's joint entropies require.

BALD scores each point by its mutual information with the model, I(y; w) = H(mean_k p_k) - mean_k H(p_k).
BatchBALD picks greedily the point that maximises I(y_1..y_n, y_j; w) = H(y_1..y_n, y_j) - sum H(y | w).
The joint entropy is computed exactly by enumerating all label configurations of the picks while there
are at most `exact_limit` of them, then estimated from `n_configs` configurations sampled from the joint
(importance-weighted, Kirsch et al. Sec. 3.2); samples are extended one pick at a time from the exact
conditional of the new label given the configuration, drawn from the round's generator. Probabilities
of configurations are kept as logs, rescaled per configuration, so long batches do not underflow.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor

from ..models import has_active_dropout
from .context import SelectionContext, top_positions
from .uncertainty import entropy_scores


def bald_scores(mc_probs: Tensor) -> Tensor:
    """mc_probs: (K, N, C) softmax of K MC-dropout samples. Returns (N,) mutual information in nats,
    H(mean_k p_k) - mean_k H(p_k), >= 0 up to rounding."""
    p = mc_probs.float()
    mean = p.mean(0)
    expected = -torch.special.xlogy(p, p).sum(2).mean(0)
    return entropy_scores(mean) - expected


_CHUNK_ELEMS = 1 << 22   # candidates x configurations x classes per block of the joint entropies


def _joint_entropies(log_cfg: Tensor, sampled: bool, p: Tensor) -> Tensor:
    """Entropy of (configuration, y_j) for every candidate j, in blocks of candidates.

    log_cfg: (K, M) log probability of each configuration under each MC sample; p: (K, N, C).
    sampled False: the M configurations are all of them (exact sum); True: the estimator over sampled
    configurations, H = -(1/M) sum_m sum_c P(m, c) / P(m) log P(m, c). Returns (N,)."""
    k, n, c = p.shape
    m = log_cfg.shape[1]
    rows = max(1, _CHUNK_ELEMS // (m * c))
    out = torch.empty(n, dtype=p.dtype, device=p.device)
    if not sampled:
        w = log_cfg.exp()
        for s in range(0, n, rows):
            joint = torch.einsum("km,knc->nmc", w, p[:, s:s + rows]) / k
            out[s:s + rows] = -torch.special.xlogy(joint, joint).sum((1, 2))
        return out
    scale = log_cfg.max(0).values                              # (M,) per-configuration rescaling
    pn = (log_cfg - scale).exp()                               # (K, M), max 1 per column
    qn = pn.mean(0)                                            # (M,) rescaled P(m)
    for s in range(0, n, rows):
        jn = torch.einsum("km,knc->nmc", pn, p[:, s:s + rows]) / k    # rescaled P(m, c)
        # sum_c P(m,c)/P(m) = 1, so the rescaling contributes -mean(scale) to every candidate alike
        out[s:s + rows] = -(torch.special.xlogy(jn, jn) / qn[None, :, None]).sum(2).mean(1)
    return out - scale.mean()


def batchbald_greedy(mc_probs: Tensor, budget: int, gen: torch.Generator, n_configs: int = 256,
                     exact_limit: int = 256) -> Tensor:
    """BatchBALD greedy selection. mc_probs: (K, N, C). Returns (budget,) int64 positions in the order
    picked (ties: lower position). Joint entropies are exact while the picks have at most exact_limit
    label configurations, then estimated from n_configs configurations sampled with `gen`."""
    k, n, c = mc_probs.shape
    if not 1 <= budget <= n:
        raise ValueError(f"budget={budget} is invalid; allowed: an integer in [1, {n}]")
    dev = mc_probs.device
    p = mc_probs.double()
    logp = torch.log(p)                                          # -inf where p = 0, handled by exp
    cond = -torch.special.xlogy(p, p).sum(2).mean(0)            # (N,) E_w H(y_j | w)
    log_cfg = torch.zeros(k, 1, dtype=torch.float64, device=dev)
    sampled = False
    taken = torch.zeros(n, dtype=torch.bool, device=dev)
    picks: list[int] = []
    for _ in range(budget):
        score = _joint_entropies(log_cfg, sampled, p) - cond
        score = torch.where(taken, torch.tensor(float("-inf"), dtype=score.dtype, device=dev), score)
        j = int(top_positions(score, 1)[0])
        picks.append(j)
        taken[j] = True
        if len(picks) == budget:
            break
        if not sampled and log_cfg.shape[1] * c <= exact_limit:
            # every configuration of the picks, extended by every label of j
            log_cfg = (log_cfg[:, :, None] + logp[:, j, None, :]).reshape(k, -1)
            continue
        if not sampled:
            # switch to sampling: draw configurations from the exact joint, then extend them
            probs = log_cfg.exp().mean(0)
            rows = torch.multinomial(probs.float().to(gen.device), n_configs, replacement=True, generator=gen)
            log_cfg = log_cfg[:, rows.to(dev)]
            sampled = True
        # y_j | configuration m: posterior over samples k times p_k(y_j)
        w = (log_cfg - log_cfg.max(0).values).exp()              # (K, M)
        cond_y = (w.T @ p[:, j, :]).clamp_min(0)                 # (M, C)
        y = torch.multinomial((cond_y / cond_y.sum(1, keepdim=True)).float().to(gen.device), 1,
                              generator=gen).squeeze(1).to(dev)
        log_cfg = log_cfg + logp[:, j, :][:, y]
    return torch.tensor(picks, dtype=torch.int64, device=dev)


def _mc(ctx: SelectionContext, gen: torch.Generator, name: str) -> Tensor:
    if not has_active_dropout(ctx.model):
        warnings.warn(f"{name}: the model has no dropout layer with p > 0, so MC-dropout samples are all "
                      "the same and the scores are 0; build it with dropout=p (RunConfig.dropout)",
                      RuntimeWarning, stacklevel=3)
    return ctx.mc_probs(int(ctx.cfg.mc_samples), gen)


def bald_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """BALD: the budget pool points of largest mutual information under MC dropout."""
    return ctx.pool_idx[top_positions(bald_scores(_mc(ctx, gen, "bald")), budget)]


def batchbald_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """BatchBALD: greedy joint mutual information under consistent MC dropout."""
    return ctx.pool_idx[batchbald_greedy(_mc(ctx, gen, "batchbald"), budget, gen)]
