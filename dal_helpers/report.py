"""HTML reports: every executed notebook under a runs folder rendered with nbconvert, plus an index.

A notebook tells the report what matters through display outputs carrying `dal_helpers` metadata
(written by `dal_helpers.display.headline` and `paper_vs_ours`, which notebooks call through
`dal_helpers.notebook`): the headline figure of the section and its "paper vs ours" verdict rows. They live inside the executed notebook
itself, so no side files can go stale. `build` renders each notebook to HTML and writes `index.html`:
one card per section notebook (title, status, run time, headline figure, claims with their p-value or
CI and verdict: "reproduced", "not reproduced", "inconclusive" or "not comparable", the reason on
hover) and, for grid runs, a table of the grid cells with their status and a link to each executed
cell notebook. The header counts the claims with a measured value ("N of M measured") and those
reproduced (rows of notebooks executed before claims were tested count "agrees" as reproduced).

CLI: `dal-report RUNS_DIR --out reports/`.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .display import META_KEY  # key of the output metadata written by dal_helpers.display


@dataclass
class NotebookSummary:
    """What the index shows of one executed notebook."""
    path: Path                              # executed notebook
    html: str                               # HTML file, relative to the index
    title: str
    status: str                             # "ok" | "failed" | "not run" | "unreadable"
    error: str | None = None
    seconds: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    headline_png: str | None = None         # base64 PNG
    headline_caption: str = ""
    verdicts: list[dict[str, Any]] = field(default_factory=list)


def summarize(nb_path: str | os.PathLike) -> NotebookSummary:
    """Read an executed notebook: title (first markdown heading), status, papermill duration and
    parameters, headline figure and verdict rows."""
    import nbformat

    nb_path = Path(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    title = nb_path.stem
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, flags=re.M)
            if m:
                title = re.sub(r"\[!\[.*?\]\(.*?\)\]\(.*?\)", "", m.group(1)).strip()
                break
    pm = nb.metadata.get("papermill", {})
    executed = any(c.get("execution_count") for c in nb.cells if c.cell_type == "code")
    status, error = ("ok" if executed else "not run"), None
    if pm.get("exception"):
        status = "failed"
    summary = NotebookSummary(path=nb_path, html="", title=title, status=status,
                              seconds=pm.get("duration"), parameters=dict(pm.get("parameters") or {}))
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error":
                summary.status = "failed"
                summary.error = f"{out.get('ename')}: {out.get('evalue')}"
            meta = (out.get("metadata") or {}).get(META_KEY)
            if not meta:
                continue
            if meta.get("kind") == "headline" and "image/png" in out.get("data", {}):
                summary.headline_png = out["data"]["image/png"].replace("\n", "")
                summary.headline_caption = meta.get("caption", "")
            elif meta.get("kind") == "verdict":
                summary.verdicts.extend(meta.get("rows", []))
    return summary


def render_html(nb_path: str | os.PathLike, html_path: str | os.PathLike, hide_code: bool = False) -> Path:
    """nbconvert HTML (lab template, images inline) of one notebook."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = hide_code
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nbformat.read(str(nb_path), as_version=4))
    html_path = Path(html_path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def find_notebooks(runs_dir: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """(section notebooks, grid-cell notebooks) under runs_dir; cell notebooks are those in a
    `cells/<cell_id>/` folder written by dal-grid. Sections are sorted by file name (00_quickstart
    first, wherever it was run), cells by path."""
    runs_dir = Path(runs_dir)
    sections, cells = [], []
    for p in sorted(runs_dir.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in p.parts:
            continue
        (cells if len(p.parts) >= 3 and p.parts[-3] == "cells" else sections).append(p)
    return sorted(sections, key=lambda p: (p.name, str(p))), cells


# --------------------------------------------------------------------------------------------------
# The index page
# --------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1f2328}
header{background:#1f2a44;color:#fff;padding:22px 32px}
header h1{margin:0;font-size:24px} header p{margin:6px 0 0;opacity:.8}
main{padding:24px 32px;max-width:1500px}
.stats{display:flex;gap:14px;margin-bottom:22px}
.stat{background:#fff;border-radius:8px;padding:12px 18px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.stat b{font-size:22px;display:block}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:20px}
.card{background:#fff;border-radius:10px;box-shadow:0 1px 4px rgba(0,0,0,.1);padding:16px 18px;overflow:hidden}
.card h2{font-size:17px;margin:0 0 6px} .card h2 a{color:#1f2a44;text-decoration:none}
.card h2 a:hover{text-decoration:underline}
.meta{font-size:12px;color:#57606a;margin-bottom:10px}
.card img{width:100%;border:1px solid #eee;border-radius:6px}
.caption{font-size:12px;color:#57606a;margin:4px 0 8px}
table{border-collapse:collapse;width:100%;font-size:13px;margin-top:8px}
th,td{border-bottom:1px solid #e5e7eb;padding:5px 7px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
.pill{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600;color:#fff}
.ok,.reproduced,.agrees{background:#1a7f37} .failed,.not-reproduced,.differs{background:#cf222e}
.not-run,.unreadable{background:#9a6700} .inconclusive{background:#bf8700}
.not-comparable,.not-measured{background:#8c959f}
.error{color:#cf222e;font-family:monospace;font-size:12px;white-space:pre-wrap}
details{margin-top:26px;background:#fff;border-radius:8px;padding:10px 16px}
summary{cursor:pointer;font-weight:600}
code{font-size:12px}
"""

# Verdicts of dal_helpers.claims, and those of notebooks executed before claims were tested.
VERDICT_CLASSES = {"reproduced": "reproduced", "not reproduced": "not-reproduced", "inconclusive": "inconclusive",
                   "not comparable": "not-comparable", "agrees": "agrees", "differs": "differs",
                   "not measured": "not-measured"}


def _verdict_pill(verdict: Any) -> str:
    text = str(verdict)
    cls = VERDICT_CLASSES.get(text, "not-measured")
    return f'<span class="pill {cls}">{html.escape(text)}</span>'


def _status_pill(status: str) -> str:
    return f'<span class="pill {status.replace(" ", "-")}">{html.escape(status)}</span>'


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def _card(s: NotebookSummary) -> str:
    title = (f'<a href="{html.escape(s.html)}">{html.escape(s.title)}</a>' if s.html else html.escape(s.title))
    parts = [f'<div class="card"><h2>{title}</h2>',
             f'<div class="meta">{_status_pill(s.status)} &nbsp; {html.escape(str(s.path.name))} &nbsp;·&nbsp; '
             f'{_fmt_seconds(s.seconds)}'
             + (f" &nbsp;·&nbsp; mode {html.escape(str(s.parameters['mode']))}" if "mode" in s.parameters else "")
             + "</div>"]
    if s.error:
        parts.append(f'<div class="error">{html.escape(s.error[:600])}</div>')
    if s.headline_png:
        parts.append(f'<a href="{html.escape(s.html)}"><img alt="headline figure" '
                     f'src="data:image/png;base64,{s.headline_png}"></a>')
        if s.headline_caption:
            parts.append(f'<div class="caption">{html.escape(s.headline_caption)}</div>')
    if s.verdicts:
        parts.append("<table><tr><th>claim</th><th>paper</th><th>ours</th><th>p / CI</th><th>verdict</th></tr>")
        for row in s.verdicts:
            reason = html.escape(str(row.get("reason", row.get("note", ""))), quote=True)
            parts.append("<tr>" + "".join(f"<td>{html.escape(str(row.get(k, '')))}</td>"
                                          for k in ("claim", "paper", "ours", "p / CI"))
                         + f'<td title="{reason}">{_verdict_pill(row.get("verdict", "not measured"))}</td></tr>')
        parts.append("</table>")
    parts.append("</div>")
    return "".join(parts)


def _cells_table(cells: list[NotebookSummary], runs_dir: Path) -> str:
    groups: dict[str, list[NotebookSummary]] = {}
    for s in cells:
        rel = s.path.parents[2].relative_to(runs_dir).as_posix()
        groups.setdefault(runs_dir.name if rel == "." else rel, []).append(s)
    out = []
    for grid, members in groups.items():
        n_ok = sum(m.status == "ok" for m in members)
        out.append(f"<details {'open' if n_ok < len(members) else ''}><summary>grid cells of "
                   f"<code>{html.escape(grid)}</code>: {n_ok}/{len(members)} ok</summary><table>"
                   "<tr><th>cell</th><th>status</th><th>time</th><th>parameters</th><th>error</th></tr>")
        for m in members:
            params = {k: v for k, v in m.parameters.items() if k not in ("checkpoint_dir", "results_dir", "mode")}
            out.append(f'<tr><td><a href="{html.escape(m.html)}">{html.escape(m.path.parent.name)}</a></td>'
                       f"<td>{_status_pill(m.status)}</td><td>{_fmt_seconds(m.seconds)}</td>"
                       f"<td><code>{html.escape(json.dumps(params, default=str))}</code></td>"
                       f'<td class="error">{html.escape((m.error or "")[:300])}</td></tr>')
        out.append("</table></details>")
    return "".join(out)


def _measured(row: dict[str, Any]) -> bool:
    """A claim row with a measured value ("ours" shown as something other than "-"), whatever its verdict."""
    reason = str(row.get("reason", ""))
    return str(row.get("ours", "-")) not in ("-", "", "None") and not reason.startswith("not measured")


def write_index(sections: list[NotebookSummary], cells: list[NotebookSummary], runs_dir: Path,
                out_dir: Path, title: str = "Deep active learning: evaluation report") -> Path:
    """Write out_dir/index.html: counts, one card per section notebook, a table of grid cells."""
    rows = [r for s in sections for r in s.verdicts]
    n_measured = sum(_measured(r) for r in rows)
    n_reproduced = sum(r.get("verdict") in ("reproduced", "agrees") for r in rows)
    stats = [("notebooks", len(sections)), ("failed", sum(s.status == "failed" for s in sections + cells)),
             ("claims measured", f"{n_measured} of {len(rows)}"), ("reproduced", n_reproduced)]
    if cells:
        stats.insert(1, ("grid cells", len(cells)))
    n_bad = sum(s.status == "unreadable" for s in sections + cells)
    if n_bad:
        stats.insert(2, ("unreadable (skipped)", n_bad))
    page = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
            f"<style>{_CSS}</style></head><body><header><h1>{html.escape(title)}</h1>",
            f"<p>{html.escape(str(runs_dir))} · generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
            "</p></header><main><div class='stats'>"]
    page += [f"<div class='stat'><b>{v}</b>{html.escape(k)}</div>" for k, v in stats]
    page.append("</div><div class='cards'>")
    page += [_card(s) for s in sections]
    page.append("</div>")
    if cells:
        page.append(_cells_table(cells, runs_dir))
    page.append("</main></body></html>")
    path = out_dir / "index.html"
    path.write_text("".join(page), encoding="utf-8")
    return path


def _summarize_and_render(path: Path, html_name: str, out_dir: Path, hide_code: bool) -> NotebookSummary:
    """summarize + render_html of one notebook; a notebook that cannot be read or rendered (damaged
    JSON, a file still being written) is skipped with a warning naming it and shown as "unreadable"."""
    try:
        s = summarize(path)
        s.html = html_name
        render_html(path, out_dir / html_name, hide_code=hide_code)
        return s
    except Exception as err:  # nbformat/nbconvert raise many types; one bad file must not lose the index
        reason = f"{type(err).__name__}: {err}"
        print(f"[dal-report] skipped unreadable notebook {str(path)!r}: {reason}", file=sys.stderr)
        return NotebookSummary(path=path, html="", title=path.stem, status="unreadable", error=reason)


def build(runs_dir: str | os.PathLike, out_dir: str | os.PathLike = "reports", hide_code: bool = False,
          cells: bool = True) -> Path:
    """`build_all`, returning only the index path."""
    return build_all(runs_dir, out_dir, hide_code, cells)[0]


def build_all(runs_dir: str | os.PathLike, out_dir: str | os.PathLike = "reports", hide_code: bool = False,
              cells: bool = True) -> tuple[Path, list[NotebookSummary]]:
    """Render every executed notebook under runs_dir to HTML in out_dir and write out_dir/index.html.

    Section notebooks go to out_dir/<name>.html (prefixed with their folder when names collide), grid
    cells to out_dir/cells/<grid>/<cell_id>.html. A notebook that cannot be read is skipped, named on
    stderr and shown on the index as "unreadable". Raises FileNotFoundError for a folder without
    notebooks. Returns the index path and the summaries of every notebook (sections, then cells)."""
    runs_dir, out_dir = Path(runs_dir).resolve(), Path(out_dir).resolve()
    if not runs_dir.is_dir():
        raise FileNotFoundError(f"runs folder {str(runs_dir)!r} does not exist")
    out_dir.mkdir(parents=True, exist_ok=True)
    section_paths, cell_paths = find_notebooks(runs_dir)
    section_paths = [p for p in section_paths if out_dir not in p.parents]
    stems = [p.stem for p in section_paths]
    if not section_paths and not cell_paths:
        raise FileNotFoundError(f"no notebooks (*.ipynb) under {str(runs_dir)!r}: run one first (papermill or "
                                "dal-grid writes executed notebooks there), or point dal-report at that folder")
    sections, cell_summaries = [], []
    for p in section_paths:
        name = p.stem if stems.count(p.stem) == 1 else "__".join(p.relative_to(runs_dir).with_suffix("").parts)
        sections.append(_summarize_and_render(p, f"{name}.html", out_dir, hide_code))
    for p in cell_paths if cells else []:
        grid = "__".join(p.parents[2].relative_to(runs_dir).parts) or "grid"
        cell_summaries.append(_summarize_and_render(p, f"cells/{grid}/{p.parent.name}.html", out_dir, hide_code))
    return write_index(sections, cell_summaries, runs_dir, out_dir), sections + cell_summaries


def main(argv: list[str] | None = None) -> int:
    """The dal-report command: 0 when every notebook was rendered, 1 when some were unreadable, 2 for
    a folder without notebooks."""
    parser = argparse.ArgumentParser(
        prog="dal-report", description="Render every executed notebook under RUNS_DIR to HTML plus an index.html "
        "with each section's headline figure and verdicts.")
    parser.add_argument("runs_dir", help="folder holding executed notebooks (e.g. runs/)")
    parser.add_argument("--out", default="reports", help="output folder (default: reports/)")
    parser.add_argument("--hide-code", action="store_true", help="leave code cells out of the HTML")
    parser.add_argument("--no-cells", action="store_true", help="skip the per-cell notebooks of grids")
    args = parser.parse_args(argv)
    try:
        index, summaries = build_all(args.runs_dir, args.out, hide_code=args.hide_code, cells=not args.no_cells)
    except FileNotFoundError as err:
        print(f"[dal-report] {err}", file=sys.stderr)
        return 2
    print(f"[dal-report] {index}")
    skipped = sum(x.status == "unreadable" for x in summaries)
    if skipped:
        print(f"[dal-report] {skipped} notebook(s) could not be read; see the index and the messages above",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
