"""Tests of seeding.py against brute-force greedy references on small inputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dal_helpers.seeding import dispersion_min, facility_location, random_seed_set, seed_features, seed_set


def _bf_facility_location(f: np.ndarray, n: int) -> list[int]:
    """Plain greedy over the full similarity matrix: add the point with the largest gain of
    F(S) = sum_i max_{j in S} max(cos_ij, 0)."""
    u = f / np.linalg.norm(f, axis=1, keepdims=True)
    s = np.clip(u @ u.T, 0, None)
    chosen, cover = [], np.zeros(len(f))
    for _ in range(n):
        gains = np.array([np.maximum(s[:, j] - cover, 0).sum() if j not in chosen else -1 for j in range(len(f))])
        j = int(np.argmax(gains))
        chosen.append(j)
        cover = np.maximum(cover, s[:, j])
    return chosen


def _bf_dispersion(f: np.ndarray, n: int) -> list[int]:
    """Farthest-first from the point farthest from the mean, with all pairwise distances."""
    d = np.sqrt(((f[:, None, :] - f[None, :, :]) ** 2).sum(-1))
    chosen = [int(np.argmax(((f - f.mean(0)) ** 2).sum(1)))]
    while len(chosen) < n:
        to_set = d[:, chosen].min(1)
        to_set[chosen] = -1
        chosen.append(int(np.argmax(to_set)))
    return chosen


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_facility_location_equals_brute_force_greedy(seed):
    g = torch.Generator().manual_seed(seed)
    f = torch.randn(40, 6, generator=g, dtype=torch.float64)  # signed: some cosines are clamped at 0
    got = facility_location(f, 9, chunk=7)                      # chunk 7 does not divide 40
    assert got.tolist() == _bf_facility_location(f.numpy(), 9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dispersion_min_equals_brute_force_farthest_first(seed):
    g = torch.Generator().manual_seed(seed)
    f = torch.rand(35, 4, generator=g, dtype=torch.float64)
    got = dispersion_min(f, 10)
    assert got.tolist() == _bf_dispersion(f.numpy(), 10)


def test_dispersion_min_never_repeats_duplicates():
    f = torch.tensor([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    assert sorted(dispersion_min(f, 4).tolist()) == [0, 1, 2, 3]


def test_facility_location_covers_clusters_first():
    # Three tight clusters of 5 points in different directions: three picks take one of each.
    g = torch.Generator().manual_seed(0)
    centers = torch.eye(3, dtype=torch.float64) * 10
    f = torch.cat([c + 0.01 * torch.randn(5, 3, generator=g, dtype=torch.float64) for c in centers])
    picks = facility_location(f, 3)
    assert sorted((picks // 5).tolist()) == [0, 1, 2]


def test_random_seed_set_is_reproducible_and_distinct():
    a = random_seed_set(50, 20, torch.Generator().manual_seed(3))
    b = random_seed_set(50, 20, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and len(set(a.tolist())) == 20 and int(a.max()) < 50


def test_seed_features_are_pooled_pixels():
    x = torch.randint(0, 256, (3, 2, 16, 16), dtype=torch.uint8)
    f = seed_features(x, size=8)
    # Mean of each 2x2 block of [0, 1] pixels, channel-major.
    ref = (x.double() / 255).reshape(3, 2, 8, 2, 8, 2).mean((3, 5)).reshape(3, -1)
    assert f.shape == (3, 128) and torch.allclose(f.double(), ref, atol=1e-6)


def test_seed_set_dispatch_and_errors():
    x = torch.randint(0, 256, (30, 1, 8, 8), dtype=torch.uint8)
    for method in ("random", "facility_location", "dispersion_min"):
        idx = seed_set(method, x, 6, torch.Generator().manual_seed(0))
        assert idx.dtype == torch.int64 and len(set(idx.tolist())) == 6
    assert seed_set("facility_location", x, 6, torch.Generator()).tolist() == \
        facility_location(seed_features(x), 6).tolist()
    with pytest.raises(ValueError, match="seed_set='kmeans'"):
        seed_set("kmeans", x, 6, torch.Generator())
    with pytest.raises(ValueError, match="n=31"):
        seed_set("dispersion_min", x, 31, torch.Generator())
