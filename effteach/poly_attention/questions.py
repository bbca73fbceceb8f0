"""Graded questions of the poly_attention assignment, each with one known-wrong answer.

Three questions: causal attention from features by prefix sums (q1, implementation),
the Lagrange bound on the Taylor polynomial's error derived in SymPy (q2), and an
experiment: the least Taylor degree whose measured gradient error is below 1e-3 at
each logit bound, against the degree the bound asks for (q3).

Book: notebooks/poly_attention/assignment.md.
"""

from __future__ import annotations

import functools

import sympy as sp
import torch

from effteach.grading import Question, register
from effteach.poly_attention.experiments import error_vs_logit

__all__ = ["SYMBOLS", "DEGREE_EXPERIMENT"]

#: the symbols of q2: the logit bound B and the degree g
SYMBOLS = {"B": sp.Symbol("B", positive=True),
           "g": sp.Symbol("g", integer=True, nonnegative=True)}

#: the protocol of q3: logit bounds, target gradient error, degrees tried
DEGREE_EXPERIMENT = {"max_logits": (0.5, 1.0, 2.0, 3.0), "target": 1e-3,
                     "degrees": tuple(range(1, 9)), "n_ctx": 64}


# ----------------------------------------------------------------------- q1
def _causal_feature_attention(phi_q, phi_k, v):
    """``out_i = sum_{j<=i} (phi_q_i . phi_k_j) v_j / sum_{j<=i} phi_q_i . phi_k_j``."""
    kv = torch.cumsum(phi_k.unsqueeze(-1) * v.unsqueeze(-2), dim=0)  # (n, r, d)
    ks = torch.cumsum(phi_k, dim=0)  # (n, r)
    num = torch.einsum("nr,nrd->nd", phi_q, kv)
    return num / (phi_q * ks).sum(-1, keepdim=True)


def _causal_feature_attention_wrong(phi_q, phi_k, v):
    """Forgets the mask: every query sees every key (sums over all j)."""
    a = phi_q @ phi_k.T
    return (a @ v) / a.sum(-1, keepdim=True)


def _cases(n: int, seed: int) -> list[tuple]:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        n_ctx, r, d = 3 + (5 * i + seed) % 20, 2 + (3 * i) % 9, 1 + i % 5
        phi_q = torch.rand(n_ctx, r, generator=gen, dtype=torch.float64) + 0.1
        phi_k = torch.rand(n_ctx, r, generator=gen, dtype=torch.float64) + 0.1
        v = torch.randn(n_ctx, d, generator=gen, dtype=torch.float64)
        out.append((phi_q, phi_k, v))
    return out


# ----------------------------------------------------------------------- q2
def _taylor_bound() -> sp.Expr:
    """Lagrange: ``|e^t - T_g(t)| <= B^(g+1) e^B / (g+1)!`` on ``[-B, B]``."""
    b, g = SYMBOLS["B"], SYMBOLS["g"]
    return b ** (g + 1) * sp.exp(b) / sp.factorial(g + 1)


def _taylor_bound_wrong() -> sp.Expr:
    """The last kept term instead of the first dropped one."""
    b, g = SYMBOLS["B"], SYMBOLS["g"]
    return b**g * sp.exp(b) / sp.factorial(g)


# ----------------------------------------------------------------------- q3
@functools.lru_cache(maxsize=1)
def _least_degrees_cached() -> tuple[int, ...]:
    p = DEGREE_EXPERIMENT
    rows = error_vs_logit(p["max_logits"], p["degrees"], n_ctx=p["n_ctx"])
    out = []
    for b in p["max_logits"]:
        ok = [r["degree"] for r in rows
              if r["max_logit"] == b and r["grad_err"] < p["target"]]
        out.append(min(ok))
    return tuple(out)


def _least_degrees() -> torch.Tensor:
    """Entry i: least Taylor degree with gradient error < 1e-3 at max logit B_i."""
    return torch.tensor(_least_degrees_cached(), dtype=torch.float64)


def _least_degrees_wrong() -> torch.Tensor:
    """The degree the Lagrange bound asks for (eps = 1e-3): too pessimistic."""
    from effteach.poly_attention.theory import degree_for

    p = DEGREE_EXPERIMENT
    return torch.tensor([degree_for(p["target"], b) for b in p["max_logits"]],
                        dtype=torch.float64)


register(Question(
    qid="poly_attention.q1",
    prompt="causal_feature_attention(phi_q, phi_k, v): causal normalised attention "
    "from features, by prefix sums (no n x n matrix).",
    kind="function", reference=_causal_feature_attention,
    wrong=_causal_feature_attention_wrong, make_cases=_cases, rtol=1e-9, atol=1e-12))

register(Question(
    qid="poly_attention.q2",
    prompt="Lagrange bound on |e^t - T_g(t)| for |t| <= B, in B and g.",
    kind="sympy", reference=_taylor_bound, wrong=_taylor_bound_wrong))

register(Question(
    qid="poly_attention.q3",
    prompt="Least Taylor degree with measured gradient error < 1e-3, per max logit.",
    kind="value", reference=_least_degrees, wrong=_least_degrees_wrong,
    rtol=0.0, atol=0.5))
