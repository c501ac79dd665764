"""Selection benchmark: seconds and peak memory of every strategy, one JSON line per case.

Mode "synthetic" (default) feeds each strategy pre-computed probabilities / embeddings through a
SelectionContext whose caches are filled in advance, so model inference is excluded and only the
selection math is timed. The synthetic data imitate a trained network: embeddings are ReLU'd
class-cluster centres plus noise on a low-dimensional subspace plus a little isotropic noise, and the
probabilities come from a linear head on them. Mode "model" runs the full strategy, inference included,
through an untrained mnist_net on mnist5k (or real MNIST with --data-root).

Memory: peak RSS of the process while the case runs, minus the RSS before it (Linux resets the peak
through /proc/self/clear_refs); on CUDA also torch.cuda.max_memory_allocated.

    .venv/bin/python bench/selection.py --quick          # N = 10k only, about a minute
    .venv/bin/python bench/selection.py                  # every size of issue 3 (several minutes)
    .venv/bin/python bench/selection.py --compare        # the algorithmic wins: pruned vs plain
    .venv/bin/python bench/selection.py --mode model     # with inference through a real model
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dal_helpers.config import RunConfig  # noqa: E402
from dal_helpers.data import Splits  # noqa: E402
from dal_helpers.inference import resolve_device  # noqa: E402
from dal_helpers.strategies import SelectionContext, select  # noqa: E402


def rss_mb() -> float:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def release_free_memory() -> None:
    """Hand freed heap pages back to the OS so that RSS before a case counts live memory only."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak() -> bool:
    release_free_memory()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synthetic(n: int, n_lab: int, d: int, c: int, device: torch.device, seed: int = 0, n_val: int = 500,
              mc: int = 0):
    """(probs (n, c), emb (n, d), lab_emb (n_lab, d), val (logits, emb, y), mc_probs (mc, n, c) or None,
    lab_logits (n_lab, c))."""
    g = torch.Generator().manual_seed(seed)
    total = n + n_lab + n_val
    y = torch.randint(0, c, (total,), generator=g)
    centres = torch.randn(c, d, generator=g) * 2.0
    basis = torch.linalg.qr(torch.randn(d, 32, generator=g)).Q          # 32-dim within-class variation
    emb = (centres[y] + torch.randn(total, 32, generator=g) @ basis.T * 3.0
           + 0.3 * torch.randn(total, d, generator=g)).relu()
    w = torch.randn(d, c, generator=g) / d ** 0.5
    logits = emb @ w * 2.0 + torch.nn.functional.one_hot(y, c) * 2.0
    probs = torch.softmax(logits, 1)
    mcp = None
    if mc:
        noise = torch.randn(mc, n, c, generator=g)
        mcp = torch.softmax(logits[:n][None] + noise, 2).to(device)
    val = (logits[n + n_lab:].to(device), emb[n + n_lab:].to(device), y[n + n_lab:].to(device))
    return (probs[:n].to(device), emb[:n].to(device), emb[n:n + n_lab].to(device), val, mcp,
            logits[n:n + n_lab].to(device))


def synthetic_ctx(n, n_lab, d, c, device, cfg, mc=0):
    probs, emb, lab_emb, val, mcp, lab_logits = synthetic(n, n_lab, d, c, device, mc=mc)
    x = torch.zeros(n + n_lab, 1, 1, 1, dtype=torch.uint8)
    yy = torch.zeros(n + n_lab, dtype=torch.int64)
    splits = Splits("mnist5k", x, yy, x[:1], yy[:1], tuple(str(i) for i in range(c)))
    lr = torch.full((n + n_lab,), -1, dtype=torch.int64)
    lr[n:] = 0
    # a stand-in model: only its dropout layer is looked at (the MC-dropout warning)
    ctx = SelectionContext(torch.nn.Dropout(0.5), splits, lr, cfg, device)
    ctx._cache["pool_pass"] = (probs, emb)
    ctx._cache["labeled_embeddings"] = lab_emb
    ctx._cache["labeled_outputs"] = (lab_logits, lab_emb)     # GLISTER's look-ahead start
    ctx._cache["validation"] = val
    if mcp is not None:
        ctx._cache[f"mc_probs_{cfg.mc_samples}"] = mcp
    return ctx


def run_case(name, ctx, budget, device, extra):
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    exact_peak = reset_peak()
    base = rss_mb()
    t0 = time.perf_counter()
    idx = select(name, ctx, budget, torch.Generator().manual_seed(0))
    if device.type == "cuda":
        torch.cuda.synchronize()
    sec = time.perf_counter() - t0
    row = dict(strategy=name, budget=budget, n_pool=ctx.n_pool, n_labeled=ctx.n_labeled, seconds=round(sec, 3),
               peak_rss_mb=round(peak_mb(), 1), extra_rss_mb=round(peak_mb() - base, 1) if exact_peak else None,
               device=str(device), threads=torch.get_num_threads(), **extra)
    if device.type == "cuda":
        row["cuda_max_allocated_mb"] = round(torch.cuda.max_memory_allocated() / 2 ** 20, 1)
    assert idx.numel() == budget
    print(json.dumps(row), flush=True)
    return row


def synthetic_cases(quick: bool):
    """(strategies, n, n_labeled, d, c, budget)"""
    cheap = ["random", "entropy", "least_confidence", "margin", "power_entropy", "power_margin"]
    cases = [(cheap + ["badge", "coreset", "fass", "glister", "bald", "power_bald", "kmeans", "typiclust", "probcover"],
              10_000, 2_000, 512, 10, 1_000),
             (["batchbald"], 10_000, 2_000, 512, 10, 10)]
    if quick:
        return cases
    cases += [
        (cheap + ["badge", "coreset", "fass", "glister", "bald"], 10_000, 2_000, 512, 10, 3_000),
        (cheap + ["badge", "coreset", "fass", "bald"], 50_000, 10_000, 512, 10, 1_000),
        (cheap + ["badge", "coreset", "fass", "bald", "power_bald"], 50_000, 10_000, 512, 10, 3_000),
        (cheap + ["badge", "coreset", "fass"], 50_000, 10_000, 512, 100, 3_000),
        (cheap + ["bald"], 200_000, 10_000, 512, 10, 3_000),
        (["batchbald"], 10_000, 2_000, 512, 10, 50),
        (["typiclust", "probcover"], 50_000, 10_000, 512, 10, 3_000),
    ]
    return cases


def compare_cases():
    """Pruned / lazy cores against their plain versions, on the synthetic data, N = 10k, budget 1k."""
    from dal_helpers.strategies import badge, coreset, fass, glister
    n, n_lab, d, c, budget = 10_000, 2_000, 512, 10, 1_000
    probs, emb, lab, val, _, _ = synthetic(n, n_lab, d, c, torch.device("cpu"))
    a = probs.clone()
    a[torch.arange(n), probs.argmax(1)] -= 1
    runs = [
        ("badge_pruned", lambda: badge.kmeans_pp(a, emb, budget, torch.Generator().manual_seed(0))),
        ("badge_plain", lambda: badge.kmeans_pp(a, emb, budget, torch.Generator().manual_seed(0), prune=False)),
        ("coreset_lazy", lambda: coreset.kcenter_greedy(emb, lab, budget)),
        ("coreset_plain", lambda: coreset.kcenter_greedy(emb, lab, budget, lazy=False)),
        ("fass_fl_stored_fp32", lambda: fass.facility_location_greedy(emb[:5000], budget, store="float32")),
        ("fass_fl_stored_fp16", lambda: fass.facility_location_greedy(emb[:5000], budget, store="float16")),
        ("fass_fl_recomputed", lambda: fass.facility_location_greedy(emb[:5000], budget, store="none")),
        ("glister_stale_bounds", lambda: glister.glister_greedy(a, emb, val[0], val[2], val[1], budget, 1e-3)),
        ("glister_plain", lambda: glister.glister_greedy(a, emb, val[0], val[2], val[1], budget, 1e-3, prune=False)),
    ]
    results = {}
    for name, fn in runs:
        reset_peak()
        base = rss_mb()
        t0 = time.perf_counter()
        out = fn()
        sec = time.perf_counter() - t0
        results[name] = out
        row = dict(variant=name, n=n, budget=budget, seconds=round(sec, 3), extra_rss_mb=round(peak_mb() - base, 1))
        print(json.dumps(row), flush=True)
    for fast, plain in (("badge_pruned", "badge_plain"), ("coreset_lazy", "coreset_plain"),
                        ("fass_fl_stored_fp32", "fass_fl_recomputed"), ("fass_fl_stored_fp16", "fass_fl_stored_fp32"),
                        ("glister_stale_bounds", "glister_plain")):
        same = torch.equal(results[fast], results[plain])
        overlap = len(set(results[fast].tolist()) & set(results[plain].tolist())) / budget
        print(json.dumps(dict(check=f"{fast} vs {plain}", identical=same, overlap=round(overlap, 4))), flush=True)


def model_cases(args, device):
    from dal_helpers.data import load_dataset, load_mnist5k
    from dal_helpers.models import make_model
    from dal_helpers.data import validation_split
    splits = load_mnist5k() if args.data_root is None else load_dataset("mnist", args.data_root, download=False)
    gen = torch.Generator().manual_seed(0)
    splits = validation_split(splits, 500, gen)        # GLISTER's validation split, out of the pool
    n = splits.n_train
    torch.manual_seed(0)  # model weights only
    model = make_model("mnist_net", 10, 1).to(device)
    lr = torch.full((n,), -1, dtype=torch.int64)
    lr[torch.randperm(n, generator=gen)[:300]] = 0
    cfg = RunConfig(mc_samples=20, eval_batch_size=1024)
    names = ["random", "entropy", "margin", "least_confidence", "badge", "coreset", "fass", "glister", "kmeans",
             "bald", "batchbald", "adversarial_bim", "adversarial_deepfool", "vaal"]
    if args.only:
        names = [x for x in names if x in set(args.only.split(","))]
    budget = 100 if args.quick or args.data_root is None else 1000
    for name in names:
        ctx = SelectionContext(model, splits, lr, cfg, device)
        b = 10 if name == "batchbald" else budget
        run_case(name, ctx, b, device, dict(mode="model", dataset=splits.name))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=["synthetic", "model"], default="synthetic")
    ap.add_argument("--quick", action="store_true", help="only the N = 10k cases")
    ap.add_argument("--compare", action="store_true", help="pruned/lazy cores vs plain ones")
    ap.add_argument("--only", default=None, help="comma-separated strategies to run")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--data-root", default=None, help="torchvision root with MNIST for --mode model")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.compare:
        compare_cases()
        return
    if args.mode == "model":
        model_cases(args, device)
        return
    only = set(args.only.split(",")) if args.only else None
    for names, n, n_lab, d, c, budget in synthetic_cases(args.quick):
        names = [x for x in names if only is None or x in only]
        if not names:
            continue
        cfg = RunConfig(mc_samples=20, fass_candidates=5)
        for name in names:
            ctx = synthetic_ctx(n, n_lab, d, c, device, cfg, mc=20 if "bald" in name else 0)
            run_case(name, ctx, budget, device, dict(mode="synthetic", N=n, D=d, C=c))
            del ctx


if __name__ == "__main__":
    main()
