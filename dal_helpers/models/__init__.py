"""Model registry. `make_model(name, n_classes, in_channels)` builds any model of the paper; each keeps
the contract of `base.ALModel` (embed, dropout, head, embedding_dim).

Dropout before the head: 0.5 in the MNIST net (part of its architecture, App. A.4); 0.0 by default in
the CIFAR-style networks, as in the paper, so that their training is unchanged. Pass `dropout=p` (or
set RunConfig.dropout) to give MC-dropout strategies real uncertainty on those networks."""
from __future__ import annotations

from typing import Callable

from torch import nn

from .base import ALModel
from .dla import DLA
from .mnist import MnistNet
from .resnet import ResNet18
from .shakeshake import ShakeShakeResNet18
from .vgg import VGG

MODELS: dict[str, Callable[..., ALModel]] = {
    "mnist_net": MnistNet,
    "resnet18": ResNet18,
    "resnet18_shakeshake": ShakeShakeResNet18,
    "vgg11": lambda **kw: VGG("vgg11", **kw),
    "vgg19": lambda **kw: VGG("vgg19", **kw),
    "dla": DLA,
}


def make_model(name: str, n_classes: int, in_channels: int = 3, image_size: int | None = None,
               dropout: float | None = None) -> ALModel:
    """Build model `name` for `n_classes` classes and `in_channels`-channel images.

    image_size matters only for mnist_net (its flattened size); dropout=None keeps the model's default."""
    if name not in MODELS:
        raise KeyError(f"unknown model {name!r}; choose one of: {', '.join(sorted(MODELS))}")
    if n_classes < 2:
        raise ValueError(f"n_classes={n_classes} is invalid; allowed: an integer >= 2")
    kw: dict = dict(n_classes=n_classes, in_channels=in_channels)
    if name == "mnist_net" and image_size is not None:
        kw["image_size"] = image_size
    if dropout is not None:
        kw["dropout"] = dropout
    return MODELS[name](**kw)


def has_active_dropout(model: nn.Module) -> bool:
    """True when the model has a dropout layer with p > 0 (needed for MC-dropout uncertainty)."""
    return any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in model.modules())


__all__ = ["ALModel", "MODELS", "make_model", "has_active_dropout"]
