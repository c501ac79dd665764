"""The small MNIST network of the paper (App. A.4):
conv -> ReLU -> conv -> ReLU -> max-pool -> dropout -> linear -> ReLU -> dropout -> linear
(built in an equivalent, faster order: see the comment in MnistNet)."""
from __future__ import annotations

from torch import Tensor, nn

from .base import ALModel, MaxPool2d


class MnistNet(ALModel):
    """The paper's MNIST network (App. A.4): two 3x3 convs, 2x2 max-pool, dropout 0.25, a 128-unit
    Linear + ReLU as the 128-d embedding; head dropout 0.5 by default."""

    def __init__(self, n_classes: int = 10, in_channels: int = 1, image_size: int = 28,
                 dropout: float = 0.5) -> None:
        super().__init__(embedding_dim=128, n_classes=n_classes, dropout=dropout)
        side = (image_size - 4) // 2          # two valid 3x3 convs, then a 2x2 pool
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3), nn.ReLU(inplace=True),
            # Same numbers as the paper's order, cheaper: max-pool and ReLU commute, so the ReLU comes
            # after the pool (a quarter of the elements); the pool works in channels_last (see
            # MaxPool2d); Flatten (which copies back to NCHW order) comes before the element-wise
            # dropout, so that the dropout mask is drawn in NCHW order whatever the memory layout.
            nn.Conv2d(32, 64, 3), MaxPool2d(2), nn.ReLU(inplace=True),
            nn.Flatten(), nn.Dropout(0.25),
            nn.Linear(64 * side * side, 128), nn.ReLU(inplace=True),
        )

    def embed(self, x: Tensor) -> Tensor:
        """Features (N, 128) of images x (N, in_channels, image_size, image_size)."""
        return self.features(x)
