"""Model registry. `make_model(name, n_classes, in_channels)` builds any model of the paper; each keeps
the contract of `base.ALModel` (embed, dropout, head, embedding_dim).

Dropout before the head: 0.5 in the MNIST net (part of its architecture, App. A.4); 0.0 by default in
the CIFAR-style networks, as in the paper, so that their training is unchanged. Pass `dropout=p` (or
set RunConfig.dropout) to give MC-dropout strategies real uncertainty on those networks."""
from __future__ import annotations

import inspect
from typing import Callable

import torch
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
    if name in USER_MODELS and image_size is not None and _accepts(MODELS[name], "image_size"):
        kw["image_size"] = image_size
    if dropout is not None:
        kw["dropout"] = dropout
    model = MODELS[name](**kw)
    if name in USER_MODELS:
        check_contract(model, n_classes, in_channels, image_size or 32, name)
    return model


USER_MODELS: set[str] = set()


def _accepts(fn: Callable, arg: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return arg in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def check_contract(model: nn.Module, n_classes: int, in_channels: int, image_size: int, name: str = "model") -> None:
    """Raise TypeError listing every part of the contract (base.ALModel) that `model` misses: an
    nn.Module with `embed(x) -> (N, D)`, `embedding_dim = D`, `head = nn.Linear(D, n_classes)`, a
    `dropout` nn.Dropout applied between them, and `forward_with_embedding(x) -> (logits, embedding)`.
    The shapes are checked on a (2, in_channels, image_size, image_size) zero batch."""
    missing = []
    if not isinstance(model, nn.Module):
        raise TypeError(f"the builder of {name!r} returned a {type(model).__name__}; allowed: an nn.Module "
                        "(subclass models.ALModel to get the contract for free)")
    if not callable(getattr(model, "embed", None)):
        missing.append("embed(x) -> (N, embedding_dim) method")
    d = getattr(model, "embedding_dim", None)
    if not isinstance(d, int) or d < 1:
        missing.append(f"embedding_dim: a positive int attribute (got {d!r})")
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Linear):
        missing.append(f"head: an nn.Linear(embedding_dim, n_classes) (got {type(head).__name__})")
    elif isinstance(d, int) and (head.in_features, head.out_features) != (d, n_classes):
        missing.append(f"head of shape ({d}, {n_classes}) (got nn.Linear({head.in_features}, {head.out_features}))")
    if not isinstance(getattr(model, "dropout", None), nn.Dropout):
        missing.append("dropout: an nn.Dropout layer between embed and head (p=0 is allowed)")
    if not callable(getattr(model, "forward_with_embedding", None)):
        missing.append("forward_with_embedding(x) -> (logits, embedding) method")
    if not missing:
        x = torch.zeros(2, in_channels, image_size, image_size)
        was = model.training
        try:
            with torch.no_grad():
                e = model.eval().embed(x)
                logits, e2 = model.forward_with_embedding(x)
        except Exception as err:  # the user's code: report whatever it raised
            missing.append(f"embed/forward_with_embedding to run on a {tuple(x.shape)} batch "
                           f"({type(err).__name__}: {err})")
        else:
            if tuple(e.shape) != (2, d) or tuple(e2.shape) != (2, d):
                missing.append(f"embed(x) of shape (2, {d}) (got {tuple(e.shape)})")
            if tuple(logits.shape) != (2, n_classes):
                missing.append(f"logits of shape (2, {n_classes}) (got {tuple(logits.shape)})")
        finally:
            model.train(was)
    if missing:
        raise TypeError(f"model {name!r} breaks the model contract; it lacks: " + "; ".join(missing))


def register(name: str, builder: Callable[..., nn.Module], in_channels: int = 3, image_size: int = 32) -> None:
    """Make `name` usable as RunConfig(model=name). builder(n_classes=..., in_channels=..., [dropout=...],
    [image_size=...]) returns a model keeping the contract (see check_contract); it is built once here
    for 10 classes on (in_channels, image_size, image_size) images and checked, and again at every build."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name={name!r} is invalid; allowed: a non-empty string")
    if name in MODELS and name not in USER_MODELS:
        raise ValueError(f"name={name!r} is a built-in model; choose another name")
    if not callable(builder):
        raise TypeError(f"builder is a {type(builder).__name__}; allowed: a callable returning an nn.Module")
    kw = dict(n_classes=10, in_channels=in_channels)
    if _accepts(builder, "image_size"):
        kw["image_size"] = image_size
    check_contract(builder(**kw), 10, in_channels, image_size, name)
    MODELS[name] = builder
    USER_MODELS.add(name)


def has_active_dropout(model: nn.Module) -> bool:
    """True when the model has a dropout layer with p > 0 (needed for MC-dropout uncertainty)."""
    return any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in model.modules())


__all__ = ["ALModel", "MODELS", "make_model", "has_active_dropout", "register", "check_contract"]
