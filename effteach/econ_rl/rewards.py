"""Rewards: Recon's hierarchical scheme and a cleaner binary alternative.

Neither ever raises on a completion string: malformed text gets the format or
parse reward.
"""

from __future__ import annotations

from effteach.econ_rl.problems import Problem, grade

__all__ = ["RECON_REWARDS", "recon_reward", "binary_reward"]

#: Recon's values (format violation, parse failure, exact, partial, wrong).
RECON_REWARDS = {"format": -4.0, "parse": -5.0, "exact": 5.0, "partial": 2.0,
                 "wrong": -3.0}


def recon_reward(problem: Problem, completion, require_think: bool = True) -> float:
    r"""Recon's reward: -4 format, -5 parse, +5 exact, +2 partial, -3 wrong.

    Format (as in the paper's notebook): exactly one ``</think>`` and any
    ``\boxed`` after it.  With ``require_think=False`` the format stage is
    skipped (our small model writes no think block).
    """
    if not isinstance(problem, Problem):
        raise TypeError("problem: expected a Problem")
    if not isinstance(completion, str):
        raise TypeError(f"completion: expected a str, got "
                        f"{type(completion).__name__}")
    if not isinstance(require_think, bool):
        raise TypeError("require_think: expected a bool")
    text = completion
    if require_think:
        if completion.count("</think>") != 1:
            return RECON_REWARDS["format"]
        head, text = completion.split("</think>")
        if "\\boxed" in head:
            return RECON_REWARDS["format"]
    return RECON_REWARDS[grade(problem, text)]


def binary_reward(problem: Problem, completion) -> float:
    """1 for an exactly correct answer, 0 for anything else (no partial credit)."""
    if not isinstance(problem, Problem):
        raise TypeError("problem: expected a Problem")
    if not isinstance(completion, str):
        raise TypeError(f"completion: expected a str, got "
                        f"{type(completion).__name__}")
    return 1.0 if grade(problem, completion) == "exact" else 0.0
