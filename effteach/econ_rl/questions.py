"""Graded questions of the econ_rl assignment, each with one known-wrong answer.

q1: a verifier for a new category (monopoly quantity); q2: group-normalised
advantages and the clipped GRPO surrogate; q3: the paired accuracy difference between
GRPO and a control on fixed evaluation flags.

Book: notebooks/econ_rl/assignment.md.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from effteach.econ_rl.problems import parse_answer
from effteach.grading import Question, register

__all__ = ["Q3_FLAGS"]

#: q3's exact-match flags of GRPO and of the compute-matched SFT control
Q3_FLAGS = {
    "grpo": np.array([1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 0], float),
    "control": np.array([1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0, 0], float),
}


def _verify_ref(a, b, c, completion):
    got = parse_answer(completion)
    try:
        return float(got is not None and Fraction(got) == Fraction(a - c, 2 * b))
    except ValueError:
        return 0.0


def _verify_wrong(a, b, c, completion):
    got = parse_answer(completion)
    try:
        return float(got is not None and Fraction(got) == Fraction(a - c, b))
    except ValueError:
        return 0.0


def _verify_cases(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(max(n, 6)):
        b, c = int(rng.integers(1, 4)), int(rng.integers(1, 10))
        a = c + int(rng.integers(2, 30))
        right = Fraction(a - c, 2 * b)
        texts = [f"\\boxed{{{right.numerator}/{right.denominator}}}",
                 f"\\boxed{{{a - c}/{b}}}", "no answer", "\\boxed{{(",
                 f"\\boxed{{{float(right) + 1}}}", f"\\boxed{{{float(right)}}}"]
        out.append((a, b, c, texts[k % len(texts)]))
    return out


def _clipped_ref(rewards, ratios, clip):
    r = np.asarray(rewards, float)
    w = np.asarray(ratios, float)
    adv = (r - r.mean()) / (r.std() + 1e-6)
    return float(np.minimum(w * adv, np.clip(w, 1 - clip, 1 + clip) * adv).mean())


def _clipped_wrong(rewards, ratios, clip):
    r = np.asarray(rewards, float)
    adv = (r - r.mean()) / (r.std() + 1e-6)
    return float((np.asarray(ratios, float) * adv).mean())


def _clipped_cases(n, seed):
    rng = np.random.default_rng(seed)
    return [(rng.integers(0, 2, 8).astype(float), rng.uniform(0.5, 1.6, 8), 0.2)
            for _ in range(n)]


def _paired_diff():
    return float((Q3_FLAGS["grpo"] - Q3_FLAGS["control"]).mean())


register(Question(
    qid="econ_rl.q1",
    prompt="verify_monopoly(a, b, c, completion) -> 1.0 if the boxed answer is the "
    "monopoly quantity for P = a - bQ and cost c, else 0.0 (never raises).",
    kind="function", reference=_verify_ref, wrong=_verify_wrong,
    make_cases=_verify_cases, rtol=0.0, atol=0.0))

register(Question(
    qid="econ_rl.q2",
    prompt="clipped_objective(rewards, ratios, clip): mean of min(w A, clip(w) A) "
    "with group-normalised A (std + 1e-6).",
    kind="function", reference=_clipped_ref, wrong=_clipped_wrong,
    make_cases=_clipped_cases, rtol=1e-9, atol=1e-12))

register(Question(
    qid="econ_rl.q3",
    prompt="Paired accuracy difference GRPO - compute-matched control on Q3_FLAGS.",
    kind="value", reference=_paired_diff(), wrong=0.5625, rtol=1e-9, atol=1e-12))
