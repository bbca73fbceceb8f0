"""Headless tests of the newton_prune figures and panels: data, never pixels."""

from __future__ import annotations

import json

import pytest

from effteach import zoo
from effteach.newton_prune import (
    RESULTS_PATH,
    calibrate,
    calibration_tokens,
    kept_map_figure,
    kept_panel,
    ppl_figure,
    ppl_panel,
    summarize,
)


@pytest.fixture(scope="module")
def result():
    return json.loads(RESULTS_PATH.read_text())


@pytest.fixture(scope="module")
def gpt_calib():
    gpt = zoo.load("tinygpt_text")
    return gpt, calibrate(gpt, calibration_tokens(0, n=8))


def test_ppl_figure_slider_marks_each_sparsity(result):
    fig = ppl_figure(result)
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["10%", "20%", "30%", "40%", "50%", "60%"]
    per_step = len(fig.data) // len(steps)
    assert per_step == 5 * 2 + 2  # 5 methods x (plain, comp), dense, marker
    mean = summarize(result["records"])
    marker = fig.data[4 * per_step + per_step - 1]  # step of 50 %
    assert list(marker.x) == [0.5] * 10
    assert min(marker.y) == pytest.approx(min(v[0.5] for k, v in mean.items()
                                              if k.endswith("/comp")
                                              and "uniform" in k or "global" in k))
    assert fig.layout.yaxis.type == "log"


def test_ppl_figure_per_seed_differs_from_mean(result):
    a, b = ppl_figure(result, seed=0), ppl_figure(result)
    assert a.data[0].y != b.data[0].y
    with pytest.raises(ValueError, match="seed"):
        ppl_figure(result, seed=9)
    with pytest.raises(ValueError, match="active"):
        ppl_figure(result, active=0.55)


def test_ppl_panel_redraws(result):
    box = ppl_panel(result)
    box.controls["log_y"].value = False
    assert box.figure.layout.yaxis.type == "linear"
    box.controls["seed"].value = 1
    assert box.figure.data[0].y == ppl_figure(result, seed=1).data[0].y


def test_kept_map_shows_the_selection(gpt_calib):
    gpt, calib = gpt_calib
    fig = kept_map_figure(gpt, calib, "wanda", sparsities=(0.0, 0.5), active=1)
    heat_dense, heat_half = fig.data[0], fig.data[2]
    assert sum(map(sum, heat_dense.z)) == 12  # every head kept at 0 %
    assert sum(map(sum, heat_half.z)) == 6  # uniform: 2 of 4 per layer at 50 %
    assert fig.data[3].x[0] < 1.0  # channels removed too


def test_kept_panel_live_and_in_the_book(gpt_calib, monkeypatch):
    gpt, calib = gpt_calib
    box = kept_panel(gpt, calib)
    box.controls["allocation"].value = "literal"
    assert "literal" in box.figure.layout.title.text
    monkeypatch.setenv("EFFTEACH_BOOK", "1")
    book = kept_panel(gpt, calib)
    assert book.book and book.launch == "kept_panel(model, calib)"
    assert book.figure.layout.sliders  # the sparsity slider works without Python
