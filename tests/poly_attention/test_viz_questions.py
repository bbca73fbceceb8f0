"""Headless checks of the chapter's figure and panel, and of its questions and bench."""

import pytest
import torch

from effteach.poly_attention import error_vs_logit
from effteach.poly_attention.bench import summary
from effteach.poly_attention.viz import error_figure, error_panel


def test_error_figure_has_a_step_per_degree_and_the_bound():
    rows = error_vs_logit([0.5, 1.0, 8.0], [2, 4], n_ctx=32)
    fig = error_figure(rows)
    assert len(fig.data) == 6 and len(fig.layout.sliders[0].steps) == 2
    shown = [t for t in fig.data if t.visible]
    assert [t.name for t in shown][2].startswith("bound")
    assert shown[2].y[-1] is None  # eps >= 1 at B = 8: the bound says nothing
    assert shown[1].y[-1] > shown[1].y[0]  # the error grows with the logit bound


def test_error_figure_rejects_foreign_rows():
    with pytest.raises(ValueError, match="rows"):
        error_figure([{"x": 1}])


def test_panel_follows_the_method_control(monkeypatch):
    monkeypatch.delenv("EFFTEACH_BOOK", raising=False)
    box = error_panel(max_logits=(1.0, 2.0), degrees=(2, 4))
    assert "taylor" in box.figure.layout.title.text
    box.controls["method"].value = "chebyshev"
    assert "chebyshev" in box.figure.layout.title.text


def test_bench_summary_finds_the_crossover():
    recs = [{"name": "sdpa_flash", "n_ctx": n, "ms": ms}
            for n, ms in ((1024, 1.0), (2048, 3.0), (4096, 12.0))]
    recs += [{"name": "poly_paper", "n_ctx": n, "ms": ms}
             for n, ms in ((1024, 2.0), (2048, 2.5), (4096, 4.0))]
    out = summary(recs)
    assert out["crossover_n_ctx"] == 2048 and out["speedup"]["4096"] == 3.0


def test_q1_wrong_answer_differs_from_the_reference():
    from effteach.poly_attention import questions as q

    (pq, pk, v), = q._cases(1, 0)
    ref = q._causal_feature_attention(pq, pk, v)
    assert not torch.allclose(ref, q._causal_feature_attention_wrong(pq, pk, v))
    torch.testing.assert_close(ref[0], v[0])  # the first query sees only key 0
