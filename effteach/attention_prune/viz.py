"""Figures of the attention_prune chapter: the pruned attention matrix and the sweep.

* :func:`heatmap_figure`: one head of the zoo's TinyGPT; the dense attention
  matrix, the one after pruning W_Q/W_K with the paper's GD mask, their difference,
  and the descent's loss curve; a slider over (lambda, sparsity) pairs works in the
  static book (the descent runs once per lambda; binarisation per sparsity).
  :func:`heatmap_panel` wraps it with live sparsity and lambda controls.
* :func:`sweep_figure`: attention error or perplexity against sparsity for every
  method, from the committed results; the slider picks the metric.

Book: notebooks/attention_prune/lecture.md, "Experiments".
"""

from __future__ import annotations

import plotly.graph_objects as go
import torch

from effteach.attention_prune.objective import (
    binarize,
    descend,
    qk_grad,
    qk_loss,
    qk_scores,
)
from effteach.checks import check_float, check_int, check_sequence, typed
from effteach.models.gpt import TinyGPT
from effteach.viz import panel, slider_figure

__all__ = ["heatmap_figure", "heatmap_panel", "sweep_figure"]

_LAYOUT = {
    "xaxis": {"domain": [0.0, 0.2], "title": "dense"},
    "xaxis2": {"domain": [0.25, 0.45], "title": "pruned"},
    "xaxis3": {"domain": [0.5, 0.7], "title": "difference"},
    "xaxis4": {"domain": [0.78, 1.0], "title": "GD step"},
    "yaxis": {"autorange": "reversed"}, "yaxis2": {"autorange": "reversed",
                                                   "anchor": "x2"},
    "yaxis3": {"autorange": "reversed", "anchor": "x3"},
    "yaxis4": {"anchor": "x4", "type": "log", "title": "loss"},
    "height": 420, "showlegend": False, "margin": {"l": 50, "r": 70, "t": 60},
}


def _head(model, layer, head, n_seq, n_ctx):
    from effteach.attention_prune.prune import (
        _head as head_w,
    )
    from effteach.attention_prune.prune import (
        _rope,
        attention_inputs,
        calibration_tokens,
    )

    x = attention_inputs(model, calibration_tokens(0, n_seq)[:, :n_ctx])[layer]
    wq, wk, _ = head_w(model, layer, head)
    return x, wq, wk, _rope(model, n_ctx)


@typed
def heatmap_figure(model: TinyGPT, layer: int = 0, head: int = 0,
                   sparsities=(0.5, 0.7, 0.9), lams=(0.001, 0.01), iters: int = 25,
                   n_ctx: int = 32, n_seq: int = 4) -> go.Figure:
    """Dense vs GD-mask-pruned attention of one head, difference and loss curve.

    Args:
        model: the zoo's TinyGPT.
        layer: which layer.
        head: which head.
        sparsities: share of W_Q/W_K entries pruned, each in [0, 1).
        lams: ridge weights of the relaxed mask, each >= 0.
        iters: Armijo descent steps per lambda.
        n_ctx: sequence length shown.
        n_seq: calibration sequences (the first is shown).

    Returns:
        A figure with one slider step per (lambda, sparsity); 4 traces per step.
    """
    layer = check_int("layer", layer, 0, model.cfg.n_layers - 1)
    head = check_int("head", head, 0, model.cfg.n_heads - 1)
    sparsities = [check_float("sparsities[i]", s, 0.0, 0.999)
                  for s in check_sequence("sparsities", sparsities)]
    lams = [check_float("lams[i]", v, low=0.0) for v in check_sequence("lams", lams)]
    iters = check_int("iters", iters, 1)
    n_ctx = check_int("n_ctx", n_ctx, 2, model.cfg.n_ctx)
    n_seq = check_int("n_seq", n_seq, 1)
    x, wq, wk, rope = _head(model, layer, head, n_seq, n_ctx)
    target = qk_scores(x, wq, wk, True, rope)
    runs = {}
    for lam in lams:
        runs[lam] = descend(
            lambda mq, mk, lam=lam: qk_loss(x, wq, wk, mq, mk, target, lam, True,
                                            rope),
            lambda mq, mk, lam=lam: qk_grad(x, wq, wk, mq, mk, target, lam, True,
                                            rope),
            (torch.ones_like(wq), torch.ones_like(wk)), iters)
    values = [(lam, s) for lam in lams for s in sparsities]

    def traces(v):
        lam, s = v
        tr = runs[lam]
        pq, pk = (w * binarize((m * w).abs(), s) for w, m in
                  zip((wq, wk), tr.params, strict=True))
        a, b = target[0], qk_scores(x[:1], pq, pk, True, rope)[0]
        err = float((a - b).norm())
        hm = dict(colorscale="Blues", zmin=0, zmax=1, showscale=False)
        return [go.Heatmap(z=a.tolist(), **hm),
                go.Heatmap(z=b.tolist(), xaxis="x2", yaxis="y2", **hm,
                           name=f"||diff||={err:.3f}"),
                go.Heatmap(z=(b - a).tolist(), xaxis="x3", yaxis="y3",
                           colorscale="RdBu", zmid=0, showscale=False),
                go.Scatter(y=tr.losses, xaxis="x4", yaxis="y4", mode="lines")]

    return slider_figure(traces, values, "lambda, sparsity",
                         title=f"layer {layer}, head {head}: GD mask on W_Q, W_K",
                         layout=_LAYOUT, fmt=lambda v: f"{v[0]:g}, {v[1]:.0%}")


def heatmap_panel(model: TinyGPT, book: bool | None = None):
    """Live panel: sparsity and lambda sliders over :func:`heatmap_figure`."""
    import ipywidgets as w

    def build(sparsity, lam):
        return heatmap_figure(model, sparsities=(sparsity,), lams=(lam,))

    return panel(build, launch="heatmap_panel(zoo.load('tinygpt_text'))", book=book,
                 sparsity=w.FloatSlider(value=0.7, min=0.3, max=0.9, step=0.1,
                                        description="sparsity"),
                 lam=w.FloatLogSlider(value=0.01, base=10, min=-4, max=0,
                                      description="lambda"))


_LABEL = {"magnitude": "magnitude", "wanda": "Wanda", "random": "random",
          "ls_refit": "Wanda + LS refit (linear)", "gd_mask": "GD mask (paper)",
          "gd_refit": "Wanda + GD refit (ours)"}


@typed
def sweep_figure(result: dict) -> go.Figure:
    """Attention error and perplexity vs sparsity for every method (slider: metric).

    Args:
        result: the dict of ``results/cpu/attention_prune.json``.
    """
    from effteach.attention_prune.experiments import table

    if not isinstance(result.get("records"), list):
        raise ValueError("result: expected the results dict with 'records'")
    recs = result["records"]

    def traces(key):
        tab = table(recs, key)
        out = []
        for m, lab in _LABEL.items():
            pts = sorted(tab.get(m, {}).items())
            out.append(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts],
                                  mode="lines+markers", name=lab))
        return out

    return slider_figure(traces, ["attn_err", "ppl"], "metric",
                         title="TinyGPT, W_Q and W_K pruned in every head",
                         layout={"xaxis": {"title": "sparsity"},
                                 "yaxis": {"type": "log"}, "height": 460},
                         fmt=lambda k: {"attn_err": "attention error",
                                        "ppl": "perplexity"}[k])
