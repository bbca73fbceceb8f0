"""The chapter's figure: utility against n and eps, and the audit against the claim.

:func:`dp_figure` has two panels. Left: the measured RMSE of the flat and the tree
mechanism against ``n`` (log-log) with each one's first-order bound (dashed), at
the eps chosen by the slider; a marker shows the chosen ``n``. Right: the audit's
lower confidence bound on eps against the claimed eps for the two correct
mechanisms and the broken one, with the line "lower bound = claim" above which a
mechanism is caught; the slider's eps is marked. The slider toggles precomputed
traces, so it works in the static book; :func:`dp_panel` is the live version
(ipywidgets eps and n controls over the same builder).

Book: notebooks/dp_attention/lecture.md, "Experiments".
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from effteach.checks import check_float, check_int, typed
from effteach.dp_attention.experiments import audit_mechanism, error_sweep
from effteach.viz import COLORS, panel, slider_figure

__all__ = ["EPSS", "NS", "sweeps", "dp_figure", "dp_panel"]

#: the eps and n grids of the figure
EPSS = (0.25, 0.5, 1.0, 2.0, 4.0)
NS = (1000, 3000, 10000, 30000)
_COLOR = {"flat": COLORS[0], "tree": COLORS[2], "broken": COLORS[1]}
_LABEL = {"flat": "flat (ours)", "tree": "tree (corrected)", "broken": "broken"}


@functools.lru_cache(maxsize=4)
def _sweeps(n_runs: int, audit_runs: int) -> dict:
    errors = {m: error_sweep(m, NS, EPSS, n_runs=n_runs) for m in ("flat", "tree")}
    audits = {m: [audit_mechanism(m, e, n_runs=audit_runs).eps_lower for e in EPSS]
              for m in ("flat", "tree", "broken")}
    return {"errors": errors, "audits": audits}


@typed
def sweeps(n_runs: int = 40, audit_runs: int = 10_000) -> dict:
    """The numbers behind the figure (cached): error sweeps and audit bounds.

    Returns:
        ``{"errors": {mech: error_sweep(...)}, "audits": {mech: [eps_lower per
        EPSS]}}``.
    """
    return _sweeps(check_int("n_runs", n_runs, 2), check_int("audit_runs",
                                                             audit_runs, 40))


def _check_choice(name: str, value, grid: Sequence) -> int:
    for i, g in enumerate(grid):
        if abs(float(value) - g) <= 1e-9 * max(1.0, g):
            return i
    raise ValueError(f"{name}: expected one of {list(grid)}, got {value}")


@typed
def dp_figure(
    eps: float = 1.0, n: int = 10_000, n_runs: int = 40, audit_runs: int = 10_000
) -> go.Figure:
    """Error against n (left) and the audit against the claim (right), eps slider.

    Args:
        eps: the slider's starting eps, one of :data:`EPSS`.
        n: the marked n, one of :data:`NS`.
        n_runs: builds per point of the error curves.
        audit_runs: runs per dataset of each audit.

    Returns:
        A ``go.Figure`` with one slider step per eps.
    """
    i_eps = _check_choice("eps", check_float("eps", eps), EPSS)
    j_n = _check_choice("n", check_int("n", n, 1), NS)
    data = sweeps(n_runs, audit_runs)
    ns = np.array(NS, dtype=float)

    def traces_at(e):
        i = EPSS.index(e)
        out = []
        for m in ("flat", "tree"):
            sw = data["errors"][m]
            out.append(go.Scatter(x=ns, y=sw["rmse"][i], mode="lines+markers",
                                  name=f"{_LABEL[m]}: measured",
                                  line={"color": _COLOR[m]}, legendgroup=m))
            out.append(go.Scatter(x=ns, y=sw["bound"][i], mode="lines",
                                  name=f"{_LABEL[m]}: bound",
                                  line={"color": _COLOR[m], "dash": "dash"},
                                  legendgroup=m))
            out.append(go.Scatter(x=[ns[j_n]], y=[sw["rmse"][i][j_n]], mode="markers",
                                  marker={"size": 12, "color": _COLOR[m],
                                          "symbol": "circle-open"},
                                  showlegend=False, hoverinfo="x+y"))
        out.append(go.Scatter(x=list(EPSS), y=list(EPSS), mode="lines",
                              name="lower bound = claim", xaxis="x2", yaxis="y2",
                              line={"color": "#444", "dash": "dot"}))
        for m in ("flat", "tree", "broken"):
            y = data["audits"][m]
            out.append(go.Scatter(x=list(EPSS), y=y, mode="lines+markers",
                                  name=f"audit: {_LABEL[m]}", xaxis="x2", yaxis="y2",
                                  line={"color": _COLOR[m]}))
            out.append(go.Scatter(x=[e], y=[y[i]], mode="markers", xaxis="x2",
                                  yaxis="y2", showlegend=False,
                                  marker={"size": 14, "color": _COLOR[m],
                                          "symbol": "circle-open"}))
        return out

    layout = {
        "height": 520,
        "xaxis": {"domain": [0, 0.44], "type": "log", "title": {"text": "n (rows)"}},
        "yaxis": {"type": "log", "title": {"text": "RMSE vs exact attention"}},
        "xaxis2": {"domain": [0.56, 1], "type": "log", "anchor": "y2",
                   "title": {"text": "claimed ε"}},
        "yaxis2": {"anchor": "x2", "title": {"text": "audit: ε lower bound (95%)"}},
        # legend above the plots: the slider sits below them
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom",
                   "font": {"size": 11}},
        "margin": {"l": 60, "r": 20, "t": 130, "b": 60},
    }
    fig = slider_figure(traces_at, list(EPSS), "ε", active=i_eps,
                        title="Error falls as 1/n and 1/ε; the audit catches the "
                              "broken one", layout=layout, fmt=lambda e: f"{e:g}")
    # title at the very top, clear of the legend under it
    return fig.update_layout(title_y=0.985, title_yanchor="top")


def dp_panel(book: bool | None = None):
    """The live version of :func:`dp_figure`: eps and n controls (ipywidgets).

    Book: notebooks/dp_attention/lecture.md, "Experiments".
    """
    import ipywidgets as widgets

    if book is not None and not isinstance(book, bool):
        raise TypeError(
            f"book: expected True, False or None, got {type(book).__name__}"
        )
    eps = widgets.SelectionSlider(options=list(EPSS), value=1.0, description="ε")
    n = widgets.SelectionSlider(options=list(NS), value=10_000, description="n")
    return panel(dp_figure, launch="dp_panel()", book=book, eps=eps, n=n)
