"""Shake-shake regularised ResNet-18 (Gastaldi 2017), used by the paper's generalisation study (App. C).

Each residual block has two branches mixed as a*b1 + (1-a)*b2 with a ~ U(0,1) drawn per sample in the
forward pass and an independent b ~ U(0,1) in the backward pass ("shake-shake-image"); in eval mode
both branches get 0.5."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .resnet import ResNet18, conv_bn


class _Shake(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x1: Tensor, x2: Tensor) -> Tensor:
        """alpha * x1 + (1 - alpha) * x2 with alpha ~ U(0, 1) drawn per sample (shape (N, 1, 1, 1))."""
        alpha = torch.rand(x1.shape[0], 1, 1, 1, device=x1.device, dtype=x1.dtype)
        return alpha * x1 + (1 - alpha) * x2

    @staticmethod
    def backward(ctx, grad: Tensor):
        """Gradients (beta * grad, (1 - beta) * grad) for (x1, x2), with a fresh beta ~ U(0, 1) per sample."""
        beta = torch.rand(grad.shape[0], 1, 1, 1, device=grad.device, dtype=grad.dtype)
        return beta * grad, (1 - beta) * grad


def shake(x1: Tensor, x2: Tensor, training: bool) -> Tensor:
    """Mix of two branch outputs: a random per-sample mix (`_Shake`) when training with grad enabled,
    else 0.5 * (x1 + x2)."""
    if training and torch.is_grad_enabled():
        return _Shake.apply(x1, x2)
    return 0.5 * (x1 + x2)


class ShakeBlock(nn.Module):
    """Shake-shake residual block: two ReLU-conv-BN-ReLU-conv-BN branches mixed by `shake`, plus an
    identity shortcut (1x1 conv-BN when the stride or the channel count changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList([
            nn.Sequential(nn.ReLU(), conv_bn(c_in, c_out, stride), nn.ReLU(inplace=True), conv_bn(c_out, c_out))
            for _ in range(2)])
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out else conv_bn(c_in, c_out, stride, k=1))

    def forward(self, x: Tensor) -> Tensor:
        """shortcut(x) + shake(branch0(x), branch1(x)): (N, c_in, H, W) -> (N, c_out, H / stride, W / stride)."""
        return self.shortcut(x) + shake(self.branches[0](x), self.branches[1](x), self.training)


class ShakeShakeResNet18(ResNet18):
    """ResNet18 built from ShakeBlocks (App. C); 512-d embedding."""

    def __init__(self, n_classes: int = 10, in_channels: int = 3, dropout: float = 0.0) -> None:
        super().__init__(n_classes=n_classes, in_channels=in_channels, dropout=dropout, block=ShakeBlock)

    def embed(self, x: Tensor) -> Tensor:
        """Features (N, 512): ReLU of the last stage's output, then global average pooling."""
        return F.adaptive_avg_pool2d(F.relu(self.layers(self.stem(x))), 1).flatten(1)
