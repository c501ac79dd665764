"""Training one round of an active-learning run: the paper's optimiser, stopping rule, augmentation,
SWA and GRAD-MATCH subsets, over whole uint8 tensors on the device.

`train(model, x, y, cfg, gen, info=...)` runs the paper's recipe (Sec. 4, App. A): SGD (momentum 0.9,
weight decay 5e-4, cosine annealing with T_max = max_epochs) or Adam (betas 0.9/0.999, no weight decay);
it stops when the training accuracy reaches `cfg.train_acc_cutoff`, after `cfg.max_epochs` epochs, or
when the training accuracy has not improved for `cfg.patience` epochs (`saturated`: by default the
paper's toolkit's reading, no epoch in the last `patience` beating an earlier one of that window by
`cfg.min_improvement`; `cfg.patience_rule="best"` for "no new best for `patience` epochs"). The hot path is a bare
forward/backward/step loop: one `randperm` per epoch from the run's generator, the epoch's images
gathered and augmented (random crop from 4-pixel padding, horizontal flip where the data set allows)
as a few batched tensor ops, normalisation per mini-batch, accuracy and loss accumulated on the device
and read once per epoch. On CUDA it runs under bf16 autocast with channels_last. Options: SWA
(App. C, `torch.optim.swa_utils`) and GRAD-MATCH data subset selection (Killamsetty et al. 2021,
Sec. 4.8 / App. F) with orthogonal matching pursuit on last-layer gradients (`gradmatch_subset`).
`evaluate` is eval-mode accuracy in large batches under inference mode.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .data import DatasetInfo, augment
from .inference import accuracy, autocast, predict, prepare_model

# Augmenting the epoch's images in chunks bounds the temporary int64 index tensors of the gather.
_AUG_CHUNK = 8192
# Ridge term of GRAD-MATCH's least-squares weights (CORDS' default lambda for OMP).
GRADMATCH_LAMBDA = 0.5


@dataclass
class TrainStats:
    """What one call of `train` did.

    epochs: epochs run; train_acc: training accuracy of the last epoch (running mini-batch accuracy
    or eval-mode accuracy, per cfg.train_acc_mode); seconds: wall time (CUDA-synchronised);
    n_train: labeled points given; n_seen: examples passed through the optimiser in all;
    loss: mean training loss of the last epoch; swa_epochs: epochs averaged by SWA (0 = off);
    dss: whether GRAD-MATCH subsets were used; n_subsets: how many subsets were chosen;
    stop: why training ended ("cutoff", "max_epochs", "step_budget", "patience", "empty"); history: train_acc per epoch.
    """
    epochs: int = 0
    train_acc: float = math.nan
    seconds: float = 0.0
    n_train: int = 0
    n_seen: int = 0
    loss: float = math.nan
    swa_epochs: int = 0
    dss: bool = False
    n_subsets: int = 0
    stop: str = "empty"
    history: list[float] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Progress: a tqdm bar in a terminal or live notebook, plain lines elsewhere (papermill, logs)
# --------------------------------------------------------------------------------------------------

class _Lines:
    """tqdm-like progress that prints a plain line every `every` updates and at close, to `stream`
    (None: the current sys.stdout)."""

    def __init__(self, total: int, desc: str, every: int = 10, stream=None) -> None:
        self.total, self.desc, self.every, self.n, self.post = total, desc, every, 0, ""
        self.stream = stream

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        """Sets the text shown after the counter on later lines; `refresh` is ignored (tqdm compatibility)."""
        self.post = s

    def update(self, k: int = 1) -> None:
        """Advances the counter by k and prints a line each time it reaches a multiple of `every`."""
        self.n += k
        if self.n % self.every == 0:
            self._print()

    def _print(self) -> None:
        print(f"{self.desc}: epoch {self.n}/{self.total} {self.post}", file=self.stream or sys.stdout, flush=True)

    def close(self) -> None:
        """Prints a final line unless the last update already printed one (always when nothing was counted)."""
        if self.n % self.every != 0 or self.n == 0:
            self._print()


def _in_notebook_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


PROGRESS_MODES = ("auto", "bar", "lines", "terminal", "off")


def progress_bar(total: int, desc: str, enabled: bool | str = True):
    """A progress object with update/set_postfix_str/close, or None when disabled.

    enabled: False (none), True (auto), "bar" (tqdm), "lines" (plain lines on stdout) or "terminal"
    (plain lines on the process's own stderr: in a notebook kernel run by papermill or dal-grid they
    show live in the terminal that started it and stay out of the executed notebook and its report).
    Auto picks a tqdm bar when stderr is a terminal, a notebook widget in a live kernel with ipywidgets,
    and plain lines otherwise. The environment variable DAL_PROGRESS=auto|bar|lines|terminal|off
    overrides auto; ci/quickstart.sh and dal-grid set it to terminal."""
    if enabled is False:
        return None
    mode = enabled if isinstance(enabled, str) else os.environ.get("DAL_PROGRESS", "auto")
    if mode not in PROGRESS_MODES:
        raise ValueError(f"progress={mode!r} is invalid; allowed: True, False, 'bar', 'lines', 'terminal' "
                         f"(or DAL_PROGRESS={'|'.join(PROGRESS_MODES)})")
    if mode == "off":
        return None
    if mode == "lines":
        return _Lines(total, desc)
    if mode == "terminal":
        return _Lines(total, desc, stream=sys.__stderr__ or sys.stderr)
    if mode == "bar" or sys.stderr.isatty():
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, leave=False)
    if _in_notebook_kernel():
        try:
            import ipywidgets  # noqa: F401  (tqdm.notebook needs it)
            from tqdm.notebook import tqdm as ntqdm
            return ntqdm(total=total, desc=desc, leave=False)
        except ImportError:
            pass
    return _Lines(total, desc)


# --------------------------------------------------------------------------------------------------
# GRAD-MATCH: a weighted subset whose last-layer gradient matches the full set's (OMP)
# --------------------------------------------------------------------------------------------------

def last_layer_grad_factors(logits: Tensor, emb: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Factors of the per-sample cross-entropy gradient w.r.t. the head (weight and bias).

    logits: (N, C), emb: (N, D), y: (N,). The gradient of sample i is the outer product
    g_i e_i^T with g = softmax(logits) - onehot(y): (N, C) and e = [emb, 1]: (N, D + 1); it is never
    formed, since <g_i e_i^T, g_j e_j^T> = (g_i . g_j)(e_i . e_j)."""
    g = logits.float().softmax(1)
    g[torch.arange(len(y), device=g.device), y] -= 1.0
    e = torch.cat([emb.float(), torch.ones(len(emb), 1, device=emb.device)], 1)
    return g, e


def omp_match(g: Tensor, e: Tensor, k: int, lam: float = GRADMATCH_LAMBDA, tol: float = 1e-10) -> tuple[Tensor, Tensor]:
    """Orthogonal matching pursuit with non-negative selection over the atoms G_i = g_i e_i^T.

    g: (n, C), e: (n, D'); target b = sum_i G_i. Greedily adds the atom most positively correlated with
    the residual r = b - sum_{j in S} w_j G_j, then refits w on S by ridge least squares
    (K_SS + lam I) w = <G_S, b>, with K_ij = <G_i, G_j>. Stops at k atoms, when no atom correlates
    positively, or when ||r||^2 <= tol ||b||^2. Memory O(n k): only the chosen columns of K are formed.
    Returns (indices (m,), weights (m,) clamped at >= 0), m <= k, in selection order."""
    n = len(g)
    dev = g.device
    k = min(k, n)
    if k <= 0 or n == 0:
        return torch.empty(0, dtype=torch.long, device=dev), torch.empty(0, device=dev)
    b = g.t() @ e                                  # (C, D'): the summed gradient
    gb = ((g @ b) * e).sum(1).double()             # <G_i, b> = g_i^T B e_i
    bb = float((b.double() ** 2).sum())
    cols = torch.empty(n, 0, dtype=torch.float64, device=dev)
    chosen: list[int] = []
    w = torch.empty(0, dtype=torch.float64, device=dev)
    taken = torch.zeros(n, dtype=torch.bool, device=dev)
    while len(chosen) < k:
        corr = gb - cols @ w
        corr = corr.masked_fill(taken, -math.inf)
        j = int(torch.argmax(corr))
        if not corr[j] > 0:
            break
        chosen.append(j)
        taken[j] = True
        kj = ((g @ g[j]) * (e @ e[j])).double()    # K[:, j]
        cols = torch.cat([cols, kj[:, None]], 1)
        idx = torch.tensor(chosen, device=dev)
        kss = cols[idx]                            # (m, m)
        w = torch.linalg.solve(kss + lam * torch.eye(len(chosen), dtype=torch.float64, device=dev), gb[idx])
        resid = bb - 2 * float(w @ gb[idx]) + float(w @ kss @ w)
        if resid <= tol * bb:
            break
    return torch.tensor(chosen, dtype=torch.long, device=dev), w.clamp_min(0).float()


def gradmatch_subset(model: nn.Module, x: Tensor, y: Tensor, fraction: float, info: DatasetInfo,
                     device: torch.device, gen: torch.Generator, batch_size: int = 1024,
                     n_classes: int | None = None) -> tuple[Tensor, Tensor]:
    """GRAD-MATCH subset (per class, as the paper's configuration): for every class c with n_c points,
    OMP picks round(fraction * n_c) (at least 1) points whose weighted last-layer gradients match the
    class's summed gradient; when OMP stops early the rest is filled with random points of the class
    (drawn from gen) weighted by the mean OMP weight. Gradients come from an eval-mode, un-augmented pass.

    x: (N, C, H, W) uint8, y: (N,). Returns (indices (M,) into x, weights (M,) float, mean 1)."""
    logits, emb = predict(model, x, info, device, batch_size, embeddings=True)
    yd = y.to(logits.device)
    g, e = last_layer_grad_factors(logits, emb, yd)
    n_classes = n_classes or logits.shape[1]
    all_idx, all_w = [], []
    for c in range(n_classes):
        members = (yd == c).nonzero().squeeze(1)
        if len(members) == 0:
            continue
        k = max(1, int(round(fraction * len(members))))
        sel, w = omp_match(g[members], e[members], k)
        if len(sel) < k:
            rest = torch.ones(len(members), dtype=torch.bool, device=members.device)
            rest[sel] = False
            rest_idx = rest.nonzero().squeeze(1)
            extra = rest_idx[torch.randperm(len(rest_idx), generator=gen)[: k - len(sel)].to(rest_idx.device)]
            fill = float(w[w > 0].mean()) if bool((w > 0).any()) else 1.0
            sel = torch.cat([sel, extra])
            w = torch.cat([w, torch.full((len(extra),), fill, device=w.device)])
        all_idx.append(members[sel])
        all_w.append(w)
    idx = torch.cat(all_idx)
    w = torch.cat(all_w)
    if float(w.sum()) <= 0:
        w = torch.ones_like(w)
    return idx, w * (len(w) / w.sum())


# --------------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------------

def make_optimizer(model: nn.Module, cfg, t_max: int | None = None) -> tuple[torch.optim.Optimizer, object | None]:
    """The paper's optimiser and (for SGD) its cosine schedule with T_max = t_max epochs (default
    cfg.max_epochs), stepped per epoch."""
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=t_max or cfg.max_epochs)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), weight_decay=0.0), None
    raise ValueError(f"optimizer={cfg.optimizer!r} is invalid; allowed: sgd, adam")


def batch_bounds(n: int, batch_size: int) -> list[tuple[int, int]]:
    """Mini-batch (start, stop) pairs over n examples. A trailing batch of one example joins the previous
    batch, since BatchNorm cannot train on a single example."""
    bounds = [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2] = (bounds[-2][0], n)
        bounds.pop()
    return bounds


def epoch_cap(cfg, n: int) -> int:
    """Epochs a round on n labeled points may run: cfg.max_epochs, or fewer under cfg.step_budget
    (optimiser steps per round), ceil(step_budget / batches per epoch), at least 1."""
    if cfg.step_budget is None:
        return cfg.max_epochs
    steps = max(len(batch_bounds(n, cfg.batch_size)), 1)
    return max(1, min(cfg.max_epochs, math.ceil(cfg.step_budget / steps)))


def step_module(model: nn.Module, cfg, device: torch.device) -> nn.Module:
    """What the hot path calls: `model`, or with cfg.compile_model torch.compile(model) (CUDA: CUDA
    graphs through mode="reduce-overhead", which removes the per-kernel launch cost of small batches).
    The compiled module shares parameters with `model`; its numerics differ from eager in the last bits."""
    if not cfg.compile_model:
        return model
    mode = "reduce-overhead" if device.type == "cuda" else "default"
    return torch.compile(model, mode=mode)


def _augment_all(x: Tensor, gen: torch.Generator, hflip: bool) -> Tensor:
    return torch.cat([augment(x[s:s + _AUG_CHUNK], gen, pad=4, hflip=hflip) for s in range(0, len(x), _AUG_CHUNK)])


def _update_bn(model: nn.Module, x: Tensor, info: DatasetInfo, device: torch.device, batch_size: int) -> None:
    """Recompute BatchNorm statistics of the SWA weights over the un-augmented training images."""
    from torch.optim.swa_utils import update_bn

    from .inference import batches
    update_bn(batches(x, info, device, batch_size), model)


def _seed_from(gen: torch.Generator) -> int:
    return int(torch.randint(0, 2**62, (1,), generator=gen))


def saturated(history: list[float], patience: int, min_improvement: float = 0.001, rule: str = "window") -> bool:
    """Has the training accuracy stopped improving? history: per-epoch accuracies, oldest first.

    rule="window" (default; the paper's toolkit): the last `patience` accuracies hold no pair i < j with
    acc[j] - acc[i] >= min_improvement, i.e. nothing in the window improved on anything before it. With
    the noisy running accuracy of dropout and augmentation this fires only on a real plateau.
    rule="best": none of the last `patience` epochs set a new best (by more than 0) over all earlier ones."""
    if len(history) < patience or (rule == "best" and len(history) <= patience):
        return False
    if rule == "best":
        return max(history[-patience:]) <= max(history[:-patience])
    if rule != "window":
        raise ValueError(f"rule={rule!r} is invalid; allowed: window, best")
    lowest = math.inf
    for acc in history[-patience:]:
        if acc - lowest >= min_improvement:
            return False
        lowest = min(lowest, acc)
    return True


def train(model: nn.Module, x: Tensor, y: Tensor, cfg, gen: torch.Generator, *, info: DatasetInfo,
          device: torch.device | str | None = None, use_dss: bool | None = None,
          progress: bool | str = False, desc: str = "train") -> TrainStats:
    """Train `model` in place on uint8 images x (N, C, H, W) with int64 labels y (N,), per `cfg`.

    gen: CPU torch.Generator; the only source of randomness (shuffles, augmentation, GRAD-MATCH fills,
    and, through a seed drawn from it, dropout and shake-shake noise). info: normalisation and whether
    horizontal flips keep labels. device: where to train (default: x's device); x and y are moved
    there once. use_dss: GRAD-MATCH subsets this call (default cfg.dss; the loop turns it off on
    full-training rounds). Runs at most cfg.max_epochs epochs (the paper's toolkit stops one earlier,
    at max_epochs - 1), fewer under cfg.step_budget (`epoch_cap`). The step never waits on the device:
    accuracy and loss accumulate in device tensors read once per epoch. Raises FloatingPointError naming the epoch and learning rate when the loss
    becomes NaN or infinite (checked once per epoch, so the hot path never waits on the device)."""
    device = torch.device(device) if device is not None else x.device
    t0 = time.perf_counter()
    stats = TrainStats(n_train=len(y), dss=bool(cfg.dss if use_dss is None else use_dss))
    if len(y) == 0:
        return stats
    if x.dtype != torch.uint8 or x.dim() != 4 or y.shape != (len(x),):
        raise ValueError(f"x must be uint8 (N, C, H, W) and y (N,); got {x.dtype} {tuple(x.shape)} and {tuple(y.shape)}")
    model = prepare_model(model, device)
    x = x.to(device)
    y = y.to(device)
    n_epochs = epoch_cap(cfg, len(y))
    opt, sched = make_optimizer(model, cfg, n_epochs)
    net = step_module(model, cfg, device)
    use_dss = stats.dss
    # Built once: a per-batch torch.tensor(...) on CUDA would be a blocking host-to-device copy.
    mean = torch.tensor(info.mean, device=device, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(info.std, device=device, dtype=torch.float32).view(1, -1, 1, 1)

    # Dropout and shake-shake draw from torch's global generator; seed it from `gen` inside a fork so
    # the round is reproducible and the caller's global RNG state is left as it was.
    fork_devices = rng_fork_devices(device)
    bar = progress_bar(n_epochs, desc, progress)
    swa = _Swa()
    sub = (None, None)  # GRAD-MATCH subset (positions, weights) of the current interval
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(_seed_from(gen))
        for epoch in range(n_epochs):
            if use_dss and epoch % cfg.dss_interval == 0:
                sub = gradmatch_subset(model, x, y, cfg.dss_fraction, info, device, gen, cfg.eval_batch_size)
                stats.n_subsets += 1
            acc, loss_mean = _train_epoch(model, net, opt, x, y, sub if use_dss else None, cfg, gen, info, device,
                                          mean, std, epoch, stats, bar)
            swa.end_epoch(model, opt, sched, cfg, acc, stats)
            if bar is not None:
                bar.set_postfix_str(f"train acc {100 * acc:.1f}% loss {loss_mean:.3f}", refresh=False)
                bar.update(1)
            stats.stop = _stop_reason(stats.history, cfg)
            if stats.stop:
                break
        else:
            stats.stop = "max_epochs" if n_epochs == cfg.max_epochs else "step_budget"
        if swa.model is not None:
            model.load_state_dict(swa.model.module.state_dict())
            _update_bn(model, x, info, device, cfg.eval_batch_size)
    return finish(stats, bar, device, t0)


def _train_epoch(model: nn.Module, net: nn.Module, opt: torch.optim.Optimizer, x: Tensor, y: Tensor, subset,
                 cfg, gen: torch.Generator, info: DatasetInfo, device: torch.device, mean: Tensor, std: Tensor,
                 epoch: int, stats: TrainStats, bar) -> tuple[float, float]:
    """One epoch of `train` over (x, y), or the GRAD-MATCH subset (positions, weights) when given; records
    it in stats and returns (training accuracy, mean loss). Raises FloatingPointError on a non-finite loss."""
    xa, ya, wa = _epoch_order(x, y, subset, cfg.augment, info.hflip, gen, device)
    correct, loss_sum = _epoch_steps(net, opt, xa, ya, wa, cfg, mean, std, device)
    m = len(ya)
    loss_mean = float(loss_sum) / m
    stats.n_seen += m
    if not math.isfinite(loss_mean):
        if bar is not None:
            bar.close()
        raise FloatingPointError(
            f"training loss is {loss_mean} in epoch {epoch + 1} at learning rate "
            f"{opt.param_groups[0]['lr']:g} (optimizer={cfg.optimizer}, batch_size={cfg.batch_size}); "
            "lower cfg.lr")
    if cfg.train_acc_mode == "eval":
        xs, ys = (x[subset[0]], y[subset[0]]) if subset is not None else (x, y)
        acc = accuracy(model, xs, ys, info, device, cfg.eval_batch_size)
    else:
        acc = float(correct) / m
    stats.epochs, stats.train_acc, stats.loss = epoch + 1, acc, loss_mean
    stats.history.append(acc)
    return acc, loss_mean


def _epoch_order(x: Tensor, y: Tensor, subset, augment: bool, hflip: bool, gen: torch.Generator,
                 device: torch.device) -> tuple[Tensor, Tensor, Tensor | None]:
    """One epoch's images, labels and (GRAD-MATCH) weights in a fresh random order, augmented when
    asked. subset: (positions, weights) of a GRAD-MATCH subset, shuffled so that the weights travel with
    their points; None: every point, weights None."""
    if subset is not None:
        sub_idx, sub_w = subset
        pos = torch.randperm(len(sub_idx), generator=gen).to(device)
        perm, wperm = sub_idx[pos], sub_w[pos]
    else:
        perm, wperm = torch.randperm(len(y), generator=gen).to(device), None
    xa, ya = x[perm], y[perm]
    if augment:
        xa = _augment_all(xa, gen, hflip)
    return xa, ya, wperm


def _epoch_steps(net, opt, xa: Tensor, ya: Tensor, wa: Tensor | None, cfg, mean: Tensor, std: Tensor,
                 device: torch.device) -> tuple[Tensor, Tensor]:
    """The optimiser steps of one epoch over (xa, ya) in cfg.batch_size batches (weighted cross-entropy
    when GRAD-MATCH weights wa are given). Returns (correct predictions, loss summed over examples) as
    device tensors, so that no step waits on the device."""
    correct = torch.zeros((), dtype=torch.long, device=device)
    loss_sum = torch.zeros((), dtype=torch.float32, device=device)
    net.train()
    for s, t in batch_bounds(len(ya), cfg.batch_size):
        xb = (xa[s:t].float() / 255.0 - mean) / std   # data.normalize, constants made once
        if device.type == "cuda":
            xb = xb.contiguous(memory_format=torch.channels_last)
        yb = ya[s:t]
        with autocast(device, cfg.precision):
            out = net(xb)
            if wa is not None:
                wb = wa[s:t]
                loss = (F.cross_entropy(out, yb, reduction="none") * wb).sum() / wb.sum().clamp_min(1e-12)
            else:
                loss = F.cross_entropy(out, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        correct += (out.argmax(1) == yb).sum()
        loss_sum += loss.detach().float() * (t - s)
    return correct, loss_sum


class _Swa:
    """Stochastic weight averaging of one training call: starts once the training accuracy reaches
    cfg.swa_start_acc (with cfg.swa), then averages the weights every epoch under the SWA schedule;
    before that (or without SWA) the run's own scheduler steps."""

    def __init__(self) -> None:
        self.model = self.sched = None

    def end_epoch(self, model: nn.Module, opt, sched, cfg, acc: float, stats: TrainStats) -> None:
        """Start averaging when due, fold this epoch's weights in, and step the scheduler in charge."""
        if cfg.swa and self.model is None and acc >= cfg.swa_start_acc:
            from torch.optim.swa_utils import SWALR, AveragedModel
            self.model = AveragedModel(model)
            self.sched = SWALR(opt, swa_lr=cfg.swa_lr, anneal_epochs=1, anneal_strategy="linear")
        if self.model is not None:
            self.model.update_parameters(model)
            self.sched.step()
            stats.swa_epochs += 1
        elif sched is not None:
            sched.step()


def _stop_reason(history: list[float], cfg) -> str:
    """"cutoff" when the last training accuracy reached cfg.train_acc_cutoff, "patience" when the
    stopping window saw too little improvement (`saturated`), "" to go on."""
    if history[-1] >= cfg.train_acc_cutoff:
        return "cutoff"
    if saturated(history, cfg.patience, cfg.min_improvement, cfg.patience_rule):
        return "patience"
    return ""


def finish(stats: TrainStats, bar, device: torch.device, t0: float) -> TrainStats:
    """End of a training call: close the progress bar, wait for the device, record the seconds since
    t0 (time.perf_counter) in stats.seconds. Returns stats."""
    if bar is not None:
        bar.close()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    stats.seconds = time.perf_counter() - t0
    return stats


def rng_fork_devices(device: torch.device) -> list[int]:
    """The CUDA devices whose generators torch.random.fork_rng must save and restore for a call on
    `device` (none on CPU)."""
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def evaluate(model: nn.Module, x: Tensor, y: Tensor, info: DatasetInfo, device: torch.device | str,
             batch_size: int = 1024) -> float:
    """Test accuracy (fraction in [0, 1]) of `model` on uint8 images x (N, C, H, W), eval mode, no augmentation."""
    return accuracy(model, x, y, info, device, batch_size)
