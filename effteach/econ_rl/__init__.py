"""Reasoning like an economist (Recon): verifiable economic problems, rewards, GRPO.

Problem generator and verifier with SymPy-checked closed forms
(:mod:`effteach.econ_rl.problems`), Recon's reward and a binary alternative
(:mod:`effteach.econ_rl.rewards`), and GRPO's group-normalised advantage and clipped
objective (:mod:`effteach.econ_rl.grpo`).
"""

from effteach.econ_rl.grpo import (
    group_advantages,
    grpo_objective,
    k3_kl,
    signal_probability,
)
from effteach.econ_rl.problems import (
    CATEGORIES,
    HELD_OUT,
    TRAIN_CATEGORIES,
    Problem,
    derive_formulas,
    dominant_strategy,
    generate,
    generate_set,
    grade,
    mixed_nash_2x2,
    parse_answer,
    pure_nash,
)
from effteach.econ_rl.rewards import RECON_REWARDS, binary_reward, recon_reward

__all__ = [
    "CATEGORIES", "HELD_OUT", "TRAIN_CATEGORIES", "Problem", "RECON_REWARDS",
    "binary_reward", "derive_formulas", "dominant_strategy", "generate",
    "generate_set", "grade", "group_advantages", "grpo_objective", "k3_kl",
    "mixed_nash_2x2", "parse_answer", "pure_nash", "recon_reward",
    "signal_probability",
]
