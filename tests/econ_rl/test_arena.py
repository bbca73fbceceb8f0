"""The game arena: hand-computed matches, equilibrium play, errors by name."""

import numpy as np
import pytest

from effteach.econ_rl import arena as ar
from effteach.econ_rl.problems import generate


def test_tit_for_tat_against_always_defect_by_hand():
    # PD: T=5, R=3, P=1, S=0. Round 1: (C, D) -> (0, 5); then (D, D) -> (1, 1).
    r = ar.play("prisoners_dilemma", "tit_for_tat", "always_defect", rounds=10)
    assert r.actions.tolist() == [[0, 1]] + [[1, 1]] * 9
    assert r.payoffs.sum(axis=0).tolist() == [9.0, 14.0]
    assert r.mean_payoffs == (0.9, 1.4)
    assert r.equilibrium_rate == 0.9  # (D, D) is the only pure equilibrium


def test_grim_trigger_never_forgives_and_tft_cooperates_with_itself():
    r = ar.play("prisoners_dilemma", "grim_trigger", "random", rounds=40, seed=3)
    first = next(k for k, b in enumerate(r.actions[:, 1]) if b == 1)
    assert (r.actions[first + 1:, 0] == 1).all() and (r.actions[:first + 1, 0] == 0
                                                      ).all()
    both = ar.play("prisoners_dilemma", "tit_for_tat", "tit_for_tat", rounds=7)
    assert both.mean_payoffs == (3.0, 3.0) and both.equilibrium_rate == 0.0


def test_nash_player_plays_the_unique_equilibrium():
    for game in ("prisoners_dilemma", (np.array([[4, 1], [2, 0]]),
                                       np.array([[3, 5], [1, 2]]))):
        r = ar.play(game, "nash", "nash", rounds=15, seed=1)
        assert r.equilibrium_rate == 1.0


def test_no_pure_equilibrium_means_rate_zero_and_best_response_exploits():
    r = ar.play("matching_pennies", "best_response", "always_cooperate", rounds=12)
    assert r.equilibrium_rate == 0.0
    assert r.mean_payoffs[0] == 2.0  # row wins every round against a constant


def test_matches_are_seeded():
    a = ar.play("coordination", "random", "random", rounds=30, seed=5)
    b = ar.play("coordination", "random", "random", rounds=30, seed=5)
    c = ar.play("coordination", "random", "random", rounds=30, seed=6)
    assert np.array_equal(a.actions, b.actions)
    assert not np.array_equal(a.actions, c.actions)


def test_game_prompt_without_history_is_the_generators_prompt():
    for seed in range(20):
        p = generate("pure_nash", seed, 1)
        A, B = np.array(p.params["A"]), np.array(p.params["B"])
        assert ar.game_prompt(A, B) == p.prompt
    A, B = ar.GAMES["prisoners_dilemma"]
    assert "Previous rounds (row,column): (1,2),(2,2).\n" in ar.game_prompt(
        A, B, [(0, 1), (1, 1)])


def test_checkpoint_player_falls_back_and_counts():
    import torch

    from effteach.econ_rl.lm import N_TOK
    from effteach.models.gpt import GPTConfig, TinyGPT

    torch.manual_seed(0)
    m = TinyGPT(GPTConfig(vocab_size=N_TOK, n_ctx=384, d_model=16, n_layers=1,
                          n_heads=2, d_ff=32))
    player = ar.CheckpointPlayer(m, memory=1, n_new=8)  # untrained: no answer
    r = ar.play("prisoners_dilemma", player, "tit_for_tat", rounds=4)
    assert player.calls == 4 and player.fallbacks == 4
    assert (r.actions[:, 0] == 0).all()  # the documented fallback action
    assert len(player.answers) <= 2  # memoised: one prompt per distinct history


def test_tournament_rows():
    rows = ar.tournament({"n": "nash"}, ["always_defect"], ["prisoners_dilemma"], 5)
    assert len(rows) == 1 and rows[0]["eq_rate"] == 1.0 and rows[0]["payoff"] == 1.0


@pytest.mark.parametrize("call, match", [
    (lambda: ar.play("chess", "nash", "nash"), "game: unknown game"),
    (lambda: ar.play("coordination", "nope", "nash"), "row: unknown strategy"),
    (lambda: ar.play("coordination", "nash", 3), "col: expected a strategy"),
    (lambda: ar.play("coordination", "nash", "nash", rounds=0), "rounds"),
    (lambda: ar.play(([[1, 2, 3]], [[1, 2, 3]]), "nash", "nash"), "game: expected"),
    (lambda: ar.play("coordination", lambda *a: 2, "nash"), "row: strategy returned"),
    (lambda: ar.game_prompt([[1, 2], [3, 4]], [[1, 2], [3, 4]], [(0, 2)]),
     "history: actions must be 0 or 1"),
    (lambda: ar.game_prompt([[1, 2], [3, 4]], [[1, 2]], []), "B: shape"),
    (lambda: ar.CheckpointPlayer("model"), "model: expected a TinyGPT"),
    (lambda: ar.tournament({}, None, None), "players"),
])
def test_bad_input_names_the_argument(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
