"""Tests of data.write_image_folder: tiny tensors written as PNG folders read back pixel for pixel by
data.from_image_folder in both layouts, the per-class cap, and refused folders and names."""
from __future__ import annotations

import pytest
import torch

from dal_helpers import data


def _splits(channels: int) -> data.Splits:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (12, channels, 6, 6), generator=g, dtype=torch.uint8)
    xt = torch.randint(0, 256, (6, channels, 6, 6), generator=g, dtype=torch.uint8)
    y = torch.tensor([0, 1, 2] * 4)
    return data.Splits("mnist5k", x, y, xt, torch.tensor([2, 1, 0] * 2), ("cat", "dog", "eel"))


@pytest.mark.parametrize("channels", [1, 3])
def test_train_test_layout_round_trips_pixel_for_pixel(tmp_path, channels):
    sp = _splits(channels)
    root = data.write_image_folder(sp, tmp_path / "imgs", with_test=True)
    back = data.from_image_folder(root, register=False)
    assert back.classes == sp.classes
    # from_image_folder reads class by class, files in row order: the rows of class 0, then 1, then 2
    for mine, theirs_x, theirs_y in ((back.x_train, sp.x_train, sp.y_train), (back.x_test, sp.x_test, sp.y_test)):
        order = torch.cat([(theirs_y == k).nonzero().squeeze(1) for k in range(3)])
        assert torch.equal(mine, theirs_x[order])
    assert sorted(p.name for p in (root / "train" / "dog").iterdir()) == ["01.png", "04.png", "07.png", "10.png"]


def test_per_class_keeps_the_first_rows_of_each_class(tmp_path):
    sp = _splits(1)
    root = data.write_image_folder(sp, tmp_path / "few", per_class=2)
    assert {c: sorted(p.name for p in (root / c).iterdir()) for c in sp.classes} == {
        "cat": ["00.png", "03.png"], "dog": ["01.png", "04.png"], "eel": ["02.png", "05.png"]}
    back = data.from_image_folder(root, test_fraction=0.5, register=False)   # 1 train + 1 test per class
    assert back.n_train == 3 and len(back.y_test) == 3
    pool = {tuple(t.flatten().tolist()) for t in torch.cat([back.x_train, back.x_test])}
    assert pool == {tuple(sp.x_train[i].flatten().tolist()) for i in range(6)}


def test_refuses_a_full_folder_bad_counts_and_bad_class_names(tmp_path):
    sp = _splits(1)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not empty"):
        data.write_image_folder(sp, tmp_path / "full")
    with pytest.raises(ValueError, match="per_class=0"):
        data.write_image_folder(sp, tmp_path / "a", per_class=0)
    bad = data.Splits("mnist5k", sp.x_train, sp.y_train, sp.x_test, sp.y_test, ("a/b", "c", "d"))
    with pytest.raises(ValueError, match="a/b"):
        data.write_image_folder(bad, tmp_path / "b")
