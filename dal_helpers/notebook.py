"""Small helpers the notebooks call, so that each notebook cell stays a few lines long.

Setup (`in_colab`, `colab_setup`, `resolve_dirs`), turning a notebook's parameters into RunConfigs
(`make_configs`), running or only loading an experiment (`run_or_load`), and publishing what the HTML
report shows on its index page: the section's headline figure (`headline`) and its "paper vs ours"
verdicts (`paper_vs_ours`). The last two write display outputs that carry `dal_helpers`
metadata; `dal_helpers.report` reads them back from the executed notebook.
"""
from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

REPO_URL = "https://github.com/dal-helpers/dal_helpers"     # where Colab installs the package from
DRIVE_FOLDER = "/content/drive/MyDrive/dal_helpers"          # checkpoints and results in Colab
MODES = ("run", "report")
META_KEY = "dal_helpers"


# --------------------------------------------------------------------------------------------------
# Setup
# --------------------------------------------------------------------------------------------------

def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    if "google.colab" in sys.modules:
        return True
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def colab_setup(package: str | None = None, drive_folder: str = DRIVE_FOLDER, mount: bool = True) -> Path | None:
    """In Colab: pip-install the package (unless already importable from a checkout) and mount Google
    Drive so checkpoints survive a runtime reset. Returns the Drive folder used as the base of relative
    checkpoint and results paths. Outside Colab: does nothing and returns None."""
    if not in_colab():
        return None
    try:
        import dal_helpers.loop  # noqa: F401
    except ImportError:
        spec = package or f"dal-helpers @ git+{REPO_URL}"
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", spec], check=True)
    if mount:
        from google.colab import drive  # type: ignore[import-not-found]

        drive.mount("/content/drive")
    folder = Path(drive_folder)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def project_root(start: str | os.PathLike | None = None) -> Path | None:
    """The checkout this package was imported from when `start` (default: cwd) lies inside it."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "dal_helpers").is_dir():
            return folder
    return None


def resolve_dirs(checkpoint_dir: str | os.PathLike, results_dir: str | os.PathLike | None = None,
                 base: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Absolute (checkpoint_dir, results_dir), both created.

    Relative paths are taken from `base` (the Drive folder `colab_setup` returns), else the project root
    when the notebook runs inside a checkout (so `runs/...` means the same folder from `notebooks/` and
    from the repository root), else the working directory. results_dir=None -> checkpoint_dir/results."""
    root = Path(base) if base is not None else (project_root() or Path.cwd())

    def absolute(p: str | os.PathLike) -> Path:
        p = Path(p).expanduser()
        return p if p.is_absolute() else root / p

    ckpt = absolute(checkpoint_dir)
    res = absolute(results_dir) if results_dir is not None else ckpt / "results"
    ckpt.mkdir(parents=True, exist_ok=True)
    res.mkdir(parents=True, exist_ok=True)
    return ckpt, res


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is invalid; allowed: {', '.join(MODES)}")
    return mode


# --------------------------------------------------------------------------------------------------
# Parameters -> configs -> results
# --------------------------------------------------------------------------------------------------

def make_configs(preset: str | None, overrides: Mapping[str, Any] | None = None, **axes: Any) -> list:
    """RunConfigs of a notebook: the named paper preset (or RunConfig defaults for None), then
    `overrides` (a dict from the parameters cell; None values are dropped so that "keep the preset"
    can be written as None), then the Cartesian product of `axes` (name -> list of values).

    make_configs("mnist5k", {"max_epochs": 5}, strategy=["random", "entropy"], seed=[0, 1]) -> 4 configs."""
    from . import config

    base = config.preset(preset) if preset else config.RunConfig()
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}
    base = base.replace(**changes) if changes else base
    return config.expand(base, **axes)


def run_or_load(configs: Sequence, checkpoint_dir: str | os.PathLike, results_dir: str | os.PathLike,
                mode: str = "run", progress: bool = True):
    """mode "run": run (or resume) every config, then return the results of everything in results_dir;
    mode "report": only load results_dir (e.g. all cells of a dal-grid run). Returns a DataFrame with
    one row per (run, round)."""
    from . import results

    check_mode(mode)
    if mode == "run":
        from . import loop

        loop.run_experiment(list(configs), checkpoint_dir=checkpoint_dir, results_dir=results_dir)
    return results.load_results(results_dir)


# --------------------------------------------------------------------------------------------------
# What the report shows: headline figure and verdicts
# --------------------------------------------------------------------------------------------------

def _publish(data: dict[str, Any], meta: dict[str, Any]) -> None:
    from IPython.display import publish_display_data

    publish_display_data(data, metadata={META_KEY: meta})


def figure_png(fig, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def headline(fig, caption: str = "") -> None:
    """Show `fig` (a matplotlib Figure) as the section's headline figure; the report's index shows it
    on the section's card. The figure is closed so that it is not displayed twice."""
    import matplotlib.pyplot as plt

    png = figure_png(fig)
    plt.close(fig)
    _publish({"image/png": base64.b64encode(png).decode(), "text/plain": f"<headline figure: {caption}>"},
             {"kind": "headline", "caption": caption})


_COLOURS = {"agrees": "#1a7f37", "differs": "#cf222e", "not measured": "#8c959f"}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "-" if value != value else f"{value:.3g}"
    return str(value)


def paper_vs_ours(rows: Iterable[Mapping[str, Any]]):
    """Judge each claim with `metrics.paper_vs_ours` (rows: claim, paper, ours, optional tol and note;
    verdicts "agrees", "differs", "not measured"), display the table with coloured verdicts, and record
    it for the report's index. Returns the judged table as a DataFrame."""
    import html

    from . import metrics

    table = metrics.paper_vs_ours(rows)
    rows = [{k: (_shown(v) if k in ("paper", "ours") else v) for k, v in r.items() if k != "tol"}
            for r in table.to_dict("records")]
    cells = []
    for r in rows:
        colour = _COLOURS.get(r.get("verdict"), "#8c959f")
        cells.append("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(r.get(k, '')))}</td>"
                                      for k in ("claim", "paper", "ours"))
                     + f"<td><span style='background:{colour};color:#fff;border-radius:9px;padding:1px 9px;"
                       f"font-weight:600'>{html.escape(str(r.get('verdict')))}</span></td>"
                     + f"<td style='text-align:left;color:#57606a'>{html.escape(str(r.get('note', '')))}</td></tr>")
    page = ("<table><thead><tr><th>claim</th><th>paper</th><th>ours</th><th>verdict</th><th>note</th></tr>"
            "</thead><tbody>" + "".join(cells) + "</tbody></table>")
    _publish({"text/html": page, "text/plain": table.to_string(index=False)}, {"kind": "verdict", "rows": rows})
    return table
