"""A strategy advisor: what the unlabeled pool says about which strategy to try, before any label is bought.

`advise(splits, budget)` measures four things and turns them into a ranked list of registered strategy
names, each with the measured reason in words:

(a) Near-duplicate rate. For a seeded sample of at most `SAMPLE` pool points, the distance to the
    nearest other pool point (the whole pool is searched, in tiles of at most `_CHUNK_ELEMS` entries,
    never an N x N matrix) in a label-free feature space. A point has a near copy when that distance is
    at most `NEAR_RATIO` times the typical nearest-neighbour distance; an exact copy (distance 0) always
    counts. The typical distance is the median nearest-pool-point distance of the test images: they are
    independent draws that the pool holds no copies of, so copies in the pool cannot shrink it (the
    pool's own median NN distance is 0 as soon as half of the pool has a copy). Without a test split
    (fewer than `MIN_REFERENCE` images) the pool's own median is used, and the advice says so.
    The pool is flagged as redundant when the rate is at least `FLAG_RATE`.
(b) Class-balance proxy: k-means (k = number of classes, k-means++ seeding and Lloyd from
    `strategies.kmeans`) on the same features of the sample; the max/min cluster size ratio and the
    entropy of the cluster sizes divided by log k (1 = equal sizes).
(c) Pool-to-budget ratio: n_pool / budget, and with n_rounds the share of the pool labeled at the end.
(d) Input size: image shape (C, H, W), pool size, classes.

Feature space. Default: per channel, log(1 + |2-D DFT|) of the normalised image, flattened and reduced
to `DIM` dimensions by a seeded Gaussian random projection (distances kept up to a few percent). Why
not the pixels themselves: a random shift of up to 2 pixels (what `data.make_redundant(mode="augment")`
makes) moves an MNIST digit as far in pixel space as a different digit of the same class, so pixel
distances find only the copies that happen to get the same shift (measured on mnist5k, 2,000 repeated
of 4,000: 2% of the pool flagged at x2, 17% at x10, against 50% truly repeated). The DFT amplitude does
not change under circular shifts and changes little under small shifts of images with blank or
uniform borders; the log evens out the dominant low frequencies. With `model=`, the features are
`model.embed` of the normalised images instead (no projection). Images that are byte-for-byte equal
are featurised once, so exact copies get bitwise-equal features and distance exactly 0.

Thresholds, measured on mnist5k and a 6,000-image Fashion-MNIST pool (pool NN distance / median test
NN distance, the share of points below the ratio): originals 0.2% / 0.6% below 0.7; duplicate copies
50% / 50% (all of them) at x2..x20; augment copies 49% / 32% at x2, 50% / 49% at x20. NEAR_RATIO = 0.7
keeps the originals well under FLAG_RATE = 5% while every x2..x20 variant is far above it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from .data import Splits, normalize

SAMPLE = 4000          # pool points whose nearest-neighbour distance is measured (all when the pool is smaller)
DIM = 64               # dimensions of the random projection of the default features
NEAR_RATIO = 0.7       # near copy: NN distance <= NEAR_RATIO x typical NN distance (see module doc)
FLAG_RATE = 0.05       # pool flagged as redundant when at least this share has a near copy
MIN_REFERENCE = 20     # test images needed to measure the typical NN distance on the test split
SMALL_PER_CLASS = 10   # budget / classes below this: a cold start, the model's uncertainty is unreliable
SMALL_POOL_RATIO = 10  # n_pool / budget below this: a round takes >= 10% of the pool
IMBALANCE_MAX_MIN = 5.0   # cluster max/min size ratio above this counts as imbalanced
IMBALANCE_ENTROPY = 0.9   # ... or normalised cluster-size entropy below this
LARGE_SELECTION = 2e9  # n_pool x budget above this: BADGE's k-means++ (cost ~ N x budget x (D + C)) is slow
FEATURE_BATCH = 2048   # images featurised at once
_CHUNK_ELEMS = 1 << 22  # query rows x pool rows per distance tile (16 MiB in fp32)
_QUERY_ROWS = 1024     # query rows per tile


# --------------------------------------------------------------------------------------------------
# Features and nearest neighbours
# --------------------------------------------------------------------------------------------------

def _unique_rows(x: Tensor) -> tuple[Tensor, Tensor]:
    """(first, inverse): positions of one representative of each distinct image (byte-for-byte) and,
    for every image, the index of its representative in `first`."""
    flat = np.ascontiguousarray(x.reshape(len(x), -1).cpu().numpy())
    keys = flat.view(np.dtype((np.void, flat.shape[1]))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return torch.from_numpy(first).long(), torch.from_numpy(inverse.ravel()).long()


def projection(in_dim: int, dim: int = DIM, seed: int = 0) -> Tensor:
    """(in_dim, dim) Gaussian random projection with N(0, 1/dim) entries, drawn from a generator seeded
    with `seed`: squared distances are kept in expectation."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(in_dim, dim, generator=g) / math.sqrt(dim)


def pixel_features(x: Tensor, info, dim: int = DIM, seed: int = 0, batch: int = FEATURE_BATCH) -> Tensor:
    """x: (N, C, H, W) uint8 images. Returns (N, dim) float32: per channel log(1 + |DFT|) of the
    normalised image, flattened, times `projection(C*H*W, dim, seed)` (shift-tolerant, see module doc).
    Computed in batches of `batch` images; byte-identical images get identical rows."""
    n = len(x)
    proj = projection(int(np.prod(x.shape[1:])), dim, seed)
    if n == 0:
        return torch.empty(0, dim)
    first, inverse = _unique_rows(x)
    out = torch.empty(len(first), dim)
    for s in range(0, len(first), batch):
        z = normalize(x[first[s:s + batch]].cpu(), info)
        out[s:s + batch] = torch.log1p(torch.fft.fft2(z).abs()).flatten(1) @ proj
    return out[inverse]


def model_features(model, x: Tensor, info, device: torch.device | str = "cpu", batch: int = FEATURE_BATCH) -> Tensor:
    """(N, D) float32 `model.embed` of the normalised images x (N, C, H, W) uint8, on CPU, in eval mode;
    byte-identical images get identical rows."""
    from .inference import predict
    first, inverse = _unique_rows(x)
    _, emb = predict(model, x[first], info, device, batch, embeddings=True)
    return emb.float().cpu()[inverse]


def nearest_neighbours(q: Tensor, x: Tensor, exclude: Tensor | None = None,
                       chunk_elems: int = _CHUNK_ELEMS) -> tuple[Tensor, Tensor]:
    """Nearest row of x (N, D) for each row of q (M, D). exclude: (M,) int64 row of x each query must
    skip (its own row when q is a sample of x; -1 skips nothing), or None.
    Returns (dist (M,) Euclidean float32, idx (M,) int64); ties go to the lower row of x.

    Tiles of at most 1024 query rows x (chunk_elems / rows) pool rows, so no M x N matrix exists. The
    tile search uses ||x||^2 - 2 q.x; the winner's distance is then recomputed as ||q_i - x_j||, exact
    0 for equal rows."""
    m, n = q.shape[0], x.shape[0]
    if n == 0 or (n == 1 and exclude is not None and bool((exclude == 0).all())):
        raise ValueError(f"x has {n} rows; allowed: at least one row other than the excluded one")
    q, x = q.float(), x.float().to(q.device)
    xn = (x * x).sum(1)
    best = torch.full((m,), float("inf"), device=q.device)
    arg = torch.zeros(m, dtype=torch.int64, device=q.device)
    rows = min(max(m, 1), _QUERY_ROWS)
    cols = max(1, chunk_elems // rows)
    for r in range(0, m, rows):
        qb = q[r:r + rows]
        bb, ab = best[r:r + rows], arg[r:r + rows]
        ex = None if exclude is None else exclude[r:r + rows].to(q.device)
        for c in range(0, n, cols):
            d = torch.addmm(xn[None, c:c + cols], qb, x[c:c + cols].T, alpha=-2.0)
            if ex is not None:
                local = ex - c
                hit = (local >= 0) & (local < d.shape[1])
                d[hit.nonzero().squeeze(1), local[hit]] = float("inf")
            v, i = d.min(1)
            better = v < bb            # strict: an earlier tile (lower row) keeps a tie
            bb[better] = v[better]
            ab[better] = i[better] + c
    dist = (q - x[arg]).norm(dim=1)
    return dist, arg


def near_copy_rate(dist: Tensor, reference: float, ratio: float = NEAR_RATIO) -> float:
    """Share of the distances (M,) that are 0 or at most ratio x reference."""
    if dist.numel() == 0:
        raise ValueError("dist is empty; allowed: at least one nearest-neighbour distance")
    return float(((dist == 0) | (dist <= ratio * reference)).double().mean())


def cluster_balance(sizes) -> tuple[float, float]:
    """(max/min ratio, entropy of size shares / log k) of k >= 2 cluster sizes; ratio inf when a
    cluster is empty, entropy 1 for equal sizes."""
    s = np.asarray(sizes, dtype=float)
    if len(s) < 2 or s.sum() <= 0:
        raise ValueError(f"sizes={list(sizes)} is invalid; allowed: at least 2 clusters with a positive total")
    p = s[s > 0] / s.sum()
    ratio = float(s.max() / s.min()) if s.min() > 0 else math.inf
    return ratio, float(-(p * np.log(p)).sum() / math.log(len(s)))


def cluster_sizes(feats: Tensor, k: int, gen: torch.Generator) -> list[int]:
    """Sizes of k k-means clusters of feats (M, D): k-means++ seeding from `gen`, then Lloyd to
    convergence (`strategies.kmeans.lloyd`); sorted in decreasing order."""
    from .strategies.badge import kmeans_pp
    from .strategies.kmeans import _nearest, lloyd
    k = min(k, len(feats))
    seeds = kmeans_pp(torch.ones(len(feats), 1), feats, k, gen)
    centres = lloyd(feats, feats[seeds])
    counts = torch.bincount(_nearest(feats.float(), centres), minlength=k)
    return sorted(counts.tolist(), reverse=True)


# --------------------------------------------------------------------------------------------------
# Advice
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recommendation:
    """One registered strategy, its score (higher = try first) and the measured reasons behind it."""
    strategy: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Advice:
    """What `advise` measured on one pool and the ranked recommendations it draws from it.

    near_duplicate_rate: share of the measured pool points with a near copy (module doc, (a));
    exact_duplicate_rate: share of the whole pool that has a byte-for-byte copy; reference_nn: the
    typical NN distance in feature units, from `reference_source`; cluster_sizes / cluster_max_min /
    cluster_entropy: the class-balance proxy (b); pool_per_budget, labeled_share (c); input_shape (d)."""
    dataset: str
    n_pool: int
    n_classes: int
    input_shape: tuple[int, ...]
    budget: int
    n_rounds: int | None
    feature_space: str
    n_measured: int
    reference_nn: float
    reference_source: str
    near_ratio: float
    near_duplicate_rate: float
    exact_duplicate_rate: float
    redundant: bool
    cluster_sizes: tuple[int, ...]
    cluster_max_min: float
    cluster_entropy: float
    pool_per_budget: float
    budget_per_class: float
    labeled_share: float | None
    recommendations: tuple[Recommendation, ...] = field(default=())

    @property
    def top(self) -> list[str]:
        """Strategy names in recommended order (positive scores first)."""
        return [r.strategy for r in self.recommendations]

    def table(self) -> pd.DataFrame:
        """The ranked recommendations: rank, strategy, score, reason (the reasons joined by '; ')."""
        return pd.DataFrame([dict(rank=i + 1, strategy=r.strategy, score=r.score, reason="; ".join(r.reasons))
                             for i, r in enumerate(self.recommendations)])

    def figures(self) -> pd.DataFrame:
        """The measured figures, one row each: figure, value (as read), what it measures."""
        ratio = ("inf (an empty cluster)" if math.isinf(self.cluster_max_min) else f"{self.cluster_max_min:.2f}")
        share = "n_rounds not given" if self.labeled_share is None else f"{self.labeled_share:.1%}"
        rows = [
            ("near-duplicate rate", f"{self.near_duplicate_rate:.1%}",
             f"of {self.n_measured} pool points, NN distance <= {self.near_ratio} x typical "
             f"({self.reference_nn:.3g}, {self.reference_source})"),
            ("exact copies", f"{self.exact_duplicate_rate:.1%}", "of the pool has a byte-for-byte copy"),
            ("redundant", "yes" if self.redundant else "no", f"near-duplicate rate >= {FLAG_RATE:.0%}"),
            ("cluster max/min", ratio, f"k-means, k = {self.n_classes}, sizes {list(self.cluster_sizes)}"
             + (" (not used for the ranking: copies form clusters of their own)" if self.redundant else "")),
            ("cluster entropy", f"{self.cluster_entropy:.3f}", "of the cluster sizes / log k (1 = equal)"),
            ("pool / budget", f"{self.pool_per_budget:.1f}", f"{self.n_pool} pool points, budget {self.budget}"),
            ("budget / class", f"{self.budget_per_class:.1f}", f"{self.n_classes} classes"),
            ("labeled at the end", share, "budget x n_rounds / pool"),
            ("input", "x".join(map(str, self.input_shape)), f"features: {self.feature_space}"),
        ]
        return pd.DataFrame(rows, columns=["figure", "value", "meaning"])

    def row(self) -> dict:
        """One flat dict of the figures and the top three strategies (a row of `advisor_table`)."""
        return dict(dataset=self.dataset, n_pool=self.n_pool, budget=self.budget,
                    near_duplicate_rate=round(self.near_duplicate_rate, 4),
                    exact_duplicate_rate=round(self.exact_duplicate_rate, 4), redundant=self.redundant,
                    cluster_max_min=round(self.cluster_max_min, 2), cluster_entropy=round(self.cluster_entropy, 3),
                    pool_per_budget=round(self.pool_per_budget, 1), budget_per_class=round(self.budget_per_class, 1),
                    recommended=", ".join(self.top[:3]),
                    reason=self.recommendations[0].reasons[0] if self.recommendations else "")

    def __str__(self) -> str:
        head = (f"Advice for {self.dataset!r}: pool {self.n_pool}, budget {self.budget}"
                + (f" x {self.n_rounds} rounds" if self.n_rounds else ""))
        figs = self.figures().to_string(index=False)
        recs = "\n".join(f"{i + 1}. {r.strategy} ({r.score:+.1f}): " + "; ".join(r.reasons)
                         for i, r in enumerate(self.recommendations))
        return f"{head}\n{figs}\nRecommended, best first:\n{recs}"


def _check_int(name: str, value, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name}={value!r} is invalid; allowed: an integer in [{lo}, {hi}] ({what})")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name}={value} is invalid; allowed: an integer in [{lo}, {hi}] ({what})")
    return int(value)


def _rank(figs: dict, registered) -> tuple[Recommendation, ...]:
    """Score every candidate strategy with the rules below; each rule that moves a score adds its reason."""
    score: dict[str, float] = {}
    why: dict[str, list[str]] = {}

    def vote(names, points, reason):
        for s in names:
            if s in registered:
                score[s] = score.get(s, 0.0) + points
                why.setdefault(s, []).append(reason)

    def either(names):
        return " or ".join(s for s in names if s in registered)

    _redundancy_and_budget_votes(figs, vote, either)
    _pool_votes(figs, vote)
    vote(["coreset"], -1.0, "CoreSet was the weakest strategy in the paper's baselines (Sec. 4.1)")
    order = {s: i for i, s in enumerate(["badge", "power_entropy", "entropy", "margin", "random", "typiclust",
                                         "kmeans", "least_confidence", "partitioned", "coreset"])}
    ranked = sorted(score, key=lambda s: (-score[s], order.get(s, len(order)), s))
    # reasons that raised a score first, then those that lowered it
    return tuple(Recommendation(s, score[s], tuple(why[s])) for s in ranked)


def _redundancy_and_budget_votes(figs: dict, vote: Callable, either: Callable) -> None:
    """The rules of `_rank` on the near-duplicate rate and on the budget per class."""
    rate, bpc = figs["near_duplicate_rate"], figs["budget_per_class"]
    uncertainty = ["entropy", "margin", "least_confidence"]
    if figs["redundant"]:
        vote(["badge", "power_entropy"], 3.0,
             f"{either(['badge', 'power_entropy'])} over plain entropy: {rate:.0%} of the pool has a near copy; BADGE's "
             f"k-means++ step and power sampling spread a round over distinct points (paper Sec. 4.4)")
        vote(["random"], 0.5, f"random is not drawn to copies ({rate:.0%} of the pool has one)")
        vote(uncertainty, -2.0,
             f"plain top-k uncertainty takes every copy of an uncertain point: {rate:.0%} of the pool has a "
             f"near copy (entropy fell below random at 20x redundancy, paper Sec. 4.4)")
    else:
        vote(["badge"] + uncertainty, 2.0,
             f"only {rate:.1%} of the pool has a near copy, so uncertainty is competitive with BADGE "
             f"(paper Sec. 4.1) and far cheaper to select")
    if bpc < SMALL_PER_CLASS:
        vote(["random", "typiclust"], 3.0,
             f"{either(['random', 'typiclust'])} for very small budgets: budget/classes = {bpc:.1f} < {SMALL_PER_CLASS}, "
             f"a model trained on so few labels gives unreliable uncertainty")
        vote(["kmeans"], 2.0, f"k-means picks typical, spread-out points when budget/classes = {bpc:.1f} "
                              f"< {SMALL_PER_CLASS}")
        vote(["badge", "power_entropy"] + uncertainty, -1.5,
             f"uncertainty of a model trained on {bpc:.1f} labels per class is unreliable")


def _pool_votes(figs: dict, vote: Callable) -> None:
    """The rules of `_rank` on the pool: budget share of the pool, cluster balance and selection cost."""
    ppb = figs["pool_per_budget"]
    if ppb < SMALL_POOL_RATIO or (figs["labeled_share"] or 0.0) >= 0.5:
        share = f"{1 / ppb:.0%} of the pool per round" if ppb < SMALL_POOL_RATIO else \
            f"{figs['labeled_share']:.0%} of the pool by the end"
        vote(["random"], 1.0, f"random is the baseline to beat: the budget takes {share}, where strategies "
                              f"differ little")
    # copies form tight clusters of their own, so the balance proxy is read only on a pool without them
    uneven = figs["cluster_max_min"] > IMBALANCE_MAX_MIN or figs["cluster_entropy"] < IMBALANCE_ENTROPY
    if uneven and not figs["redundant"]:
        reason = (f"cluster sizes are uneven (max/min {figs['cluster_max_min']:.1f} > {IMBALANCE_MAX_MIN} or "
                  f"entropy {figs['cluster_entropy']:.2f} < {IMBALANCE_ENTROPY}): diversity reaches small "
                  f"clusters that random draws rarely hit")
        vote(["badge", "kmeans"], 1.0, reason)
        vote(["random"], -1.0, reason)
    if figs["n_pool"] * figs["budget"] > LARGE_SELECTION:
        cost = f"{figs['n_pool']:,} x {figs['budget']:,} = {figs['n_pool'] * figs['budget']:.1e}"
        vote(["partitioned", "power_entropy"], 1.5,
             f"pool x budget = {cost}: BADGE's k-means++ grows with both, partitioned BADGE (the paper's "
             f"CIFAR-100 setting) or power sampling keep selection cheap")
        vote(["badge"], -1.0, f"selection cost grows with pool x budget = {cost}")


def advise(splits: Splits, budget: int, model=None, n_rounds: int | None = None, seed: int = 0,
           sample: int = SAMPLE, dim: int = DIM, ratio: float = NEAR_RATIO,
           device: torch.device | str = "cpu") -> Advice:
    """Measure the pool of `splits` (module doc: (a) near-duplicate rate, (b) class-balance proxy,
    (c) pool-to-budget ratio, (d) input size) and rank the registered strategies for `budget` labels
    per round (and `n_rounds` rounds, when given).

    model: when given, features are model.embed (run on `device`); otherwise the shift-tolerant pixel
    features. seed: the sample, projection and k-means draws. sample: pool points measured (a seeded
    sample when the pool is larger). Raises ValueError for budget outside [1, n_pool], n_rounds < 1 or
    budget x n_rounds > n_pool, sample < 2, ratio <= 0."""
    from .strategies import STRATEGIES
    n = splits.n_train
    if n < 2:
        raise ValueError(f"the pool has {n} points; allowed: at least 2")
    budget = _check_int("budget", budget, 1, n, f"labels per round, at most the {n} pool points")
    if n_rounds is not None:
        n_rounds = _check_int("n_rounds", n_rounds, 1, n // budget,
                              f"budget {budget} x n_rounds must fit in the {n} pool points")
    sample = _check_int("sample", sample, 2, 10 ** 9, "pool points to measure")
    if not ratio > 0:
        raise ValueError(f"ratio={ratio!r} is invalid; allowed: a number > 0")
    gen = torch.Generator().manual_seed(seed)

    feats, test, space = _advice_features(splits, model, dim, seed, device)

    pos = torch.randperm(n, generator=gen)[:sample].sort().values if n > sample else torch.arange(n)
    dist, _ = nearest_neighbours(feats[pos.to(feats.device)], feats, exclude=pos)
    reference, source = _reference_nn(feats, test, dist, sample, gen, device)
    rate = near_copy_rate(dist.cpu(), reference, ratio)
    _, inverse = _unique_rows(splits.x_train)
    exact = float((torch.bincount(inverse)[inverse] > 1).double().mean())

    sizes = cluster_sizes(feats[pos.to(feats.device)].cpu(), splits.n_classes, gen)
    max_min, entropy = cluster_balance(sizes)
    figs = dict(near_duplicate_rate=rate, redundant=rate >= FLAG_RATE, budget_per_class=budget / splits.n_classes,
                pool_per_budget=n / budget, labeled_share=None if n_rounds is None else budget * n_rounds / n,
                cluster_max_min=max_min, cluster_entropy=entropy, n_pool=n, budget=budget)
    return Advice(
        dataset=splits.name, n_pool=n, n_classes=splits.n_classes, input_shape=tuple(splits.x_train.shape[1:]),
        budget=budget, n_rounds=n_rounds, feature_space=space, n_measured=len(pos), reference_nn=reference,
        reference_source=source, near_ratio=ratio, near_duplicate_rate=rate, exact_duplicate_rate=exact,
        redundant=figs["redundant"], cluster_sizes=tuple(sizes), cluster_max_min=max_min,
        cluster_entropy=entropy, pool_per_budget=n / budget, budget_per_class=budget / splits.n_classes,
        labeled_share=figs["labeled_share"], recommendations=_rank(figs, set(STRATEGIES)),
    )


def _advice_features(splits: Splits, model, dim: int, seed: int,
                     device: torch.device | str) -> tuple[Tensor, Tensor, str]:
    """(pool features on device, test features, a description of the feature space) for `advise`."""
    if model is None:
        feats = pixel_features(splits.x_train, splits.info, dim, seed)
        test = pixel_features(splits.x_test, splits.info, dim, seed)
        space = f"log|DFT| of normalised pixels, random projection to {dim} dims"
    else:
        feats = model_features(model, splits.x_train, splits.info, device)
        test = model_features(model, splits.x_test, splits.info, device)
        space = f"model.embed ({feats.shape[1]} dims)"
    return feats.to(device), test, space


def _reference_nn(feats: Tensor, test: Tensor, dist: Tensor, sample: int, gen: torch.Generator,
                  device: torch.device | str) -> tuple[float, str]:
    """The typical nearest-neighbour distance (test split, else the pool sample's dist) and its source."""
    if len(test) >= MIN_REFERENCE:
        tpos = torch.randperm(len(test), generator=gen)[:sample] if len(test) > sample else torch.arange(len(test))
        reference = float(nearest_neighbours(test[tpos].to(device), feats)[0].median())
        source = f"median over {len(tpos)} test images"
    else:
        reference = float(dist.median())
        source = (f"median over the pool sample: the test split has {len(test)} < {MIN_REFERENCE} images, "
                  f"and copies shrink this median, so a heavily redundant pool is under-reported")
    return reference, source


def advisor_table(splits_by_name: Mapping[str, Splits], budget: int, **kwargs) -> pd.DataFrame:
    """One row per pool variant ({name: Splits}): the figures `advise(splits, budget, **kwargs)` measures
    and its top three strategies, indexed by the variant's name."""
    rows = [dict(variant=name, **advise(s, budget, **kwargs).row()) for name, s in splits_by_name.items()]
    return pd.DataFrame(rows).set_index("variant")
