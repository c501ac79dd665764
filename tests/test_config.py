"""RunConfig: validation names the field and what is allowed; presets follow the paper's tables."""
from __future__ import annotations

import dataclasses

import pytest

from dal_helpers.config import PRESETS, RunConfig, expand, preset


def test_defaults_are_valid_and_frozen():
    cfg = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lr = 0.1  # type: ignore[misc]
    assert cfg.replace(optimizer="adam").optimizer == "adam"


@pytest.mark.parametrize("field,value,allowed", [
    ("optimizer", "rmsprop", "sgd, adam"),
    ("train_acc_cutoff", 0.0, "(0, 1]"),
    ("train_acc_cutoff", 1.5, "(0, 1]"),
    ("budget", 0, ">= 1"),
    ("n_init", -5, ">= 0"),
    ("lr", -0.1, "> 0"),
    ("seed_set", "kmeans", "facility_location"),
    ("redundancy_mode", "copy", "duplicate, augment"),
    ("dss_fraction", 0.0, "(0, 1]"),
    ("device", "tpu", "auto"),
])
def test_bad_values_name_the_field(field, value, allowed):
    with pytest.raises(ValueError) as err:
        RunConfig(**{field: value})
    assert f"{field}={value!r}" in str(err.value) and allowed in str(err.value)


def test_label_cap_below_n_init_is_refused():
    with pytest.raises(ValueError, match="label_cap=100.*n_init \\(300\\)"):
        RunConfig(n_init=300, label_cap=100)


def test_unknown_names_list_the_allowed_ones():
    with pytest.raises(KeyError, match="unknown dataset 'cifar11'.*cifar10"):
        RunConfig(dataset="cifar11")
    with pytest.raises(KeyError, match="unknown model 'lenet'.*resnet18"):
        RunConfig(model="lenet")
    with pytest.raises(KeyError, match="unknown preset 'cifar'.*cifar10_resnet18"):
        preset("cifar")
    with pytest.raises(KeyError, match="unknown RunConfig field"):
        RunConfig.from_dict({"learning_rate": 0.1})


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds(name):
    assert isinstance(preset(name), RunConfig)


def test_presets_follow_the_paper_tables():
    # App. A.3: CIFAR-10 ResNet-18: 300 epochs, lr 0.01, batch 20, seed 1000, AL batch 3000, to 25k labels
    c = preset("cifar10_resnet18")
    assert (c.max_epochs, c.lr, c.batch_size, c.n_init, c.budget, c.label_cap) == (300, 0.01, 20, 1000, 3000, 25000)
    assert c.label_schedule(50000) == [1000, 4000, 7000, 10000, 13000, 16000, 19000, 22000, 25000]
    assert preset("cifar10_vgg19").batch_size == 128
    assert preset("svhn_vgg19").lr == 0.001
    m = preset("mnist")
    assert (m.n_init, m.budget, m.batch_size) == (300, 1000, 20)
    assert m.label_schedule(60000) == [300, 1300, 2300, 3300]
    assert preset("aug_cifar10_vgg11_adam").optimizer == "adam"


def test_label_schedule_stops_at_the_pool():
    cfg = RunConfig(n_init=100, budget=300, n_rounds=None, label_cap=1000)
    assert cfg.label_schedule(700) == [100, 400, 700]
    assert cfg.label_schedule(5000) == [100, 400, 700, 1000]


def test_run_id_names_what_differs_and_round_trips():
    cfg = RunConfig(strategy="badge", seed=2, optimizer="adam")
    assert cfg.run_id == "badge_s2_optimizer=adam"
    assert RunConfig.from_dict(cfg.to_dict()) == cfg


def test_expand_is_a_cartesian_product():
    cfgs = expand(RunConfig(), strategy=["random", "entropy"], seed=[0, 1, 2])
    assert [(c.strategy, c.seed) for c in cfgs][:4] == [("random", 0), ("random", 1), ("random", 2), ("entropy", 0)]
    assert len(cfgs) == 6
    with pytest.raises(KeyError, match="stratgy"):
        expand(RunConfig(), stratgy=["random"])


@pytest.mark.parametrize("field,value,allowed", [
    ("budget", "100", "an integer"),
    ("lr", "0.01", "a finite number"),
    ("seed", "0", "an integer"),
    ("seed", 1.5, "an integer"),
    ("seed", True, "an integer"),
    ("n_init", 10.5, "an integer"),
    ("max_epochs", 1.5, "an integer"),
    ("batch_size", 2.5, "an integer"),
    ("augment", "False", "True or False"),
    ("reset", "False", "True or False"),
    ("augment", 0, "True or False"),
    ("lr", float("inf"), "a finite number"),
    ("lr", float("nan"), "a finite number"),
    ("dropout", float("nan"), "a finite number or None"),
    ("n_rounds", 2.0, "an integer or None"),
    ("optimizer", 1, "a string"),
])
def test_wrong_types_are_refused_naming_field_value_and_type(field, value, allowed):
    with pytest.raises(TypeError) as err:
        RunConfig(**{field: value})
    msg = str(err.value)
    assert msg.startswith(f"{field}={value!r} ({type(value).__name__})") and allowed in msg


def test_negative_seed_is_a_range_error():
    with pytest.raises(ValueError, match=r"seed=-1 is invalid; allowed: an integer >= 0"):
        RunConfig(seed=-1)
    with pytest.raises(ValueError, match=r"init_seed=-3"):
        RunConfig(init_seed=-3)


def test_ints_are_floats_and_none_is_optional():
    cfg = RunConfig(lr=1, dropout=None, n_rounds=None, label_cap=500)
    assert cfg.lr == 1.0 and type(cfg.lr) is float  # lossless; one run id for lr=1 and lr=1.0
    assert cfg.run_id == RunConfig(lr=1.0, n_rounds=None, label_cap=500).run_id


@pytest.mark.parametrize("given,expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_import_makes_idle_openmp_threads_sleep_unless_the_user_chose(given, expected):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    out = subprocess.run([sys.executable, "-c", "import os, dal_helpers; print(os.environ['OMP_WAIT_POLICY'])"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_every_public_class_function_and_method_has_a_docstring():
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1] / "dal_helpers"
    missing = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            members = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))] \
                if isinstance(node, ast.ClassDef) else []
            for n in [node, *members]:
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not n.name.startswith("_") \
                        and not ast.get_docstring(n):
                    missing.append(f"{path.relative_to(root.parent)}:{n.lineno} {n.name}")
    assert missing == []
