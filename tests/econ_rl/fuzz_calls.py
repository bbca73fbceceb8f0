"""Example calls of the econ_rl API for the bad-input fuzz harness."""

from __future__ import annotations

import numpy as np
from fuzz_support import Call

P = "effteach.econ_rl."


def C(fn, *args, **kwargs):
    """A valid call ``fn(*args, **kwargs)``."""
    return Call(fn, args, kwargs)


def calls() -> dict:
    """``"module.name" -> () -> Call`` for every public callable of the chapter."""
    import effteach.econ_rl as er

    prob = er.generate("cournot", 0)
    A = np.array([[3.0, 0.0], [5.0, 1.0]])
    B = np.array([[3.0, 5.0], [0.0, 1.0]])
    return {
        **arena_calls(),
        P + "generate": lambda: C(er.generate, "cournot", 1, 2),
        P + "generate_set": lambda: C(er.generate_set, ["bertrand"], 2, 0, 1),
        P + "parse_answer": lambda: C(er.parse_answer, "\\boxed{3/4}"),
        P + "grade": lambda: C(er.grade, prob, "\\boxed{1}"),
        P + "pure_nash": lambda: C(er.pure_nash, A, B),
        P + "dominant_strategy": lambda: C(er.dominant_strategy, A),
        P + "mixed_nash_2x2": lambda: C(er.mixed_nash_2x2, [[1, 0], [0, 1]],
                                        [[0, 1], [1, 0]]),
        P + "recon_reward": lambda: C(er.recon_reward, prob, "x</think>\\boxed{1}",
                                      True),
        P + "binary_reward": lambda: C(er.binary_reward, prob, "\\boxed{1}"),
        P + "group_advantages": lambda: C(er.group_advantages, [1.0, 0.0, 2.0],
                                          1e-6),
        P + "signal_probability": lambda: C(er.signal_probability, 0.3, 8),
        P + "k3_kl": lambda: C(er.k3_kl, [0.1, -0.2], [0.0, 0.0]),
        P + "grpo_objective": lambda: C(er.grpo_objective, [0.1, -0.2],
                                        [0.0, 0.0], [0.0, 0.0], [1.0, -1.0],
                                        0.2, 0.04),
    }


OPT_OUT = {
    P + "MatchResult": "frozen record returned by play",
    P + "derive_formulas": "no arguments",
    P + "Problem": "frozen record returned by generate",
}


def _tiny_model():
    import torch

    from effteach.econ_rl.lm import N_TOK
    from effteach.models.gpt import GPTConfig, TinyGPT

    torch.manual_seed(0)
    return TinyGPT(GPTConfig(vocab_size=N_TOK, n_ctx=384, d_model=16, n_layers=1,
                             n_heads=2, d_ff=32))


def arena_calls() -> dict:
    """Example calls of the arena and the chapter's figures."""
    import effteach.econ_rl as er

    model = _tiny_model()
    train = {"loss_log": [[1, 2.0], [2, 1.0]], "rl_log": [[1, 0.5, 0.01, 0.0]],
             "sft_steps": 2}
    A = np.array([[3, 0], [5, 1]])
    B = np.array([[3, 5], [0, 1]])
    return {
        P + "play": lambda: C(er.play, "prisoners_dilemma", "tit_for_tat",
                              "always_defect", 5, 0),
        P + "tournament": lambda: C(er.tournament, {"n": "nash"}, ["random"],
                                    ["coordination"], 4, 0),
        P + "game_prompt": lambda: C(er.game_prompt, A, B, [(0, 1)]),
        P + "CheckpointPlayer": lambda: C(er.CheckpointPlayer, model, 1, 4),
        P + "explore": lambda: C(er.explore, model, "dominant", 1, 1),
        P + "explorer_figure": lambda: C(er.explorer_figure, model,
                                         [("dominant", 1)], 1),
        P + "explorer_panel": lambda: C(er.explorer_panel, model),
        P + "curves_figure": lambda: C(er.curves_figure, train),
        P + "arena_figure": lambda: C(er.arena_figure, "nash", "Nash",
                                      "coordination", ["random"], 4, 0),
        P + "arena_panel": lambda: C(er.arena_panel, None, 4),
    }
