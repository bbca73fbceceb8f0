"""Figures of the draft_attention chapter: static plotly with sliders + live panels.

* :func:`draft_figure` / :func:`draft_panel`: a sparsity slider over one head's
  draft map, the blocks it keeps, and the token-level mask before and after the
  reordering (scattered, then block-structured);
* :func:`frames_figure` / :func:`frames_panel`: dense against sparse frames of
  TinyVideoDiT (same noise), a sparsity slider;
* :func:`quality_figure`: PSNR/SSIM against the dense rollout vs sparsity, per
  mask kind, from ``results/cpu/draft_attention.json``;
* :func:`gpu_figure`: the H200 timings of ``results/gpu/draft_attention.json``.

Book: notebooks/draft_attention/lecture.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from effteach.checks import check_int, check_sequence
from effteach.draft_attention.draft import (
    draft_map,
    pool_draft,
    select_blocks,
    token_mask,
    window_ids,
    window_permutation,
)
from effteach.viz import COLORS, panel, slider_figure, use_theme

KIND_NAMES = {"draft": "draft-guided", "random": "random blocks",
              "window": "sliding window"}


def _sparsities(sparsities) -> list[float]:
    from effteach.draft_attention.draft import check_sparsity

    return [check_sparsity(s) for s in check_sequence("sparsities", sparsities)]


def draft_figure(q: torch.Tensor, k: torch.Tensor, layout: tuple[int, int, int],
                 window: tuple[int, int], sparsities: Sequence[float] = (0.5, 0.75,
                                                                           0.9),
                 head: int = 0, active: int = 0) -> go.Figure:
    """Draft map, kept blocks, token mask before/after reordering; sparsity slider.

    Args:
        q: queries ``(1, heads, n, d)`` of one attention call (frame-major tokens).
        k: keys, as ``q``.
        layout: ``(n_frames, height, width)`` of the tokens.
        window: the pooling window ``(ph, pw)``.
        sparsities: one slider step each.
        head: which head to show.
        active: the slider step shown first.

    Book: notebooks/draft_attention/lecture.md, "The method".
    """
    use_theme()
    f, h, w = (check_int(f"layout[{i}]", x, 1)
               for i, x in enumerate(check_sequence("layout", layout, length=3)))
    vals = _sparsities(sparsities)
    head = check_int("head", head, 0, q.shape[1] - 1)
    dmap = draft_map(pool_draft(q, f, h, w, window), pool_draft(k, f, h, w, window))
    ids = window_ids(f, h, w, window)
    perm, _ = window_permutation(f, h, w, window)
    m = dmap.shape[-1]

    def traces(s):
        bm = select_blocks(dmap, s)
        tm = token_mask(bm, ids)[0, head]
        kept = float(bm[0, head].float().mean())
        return [
            go.Heatmap(z=dmap[0, head].tolist(), colorscale="Blues", showscale=False,
                       xaxis="x", yaxis="y", name="draft map",
                       hovertemplate="query window %{y}, key window %{x}: "
                       "%{z:.3f}<extra></extra>"),
            go.Heatmap(z=bm[0, head].int().tolist(), colorscale="Greys",
                       showscale=False, xaxis="x2", yaxis="y2",
                       name=f"kept blocks ({kept:.0%})", zmin=0, zmax=1,
                       hovertemplate="(%{y}, %{x}): %{z}<extra></extra>"),
            go.Heatmap(z=tm.int().tolist(), colorscale="Greys", showscale=False,
                       xaxis="x3", yaxis="y3", zmin=0, zmax=1, name="tokens, original",
                       hovertemplate="token %{y} to %{x}: %{z}<extra></extra>"),
            go.Heatmap(z=tm[perm][:, perm].int().tolist(), colorscale="Greys",
                       showscale=False, xaxis="x4", yaxis="y4", zmin=0, zmax=1,
                       name="tokens, reordered",
                       hovertemplate="slot %{y} to %{x}: %{z}<extra></extra>"),
        ]

    fig = slider_figure(traces, vals, "sparsity", active=active,
                        title=f"Head {head}: draft map ({m}×{m} windows) and the "
                        "mask it picks",
                        fmt=lambda s: f"{s:.0%}")
    doms = ((0.0, 0.22), (0.26, 0.48), (0.52, 0.74), (0.78, 1.0))
    names = ("draft map", "kept blocks", "token mask, original order",
             "token mask, reordered")
    lay = {"height": 430, "margin": {"t": 90, "b": 40}}
    for i, (dom, name) in enumerate(zip(doms, names, strict=True), start=1):
        sx = "" if i == 1 else str(i)
        lay[f"xaxis{sx}"] = {"domain": dom, "anchor": f"y{sx}", "showticklabels": False,
                             "title": {"text": name, "font": {"size": 12}}}
        lay[f"yaxis{sx}"] = {"anchor": f"x{sx}", "autorange": "reversed",
                             "showticklabels": False, "scaleanchor": f"x{sx}"}
    fig.update_layout(**lay)
    fig.layout.sliders[0].pad.t = 60
    return fig


def draft_panel(q, k, layout, window, head: int = 0):
    """Live version of :func:`draft_figure`: sparsity and head sliders."""
    import ipywidgets as widgets

    s = widgets.FloatSlider(value=0.75, min=0.0, max=0.95, step=0.05,
                            description="sparsity", continuous_update=False)
    hd = widgets.IntSlider(value=head, min=0, max=q.shape[1] - 1,
                           description="head", continuous_update=False)

    def builder(sparsity, head):
        return draft_figure(q, k, layout, window, (sparsity,), head)

    box = panel(builder, launch="draft_panel(q, k, LAYOUT, WINDOW)", sparsity=s,
                head=hd)
    box.sparsity, box.head = s, hd
    return box


def frames_figure(videos: dict, n_context: int = 2, active: int = 0) -> go.Figure:
    """Generated frames of one clip: rows = samplers, a slider over sparsity.

    Args:
        videos: ``{sparsity: {row label: frames (n_frames, H, W)}}``; every
            sparsity has the same row labels (e.g. dense, draft-guided, random,
            sliding window).
        n_context: the first frames are the given context (not shown).
        active: the slider step shown first.

    Book: notebooks/draft_attention/lecture.md, "Experiments".
    """
    use_theme()
    if not isinstance(videos, dict) or not videos:
        raise TypeError("videos: expected {sparsity: {label: frames}}")
    keys = list(videos)
    labels = list(videos[keys[0]])
    n_f = videos[keys[0]][labels[0]].shape[0] - n_context
    fig = make_subplots(rows=len(labels), cols=n_f, horizontal_spacing=0.01,
                        vertical_spacing=0.03,
                        column_titles=[f"frame {n_context + j}" for j in range(n_f)],
                        row_titles=labels)
    per = len(labels) * n_f
    for i, s in enumerate(keys):
        for r, lab in enumerate(labels):
            frames = videos[s][lab]
            for c in range(n_f):
                fig.add_trace(go.Heatmap(
                    z=frames[n_context + c].tolist(), colorscale="gray", zmin=0,
                    zmax=1, showscale=False, visible=i == active,
                    hovertemplate=f"{lab}: %{{z:.2f}}<extra></extra>"),
                    row=r + 1, col=c + 1)
    steps = [{"method": "update", "label": f"{s:.0%}",
              "args": [{"visible": [j // per == i for j in range(per * len(keys))]}]}
             for i, s in enumerate(keys)]
    fig.update_layout(
        title="Same noise, dense against sparse attention",
        height=140 * len(labels) + 170, margin={"t": 80, "b": 40, "r": 110},
        sliders=[{"active": active, "currentvalue": {"prefix": "sparsity = "},
                  "pad": {"t": 30}, "steps": steps}])
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, autorange="reversed", scaleanchor="x")
    fig.for_each_annotation(lambda a: a.update(font={"size": 11}))
    return fig


def frames_panel(videos: dict, n_context: int = 2):
    """Live version of :func:`frames_figure` (a sparsity selection slider)."""
    import ipywidgets as widgets

    keys = list(videos)
    sel = widgets.SelectionSlider(options=[(f"{s:.0%}", s) for s in keys],
                                  value=keys[0], description="sparsity",
                                  continuous_update=False)

    def builder(sparsity):
        return frames_figure({sparsity: videos[sparsity]}, n_context)

    box = panel(builder, launch="frames_panel(videos)", sparsity=sel)
    box.sparsity = sel
    return box


def quality_figure(results: dict) -> go.Figure:
    """PSNR and SSIM against the dense rollout vs sparsity, per mask kind.

    Args:
        results: the parsed ``results/cpu/draft_attention.json``.

    Book: notebooks/draft_attention/lecture.md, "Experiments".
    """
    use_theme()
    recs = results["no_warmup"]["records"]
    warm = results.get("warmup_25pct", {}).get("records", [])
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=("PSNR vs dense (dB)", "SSIM vs dense"))
    for j, kind in enumerate(KIND_NAMES):
        rows = sorted((r for r in recs if r["kind"] == kind),
                      key=lambda r: r["sparsity"])
        for c, key in enumerate(("psnr_vs_dense", "ssim_vs_dense"), start=1):
            fig.add_trace(go.Scatter(
                x=[r["sparsity"] for r in rows], y=[r[key] for r in rows],
                mode="lines+markers", name=KIND_NAMES[kind], legendgroup=kind,
                showlegend=c == 1, line={"color": COLORS[j]}), row=1, col=c)
    if warm:
        rows = sorted(warm, key=lambda r: r["sparsity"])
        for c, key in enumerate(("psnr_vs_dense", "ssim_vs_dense"), start=1):
            fig.add_trace(go.Scatter(
                x=[r["sparsity"] for r in rows], y=[r[key] for r in rows],
                mode="lines+markers", name="draft-guided, 25% dense warm-up",
                legendgroup="warm", showlegend=c == 1,
                line={"color": COLORS[0], "dash": "dot"}), row=1, col=c)
    fig.update_xaxes(title_text="sparsity (fraction of window pairs dropped)",
                     tickformat=".0%")
    fig.update_layout(title="TinyVideoDiT, same noise: quality against sparsity",
                      height=460, margin={"t": 90, "b": 130},
                      legend={"orientation": "h", "y": -0.3, "x": 0})
    return fig


def gpu_figure(data: dict) -> go.Figure:
    """H200 times per contender and size, with a dtype slider.

    Args:
        data: the parsed ``results/gpu/draft_attention.json``.

    Book: notebooks/draft_attention/lecture.md, "On a GPU".
    """
    use_theme()
    recs = data["records"]
    dtypes = list(dict.fromkeys(r["dtype"] for r in recs))
    names = [("sdpa_cudnn", "dense SDPA (cuDNN)"), ("triton_0.0", "Triton, all blocks"),
             ("triton_0.5", "Triton, 50%"), ("triton_0.9", "Triton, 90%"),
             ("flex_0.5", "FlexAttention, 50%"), ("flex_0.9", "FlexAttention, 90%"),
             ("pipeline_0.5", "pipeline, 50%"), ("pipeline_0.9", "pipeline, 90%")]

    def traces(dt):
        rows = [r for r in recs if r["dtype"] == dt]
        return [go.Bar(x=[f"n={r['n'] // 1024}k" for r in rows],
                       y=[r["ms"].get(key, float("nan")) for r in rows], name=label,
                       marker_color=COLORS[(i + 1) % len(COLORS)] if i else "#444",
                       marker_pattern_shape="/" if key.startswith("pipe") else "")
                for i, (key, label) in enumerate(names)]

    fig = slider_figure(traces, dtypes, "dtype",
                        title=f"{data['env'].get('gpu', 'GPU')}: one attention call "
                        "(8 heads, d=128)",
                        layout={"barmode": "group", "height": 480,
                                "yaxis": {"title": {"text": "ms (log)"},
                                          "type": "log"},
                                "legend": {"orientation": "v", "x": 1.02, "y": 1},
                                "margin": {"b": 140}})
    fig.layout.sliders[0].update(y=-0.12, pad={"t": 40})
    return fig
