"""The book's plotly look, figure builders, and the same builders as widget panels.

Book pages show ``go.Figure`` objects: plotly's own sliders and frames work in static
HTML without a kernel. :func:`panel` wraps a builder in ipywidgets controls whose
effect is computed in Python, so it decides once, for every chapter, what a reader
sees:

* **live** (JupyterLab, ``make lab``, any kernel): the ipywidgets panel; moving a
  control calls the builder again.
* **book** (the kernel that ``python -m effteach.tools.book`` runs sets
  ``EFFTEACH_BOOK=1``): the panel's current figure, a plain plotly figure whose own
  sliders and frames work without Python, then a note (class ``effteach-live``) that
  says "Live in JupyterLab", lists the controls with their values and gives the code
  that opens the panel. No ipywidgets control is shown, so none is dead.

Both modes call the same builder, so the static figure and the live panel can never
disagree. Tests call builders headless and check data, never pixels.

Book: book/howto.md, "Reading the rendered book".
"""

from __future__ import annotations

import functools
import html
import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from effteach.checks import check_sequence, typed

COLORS = ["#1f5fa8", "#d1495b", "#2e933c", "#edae49", "#6c4f9c", "#00798c", "#7f7f7f"]
TEMPLATE = "effteach"
#: Set to "1" by the book build (effteach.tools.book) for the kernel that executes the
#: lectures; :func:`panel` then shows figure + note instead of live controls.
BOOK_ENV = "EFFTEACH_BOOK"
#: CSS class of the note that stands in for a panel's controls in the book.
LIVE_CLASS = "effteach-live"
#: The words every such note starts with (the browser test looks for the class).
LIVE_MARK = "Live in JupyterLab"


def book_mode() -> bool:
    """True when this kernel is executing the lectures for the static book.

    The book build sets ``EFFTEACH_BOOK=1`` in the kernel's environment; anything
    else (unset, empty, ``0``) means a live kernel.
    """
    return os.environ.get(BOOK_ENV, "").strip() not in ("", "0")


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


@typed
def slider_figure(
    traces_at: Callable[[Any], Sequence[Any]],  # of plotly traces
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
    values = check_sequence("values", values, non_empty=False)
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
    if fig.layout.xaxis.title.text:
        # below the x-axis title, not on it: the slider's label sits at the top of
        # its pad, and the title ~20-50 px under the axis
        fig.layout.sliders[0].pad.t = 75
    return fig


def _drop_dead_sliders(fig: go.Figure) -> go.Figure:
    """Remove plotly sliders with fewer than two steps: moving them changes nothing."""
    sliders = [sl for sl in (fig.layout.sliders or ()) if len(sl.steps or ()) >= 2]
    if len(sliders) != len(fig.layout.sliders or ()):
        fig.layout.sliders = sliders
    return fig


def _control_label(name: str, widget: Any) -> str:
    label = getattr(widget, "description", "") or name
    value = widget.value
    if isinstance(value, float):
        value = f"{value:g}"
    return f"{label} = {value}"


@typed
def live_note(launch: str | None, controls: Sequence[str] = ()) -> dict[str, str]:
    """The book's stand-in for a panel's controls, as a display bundle.

    Args:
        launch: the code that opens the panel in JupyterLab, e.g.
            ``"pebble_panel()"``; None says "this cell".
        controls: ``"name = value"`` of each control, as the figure shows them.

    Returns:
        ``{"text/html": ..., "text/plain": ...}``; the HTML is one ``<div>`` of class
        :data:`LIVE_CLASS` starting with :data:`LIVE_MARK`.
    """
    controls = check_sequence("controls", controls, non_empty=False)
    for i, c in enumerate(controls):
        if not isinstance(c, str):
            raise TypeError(f"controls[{i}]: expected a str, got {type(c).__name__}")
    state = "; ".join(controls)
    at = f" at {state}" if state else ""
    run = launch if launch else "this cell"
    plain = (f"{LIVE_MARK}: the figure above is this panel{at}, drawn when the page "
             f"was built. Its controls run Python, so only a kernel can move them: "
             f"open this lecture in JupyterLab (make lab) and run {run}")
    code = (f'<pre style="margin:.4em 0 0;padding:.3em .5em;background:#fff;'
            f'white-space:pre-wrap"><code>{html.escape(launch)}</code></pre>'
            if launch else "")
    body = (
        f'<div class="{LIVE_CLASS}" style="border-left:4px solid {COLORS[0]};'
        f'background:#f3f6fb;padding:.5em .8em;margin:.3em 0;font-size:.9em">'
        f"<strong>{LIVE_MARK}.</strong> The figure above is this panel"
        f"{html.escape(at)}, drawn when the page was built. Its controls run Python, "
        f"so the book does not show them. Open this lecture in JupyterLab "
        f"(<code>make lab</code>) and run this cell for the live panel"
        f"{':' if launch else '.'}{code}</div>"
    )
    return {"text/html": body, "text/plain": plain}


@functools.cache
def _panel_type() -> type:
    import ipywidgets as widgets

    class Panel(widgets.VBox):
        """A VBox of controls and an ``Output``; displays per :func:`book_mode`."""

        def _ipython_display_(self) -> None:
            from IPython.display import display

            if not self.book:
                display(self._repr_mimebundle_(), raw=True)
                return
            display(self.figure)
            display(live_note(self.launch,
                              [_control_label(k, w) for k, w in self.controls.items()]),
                    raw=True)

    return Panel


def panel(builder: Callable[..., go.Figure], launch: str | None = None,
          book: bool | None = None, **controls: Any):
    """Wrap a figure builder as a panel: live controls, or figure + note in the book.

    Args:
        builder: a function returning a ``go.Figure`` from keyword arguments.
        launch: the code that opens this panel in JupyterLab, shown by the book's
            note, e.g. ``"pebble_panel()"``.
        book: force book mode (True) or live mode (False); default
            :func:`book_mode`.
        **controls: one ipywidget per keyword argument of ``builder`` (its
            ``.value`` is passed), or a plain value passed through unchanged.

    Returns:
        An ``ipywidgets.VBox`` of the controls and an ``Output`` showing the figure.
        Its ``.figure`` is the most recent figure (plotly sliders with fewer than two
        steps removed) and follows the controls in both modes; ``.controls`` maps
        names to widgets, ``.book`` and ``.launch`` are the arguments. Displayed in
        book mode it shows ``.figure`` and :func:`live_note` instead of itself.

    Raises:
        TypeError: if ``builder`` is not callable or ``launch`` not a string.
    """
    import ipywidgets as widgets

    if not callable(builder):
        raise TypeError(f"builder: expected a callable returning a go.Figure, "
                        f"got {type(builder).__name__}")
    if launch is not None and not isinstance(launch, str):
        raise TypeError(f"launch: expected the launch code as a str, got "
                        f"{type(launch).__name__}")
    if book is not None and not isinstance(book, bool):
        raise TypeError(
            f"book: expected True, False or None, got {type(book).__name__}"
        )
    book = book_mode() if book is None else book
    live = {k: w for k, w in controls.items() if isinstance(w, widgets.ValueWidget)}
    fixed = {k: v for k, v in controls.items() if k not in live}
    out = widgets.Output()
    box = _panel_type()([*live.values(), out])
    box.controls, box.book, box.launch = dict(live), book, launch

    def redraw(_change=None) -> None:
        values = {k: w.value for k, w in live.items()}
        fig = box.figure = _drop_dead_sliders(builder(**fixed, **values))
        if book:  # the book shows box.figure itself; keep the widget state small
            return
        # replace the Output's content through its widget state, not by capturing
        # display() messages: nbclient (nbval) can stall on captured output of a cell
        # that redraws a panel
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
