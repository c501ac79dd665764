"""ResNet-18 in its CIFAR form (He et al. 2016): a 3x3 stem without max-pool, four stages of two
basic blocks (64, 128, 256, 512 channels), global average pooling -> 512-d embedding. Works on 28x28
and 32x32 inputs."""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .base import ALModel


def conv_bn(c_in: int, c_out: int, stride: int = 1, k: int = 3) -> nn.Sequential:
    """Conv2d (k x k, `stride`, same padding, no bias) -> BatchNorm2d, without activation."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, padding=k // 2, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 conv-BN layers with ReLU, plus an identity shortcut (1x1 conv-BN when
    the stride or the channel count changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.a = conv_bn(c_in, c_out, stride)
        self.b = conv_bn(c_out, c_out)
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out else conv_bn(c_in, c_out, stride, k=1))

    def forward(self, x: Tensor) -> Tensor:
        """relu(b(relu(a(x))) + shortcut(x)): (N, c_in, H, W) -> (N, c_out, H / stride, W / stride)."""
        return F.relu(self.b(F.relu(self.a(x))) + self.shortcut(x))


class ResNet18(ALModel):
    """CIFAR-form ResNet-18: 3x3 conv-BN-ReLU stem (64 channels), four stages of two `block`s (64, 128,
    256, 512 channels; stride 2 from the second stage), global average pooling -> 512-d embedding."""

    widths = (64, 128, 256, 512)

    def __init__(self, n_classes: int = 10, in_channels: int = 3, dropout: float = 0.0, block=BasicBlock) -> None:
        super().__init__(embedding_dim=self.widths[-1], n_classes=n_classes, dropout=dropout)
        self.stem = nn.Sequential(conv_bn(in_channels, 64), nn.ReLU(inplace=True))
        layers, c = [], 64
        for i, w in enumerate(self.widths):
            stride = 1 if i == 0 else 2
            layers += [block(c, w, stride), block(w, w, 1)]
            c = w
        self.layers = nn.Sequential(*layers)

    def embed(self, x: Tensor) -> Tensor:
        """Globally average-pooled features (N, 512) of images x (N, in_channels, H, W)."""
        return F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1).flatten(1)
