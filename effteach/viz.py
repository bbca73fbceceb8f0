"""The book's plotly look, figure builders, and the same builders as widget panels.

Book pages show ``go.Figure`` objects: plotly's own sliders and frames work in static
HTML without a kernel. In a live kernel (``make lab``) :func:`panel` wraps the same
builder in ipywidgets controls, so the static figure and the live panel can never
disagree. Tests call builders headless and check data, never pixels.

Book: book/howto.md, "Figures and widgets".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

COLORS = ["#1f5fa8", "#d1495b", "#2e933c", "#edae49", "#6c4f9c", "#00798c", "#7f7f7f"]
TEMPLATE = "effteach"


def use_theme() -> None:
    """Register the book's plotly template and make it the default (idempotent)."""
    if TEMPLATE not in pio.templates:
        t = go.layout.Template()
        t.layout = go.Layout(
            font={"family": "Inter, Helvetica, Arial, sans-serif", "size": 13},
            colorway=COLORS,
            plot_bgcolor="white",
            paper_bgcolor="white",
            margin={"l": 60, "r": 20, "t": 50, "b": 50},
            xaxis={
                "showgrid": True,
                "gridcolor": "#e8e8e8",
                "zeroline": False,
                "linecolor": "#444",
                "ticks": "outside",
            },
            yaxis={
                "showgrid": True,
                "gridcolor": "#e8e8e8",
                "zeroline": False,
                "linecolor": "#444",
                "ticks": "outside",
            },
            hovermode="closest",
        )
        pio.templates[TEMPLATE] = t
    pio.templates.default = f"plotly_white+{TEMPLATE}"


def slider_figure(
    traces_at: Callable[[Any], Sequence[go.BaseTraceType]],
    values: Sequence[Any],
    label: str,
    active: int = 0,
    title: str = "",
    layout: dict | None = None,
    fmt: Callable[[Any], str] = str,
) -> go.Figure:
    """Build a figure with one set of traces per slider value (static-HTML friendly).

    Every value's traces are added up front and the slider toggles their visibility,
    so the figure needs no kernel.

    Args:
        traces_at: returns the traces to show for one value (same count for every
            value).
        values: the slider's values, at least one.
        label: the slider's label, e.g. ``"temperature"``.
        active: index of the value shown first.
        title: figure title.
        layout: extra layout settings.
        fmt: formats a value for the slider's tick labels.

    Returns:
        A ``go.Figure`` with ``len(values)`` slider steps.

    Raises:
        ValueError: if ``values`` is empty, ``active`` out of range, or the trace
            counts differ between values.
    """
    values = list(values)
    if not values:
        raise ValueError("values: expected at least one slider value")
    if not 0 <= active < len(values):
        raise ValueError(f"active: expected 0 <= active < {len(values)}, got {active}")
    fig = go.Figure()
    per_value = None
    for i, v in enumerate(values):
        traces = list(traces_at(v))
        if per_value is None:
            per_value = len(traces)
        elif len(traces) != per_value:
            raise ValueError(
                f"traces_at: returned {len(traces)} traces for {label}={v!r}, "
                f"expected {per_value} like the first value"
            )
        for tr in traces:
            tr.visible = i == active
            fig.add_trace(tr)
    steps = []
    for i, v in enumerate(values):
        vis = [j // per_value == i for j in range(per_value * len(values))]
        steps.append({"method": "update", "args": [{"visible": vis}], "label": fmt(v)})
    fig.update_layout(
        title=title,
        sliders=[
            {
                "active": active,
                "currentvalue": {"prefix": f"{label} = "},
                "pad": {"t": 40},
                "steps": steps,
            }
        ],
        **(layout or {}),
    )
    return fig


def panel(builder: Callable[..., go.Figure], **controls: Any):
    """Wrap a figure builder as a live ipywidgets panel.

    Args:
        builder: a function returning a ``go.Figure`` from keyword arguments.
        **controls: one ipywidget per keyword argument of ``builder`` (its
            ``.value`` is passed), or a plain value passed through unchanged.

    Returns:
        An ``ipywidgets.VBox`` of the controls and an ``Output`` showing the figure;
        ``panel.figure`` holds the most recent figure (for tests).
    """
    import ipywidgets as widgets

    live = {k: w for k, w in controls.items() if isinstance(w, widgets.ValueWidget)}
    fixed = {k: v for k, v in controls.items() if k not in live}
    out = widgets.Output()
    box = widgets.VBox([*live.values(), out])

    def redraw(_change=None) -> None:
        fig = builder(**fixed, **{k: w.value for k, w in live.items()})
        box.figure = fig
        # replace the Output's content through its widget state, not by capturing
        # display() messages: nbclient (book build, nbval) can stall on captured
        # output of a cell that redraws a panel
        out.outputs = (
            {
                "output_type": "display_data",
                "data": {
                    "application/vnd.plotly.v1+json": json.loads(fig.to_json()),
                    "text/plain": "<plotly figure>",
                },
                "metadata": {},
            },
        )

    for w in live.values():
        w.observe(redraw, names="value")
    redraw()
    return box
