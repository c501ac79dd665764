"""Core-minutes and accuracy of whole AL runs per training option, side by side.

Each option is a set of RunConfig overrides on one preset ("paper" = none). For each option the
benchmark runs (or resumes, from its checkpoints) the same strategy and seed, then prints per option:
epochs per round, training / selection / evaluation core-minutes (one thread per run, so wall seconds
are core-seconds), test accuracy per round, and the cost ratio and final-accuracy difference against
the first option. With --rows it runs nothing and prints the same table from results folders (e.g. the
committed reference rows beside a stopping-rule grid), grouped by the option fields that differ.

Usage:
    DAL_DATA_ROOT=/path/to/data python bench/loop.py --preset mnist --strategy entropy --seed 0 \\
        --options paper step_budget=5000 train_acc_mode=eval [--out runs/bench_loop]
    python bench/loop.py --rows results/reference-mnist/reference_mnist results/15_stopping_rules/cpu_15_step_budget
Options are `field=value[,field=value]` (values parsed as Python literals where they parse).
Measure on a quiet machine; the load average is printed beside the figures.
"""
from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dal_helpers import results as res  # noqa: E402
from dal_helpers.config import RunConfig, preset  # noqa: E402

# The fields whose values tell options apart in --rows mode (missing in older rows = the paper's value).
OPTION_FIELDS = {"step_budget": None, "train_acc_mode": "running", "precision": "auto", "compile_model": False,
                 "patience_rule": "window"}


def parse_option(text: str) -> dict:
    """'paper' -> {}; 'a=1,b=x' -> {'a': 1, 'b': 'x'} (values as Python literals where they parse)."""
    if text == "paper":
        return {}
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise SystemExit(f"option {text!r} is invalid; allowed: 'paper' or field=value[,field=value]")
        key, value = part.split("=", 1)
        if key not in RunConfig.__dataclass_fields__:
            raise SystemExit(f"option field {key!r} is not a RunConfig field")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def summarise(df: pd.DataFrame, label: pd.Series) -> pd.DataFrame:
    """One row per (option, strategy, seed) of complete runs: epochs per round, core-minutes, accuracies."""
    df = df.assign(option=label.values)
    out = []
    for (opt, strategy, seed), run in df.groupby(["option", "strategy", "seed"], sort=False):
        run = run.sort_values("round")
        out.append({"option": opt, "strategy": strategy, "seed": int(seed), "rounds": len(run),
                    "epochs": "/".join(str(int(e)) for e in run["epochs"]),
                    "train_min": run["train_s"].sum() / 60, "select_min": run["select_s"].sum() / 60,
                    "eval_min": run["eval_s"].sum() / 60 if "eval_s" in run else float("nan"),
                    "acc_%": "/".join(f"{100 * a:.2f}" for a in run["test_acc"]),
                    "final_%": 100 * float(run["test_acc"].iloc[-1])})
    t = pd.DataFrame(out)
    t["core_min"] = t[["train_min", "select_min", "eval_min"]].sum(axis=1)
    return t


def against_first(t: pd.DataFrame) -> pd.DataFrame:
    """Cost ratio (first option's core-minutes / this option's) and final-accuracy difference (points)
    against the first option, matched on (strategy, seed)."""
    first = t[t["option"] == t["option"].iloc[0]].set_index(["strategy", "seed"])
    key = list(zip(t["strategy"], t["seed"]))
    base_cost = [first["core_min"].get(k, float("nan")) for k in key]
    base_acc = [first["final_%"].get(k, float("nan")) for k in key]
    return t.assign(speedup=[b / c if c else float("nan") for b, c in zip(base_cost, t["core_min"])],
                    d_final_pts=t["final_%"] - base_acc)


def option_labels(df: pd.DataFrame) -> pd.Series:
    """A label per row from the option fields that differ from their defaults ('paper' where none does;
    a field missing from older rows counts as its default)."""
    def show(v):
        return int(v) if isinstance(v, float) and v.is_integer() else v

    cols = {}
    for f, default in OPTION_FIELDS.items():
        col = (df[f] if f in df else pd.Series([default] * len(df), index=df.index)).astype(object)
        cols[f] = col.where(col.notna(), default)
    return pd.Series([",".join(f"{f}={show(cols[f][i])}" for f in OPTION_FIELDS
                               if cols[f][i] != OPTION_FIELDS[f]) or "paper" for i in df.index], index=df.index)


def run_options(args) -> pd.DataFrame:
    """Run or resume one (strategy, seed) per option; returns the rows of every option."""
    from dal_helpers.loop import run_active_learning

    frames = []
    for text in args.options:
        over = parse_option(text)
        cfg = preset(args.preset, strategy=args.strategy, seed=args.seed, num_threads=1, n_validation=0,
                     experiment="bench_loop", **({"data_root": args.data_root} if args.data_root else {}), **over)
        if args.max_rounds is not None:
            cfg = cfg.replace(n_rounds=min(cfg.n_rounds, args.max_rounds))
        print(f"running {text}: {cfg.run_id}", flush=True)
        rows = run_active_learning(cfg, checkpoint_dir=Path(args.out) / "checkpoints",
                                   results_dir=Path(args.out) / "results", progress="terminal")
        frames.append(rows.assign(option=text))
    return pd.concat(frames, ignore_index=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="mnist")
    p.add_argument("--strategy", default="entropy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--options", nargs="+", default=["paper", "step_budget=5000"])
    p.add_argument("--max-rounds", type=int, default=None, help="fewer rounds than the preset's (a quicker look)")
    p.add_argument("--data-root", default=os.environ.get("DAL_DATA_ROOT"))
    p.add_argument("--out", default="runs/bench_loop")
    p.add_argument("--rows", nargs="+", help="results folders or files: print the table, run nothing")
    args = p.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if args.rows:
        df = res.load_results(args.rows)
        df = df[df.groupby("run_id")["final"].transform("any")] if "final" in df else df
        label = option_labels(df)
    else:
        df = run_options(args)
        label = df["option"]
    t = against_first(summarise(df, label))
    pd.set_option("display.width", 200)
    print(t.round(2).to_string(index=False))
    by = t.groupby(["option", "strategy"], sort=False)
    print("\nmean over seeds:")
    print(by[["core_min", "final_%", "speedup", "d_final_pts"]].mean().round(2).to_string())


if __name__ == "__main__":
    main()
