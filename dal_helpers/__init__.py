"""dal_helpers: the thin package behind the notebooks for evaluating deep active learning on image
classification (data, models, strategies, the training and AL loops, metrics, plots, grids, reports).

Heavy modules are imported on first use: `import dal_helpers as dal; dal.config.RunConfig()`."""
from __future__ import annotations

import importlib
import os

# Idle OpenMP threads sleep instead of spinning. torch's CPU kernels run on an OpenMP pool whose idle
# threads by default busy-wait for the next parallel region: on a machine whose cores are shared with
# other work (a grid's other cells, a second notebook) that spinning burns CPU time the work itself
# needs (bench/load.py measures it). Read once, when the OpenMP runtime starts, i.e. only when
# dal_helpers is imported before torch (the notebooks do); an OMP_WAIT_POLICY set by the user wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
# The one place the repository's address is kept: Colab badges and install cells, and the README, repeat
# it; `bash ci/set_repo_url.sh https://github.com/OWNER/NAME` rewrites all of them for a fork.
REPO_URL = "https://github.com/dal-helpers/dal_helpers"
_SUBMODULES = ("config", "data", "models", "inference", "strategies", "training", "seeding", "loop",
               "checkpoint", "results", "metrics", "plots", "grid", "report", "display", "notebook", "advisor",
               "scaling")


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_SUBMODULES)
