"""Your own data: from_tensors, from_image_folder, from_dataset and the user data-set registry, on tiny
tensors and tiny folders written here, checked pixel for pixel against the arrays that were written."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dal_helpers import data
from dal_helpers.config import RunConfig


@pytest.fixture(autouse=True)
def _clean_registry():
    before_ds, before_user = dict(data.DATASETS), dict(data.USER_DATASETS)
    yield
    data.DATASETS.clear(); data.DATASETS.update(before_ds)
    data.USER_DATASETS.clear(); data.USER_DATASETS.update(before_user)


def _images(n, h=8, w=8, c=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, h, w) if c == 1 else (n, h, w, c), dtype=np.uint8)


def _write(folder, arrays):
    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(folder / f"{i:03d}.png")


def test_from_tensors_layouts_stats_and_registry():
    x = _images(12, c=3)                                  # NHWC uint8
    y = np.arange(12) % 3
    sp = data.from_tensors(x, y, x[:6], y[:6], ["a", "b", "c"], name="toy")
    assert sp.x_train.shape == (12, 3, 8, 8) and sp.x_train.dtype == torch.uint8
    assert torch.equal(sp.x_train.permute(0, 2, 3, 1), torch.from_numpy(x))
    ref = x.reshape(-1, 3).astype(np.float64) / 255      # mean/std measured per channel
    assert np.allclose(sp.info.mean, ref.mean(0)) and np.allclose(sp.info.std, ref.std(0, ddof=1))
    assert sp.info.hflip is False and sp.n_classes == 3
    cfg = RunConfig(dataset="toy")
    assert data.prepare(cfg) is sp
    f = data.from_tensors(torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255, y, x[:6], y[:6], name="toyf",
                          register=False)
    assert torch.equal(f.x_train, sp.x_train)
    with pytest.raises(KeyError, match="unknown dataset 'toyf'"):
        RunConfig(dataset="toyf")


@pytest.mark.parametrize("bad,match", [
    (dict(y_train=np.zeros(6, int), y_test=np.zeros(2, int)), "1 class"),
    (dict(classes=["a", "b", "c"], y_train=np.arange(6) % 2), r"\['c'\] have no training images"),
    (dict(y_train=np.arange(6) % 2 + 5, classes=["a", "b"]), "labels .* span"),
    (dict(x_test=np.zeros((2, 9, 9), np.uint8), y_test=np.zeros(2, int)), "the same"),
    (dict(x_train=np.full((6, 8, 8), 2.0)), "floating point"),
])
def test_from_tensors_bad_input(bad, match):
    kw = dict(x_train=_images(6), y_train=np.arange(6) % 2, x_test=_images(2), y_test=np.arange(2), classes=None)
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        data.from_tensors(**kw, name="bad")


def test_image_folder_train_test_layout(tmp_path):
    arrs = {s: {c: _images(4, seed=10 * i + j) for j, c in enumerate(["cat", "dog"])}
            for i, s in enumerate(["train", "test"])}
    for s, per in arrs.items():
        for c, a in per.items():
            _write(tmp_path / s / c, a)
    sp = data.from_image_folder(tmp_path, name="pets")
    assert sp.classes == ("cat", "dog") and sp.x_train.shape == (8, 1, 8, 8) and sp.x_test.shape == (8, 1, 8, 8)
    want = np.concatenate([arrs["train"]["cat"], arrs["train"]["dog"]])
    assert np.array_equal(sp.x_train[:, 0].numpy(), want)
    assert sp.y_train.tolist() == [0] * 4 + [1] * 4
    assert RunConfig(dataset="pets").dataset == "pets"


def test_image_folder_single_folder_is_stratified_and_resizes(tmp_path):
    _write(tmp_path / "a", _images(10, 8, 8, c=3))
    _write(tmp_path / "b", _images(5, 12, 12, c=3, seed=1))   # other size: needs image_size
    with pytest.raises(ValueError, match="pass image_size"):
        data.from_image_folder(tmp_path)
    sp = data.from_image_folder(tmp_path, image_size=6, test_fraction=0.2)
    assert sp.x_train.shape[1:] == (3, 6, 6)
    assert torch.bincount(sp.y_test).tolist() == [2, 1] and torch.bincount(sp.y_train).tolist() == [8, 4]
    again = data.from_image_folder(tmp_path, image_size=6, test_fraction=0.2, register=False)
    assert torch.equal(again.x_test, sp.x_test)            # the split is a function of the seed only


def test_image_folder_errors(tmp_path):
    _write(tmp_path / "one", _images(3))
    with pytest.raises(ValueError, match="one class"):
        data.from_image_folder(tmp_path)
    (tmp_path / "two").mkdir()
    with pytest.raises(ValueError, match=r"\['two'\] hold no images"):
        data.from_image_folder(tmp_path)
    _write(tmp_path / "two", _images(3))
    (tmp_path / "two" / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"non-image file.*notes\.txt"):
        data.from_image_folder(tmp_path)
    (tmp_path / "two" / "notes.txt").unlink()
    (tmp_path / "two" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png' is not a readable image"):
        data.from_image_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.from_image_folder(tmp_path / "missing")


def test_image_folder_path_as_dataset(tmp_path):
    _write(tmp_path / "imgs" / "a", _images(4))
    _write(tmp_path / "imgs" / "b", _images(4, seed=3))
    path = str(tmp_path / "imgs")
    sp = data.prepare(RunConfig(dataset=path))
    assert sp.n_train == 6 and sp.n_classes == 2 and len(sp.y_test) == 2


def test_from_dataset_and_loader_registry():
    import torchvision
    x = _images(6)
    y = np.arange(6) % 2

    class Pairs(torch.utils.data.Dataset):
        classes = ["even", "odd"]

        def __len__(self):
            return 6

        def __getitem__(self, i):
            return Image.fromarray(x[i]), int(y[i])

    sp = data.from_dataset(Pairs(), Pairs(), name="pairs")
    assert sp.classes == ("even", "odd") and np.array_equal(sp.x_train[:, 0].numpy(), x)
    t = torchvision.transforms.ToTensor()

    class Floats(Pairs):
        def __getitem__(self, i):
            return t(Image.fromarray(x[i])), int(y[i])
    assert torch.equal(data.from_dataset(Floats(), Floats(), register=False).x_train, sp.x_train)
    calls = []
    data.register_dataset("lazy", lambda: calls.append(1) or data.from_tensors(x, y, x, y, name="lazy0",
                                                                                register=False))
    cfg = RunConfig(dataset="lazy")
    a, b = data.prepare(cfg), data.prepare(cfg)
    assert a is b and calls == [1] and a.name == "lazy" and a.info.channels == 1
    with pytest.raises(ValueError, match="built-in"):
        data.register_dataset("mnist", sp)
    with pytest.raises(TypeError, match="allowed: a Splits"):
        data.register_dataset("x", 3)
