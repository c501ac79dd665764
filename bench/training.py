"""Benchmark of the training hot path and of one end-to-end AL run.

1. Throughput (examples per second) of `training.train` against a bare forward/backward/step loop on
   the same uint8 tensors (per-batch normalisation, one randperm per epoch, no augmentation in either,
   so the difference is the loop's own overhead): mnist_net on 28x28x1 and resnet18 on 32x32x3, with
   optimiser batches of 20 and 128. `train()` is also timed with augmentation on, for reference.
2. End-to-end wall time of the paper's MNIST configuration (Table 4 "MNIST": seed set 300, AL batch
   1000, lr 0.01, batch 20, cut-off 0.99, SGD, entropy sampling) for three rounds on real MNIST, laid out
   in torchvision's layout under ROOT (MNIST/raw/*-ubyte).

Usage:
    python bench/training.py [--quick] [--data-root /tmp/dal-data] [--device auto] [--threads 1]
    --quick: smaller throughput sets and a shortened end-to-end run (2 rounds, at most 30 epochs).
    --skip-e2e / --skip-throughput: run one part only.
Prints one line per measurement and a summary table.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dal_helpers.config import RunConfig, preset  # noqa: E402
from dal_helpers.data import DATASETS, normalize  # noqa: E402
from dal_helpers.energy import synchronize  # noqa: E402
from dal_helpers.inference import autocast, prepare_model, resolve_device  # noqa: E402
from dal_helpers.models import make_model  # noqa: E402
from dal_helpers.training import batch_bounds, train  # noqa: E402


def bare_loop(model, x, y, info, batch_size, epochs, gen, device):
    """The floor: shuffle, slice, normalise, forward, loss, backward, step. Nothing else."""
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=gen).to(device)
        xe, ye = x[perm], y[perm]
        for s, t in batch_bounds(len(ye), batch_size):
            xb = normalize(xe[s:t], info)
            if device.type == "cuda":
                xb = xb.contiguous(memory_format=torch.channels_last)
            with autocast(device):
                loss = F.cross_entropy(model(xb), ye[s:t])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


def throughput(model_name, dataset, n, batch_size, epochs, device, repeats=2, precision="auto", compile_model=False):
    info = DATASETS[dataset]
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, info.channels, info.size, info.size), generator=g, dtype=torch.uint8).to(device)
    y = torch.randint(0, 10, (n,), generator=g).to(device)

    def fresh():
        torch.manual_seed(0)
        return prepare_model(make_model(model_name, 10, info.channels, image_size=info.size), device)

    # Random labels keep the accuracy below the cut-off, so train() runs every epoch.
    cfg = RunConfig(dataset=dataset, model=model_name, batch_size=batch_size, max_epochs=epochs, lr=1e-3,
                    train_acc_cutoff=1.0, patience=10_000, augment=False, precision=precision,
                    compile_model=compile_model)
    results = {}
    cases = {
        "bare": lambda m: bare_loop(m, x, y, info, batch_size, epochs, torch.Generator().manual_seed(1), device),
        "train": lambda m: train(m, x, y, cfg, torch.Generator().manual_seed(1), info=info, device=device),
        "train+aug": lambda m: train(m, x, y, cfg.replace(augment=True), torch.Generator().manual_seed(1),
                                     info=info, device=device),
    }
    # Warm up once (allocator, kernels), then interleave the cases and keep each one's best time, so
    # that load from other processes on a shared machine biases no case in particular.
    m = fresh()
    bare_loop(m, x[: 4 * batch_size], y[: 4 * batch_size], info, batch_size, 1, torch.Generator(), device)
    best = {k: math.inf for k in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            m = fresh()
            synchronize(device)
            t0 = time.perf_counter()
            fn(m)
            synchronize(device)
            best[name] = min(best[name], time.perf_counter() - t0)
    for name, sec in best.items():
        results[name] = n * epochs / sec
    return results


def end_to_end(data_root, device, quick):
    from dal_helpers.data import load_dataset
    from dal_helpers.loop import run_active_learning

    splits = load_dataset("mnist", data_root, download=False)
    over = dict(strategy="entropy", device=str(device), n_rounds=2)
    if quick:
        over.update(n_rounds=1, max_epochs=30)
    cfg = preset("mnist", **over)
    t0 = time.perf_counter()
    df = run_active_learning(cfg, splits, progress="lines")
    total = time.perf_counter() - t0
    return cfg, df, total


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--data-root", default="/tmp/dal-data")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: on a shared machine, idle-spinning OpenMP threads of "
                         "other processes make multi-threaded timings swing by 2x)")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                    help="RunConfig.precision of the train() cases (the bare loop keeps the device default)")
    ap.add_argument("--compile", action="store_true", help="RunConfig.compile_model=True for the train() cases")
    ap.add_argument("--skip-e2e", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"device={device} threads={torch.get_num_threads()} torch={torch.__version__} "
          f"precision={args.precision} compile={args.compile}", flush=True)

    if not args.skip_throughput:
        if device.type == "cuda":
            sizes = {"mnist_net": (20000, 3), "resnet18": (10000, 2)}
        elif args.quick:
            sizes = {"mnist_net": (640, 1), "resnet18": (40, 1)}
        else:
            sizes = {"mnist_net": (1280, 2), "resnet18": (96, 1)}
        rows = []
        for model_name, dataset in (("mnist_net", "mnist"), ("resnet18", "cifar10")):
            n, epochs = sizes[model_name]
            for bs in (20, 128):
                r = throughput(model_name, dataset, n, bs, epochs, device, precision=args.precision,
                               compile_model=args.compile)
                ratio = r["train"] / r["bare"]
                rows.append((model_name, bs, r["bare"], r["train"], ratio, r["train+aug"]))
                print(f"{model_name:10s} batch {bs:4d}: bare {r['bare']:9.1f} ex/s  train() {r['train']:9.1f} ex/s "
                      f"({ratio:6.1%} of bare)  train()+aug {r['train+aug']:9.1f} ex/s", flush=True)
        print("\n| model | batch | bare loop ex/s | train() ex/s | train()/bare | train()+aug ex/s |")
        print("|---|---|---|---|---|---|")
        for m, bs, b, t, ratio, a in rows:
            print(f"| {m} | {bs} | {b:.0f} | {t:.0f} | {ratio:.1%} | {a:.0f} |")

    if not args.skip_e2e:
        try:
            cfg, df, total = end_to_end(args.data_root, device, args.quick)
        except FileNotFoundError as err:
            print(f"end-to-end skipped: {err}")
            return
        cols = ["round", "n_labeled", "test_acc", "train_acc", "epochs", "train_s", "select_s", "eval_s"]
        print(f"\nend-to-end: paper MNIST config ({cfg.run_id}) on real MNIST: {total:.1f} s in total")
        print(df[cols].to_string(index=False))


if __name__ == "__main__":
    main()
