"""Figures of the foundations chapter: softmax temperature, GPU bandwidth.

Book: notebooks/foundations/lecture.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import torch

from effteach.checks import check_float, check_sequence, typed
from effteach.foundations.reference import softmax_ref
from effteach.viz import panel, slider_figure

DEFAULT_LOGITS = (2.0, 1.0, 0.5, 0.0, -1.0, -2.5)
DEFAULT_TEMPERATURES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def softmax_at_temperature(logits: Sequence[float], temperature: float) -> torch.Tensor:
    """Return ``softmax(logits / temperature)`` in float64.

    Raises:
        ValueError: if ``temperature`` is not positive or ``logits`` is empty.
    """
    if not temperature > 0:
        raise ValueError(f"temperature: expected > 0, got {temperature}")
    z = torch.as_tensor(list(logits), dtype=torch.float64)
    if z.dim() != 1 or z.numel() == 0:
        raise ValueError(
            f"logits: expected a non-empty 1-D sequence, got {tuple(z.shape)}"
        )
    return softmax_ref(z / temperature)


def _entropy(p: torch.Tensor) -> float:
    return float(-(p * torch.log(p.clamp_min(1e-300))).sum())


def _bars(logits: Sequence[float], temperature: float) -> list[go.Bar]:
    p = softmax_at_temperature(logits, temperature)
    names = [f"z{i}={z:g}" for i, z in enumerate(logits)]
    return [
        go.Bar(
            x=names,
            y=p.tolist(),
            name=f"T={temperature:g}",
            hovertemplate="%{x}: p=%{y:.3f}<extra></extra>",
            text=[f"{v:.2f}" for v in p.tolist()],
            textposition="outside",
        )
    ]


def _reals(name: str, values, positive: bool = False) -> tuple[float, ...]:
    """A non-empty sequence of finite numbers (> 0 with ``positive``)."""
    return tuple(
        check_float(f"{name}[{i}]", x, 0.0 if positive else None, low_open=True)
        for i, x in enumerate(check_sequence(name, values))
    )


@typed
def temperature_figure(
    logits: Sequence[float] = DEFAULT_LOGITS,
    temperatures: Sequence[float] = DEFAULT_TEMPERATURES,
    active: int = 2,
) -> go.Figure:
    """Softmax probabilities of fixed logits, with a temperature slider.

    Args:
        logits: the scores z.
        temperatures: slider values T (all > 0); the bars show softmax(z / T).
        active: index of the temperature shown first.

    Returns:
        A static-HTML ``go.Figure`` with one slider step per temperature.

    Book: notebooks/foundations/lecture.md, "Temperature".
    """
    logits = _reals("logits", logits)
    temperatures = _reals("temperatures", temperatures, positive=True)
    return slider_figure(
        lambda t: _bars(logits, t),
        temperatures,
        "temperature",
        active=active,
        title="softmax(z / T): low T sharpens, high T flattens",
        layout={
            "yaxis": {"range": [0, 1.05], "title": "probability"},
            "showlegend": False,
        },
        fmt=lambda t: f"{t:g}",
    )


def _single_temperature_figure(
    logits: Sequence[float], temperature: float
) -> go.Figure:
    p = softmax_at_temperature(logits, temperature)
    fig = go.Figure(_bars(logits, temperature))
    fig.update_layout(
        title=f"T = {temperature:.2f}: max p = {float(p.max()):.3f}, "
        f"entropy = {_entropy(p):.3f} nats",
        yaxis={"range": [0, 1.05], "title": "probability"},
        showlegend=False,
    )
    return fig


@typed
def temperature_panel(logits: Sequence[float] = DEFAULT_LOGITS):
    """The live version of :func:`temperature_figure`: a slider redraws the bars.

    In the static book it shows the figure at T = 1 and a "Live in JupyterLab" note
    (:func:`effteach.viz.panel`).

    Returns:
        An ipywidgets ``VBox`` (slider + figure); ``.figure`` is the current figure.
    """
    import ipywidgets as widgets

    slider = widgets.FloatLogSlider(
        value=1.0,
        base=2,
        min=-3,
        max=4,
        step=0.25,
        description="T",
        continuous_update=False,
    )
    logits = _reals("logits", logits)
    launch = ("temperature_panel()" if logits == tuple(DEFAULT_LOGITS)
              else f"temperature_panel({list(logits)})")
    return panel(_single_temperature_figure, launch=launch, logits=logits,
                 temperature=slider)


@typed
def softmax_gpu_figure(result: dict) -> go.Figure:
    """Bandwidth of the Triton softmax and ``torch.softmax`` from a results file.

    Args:
        result: the parsed ``results/gpu/foundations.json``.

    Returns:
        GB/s against row length, one line per (implementation, dtype), with a dtype
        slider-free legend; the title names the GPU and date.
    """
    records = result.get("records")
    if not records:
        raise ValueError("result: expected a 'records' list with measurements")
    fig = go.Figure()
    keys = sorted({(r["impl"], r["dtype"]) for r in records})
    for impl, dtype in keys:
        rs = sorted(
            (r for r in records if r["impl"] == impl and r["dtype"] == dtype),
            key=lambda r: r["n_cols"],
        )
        fig.add_trace(
            go.Scatter(
                x=[r["n_cols"] for r in rs],
                y=[r["gbps"] for r in rs],
                mode="lines+markers",
                name=f"{impl} {dtype}",
                line={"dash": {"triton": "solid", "copy": "dash"}.get(impl, "dot")},
            )
        )
    env = result.get("env", {})
    fig.update_layout(
        title=f"Row softmax on {env.get('gpu', '?')} "
        f"({result.get('created', '?')[:10]})",
        xaxis={"type": "log", "title": "n_cols (row length)"},
        yaxis={"title": "GB/s (read + write)"},
    )
    return fig
