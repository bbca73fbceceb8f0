"""Headless tests of the chapter's figures and panels (data, never pixels)."""

import pytest
import torch

import effteach.econ_rl as er
from effteach.econ_rl.lm import N_TOK
from effteach.models.gpt import GPTConfig, TinyGPT


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return TinyGPT(GPTConfig(vocab_size=N_TOK, n_ctx=384, d_model=16, n_layers=1,
                             n_heads=2, d_ff=32)).eval()


def test_explore_scores_with_both_rewards(model):
    r = er.explore(model, "dominant", 2)
    assert r["problem"] == er.generate("dominant", 2)
    assert r["binary"] == float(r["grade"] == "exact")
    assert r["recon"] == er.RECON_REWARDS[r["grade"]]


def test_explorer_figure_has_one_table_per_case(model):
    fig = er.explorer_figure(model, [("dominant", 0), ("cournot", 1)])
    assert len(fig.data) == 2 and len(fig.layout.sliders[0].steps) == 2
    assert er.generate("cournot", 1).answer in fig.data[1].cells.values[1]


def test_panels_redraw_when_controls_move(model):
    box = er.explorer_panel(model)
    box.category.value = "bertrand"
    assert box.figure.layout.title.text.startswith("bertrand, seed 0")
    arena = er.arena_panel(None, rounds=6)
    arena.player.value, arena.opponent.value = "nash", "nash"
    assert "eq 100%" in arena.figure.layout.title.text


def test_panel_in_the_book_is_figure_and_note(model, monkeypatch):
    monkeypatch.setenv("EFFTEACH_BOOK", "1")
    box = er.arena_panel(None, rounds=4)
    assert box.book and box.launch == "arena_panel(model)"


def test_arena_figure_labels_rates_and_curves_slider():
    fig = er.arena_figure("nash", "Nash", "prisoners_dilemma", ["always_defect",
                                                                 "nash"], 5)
    assert [s.label for s in fig.layout.sliders[0].steps] == ["all-D", "nash"]
    # the rates and mean payoffs are in the legend of each step's traces
    assert [t.name for t in fig.data[:3]] == [
        "Nash (row), mean 1.00", "always_defect (column), mean 1.00",
        "Nash profile (100% of rounds)"]
    train = {"loss_log": [[50, 2.0], [100, 1.0]], "rl_log": [[1, 0.5, 0.01, 0.0]],
             "sft_steps": 100}
    fig = er.curves_figure(train)
    assert list(fig.data[1].x) == [101] and list(fig.data[1].y) == [0.5]
    with pytest.raises(TypeError, match="train"):
        er.curves_figure({"loss_log": []})
