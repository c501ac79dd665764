"""What a section notebook publishes for the HTML report, in one place: the headline figure
(`headline`) and the "paper vs ours" table (`paper_vs_ours`), each written as a display output that
carries `META_KEY` metadata ({"kind": "headline", "caption": ...} or {"kind": "verdict", "rows": [...]});
`dal_helpers.report` reads those outputs back from the executed notebook with the same key.
`dal_helpers.notebook` re-exports these names, so notebooks call them as `nbh.headline(...)`."""
from __future__ import annotations

import base64
import io
from typing import Any, Iterable, Mapping, Sequence

META_KEY = "dal_helpers"   # key of the output metadata the report looks for


def _publish(data: dict[str, Any], meta: dict[str, Any]) -> None:
    from IPython.display import publish_display_data

    publish_display_data(data, metadata={META_KEY: meta})


def figure_png(fig, dpi: int = 110) -> bytes:
    """A matplotlib figure as PNG bytes (tight bounding box)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def headline(fig, caption: str = "") -> None:
    """Show `fig` (a matplotlib Figure) as the section's headline figure; the report's index shows it
    on the section's card. The figure is closed so that it is not displayed twice."""
    import matplotlib.pyplot as plt

    if caption and not fig.get_suptitle():  # the caption belongs on the figure, not only on the index card
        fig.suptitle(caption)
    png = figure_png(fig)
    plt.close(fig)
    _publish({"image/png": base64.b64encode(png).decode(), "text/plain": f"<headline figure: {caption}>"},
             {"kind": "headline", "caption": caption})


_COLOURS = {"reproduced": "#1a7f37", "not reproduced": "#cf222e", "inconclusive": "#9a6700",
            "not comparable": "#8c959f"}
COLUMNS = ("claim", "paper", "ours", "test", "p / CI", "verdict", "reason")
# Old dict rows judged by a tolerance (metrics.paper_vs_ours), mapped onto the Claim verdicts.
_LEGACY = {"agrees": "reproduced", "differs": "not reproduced", "not measured": "inconclusive"}


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "-" if value != value else f"{value:.3g}"
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return f"{_shown(value[0])}–{_shown(value[1])}"
    return str(value)


def _p_ci(c) -> str:
    parts = []
    if c.p_value == c.p_value:
        parts.append(f"p = {c.p_value:.3g}")
    if c.ci is not None:
        parts.append(f"CI [{c.ci[0]:.3g}, {c.ci[1]:.3g}]")
    return "; ".join(parts) or "-"


def _from_rows(rows: Sequence[Mapping[str, Any]]) -> list:
    """Claims from old dict rows ({claim, paper, ours, tol, note}), judged by metrics.paper_vs_ours
    with their tolerance; kept for one release, new code returns Claims (dal_helpers.claims)."""
    from . import metrics
    from .claims import Claim

    out = []
    for i, r in enumerate(metrics.paper_vs_ours(rows).to_dict("records")):
        verdict = _LEGACY[r["verdict"]]
        reason = ("not measured: " + (r["note"] or "no value")) if r["verdict"] == "not measured" else r["note"]
        paper = rows[i]["paper"]
        out.append(Claim(id=f"row.{i}", section="", text=r["claim"], paper=paper, source="", ours=r["ours"],
                         test=f"tolerance ±{r['tol']:g} on the number (old row, no statistical test)",
                         verdict=verdict, reason=reason))
    return out


def paper_vs_ours(claims: Iterable[Any]):
    """Show a section's claims (a list of `dal_helpers.claims.Claim`; old dict rows {claim, paper,
    ours, tol, note} are still accepted and judged by tolerance) as a table with the columns claim,
    paper, ours, test, p / CI, verdict (coloured) and reason, and record the rows for the report's
    index. Returns the table as a DataFrame with the id and source of each claim added."""
    import html

    import pandas as pd

    from .claims import Claim

    items = list(claims)
    if items and all(isinstance(c, Mapping) for c in items):
        items = _from_rows(items)
    bad = [type(c).__name__ for c in items if not isinstance(c, Claim)]
    if bad:
        raise TypeError(f"paper_vs_ours takes Claims (dal_helpers.claims) or dict rows, not a mix; got {bad[0]}")
    rows = [{"id": c.id, "claim": c.text, "paper": _shown(c.paper), "ours": _shown(c.ours), "test": c.test,
             "p / CI": _p_ci(c), "verdict": c.verdict, "reason": c.reason, "source": c.source} for c in items]
    cell = "<td style='text-align:left'>{}</td>"
    body = []
    for r in rows:
        colour = _COLOURS[r["verdict"]]
        body.append("<tr>" + "".join(cell.format(html.escape(r[k])) for k in ("claim", "paper", "ours"))
                    + f"<td style='text-align:left;color:#57606a;font-size:90%'>{html.escape(r['test'])}</td>"
                    + cell.format(html.escape(r["p / CI"]))
                    + f"<td><span style='background:{colour};color:#fff;border-radius:9px;padding:1px 9px;"
                      f"font-weight:600;white-space:nowrap'>{html.escape(r['verdict'])}</span></td>"
                    + f"<td style='text-align:left;color:#57606a'>{html.escape(r['reason'])}</td></tr>")
    head = "".join(f"<th style='text-align:left'>{h}</th>" for h in COLUMNS)
    page = f"<table><thead><tr>{head}</tr></thead><tbody>" + "".join(body) + "</tbody></table>"
    table = pd.DataFrame(rows, columns=["id", *COLUMNS, "source"])
    _publish({"text/html": page, "text/plain": table[list(COLUMNS)].to_string(index=False)},
             {"kind": "verdict", "rows": rows})
    return table
