"""The one active-learning loop: seed set, then rounds of train -> evaluate -> record -> checkpoint ->
select, resumable after a kill at any moment.

`run_active_learning(cfg)` runs one strategy with one seed and returns its rows (one per round) as a
DataFrame; `run_experiment(configs, ...)` runs many and skips the ones already complete. The AL state
is one int64 vector, `labeled_round[n_train]` (-1 = unlabeled, r = labeled for round r). Randomness
comes from three generators, each derived from seeds only:
- init: `cfg.init_seed` (or `cfg.seed`) -> the initial weights and the seed set, so every strategy of
  an experiment starts from the same model and the same labeled points (paper Sec. 4);
- train and select: `cfg.seed` -> shuffles, augmentation, dropout, and the strategy's draws.
Round r trains on the points with labeled_round <= r (from the initial weights when cfg.reset, else
from the previous round's weights), evaluates on the test split, appends a row, checkpoints (rows,
labeled_round, generator states, trained weights) and then selects the batch of round r+1. A resumed
run restarts after the last checkpointed round and, on CPU, produces exactly the rows of an
uninterrupted run. The row of round r also carries what the selection that produced its newest batch
cost (`select_s`) and diagnostics of that batch (`sel_*` columns).
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from . import checkpoint as ckpt
from . import results as res
from .config import RunConfig
from .data import Splits, prepare
from .energy import Meter
from .inference import resolve_device
from .models import make_model
from .seeding import seed_features, seed_set
from .training import evaluate, train

# Columns that measure the machine rather than the run: they differ between identical runs.
TIMING_COLUMNS = ("train_s", "select_s", "eval_s", "energy_j", "train_energy_j", "select_energy_j",
                  "gpu_energy_j", "cpu_energy_j")
# Config fields that change where or how fast a run executes, never its results.
EXECUTION_FIELDS = ("device", "eval_batch_size", "num_threads", "data_root", "keep_round_models")
# Config fields left out of the rows: where files go, not what ran (rows of runs from before the field
# existed stay identical to new ones).
ROW_SKIPPED_FIELDS = ("keep_round_models",)
CHECKPOINT_FORMAT = 1


def derive_seed(seed: int, stream: int) -> int:
    """An independent 63-bit seed for `stream` (0 initial weights, 1 training, 2 selection, 3 seed set)
    of a run seeded with `seed`."""
    return int(np.random.SeedSequence([int(seed), int(stream)]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def base_seed(cfg: RunConfig) -> int:
    """The seed of the initial model and seed set: cfg.init_seed, or cfg.seed when it is None."""
    return cfg.seed if cfg.init_seed is None else cfg.init_seed


def initial_model(cfg: RunConfig, splits: Splits) -> torch.nn.Module:
    """The run's initial network, a function of (model, data shape, dropout, base_seed) only.

    Module constructors draw from torch's global generator; it is seeded inside a fork so the caller's
    global state is untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(base_seed(cfg), 0))
        return make_model(cfg.model, splits.n_classes, splits.x_train.shape[1],
                          image_size=splits.x_train.shape[-1], dropout=cfg.dropout)


def check_config(cfg: RunConfig, splits: Splits) -> list[int]:
    """Errors that need the pool, raised before any training; returns the label schedule."""
    from .strategies import get_strategy

    get_strategy(cfg.strategy)
    n_pool = splits.n_train
    if cfg.n_init > n_pool:
        raise ValueError(f"n_init={cfg.n_init} exceeds the {n_pool} points of the pool")
    if cfg.n_init == 0:
        raise ValueError("n_init=0 is invalid for the AL loop; allowed: 1 <= n_init <= "
                         f"{n_pool} (round 0 trains on the seed set)")
    schedule = cfg.label_schedule(n_pool)
    if len(schedule) > 1 and cfg.budget > n_pool - cfg.n_init:
        raise ValueError(f"budget={cfg.budget} exceeds the {n_pool - cfg.n_init} unlabeled points left "
                         f"in the pool after the seed set (pool {n_pool}, n_init {cfg.n_init})")
    return schedule


def _to_device(splits: Splits, device: torch.device) -> Splits:
    if splits.x_train.device == device:
        return splits
    mv = lambda t: None if t is None else t.to(device)  # noqa: E731
    return dataclasses.replace(splits, x_train=mv(splits.x_train), y_train=mv(splits.y_train),
                               x_test=mv(splits.x_test), y_test=mv(splits.y_test),
                               x_val=mv(splits.x_val), y_val=mv(splits.y_val))


# Near-duplicate radius of `sel_near_dup_frac`, as the RMS difference per seed feature (pixels in [0, 1],
# 8x8 average-pooled): 0.01 is about 2.5 grey levels. On mnist5k the nearest other digit of a point is
# farther than this for more than 99.9% of points (0.1% quantile 0.013, median 0.08), so the radius
# catches exact copies and near-identical images (re-encodings, slight brightness changes), not two
# different images of one class. App. D's shifted copies (up to 2 pixels) mostly lie beyond it (median
# 0.16); `sel_dup_frac` counts those through their shared original-row ids.
NEAR_DUP_RMS = 0.01
_CHUNK_ELEMS = 1 << 22   # entries of one block of distances: memory O(chunk), never (b + m) x (b + m)


def nearest_other_sq_dists(sel_feats: Tensor, lab_feats: Tensor, chunk_elems: int = _CHUNK_ELEMS) -> Tensor:
    """sel_feats: (b, d) features of a selected batch; lab_feats: (m, d) of the labeled set (m may be 0).
    Returns (b,) the squared Euclidean distance from each selected point to the nearest point of the
    batch other than itself, or of the labeled set (inf when b = 1 and m = 0). Computed in row blocks
    of at most chunk_elems distances against the batch and then the labeled set."""
    b = len(sel_feats)
    out = torch.full((b,), math.inf, dtype=sel_feats.dtype, device=sel_feats.device)
    for other, skip_self in ((sel_feats, True), (lab_feats, False)):
        if len(other) == 0:
            continue
        rows = max(1, chunk_elems // len(other))
        for s in range(0, b, rows):
            d2 = torch.cdist(sel_feats[s:s + rows], other).square()
            if skip_self:
                r = torch.arange(len(d2), device=d2.device)
                d2[r, r + s] = math.inf
            out[s:s + rows] = torch.minimum(out[s:s + rows], d2.min(1).values)
    return out


def batch_diagnostics(idx: Tensor, labeled_before: Tensor, y: Tensor, train_ids: Tensor, feats: Tensor,
                      n_classes: int, chunk: int = 1024, near_dup_rms: float = NEAR_DUP_RMS) -> dict[str, Any]:
    """What a selected batch looks like.

    idx: (b,) selected pool indices; labeled_before: (m,) indices labeled before it; y: (N,) labels;
    train_ids: (N,) original-row ids (copies share one); feats: (N, d) seed features.
    sel_class_entropy: entropy of the batch's class histogram divided by log(n_classes) (1 = balanced);
    sel_class_counts: that histogram, a list of n_classes ints (selected points per class);
    sel_dup_frac: 1 - distinct original rows / b (the share of the batch that repeats a point of it:
    exact duplicates and App. D near-copies share ids); sel_dist_labeled: mean over the batch of the
    Euclidean distance (seed-feature space) to the nearest previously labeled point (NaN if none);
    sel_near_dup_frac: the share of the batch whose nearest other selected or previously labeled point
    lies within near_dup_rms * sqrt(d) in seed-feature space (see NEAR_DUP_RMS; NaN for a batch of one
    point and no labels)."""
    b = len(idx)
    if b == 0:
        return {"n_selected": 0, "sel_class_entropy": math.nan, "sel_dup_frac": math.nan,
                "sel_dist_labeled": math.nan, "sel_class_counts": [0] * n_classes, "sel_near_dup_frac": math.nan}
    dev = feats.device
    idx = idx.to(dev)
    counts = torch.bincount(y[idx.to(y.device)], minlength=n_classes)
    p = counts.double() / b
    nz = p[p > 0]
    ent = max(0.0, float(-(nz * nz.log()).sum() / math.log(n_classes)))
    dup = 1.0 - torch.unique(train_ids[idx.to(train_ids.device)]).numel() / b
    lab = feats[labeled_before.to(dev)]
    if len(labeled_before) == 0:
        dist = math.nan
    else:
        mins = [torch.cdist(feats[idx[s:s + chunk]], lab).min(1).values for s in range(0, b, chunk)]
        dist = float(torch.cat(mins).mean())
    if b == 1 and len(lab) == 0:
        near = math.nan
    else:
        radius2 = near_dup_rms ** 2 * feats.shape[1]
        near = float((nearest_other_sq_dists(feats[idx], lab) <= radius2).double().mean())
    return {"n_selected": b, "sel_class_entropy": ent, "sel_dup_frac": float(dup), "sel_dist_labeled": dist,
            "sel_class_counts": [int(c) for c in counts.tolist()], "sel_near_dup_frac": near}


def _config_diff(saved: dict[str, Any], cfg: RunConfig) -> list[str]:
    now = cfg.to_dict()
    return sorted(k for k in set(saved) | set(now)
                  if k not in EXECUTION_FIELDS and saved.get(k) != now.get(k))


def checkpoint_path(checkpoint_dir: str | os.PathLike, cfg: RunConfig) -> Path:
    """`<checkpoint_dir>/<experiment>/<run_id>.pt` (long ids shortened by `results.file_stem`);
    experiment and run_id are checked by `results.check_name`, so the file stays inside checkpoint_dir."""
    res.check_name("experiment", cfg.experiment)
    res.check_name("run_id", cfg.run_id)
    return Path(checkpoint_dir) / cfg.experiment / f"{res.file_stem(cfg.run_id)}.pt"


def check_finite(model: torch.nn.Module, stats: Any, where: str) -> None:
    """Raise FloatingPointError naming `where` and the tensor when the round's training loss or any
    weight or buffer of `model` is NaN or infinite, so that no row or checkpoint records a diverged
    model. stats: the round's TrainStats (its loss is NaN only when no epoch ran)."""
    if stats.epochs > 0 and not math.isfinite(stats.loss):
        raise FloatingPointError(f"{where}: training loss is {stats.loss}; lower lr or check the data")
    for name, t in model.state_dict().items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise FloatingPointError(f"{where}: {name} holds non-finite values after training "
                                     f"(loss {stats.loss}); lower lr or check the data")


def _state_dict_cpu(model: torch.nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


def run_active_learning(cfg: RunConfig, splits: Splits | None = None, checkpoint_dir: str | os.PathLike | None = None,
                        results_dir: str | os.PathLike | None = None, progress: bool | str = True) -> pd.DataFrame:
    """Run (or resume, or just read back) one AL run; returns its rows, one per round.

    splits: the data (default `data.prepare(cfg)`); checkpoint_dir: where `<experiment>/<run_id>.pt`
    is kept (None: no resume); results_dir: where `<experiment>/<run_id>.jsonl` gets one row per
    round. progress: a bar (or plain lines) per round, see training.progress_bar. The run holds a lock
    on its files while it works (checkpoint.run_lock): a second process on the same run and folders
    raises checkpoint.RunLockedError naming the holder instead of writing rows of its own."""
    if cfg.keep_round_models and checkpoint_dir is None:
        raise ValueError("keep_round_models=True needs a checkpoint_dir (the round models are kept beside "
                         "the run's checkpoint); allowed: pass checkpoint_dir, or keep_round_models=False")
    if cfg.num_threads is not None:
        torch.set_num_threads(cfg.num_threads)
    ck_path = checkpoint_path(checkpoint_dir, cfg) if checkpoint_dir is not None else None
    rs_path = res.results_path(results_dir, cfg.experiment, cfg.run_id) if results_dir is not None else None
    with contextlib.ExitStack() as locks:  # one writer per run: a second process refuses, naming the holder
        for p in (ck_path, rs_path):
            if p is not None:
                locks.enter_context(ckpt.run_lock(p, what=f"run {cfg.run_id!r}"))
        return _run(cfg, splits, ck_path, rs_path, progress)


def _run(cfg: RunConfig, splits: Splits | None, ck_path: Path | None, rs_path: Path | None,
         progress: bool | str) -> pd.DataFrame:
    """The body of run_active_learning, with its files already locked."""
    state = ckpt.load_checkpoint(ck_path) if ck_path is not None else None
    finished = _finished_rows(cfg, state, ck_path, rs_path)
    if finished is not None:
        return pd.DataFrame(finished)

    splits = prepare(cfg) if splits is None else splits
    schedule = check_config(cfg, splits)
    device = resolve_device(cfg.device)
    dsp = _to_device(splits, device)
    feats = seed_features(dsp.x_train)

    model = initial_model(cfg, splits)
    init_weights = _state_dict_cpu(model)
    model = model.to(device)

    if state is None:
        labeled_round, rows, train_gen, select_gen, pending = _fresh_state(cfg, dsp, feats, device)
    else:
        labeled_round, rows, train_gen, select_gen = _resumed_state(state, ck_path, splits.n_train, model)
        pending = None
    if rs_path is not None:
        res.write_rows(rs_path, rows)  # the checkpoint is the truth; drop rows of an unfinished round

    last = len(schedule) - 1
    for r in range(len(rows), len(schedule)):
        if pending is None:
            # Select the batch of round r with the model trained in round r - 1.
            pending = _select_batch(cfg, model, dsp, labeled_round, schedule[r] - schedule[r - 1], r,
                                    select_gen, feats, device)

        if cfg.reset or r == 0:
            model.load_state_dict(init_weights)
        lab = (labeled_round >= 0).nonzero().squeeze(1).to(device)
        use_dss = bool(cfg.dss) and not (r % cfg.dss_full_every == 0 or r == last)
        desc = f"{cfg.run_id} round {r}/{last} ({len(lab)} labels)"
        with Meter(device) as mt:
            stats = _train_round(cfg, model, dsp, labeled_round, lab, train_gen, device, use_dss, progress, desc)
        check_finite(model, stats, f"run {cfg.run_id!r} round {r}")
        with Meter(device) as me:
            test_acc = evaluate(model, dsp.x_test, dsp.y_test, dsp.info, device, cfg.eval_batch_size)

        row = _round_row(cfg, r, last, len(lab), test_acc, stats, mt, me, pending, use_dss)
        rows.append(row)
        pending = None
        if ck_path is not None:
            _save_round(cfg, ck_path, r, last, model, labeled_round, rows, train_gen, select_gen)
        if rs_path is not None:
            res.append_row(rs_path, row)
    return pd.DataFrame(rows)


def _finished_rows(cfg: RunConfig, state: dict[str, Any] | None, ck_path: Path | None,
                   rs_path: Path | None) -> list[dict[str, Any]] | None:
    """The rows of a run already complete in its checkpoint or results file, else None."""
    if state is not None:
        diff = _config_diff(state["config"], cfg)
        if diff:
            raise ValueError(f"checkpoint {str(ck_path)!r} was written by a different config (fields "
                             f"{diff} differ); use another checkpoint_dir or experiment name, or delete it")
        if state.get("complete"):
            if rs_path is not None:
                res.write_rows(rs_path, state["rows"])
            return state["rows"]
    elif rs_path is not None and rs_path.exists():
        done = res.read_rows(rs_path)
        if done and done[-1].get("final") and all(r.get("run_id") == cfg.run_id for r in done):
            return done
    return None


def _fresh_state(cfg: RunConfig, dsp: Splits, feats: Tensor, device: torch.device
                 ) -> tuple[Tensor, list[dict[str, Any]], torch.Generator, torch.Generator, dict[str, Any]]:
    """A new run's (labeled_round, rows, train_gen, select_gen, pending) with its seed set drawn."""
    seed_gen = torch.Generator().manual_seed(derive_seed(base_seed(cfg), 3))
    train_gen = torch.Generator().manual_seed(derive_seed(cfg.seed, 1))
    select_gen = torch.Generator().manual_seed(derive_seed(cfg.seed, 2))
    labeled_round = torch.full((dsp.n_train,), -1, dtype=torch.int64)
    with Meter(device) as m:
        first = seed_set(cfg.seed_set, dsp.x_train, cfg.n_init, seed_gen, features=feats)
    labeled_round[first] = 0
    pending = {"select_s": m.seconds, "select_energy_j": m.joules,
               **batch_diagnostics(first, torch.empty(0, dtype=torch.long), dsp.y_train,
                                   dsp.train_ids, feats, dsp.n_classes)}
    return labeled_round, [], train_gen, select_gen, pending


def _resumed_state(state: dict[str, Any], ck_path: Path | None, n_pool: int, model: torch.nn.Module
                   ) -> tuple[Tensor, list[dict[str, Any]], torch.Generator, torch.Generator]:
    """(labeled_round, rows, train_gen, select_gen) of a checkpoint; loads its weights into model."""
    labeled_round = state["labeled_round"].clone()
    if labeled_round.shape != (n_pool,):
        raise ValueError(f"checkpoint {str(ck_path)!r} has labeled_round of shape "
                         f"{tuple(labeled_round.shape)}; the pool has {n_pool} points (data changed?)")
    rows = list(state["rows"])
    train_gen = ckpt.restore_generator(state["rng"]["train"])
    select_gen = ckpt.restore_generator(state["rng"]["select"])
    model.load_state_dict(state["model"])
    return labeled_round, rows, train_gen, select_gen


def _select_batch(cfg: RunConfig, model: torch.nn.Module, dsp: Splits, labeled_round: Tensor, budget: int,
                  r: int, select_gen: torch.Generator, feats: Tensor, device: torch.device) -> dict[str, Any]:
    """Select round r's batch into labeled_round (in place); returns its cost and diagnostics."""
    from .strategies import SelectionContext, select

    before = (labeled_round >= 0).nonzero().squeeze(1)
    with Meter(device) as m:
        ctx = SelectionContext(model, dsp, labeled_round.to(device), cfg, device)
        idx = select(cfg.strategy, ctx, budget, select_gen).cpu()
    del ctx
    labeled_round[idx] = r
    return {"select_s": m.seconds, "select_energy_j": m.joules,
            **batch_diagnostics(idx, before, dsp.y_train, dsp.train_ids, feats, dsp.n_classes)}


def _train_round(cfg: RunConfig, model: torch.nn.Module, dsp: Splits, labeled_round: Tensor, lab: Tensor,
                 train_gen: torch.Generator, device: torch.device, use_dss: bool, progress: bool | str,
                 desc: str) -> Any:
    """Train model on the labeled points lab (FixMatch also on the unlabeled pool); returns TrainStats."""
    if cfg.ssl == "fixmatch":  # the unlabeled part of the pool, never the test split
        from .ssl import train_fixmatch
        unl = (labeled_round < 0).nonzero().squeeze(1).to(device)
        return train_fixmatch(model, dsp.x_train[lab], dsp.y_train[lab], dsp.x_train[unl], cfg, train_gen,
                              info=dsp.info, device=device, progress=progress, desc=desc)
    return train(model, dsp.x_train[lab], dsp.y_train[lab], cfg, train_gen, info=dsp.info, device=device,
                 use_dss=use_dss, progress=progress, desc=desc)


def _round_row(cfg: RunConfig, r: int, last: int, n_labeled: int, test_acc: float, stats: Any, mt: Meter,
               me: Meter, pending: dict[str, Any], use_dss: bool) -> dict[str, Any]:
    """The row of round r: its measurements, its batch's diagnostics, then the config fields."""
    energies = [pending["select_energy_j"], mt.joules, me.joules]
    measured = [e for e in energies if not math.isnan(e)]
    row = {
        "experiment": cfg.experiment, "run_id": cfg.run_id, "dataset": cfg.dataset, "model": cfg.model,
        "strategy": cfg.strategy, "seed": cfg.seed, "round": r, "n_labeled": int(n_labeled),
        "test_acc": test_acc, "train_acc": stats.train_acc, "epochs": stats.epochs,
        "train_s": mt.seconds, "select_s": pending["select_s"], "eval_s": me.seconds,
        "energy_j": float(sum(measured)) if measured else math.nan,
        "train_energy_j": mt.joules, "select_energy_j": pending["select_energy_j"],
        "gpu_energy_j": mt.gpu_j, "cpu_energy_j": mt.cpu_j,
        "train_loss": stats.loss, "stop": stats.stop, "n_seen": stats.n_seen,
        "ssl_kept_frac": stats.history[-1] if cfg.ssl and stats.history else math.nan,
        "swa_epochs": stats.swa_epochs, "dss_round": use_dss, "final": r == last,
        "n_selected": pending["n_selected"], "sel_class_entropy": pending["sel_class_entropy"],
        "sel_dup_frac": pending["sel_dup_frac"], "sel_dist_labeled": pending["sel_dist_labeled"],
        "sel_class_counts": pending["sel_class_counts"], "sel_near_dup_frac": pending["sel_near_dup_frac"],
    }
    for k, v in cfg.to_dict().items():
        if k not in ROW_SKIPPED_FIELDS:
            row.setdefault(k, v)
    return row


def _save_round(cfg: RunConfig, ck_path: Path, r: int, last: int, model: torch.nn.Module, labeled_round: Tensor,
                rows: list[dict[str, Any]], train_gen: torch.Generator, select_gen: torch.Generator) -> None:
    """Checkpoint the run after round r (and, with keep_round_models, round r's model first)."""
    weights = _state_dict_cpu(model)
    if cfg.keep_round_models:  # before the checkpoint: a kill in between re-runs (and rewrites) round r
        ckpt.save_checkpoint({
            "format": CHECKPOINT_FORMAT, "run_id": cfg.run_id, "round": r, "model": weights,
            "labeled_round": labeled_round.clone(), "rng": {"select": ckpt.generator_state(select_gen)},
        }, ckpt.round_model_path(ck_path, r), keep_previous=False)
    ckpt.save_checkpoint({
        "format": CHECKPOINT_FORMAT, "config": cfg.to_dict(), "labeled_round": labeled_round.clone(),
        "rows": rows, "rng": {"train": ckpt.generator_state(train_gen),
                              "select": ckpt.generator_state(select_gen)},
        "model": weights, "complete": r == last,
    }, ck_path)


def _data_key(cfg: RunConfig) -> tuple:
    return (cfg.dataset, cfg.data_root, cfg.redundancy, cfg.redundancy_mode, cfg.n_unique, cfg.per_class,
            cfg.n_validation, base_seed(cfg))


def run_is_complete(cfg: RunConfig, checkpoint_dir=None, results_dir=None) -> bool:
    """True when a checkpoint or results file shows every round of this run."""
    if checkpoint_dir is not None:
        try:
            state = ckpt.load_checkpoint(checkpoint_path(checkpoint_dir, cfg))
        except ckpt.CheckpointError:
            state = None
        if state is not None and state.get("complete"):
            return True
    if results_dir is not None:
        p = res.results_path(results_dir, cfg.experiment, cfg.run_id)
        if p.exists():
            try:
                rows = res.read_rows(p)
            except ValueError:  # damaged: not complete; running it names the file (or rewrites it)
                return False
            return bool(rows) and bool(rows[-1].get("final"))
    return False


def run_experiment(configs: Iterable[RunConfig], checkpoint_dir: str | os.PathLike | None = None,
                   results_dir: str | os.PathLike | None = None, progress: bool | str = True,
                   splits: Splits | None = None) -> pd.DataFrame:
    """Run every config (skipping those already complete) and return all their rows.

    Data sets are prepared once per distinct data configuration (data set, variants, base seed) unless
    `splits` is given for all. Raises ValueError when two configs share (experiment, run_id), since they
    would write the same files."""
    configs = list(configs)
    seen: dict[tuple[str, str], int] = {}
    for i, c in enumerate(configs):
        key = (c.experiment, c.run_id)
        if key in seen:
            raise ValueError(f"configs {seen[key]} and {i} share experiment {c.experiment!r} and run_id "
                             f"{c.run_id!r}; give them different experiments or knobs")
        seen[key] = i
    cache: dict[tuple, Splits] = {}
    frames = []
    for cfg in configs:
        extended = extend_shorter_run(cfg, checkpoint_dir, results_dir)
        if extended and progress:
            print(f"[dal] extending run {extended!r} to {cfg.run_id!r} (same config, longer schedule)")
        if run_is_complete(cfg, checkpoint_dir, results_dir):
            frames.append(run_active_learning(cfg, splits, checkpoint_dir, results_dir, progress))
            continue
        sp = splits
        if sp is None:
            key = _data_key(cfg)
            if key not in cache:
                cache[key] = prepare(cfg)
            sp = cache[key]
        frames.append(run_active_learning(cfg, sp, checkpoint_dir, results_dir, progress))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


LENGTH_FIELDS = ("n_rounds", "label_cap")   # how long a run goes on: changing them extends the same run


def _same_run_but_length(row: dict[str, Any], cfg: RunConfig) -> bool:
    now = cfg.to_dict()
    return all(row.get(k) == v for k, v in now.items() if k not in LENGTH_FIELDS and k not in EXECUTION_FIELDS)


def extend_shorter_run(cfg: RunConfig, checkpoint_dir=None, results_dir=None) -> str | None:
    """When the experiment's folders hold a run of `cfg` that differs only in its length (n_rounds,
    label_cap), continue that run instead of starting a new one beside it: its checkpoint and results
    move to cfg's run id, with the longer schedule, and the AL loop resumes after its last round. The
    extended run equals one run with the longer schedule from the start (same selections and numbers).
    Returns the run id extended from, or None when there is none.

    Refused with ValueError naming both runs when the other run is longer (shrinking would drop
    measured rounds), has no checkpoint (rows alone cannot be continued), uses GRAD-MATCH subsets (the
    last round trains in full, so an extended run would differ), or its labeled-set sizes are not the
    start of the new schedule (e.g. a label_cap that cut the old last round short)."""
    if results_dir is None:
        return None
    folder = Path(results_dir) / cfg.experiment
    mine = res.results_path(results_dir, cfg.experiment, cfg.run_id)
    if mine.exists() or not folder.is_dir():
        return None
    for other in sorted(folder.glob(f"{res.file_stem(cfg.strategy)}_s{cfg.seed}*.jsonl")):
        try:
            rows = res.read_rows(other)
        except ValueError:
            continue
        if not rows or rows[0].get("run_id") == cfg.run_id or not _same_run_but_length(rows[0], cfg):
            continue
        old_id = rows[0]["run_id"]
        what = f"run {cfg.run_id!r} would extend run {old_id!r} of experiment {cfg.experiment!r} (same config but"
        old_cfg = RunConfig.from_dict({k: rows[0].get(k, v) for k, v in cfg.to_dict().items()})
        old_ck = checkpoint_path(checkpoint_dir, old_cfg) if checkpoint_dir is not None else None
        if old_ck is None or ckpt.load_checkpoint(old_ck) is None:
            raise ValueError(f"{what} {', '.join(LENGTH_FIELDS)}), and that run has no checkpoint to continue "
                             f"from; use another experiment name to start a new run, or keep the old length")
        if cfg.dss:
            raise ValueError(f"{what} its length); GRAD-MATCH runs train their last round in full, so an "
                             "extended run would differ from a longer one: use another experiment name")
        with ckpt.run_lock(old_ck, what=f"run {old_id!r}"):
            state = ckpt.load_checkpoint(old_ck)
            n_pool = int(state["labeled_round"].shape[0])
            done = [int(r["n_labeled"]) for r in state["rows"]]
            new_schedule = cfg.label_schedule(n_pool)
            if len(new_schedule) < len(done):
                raise ValueError(f"{what} fewer rounds: {len(new_schedule)} < {len(done)}); shrinking would "
                                 "drop measured rounds: read its first rounds instead, or use another experiment")
            if new_schedule[:len(done)] != done:
                raise ValueError(f"{what} its labeled-set sizes {done} are not the start of the new schedule "
                                 f"{new_schedule[:len(done) + 1]}); use another experiment name")
            last = len(new_schedule) - 1
            new = cfg.to_dict()
            state["config"] = {**state["config"], **{k: new[k] for k in LENGTH_FIELDS}}
            state["rows"] = [{**r, "run_id": cfg.run_id, **{k: new[k] for k in LENGTH_FIELDS},
                              "final": r["round"] == last} for r in state["rows"]]
            state["complete"] = len(done) == len(new_schedule)
            new_ck = checkpoint_path(checkpoint_dir, cfg)
            ckpt.save_checkpoint(state, new_ck)
            res.write_rows(mine, state["rows"])
            for path in (old_ck, ckpt.prev_path(old_ck), other):
                path.unlink(missing_ok=True)
        return old_id
    return None

