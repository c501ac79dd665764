"""CPU cost of the same training work on a quiet machine and under load.

Runs one fixed piece of work (a mnist5k round: 15 epochs of the MNIST net on 400 digits, then inference
on the 4,000-digit pool) in a fresh process, first with the machine as it is, then with `--load N` busy
processes beside it, each with torch's default threads and with OMP_WAIT_POLICY ACTIVE (spinning idle
threads, OpenMP's usual behaviour) or PASSIVE (sleeping idle threads, what `import dal_helpers` sets).
Prints wall and CPU seconds of the work and the ratio of loaded to quiet CPU time.

    .venv/bin/python bench/load.py --load 4
Run it on an otherwise idle machine: the quiet figures are the reference.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time

WORK = r'''
import os, resource, sys, time
import torch
sys.path.insert(0, sys.argv[1])
from dal_helpers import config, data, training
from dal_helpers.loop import initial_model
cfg = config.preset("mnist5k", max_epochs=15)
sp = data.prepare(cfg)
model = initial_model(cfg, sp)
t0, c0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
training.train(model, sp.x_train[:400], sp.y_train[:400], cfg, torch.Generator().manual_seed(0), info=sp.info,
               progress=False)
with torch.no_grad():
    model.eval()
    model(data.normalize(sp.x_train, sp.info))
c1 = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - t0, c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)
'''


def _spin(stop) -> None:
    x = 0
    while not stop.is_set():
        x += 1


def measure(policy: str, root: str) -> tuple[float, float]:
    # torch is imported first here, so the policy comes from the environment only.
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", WORK, root], env=env, capture_output=True, text=True, check=True)
    wall, cpu = (float(v) for v in out.stdout.split()[-2:])
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--load", type=int, default=4, help="busy processes started beside the work (default 4)")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print(f"cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f}")
    rows = []
    for policy in ("ACTIVE", "PASSIVE"):
        quiet = [measure(policy, root) for _ in range(args.repeats)]
        stop = mp.Event()
        spinners = [mp.Process(target=_spin, args=(stop,)) for _ in range(args.load)]
        for p in spinners:
            p.start()
        time.sleep(1.0)
        try:
            loaded = [measure(policy, root) for _ in range(args.repeats)]
        finally:
            stop.set()
            for p in spinners:
                p.join()
        q_wall, q_cpu = (min(v[i] for v in quiet) for i in (0, 1))
        l_wall, l_cpu = (min(v[i] for v in loaded) for i in (0, 1))
        rows.append((policy, q_wall, q_cpu, l_wall, l_cpu))
    print(f"{'OMP_WAIT_POLICY':>16} {'quiet wall':>11} {'quiet cpu':>10} {'load wall':>10} {'load cpu':>9} {'cpu ratio':>10}")
    for policy, qw, qc, lw, lc in rows:
        print(f"{policy:>16} {qw:10.1f}s {qc:9.1f}s {lw:9.1f}s {lc:8.1f}s {lc / qc:9.2f}x")


if __name__ == "__main__":
    main()
