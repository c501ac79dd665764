"""First contact: the Colab badges and install cells follow the one `dal_helpers.REPO_URL`,
`ci/set_repo_url.sh` re-points all of them at a fork, and the install cell installs the package
without touching Colab's own pinned packages."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import dal_helpers

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _badge_and_setup(path: Path) -> tuple[str, str]:
    nb = nbformat.read(path, as_version=4)
    badges = [c.source for c in nb.cells if c.cell_type == "markdown" and "colab-badge.svg" in c.source]
    setups = [c.source for c in nb.cells if c.cell_type == "code" and "google.colab" in c.source]
    assert len(badges) == 1 and len(setups) == 1, f"{path.name}: one badge and one Colab setup cell expected"
    return badges[0], setups[0]


def _check_points_at(path: Path, url: str) -> None:
    owner_name = url.removeprefix("https://github.com/")
    badge, setup = _badge_and_setup(path)
    colab = re.findall(r"\((https://colab\.research\.google\.com/github/[^)]*)\)", badge)
    assert colab == [f"https://colab.research.google.com/github/{owner_name}/blob/main/notebooks/{path.name}"]
    assert re.findall(r'REPO_URL = "([^"]+)"', setup) == [url]
    # the package itself without its dependencies, so Colab's pinned jupyter/torch packages stay put
    install = [ln.strip() for ln in setup.splitlines() if "pip install" in ln]
    assert len(install) == 1 and install[0].startswith('!pip install -q --no-deps "dal-helpers @ git+{REPO_URL}" ')
    assert all("-U" not in ln.split() and "--upgrade" not in ln for ln in install)
    assert "github.com" not in setup.replace(url, "")  # no second, stale address


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_badge_and_install_cell_follow_repo_url(path):
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", dal_helpers.REPO_URL)
    _check_points_at(path, dal_helpers.REPO_URL)


def test_readme_names_repo_url():
    readme = (ROOT / "README.md").read_text()
    assert dal_helpers.REPO_URL in readme
    assert "ci/set_repo_url.sh" in readme
    stale = set(re.findall(r"github\.com/[\w.-]+/[\w.-]+", readme)) - {dal_helpers.REPO_URL.removeprefix("https://"),
                                                                     "github.com/OWNER/NAME"}  # the fork placeholder
    assert not stale, stale


def test_set_repo_url_rewrites_every_place(tmp_path):
    for part in ("ci", "notebooks", "dal_helpers"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    fork = "https://github.com/someone/dal-fork"
    env = {"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"}
    out = subprocess.run(["bash", "ci/set_repo_url.sh", fork + ".git"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert "someone/dal-fork" in out
    assert f'REPO_URL = "{fork}"' in (tmp_path / "dal_helpers/__init__.py").read_text()
    assert fork in (tmp_path / "README.md").read_text()
    for path in sorted((tmp_path / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        _check_points_at(path, fork)
    bad = subprocess.run(["bash", "ci/set_repo_url.sh", "https://gitlab.com/a/b"], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "not a GitHub repository URL" in bad.stderr
