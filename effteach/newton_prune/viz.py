"""Figures of the newton_prune chapter: perplexity against sparsity, what is kept.

Each builder returns a ``go.Figure`` whose plotly slider works in the static book;
each panel wraps the same builder in ipywidgets (:func:`effteach.viz.panel`), so the
live and the static versions cannot disagree.

* :func:`ppl_figure`: held-out perplexity of every method against sparsity, with and
  without compensation (lines), and a sparsity slider that marks one column and
  prints its values; :func:`ppl_panel` picks the calibration seed and the scale.
* :func:`kept_map_figure`: a layer x head map of the heads kept (and the share of
  MLP channels kept per layer), one frame per sparsity; :func:`kept_panel` picks the
  method and the allocation and recomputes the selection live.

Book: notebooks/newton_prune/lecture.md, "Experiments".
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import torch

from effteach.checks import check_float, check_sequence, typed
from effteach.models.gpt import TinyGPT
from effteach.newton_prune.experiments import summarize
from effteach.newton_prune.prune import (
    ALLOCATIONS,
    DEFAULT_ALLOCATION,
    METHODS,
    Calibration,
    select,
    unit_scores,
)
from effteach.viz import COLORS, panel, slider_figure

__all__ = ["ppl_figure", "ppl_panel", "kept_map_figure", "kept_panel"]

_LABEL = {"newton": "Newton (paper)", "magnitude": "magnitude", "wanda": "Wanda-sp",
          "flap": "FLAP-like", "random": "random"}


def _check_result(result) -> list[dict]:
    if not isinstance(result, dict) or not isinstance(result.get("records"), list):
        raise TypeError("result: expected the dict of results/cpu/newton_prune.json "
                        "(with 'records')")
    return result["records"]


def _curves(records: list[dict], seed: int | None) -> dict[str, dict[float, float]]:
    rows = [r for r in records if seed is None or r["seed"] in (None, seed)]
    if not any(r["method"] != "dense" for r in rows):
        raise ValueError(f"seed: no records for seed {seed}")
    return summarize(rows)


@typed
def ppl_figure(result: dict, seed: int | None = None, log_y: bool = True,
               active: float = 0.5) -> go.Figure:
    """Perplexity against sparsity for every method, plain (dashed) and compensated.

    Args:
        result: the committed results (``records`` of the sweep).
        seed: one calibration seed, or None for the mean over seeds.
        log_y: logarithmic perplexity axis.
        active: the sparsity the slider starts at.

    Returns:
        A figure with one slider step per sparsity; the slider marks that column
        and the legend-free marker trace's text gives the values there.
    """
    records = _check_result(result)
    curves = _curves(records, seed)
    dense = curves.get("dense", {0.0: float("nan")})[0.0]
    sparsities = sorted({s for k, d in curves.items() if k != "dense" for s in d})
    active = check_float("active", active, 0.0, 1.0)
    if active not in sparsities:
        raise ValueError(f"active: expected one of {sparsities}, got {active:g}")
    keys = [k for k in curves if k != "dense" and k.split("/")[1]
            == DEFAULT_ALLOCATION[k.split("/")[0]]]

    def lines() -> list:
        out = []
        for k in keys:
            method, _, comp = k.split("/")
            color = COLORS[METHODS.index(method) % len(COLORS)]
            d = curves[k]
            out.append(go.Scatter(
                x=list(d), y=list(d.values()), mode="lines+markers",
                name=f"{_LABEL[method]}{' + comp.' if comp == 'comp' else ''}",
                line={"color": color, "dash": "solid" if comp == "comp" else "dash"},
                legendgroup=method))
        out.append(go.Scatter(x=[0, max(sparsities)], y=[dense, dense], mode="lines",
                              name=f"dense {dense:.2f}",
                              line={"color": "black", "width": 1, "dash": "dot"}))
        return out

    def traces_at(s):
        pts = [(k, curves[k][s]) for k in keys if s in curves[k]]
        marker = go.Scatter(
            x=[s] * len(pts), y=[v for _, v in pts], mode="markers",
            marker={"size": 9, "symbol": "line-ew-open", "color": "black"},
            showlegend=False,
            hovertext=[f"{k}: {v:.2f}" for k, v in pts], hoverinfo="text")
        return [*lines(), marker]

    fig = slider_figure(
        traces_at, sparsities, "sparsity", active=sparsities.index(active),
        title="Held-out perplexity after pruning (dashed: no compensation)",
        fmt=lambda s: f"{s:.0%}",
        layout={"xaxis": {"title": {"text": "share of block parameters removed"},
                          "tickformat": ".0%"},
                "yaxis": {"title": {"text": "perplexity"},
                          "type": "log" if log_y else "linear"},
                "height": 560, "legend": {"font": {"size": 11}}})
    return fig


def ppl_panel(result: dict, seeds: Sequence[int] = (0, 1, 2)):
    """Live :func:`ppl_figure`: pick the calibration seed and the scale.

    Returns:
        An ipywidgets panel (:func:`effteach.viz.panel`).
    """
    import ipywidgets as widgets

    _check_result(result)
    seeds = check_sequence("seeds", seeds)
    options = [("mean of seeds", None)] + [(f"seed {s}", s) for s in seeds]
    return panel(
        ppl_figure, launch="ppl_panel(result)", result=result,
        seed=widgets.Dropdown(options=options, value=None, description="calibration"),
        log_y=widgets.Checkbox(value=True, description="log scale"))


@torch.no_grad()
@typed
def kept_map_figure(
    model: TinyGPT,
    calib: Calibration,
    method: str = "newton",
    allocation: str | None = None,
    sparsities: Sequence[float] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
    active: int = 2,
) -> go.Figure:
    """Which heads each layer keeps, per sparsity (slider), for one method.

    Args:
        model: the dense model.
        calib: its :func:`~effteach.newton_prune.prune.calibrate` statistics.
        method: one of :data:`~effteach.newton_prune.prune.METHODS`.
        allocation: one of ``ALLOCATIONS``; None is the method's default.
        sparsities: the slider's targets.
        active: index of the first sparsity shown.

    Returns:
        A heatmap (layers x heads, 1 = kept) per sparsity; the title of each step
        gives the parameter share actually removed and the channels kept per layer.
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    allocation = DEFAULT_ALLOCATION[method] if allocation is None else allocation
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation: expected one of {ALLOCATIONS}, got "
                         f"{allocation!r}")
    sparsities = [check_float(f"sparsities[{i}]", s, 0.0, 1.0)
                  for i, s in enumerate(check_sequence("sparsities", sparsities))]
    if any(s >= 1 for s in sparsities):
        raise ValueError("sparsities: expected shares in [0, 1)")
    n_layers, n_heads = len(model.layers), model.cfg.n_heads
    plans = {}
    for s in sparsities:
        heads, chans = unit_scores(model, calib, method, s)
        plans[s] = select(model, heads, chans, s, allocation)

    def traces_at(s):
        plan = plans[s]
        z = [[1.0 if h in set(plan.keep_heads[i].tolist()) else 0.0
              for h in range(n_heads)] for i in range(n_layers)]
        share = [len(c) / model.cfg.d_ff for c in plan.keep_channels]
        text = [[("kept" if z[i][h] else "removed") for h in range(n_heads)]
                for i in range(n_layers)]
        heat = go.Heatmap(
            z=z, x=[f"head {h}" for h in range(n_heads)],
            y=[f"layer {i}" for i in range(n_layers)], zmin=0, zmax=1,
            colorscale=[[0, "#f3d1d5"], [1, COLORS[0]]], showscale=False,
            text=text, texttemplate="%{text}", xgap=3, ygap=3)
        bars = go.Bar(
            x=share, y=[f"layer {i}" for i in range(n_layers)], orientation="h",
            xaxis="x2", yaxis="y", marker={"color": COLORS[2]},
            text=[f"{len(c)} ch." for c in plan.keep_channels],
            textposition="inside", showlegend=False,
            name=f"removed {plan.sparsity:.1%}")
        return [heat, bars]

    fig = slider_figure(
        traces_at, sparsities, "target sparsity", active=active,
        title=f"Kept by {_LABEL[method]} ({allocation}): heads | MLP channels",
        fmt=lambda s: f"{s:.0%}",
        layout={"xaxis": {"domain": [0, 0.62]},
                "xaxis2": {"domain": [0.7, 1], "range": [0, 1], "tickformat": ".0%",
                           "title": {"text": "channels kept"}},
                "height": 420})
    return fig


def kept_panel(model: TinyGPT, calib: Calibration):
    """Live :func:`kept_map_figure`: pick the method and the allocation.

    Returns:
        An ipywidgets panel (:func:`effteach.viz.panel`).
    """
    import ipywidgets as widgets

    if not isinstance(model, TinyGPT):
        raise TypeError(f"model: expected a TinyGPT, got {type(model).__name__}")
    if not isinstance(calib, Calibration):
        raise TypeError(f"calib: expected a Calibration, got {type(calib).__name__}")
    return panel(
        kept_map_figure, launch="kept_panel(model, calib)", model=model, calib=calib,
        method=widgets.Dropdown(options=list(METHODS), value="newton",
                                description="method"),
        allocation=widgets.Dropdown(options=list(ALLOCATIONS), value="global",
                                    description="allocation"))
