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
    P + "derive_formulas": "no arguments",
    P + "Problem": "frozen record returned by generate",
}
