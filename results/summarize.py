"""Print the markdown tables of a section's results README from its committed rows.

    .venv/bin/python results/summarize.py results/01_baselines/cpu_baseline_fmnist [--targets 0.8 0.82]

Reads every JSON-lines file of the folder (one per run, a row per round) and prints: runs and seeds,
test accuracy (mean ± std over seeds) per labeled-set size, labeling efficiency against random at the
given target accuracies and at the end (the highest accuracy both curves reach), the penalty matrix and
the pairwise t-tests over seeds (rounds after the shared seed set), epochs and seconds per round, and
the core-hours the rows cost. Nothing is re-run."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from dal_helpers import metrics
from dal_helpers.results import load_results


def md(df: pd.DataFrame) -> str:
    """A markdown table of df (index included), without optional dependencies."""
    frame = df.reset_index() if df.index.name or isinstance(df.index, pd.MultiIndex) else df
    cols = [str(c) for c in frame.columns]
    rows = [" | ".join(cols), " | ".join("---" for _ in cols)]
    for r in frame.astype(object).itertuples(index=False):   # object: ints stay ints
        rows.append(" | ".join("" if pd.isna(v) else str(v) for v in r))
    return "\n".join(f"| {line} |" for line in rows)


def core_hours(df: pd.DataFrame) -> float:
    """Training, selection and evaluation seconds of every row, in core-hours (one thread per run)."""
    cols = [c for c in ("train_s", "select_s", "eval_s") if c in df]
    return float(df[cols].fillna(0).to_numpy().sum()) / 3600


def efficiency_tables(df: pd.DataFrame, targets: list[float]) -> None:
    eff = metrics.labeling_efficiency(df, baseline="random", targets=targets)
    print("## Labeling efficiency vs random at target test accuracies\n")
    table = eff.by_accuracy.pivot_table(index="strategy", columns="target_acc", values="efficiency",
                                        dropna=False).round(2)
    table.columns = [f"{100 * c:g}%" for c in table.columns]
    print(md(table.rename_axis("strategy")), "\n")
    if hasattr(metrics, "end_efficiency"):
        end = metrics.end_efficiency(df, baseline="random")
        print("## Labeling efficiency at the end (the highest accuracy both curves reach)\n")
        print(md(end.round(3)), "\n")


def significance(df: pd.DataFrame) -> None:
    sub, left_out = metrics.testable(df)
    if left_out:
        print(f"fewer than 2 seeds in some round, left out of the tests: {', '.join(left_out)}\n")
    if sub["strategy"].nunique() < 2:
        print("significance: fewer than two strategies with >= 2 seeds in every round\n")
        return
    later = slice(1, None)   # round 0 is the shared seed set: the same model for every strategy
    print("## Penalty matrix (row significantly better than column, fraction of rounds after the seed "
          "set, t-test over seeds, paired when both have the same seeds, α = 0.05)\n")
    print(md(metrics.penalty_matrix(sub, rounds=later).round(2)), "\n")
    tests = metrics.pairwise_tests(sub, rounds=later)
    tests["mean_diff"] *= 100
    tests = tests.rename(columns={"mean_diff": "a - b (points)"})
    print("pairwise tests:\n")
    print(md(tests[["n_labeled", "a", "b", "a - b (points)", "p", "n_a", "winner"]]
             .round({"a - b (points)": 2, "p": 4}).fillna({"winner": "-"})), "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="folder of JSON-lines result files")
    parser.add_argument("--targets", type=float, nargs="*", default=[], help="target test accuracies (fractions)")
    parser.add_argument("--split", default=None, help="a config column (e.g. redundancy): every table once per value")
    parser.add_argument("--claims", default=None, metavar="MODULE",
                        help="a dal_helpers.claims section module (e.g. s12_semi_supervised): its claims on all rows")
    args = parser.parse_args(argv)
    files = sorted(Path(args.folder).glob("*.jsonl"))
    df = load_results(files) if files else pd.DataFrame()
    if df.empty:
        print(f"no results yet in {args.folder}")
        return 1
    if args.claims:
        claims_table(df, args.claims)
    if args.split is None:
        summarize(df, args.targets)
        return 0
    if args.split not in df.columns:
        print(f"--split {args.split!r} is not a column of these rows; columns: {', '.join(sorted(df.columns))}")
        return 2
    for value, part in df.groupby(args.split, sort=True, dropna=False):   # None (e.g. ssl off) is a value too
        print(f"# {args.split} = {value}\n")
        summarize(part.copy(), args.targets)
    return 0


def claims_table(df: pd.DataFrame, module: str) -> None:
    """The section module's claims on every row: claim, paper, ours, p or CI, verdict and reason."""
    import importlib

    from dal_helpers.claims import SECTIONS

    if module not in SECTIONS:
        raise SystemExit(f"--claims {module!r} is not a claims module; choose one of: {', '.join(SECTIONS)}")
    mod = importlib.import_module(f"dal_helpers.claims.{module}")

    def shown(v):
        if isinstance(v, float):
            return f"{v:.3g}"
        if isinstance(v, tuple):
            return "(" + ", ".join(shown(x) for x in v) + ")"
        return str(v)

    rows = [{"claim": c.text, "paper": shown(c.paper), "ours": shown(c.ours),
             "p / CI": f"{c.p_value:.3g}" if c.p_value == c.p_value else (shown(c.ci) if c.ci else ""),
             "verdict": c.verdict, "reason": c.reason} for c in mod.claims(df)]
    print("## Claims\n")
    print(md(pd.DataFrame(rows)), "\n")


def summarize(df: pd.DataFrame, targets: list[float]) -> None:
    """Every table of one comparable set of runs."""
    seeds = df.groupby("strategy")["seed"].nunique()
    print(f"runs: {df['run_id'].nunique()} ({', '.join(f'{s}: {n} seed(s)' for s, n in seeds.items())}); "
          f"compute in these rows: {core_hours(df):.2f} core-hours\n")
    print("## Test accuracy (%), mean ± std over seeds\n")
    print(md(metrics.accuracy_table(df)), "\n")
    counts = df.groupby(["strategy", "n_labeled"])["seed"].nunique().unstack().astype("Int64")
    print("seeds per cell:\n")
    print(md(counts), "\n")
    if "random" in set(df["strategy"]) and df["strategy"].nunique() > 1:
        efficiency_tables(df, targets)
    significance(df)
    print("## Epochs and seconds per round (mean over seeds)\n")
    df["s_per_epoch"] = df["train_s"] / df["epochs"]
    df["ms_per_step"] = 1000 * df["s_per_epoch"] / (df["n_labeled"] / df["batch_size"]).apply(math.ceil)
    cols = ["epochs", "train_acc", "train_s", "s_per_epoch", "ms_per_step", "select_s", "eval_s"]
    print(md(df.groupby(["strategy", "n_labeled"])[cols].mean().round(2)), "\n")


if __name__ == "__main__":
    sys.exit(main())
