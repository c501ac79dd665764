"""The contract every model keeps: `embed(x) -> (N, D)`, `head: nn.Linear(D, C)`, a dropout layer
between them, `embedding_dim = D`. Strategies rely on it: BADGE's gradient factors are (p - onehot,
embed(x)), CoreSet/FASS/k-means work on `embed`, MC-dropout strategies switch dropout layers on."""
from __future__ import annotations

import torch
from torch import Tensor, nn


class ALModel(nn.Module):
    def __init__(self, embedding_dim: int, n_classes: int, dropout: float) -> None:
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} is invalid; allowed: a probability in [0, 1)")
        self.embedding_dim = embedding_dim
        self.n_classes = n_classes
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding_dim, n_classes)

    def embed(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.dropout(self.embed(x)))

    def forward_with_embedding(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(logits, embedding) from one pass; the embedding is taken before dropout."""
        e = self.embed(x)
        return self.head(self.dropout(e)), e
