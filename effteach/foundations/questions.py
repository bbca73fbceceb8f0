"""Graded questions of the foundations assignment, each with one known-wrong answer.

Book: notebooks/foundations/assignment.md.
"""

from __future__ import annotations

import math

import sympy as sp
import torch

from effteach.foundations.reference import softmax_bwd_ref, softmax_ref
from effteach.grading import Question, register


def _jacobian_3() -> sp.Matrix:
    """The softmax Jacobian of 3 logits, entries in terms of z0, z1, z2."""
    z = sp.symbols("z0:3")
    den = sum(sp.exp(zi) for zi in z)
    p = [sp.exp(zi) / den for zi in z]
    return sp.Matrix(3, 3, lambda i, j: (p[i] if i == j else 0) - p[i] * p[j])


def _jacobian_3_wrong() -> sp.Matrix:
    """diag(p) + p pᵀ: the sign of the outer product flipped."""
    z = sp.symbols("z0:3")
    den = sum(sp.exp(zi) for zi in z)
    p = [sp.exp(zi) / den for zi in z]
    return sp.Matrix(3, 3, lambda i, j: (p[i] if i == j else 0) + p[i] * p[j])


def _bwd_cases(n: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    cases = []
    for i in range(n):
        rows = 1 + i % 4
        cols = 2 + (3 * i + seed) % 13
        z = torch.randn(rows, cols, generator=g, dtype=torch.float64) * 3
        dp = torch.randn(rows, cols, generator=g, dtype=torch.float64)
        cases.append((softmax_ref(z), dp))
    return cases


def _bwd_wrong(p: torch.Tensor, dp: torch.Tensor) -> torch.Tensor:
    """Forgets the <p, dp> term: diag(p) dp instead of (diag(p) - p pᵀ) dp."""
    return p * dp


register(
    Question(
        qid="foundations.q1",
        prompt="The 3x3 softmax Jacobian d p_i / d z_j as a SymPy Matrix in z0..z2.",
        kind="sympy",
        reference=_jacobian_3,
        wrong=_jacobian_3_wrong,
    )
)

register(
    Question(
        qid="foundations.q2",
        prompt="softmax_bwd(p, dp): the gradient with respect to the logits, row-wise.",
        kind="function",
        reference=softmax_bwd_ref,
        wrong=_bwd_wrong,
        make_cases=_bwd_cases,
        rtol=1e-9,
        atol=1e-12,
    )
)

register(
    Question(
        qid="foundations.q3",
        prompt="The largest logit x for which exp(x) is finite in float16 (ln 65504).",
        kind="value",
        reference=math.log(float(torch.finfo(torch.float16).max)),
        wrong=math.log(float(torch.finfo(torch.float32).max)),  # float32's 88.72
        rtol=1e-3,
        atol=0.0,
    )
)
