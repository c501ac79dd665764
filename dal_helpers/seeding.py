"""The initial labeled set ("seed set", paper Sec. 4.6): random, facility location, dispersion-min, or
the cold-start strategies TypiClust and ProbCover.

The paper compares a random seed set with two label-free, diversity-seeking ones. Both are computed
over features that never involve the pool's labels. We use downsampled pixels (`seed_features`:
images scaled to [0, 1], average-pooled to 8x8 per channel, flattened) rather than the embeddings of
the randomly initialised network: a random network's embeddings carry little beyond its pixels, and
pixel features make the seed set identical whichever model the experiment trains, so one seed set
serves every model and strategy of an experiment. The loop also uses these features for its batch
diagnostics (distance of a selected batch to the labeled set).

- `facility_location`: greedy maximisation of F(S) = sum_i max_{j in S} s_ij with s_ij the cosine
  similarity clamped at 0. Lazy greedy (gains only shrink, so a stale gain is an upper bound): the first
  pass computes all gains from chunked similarity blocks (O(N^2 d) time, O(N * chunk) memory), after
  which each step re-evaluates a few candidates at O(N d) each. Same picks as plain greedy.
- `dispersion_min`: farthest-first traversal (the greedy 2-approximation of max-min dispersion): start
  at the point farthest from the mean feature, then repeatedly add the point whose distance to the
  chosen set is largest. O(N d) per pick.
- `typiclust`, `probcover`: the cold-start strategies of `strategies/coldstart.py` run on these features
  with an empty labeled set (their k-means seeding and ProbCover's random tail draw from `gen`).
  ProbCover's delta is `delta` when given, else chosen by purity under k-means with k = `n_classes`
  (the number of classes, not any label; 10 when not given).
- `random`: n points drawn uniformly without replacement from `gen`.
"""
from __future__ import annotations

import heapq

import torch
import torch.nn.functional as F
from torch import Tensor

from .strategies.coldstart import probcover_positions, typiclust_positions

SEED_SET_METHODS = ("random", "facility_location", "dispersion_min", "typiclust", "probcover")


def seed_features(x: Tensor, size: int = 8, chunk: int = 8192) -> Tensor:
    """Label-free features of uint8 images x (N, C, H, W): pixels in [0, 1], average-pooled to
    (C, size, size) (or kept when smaller), flattened. Returns float32 (N, C * size * size) on x's device."""
    out = []
    side = min(size, x.shape[-1])
    for s in range(0, len(x), chunk):
        xb = x[s:s + chunk].float() / 255.0
        out.append(F.adaptive_avg_pool2d(xb, side).flatten(1))
    return torch.cat(out) if out else torch.empty(0, x.shape[1] * side * side, device=x.device)


def _check_n(n: int, n_points: int) -> None:
    if not 0 <= n <= n_points:
        raise ValueError(f"n={n} is invalid; allowed: an integer in [0, {n_points}] (the pool size)")


def random_seed_set(n_points: int, n: int, gen: torch.Generator) -> Tensor:
    """(n,) distinct indices in [0, n_points), uniformly at random from gen."""
    _check_n(n, n_points)
    return torch.randperm(n_points, generator=gen)[:n]


def facility_location(features: Tensor, n: int, chunk: int = 2048) -> Tensor:
    """(n,) indices greedily maximising sum_i max_{j in S} max(cos(f_i, f_j), 0) over features (N, d).

    Lazy greedy with chunked similarity blocks; ties go to the lower index."""
    n_points = len(features)
    _check_n(n, n_points)
    if n == 0:
        return torch.empty(0, dtype=torch.long)
    f = F.normalize(features, dim=1)
    gains = torch.cat([(f @ f[s:s + chunk].t()).clamp_min(0).sum(0) for s in range(0, n_points, chunk)])
    heap = [(-g, j) for j, g in enumerate(gains.tolist())]
    heapq.heapify(heap)
    cover = torch.zeros(n_points, dtype=f.dtype, device=f.device)   # max similarity to the chosen set
    chosen: list[int] = []
    while len(chosen) < n:
        _, j = heapq.heappop(heap)
        s_j = (f @ f[j]).clamp_min(0)
        gain = float((s_j - cover).clamp_min(0).sum())
        if not heap or (-gain, j) <= heap[0]:
            chosen.append(j)
            cover = torch.maximum(cover, s_j)
        else:
            heapq.heappush(heap, (-gain, j))
    return torch.tensor(chosen, dtype=torch.long)


def dispersion_min(features: Tensor, n: int) -> Tensor:
    """(n,) indices by farthest-first traversal over features (N, d), started at the point farthest
    from the mean feature (Euclidean distances; ties go to the lower index)."""
    n_points = len(features)
    _check_n(n, n_points)
    if n == 0:
        return torch.empty(0, dtype=torch.long)
    f = features
    first = int(torch.argmax(((f - f.mean(0)) ** 2).sum(1)))
    chosen = [first]
    dist = ((f - f[first]) ** 2).sum(1)
    dist[first] = -1.0
    for _ in range(n - 1):
        j = int(torch.argmax(dist))
        chosen.append(j)
        dist = torch.minimum(dist, ((f - f[j]) ** 2).sum(1))
        dist[torch.tensor(chosen, device=dist.device)] = -1.0
    return torch.tensor(chosen, dtype=torch.long)


def seed_set(method: str, x: Tensor, n: int, gen: torch.Generator, features: Tensor | None = None,
             n_classes: int | None = None, delta: float | None = None) -> Tensor:
    """(n,) int64 pool indices of the initial labeled set, chosen by `method` from uint8 images x
    (N, C, H, W) (or the given features (N, d)); the labels are never read. gen is used by "random",
    "typiclust" and "probcover"; n_classes (default 10) and delta (None: chosen) by "probcover"."""
    if method not in SEED_SET_METHODS:
        raise ValueError(f"seed_set={method!r} is invalid; allowed: {', '.join(SEED_SET_METHODS)}")
    if method == "random":
        return random_seed_set(len(x), n, gen)
    feats = seed_features(x) if features is None else features
    if method == "facility_location":
        return facility_location(feats, n).cpu()
    if method in ("typiclust", "probcover"):
        _check_n(n, len(feats))
        if n == 0:
            return torch.empty(0, dtype=torch.long)
        none = feats[:0]
        if method == "typiclust":
            return typiclust_positions(feats, none, n, gen).cpu()
        return probcover_positions(feats, none, n, gen, delta=delta,
                                   n_classes=10 if n_classes is None else n_classes).cpu()
    return dispersion_min(feats, n).cpu()
