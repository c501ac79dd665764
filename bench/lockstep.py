"""Does lockstep training of K models in one process pay on this machine? Seconds per optimiser step.

Compares, for K copies of a model at one batch size, (a) K ordinary forward/backward/SGD steps one model
after the other with (b) one step of all K models stacked with `torch.func.stack_module_state` and
`vmap` over `functional_call` + `grad` (dropout masks differ per model: randomness="different"). It also
reports whether (b)'s gradients equal (a)'s bit for bit when dropout is off, the precondition for
lockstep runs whose rows equal the runs trained one by one.

Usage: python bench/lockstep.py [--model mnist_net] [--batch 20] [--ks 1 2 4 8] [--threads 1] [--steps 50]
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import torch
from torch.func import functional_call, grad, stack_module_state, vmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dal_helpers import models  # noqa: E402
from dal_helpers.models import base  # noqa: E402

FAST_POOL = base.MaxPool2d.forward


def nchw_pool(on: bool) -> None:
    """The channels_last max-pool copy is not allowed inside vmap: lockstep needs the plain NCHW kernel."""
    base.MaxPool2d.forward = torch.nn.MaxPool2d.forward if on else FAST_POOL


def ce(out, y):
    """Cross-entropy of a model output (logits, or a tuple whose first element is the logits)."""
    return torch.nn.functional.cross_entropy(out[0] if isinstance(out, tuple) else out, y)


def loss_fn(model, params, buffers, x, y):
    return ce(functional_call(model, (params, buffers), (x,)), y)


def sequential_step(nets, opts, xs, ys):
    for net, opt, x, y in zip(nets, opts, xs, ys):
        opt.zero_grad(set_to_none=True)
        ce(net(x), y).backward()
        opt.step()


def make_lockstep(nets, lr):
    skeleton = copy.deepcopy(nets[0]).to("meta")  # the architecture only; the weights come stacked
    params, buffers = stack_module_state(nets)
    g = vmap(grad(lambda p, b, x, y: loss_fn(skeleton, p, b, x, y)), in_dims=(0, 0, 0, 0), randomness="different")

    def step(xs, ys):
        grads = g(params, buffers, xs, ys)
        with torch.no_grad():
            for k in params:
                params[k].sub_(grads[k], alpha=lr)
        return grads
    return step, params, buffers


def timeit(fn, steps):
    fn()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t) / steps


def exactness(name, batch):
    torch.manual_seed(0)
    nets = [models.make_model(name, n_classes=10, in_channels=1, image_size=28, dropout=0.0) for _ in range(2)]
    for n in nets:
        n.eval()  # no dropout anywhere (the feature dropout has no knob); mnist_net has no BatchNorm
    x, y = torch.randn(2, batch, 1, 28, 28), torch.randint(0, 10, (2, batch))
    ref = []
    for k, net in enumerate(nets):
        net.zero_grad()
        ce(net(x[k]), y[k]).backward()
        ref.append({n: p.grad.clone() for n, p in net.named_parameters()})
    step, _, _ = make_lockstep(nets, lr=0.0)
    nchw_pool(True)
    grads = step(x, y)
    nchw_pool(False)
    diff = max((grads[n][k] - ref[k][n]).abs().max().item() for k in range(2) for n in ref[k])
    same = all(torch.equal(grads[n][k], ref[k][n]) for k in range(2) for n in ref[k])
    return same, diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="mnist_net")
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.threads} thread(s); model {args.model}; batch {args.batch}")
    same, diff = exactness(args.model, args.batch)
    print(f"lockstep gradients equal to one-by-one (dropout off): {same} (max abs difference {diff:.2e})")
    print("one by one: the models' own channels_last pool (fast) and the NCHW pool lockstep must use")
    print(f"{'K':>3} {'one by one s/step':>18} {'(NCHW pool)':>12} {'lockstep s/step':>16} {'speed-up':>9}")
    for k in args.ks:
        torch.manual_seed(0)
        nets = [models.make_model(args.model, n_classes=10, in_channels=1, image_size=28) for _ in range(k)]
        for n in nets:
            n.train()
        opts = [torch.optim.SGD(n.parameters(), lr=0.01) for n in nets]
        xs, ys = torch.randn(k, args.batch, 1, 28, 28), torch.randint(0, 10, (k, args.batch))
        t_seq = timeit(lambda: sequential_step(nets, opts, xs, ys), args.steps)
        step, _, _ = make_lockstep(nets, lr=0.01)
        nchw_pool(True)
        t_nchw = timeit(lambda: sequential_step(nets, opts, xs, ys), args.steps)
        t_lock = timeit(lambda: step(xs, ys), args.steps)
        nchw_pool(False)
        print(f"{k:>3} {t_seq:>18.4f} {t_nchw:>12.4f} {t_lock:>16.4f} {t_seq / t_lock:>8.2f}x")


if __name__ == "__main__":
    main()
