"""The chapter's figures: static sliders, the live panel follows its controls."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch

from effteach import zoo
from effteach.attention_prune import RESULTS_PATH
from effteach.attention_prune.viz import heatmap_figure, heatmap_panel, sweep_figure


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@functools.cache
def _model():
    return zoo.load("tinygpt_text")


def test_heatmap_slider_has_one_step_per_lambda_and_sparsity():
    fig = heatmap_figure(_model(), sparsities=(0.5, 0.9), lams=(0.0, 0.1), iters=3,
                         n_ctx=8, n_seq=1)
    assert len(fig.layout.sliders[0].steps) == 4
    dense = np.asarray(fig.data[0].z)
    assert dense.shape == (8, 8)
    np.testing.assert_allclose(dense.sum(1), 1.0, atol=1e-6)  # rows of softmax
    assert np.allclose(np.triu(dense, 1), 0.0)  # causal


def test_panel_redraws_when_sparsity_moves():
    box = heatmap_panel(_model())
    assert set(box.controls) == {"sparsity", "lam"}
    before = np.asarray(box.figure.data[1].z)
    box.controls["sparsity"].value = 0.9
    after = np.asarray(box.figure.data[1].z)
    assert not np.allclose(before, after)
    diff = np.asarray(box.figure.data[2].z)
    np.testing.assert_allclose(diff, after - np.asarray(box.figure.data[0].z),
                               atol=1e-6)


def test_panel_in_the_book_is_figure_and_note(monkeypatch):
    monkeypatch.setenv("EFFTEACH_BOOK", "1")
    box = heatmap_panel(_model())
    assert box.book and not box.figure.layout.sliders


def test_sweep_figure_metric_slider_draws_every_method():
    result = json.loads(RESULTS_PATH.read_text())
    fig = sweep_figure(result)
    assert len(fig.layout.sliders[0].steps) == 2
    names = {t.name for t in fig.data}
    assert {"GD mask (paper)", "Wanda", "magnitude"} <= names
    with pytest.raises(ValueError, match="result"):
        sweep_figure({"records": None})
