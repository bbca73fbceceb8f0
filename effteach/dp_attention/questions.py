"""Graded questions of the dp_attention assignment, each with one known-wrong answer.

Four questions: the binary (tree) counting mechanism's noisy prefix sums (q1); the
l2 sensitivity of the flat release under replacement, derived in SymPy (q2); an
audit of three black-box mechanisms, one of them broken: the lower bounds (q3) and
which ones the audit flags (q4).

Book: notebooks/dp_attention/assignment.md.
"""

from __future__ import annotations

import functools

import numpy as np
import sympy as sp

from effteach.checks import check_int, typed
from effteach.dp_attention.audit import audit_samples, worst_case_neighbours
from effteach.dp_attention.experiments import AUDIT_SETUP
from effteach.dp_attention.mechanisms import (
    BrokenFlatDPAttention,
    DPTreeAttention,
    FlatDPAttention,
)
from effteach.dp_attention.reference import binary_mechanism_ref
from effteach.grading import Question, register

__all__ = ["SYMBOLS", "MYSTERY", "AUDIT_PROTOCOL", "mystery_releases"]

#: the symbols of q2
SYMBOLS = {
    "d": sp.Symbol("d", positive=True, integer=True),
    "d_v": sp.Symbol("d_v", positive=True, integer=True),
    "R": sp.Symbol("R", positive=True),
    "R_w": sp.Symbol("R_w", positive=True),
}
#: the three black boxes of q3 and q4 (which is which is the question)
MYSTERY = ("A", "B", "C")
#: the protocol of q3: claimed eps, delta, runs per dataset, seed, confidence
AUDIT_PROTOCOL = {"eps": 1.0, "delta": 1e-5, "n_runs": 4000, "seed": 7,
                  "alpha": 0.05}


# ----------------------------------------------------------------------- q1
def _binary_wrong(x, noise):
    """Noisy prefix sums from the noisy leaves alone: every leaf's noise adds up."""
    x = np.asarray(x, dtype=float)
    return np.cumsum(x + np.asarray(noise[0], dtype=float))


def _binary_cases(n: int, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        M = 2 ** (1 + (i + seed) % 5)  # 2 .. 32 leaves
        x = rng.integers(-3, 4, M).astype(float)
        noise = [rng.normal(0, 1, M >> lvl) for lvl in range(M.bit_length())]
        cases.append((x, noise))
    return cases


# ----------------------------------------------------------------------- q2
def _sensitivity() -> sp.Expr:
    """``2 sqrt(1 + d R^2 + (d R^2)^2 / 2) sqrt(d_v R_w^2 + 1)`` (degree 2)."""
    d, d_v, R, R_w = (SYMBOLS[k] for k in ("d", "d_v", "R", "R_w"))
    s = d * R**2
    return 2 * sp.sqrt(1 + s + s**2 / 2) * sp.sqrt(d_v * R_w**2 + 1)


def _sensitivity_wrong() -> sp.Expr:
    """The add/remove sensitivity: the factor 2 of replacement is missing."""
    return _sensitivity() / 2


# ----------------------------------------------------------------------- q3, q4
@typed
def mystery_releases(name: str, n_runs: int, seed: int) -> tuple[np.ndarray,
                                                                  np.ndarray]:
    """Outputs of black box ``name`` on the neighbours ``D`` and ``D'``.

    Each box is built ``n_runs`` times on each of the worst-case neighbours of
    :data:`~effteach.dp_attention.experiments.AUDIT_SETUP` (one value flipped) and
    claims ``(eps, delta) = (1, 1e-5)``; what it publishes comes back flattened.

    Args:
        name: ``"A"``, ``"B"`` or ``"C"``.
        n_runs: runs on each dataset (at least 40).
        seed: seed of the data and the noise.

    Returns:
        ``(out_d, out_d_prime)``, each (n_runs, k).

    Book: notebooks/dp_attention/assignment.md, Q3.
    """
    if name not in MYSTERY:
        raise ValueError(f"name: expected one of {MYSTERY}, got {name!r}")
    n_runs = check_int("n_runs", n_runs, 40, 10**6)
    seed = check_int("seed", seed, 0)
    s = AUDIT_SETUP
    data = worst_case_neighbours(s["n"], s["d"], s["d_v"], s["R"], s["R_w"], seed)
    common = {"eps": AUDIT_PROTOCOL["eps"], "degree": s["degree"], "R": s["R"],
              "R_w": s["R_w"], "n_runs": n_runs}
    outs = []
    for i, (K, V) in enumerate((data[:2], data[2:])):
        kw = {**common, "seed": seed + 1 + i}
        if name == "A":
            out = FlatDPAttention(K, V, delta=AUDIT_PROTOCOL["delta"], **kw).release()
        elif name == "B":
            out = BrokenFlatDPAttention(K, V, delta=AUDIT_PROTOCOL["delta"],
                                        **kw).release()
        else:
            counts, moments = DPTreeAttention(K, V, n_leaves=s["n_leaves"],
                                              **kw).release()
            out = np.concatenate([counts, moments], axis=1)
        outs.append(out.reshape(n_runs, -1))
    return outs[0], outs[1]


@functools.lru_cache(maxsize=2)
def _audits(point: bool) -> tuple[float, ...]:
    p = AUDIT_PROTOCOL
    out = []
    for name in MYSTERY:
        a, b = mystery_releases(name, p["n_runs"], p["seed"])
        res = audit_samples(a, b, claimed_eps=p["eps"], delta=p["delta"],
                            alpha=p["alpha"])
        out.append(res.eps_point if point else res.eps_lower)
    return tuple(out)


def _lower_bounds() -> np.ndarray:
    """The audit's lower bounds of A, B, C under :data:`AUDIT_PROTOCOL`."""
    return np.array(_audits(False))


def _point_estimates() -> np.ndarray:
    """Wrong: the point estimates (no confidence interval)."""
    return np.array([min(e, 50.0) for e in _audits(True)])


def _flags() -> np.ndarray:
    """1 where the lower bound exceeds the claimed eps."""
    return (_lower_bounds() > AUDIT_PROTOCOL["eps"]).astype(float)


def _flags_wrong() -> np.ndarray:
    """Flags every box whose point estimate is positive."""
    return (np.array(_audits(True)) > 0).astype(float)


register(Question(
    qid="dp_attention.q1",
    prompt="binary_mechanism(x, noise) -> noisy prefix sums from the canonical "
           "nodes of a binary tree.",
    kind="function", reference=binary_mechanism_ref, wrong=_binary_wrong,
    make_cases=_binary_cases, rtol=1e-9, atol=1e-9,
))
register(Question(
    qid="dp_attention.q2",
    prompt="l2 sensitivity of [sum phi(k) v^T | sum phi(k)] under replacement, "
           "degree 2, keys in [0, R]^d, values in [-R_w, R_w]^d_v.",
    kind="sympy", reference=_sensitivity, wrong=_sensitivity_wrong,
))
register(Question(
    qid="dp_attention.q3",
    prompt="The audit's 95% lower bounds on eps of boxes A, B, C.",
    kind="value", reference=_lower_bounds, wrong=_point_estimates,
    rtol=1e-6, atol=1e-9,
))
register(Question(
    qid="dp_attention.q4",
    prompt="Which boxes does the audit flag (1) as breaking their claim?",
    kind="value", reference=_flags, wrong=_flags_wrong, rtol=0.0, atol=0.0,
))
