"""workspace: papermill string parameters parsed into the parameters cell's types or refused by name;
unknown parameters, RunConfig fields and strategy names refused with "did you mean" before any run."""
from __future__ import annotations

import pytest

from dal_helpers import config, workspace

DEFAULTS = {"seeds": [0, 1, 2], "overrides": {}, "n_init": 100, "alpha": 0.05, "augment": True,
            "preset": "mnist5k", "results_dir": None}


def test_strings_from_papermill_become_the_defaults_types():
    got = workspace.parse_parameters({"seeds": "[0, 1]", "overrides": "{per_class: 10}", "n_init": "50",
                                      "alpha": "0.01", "augment": "false", "preset": "[x]"}, DEFAULTS)
    assert got == {"seeds": [0, 1], "overrides": {"per_class": 10}, "n_init": 50, "alpha": 0.01,
                   "augment": False, "preset": "[x]"}          # a str parameter keeps its text
    assert workspace.parse_parameters({"alpha": 1}, DEFAULTS)["alpha"] == 1.0
    assert workspace.parse_parameters({"results_dir": "r"}, DEFAULTS)["results_dir"] == "r"


@pytest.mark.parametrize("name, value, expected", [("n_init", "abc", "int"), ("overrides", "per_class=10", "dict"),
                                                   ("seeds", "0", "list"), ("n_init", "10.5", "int"),
                                                   ("n_init", True, "int"), ("augment", "1", "bool")])
def test_wrong_types_are_refused_naming_parameter_and_type(name, value, expected):
    with pytest.raises(TypeError, match=rf"parameter {name}=.*expected {expected}"):
        workspace.parse_parameters({name: value}, DEFAULTS)


def test_unknown_parameter_is_an_error_with_a_suggestion():
    with pytest.raises(KeyError, match=r"unknown parameter 'seed'.*did you mean 'seeds'"):
        workspace.parse_parameters({"seed": "[0]"}, DEFAULTS)


def test_misspelt_field_and_strategy_are_caught_before_any_run():
    with pytest.raises(KeyError, match=r"'max_epoch'.*did you mean 'max_epochs'"):
        workspace.check_fields({"max_epoch": 3})
    workspace.check_fields({"max_epochs": 3})
    configs = config.expand(config.RunConfig(), strategy=["random", "entropi"])
    with pytest.raises(KeyError, match=r"unknown strategy 'entropi'.*did you mean 'entropy'"):
        workspace.check_configs(configs)
    assert len(workspace.check_configs(config.expand(config.RunConfig(), strategy=["random", "entropy"]))) == 2
