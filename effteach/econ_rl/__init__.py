"""Reasoning like an economist (Recon): verifiable economic problems, rewards, GRPO.

Problem generator and verifier with SymPy-checked closed forms
(:mod:`effteach.econ_rl.problems`), Recon's reward and a binary alternative
(:mod:`effteach.econ_rl.rewards`), and GRPO's group-normalised advantage and clipped
objective (:mod:`effteach.econ_rl.grpo`), repeated games against fixed opponents
(:mod:`effteach.econ_rl.arena`) and the chapter's figures and panels
(:mod:`effteach.econ_rl.viz`).  The CPU checkpoint ``econ_rl_gpt`` is made by
:mod:`effteach.econ_rl.train_cpu` (``python -m effteach.train econ_rl_gpt``).
"""

from effteach.econ_rl.arena import (
    GAMES,
    STRATEGIES,
    CheckpointPlayer,
    MatchResult,
    game_prompt,
    play,
    tournament,
)
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
from effteach.econ_rl.viz import (
    arena_figure,
    arena_panel,
    curves_figure,
    explore,
    explorer_figure,
    explorer_panel,
)

__all__ = [
    "GAMES", "STRATEGIES", "CheckpointPlayer", "MatchResult", "game_prompt", "play",
    "tournament", "arena_figure", "arena_panel", "curves_figure", "explore",
    "explorer_figure", "explorer_panel",
    "CATEGORIES", "HELD_OUT", "TRAIN_CATEGORIES", "Problem", "RECON_REWARDS",
    "binary_reward", "derive_formulas", "dominant_strategy", "generate",
    "generate_set", "grade", "group_advantages", "grpo_objective", "k3_kl",
    "mixed_nash_2x2", "parse_answer", "pure_nash", "recon_reward",
    "signal_probability",
]
