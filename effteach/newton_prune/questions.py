"""Graded questions of the newton_prune assignment, each with one known-wrong answer.

Four questions: the Newton score of MLP channels (q1, implementation), Theorem 3's
compensation (q2, implementation), the coefficient of the closed form derived in
SymPy (q3, derivation), and an experiment on the zoo's TinyGPT: the held-out
perplexity of three methods at 50 % sparsity for a calibration seed the grader
chooses (q4, experiment).

Book: notebooks/newton_prune/assignment.md.
"""

from __future__ import annotations

import functools

import sympy as sp
import torch

from effteach.grading import Question, register
from effteach.newton_prune.reference import compensate_ref, newton_closed_form_ref

__all__ = ["SYMBOLS", "Q4"]

#: the symbols of q3: penalty, ratio, width, and s = 1^T H_l^{-1} 1
SYMBOLS = {
    "lam": sp.Symbol("lambda", positive=True),
    "rho": sp.Symbol("rho", positive=True),
    "D": sp.Symbol("D", positive=True),
    "s": sp.Symbol("s", positive=True),
}

#: the protocol of q4: sparsity, methods (all with compensation), validation windows
Q4 = {"sparsity": 0.5, "methods": ("newton", "wanda", "flap"), "max_windows": 64}


def _psd_case(d: int, d_out: int, gen: torch.Generator, corr: float):
    """A Gram matrix of correlated inputs (N = 4 d rows) and weights (d, d_out)."""
    n = 4 * d
    base = torch.randn(n, d, generator=gen, dtype=torch.float64)
    shared = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    x = base + corr * shared + 0.3 * torch.randn(n, d, generator=gen,
                                                 dtype=torch.float64).cumsum(1)
    w = torch.randn(d, d_out, generator=gen, dtype=torch.float64) / d**0.5
    return x.T @ x / n, w


# ----------------------------------------------------------------------- q1
def _channel_scores(gram: torch.Tensor, w: torch.Tensor, rho: float, lam: float):
    return newton_closed_form_ref(gram, w, rho, lam)


def _channel_scores_wrong(gram, w, rho, lam):
    """Keeps only the diagonal of ``H_l`` (the structured-Wanda approximation)."""
    h_l = torch.diag(((w @ w.T) * gram).diagonal())
    d = gram.shape[0]
    a = torch.linalg.solve(h_l, torch.ones(d, dtype=torch.float64))
    return 1 - lam * rho * d / (1 + lam * a.sum()) * a


def _score_cases(n: int, seed: int) -> list[tuple]:
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for i in range(n):
        d = 4 + (3 * i + seed) % 9
        gram, w = _psd_case(d, 3 + i % 4, gen, corr=0.5 + (i % 3))
        rho = (0.1, 0.3, 0.5, 0.7)[(i + seed) % 4]
        lam = (0.5, 1.0, 10.0)[i % 3]
        cases.append((gram, w, rho, lam))
    return cases


# ----------------------------------------------------------------------- q2
def _compensate_rows(gram: torch.Tensor, w: torch.Tensor, pruned: torch.Tensor):
    out = compensate_ref(gram, w, pruned)
    out[pruned] = 0.0  # exactly zero, not 1e-17
    return out


def _compensate_rows_wrong(gram, w, pruned):
    """Zeroes the pruned rows and leaves the others as they were."""
    out = w.clone().double()
    out[pruned] = 0.0
    return out


def _comp_cases(n: int, seed: int) -> list[tuple]:
    gen = torch.Generator().manual_seed(seed + 10_000)
    cases = []
    for i in range(n):
        d = 5 + (2 * i + seed) % 8
        gram, w = _psd_case(d, 2 + i % 5, gen, corr=1.0)
        k = 1 + (i + seed) % (d - 1)
        pruned = torch.randperm(d, generator=gen)[:k].sort().values
        cases.append((gram, w, pruned))
    return cases


# ----------------------------------------------------------------------- q3
def _coefficient() -> sp.Expr:
    lam, rho, d, s = (SYMBOLS[k] for k in ("lam", "rho", "D", "s"))
    return lam * rho * d / (1 + lam * s)


def _coefficient_wrong() -> sp.Expr:
    """The hard-constraint limit lam -> oo, ``rho D / s``, taken for the answer."""
    return SYMBOLS["rho"] * SYMBOLS["D"] / SYMBOLS["s"]


# ----------------------------------------------------------------------- q4
@functools.lru_cache(maxsize=4)
def _half_cached(seed: int, compensation: bool = True) -> tuple[float, ...]:
    from effteach import zoo
    from effteach.newton_prune.experiments import (
        calibration_tokens,
        heldout_perplexity,
    )
    from effteach.newton_prune.prune import calibrate, prune_model

    model = zoo.load("tinygpt_text")
    calib = calibrate(model, calibration_tokens(seed))
    out = []
    for method in Q4["methods"]:
        pruned, _ = prune_model(model, calib, Q4["sparsity"], method, compensation)
        out.append(heldout_perplexity(pruned, max_windows=Q4["max_windows"]))
    return tuple(out)


def _half(seed: int) -> torch.Tensor:
    return torch.tensor(_half_cached(seed), dtype=torch.float64)


def _half_wrong(seed: int) -> torch.Tensor:
    """Prunes without compensation."""
    return torch.tensor(_half_cached(seed, False), dtype=torch.float64)


def _half_cases(n: int, seed: int) -> list[tuple]:
    return [(seed + i,) for i in range(n)]


register(Question(
    qid="newton_prune.q1",
    prompt="channel_scores(gram, w, rho, lam): the Newton score z* of the input "
    "channels of down_proj.",
    kind="function", reference=_channel_scores, wrong=_channel_scores_wrong,
    make_cases=_score_cases, rtol=1e-8, atol=1e-10))

register(Question(
    qid="newton_prune.q2",
    prompt="compensate_rows(gram, w, pruned): Theorem 3, the compensated weights "
    "with the pruned rows zero.",
    kind="function", reference=_compensate_rows, wrong=_compensate_rows_wrong,
    make_cases=_comp_cases, rtol=1e-8, atol=1e-10))

register(Question(
    qid="newton_prune.q3",
    prompt="c(lambda, rho, D, s) in z* = 1 - c H_l^{-1} 1, with s = 1^T H_l^{-1} 1.",
    kind="sympy", reference=_coefficient, wrong=_coefficient_wrong))

register(Question(
    qid="newton_prune.q4",
    prompt="half_sparsity(seed): held-out perplexity of Newton, Wanda-sp and "
    "FLAP-like, each compensated, at 50 % sparsity.",
    kind="function", reference=_half, wrong=_half_wrong, make_cases=_half_cases,
    rtol=1e-6, atol=1e-9))
