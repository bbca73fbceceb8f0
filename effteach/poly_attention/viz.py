"""Figures of the poly_attention chapter: error against the logit bound.

:func:`error_figure` (static book: a plotly slider over the degree) and
:func:`error_panel` (JupyterLab: ipywidgets over the same builder, through
:func:`effteach.viz.panel`).

Book: notebooks/poly_attention/lecture.md, "Error against the logit bound".
"""

from __future__ import annotations

import plotly.graph_objects as go

from effteach.checks import check_sequence
from effteach.poly_attention.experiments import error_vs_logit

__all__ = ["error_figure", "error_panel"]


def error_figure(rows: list[dict], method: str = "taylor") -> go.Figure:
    """Measured output/gradient error and the theory bound against the max logit.

    Args:
        rows: the output of :func:`~effteach.poly_attention.error_vs_logit`.
        method: the polynomial named in the title.

    Returns:
        A log-log figure with one slider step per degree (3 traces each).

    Book: notebooks/poly_attention/lecture.md, "Error against the logit bound".
    """
    from effteach.viz import slider_figure

    rows = check_sequence("rows", rows)
    if not all(isinstance(r, dict) and {"degree", "max_logit"} <= set(r)
               for r in rows):
        raise ValueError("rows: expected the dicts of error_vs_logit")
    if not isinstance(method, str):
        raise TypeError(f"method: expected a str, got {type(method).__name__}")
    degrees = sorted({r["degree"] for r in rows})

    def traces(deg):
        rs = sorted((r for r in rows if r["degree"] == deg),
                    key=lambda r: r["max_logit"])
        x = [r["max_logit"] for r in rs]
        bound = [r["bound"] if r["bound"] < 1e3 else None for r in rs]
        return [go.Scatter(x=x, y=[r["out_err"] for r in rs], name="output error"),
                go.Scatter(x=x, y=[r["grad_err"] for r in rs], name="gradient error"),
                go.Scatter(x=x, y=bound, name="bound 2eps/(1-eps)",
                           line={"dash": "dash"})]

    return slider_figure(
        traces, degrees, "degree", active=len(degrees) // 2,
        title=f"{method}: error vs max logit", fmt=str,
        layout={"xaxis": {"type": "log", "title": "max |logit| B"},
                "yaxis": {"type": "log", "title": "error"}, "height": 460})


def error_panel(max_logits=(0.5, 1, 2, 4, 8), degrees=(2, 4, 6, 8)):
    """Live panel: pick the polynomial; the figure is :func:`error_figure`.

    Book: notebooks/poly_attention/lecture.md, "Error against the logit bound".
    """
    import ipywidgets as widgets

    from effteach.viz import panel

    max_logits = check_sequence("max_logits", max_logits)
    degrees = check_sequence("degrees", degrees)

    def build(method: str) -> go.Figure:
        return error_figure(error_vs_logit(max_logits, degrees, n_ctx=64,
                                           method=method), method)

    return panel(build, launch="error_panel()",
                 method=widgets.Dropdown(options=["taylor", "chebyshev"],
                                         value="taylor", description="method"))
