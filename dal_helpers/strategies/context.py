"""What a strategy may look at in one selection round: the `SelectionContext`.

The AL loop builds one context per round from the trained model, the data splits and the AL state
(`labeled_round`: int64[n_train], -1 = unlabeled). Everything a strategy asks for is computed on first
use, cached for the rest of the round and kept on the run's device: the single eval-mode pass over the
pool gives both `probs` and `embeddings`; `badge_factors` gives BADGE's gradient embeddings in factored
form; `mc_probs(n, gen)` runs MC dropout with consistent, generator-drawn masks (dropout layers only,
BatchNorm and everything else stay in eval mode). `ctx.restrict(positions)` gives a context over a
subset of the pool that shares these caches, which is how partitioned selection runs any strategy on
one partition at a time.
"""
from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import Tensor, nn

from ..data import DatasetInfo, Splits
from ..inference import autocast, batches, predict


def _dropout_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0]


@contextlib.contextmanager
def fixed_dropout_masks(model: nn.Module, gen: torch.Generator, device: torch.device):
    """Inside the block, every dropout layer with p > 0 applies one mask per forward sample that is
    drawn from `gen` and shared by all inputs (Kirsch et al.'s consistent MC dropout); the model stays
    in eval mode, so BatchNorm uses its running statistics. Call `new_masks()` on the yielded object
    before each MC sample. Masks are drawn on the generator's device and moved, so a CPU generator
    gives the same masks whatever the model's device."""
    layers = _dropout_layers(model)
    masks: dict[int, Tensor] = {}
    handles = []

    def hook(module, inputs, output):
        x = inputs[0]
        key = id(module)
        # Dropout2d/3d drop whole channels: one draw per channel, broadcast over the spatial dims
        spatial = isinstance(module, (nn.Dropout2d, nn.Dropout3d))
        shape = (x.shape[1],) + (1,) * (x.dim() - 2) if spatial else tuple(x.shape[1:])
        m = masks.get(key)
        if m is None or tuple(m.shape) != shape:
            keep = 1.0 - module.p
            m = (torch.rand(shape, generator=gen, device=gen.device) < keep).to(device, x.dtype) / keep
            masks[key] = m
        return x * m.to(x.dtype)

    class _Control:
        def new_masks(self) -> None:
            masks.clear()

    was_training = model.training
    model.eval()
    try:
        for layer in layers:
            handles.append(layer.register_forward_hook(hook))
        yield _Control()
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)


class SelectionContext:
    """Lazily computed, cached views of one AL round, all on `device`.

    model: the trained network (contract of models.ALModel); splits: the data; labeled_round:
    int64[n_train] (-1 = unlabeled); cfg: the RunConfig (strategy knobs); device: where work happens.

    Attributes (computed on first access):
      pool_idx (n_pool,) / labeled_idx (n_labeled,): global train indices, ascending.
      x_pool, x_labeled: uint8 images; y_labeled: int64 labels.
      probs (n_pool, C) softmax; embeddings (n_pool, D) penultimate features (before dropout);
      labeled_embeddings (n_labeled, D); badge_factors (a, h) with a = p - onehot(argmax p) (n_pool, C)
      and h = embeddings (n_pool, D): the BADGE gradient embedding of point i is the outer product
      a_i h_i^T, never materialised.
    """

    def __init__(self, model: nn.Module, splits: Splits, labeled_round: Tensor, cfg: Any,
                 device: torch.device | str) -> None:
        if labeled_round.dim() != 1 or labeled_round.shape[0] != splits.n_train:
            raise ValueError(f"labeled_round has shape {tuple(labeled_round.shape)}; allowed: "
                             f"({splits.n_train},), one entry per pool point")
        self.model = model
        self.splits = splits
        self.labeled_round = labeled_round
        self.cfg = cfg
        self.device = torch.device(device)
        self._cache: dict[str, Any] = {}
        self._parent: SelectionContext | None = None
        self._positions: Tensor | None = None   # positions of this context's pool in the parent's pool

    # --- index sets --------------------------------------------------------------------------
    def _cached(self, key: str, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    @property
    def info(self) -> DatasetInfo:
        """The DatasetInfo of the run's data set (`splits.info`)."""
        return self.splits.info

    @property
    def batch_size(self) -> int:
        """Inference batch size: cfg.eval_batch_size, 1024 when cfg has none."""
        return int(getattr(self.cfg, "eval_batch_size", 1024))

    @property
    def pool_idx(self) -> Tensor:
        """(n_pool,) int64 global train indices of this context's unlabeled points, on `device`
        (ascending; a restricted context takes its parent's at its positions)."""
        def make():
            if self._parent is not None:
                return self._parent.pool_idx[self._positions]
            return (self.labeled_round < 0).nonzero().squeeze(1).to(self.device)
        return self._cached("pool_idx", make)

    @property
    def labeled_idx(self) -> Tensor:
        """(n_labeled,) int64 global train indices of the labeled points, ascending, on `device`."""
        if self._parent is not None:
            return self._parent.labeled_idx
        return self._cached("labeled_idx",
                            lambda: (self.labeled_round >= 0).nonzero().squeeze(1).to(self.device))

    @property
    def n_pool(self) -> int:
        """Number of unlabeled points in this context's pool."""
        return int(self.pool_idx.numel())

    @property
    def n_labeled(self) -> int:
        """Number of labeled points."""
        return int(self.labeled_idx.numel())

    def _take(self, x: Tensor, idx: Tensor) -> Tensor:
        return x[idx.to(x.device)].to(self.device)

    @property
    def x_pool(self) -> Tensor:
        """uint8 images (n_pool, C, H, W) of the pool points, on `device`."""
        return self._cached("x_pool", lambda: self._take(self.splits.x_train, self.pool_idx))

    @property
    def x_labeled(self) -> Tensor:
        """uint8 images (n_labeled, C, H, W) of the labeled points, on `device`."""
        if self._parent is not None:
            return self._parent.x_labeled
        return self._cached("x_labeled", lambda: self._take(self.splits.x_train, self.labeled_idx))

    @property
    def y_labeled(self) -> Tensor:
        """(n_labeled,) int64 labels of the labeled points, on `device`."""
        if self._parent is not None:
            return self._parent.y_labeled
        return self._cached("y_labeled", lambda: self._take(self.splits.y_train, self.labeled_idx))

    # --- model outputs -----------------------------------------------------------------------
    def _pool_pass(self) -> tuple[Tensor, Tensor]:
        def make():
            if self._parent is not None:
                p, e = self._parent._pool_pass()
                pos = self._positions
                return p[pos], e[pos]
            logits, emb = predict(self.model, self.x_pool, self.info, self.device, self.batch_size,
                                  embeddings=True)
            return torch.softmax(logits.float(), dim=1), emb.float()
        return self._cached("pool_pass", make)

    @property
    def probs(self) -> Tensor:
        """(n_pool, C) softmax probabilities, float32."""
        return self._pool_pass()[0]

    @property
    def embeddings(self) -> Tensor:
        """(n_pool, D) penultimate-layer embeddings, float32."""
        return self._pool_pass()[1]

    @property
    def labeled_outputs(self) -> tuple[Tensor, Tensor]:
        """(logits (n_labeled, C), embeddings (n_labeled, D)) of the labeled set, float32."""
        if self._parent is not None:
            return self._parent.labeled_outputs

        def make():
            logits, emb = predict(self.model, self.x_labeled, self.info, self.device, self.batch_size,
                                  embeddings=True)
            return logits.float(), emb.float()
        return self._cached("labeled_outputs", make)

    @property
    def labeled_embeddings(self) -> Tensor:
        """(n_labeled, D) embeddings of the labeled set, float32."""
        if self._parent is not None:
            return self._parent.labeled_embeddings
        return self._cached("labeled_embeddings", lambda: self.labeled_outputs[1])

    @property
    def validation(self) -> tuple[Tensor, Tensor, Tensor]:
        """(logits (V, C), embeddings (V, D), labels (V,)) of the validation split splits.x_val, or of
        the labeled set when there is none (never the test set). ValueError when both are empty."""
        if self._parent is not None:
            return self._parent.validation

        def make():
            x, y = self.splits.x_val, self.splits.y_val
            if x is None or len(x) == 0:
                x, y = self.x_labeled, self.y_labeled
            if len(x) == 0:
                raise ValueError("no validation data: splits.x_val is empty (set cfg.n_validation > 0) "
                                 "and the labeled set is empty")
            logits, emb = predict(self.model, x.to(self.device), self.info, self.device, self.batch_size,
                                  embeddings=True)
            return logits.float(), emb.float(), y.to(self.device)
        return self._cached("validation", make)

    @property
    def badge_factors(self) -> tuple[Tensor, Tensor]:
        """(a, h): a = p - onehot(argmax p) (n_pool, C), h = embeddings (n_pool, D). The gradient of
        the cross-entropy at the pseudo-label w.r.t. the head weights is the outer product a_i h_i^T."""
        def make():
            p = self.probs
            a = p.clone()
            a[torch.arange(len(p), device=p.device), p.argmax(1)] -= 1.0
            return a, self.embeddings
        return self._cached("badge_factors", make)

    def mc_probs(self, n: int, gen: torch.Generator) -> Tensor:
        """(n, n_pool, C) softmax probabilities of n MC-dropout samples; sample k uses one dropout mask
        for every pool point (consistent masks), drawn from `gen`. Cached per n (the first call's
        generator decides the masks)."""
        if n < 1:
            raise ValueError(f"n={n} is invalid; allowed: an integer >= 1 MC samples")
        key = f"mc_probs_{n}"
        if self._parent is not None:
            return self._cached(key, lambda: self._parent.mc_probs(n, gen)[:, self._positions])

        def make():
            out = torch.empty(n, self.n_pool, self.model.n_classes, device=self.device)
            with torch.inference_mode(), fixed_dropout_masks(self.model, gen, self.device) as ctl:
                for k in range(n):
                    ctl.new_masks()
                    start = 0
                    with autocast(self.device):
                        for xb in batches(self.x_pool, self.info, self.device, self.batch_size):
                            out[k, start:start + len(xb)] = torch.softmax(self.model(xb).float(), dim=1)
                            start += len(xb)
            return out
        return self._cached(key, make)

    # --- sub-contexts --------------------------------------------------------------------------
    def restrict(self, positions: Tensor) -> "SelectionContext":
        """A context whose pool is pool_idx[positions] (positions: int64 into this pool); the labeled
        set, the model and every cached model output are shared with this context."""
        sub = SelectionContext.__new__(SelectionContext)
        sub.model, sub.splits, sub.labeled_round = self.model, self.splits, self.labeled_round
        sub.cfg, sub.device = self.cfg, self.device
        sub._cache = {}
        sub._parent = self
        sub._positions = positions.to(self.device)
        return sub

    def __repr__(self) -> str:
        return (f"SelectionContext(pool={self.n_pool}, labeled={self.n_labeled}, device={self.device}, "
                f"cached={sorted(self._cache)})")


def top_positions(scores: Tensor, k: int) -> Tensor:
    """Positions of the k largest scores (k,), ties broken by the lower position so that the result
    does not depend on the sort implementation or device. NaN scores rank last."""
    s = torch.nan_to_num(scores.float(), nan=float("-inf"))
    return torch.sort(s, descending=True, stable=True).indices[:k]
