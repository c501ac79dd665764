"""dal_helpers.report: summaries read back from executed notebooks, per-notebook HTML and the index.

The notebooks are made here and executed with papermill: one publishes a headline figure and a
"paper vs ours" table through dal_helpers.notebook, one fails, one is never executed."""
from __future__ import annotations

import base64
from pathlib import Path

import nbformat
import papermill
import pytest

from dal_helpers import report

SECTION = '''import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from dal_helpers import notebook as nbh
from dal_helpers.claims import Claim
fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([1, 2, 3], [0.5, 0.7, 0.8])
nbh.headline(fig, caption="accuracy vs labels")
kw = dict(section="01", source="Sec. 4.1", test="paired t-test over seeds")
nbh.paper_vs_ours([
    Claim(id="01.a", text="entropy beats random", paper=True, ours=True, p_value=0.004, verdict="reproduced",
          reason="paired t-test over 3 seeds, p = 0.004", **kw),
    Claim(id="01.b", text="efficiency at the end", paper=(1.8, 2.0), ours=1.2, ci=(1.1, 1.3),
          verdict="not reproduced", reason="95% CI [1.1, 1.3] excludes the paper's 1.8–2", **kw),
    Claim(id="01.c", text="penalty cell", paper=0.11, verdict="inconclusive", reason="not measured: one seed", **kw),
    Claim(id="01.d", text="efficiency at 20x", paper=0.5, ours=0.8, verdict="not comparable",
          reason="highest redundancy 2x", **kw),
])
'''


def make_notebook(path: Path, *cells: str, title: str = "Section title") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title} [![Open In Colab](https://x/badge.svg)](https://x)\n\ntext"),
                nbformat.v4.new_code_cell('mode = "run"', metadata={"tags": ["parameters"]}),
                *[nbformat.v4.new_code_cell(c) for c in cells]]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """runs/ with an executed section notebook, a failed grid cell and a notebook never executed."""
    root = tmp_path_factory.mktemp("runs")
    src = make_notebook(root.parent / "src" / "section.ipynb", SECTION, title="Baselines")
    (root / "sec" / "cells" / "seeds=0_abc").mkdir(parents=True)
    papermill.execute_notebook(str(src), str(root / "sec" / "section.ipynb"), parameters={"mode": "report"},
                               progress_bar=False)
    bad = make_notebook(root.parent / "src" / "bad.ipynb", 'raise ValueError("no results yet")', title="Broken")
    with pytest.raises(papermill.PapermillExecutionError):
        papermill.execute_notebook(str(bad), str(root / "sec" / "cells" / "seeds=0_abc" / "bad.ipynb"),
                                   progress_bar=False)
    make_notebook(root / "other" / "unrun.ipynb", "print(1)", title="Never run")
    return root


def test_summary_reads_title_status_headline_and_verdicts(runs):
    s = report.summarize(runs / "sec" / "section.ipynb")
    assert s.title == "Baselines"                       # the Colab badge is stripped from the heading
    assert s.status == "ok" and s.error is None
    assert s.parameters["mode"] == "report" and s.seconds > 0
    assert base64.b64decode(s.headline_png)[:8] == b"\x89PNG\r\n\x1a\n"
    assert s.headline_caption == "accuracy vs labels"
    # The rows as notebook.paper_vs_ours records them: values shown as text, the test's p / CI and reason.
    assert [(r["id"], r["claim"], r["verdict"]) for r in s.verdicts] == [
        ("01.a", "entropy beats random", "reproduced"), ("01.b", "efficiency at the end", "not reproduced"),
        ("01.c", "penalty cell", "inconclusive"), ("01.d", "efficiency at 20x", "not comparable")]
    assert s.verdicts[1]["paper"] == "1.8–2" and s.verdicts[1]["ours"] == "1.2" and s.verdicts[2]["ours"] == "-"
    assert s.verdicts[0]["p / CI"] == "p = 0.004" and s.verdicts[1]["p / CI"] == "CI [1.1, 1.3]"
    assert s.verdicts[2]["reason"] == "not measured: one seed" and s.verdicts[0]["test"] == "paired t-test over seeds"


def test_summary_of_failed_and_unexecuted_notebooks(runs):
    failed = report.summarize(runs / "sec" / "cells" / "seeds=0_abc" / "bad.ipynb")
    assert failed.status == "failed" and failed.error == "ValueError: no results yet"
    unrun = report.summarize(runs / "other" / "unrun.ipynb")
    assert unrun.status == "not run" and unrun.headline_png is None and unrun.verdicts == []


def test_find_notebooks_separates_grid_cells(runs):
    sections, cells = report.find_notebooks(runs)
    # Sections by file name, wherever they live: section.ipynb before unrun.ipynb.
    assert [p.relative_to(runs).as_posix() for p in sections] == ["sec/section.ipynb", "other/unrun.ipynb"]
    assert [p.relative_to(runs).as_posix() for p in cells] == ["sec/cells/seeds=0_abc/bad.ipynb"]


def test_build_writes_html_and_an_index_with_figure_and_verdicts(runs, tmp_path):
    index = report.build(runs, tmp_path / "reports")
    assert index == (tmp_path / "reports" / "index.html").resolve()
    page = index.read_text()
    assert (tmp_path / "reports" / "section.html").is_file()
    assert (tmp_path / "reports" / "unrun.html").is_file()
    assert (tmp_path / "reports" / "cells" / "sec" / "seeds=0_abc.html").is_file()
    assert 'href="section.html"' in page and 'href="cells/sec/seeds=0_abc.html"' in page
    s = report.summarize(runs / "sec" / "section.ipynb")
    assert f"data:image/png;base64,{s.headline_png}" in page
    for verdict, cls in (("reproduced", "reproduced"), ("not reproduced", "not-reproduced"),
                         ("inconclusive", "inconclusive"), ("not comparable", "not-comparable")):
        assert f'<span class="pill {cls}">{verdict}</span>' in page
    assert 'title="highest redundancy 2x"' in page                  # the reason on hover
    assert "ValueError: no results yet" in page
    # Header counts: 2 notebooks, 1 grid cell, 1 failed; 3 of 4 claims measured (01.c is not), 1 reproduced.
    for value, label in ((2, "notebooks"), (1, "grid cells"), (1, "failed"), ("3 of 4", "claims measured"),
                         (1, "reproduced")):
        assert f"<b>{value}</b>{label}" in page
    html_page = (tmp_path / "reports" / "section.html").read_text()
    assert "<img" in html_page and "entropy beats random" in html_page


def test_cli_and_missing_folder(runs, tmp_path, capsys):
    assert report.main([str(runs), "--out", str(tmp_path / "r"), "--no-cells", "--hide-code"]) == 0
    assert "index.html" in capsys.readouterr().out
    assert not (tmp_path / "r" / "cells").exists()
    assert "nbh.headline" not in (tmp_path / "r" / "section.html").read_text()
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        report.build(tmp_path / "does-not-exist", tmp_path / "r2")


def test_an_unreadable_notebook_is_skipped_named_and_shown(runs, tmp_path, capsys):
    # A copy of runs/ with one damaged notebook (cut in half, as a copy interrupted mid-write): the
    # report still renders the others and writes the index, names the bad file, and exits 1.
    import shutil

    copy = tmp_path / "runs"
    shutil.copytree(runs, copy)
    broken = copy / "other" / "half.ipynb"
    text = (copy / "sec" / "section.ipynb").read_text()
    broken.write_text(text[: len(text) // 2])
    assert report.main([str(copy), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert f"skipped unreadable notebook {str(broken.resolve())!r}" in err and "1 notebook(s) could not be read" in err
    page = (tmp_path / "r" / "index.html").read_text()
    assert '<span class="pill unreadable">unreadable</span>' in page and "<b>1</b>unreadable (skipped)" in page
    assert (tmp_path / "r" / "section.html").is_file() and not (tmp_path / "r" / "half.html").exists()


def test_a_folder_without_notebooks_is_a_clear_message(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert report.main([str(tmp_path / "empty"), "--out", str(tmp_path / "r")]) == 2
    assert "no notebooks (*.ipynb) under" in capsys.readouterr().err
    assert not (tmp_path / "r" / "index.html").exists()
