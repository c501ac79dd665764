"""Print the markdown tables of results/reference-mnist/README.md from the committed results.

    .venv/bin/python results/reference-mnist/summarize.py

Reads the JSON-lines files of `reference_mnist/` (one per run, a row per round) and prints accuracy per
round and strategy, labeling efficiency at a few target accuracies, the penalty matrix (strategies with
>= 2 seeds in every round), seconds per epoch and per round, and cumulative training vs selection time;
then the stopping-rule comparison against `reference_mnist_evalacc/` (the same random-sampling run with
the training accuracy measured in eval mode). Nothing is re-run."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd

from dal_helpers import metrics
from dal_helpers.results import load_results

HERE = Path(__file__).resolve().parent


def md(df: pd.DataFrame) -> str:
    """A markdown table of df (index included), without optional dependencies."""
    frame = df.reset_index() if df.index.name or isinstance(df.index, pd.MultiIndex) else df
    cols = [str(c) for c in frame.columns]
    rows = [" | ".join(cols), " | ".join("---" for _ in cols)]
    for r in frame.astype(object).itertuples(index=False):   # object: ints stay ints
        rows.append(" | ".join("" if pd.isna(v) else str(v) for v in r))
    return "\n".join(f"| {line} |" for line in rows)


def main() -> int:
    df = load_results(sorted((HERE / "reference_mnist").glob("*.jsonl")))
    if df.empty:
        print("no results yet")
        return 1
    seeds = df.groupby("strategy")["seed"].nunique()
    print(f"runs: {df['run_id'].nunique()} ({', '.join(f'{s}: {n} seed(s)' for s, n in seeds.items())})\n")
    print("## Test accuracy (%), mean ± std over seeds\n")
    print(md(metrics.accuracy_table(df)), "\n")
    counts = df.groupby(["strategy", "n_labeled"])["seed"].nunique().unstack().astype("Int64")
    print("seeds per cell:\n")
    print(md(counts), "\n")
    print("## Test accuracy (%) per seed (round 0 is the same model for every strategy of a seed)\n")
    per_seed = df.pivot_table(index=["seed", "n_labeled"], columns="strategy", values="test_acc") * 100
    print(md(per_seed.round(2).rename_axis(columns=None)), "\n")
    print("## Epochs and seconds per round (mean over seeds)\n")
    df["s_per_epoch"] = df["train_s"] / df["epochs"]
    df["ms_per_step"] = 1000 * df["s_per_epoch"] / (df["n_labeled"] / df["batch_size"]).apply(math.ceil)
    cols = ["epochs", "train_s", "s_per_epoch", "ms_per_step", "select_s", "eval_s"]
    print(md(df.groupby(["strategy", "n_labeled"])[cols].mean().round(2)), "\n")
    if "random" in set(df["strategy"]) and df["strategy"].nunique() > 1:
        targets = [0.97, 0.98, 0.985, 0.99]
        eff = metrics.labeling_efficiency(df, baseline="random", targets=targets)
        print("## Labeling efficiency vs random at target test accuracies\n")
        table = eff.by_accuracy.pivot_table(index="strategy", columns="target_acc", values="efficiency",
                                            dropna=False).round(2)
        table.columns = [f"{100 * c:g}%" for c in table.columns]
        print(md(table.rename_axis("strategy")), "\n")
    # significance: strategies with >= 2 seeds at each of their rounds; round 0 (the shared seed set,
    # the same model for every strategy of a seed) is left out, it can never differ
    sub, left_out = metrics.testable(df)
    if left_out:
        print(f"fewer than 2 seeds in some round, left out of the tests: {', '.join(left_out)}\n")
    if sub["strategy"].nunique() >= 2:
        later = slice(1, None)
        print("## Penalty matrix (row significantly better than column, fraction of rounds after the seed "
              "set, t-test over seeds, paired when both have the same seeds, α = 0.05)\n")
        print(md(metrics.penalty_matrix(sub, rounds=later).round(2)), "\n")
        tests = metrics.pairwise_tests(sub, rounds=later)
        tests["mean_diff"] *= 100
        tests = tests.rename(columns={"mean_diff": "a - b (points)"})
        print("pairwise tests:\n")
        print(md(tests[["n_labeled", "a", "b", "a - b (points)", "p", "n_a", "winner"]]
                 .round({"a - b (points)": 2, "p": 4}).fillna({"winner": "-"})), "\n")
    complete = df["run_id"].isin(df.loc[df["final"] == True, "run_id"])  # noqa: E712 (NaN-safe)
    print("## Cumulative time (complete runs only)\n")
    if complete.any():
        print(md(metrics.timing_table(df[complete]).round(1)), "\n")
    else:
        print("no run has finished its last round yet\n")
    evalacc = sorted((HERE / "reference_mnist_evalacc").glob("*.jsonl"))
    if evalacc:
        other = load_results(evalacc)
        print("## Stopping rule: running training accuracy (paper) vs eval-mode accuracy\n")
        keys = ["seed", "n_labeled"]
        both = (df[df["strategy"] == "random"].merge(other[other["strategy"] == "random"], on=keys,
                                                      suffixes=("_running", "_eval")))
        both[keys] = both[keys].astype(int)
        both["test_acc_running"] *= 100
        both["test_acc_eval"] *= 100
        cols = keys + [f"{c}_{m}" for c in ("test_acc", "epochs", "train_s") for m in ("running", "eval")]
        print(md(both[cols].round(2).set_index(keys)), "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
