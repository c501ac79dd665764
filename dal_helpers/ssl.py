"""Semi-supervised training with FixMatch (Sohn et al., NeurIPS 2020) inside the AL loop.

Recent evaluations report that once training also uses the unlabeled pool, the gain of active learning
over random sampling shrinks. `train_fixmatch` lets a run check this: each optimiser step takes a
labeled batch of B images (weakly augmented, cross-entropy on their labels) and an unlabeled batch of
mu * B images drawn from the current pool (never the test split). The model's prediction on a weak
view of each unlabeled image is its pseudo-label when the top probability reaches the threshold tau;
the loss on a strong view of the same image is the cross-entropy to that pseudo-label, masked by the
threshold and averaged over all mu * B images, and weighted by lambda:

    loss = CE(labeled) + lambda * mean_u[ 1{max p_weak(u) >= tau} * CE(strong(u), argmax p_weak(u)) ]

Weak view: random crop from 4-pixel padding, plus a horizontal flip where the data set allows it
(`data.augment`). Strong view (`strong_augment`): two operations per image drawn uniformly from a
RandAugment-style list (identity, autocontrast, brightness, contrast, solarize, posterize, rotate,
shear x/y, translate x/y), each at a random magnitude, then a cutout square of half the image side, as
in FixMatch's RandAugment variant. Every operation is a batched tensor operation on the device, with
per-image parameters drawn from the run's generator.

Stopping: FixMatch has no training-accuracy cut-off (its loss keeps using the pool), so a round runs
a fixed number of optimiser steps scaled to the labeled-set size: cfg.max_epochs passes over the
labeled set, ceil(n_labeled / batch_size) steps each, with the SGD cosine schedule over those
passes. Defaults of tau = 0.95, mu = 7 and lambda = 1 are FixMatch's (Sec. 4 of the paper).
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data import DatasetInfo, augment
from .inference import autocast, prepare_model

STRONG_OPS = ("identity", "autocontrast", "brightness", "contrast", "solarize", "posterize", "rotate",
              "shear_x", "shear_y", "translate_x", "translate_y")


def fixmatch_unlabeled_loss(logits_weak: Tensor, logits_strong: Tensor, threshold: float) -> tuple[Tensor, Tensor]:
    """FixMatch's unlabeled term and its mask.

    logits_weak, logits_strong: (U, C) for the weak and strong views of the same U images. Pseudo-labels
    are argmax softmax(logits_weak) (no gradient through them); images whose top probability is below
    `threshold` are masked out. Returns (loss, mask): loss = sum over kept images of CE(strong, pseudo)
    divided by U (all images, kept or not, as in FixMatch), mask (U,) bool."""
    probs = logits_weak.detach().float().softmax(1)
    conf, pseudo = probs.max(1)
    mask = conf >= threshold
    ce = F.cross_entropy(logits_strong.float(), pseudo, reduction="none")
    return (ce * mask).sum() / max(len(ce), 1), mask


def _rand(n: int, gen: torch.Generator, device) -> Tensor:
    return torch.rand(n, generator=gen, device=gen.device).to(device)


def strong_augment(x: Tensor, gen: torch.Generator) -> Tensor:
    """RandAugment-style strong view of uint8 images x (N, C, H, W): two random operations per image at
    random magnitudes, then a cutout of half the image side at a random position (filled with grey).
    Batched: each operation is computed for the whole batch and kept where an image drew it."""
    n, c, h, w = x.shape
    dev = x.device
    img = x.float() / 255.0
    for _ in range(2):
        op = torch.randint(0, len(STRONG_OPS), (n,), generator=gen, device=gen.device).to(dev)
        mag = _rand(n, gen, dev)                                   # magnitude in [0, 1) per image
        img = _apply_ops(img, op, mag)
    # Cutout: a square of side h/2 centred at a random pixel, clipped at the borders.
    side = max(1, h // 2)
    cy = torch.randint(0, h, (n,), generator=gen, device=gen.device).to(dev)
    cx = torch.randint(0, w, (n,), generator=gen, device=gen.device).to(dev)
    rows = torch.arange(h, device=dev)[None, :]
    cols = torch.arange(w, device=dev)[None, :]
    top, left = cy[:, None] - side // 2, cx[:, None] - side // 2
    in_r = (rows >= top) & (rows < top + side)
    in_c = (cols >= left) & (cols < left + side)
    hole = (in_r[:, :, None] & in_c[:, None, :])[:, None]
    img = torch.where(hole, torch.full_like(img, 0.5), img)
    return (img.clamp(0, 1) * 255).round().to(torch.uint8)


def _apply_ops(img: Tensor, op: Tensor, mag: Tensor) -> Tensor:
    n = img.shape[0]
    v = mag.view(n, 1, 1, 1)
    flat = img.flatten(1)
    lo, hi = flat.min(1).values.view(n, 1, 1, 1), flat.max(1).values.view(n, 1, 1, 1)
    mean = flat.mean(1).view(n, 1, 1, 1)
    q = 2.0 ** (4 - (4 * v).floor())                              # posterize step: 16, 8, 4 or 2 levels of 255
    outs = {
        "identity": img,
        "autocontrast": (img - lo) / (hi - lo).clamp_min(1e-6),
        "brightness": img * (0.05 + 1.9 * v),                      # factor in [0.05, 1.95]
        "contrast": mean + (img - mean) * (0.05 + 1.9 * v),
        "solarize": torch.where(img >= v, 1.0 - img, img),         # threshold in [0, 1)
        "posterize": torch.floor(img * 255 / q) * q / 255,        # keep 4 to 7 of the 8 bits
    }
    out = img.clone()
    for k, name in enumerate(STRONG_OPS):
        sel = op == k
        if not bool(sel.any()):
            continue
        if name in outs:
            out[sel] = outs[name][sel]
        else:
            out[sel] = _affine(img[sel], name, mag[sel])
    return out


def _affine(img: Tensor, name: str, mag: Tensor) -> Tensor:
    """Rotation by up to +-30 degrees, shear by up to +-0.3, or translation by up to +-30% of the side,
    sign drawn from the magnitude's position (mag < 0.5: negative), grey fill outside the image."""
    n = img.shape[0]
    s = (2 * mag - 1)                                            # in [-1, 1)
    theta = torch.zeros(n, 2, 3, device=img.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    if name == "rotate":
        a = s * math.radians(30)
        theta[:, 0, 0], theta[:, 0, 1] = torch.cos(a), -torch.sin(a)
        theta[:, 1, 0], theta[:, 1, 1] = torch.sin(a), torch.cos(a)
    elif name == "shear_x":
        theta[:, 0, 1] = 0.3 * s
    elif name == "shear_y":
        theta[:, 1, 0] = 0.3 * s
    elif name == "translate_x":
        theta[:, 0, 2] = 0.6 * s                                   # grid units: 2 = the whole side
    else:
        theta[:, 1, 2] = 0.6 * s
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    moved = F.grid_sample(img - 0.5, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return moved + 0.5


def ssl_steps(cfg, n_labeled: int) -> tuple[int, int]:
    """(passes, steps per pass) of a FixMatch round on n_labeled points: cfg.max_epochs passes of
    ceil(n_labeled / batch_size) steps (at least one of each)."""
    per = max(1, math.ceil(n_labeled / cfg.batch_size))
    return max(1, cfg.max_epochs), per


def train_fixmatch(model: nn.Module, x: Tensor, y: Tensor, x_pool: Tensor, cfg, gen: torch.Generator, *,
                   info: DatasetInfo, device: torch.device | str | None = None, progress: bool | str = False,
                   desc: str = "train"):
    """Train `model` in place with FixMatch on labeled uint8 images x (N, C, H, W), labels y (N,), and
    the unlabeled pool images x_pool (M, C, H, W) (the AL pool minus the labeled points; the caller
    never passes test images). Same contract as `training.train` (returns its TrainStats; `stop` is
    "ssl_steps"; `history` holds the per-pass fraction of unlabeled images above the threshold)."""
    from .training import TrainStats, _seed_from, finish, make_optimizer, progress_bar, rng_fork_devices

    device = torch.device(device) if device is not None else x.device
    t0 = time.perf_counter()
    stats = TrainStats(n_train=len(y))
    if len(y) == 0:
        return stats
    model = prepare_model(model, device)
    x, y, x_pool = x.to(device), y.to(device), x_pool.to(device)
    passes, per = ssl_steps(cfg, len(y))
    opt, sched = make_optimizer(model, cfg, passes)
    mean = torch.tensor(info.mean, device=device, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(info.std, device=device, dtype=torch.float32).view(1, -1, 1, 1)
    norm = lambda t: (t.float() / 255.0 - mean) / std  # noqa: E731
    bar = progress_bar(passes, desc, progress)
    with torch.random.fork_rng(devices=rng_fork_devices(device)):
        torch.manual_seed(_seed_from(gen))
        model.train()
        for p in range(passes):
            correct, kept, loss_sum, seen, n_u = _fixmatch_pass(model, opt, x, y, x_pool, norm, per, cfg, info,
                                                                gen, device)
            loss_mean = float(loss_sum) / seen
            if not math.isfinite(loss_mean):
                if bar is not None:
                    bar.close()
                raise FloatingPointError(f"FixMatch loss is {loss_mean} in pass {p + 1} at learning rate "
                                         f"{opt.param_groups[0]['lr']:g}; lower cfg.lr")
            if sched is not None:
                sched.step()
            acc = float(correct) / seen
            stats.epochs, stats.train_acc, stats.loss = p + 1, acc, loss_mean
            stats.n_seen += seen + 2 * n_u
            stats.history.append(float(kept) / n_u if n_u else math.nan)
            if bar is not None:
                bar.set_postfix_str(f"train acc {100 * acc:.1f}% loss {loss_mean:.3f} "
                                    f"pseudo-labels kept {100 * stats.history[-1]:.0f}%", refresh=False)
                bar.update(1)
    stats.stop = "ssl_steps"
    return finish(stats, bar, device, t0)


def _fixmatch_pass(model: nn.Module, opt: torch.optim.Optimizer, x: Tensor, y: Tensor, x_pool: Tensor, norm,
                   per: int, cfg, info: DatasetInfo, gen: torch.Generator,
                   device: torch.device) -> tuple[Tensor, Tensor, Tensor, int, int]:
    """One pass of `per` FixMatch steps over a fresh order of the labeled set. Returns (correct, kept,
    loss_sum, seen, n_u): device tensors of correct labeled predictions, kept pseudo-labels and summed
    labeled-weighted loss, and the counts of labeled and unlabeled images seen."""
    b, mu = cfg.batch_size, cfg.ssl_mu
    perm = torch.randperm(len(y), generator=gen).to(device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    kept = torch.zeros((), dtype=torch.long, device=device)
    loss_sum = torch.zeros((), dtype=torch.float32, device=device)
    seen = n_u = 0
    for k in range(per):
        idx = perm[(k * b) % len(y):][:b]
        if len(idx) < b:                                      # wrap: every batch has B labeled images
            idx = torch.cat([idx, perm[:b - len(idx)]])
        batch = _fixmatch_batch(x[idx], x_pool, mu * b, info.hflip, gen, device)
        with autocast(device, cfg.precision):
            out = model(norm(batch))
            out_l = out[:len(idx)]
            loss = F.cross_entropy(out_l, y[idx])
            if len(x_pool):
                lu, mask = fixmatch_unlabeled_loss(out[len(idx):len(idx) + mu * b], out[len(idx) + mu * b:],
                                                   cfg.ssl_threshold)
                loss = loss + cfg.ssl_weight * lu
                kept += mask.sum()
                n_u += mu * b
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        correct += (out_l.argmax(1) == y[idx]).sum()
        loss_sum += loss.detach().float() * len(idx)
        seen += len(idx)
    return correct, kept, loss_sum, seen, n_u


def _fixmatch_batch(x_lab: Tensor, x_pool: Tensor, n_unlabeled: int, hflip: bool, gen: torch.Generator,
                    device: torch.device) -> Tensor:
    """One step's images: weak views of x_lab, then (with a pool) weak and strong views of n_unlabeled
    pool images drawn with replacement, concatenated in that order."""
    xl = augment(x_lab, gen, pad=4, hflip=hflip)
    if not len(x_pool):
        return xl
    u = torch.randint(0, len(x_pool), (n_unlabeled,), generator=gen).to(device)
    xu = x_pool[u]
    xw, xs = augment(xu, gen, pad=4, hflip=hflip), strong_augment(xu, gen)
    return torch.cat([xl, xw, xs])
