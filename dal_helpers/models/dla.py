"""Deep Layer Aggregation (Yu et al. 2018) in a compact CIFAR form: a conv stem, then aggregation
trees whose roots merge their children's outputs by concatenation and a 1x1 conv-BN-ReLU. Channel
widths 16-32-64-128-256-512; 512-d embedding."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import ALModel
from .resnet import BasicBlock


def cbr(c_in: int, c_out: int, k: int = 3, stride: int = 1) -> nn.Sequential:
    """Conv2d (k x k, `stride`, same padding, no bias) -> BatchNorm2d -> ReLU."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, padding=k // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class Root(nn.Module):
    """Aggregation node: concat(children) -> 1x1 conv -> BN -> ReLU."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.merge = cbr(c_in, c_out, k=1)

    def forward(self, parts: list[Tensor]) -> Tensor:
        """Concatenates `parts` (each (N, C_i, H, W)) along channels and merges them to (N, c_out, H, W)."""
        return self.merge(torch.cat(parts, 1))


class Tree(nn.Module):
    """Hierarchical aggregation of depth `level`: two subtrees (or blocks at level 1) whose outputs
    and the previous stage's output meet at one root."""

    def __init__(self, c_in: int, c_out: int, level: int, stride: int) -> None:
        super().__init__()
        self.level = level
        if level == 1:
            self.left = BasicBlock(c_in, c_out, stride)
            self.right = BasicBlock(c_out, c_out, 1)
            self.root = Root(2 * c_out, c_out)
        else:
            self.left = Tree(c_in, c_out, level - 1, stride)
            self.right = Tree(c_out, c_out, level - 1, 1)
            self.prev = nn.ModuleList(
                [BasicBlock(c_out, c_out, 1) for _ in range(level - 1)])
            self.root = Root((level + 1) * c_out, c_out)

    def forward(self, x: Tensor) -> Tensor:
        """Output (N, c_out, H / stride, W / stride) of the aggregation tree on x (N, c_in, H, W)."""
        left = self.left(x)
        if self.level == 1:
            return self.root([left, self.right(left)])
        parts = [left]
        h = left
        for block in self.prev:  # deeper aggregation: keep intermediate features for the root
            h = block(h)
            parts.append(h)
        right = self.right(left)
        return self.root(parts + [right])


class DLA(ALModel):
    """Compact DLA for CIFAR-size images: conv stem (16-16-32 channels), four aggregation trees
    (64, 128, 256, 512 channels), global average pooling -> 512-d embedding."""

    def __init__(self, n_classes: int = 10, in_channels: int = 3, dropout: float = 0.0) -> None:
        super().__init__(embedding_dim=512, n_classes=n_classes, dropout=dropout)
        self.stem = nn.Sequential(cbr(in_channels, 16), cbr(16, 16), cbr(16, 32))
        self.trees = nn.Sequential(
            Tree(32, 64, level=1, stride=1),
            Tree(64, 128, level=2, stride=2),
            Tree(128, 256, level=2, stride=2),
            Tree(256, 512, level=1, stride=2),
        )

    def embed(self, x: Tensor) -> Tensor:
        """Globally average-pooled features (N, 512) of images x (N, in_channels, H, W)."""
        return F.adaptive_avg_pool2d(self.trees(self.stem(x)), 1).flatten(1)
