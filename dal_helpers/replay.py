"""Offline replay: what other strategies would have selected from a run's own round models.

A run with `RunConfig(keep_round_models=True)` keeps, beside its checkpoint, the weights trained in each
round r together with the labeled set and the selection generator's state at the moment the loop
selected the batch of round r + 1 (`checkpoint.round_model_path`). `replay` loads such a round model
and runs any strategies on it, with the same labeled set, the same pool, the same budget and the same
generator state, without training anything. For each (round, strategy) it reports the batch, its
overlap with the batch the run itself recorded and with the other replayed batches, the loop's batch
diagnostics (`loop.batch_diagnostics`) and the seconds the selection took. Replaying the run's own
strategy reproduces its recorded batch exactly on CPU (tests/test_replay.py), which is what makes the
other strategies' batches a like-for-like comparison: they differ only in the selection rule.

Overlap of two batches A and B: `jaccard` = |A ∩ B| / |A ∪ B| and `shared` = |A ∩ B| / |A| (the share of
A that B also picked; the two batches have one size, so it is symmetric here).
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
import torch
from torch import Tensor

from . import checkpoint as ckpt
from .config import RunConfig
from .data import Splits, prepare
from .energy import Meter
from .inference import resolve_device
from .seeding import seed_features

RUN = "run"   # the label of the run's own recorded batch in overlap columns (`jaccard_run`)


def jaccard(a: Tensor, b: Tensor) -> float:
    """|A ∩ B| / |A ∪ B| of two sets of indices (1.0 for two empty sets)."""
    sa, sb = set(a.tolist()), set(b.tolist())
    union = len(sa | sb)
    return len(sa & sb) / union if union else 1.0


def shared(a: Tensor, b: Tensor) -> float:
    """|A ∩ B| / |A|: the share of batch A that batch B also holds (NaN for an empty A)."""
    sa = set(a.tolist())
    return len(sa & set(b.tolist())) / len(sa) if sa else float("nan")


def as_config(cfg_or_run: RunConfig | Mapping[str, Any] | pd.DataFrame) -> RunConfig:
    """The RunConfig of a run given as a RunConfig, a config dict or result row, or the DataFrame of
    that run's rows (one run_id; the config fields of its first row). Keys that are not RunConfig
    fields (measured columns) are ignored."""
    if isinstance(cfg_or_run, RunConfig):
        return cfg_or_run
    if isinstance(cfg_or_run, pd.DataFrame):
        if cfg_or_run.empty:
            raise ValueError("the rows of the run are empty; allowed: a RunConfig or the rows of one run")
        ids = sorted(map(str, pd.unique(cfg_or_run["run_id"]))) if "run_id" in cfg_or_run else []
        if len(ids) > 1:
            raise ValueError(f"the table holds {len(ids)} runs ({ids[:4]}...); allowed: the rows of one run "
                             "(filter by run_id) or its RunConfig")
        cfg_or_run = cfg_or_run.iloc[0].to_dict()
    if not isinstance(cfg_or_run, Mapping):
        raise TypeError(f"cfg_or_run is a {type(cfg_or_run).__name__}; allowed: a RunConfig, a config dict "
                        "or result row, or a DataFrame of one run's rows")
    from .config import _allowed_types

    kinds = _allowed_types(RunConfig)
    kw = {}
    for k, v in cfg_or_run.items():
        if k not in kinds:
            continue
        v = v.item() if hasattr(v, "item") else v
        if isinstance(v, float) and v != v:
            v = None                      # a field this run left at None, NaN in a table of several runs
        elif isinstance(v, float) and v.is_integer() and int in kinds[k][0] and float not in kinds[k][0]:
            v = int(v)                    # an int column that pandas turned into floats beside NaNs
        kw[k] = v
    return RunConfig.from_dict(kw)


def _rounds_to_replay(kept: list[int], rounds: Iterable[int] | None, last: int, where: str) -> list[int]:
    usable = [r for r in kept if r < last]    # the last round's model selects nothing
    if rounds is None:
        if not usable:
            raise FileNotFoundError(f"{where} keeps no round model that selected a batch (kept rounds {kept}, "
                                    f"last round {last}); run it with keep_round_models=True "
                                    "(a new checkpoint_dir or experiment if it is already complete)")
        return usable
    rounds = [int(r) for r in rounds]
    missing = [r for r in rounds if r not in usable]
    if missing:
        raise ValueError(f"rounds={missing} cannot be replayed for {where}; allowed: the rounds {usable} "
                         f"(kept models of rounds 0..{last - 1}; the last round {last} selects nothing)")
    return rounds


def replay(cfg_or_run: RunConfig | Mapping[str, Any] | pd.DataFrame, strategies: Sequence[str],
           rounds: Iterable[int] | None = None, checkpoint_dir: str | os.PathLike = "checkpoints",
           splits: Splits | None = None) -> pd.DataFrame:
    """Re-run `strategies` on the stored round models of one run, without training.

    cfg_or_run: the run (see `as_config`); strategies: registered names (the run's own may be among
    them); rounds: the rounds r whose model selects the batch of round r + 1 (default: every kept
    round but the last); checkpoint_dir: the run's checkpoint folder; splits: its data (default
    `data.prepare(cfg)`, the same pool the run used).

    Returns one row per (round, strategy): experiment, run_id, run_strategy, strategy, seed, round,
    batch_round (= round + 1), n_labeled (before the batch), budget, selected (the sorted batch, a list
    of global pool indices), jaccard_run / shared_run (overlap with the batch the run recorded for
    batch_round; NaN when the run has not reached it), jaccard_<s> for each replayed strategy s, the
    `sel_*` diagnostics of loop.batch_diagnostics, and select_s (wall seconds of the selection).
    Raises FileNotFoundError when the run has no checkpoint or no kept round models."""
    from . import loop

    cfg = as_config(cfg_or_run)
    strategies = _checked_strategies(strategies)
    ck_path = loop.checkpoint_path(checkpoint_dir, cfg)
    where = f"run {cfg.run_id!r} in {str(ck_path.parent)!r}"
    state = ckpt.load_checkpoint(ck_path)
    if state is None:
        raise FileNotFoundError(f"{where} has no checkpoint {ck_path.name!r}; allowed: a run checkpointed in "
                                "checkpoint_dir (run it with checkpoint_dir and keep_round_models=True)")
    splits = prepare(cfg) if splits is None else splits
    schedule = cfg.label_schedule(splits.n_train)
    todo = _rounds_to_replay(ckpt.kept_rounds(ck_path), rounds, len(schedule) - 1, where)
    final = state["labeled_round"]
    n_done = len(state["rows"])
    device = resolve_device(cfg.device)
    dsp = loop._to_device(splits, device)
    feats = seed_features(dsp.x_train)
    out: list[dict[str, Any]] = []
    for r in todo:
        kept = _round_model(ck_path, cfg, r)
        model = loop.initial_model(cfg, splits)
        model.load_state_dict(kept["model"])
        model = model.to(device)
        recorded = (final == r + 1).nonzero().squeeze(1) if r + 1 < n_done else None
        out.extend(_replay_round(cfg, strategies, r, kept, model, dsp, feats, schedule[r + 1] - schedule[r],
                                 recorded, device))
    return pd.DataFrame(out)


def _checked_strategies(strategies: Sequence[str]) -> list[str]:
    """strategies as a list, after checking it is non-empty, without repeats and all registered."""
    from .strategies import get_strategy

    strategies = list(strategies)
    if not strategies:
        raise ValueError("strategies=[] is invalid; allowed: one or more registered strategy names")
    if len(set(strategies)) < len(strategies):
        raise ValueError(f"strategies={strategies} repeats a name; allowed: distinct strategy names")
    for s in strategies:
        get_strategy(s)
    return strategies


def _round_model(ck_path: os.PathLike, cfg: RunConfig, r: int) -> dict[str, Any]:
    """The kept round-r model file of the run, checked to belong to that run and round."""
    kept = ckpt.read_checkpoint(ckpt.round_model_path(ck_path, r))
    if kept.get("run_id") != cfg.run_id or kept.get("round") != r:
        raise ValueError(f"round model {str(ckpt.round_model_path(ck_path, r))!r} belongs to run "
                         f"{kept.get('run_id')!r} round {kept.get('round')}, not {cfg.run_id!r} round {r}")
    return kept


def _replay_round(cfg: RunConfig, strategies: list[str], r: int, kept: dict[str, Any], model: torch.nn.Module,
                  dsp: Splits, feats: Tensor, budget: int, recorded: Tensor | None,
                  device: torch.device) -> list[dict[str, Any]]:
    """The replay rows of round r: each strategy's batch from the round model, and their overlaps."""
    from . import loop
    from .strategies import SelectionContext, select

    labeled_round = kept["labeled_round"]
    before = (labeled_round >= 0).nonzero().squeeze(1)
    batches: dict[str, Tensor] = {}
    rows = []
    for s in strategies:
        gen = ckpt.restore_generator(kept["rng"]["select"])   # the state the loop selected with
        with Meter(device) as m:
            ctx = SelectionContext(model, dsp, labeled_round.to(device), cfg.replace(strategy=s), device)
            idx = select(s, ctx, budget, gen).cpu()
        del ctx
        batches[s] = idx
        diag = loop.batch_diagnostics(idx, before, dsp.y_train, dsp.train_ids, feats, dsp.n_classes)
        rows.append({
            "experiment": cfg.experiment, "run_id": cfg.run_id, "run_strategy": cfg.strategy, "strategy": s,
            "seed": cfg.seed, "dataset": cfg.dataset, "model": cfg.model, "round": r, "batch_round": r + 1,
            "n_labeled": int(len(before)), "budget": int(budget), "selected": sorted(idx.tolist()),
            "jaccard_run": jaccard(idx, recorded) if recorded is not None else float("nan"),
            "shared_run": shared(idx, recorded) if recorded is not None else float("nan"),
            **diag, "select_s": m.seconds,
        })
    for row, s in zip(rows, strategies):
        for other in strategies:
            row[f"jaccard_{other}"] = jaccard(batches[s], batches[other])
    return rows


def overlap_matrix(df: pd.DataFrame) -> pd.DataFrame:
    """Mean Jaccard overlap over rounds between the replayed strategies and the run's recorded batches
    ("run"), from a `replay` table: a square DataFrame indexed by strategy names and "run". When the
    table holds several runs, their rounds are pooled."""
    from .metrics import require_columns

    require_columns(df, ["strategy", "jaccard_run"], what="replay table")
    names = [s for s in pd.unique(df["strategy"]) if f"jaccard_{s}" in df.columns]
    cols = [f"jaccard_{s}" for s in names] + ["jaccard_run"]
    m = df.groupby("strategy", sort=False)[cols].mean().reindex(names)
    m.columns = names + [RUN]
    run_row = m[RUN].rename(RUN)
    m.loc[RUN] = run_row.reindex(names).tolist() + [1.0]
    return m.astype(float)
