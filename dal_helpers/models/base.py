"""The contract every model keeps: `embed(x) -> (N, D)`, `head: nn.Linear(D, C)`, a dropout layer
between them, `embedding_dim = D`. Strategies rely on it: BADGE's gradient factors are (p - onehot,
embed(x)), CoreSet/FASS/k-means work on `embed`, MC-dropout strategies switch dropout layers on."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MaxPool2d(nn.MaxPool2d):
    """nn.MaxPool2d that pools in channels_last layout. On CPU, PyTorch's NCHW max-pool kernel is slow
    single-threaded (4.1 ms against 0.2 ms for a (20, 64, 24, 24) batch on one core, 7.8 against 2.3 ms
    with the backward pass and the layout copy included); the maximum and its gradient are the same
    numbers either way, and on CUDA the activations are channels_last already, so the copy is a no-op.
    The output is channels_last: a random element-wise op (dropout) on it draws its mask in that memory
    order, so flatten first when the numbers must match an NCHW network."""

    def forward(self, x: Tensor) -> Tensor:
        """Max-pool of x (N, C, H, W) computed in channels_last layout; the output is channels_last."""
        return F.max_pool2d(x.contiguous(memory_format=torch.channels_last), self.kernel_size, self.stride,
                            self.padding, self.dilation, ceil_mode=self.ceil_mode,
                            return_indices=self.return_indices)


class ALModel(nn.Module):
    """Base of every AL model: `embed(x)` gives (N, embedding_dim) features, then dropout and `head`,
    an nn.Linear(embedding_dim, n_classes). Raises ValueError unless 0 <= dropout < 1."""

    def __init__(self, embedding_dim: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} is invalid; allowed: a probability in [0, 1)")
        self.embedding_dim = embedding_dim
        self.n_classes = n_classes
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding_dim, n_classes)

    def embed(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        """Penultimate features (N, embedding_dim) of images x (N, C, H, W); subclasses implement it."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, n_classes): head(dropout(embed(x)))."""
        return self.head(self.dropout(self.embed(x)))

    def forward_with_embedding(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(logits, embedding) from one pass; the embedding is taken before dropout."""
        e = self.embed(x)
        return self.head(self.dropout(e)), e
