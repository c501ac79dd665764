"""How selection time and memory grow with the pool: timed strategy runs on synthetic pools of growing size.

`sweep(strategies, sizes)` times `strategies.select` for every (strategy, pool size N) on synthetic
model outputs, so that model inference is left out and only the selection math is measured (as
`bench/selection.py` does; that script is not importable from the package, so the few pieces needed
are written here). The synthetic outputs imitate a trained network: embeddings are ReLU'd class
centres plus variation on a 32-dimensional subspace plus a little isotropic noise, probabilities come
from a linear head on them, MC-dropout samples add logit noise. Every cache a strategy asks for is
filled before the clock starts. `fit_exponent` fits seconds ~ c N^k per strategy (least squares on
log-log), `plot_scaling` draws it, and `main` is the `dal-bench-select` command:

    dal-bench-select --strategies badge,coreset --sizes 1000,10000,100000 --device cpu --threads 1 --out DIR

Memory: the peak resident set size while a case runs minus the resident size before it (Linux resets
the peak through /proc/self/clear_refs; elsewhere it cannot be reset, and the row says so); on CUDA the
peak of torch.cuda.max_memory_allocated above what was allocated before.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import pandas as pd
import torch

# Strategies that need a real model or real images (perturbations, a VAE on pixels): no synthetic run.
NEEDS_MODEL = ("adversarial_deepfool", "adversarial_bim", "vaal")
SUBSPACE = 32          # dimensions of the within-class variation of the synthetic embeddings
N_VALIDATION = 500     # synthetic validation points (GLISTER)


# --------------------------------------------------------------------------------------------------
# Synthetic selection inputs
# --------------------------------------------------------------------------------------------------

def synthetic_outputs(n_pool: int, n_labeled: int, dim: int, n_classes: int, seed: int = 0,
                      n_validation: int = N_VALIDATION, mc: int = 0) -> dict:
    """Model outputs of a pretend trained network, float32 on CPU, drawn from a generator seeded with seed.

    Returns {"probs": (n_pool, C), "emb": (n_pool, D), "labeled_emb": (n_labeled, D), "labeled_logits":
    (n_labeled, C), "validation": (logits (V, C), emb (V, D), y (V,)), "mc_probs": (mc, n_pool, C) or None}."""
    g = torch.Generator().manual_seed(seed)
    total = n_pool + n_labeled + n_validation
    y = torch.randint(0, n_classes, (total,), generator=g)
    centres = torch.randn(n_classes, dim, generator=g) * 2.0
    basis = torch.linalg.qr(torch.randn(dim, min(SUBSPACE, dim), generator=g)).Q
    emb = (centres[y] + torch.randn(total, basis.shape[1], generator=g) @ basis.T * 3.0
           + 0.3 * torch.randn(total, dim, generator=g)).relu()
    w = torch.randn(dim, n_classes, generator=g) / dim ** 0.5
    logits = emb @ w * 2.0 + torch.nn.functional.one_hot(y, n_classes) * 2.0
    probs = torch.softmax(logits, 1)
    mcp = None
    if mc:
        mcp = torch.softmax(logits[:n_pool][None] + torch.randn(mc, n_pool, n_classes, generator=g), 2)
    a, b = n_pool, n_pool + n_labeled
    return {"probs": probs[:a], "emb": emb[:a], "labeled_emb": emb[a:b], "labeled_logits": logits[a:b],
            "validation": (logits[b:], emb[b:], y[b:]), "mc_probs": mcp}


def synthetic_context(n_pool: int, n_labeled: int, dim: int, n_classes: int, cfg=None,
                      device: torch.device | str = "cpu", seed: int = 0, mc: int = 0):
    """A SelectionContext over a pool of n_pool points (and n_labeled labeled ones) whose caches hold
    `synthetic_outputs(...)` on `device`, so a strategy runs without a model. The images are 1-pixel
    placeholders; the model is a stand-in dropout layer (only its dropout is looked at)."""
    from .config import RunConfig
    from .data import Splits
    from .strategies import SelectionContext
    cfg = RunConfig() if cfg is None else cfg
    dev = torch.device(device)
    out = synthetic_outputs(n_pool, n_labeled, dim, n_classes, seed, mc=mc)
    n = n_pool + n_labeled
    x = torch.zeros(n, 1, 1, 1, dtype=torch.uint8)
    y = torch.zeros(n, dtype=torch.int64)
    splits = Splits("mnist5k", x, y, x[:1], y[:1], tuple(str(i) for i in range(n_classes)))
    labeled_round = torch.full((n,), -1, dtype=torch.int64)
    labeled_round[n_pool:] = 0
    ctx = SelectionContext(torch.nn.Dropout(0.5), splits, labeled_round, cfg, dev)
    ctx._cache["pool_pass"] = (out["probs"].to(dev), out["emb"].to(dev))
    ctx._cache["labeled_embeddings"] = out["labeled_emb"].to(dev)
    ctx._cache["labeled_outputs"] = (out["labeled_logits"].to(dev), out["labeled_emb"].to(dev))
    ctx._cache["validation"] = tuple(t.to(dev) for t in out["validation"])
    if out["mc_probs"] is not None:
        ctx._cache[f"mc_probs_{mc}"] = out["mc_probs"].to(dev)
    return ctx


def _needs_mc(name: str) -> bool:
    return "bald" in name or name.endswith("_dropout")


# --------------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------------

def _status_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Resident set size of this process in MiB (/proc/self/status; the peak from getrusage elsewhere)."""
    now = _status_mb("VmRSS:")
    return now if now is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mb() -> float:
    """Peak resident set size since the last `reset_peak_rss` (or since start) in MiB."""
    peak = _status_mb("VmHWM:")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Return freed heap pages to the OS and reset the peak RSS (Linux); False where it cannot be reset."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------------------
# Sweep
# --------------------------------------------------------------------------------------------------

def check_strategies(strategies: Iterable[str]) -> list[str]:
    """The names as a list, each a registered strategy that runs on synthetic inputs. KeyError naming an
    unknown one with "did you mean" and the registered names; ValueError for one that needs a model."""
    from .strategies import STRATEGIES
    from .workspace import did_you_mean
    names = [strategies] if isinstance(strategies, str) else list(strategies)
    if not names:
        raise ValueError("strategies is empty; allowed: one or more of " + ", ".join(sorted(STRATEGIES)))
    for s in names:
        if s not in STRATEGIES:
            raise KeyError(f"unknown strategy {s!r}{did_you_mean(s, STRATEGIES)}; choose one of: "
                           f"{', '.join(sorted(STRATEGIES))}")
        if s in NEEDS_MODEL:
            ok = sorted(set(STRATEGIES) - set(NEEDS_MODEL))
            raise ValueError(f"strategy {s!r} needs a model and real images, so it has no synthetic timing; "
                             f"allowed: {', '.join(ok)}")
    return names


def _check_sizes(sizes: Iterable[int], budget: int) -> list[int]:
    out = []
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < budget:
            raise ValueError(f"size {n!r} is invalid; allowed: integers >= budget={budget} (pool points)")
        out.append(int(n))
    if not out:
        raise ValueError("sizes is empty; allowed: one or more pool sizes >= budget")
    return out


def time_case(name: str, ctx, budget: int, seed: int = 0) -> dict:
    """Run strategy `name` once on ctx; {seconds, extra_mb, memory} where extra_mb is the peak memory
    above the level before the call (RSS on CPU, allocated CUDA memory on CUDA) and memory says which,
    or why it could not be measured."""
    from .strategies import select
    dev = ctx.device
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
    else:
        exact = reset_peak_rss()
        before = rss_mb()
    t0 = time.perf_counter()
    idx = select(name, ctx, budget, torch.Generator().manual_seed(seed))
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - t0
    if idx.numel() != budget:
        raise RuntimeError(f"strategy {name!r} returned {idx.numel()} indices; expected {budget}")
    if dev.type == "cuda":
        extra, memory = (torch.cuda.max_memory_allocated(dev) - before) / 2 ** 20, "cuda max_memory_allocated"
    elif exact:
        extra, memory = peak_rss_mb() - before, "peak RSS"
    else:
        extra, memory = None, "not measured: the peak RSS cannot be reset on this system"
    return dict(seconds=seconds, extra_mb=None if extra is None else round(max(extra, 0.0), 2), memory=memory)


def sweep(strategies: Sequence[str], sizes: Sequence[int], dim: int = 512, n_classes: int = 10,
          budget: int = 100, n_labeled: int = 1000, device: torch.device | str = "cpu", threads: int = 1,
          seed: int = 0, cfg=None, warmup: bool = True,
          on_row: Callable[[dict], None] | None = None) -> pd.DataFrame:
    """Seconds and peak extra memory of every strategy's selection of `budget` points on synthetic pools
    of each size N (embedding dim D = dim, C = n_classes, n_labeled labeled points), with `threads` torch
    threads (restored after). One row per (strategy, N): strategy, N, budget, D, C, n_labeled, seconds,
    extra_mb, memory, device, threads. warmup: run each strategy once, untimed, on the smallest pool
    first. on_row, when given, is called with each row as it is measured.
    cfg: the RunConfig whose strategy knobs are used (defaults otherwise)."""
    from .config import RunConfig
    from .inference import resolve_device
    names = check_strategies(strategies)
    for key, val, lo in (("budget", budget, 1), ("dim", dim, 1), ("n_classes", n_classes, 2),
                         ("n_labeled", n_labeled, 0), ("threads", threads, 1)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < lo:
            raise ValueError(f"{key}={val!r} is invalid; allowed: an integer >= {lo}")
    if threads > (os.cpu_count() or 1):
        raise ValueError(f"threads={threads} is invalid; allowed: at most the {os.cpu_count()} CPU cores")
    sizes = _check_sizes(sizes, budget)
    dev = resolve_device(str(device))
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} is invalid here: CUDA is not available; allowed: cpu")
    cfg = RunConfig() if cfg is None else cfg
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows = []
    try:
        if warmup:
            # first calls pay for lazy initialisation (kernels, allocator pools); keep that out of the smallest N
            for name in names:
                mc = int(cfg.mc_samples) if _needs_mc(name) else 0
                time_case(name, synthetic_context(min(sizes), n_labeled, dim, n_classes, cfg, dev, seed, mc),
                          budget, seed)
        for n in sizes:
            for name in names:
                mc = int(cfg.mc_samples) if _needs_mc(name) else 0
                ctx = synthetic_context(n, n_labeled, dim, n_classes, cfg, dev, seed, mc)
                row = dict(strategy=name, N=n, budget=budget, D=dim, C=n_classes, n_labeled=n_labeled,
                           **time_case(name, ctx, budget, seed), device=str(dev), threads=threads)
                del ctx
                rows.append(row)
                if on_row is not None:
                    on_row(row)
    finally:
        torch.set_num_threads(old_threads)
    return pd.DataFrame(rows)


def fit_exponent(df: pd.DataFrame) -> pd.DataFrame:
    """Per strategy, the least-squares slope k of log(seconds) against log(N) (seconds ~ c N^k).

    df: rows with strategy, N, seconds (as `sweep` returns). Returns a frame indexed by strategy with
    exponent, n_sizes (distinct N used) and note: why no exponent could be fitted (fewer than two
    sizes, non-positive seconds), '' when it was."""
    out = []
    for name, g in df.groupby("strategy", sort=False):
        g = g[(g["seconds"] > 0) & (g["N"] > 0)]
        n_sizes = g["N"].nunique()
        if n_sizes < 2:
            out.append(dict(strategy=name, exponent=None, n_sizes=n_sizes,
                            note=f"not fitted: {n_sizes} pool size(s) with positive seconds; two or more needed"))
            continue
        slope = np.polyfit(np.log(g["N"].to_numpy(float)), np.log(g["seconds"].to_numpy(float)), 1)[0]
        out.append(dict(strategy=name, exponent=float(slope), n_sizes=n_sizes, note=""))
    return pd.DataFrame(out, columns=["strategy", "exponent", "n_sizes", "note"]).set_index("strategy")


def plot_scaling(df: pd.DataFrame, ax=None):
    """Selection seconds against pool size N on log-log axes, one line per strategy, the fitted exponent
    in the legend. Returns the matplotlib Figure (drawn on `ax` when given)."""
    import matplotlib.pyplot as plt
    from .plots import MARKERS, PALETTE
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    exps = fit_exponent(df)
    for name, g in df.groupby("strategy", sort=False):
        g = g.groupby("N", as_index=False)["seconds"].median()
        k = exps.loc[name, "exponent"]
        label = f"{name} (N^{k:.2f})" if k is not None and not math.isnan(k) else f"{name} (no fit)"
        ax.plot(g["N"], g["seconds"], marker=MARKERS.get(name, "o"), color=PALETTE.get(name), label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("pool size N (points)")
    ax.set_ylabel("selection time (s)")
    first = df.iloc[0]
    ax.set_title(f"Selection time, budget {first['budget']}, D = {first['D']}, C = {first['C']}, "
                 f"{first['device']}, {first['threads']} thread(s)", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

def _int_list(text: str) -> list[int]:
    try:
        return [int(float(t)) if "e" in t.lower() else int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid; allowed: comma-separated integers, "
                                         f"e.g. 1000,10000") from None


def main(argv: list[str] | None = None) -> int:
    """The dal-bench-select command: one JSON line per (strategy, N), then one per fitted exponent;
    with --out, writes selection_scaling.csv and selection_scaling.png there. Returns 0; argument
    errors exit with status 2 and a message naming the value and what is allowed."""
    ap = argparse.ArgumentParser(prog="dal-bench-select", description=__doc__.split("\n\n")[0])
    ap.add_argument("--strategies", default="random,entropy,badge,coreset",
                    help="comma-separated registered strategy names (default: random,entropy,badge,coreset)")
    ap.add_argument("--sizes", type=_int_list, default=[1000, 10000, 100000],
                    help="comma-separated pool sizes N (default: 1000,10000,100000)")
    ap.add_argument("--budget", type=int, default=100, help="points selected per case (default: 100)")
    ap.add_argument("--labeled", type=int, default=1000, help="labeled points (default: 1000)")
    ap.add_argument("--dim", type=int, default=512, help="embedding dimension D (default: 512)")
    ap.add_argument("--classes", type=int, default=10, help="classes C (default: 10)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 or auto (default: cpu)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the synthetic data and the selection")
    ap.add_argument("--out", default=None, help="folder for selection_scaling.csv and .png (default: none)")
    args = ap.parse_args(argv)
    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    try:
        check_strategies(names)
        _check_sizes(args.sizes, args.budget)
    except KeyError as err:
        ap.error(f"--strategies: {err.args[0]}")
    except ValueError as err:
        ap.error(str(err))

    def emit(row):
        print(json.dumps({k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)

    try:
        df = sweep(names, args.sizes, dim=args.dim, n_classes=args.classes, budget=args.budget,
                   n_labeled=args.labeled, device=args.device, threads=args.threads, seed=args.seed, on_row=emit)
    except ValueError as err:
        ap.error(str(err))
    exps = fit_exponent(df)
    for name, r in exps.iterrows():
        k = r["exponent"]
        print(json.dumps(dict(strategy=name, exponent=None if k is None or math.isnan(k) else round(float(k), 3),
                              n_sizes=int(r["n_sizes"]), note=r["note"])), flush=True)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        df.to_csv(out / "selection_scaling.csv", index=False)
        import matplotlib.pyplot as plt
        fig = plot_scaling(df)
        fig.savefig(out / "selection_scaling.png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        print(json.dumps(dict(csv=str(out / "selection_scaling.csv"), png=str(out / "selection_scaling.png"))),
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
