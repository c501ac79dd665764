"""FASS (Wei et al. 2015): filter the pool to its most uncertain points, then maximise a facility-location
function over them.

Candidates: the `cfg.fass_candidates * budget` pool points of largest entropy. Over the candidates' embeddings
x the facility-location function f(S) = sum_i max_{j in S} s(i, j) is maximised greedily, with the
similarity s(i, j) = exp(-||x_i - x_j||^2 / sigma^2) in (0, 1] and sigma^2 the mean squared distance
between candidates (2 (mean ||x||^2 - ||mean x||^2), no pairwise pass needed). f is monotone submodular,
so marginal gains only shrink as S grows; lazy greedy (Minoux 1978) keeps stale gains as upper bounds and
re-evaluates only the top few, in a batch, which gives the same picks as plain greedy.

Two variants (cfg.fass_per_class): True (default, as the paper's toolkit runs FASS) splits the
candidates by hypothesised class argmax p and runs facility location inside each class, with
per-class budgets proportional to the class's share of the candidates (largest remainder, ties to the
lower class); False runs one facility location over all candidates. In both, sigma^2 is computed over
the set being maximised. Exact ties in the greedy go to the lower position (lower global index, the
candidates being kept in index order); the lazy greedy accepts a refreshed gain equal to a stale bound
only when no stale point with that bound has a lower position.

The similarity matrix is built once in row blocks; it is stored in float32 when it fits in
`max_bytes / 2`, in float16 when it fits in `max_bytes` (values in (0, 1] with an absolute error under
5e-4, which can only reorder near-ties), and otherwise its rows are recomputed when needed.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .context import SelectionContext, top_positions
from .uncertainty import entropy_scores

_MAX_BYTES = 1 << 30   # similarity storage limit (1 GiB)
_ROW_ELEMS = 1 << 22   # entries per block while building similarities


class SimilarityRows:
    """Rows of s(i, j) = exp(-||x_i - x_j||^2 / sigma^2) over x: (V, D), stored or recomputed."""

    def __init__(self, x: Tensor, max_bytes: int = _MAX_BYTES, store: str = "auto") -> None:
        self.x = x.float()
        v = x.shape[0]
        self.sq = (self.x * self.x).sum(1)
        mean_sq = float(self.sq.mean()) - float((self.x.mean(0) ** 2).sum())
        # mean over all ordered pairs (i != j included as 0) of ||x_i - x_j||^2; identical points -> 1
        self.sigma2 = max(2.0 * mean_sq, 1e-12)
        if store == "auto":
            store = "float32" if v * v * 4 <= max_bytes // 2 else "float16" if v * v * 2 <= max_bytes else "none"
        if store not in ("float32", "float16", "none"):
            raise ValueError(f"store={store!r} is invalid; allowed: auto, float32, float16, none")
        self.store = store
        self.matrix = None
        if store != "none":
            dtype = torch.float32 if store == "float32" else torch.float16
            self.matrix = torch.empty(v, v, dtype=dtype, device=x.device)
            step = max(1, _ROW_ELEMS // max(v, 1))
            for s in range(0, v, step):
                self.matrix[s:s + step] = self._compute(torch.arange(s, min(s + step, v), device=x.device))

    def _compute(self, idx: Tensor) -> Tensor:
        xb = self.x[idx]
        d = (self.sq[idx][:, None] + self.sq[None, :] - 2.0 * (xb @ self.x.T)).clamp_min(0.0)
        return torch.exp(-d / self.sigma2)

    def __call__(self, idx: Tensor) -> Tensor:
        """(len(idx), V) float32 similarities of the rows idx."""
        if self.matrix is not None:
            return self.matrix[idx].float()
        return self._compute(idx)

    def row_sums(self) -> Tensor:
        """(V,) float32 row sums sum_j s(i, j) of the similarity matrix, computed in blocks."""
        v = self.x.shape[0]
        out = torch.empty(v, device=self.x.device)
        step = max(1, _ROW_ELEMS // max(v, 1))
        for s in range(0, v, step):
            out[s:s + step] = self(torch.arange(s, min(s + step, v), device=self.x.device)).sum(1)
        return out


def facility_location_gains(sim_rows: Tensor, cover: Tensor) -> Tensor:
    """Marginal gains f(S + j) - f(S) of facility location for candidates j.

    sim_rows: (B, V) s(j, i) for each candidate j over the ground set; cover: (V,) max_{s in S} s(i, s)
    (0 for the empty set, similarities being >= 0). Returns (B,)."""
    return (sim_rows - cover[None, :]).clamp_min(0.0).sum(1)


def facility_location_greedy(x: Tensor, budget: int, batch: int = 32, max_bytes: int = _MAX_BYTES,
                             store: str = "auto") -> Tensor:
    """Lazy greedy maximisation of facility location over the rows of x (V, D), ground set = all rows.
    Returns (budget,) int64 positions into x in the order picked (ties: lower position)."""
    v = x.shape[0]
    if not 1 <= budget <= v:
        raise ValueError(f"budget={budget} is invalid; allowed: an integer in [1, {v}]")
    sims = SimilarityRows(x, max_bytes, store)
    upper = sims.row_sums()                        # exact gains for S = {}
    cover = torch.zeros(v, device=x.device)
    picked = torch.empty(budget, dtype=torch.int64, device=x.device)
    neg_inf = float("-inf")
    k = min(batch, v)
    t = 0
    while t < budget:
        # stable sort: among equal bounds the lower position comes first, so a stale point that ties
        # the best refreshed gain from a lower position enters the next batch (the loop always ends)
        cand = torch.sort(upper, descending=True, stable=True).indices[:k + 1]
        vals = upper[cand]
        bound = float(vals[k]) if len(vals) > k else neg_inf   # best stale gain outside the batch
        cand, vals = cand[:k], vals[:k]
        live = vals > neg_inf
        cand = cand[live]
        rows = sims(cand)
        g = facility_location_gains(rows, cover)
        upper[cand] = g
        # the best refreshed gain (ties: lower position) is the true maximum once it beats every stale
        # upper bound, or equals the bound and no stale point with that bound has a lower position
        gmax = float(g.max())
        ties = torch.nonzero(g == gmax).squeeze(1)
        best = int(ties[torch.argmin(cand[ties])])
        ok = gmax > bound
        if not ok and gmax == bound:
            stale = upper >= bound
            stale[cand] = False
            ok = int(cand[best]) < int(stale.nonzero().min())
        if ok:
            j = int(cand[best])
            picked[t] = j
            t += 1
            cover = torch.maximum(cover, rows[best])
            upper[j] = neg_inf
    return picked


def fass_positions(probs: Tensor, emb: Tensor, budget: int, n_cand: int, per_class: bool = True) -> Tensor:
    """FASS on pool probabilities (N, C) and embeddings (N, D): the n_cand most uncertain points (kept
    in index order), then facility location over all of them or per hypothesised class (module doc).
    Returns (budget,) int64 pool positions."""
    cand = torch.sort(top_positions(entropy_scores(probs), n_cand)).values
    if n_cand == budget:
        return cand
    if not per_class:
        return cand[facility_location_greedy(emb[cand], budget)]
    from .partitioned import partition_budgets
    cls = probs[cand].argmax(1)
    classes = torch.unique(cls).tolist()
    members = [cand[cls == k] for k in classes]
    shares = partition_budgets([len(m) for m in members], budget)
    out = [m[facility_location_greedy(emb[m], b)] if b < len(m) else m
           for m, b in zip(members, shares) if b > 0]
    return torch.cat(out)


def fass_select(ctx: SelectionContext, budget: int, gen: torch.Generator) -> Tensor:
    """FASS: entropy filter to cfg.fass_candidates * budget points, then facility location on embeddings
    (per hypothesised class when cfg.fass_per_class, the default)."""
    n_cand = min(ctx.n_pool, int(ctx.cfg.fass_candidates) * budget)
    return ctx.pool_idx[fass_positions(ctx.probs, ctx.embeddings, budget, n_cand, ctx.cfg.fass_per_class)]
