"""Figures of the fastcar chapter: replay maps and frames, fpga_sim Gantt, crossover.

Every figure is a plotly ``go.Figure`` whose sliders work in the static book; the
live panel (:func:`fpga_panel`) wraps the same builder (:func:`gantt_figure`) with
ipywidgets (:func:`effteach.viz.panel`).

Book: notebooks/fastcar/lecture.md.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from effteach.fpga_sim import U280_LIKE, VILA_U, Accelerator, layer_step

__all__ = ["replay_figure", "gantt_figure", "fpga_figure", "crossover_figure",
           "fpga_panel", "random_pattern"]

OPS = ("qkv", "attn", "o", "gate_up", "down")
COLORS = dict(zip(OPS, ("#4c78a8", "#72b7b2", "#54a24b", "#e45756", "#f58518"),
                  strict=True))


def _frames_strip(video: np.ndarray) -> np.ndarray:
    """(T, 1, H, W) -> (H, T * W) side by side."""
    return np.concatenate(list(video[:, 0]), axis=1)


def replay_figure(model, dense, runs: dict, clip: int = 0) -> go.Figure:
    """Slider over replay runs: per-layer replay map and dense/replay/|diff| frames.

    Args:
        model: the TinyARVideo (to decode frames).
        dense: the dense :class:`~effteach.fastcar.DecodeResult`.
        runs: label -> DecodeResult, one slider step each.
        clip: which clip's frames to show.
    """
    from effteach.fastcar.experiments import rollout_video

    if not runs:
        raise ValueError("runs: expected at least one run")
    n = dense.tokens_per_frame
    base = rollout_video(model, dense)[clip, 2:].numpy()
    fig = make_subplots(rows=2, cols=1, row_heights=[0.4, 0.6], vertical_spacing=0.12,
                        subplot_titles=("replay ratio per layer and frame",
                                        "dense / replay / |difference|"))
    labels = list(runs)
    for i, lab in enumerate(labels):
        r = runs[lab]
        steps = r.replay.shape[0]
        # step s decides the MLP of position n_prompt + s, in predicted frame
        frame = (r.positions - r.positions[0] + 1) // n  # 0..n_pred-1
        per = np.zeros((r.replay.shape[1], int(frame.max()) + 1))
        for f in range(per.shape[1]):
            sel = (frame == f)[:steps]
            per[:, f] = r.replay[sel].float().mean(dim=(0, 2)).numpy()
        vid = rollout_video(model, r)[clip, 2:].numpy()
        strip = np.concatenate([_frames_strip(base), _frames_strip(vid),
                                _frames_strip(np.abs(vid - base))], axis=0)
        fig.add_trace(go.Heatmap(z=per, colorscale="Viridis", zmin=0, zmax=1,
                                 x=[f"f{f + 3}" for f in range(per.shape[1])],
                                 y=[f"layer {j}" for j in range(per.shape[0])],
                                 colorbar={"len": 0.35, "y": 0.8},
                                 visible=i == 0), row=1, col=1)
        fig.add_trace(go.Heatmap(z=strip[::-1], colorscale="Gray", zmin=0, zmax=1,
                                 showscale=False, visible=i == 0), row=2, col=1)
    steps = [{"method": "update", "label": lab,
              "args": [{"visible": [j // 2 == i for j in range(2 * len(labels))]}]}
             for i, lab in enumerate(labels)]
    # a fixed width inside the 768 px column: autosized, this figure was laid out
    # before the page's scrollbar appeared and ended 13 px past the column
    fig.update_layout(height=560, width=740,
                      title="TAS replay on TinyARVideo (CPU run)",
                      sliders=[{"active": 0, "steps": steps, "pad": {"t": 30},
                                "currentvalue": {"prefix": "target replay = "}}])
    fig.update_xaxes(showticklabels=False, row=2, col=1)
    fig.update_yaxes(showticklabels=False, row=2, col=1)
    return fig


def random_pattern(batch: int, ratio: float, seed: int = 0) -> np.ndarray:
    """A (batch,) replay pattern with ``round(ratio * batch)`` replayed rows."""
    rng = np.random.default_rng(seed)
    rep = np.zeros(batch, dtype=bool)
    rep[rng.permutation(batch)[: round(ratio * batch)]] = True
    return rep


def _gantt_traces(replay, acc: Accelerator, shape, scheduler: str):
    t = layer_step(replay, shape, acc, scheduler)
    traces = []
    for op in OPS:
        rows = [g for g in t.gantt if g[1] == op]
        traces.append(go.Bar(
            name=op, orientation="h", marker_color=COLORS[op],
            y=[f"core {g[0]}" for g in rows], x=[g[3] - g[2] for g in rows],
            base=[g[2] for g in rows], showlegend=True))
    return traces, t


def gantt_figure(n_cores: int = 4, pe_cols: int = 2048, hbm_gbps: float = 460.0,
                 batch: int = 10, ratio: float = 0.5, scheduler: str = "drs",
                 seed: int = 0) -> go.Figure:
    """Gantt chart of one decode layer on the simulated accelerator (one pattern)."""
    acc = dataclasses.replace(U280_LIKE, n_cores=n_cores, pe_cols=pe_cols,
                              hbm_gbps=hbm_gbps)
    traces, t = _gantt_traces(random_pattern(batch, ratio, seed), acc, VILA_U,
                              scheduler)
    fig = go.Figure(traces)
    fig.update_layout(
        barmode="overlay", height=360,
        title=f"{scheduler}: {t.cycles / 1e3:.0f}k cycles, batch {batch}, "
              f"replay {ratio:.0%}",
        xaxis_title="cycles (fpga_sim model)")
    return fig


def fpga_figure(batch: int = 32, ratios=(0.0, 0.5, 0.8), seed: int = 0,
                acc: Accelerator = U280_LIKE) -> go.Figure:
    """Slider over (scheduler, replay ratio): Gantt of one VILA-U layer step."""
    combos = [(s, r) for r in ratios for s in ("static", "drs")]
    fig = go.Figure()
    titles = []
    for i, (s, r) in enumerate(combos):
        traces, t = _gantt_traces(random_pattern(batch, r, seed), acc, VILA_U, s)
        for tr in traces:
            tr.visible = i == 0
            tr.showlegend = i == 0
            fig.add_trace(tr)
        titles.append(f"{s}, replay {r:.0%}: {t.cycles / 1e3:.0f}k cycles")
    k = len(OPS)
    steps = [{"method": "update", "label": f"{s} {r:.0%}",
              "args": [{"visible": [j // k == i for j in range(k * len(combos))]},
                       {"title": titles[i]}]} for i, (s, r) in enumerate(combos)]
    fig.update_layout(barmode="overlay", height=420, title=titles[0],
                      xaxis_title="cycles (fpga_sim model, U280-like preset)",
                      sliders=[{"active": 0, "steps": steps, "pad": {"t": 75},
                                "currentvalue": {"prefix": "scheduler, replay = "}}])
    return fig


def crossover_figure(batches, sim_per_row, gpu=None) -> go.Figure:
    """Cost per row against batch: fpga_sim cycles (left), H200 ms (right, if given).

    Args:
        batches: batch sizes of ``sim_per_row``.
        sim_per_row: MLP cycles per row from fpga_sim.
        gpu: optional ``{impl: (batches, us_per_row)}`` from the GPU results file.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "fpga_sim: MLP cycles per row", "H200: MLP µs per row (bf16)"))
    fig.add_trace(go.Scatter(x=list(batches), y=list(sim_per_row), mode="lines+markers",
                             name="fpga_sim dense"), row=1, col=1)
    for impl, (bs, us) in (gpu or {}).items():
        fig.add_trace(go.Scatter(x=list(bs), y=list(us), mode="lines+markers",
                                 name=f"H200 {impl}"), row=1, col=2)
    fig.update_xaxes(type="log", title_text="batch rows")
    fig.update_yaxes(type="log")
    fig.update_layout(height=380, title="Memory-bound to compute-bound by batch size")
    return fig


def fpga_panel():
    """Live fpga_sim dashboard (ipywidgets) around :func:`gantt_figure`."""
    import ipywidgets as w

    from effteach.viz import panel

    return panel(
        gantt_figure, launch="fpga_panel()",
        n_cores=w.IntSlider(value=4, min=1, max=8, description="cores"),
        pe_cols=w.IntSlider(value=2048, min=256, max=4096, step=256,
                            description="PE cols"),
        hbm_gbps=w.FloatSlider(value=460, min=100, max=1000, step=20,
                               description="HBM GB/s"),
        batch=w.IntSlider(value=10, min=1, max=32, description="batch"),
        ratio=w.FloatSlider(value=0.5, min=0, max=1, step=0.05, description="replay"),
        scheduler=w.Dropdown(options=["static", "drs", "oracle"], value="drs",
                             description="scheduler"),
    )
