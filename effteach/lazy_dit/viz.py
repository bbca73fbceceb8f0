"""Figures of the lazy_dit chapter: where the gates skip, what it costs, what it buys.

* :func:`lazy_runs` samples once per gate set (one per penalty ``rho``): the full
  sampler, the lazy one, DDIM with equally fewer steps and random skipping of the same
  share, all from the same noise, and keeps what the figures need (a few digits and
  the share of rows computed per step, layer and module). This is the only part that
  runs the model; it costs a few tenths of a second per gate set.
* :func:`laziness_figure` shows them with a ``rho`` slider: the skipped share as two
  heatmaps (layer x step, attention and MLP side by side) and a grid of samples of
  the four samplers. The slider toggles precomputed traces, so it works in the static
  book; :func:`lazy_panel` is the live version (ipywidgets), built from the same
  traces, with a threshold slider that re-samples.
* :func:`similarity_figure` draws the consecutive-step cosine similarity of every
  module (and, optionally, the DDIM error coefficient of every step).
* :func:`quality_compute_figure` plots quality against MACs per image for every
  method of ``results/cpu/lazy_dit.json``, means and standard deviations over seeds,
  with a slider over the metric.

Paper: LazyDiT (arXiv 2412.12444), Fig. 4 (layer-wise laziness), Tables 1 and 3.
Book: notebooks/lazy_dit/lecture.md, "Experiments".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from effteach.checks import check_float, check_int, typed
from effteach.lazy_dit.lazy import (
    FullCompute,
    GatePolicy,
    LazyGates,
    lazy_sample,
    random_schedule,
)
from effteach.models.dit import TinyDiT
from effteach.viz import panel, slider_figure

__all__ = [
    "SAMPLERS",
    "METRICS",
    "LazyRun",
    "lazy_run",
    "lazy_runs",
    "laziness_figure",
    "run_figure",
    "lazy_panel",
    "similarity_figure",
    "quality_compute_figure",
    "summarize_records",
]

#: the rows of the samples grid, in order: sampler key -> label
SAMPLERS = {
    "full": "full DDIM",
    "lazy": "LazyDiT",
    "ddim_fewer_steps": "DDIM, fewer steps",
    "random_skip": "random skip",
}
#: metrics of the results file: key -> (axis label, higher is better, slider label)
METRICS = {
    "fd_to_test": ("FD to test digits (classifier features)", False, "FD"),
    "rmse_to_full": ("paired RMSE to the full sampler", False, "paired RMSE"),
    "class_accuracy": ("class accuracy (digit classifier)", True, "accuracy"),
}
_SKIP_SCALE = [[0.0, "#ffffff"], [1.0, "#d1495b"]]  # 0: computed, 1: always skipped
_INK_SCALE = [[0.0, "#ffffff"], [1.0, "#111111"]]  # digits: -1 paper, +1 ink
_GAP = 2  # pixels between digits in the grid


# ------------------------------------------------------------- the runs
@typed
@dataclasses.dataclass(frozen=True)
class LazyRun:
    """One gate set sampled with the lazy sampler and its equal-compute baselines.

    Attributes:
        rho: the laziness penalty the gates were trained with.
        threshold: the gate threshold used at sampling (0.5 in the paper).
        laziness: share of skipped module calls (rows) of the lazy sampler.
        computed: share of rows computed, float (n_steps, depth, 2): step, layer,
            module (0 attention, 1 MLP).
        samples: sampler key (see :data:`SAMPLERS`) -> digits (n, H, W) in [-1, 1].
        rmse: sampler key -> paired RMSE to the full sampler (same noise).
        ddim_steps: steps of the equal-compute DDIM baseline.
        labels: the class of every sample, (n,).
        seed: seed of the starting noise (and of the random schedule).
        cfg_scale: classifier-free guidance weight.
        gates: the gate set (for the live panel's re-sampling).
    """

    rho: float
    threshold: float
    laziness: float
    computed: np.ndarray
    samples: dict
    rmse: dict
    ddim_steps: int
    labels: np.ndarray
    seed: int = 0
    cfg_scale: float = 2.0
    gates: LazyGates | None = dataclasses.field(default=None, compare=False,
                                                repr=False)

    def __post_init__(self):
        check_float("laziness", self.laziness, low=0, high=1)
        check_int("ddim_steps", self.ddim_steps, low=1)
        if self.computed.ndim != 3 or self.computed.shape[2] != 2:
            raise ValueError(f"computed: expected shape (n_steps, depth, 2), got "
                             f"{self.computed.shape}")
        if self.labels.ndim != 1 or self.labels.dtype.kind not in "iu":
            raise TypeError(f"labels: expected integer class labels (n,), got "
                            f"{self.labels.dtype} {self.labels.shape}")

    @property
    def n_steps(self) -> int:
        """Steps of the lazy sampler."""
        return self.computed.shape[0]

    @property
    def depth(self) -> int:
        """DiT layers."""
        return self.computed.shape[1]


def _check_gates(gates, model) -> LazyGates:
    if not isinstance(gates, LazyGates):
        raise TypeError(f"gates: expected LazyGates, got {type(gates).__name__}")
    if (gates.depth, gates.d_model) != (model.cfg.depth, model.cfg.d_model):
        raise ValueError(
            f"gates: made for depth={gates.depth}, d_model={gates.d_model}, but the "
            f"model has depth={model.cfg.depth}, d_model={model.cfg.d_model}"
        )
    return gates


def _labels(per_class: int, n_classes: int) -> torch.Tensor:
    if isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1:
        raise ValueError(f"per_class: expected a positive int, got {per_class!r}")
    return torch.arange(n_classes).repeat(per_class)  # 0..9, 0..9, ...


def _rmse(x: torch.Tensor, ref: torch.Tensor) -> float:
    return float(((x - ref) ** 2).mean().sqrt())


@torch.no_grad()
@typed
def lazy_run(
    model: TinyDiT,
    gates: LazyGates,
    rho: float,
    per_class: int = 2,
    threshold: float = 0.5,
    seed: int = 0,
    cfg_scale: float = 2.0,
    full: torch.Tensor | None = None,
) -> LazyRun:
    """Sample with one gate set and its two equal-compute baselines.

    All four samplers (full, lazy, DDIM with ``round(n_steps (1 - laziness))`` steps,
    random static skipping of the lazy sampler's share) start from the same noise.

    Args:
        model: the frozen TinyDiT.
        gates: a trained gate set (its ``n_steps`` is the schedule).
        rho: the penalty the gates were trained with (a label).
        per_class: samples per class (10 classes).
        threshold: compute a module where its gate is ``>= threshold``.
        seed: seed of the starting noise and of the random schedule.
        cfg_scale: classifier-free guidance weight.
        full: the full sampler's output for this seed and these labels, if known.

    Returns:
        A :class:`LazyRun`.

    Raises:
        TypeError, ValueError: naming the bad argument.

    Book: notebooks/lazy_dit/lecture.md, "Where the gates skip".
    """
    gates = _check_gates(gates, model)
    check_float("rho", rho, low=0)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold: expected a value in (0, 1), got {threshold}")
    labels = _labels(per_class, model.cfg.n_classes)
    n_steps = gates.n_steps
    kw = {"cfg_scale": cfg_scale, "seed": seed}
    if full is None:
        full, _ = lazy_sample(model, labels, n_steps, FullCompute(), **kw)
    elif tuple(full.shape[:1]) != (len(labels),):
        raise ValueError(f"full: expected {len(labels)} samples, got {len(full)}")
    lazy, rec = lazy_sample(model, labels, n_steps, GatePolicy(gates, threshold), **kw)
    gamma = rec.laziness
    fewer = max(1, round(n_steps * (1 - gamma)))
    ddim, _ = lazy_sample(model, labels, fewer, FullCompute(), **kw)
    pol = random_schedule(n_steps, model.cfg.depth, gamma, seed=seed)
    rand, _ = lazy_sample(model, labels, n_steps, pol, **kw)
    xs = {"full": full, "lazy": lazy, "ddim_fewer_steps": ddim, "random_skip": rand}
    return LazyRun(
        rho=float(rho),
        threshold=float(threshold),
        laziness=float(gamma),
        computed=(rec.computed.double() / rec.rows).numpy(),
        samples={k: x.clamp(-1, 1)[:, 0].numpy() for k, x in xs.items()},
        rmse={k: _rmse(x, full) for k, x in xs.items()},
        ddim_steps=fewer,
        labels=labels.numpy(),
        seed=seed,
        cfg_scale=float(cfg_scale),
        gates=gates,
    )


@typed
def lazy_runs(
    model: TinyDiT,
    gate_sets: Mapping[float, LazyGates],
    per_class: int = 2,
    threshold: float = 0.5,
    seed: int = 0,
    cfg_scale: float = 2.0,
) -> list[LazyRun]:
    """:func:`lazy_run` for every ``{rho: gates}``, sorted by ``rho``.

    The full sampler runs once and is shared (same labels and noise for every set).

    Raises:
        ValueError: if ``gate_sets`` is empty or its sets use different schedules.

    Book: notebooks/lazy_dit/lecture.md, "Where the gates skip".
    """
    if not isinstance(gate_sets, Mapping) or not gate_sets:
        raise ValueError("gate_sets: expected a non-empty mapping {rho: LazyGates}")
    steps = {_check_gates(g, model).n_steps for g in gate_sets.values()}
    if len(steps) != 1:
        raise ValueError(
            f"gate_sets: every set must have the same n_steps, got {sorted(steps)}"
        )
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold: expected a value in (0, 1), got {threshold}")
    labels = _labels(per_class, model.cfg.n_classes)
    full, _ = lazy_sample(model, labels, steps.pop(), FullCompute(),
                          cfg_scale=cfg_scale, seed=seed)
    return [
        lazy_run(model, gate_sets[rho], rho, per_class, threshold, seed, cfg_scale,
                 full=full)
        for rho in sorted(gate_sets)
    ]


# ----------------------------------------------------- the laziness figure
def _grid(run: LazyRun, columns: int) -> list[list[float | None]]:
    """The samples of every sampler tiled into one image: a row of digits each."""
    size = next(iter(run.samples.values())).shape[-1]
    h = len(SAMPLERS) * (size + _GAP) - _GAP
    w = columns * (size + _GAP) - _GAP
    img = np.full((h, w), np.nan)
    for r, key in enumerate(SAMPLERS):
        for c in range(columns):
            y0, x0 = r * (size + _GAP), c * (size + _GAP)
            img[y0 : y0 + size, x0 : x0 + size] = run.samples[key][c]
    # None: a gap (plotly draws nothing), and JSON has no NaN
    return [[None if math.isnan(v) else round(float(v), 3) for v in row]
            for row in img]


def _row_labels(run: LazyRun) -> list[str]:
    labels = dict(SAMPLERS)
    labels["lazy"] = f"LazyDiT ({run.laziness:.0%} lazy)"
    labels["ddim_fewer_steps"] = f"DDIM, {run.ddim_steps} steps"
    return list(labels.values())


def _run_title(run: LazyRun) -> str:
    r = run.rmse
    return (
        f"rho = {run.rho:g}: laziness {run.laziness:.0%}<br><sup>paired RMSE to the "
        f"full sampler: LazyDiT {r['lazy']:.3f}, DDIM-{run.ddim_steps} "
        f"{r['ddim_fewer_steps']:.3f}, random skip {r['random_skip']:.3f}</sup>"
    )


def _run_traces(run: LazyRun, columns: int) -> list[go.BaseTraceType]:
    """Three traces: attention and MLP skipped share (layer x step), sample grid."""
    steps = list(range(run.n_steps))
    layers = list(range(run.depth))
    out = []
    for m, (name, axis) in enumerate((("attention", ""), ("MLP", "2"))):
        skipped = 1.0 - run.computed[:, :, m].T  # (depth, n_steps)
        out.append(
            go.Heatmap(
                z=np.round(skipped, 4).tolist(), x=steps, y=layers, zmin=0, zmax=1,
                colorscale=_SKIP_SCALE, showscale=m == 1, name=name,
                xaxis=f"x{axis}", yaxis=f"y{axis}",
                colorbar={"title": {"text": "skipped"}, "len": 0.42, "y": 0.8,
                          "thickness": 12},
                hovertemplate=f"{name}, layer %{{y}}, step %{{x}}: "
                "%{z:.0%} of rows skipped<extra></extra>",
            )
        )
    out.append(
        go.Heatmap(
            z=_grid(run, columns), zmin=-1, zmax=1, colorscale=_INK_SCALE,
            showscale=False, name="samples", xaxis="x3", yaxis="y3",
            hoverinfo="skip",
        )
    )
    return out


def _layout(run: LazyRun, columns: int) -> dict:
    base = make_subplots(
        rows=2, cols=2, specs=[[{}, {}], [{"colspan": 2}, None]],
        row_heights=[0.42, 0.58], horizontal_spacing=0.08, vertical_spacing=0.2,
        subplot_titles=(
            "attention: rows skipped",
            "MLP: rows skipped",
            "samples from the same noise",
        ),
    )
    size = next(iter(run.samples.values())).shape[-1]
    layout = base.layout.to_plotly_json()
    layout.pop("template", None)
    for axis in ("", "2"):
        layout[f"xaxis{axis}"].update(title={"text": "step (0: noise)"},
                                      dtick=max(1, run.n_steps // 5))
        layout[f"yaxis{axis}"].update(title={"text": "layer" if not axis else ""},
                                      autorange="reversed", dtick=1)
    for note in layout["annotations"]:  # the subplot titles
        note["font"] = {"size": 13}
    rows = len(SAMPLERS)
    layout["xaxis3"].update(visible=False, showgrid=False,
                            scaleanchor="y3", constrain="domain")
    layout["yaxis3"].update(
        autorange="reversed", showgrid=False, ticks="",
        tickvals=[r * (size + _GAP) + size / 2 - 0.5 for r in range(rows)],
        ticktext=_row_labels(run),
    )
    layout.update(height=660, margin={"l": 130, "r": 30, "t": 90, "b": 60})
    return layout


def _check_runs(runs) -> list[LazyRun]:
    runs = list(runs) if not isinstance(runs, LazyRun) else [runs]
    if not runs or not all(isinstance(r, LazyRun) for r in runs):
        raise ValueError("runs: expected a non-empty list of LazyRun (lazy_runs)")
    shapes = {r.computed.shape for r in runs}
    if len(shapes) != 1:
        raise ValueError(f"runs: every run must have the same shape, got {shapes}")
    return runs


def _columns(runs: list[LazyRun], columns: int | None) -> int:
    n = min(len(r.labels) for r in runs)
    if columns is None:
        return min(n, 10)
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns: expected a positive int, got {columns!r}")
    if columns > n:
        raise ValueError(f"columns: the runs have only {n} samples, got {columns}")
    return columns


@typed
def laziness_figure(
    runs: Sequence[LazyRun], active: int | None = None, columns: int | None = None
) -> go.Figure:
    """Where the gates skip, and what the samples look like, with a ``rho`` slider.

    Args:
        runs: from :func:`lazy_runs`, one per penalty (the slider's values).
        active: index of the run shown first (default: the middle one).
        columns: digits per row of the samples grid (default: up to 10).

    Returns:
        A ``go.Figure`` with three traces per run (attention heatmap, MLP heatmap,
        samples grid) and one slider step per run; each step also sets the title
        (laziness and RMSE to the full sampler).

    Raises:
        ValueError: if ``runs`` is empty or mixed, or an index is out of range.

    Paper: LazyDiT Fig. 4 (laziness per layer), Sec. 5.
    Book: notebooks/lazy_dit/lecture.md, "Where the gates skip".
    """
    runs = _check_runs(runs)
    active = len(runs) // 2 if active is None else active
    columns = _columns(runs, columns)
    fig = slider_figure(
        lambda r: _run_traces(r, columns), runs, "rho", active=active,
        title=_run_title(runs[active]) if 0 <= active < len(runs) else "",
        layout=_layout(runs[0], columns), fmt=lambda r: f"{r.rho:g}",
    )
    for step, run in zip(fig.layout.sliders[0].steps, runs, strict=True):
        step.args = [step.args[0], {"title.text": _run_title(run),
                                    "yaxis3.ticktext": _row_labels(run)}]
    fig.layout.yaxis3.ticktext = _row_labels(runs[active])
    fig.layout.title.font.size = 15
    fig.layout.sliders[0].update(y=-0.02, pad={"t": 50})
    return fig


@typed
def run_figure(run: LazyRun, columns: int | None = None) -> go.Figure:
    """The figure of one run, without a slider (what :func:`lazy_panel` draws).

    Book: notebooks/lazy_dit/lecture.md, "Where the gates skip".
    """
    (run,) = _check_runs([run])
    columns = _columns([run], columns)
    fig = go.Figure(_run_traces(run, columns))
    fig.update_layout(**_layout(run, columns))
    fig.update_layout(title={"text": _run_title(run), "font": {"size": 15}})
    return fig


@typed
def lazy_panel(
    model: TinyDiT,
    runs: Sequence[LazyRun],
    thresholds: Sequence[float] = (0.3, 0.7, 0.05),
):
    """The live version of :func:`laziness_figure` (ipywidgets).

    A ``rho`` slider picks a gate set, as in the static figure; a threshold slider
    re-samples that gate set with another threshold (at 0.5 it shows the stored run).
    Each (rho, threshold) is sampled once and cached. In the static book it shows
    the current figure and a "Live in JupyterLab" note (:func:`effteach.viz.panel`).

    Args:
        model: the TinyDiT the runs were sampled with.
        runs: from :func:`lazy_runs` (they carry their gates).
        thresholds: ``(low, high, step)`` of the threshold slider.

    Returns:
        An ``ipywidgets.VBox``; ``.figure`` is the current figure, ``.rho`` and
        ``.threshold`` the controls, ``.runs`` the cache ``{(rho, threshold): run}``.

    Book: notebooks/lazy_dit/lecture.md, "Where the gates skip".
    """
    import ipywidgets as widgets

    runs = _check_runs(runs)
    if any(r.gates is None for r in runs):
        raise ValueError("runs: every run must carry its gates (from lazy_run)")
    if len(thresholds) != 3:
        raise ValueError(f"thresholds: expected (low, high, step), got {thresholds}")
    low, high, step = thresholds
    if not 0 < low < 0.5 < high < 1 or not step > 0:
        raise ValueError(
            f"thresholds: expected (low, high, step) with 0 < low < 0.5 < high < 1, "
            f"got {thresholds}"
        )
    by_rho = {r.rho: r for r in runs}
    cache = {(r.rho, round(r.threshold, 6)): r for r in runs}
    columns = _columns(runs, None)
    per_class = len(runs[0].labels) // model.cfg.n_classes

    full: list[torch.Tensor] = []  # the full sampler's output, sampled once

    def get(rho: float, threshold: float) -> LazyRun:
        key = (rho, round(float(threshold), 6))
        if key not in cache:
            base = by_rho[rho]
            if not full:
                labels = torch.from_numpy(base.labels)
                x, _ = lazy_sample(model, labels, base.n_steps, FullCompute(),
                                   cfg_scale=base.cfg_scale, seed=base.seed)
                full.append(x)
            cache[key] = lazy_run(model, base.gates, rho, per_class, key[1],
                                  base.seed, base.cfg_scale, full=full[0])
        return cache[key]

    rho = widgets.SelectionSlider(
        options=[(f"{r.rho:g}", r.rho) for r in runs], value=runs[len(runs) // 2].rho,
        description="rho", continuous_update=False,
    )
    threshold = widgets.FloatSlider(value=0.5, min=low, max=high, step=step,
                                    description="threshold", continuous_update=False,
                                    readout_format=".2f")

    def builder(rho: float, threshold: float) -> go.Figure:
        return run_figure(get(rho, threshold), columns)

    box = panel(builder, launch="lazy_panel(model, runs)", rho=rho,
                threshold=threshold)
    box.rho, box.threshold, box.runs = rho, threshold, cache
    return box


# ---------------------------------------------------------- similarity
@typed
def similarity_figure(
    cos: torch.Tensor | np.ndarray,
    kappa: Sequence[float] | np.ndarray | torch.Tensor | None = None,
) -> go.Figure:
    """Consecutive-step cosine similarity of every module's output.

    Args:
        cos: (n_steps - 1, depth, 2) mean ``cos(Y_k, Y_{k-1})`` (from
            :func:`effteach.lazy_dit.experiments.similarity`); row ``k - 1`` is step
            ``k``.
        kappa: optional, the DDIM error coefficient of every step (n_steps,): drawn
            under the heatmaps.

    Returns:
        Two heatmaps (layer x step), attention and MLP, on one colour scale, and the
        coefficient line if given.

    Book: notebooks/lazy_dit/lecture.md, "How similar are consecutive steps?".
    """
    c = np.asarray(cos.numpy() if hasattr(cos, "numpy") else cos, dtype=float)
    if c.ndim != 3 or c.shape[2] != 2 or c.shape[0] < 1:
        raise ValueError(f"cos: expected shape (n_steps - 1, depth, 2), got {c.shape}")
    n_steps = c.shape[0] + 1
    rows = 2 if kappa is not None else 1
    if kappa is not None and len(kappa) != n_steps:
        raise ValueError(f"kappa: expected {n_steps} values, got {len(kappa)}")
    fig = make_subplots(
        rows=rows, cols=2, specs=[[{}, {}]] + ([[{"colspan": 2}, None]] if rows == 2
                                               else []),
        subplot_titles=("attention", "MLP")
        + (("DDIM: |d next state / d eps| at step k",) if rows == 2 else ()),
        vertical_spacing=0.18, horizontal_spacing=0.08,
        row_heights=[0.6, 0.4] if rows == 2 else None,
    )
    lo = float(np.floor(c.min() * 100) / 100)
    steps = list(range(1, n_steps))
    for m, name in enumerate(("attention", "MLP")):
        fig.add_trace(
            go.Heatmap(
                z=np.round(c[:, :, m].T, 5).tolist(), x=steps,
                y=list(range(c.shape[1])), zmin=lo, zmax=1, colorscale="Viridis",
                showscale=m == 1, name=name,
                colorbar={"title": {"text": "cos"}, "len": 0.55 if rows == 2 else 1,
                          "y": 0.8 if rows == 2 else 0.5, "thickness": 12},
                hovertemplate=f"{name}, layer %{{y}}, step %{{x}}: "
                "cos %{z:.4f}<extra></extra>",
            ),
            row=1, col=m + 1,
        )
        fig.update_xaxes(title_text="sampling step k", row=1, col=m + 1)
        fig.update_yaxes(title_text="layer" if m == 0 else "", autorange="reversed",
                         dtick=1, row=1, col=m + 1)
    if kappa is not None:
        fig.add_trace(
            go.Scatter(x=list(range(n_steps)), y=[abs(float(v)) for v in kappa],
                       mode="lines+markers", name="|kappa_k|",
                       hovertemplate="step %{x}: |kappa| = %{y:.3f}<extra></extra>"),
            row=2, col=1,
        )
        fig.update_xaxes(title_text="sampling step k", row=2, col=1)
        fig.update_yaxes(title_text="|kappa_k|", type="log", row=2, col=1)
    fig.update_layout(height=620 if rows == 2 else 400, showlegend=False,
                      margin={"t": 100},
                      title={"text": "cos(Y_k, Y_k-1) of every module<br><sup>full "
                             "sampler, consecutive steps, mean over samples</sup>",
                             "font": {"size": 15}})
    return fig


# --------------------------------------------------- quality vs compute
_METHOD_STYLE = {
    "lazy": ("circle", "solid"),
    "ddim_fewer_steps": ("square", "dot"),
    "random_skip": ("x", "dash"),
    "full": ("star", "solid"),
}
_RECORD_KEYS = ("method", "kind", "variant", "rho", "seed", "macs_per_image",
                "laziness")


def _group(r: dict) -> str:
    m = r["method"]
    if m == "lazy":
        gate = "input gate" if r["kind"] == "input" else "bias-only gate"
        steps = "all steps" if r["variant"] == "all" else "alternate steps"
        return f"LazyDiT ({gate}, {steps})"
    return {"ddim_fewer_steps": "DDIM, fewer steps", "random_skip": "random skip",
            "full": "full DDIM"}[m]


@typed
def summarize_records(records: Sequence[dict]) -> list[dict]:
    """Mean and standard deviation over seeds of every (config, method).

    Args:
        records: the ``records`` of ``results/cpu/lazy_dit.json``.

    Returns:
        One dict per (method, kind, variant, rho), in the file's order, with
        ``group`` (the legend entry), ``n_seeds`` and ``<key>_mean`` / ``<key>_std``
        for ``macs_per_image``, ``laziness`` and every metric of :data:`METRICS`.
        ``full`` rows are pooled over every config (one full sampler per seed).

    Raises:
        ValueError: if ``records`` is empty or a record lacks a field.

    Book: notebooks/lazy_dit/lecture.md, "Lazy against fewer steps".
    """
    if not records:
        raise ValueError("records: expected a non-empty list")
    keys: dict[tuple, list[dict]] = {}
    for r in records:
        missing = [k for k in (*_RECORD_KEYS, *METRICS) if k not in r]
        if missing:
            raise ValueError(f"records: a record lacks {missing}: {r}")
        if r["method"] not in _METHOD_STYLE:
            raise ValueError(f"records: unknown method {r['method']!r}")
        if r["method"] == "full":
            key = ("full",)
            # the same full run repeats under every config: keep one per seed
            if any(x["seed"] == r["seed"] for x in keys.get(key, [])):
                continue
        else:
            key = (r["method"], r["kind"], r["variant"], r["rho"])
        keys.setdefault(key, []).append(r)
    out = []
    for key, rs in keys.items():
        row = {"method": rs[0]["method"], "group": _group(rs[0]),
               "n_seeds": len(rs), "seeds": sorted(r["seed"] for r in rs)}
        if key[0] != "full":
            row.update(kind=key[1], variant=key[2], rho=key[3])
        if "ddim_steps" in rs[0]:
            row["ddim_steps"] = sorted({r["ddim_steps"] for r in rs})
        for k in ("macs_per_image", "laziness", *METRICS):
            v = np.array([r[k] for r in rs], dtype=float)
            row[f"{k}_mean"] = float(v.mean())
            row[f"{k}_std"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        out.append(row)
    return out


def _quality_traces(summary: list[dict], metric: str) -> list[go.Scatter]:
    groups = list(dict.fromkeys(s["group"] for s in summary))
    out = []
    for g in groups:
        rows = sorted((s for s in summary if s["group"] == g),
                      key=lambda s: s["macs_per_image_mean"])
        method = rows[0]["method"]
        symbol, dash = _METHOD_STYLE[method]
        text = []
        for s in rows:
            bits = [f"laziness {s['laziness_mean']:.0%}", f"{s['n_seeds']} seeds"]
            if "rho" in s:
                bits.insert(0, f"rho {s['rho']:g}")
            if "ddim_steps" in s:
                bits.insert(0, "steps " + "/".join(map(str, s["ddim_steps"])))
            text.append(", ".join(bits))
        out.append(
            go.Scatter(
                x=[s["macs_per_image_mean"] / 1e6 for s in rows],
                y=[s[f"{metric}_mean"] for s in rows],
                error_x={"type": "data", "visible": True,
                         "array": [s["macs_per_image_std"] / 1e6 for s in rows]},
                error_y={"type": "data", "visible": True,
                         "array": [s[f"{metric}_std"] for s in rows]},
                mode="markers" if method in ("full", "random_skip") else
                "lines+markers",
                name=g, text=text, line={"dash": dash},
                marker={"symbol": symbol, "size": 12 if method == "full" else 9},
                hovertemplate="%{text}<br>%{x:.2f} MMACs/image: %{y:.4g}"
                f"<extra>{g}</extra>",
            )
        )
    return out


@typed
def quality_compute_figure(
    result: dict, metrics: Sequence[str] = tuple(METRICS), active: int = 0
) -> go.Figure:
    """Quality against MACs per image for every method, with a metric slider.

    Args:
        result: the parsed ``results/cpu/lazy_dit.json`` (or its ``records``).
        metrics: keys of :data:`METRICS`, one slider step each.
        active: index of the metric shown first.

    Returns:
        One trace per group (LazyDiT per gate kind and training variant, DDIM with
        fewer steps, random skipping, full) and metric; points are means over seeds
        with standard-deviation error bars in both directions.

    Raises:
        ValueError: for an unknown metric or a malformed result.

    Paper: LazyDiT Table 1 (LazyDiT against DDIM at equal compute).
    Book: notebooks/lazy_dit/lecture.md, "Lazy against fewer steps".
    """
    records = result.get("records") if isinstance(result, dict) else result
    summary = summarize_records(records or [])
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise ValueError(f"metrics: expected keys of {list(METRICS)}, got {metrics}")
    created = str(result.get("created", "?"))[:10] if isinstance(result, dict) else "?"
    fig = slider_figure(
        lambda m: _quality_traces(summary, m), metrics, "metric", active=active,
        title=f"Quality against compute<br><sup>results/cpu/lazy_dit.json, {created}; "
        "mean ± std over seeds</sup>",
        layout={"xaxis": {"title": {"text": "MMACs per image (Linear layers, "
                                            "no CFG doubling)"}},
                "yaxis": {"title": {"text": METRICS[metrics[active]][0]}},
                "height": 620, "title_font_size": 15,
                "legend": {"font": {"size": 11}, "orientation": "h", "y": -0.18,
                           "x": 0, "yanchor": "top"}},
        fmt=lambda m: METRICS[m][2],
    )
    for step, m in zip(fig.layout.sliders[0].steps, metrics, strict=True):
        better = "higher" if METRICS[m][1] else "lower"
        step.args = [step.args[0],
                     {"yaxis.title.text": f"{METRICS[m][0]} ({better} is better)"}]
    fig.layout.yaxis.title.text = (
        f"{METRICS[metrics[active]][0]} "
        f"({'higher' if METRICS[metrics[active]][1] else 'lower'} is better)"
    )
    fig.layout.sliders[0].update(y=-0.48, pad={"t": 10})
    fig.update_layout(margin={"b": 200})
    return fig
