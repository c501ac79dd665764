"""Shared fixtures: small deterministic data and a single CPU thread so tests are quick and repeatable."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(1)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def mnist5k():
    from dal_helpers.data import load_mnist5k
    return load_mnist5k()


@pytest.fixture()
def gen():
    return torch.Generator().manual_seed(0)


def tiny_splits(n_train: int = 60, n_test: int = 20, n_classes: int = 3, channels: int = 1, size: int = 28,
                seed: int = 0, name: str = "mnist5k"):
    """A small random Splits whose class c images are brighter in a class-specific region, so that a
    model can learn it in a few epochs. Classes are balanced."""
    from dal_helpers.data import Splits

    g = torch.Generator().manual_seed(seed)

    def make(n):
        y = torch.arange(n) % n_classes
        x = torch.randint(0, 60, (n, channels, size, size), generator=g)
        band = size // n_classes
        for c in range(n_classes):
            x[y == c, :, c * band:(c + 1) * band, :] += 150
        return x.clamp(0, 255).to(torch.uint8), y.to(torch.int64)

    xtr, ytr = make(n_train)
    xte, yte = make(n_test)
    return Splits(name=name, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte,
                  classes=tuple(str(i) for i in range(n_classes)))


@pytest.fixture()
def tiny():
    return tiny_splits()
