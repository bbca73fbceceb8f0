"""Graded questions of the attention_prune assignment, each with one known-wrong answer.

Four questions: the gradient of one attention row's squared error through the
softmax, derived in SymPy (q1); the closed-form gradient of the mask objective
(q2); one Armijo backtracking step (q3); and how many fixed steps the measured PL
rate needs on the zoo's TinyGPT (q4).

Book: notebooks/attention_prune/assignment.md.
"""

from __future__ import annotations

import functools
import math

import sympy as sp
import torch

from effteach.attention_prune.objective import (
    attention_grad,
    attention_loss,
    attention_matrix,
)
from effteach.grading import Question, register

__all__ = ["SYMBOLS", "ARMIJO_C", "softmax_row"]

#: the symbols of q1: three logits of one attention row and its three targets
SYMBOLS = {"z": sp.symbols("z0:3", real=True), "a": sp.symbols("a0:3", real=True)}

#: the sufficient-decrease constant of q3 (large, so that it matters)
ARMIJO_C = 0.5


def softmax_row(z) -> sp.Matrix:
    """The softmax of a list of SymPy logits, as a column Matrix.

    Book: notebooks/attention_prune/assignment.md, Q1.
    """
    e = [sp.exp(zi) for zi in z]
    total = sum(e)
    return sp.Matrix([ei / total for ei in e])


# ----------------------------------------------------------------------- q1
def _row_grad() -> sp.Matrix:
    z, a = SYMBOLS["z"], SYMBOLS["a"]
    f = softmax_row(z)
    loss = sum((f[i] - a[i]) ** 2 for i in range(3)) / 2
    return sp.Matrix([sp.diff(loss, zi) for zi in z])


def _row_grad_wrong() -> sp.Matrix:
    """Forgets the softmax Jacobian: returns the error f - a itself."""
    f = softmax_row(SYMBOLS["z"])
    return f - sp.Matrix(SYMBOLS["a"])


# ----------------------------------------------------------------------- q2
def _mask_grad_ref(x, w, m, target, lam, causal):
    return attention_grad(x, w, m, target, lam, causal)


def _mask_grad_wrong(x, w, m, target, lam, causal):
    """Uses P = F o (F - A): drops the -<f, c> f term of the softmax Jacobian."""
    f = attention_matrix(x @ (m * w) @ x.transpose(-1, -2), causal)
    p = f * (f - target)
    return w * (x.transpose(-1, -2) @ p @ x).mean(0) + lam * m


def _mask_cases(n: int, seed: int) -> list[tuple]:
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for i in range(n):
        b, nn, d = 1 + i % 3, 3 + (2 * i + seed) % 6, 2 + (i + seed) % 4
        causal = i % 2 == 1
        x = torch.randn(b, nn, d, generator=gen, dtype=torch.float64)
        w = torch.randn(d, d, generator=gen, dtype=torch.float64)
        m = torch.rand(d, d, generator=gen, dtype=torch.float64) * 2
        t = attention_matrix(torch.randn(b, nn, nn, generator=gen,
                                         dtype=torch.float64), causal)
        lam = float(i % 3) * 0.05
        cases.append((x, w, m, t, lam, causal))
    return cases


# ----------------------------------------------------------------------- q3
def _armijo_ref(x, w, m, target, lam, t0):
    g = attention_grad(x, w, m, target, lam, True)
    l0, g2 = attention_loss(x, w, m, target, lam, True), float((g * g).sum())
    t = t0
    for _ in range(60):
        if attention_loss(x, w, m - t * g, target, lam, True) <= l0 - ARMIJO_C * t * g2:
            return t
        t *= 0.5
    return t


def _armijo_wrong(x, w, m, target, lam, t0):
    """Accepts the first step that decreases the loss at all (no ``c t ||g||^2``)."""
    g = attention_grad(x, w, m, target, lam, True)
    l0 = attention_loss(x, w, m, target, lam, True)
    t = t0
    for _ in range(60):
        if attention_loss(x, w, m - t * g, target, lam, True) < l0:
            return t
        t *= 0.5
    return t


def _armijo_cases(n: int, seed: int) -> list[tuple]:
    gen = torch.Generator().manual_seed(seed + 100)
    cases = []
    for i in range(n):
        b, nn, d = 1 + i % 2, 4 + (i + seed) % 5, 3 + i % 3
        x = 2 * torch.randn(b, nn, d, generator=gen, dtype=torch.float64)
        w = torch.randn(d, d, generator=gen, dtype=torch.float64)
        m = torch.ones(d, d, dtype=torch.float64)
        t = attention_matrix(torch.randn(b, nn, nn, generator=gen,
                                         dtype=torch.float64), True)
        cases.append((x, w, m, t, 0.1, float(2 ** (3 + i % 4))))
    return cases


# ----------------------------------------------------------------------- q4
@functools.lru_cache(maxsize=1)
def _constants() -> tuple[float, float]:
    from effteach import zoo
    from effteach.attention_prune.experiments import convergence

    c = convergence(zoo.load("tinygpt_text"))
    return c["beta"], c["mu"]


def _steps_ref() -> float:
    beta, mu = _constants()
    return float(math.ceil(math.log(0.01) / math.log(1 - mu / beta)))


def _steps_wrong() -> float:
    """The condition number beta/mu alone, without the log(1/0.01) factor."""
    beta, mu = _constants()
    return float(math.ceil(beta / mu))


register(Question(
    qid="attention_prune.q1",
    prompt="d/dz of 1/2 ||softmax(z) - a||^2 for three logits, as a 3 x 1 Matrix.",
    kind="sympy", reference=_row_grad, wrong=_row_grad_wrong))

register(Question(
    qid="attention_prune.q2",
    prompt="mask_grad(x, w, m, target, lam, causal): the closed-form gradient of "
    "the mask objective.",
    kind="function", reference=_mask_grad_ref, wrong=_mask_grad_wrong,
    make_cases=_mask_cases, rtol=1e-8, atol=1e-10))

register(Question(
    qid="attention_prune.q3",
    prompt="armijo_step(x, w, m, target, lam, t0): the accepted step size.",
    kind="function", reference=_armijo_ref, wrong=_armijo_wrong,
    make_cases=_armijo_cases, rtol=1e-12, atol=0.0))

register(Question(
    qid="attention_prune.q4",
    prompt="Fixed steps the measured PL rate needs to cut the gap to 1 %.",
    kind="value", reference=_steps_ref, wrong=_steps_wrong, rtol=0.0, atol=0.5))
