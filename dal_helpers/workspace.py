"""What a notebook checks before its first run: papermill parameters and every RunConfig it will run.

`papermill -p NAME VALUE` injects VALUE as a string when it does not look like a number, so
`-p seeds "[0, 1]"` arrives as the text "[0, 1]". `parse_parameters` turns such strings into the type
of the parameters cell's default (list, dict, int, float, bool) or refuses, naming the parameter and
the expected type; a parameter the notebook does not declare is an error, with "did you mean".
`check_configs` validates the names and fields of every config of a notebook (strategy names, RunConfig
fields) before any training starts, so a typo in the last config does not cost the earlier runs.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
from typing import Any, Iterable, Mapping

import yaml


def did_you_mean(name: str, allowed: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest allowed name, '' when none is close (difflib ratio >= 0.6)."""
    close = difflib.get_close_matches(str(name), [str(a) for a in allowed], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _literal(text: str) -> Any:
    """A Python literal, else YAML (so "{per_class: 10}" and "per_class=10"-free dicts read as users
    type them); raises ValueError when neither parses."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(str(err)) from None


def parse_parameter(name: str, value: Any, default: Any) -> Any:
    """`value` in the type of `default` (the parameters cell's value). Strings are parsed as a Python
    literal or YAML ("[0, 1]", "{per_class: 10}", "0.01", "true"); a value of another type, or a bool
    where a number belongs, raises TypeError naming the parameter, the value and the expected type.
    A default of None accepts anything (e.g. results_dir: Optional[str])."""
    if default is None or isinstance(default, str):
        return value
    expected = type(default)
    got = _literal(value) if isinstance(value, str) else value
    if isinstance(default, bool):
        ok = isinstance(got, bool)
    elif isinstance(default, int):
        ok = isinstance(got, int) and not isinstance(got, bool)
    elif isinstance(default, float):
        ok = isinstance(got, (int, float)) and not isinstance(got, bool)
        got = float(got) if ok else got
    else:
        ok = isinstance(got, expected)
    if not ok:
        raise TypeError(f"parameter {name}={value!r} is invalid; expected {expected.__name__} "
                        f"(like {default!r})")
    return got


def parse_parameters(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """Every entry of `values` (e.g. a notebook's injected parameters) parsed with `parse_parameter`
    against `defaults` (the parameters cell). A name absent from defaults raises KeyError naming it,
    the closest declared name and all of them."""
    unknown = [k for k in values if k not in defaults]
    if unknown:
        k = unknown[0]
        raise KeyError(f"unknown parameter {k!r}{did_you_mean(k, defaults)}; "
                       f"this notebook's parameters: {', '.join(sorted(defaults))}")
    return {k: parse_parameter(k, v, defaults[k]) for k, v in values.items()}


def check_fields(changes: Mapping[str, Any]) -> None:
    """KeyError naming the first key of `changes` that is not a RunConfig field, with "did you mean"."""
    from . import config

    names = [f.name for f in dataclasses.fields(config.RunConfig)]
    for key in changes:
        if key not in names:
            raise KeyError(f"unknown RunConfig field {key!r}{did_you_mean(key, names)}; "
                           f"allowed: {', '.join(sorted(names))}")


def check_configs(configs: Iterable) -> list:
    """The configs as a list once every strategy name is known (KeyError with "did you mean"
    otherwise). Call before the first run: a misspelt name in the last config fails here, not after
    every earlier config has trained. RunConfig already checks its fields' types and ranges."""
    from .strategies import STRATEGIES

    out = list(configs)
    for cfg in out:
        if cfg.strategy not in STRATEGIES:
            raise KeyError(f"unknown strategy {cfg.strategy!r}{did_you_mean(cfg.strategy, STRATEGIES)}; "
                           f"allowed: {', '.join(sorted(STRATEGIES))}")
    return out
