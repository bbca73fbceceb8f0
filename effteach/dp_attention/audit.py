"""An empirical privacy audit: a distinguishing test that lower-bounds epsilon.

If a mechanism ``M`` is ``(eps, delta)``-DP, every test ``S`` of its output obeys
``P[M(D) in S] <= e^eps P[M(D') in S] + delta`` for neighbours ``D, D'``. Run the
mechanism many times on each, pick a test ``S`` (here: "a score is at least a
threshold"), and estimate its true-positive rate ``TPR = P[M(D) in S]`` and
false-positive rate ``FPR = P[M(D') in S]``; then

    eps >= log((TPR - delta) / FPR).

With Clopper-Pearson intervals (``scipy.stats.binomtest``), a lower bound on TPR and
an upper bound on FPR give a lower bound on ``eps`` that holds with probability at
least ``1 - alpha``. The samples are split in two: the first half chooses the score
direction and the threshold, the second half measures the rates (a test chosen on
the data it is measured on would be optimistic).

An audit only ever gives a **lower** bound: a correct mechanism must stay at or
below its claimed ``eps``; a bound above it proves a bug. A bug the chosen test does
not look for passes unseen (the lecture shows one, and an attack that finds it).

Paper: none (the paper has no experiments). Modelled on DP-Auditorium's
    hypothesis tests and on Jagielski et al. (2020) and Nasr et al. (2021).
Book: notebooks/dp_attention/lecture.md, "Auditing".
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats

from effteach.checks import check_float, check_int, typed
from effteach.dp_attention._checks import check_array, check_bound, check_privacy
from effteach.dp_attention.features import taylor_features

__all__ = [
    "AuditResult",
    "clopper_pearson",
    "epsilon_lower_bound",
    "audit_samples",
    "worst_case_neighbours",
    "normaliser_attack",
]


@typed
def clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact two-sided ``1 - alpha`` interval of a binomial proportion ``k / n``."""
    n = check_int("n", n, 1)
    k = check_int("k", k, 0, n)
    alpha = check_float("alpha", alpha, 0.0, 1.0, low_open=True)
    ci = stats.binomtest(k, n).proportion_ci(1 - alpha, method="exact")
    return float(ci.low), float(ci.high)


@typed
@dataclasses.dataclass(frozen=True)
class AuditResult:
    """One audit: the bound, the test it came from, and what was claimed.

    Attributes:
        eps_lower: lower confidence bound on ``eps`` (``1 - alpha``), at least 0.
        eps_point: the same formula at the measured rates (no interval).
        claimed_eps: the mechanism's claimed ``eps``.
        delta: the claimed ``delta``.
        tpr: measured rate on ``D`` of the chosen test.
        fpr: measured rate on ``D'`` of the chosen test.
        threshold: the chosen threshold of the score.
        n_test: runs per dataset that measured the rates.
        alpha: confidence parameter.
    """

    eps_lower: float
    eps_point: float
    claimed_eps: float
    delta: float
    tpr: float
    fpr: float
    threshold: float
    n_test: int
    alpha: float

    @property
    def flagged(self) -> bool:
        """True when the audit proves the claim false: ``eps_lower > claimed_eps``."""
        return self.eps_lower > self.claimed_eps


def _eps(tpr: float, fpr: float, delta: float) -> float:
    if tpr - delta <= 0:
        return 0.0
    if fpr <= 0:
        return math.inf
    return max(0.0, math.log((tpr - delta) / fpr))


def _rates(a: np.ndarray, b: np.ndarray, t: float) -> tuple[int, int]:
    return int((a >= t).sum()), int((b >= t).sum())


@typed
def epsilon_lower_bound(
    scores_d: np.ndarray,
    scores_d_prime: np.ndarray,
    *,
    claimed_eps: float,
    delta: float,
    alpha: float = 0.05,
) -> AuditResult:
    """Lower-bound ``eps`` from scores of a test statistic on ``D`` and ``D'``.

    The first half of each sample picks the threshold (and which dataset is the
    "positive" one) that maximises the bound there; the second half measures
    ``TPR`` and ``FPR`` at it, with one-sided Clopper-Pearson bounds at
    ``alpha / 2`` each (so the pair holds with probability ``>= 1 - alpha``).

    Args:
        scores_d: scores of runs on ``D``, shape (runs,), at least 20 runs.
        scores_d_prime: scores of runs on ``D'``, same shape.
        claimed_eps: the mechanism's claimed ``eps``.
        delta: the mechanism's claimed ``delta``.
        alpha: confidence parameter.

    Returns:
        An :class:`AuditResult`.
    """
    a = check_array("scores_d", scores_d, ndim=1)
    b = check_array("scores_d_prime", scores_d_prime, shape=a.shape,
                    shape_of="scores_d")
    claimed_eps, delta = check_privacy(claimed_eps, delta, eps_name="claimed_eps")
    alpha = check_float("alpha", alpha, 0.0, 0.5, low_open=True)
    if a.size < 20:
        raise ValueError(f"scores_d: expected at least 20 runs, got {a.size}")
    half = a.size // 2
    best = (-1.0, 0.0, 1.0)  # (bound on the first half, threshold, sign)
    for sign in (1.0, -1.0):  # is D or D' the positive dataset?
        pa, pb = sign * a[:half], sign * b[:half]
        pool = np.unique(np.quantile(np.concatenate([pa, pb]),
                                     np.linspace(0.5, 0.9995, 200)))
        for t in pool:
            k_a, k_b = _rates(pa, pb, t)
            if k_a == 0:
                continue
            lo = stats.beta.ppf(alpha / 2, k_a, half - k_a + 1)
            hi = 1.0 if k_b == half else stats.beta.ppf(1 - alpha / 2, k_b + 1,
                                                         half - k_b)
            bound = _eps(lo, hi, delta)
            if bound > best[0]:
                best = (bound, float(t), sign)
    _, t, sign = best
    pa, pb = sign * a[half:], sign * b[half:]
    n_test = pa.size
    k_a, k_b = _rates(pa, pb, t)
    tpr_lo = stats.beta.ppf(alpha / 2, k_a, n_test - k_a + 1) if k_a else 0.0
    fpr_hi = 1.0 if k_b == n_test else float(
        stats.beta.ppf(1 - alpha / 2, k_b + 1, n_test - k_b))
    return AuditResult(
        eps_lower=_eps(float(tpr_lo), fpr_hi, delta),
        eps_point=_eps(k_a / n_test, k_b / n_test, delta),
        claimed_eps=claimed_eps, delta=delta, tpr=k_a / n_test, fpr=k_b / n_test,
        threshold=sign * t, n_test=n_test, alpha=alpha,
    )


@typed
def audit_samples(
    out_d: np.ndarray,
    out_d_prime: np.ndarray,
    *,
    claimed_eps: float,
    delta: float,
    alpha: float = 0.05,
) -> AuditResult:
    """Audit raw outputs: score = projection on the mean difference, then the test.

    A black-box auditor that knows the two datasets but not the noise: it estimates
    the direction in which the outputs move (the mean difference of the first
    halves) and projects every output on it (the optimal test for Gaussian noise),
    then calls :func:`epsilon_lower_bound`.

    Args:
        out_d: outputs on ``D``, shape (runs, ...) (any release, flattened).
        out_d_prime: outputs on ``D'``, same shape.
        claimed_eps: the mechanism's claimed ``eps``.
        delta: the mechanism's claimed ``delta``.
        alpha: confidence parameter.
    """
    if not isinstance(out_d, np.ndarray) or out_d.ndim < 1:
        raise TypeError("out_d: expected a numpy array of shape (runs, ...)")
    if out_d.size == 0:
        raise ValueError(f"out_d: expected a non-empty array, got {out_d.shape}")
    check_privacy(claimed_eps, delta, eps_name="claimed_eps")
    a = check_array("out_d", out_d.reshape(len(out_d), -1), ndim=2)
    if not isinstance(out_d_prime, np.ndarray) or out_d_prime.shape != out_d.shape:
        raise ValueError(f"out_d_prime: expected an array of shape {out_d.shape}")
    b = check_array("out_d_prime", out_d_prime.reshape(len(out_d), -1), ndim=2)
    half = len(a) // 2
    direction = a[:half].mean(axis=0) - b[:half].mean(axis=0)
    var = a[:half].var(axis=0) + b[:half].var(axis=0)
    var = np.maximum(var, 1e-24 * var.max() + 1e-300)  # a constant coordinate
    direction = direction / var  # weight each coordinate by its precision
    return epsilon_lower_bound(a @ direction, b @ direction, claimed_eps=claimed_eps,
                               delta=delta, alpha=alpha)


@typed
def worst_case_neighbours(
    n: int, d: int, d_v: int, R: float, R_w: float, seed: int = 0,
    change: str = "value",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Neighbours ``(K, V), (K', V')`` that differ in row 0, as far as allowed.

    Rows 1.. are uniform in the box. ``change="value"``: row 0 has the key of
    largest feature norm, ``k = R 1``, with ``v = -R_w`` in ``D`` and ``+R_w`` in
    ``D'`` (the largest change of ``[M | s]``: ``2 R_w sqrt(d_v) sup|phi|``).
    ``change="key"``: row 0 is ``(0, -R_w)`` in ``D`` and ``(R 1, +R_w)`` in ``D'``,
    which also moves the normaliser ``s = sum phi(k_i)``.

    Returns:
        ``K, V, K2, V2``, shapes (n, d), (n, d_v), (n, d), (n, d_v).
    """
    n, d, d_v = check_int("n", n, 2), check_int("d", d, 1), check_int("d_v", d_v, 1)
    R, R_w = check_bound("R", R), check_bound("R_w", R_w)
    if change not in ("value", "key"):
        raise ValueError(f"change: expected 'value' or 'key', got {change!r}")
    rng = np.random.default_rng(check_int("seed", seed, 0))
    K = rng.uniform(0, R, (n, d))
    V = rng.uniform(-R_w, R_w, (n, d_v))
    K[0], V[0] = (R if change == "value" else 0.0), -R_w
    K2, V2 = K.copy(), V.copy()
    K2[0], V2[0] = R, R_w
    return K, V, K2, V2


@typed
def normaliser_attack(
    answers: np.ndarray, Q: np.ndarray, degree: int, n: int
) -> np.ndarray:
    """Recover ``s = sum_i phi(k_i)`` from answers divided by an exact normaliser.

    If ``a(q) = phi(q)^T m / phi(q)^T s`` with a fixed (noisy) ``m`` and the
    **exact** ``s``, every answer is a linear equation
    ``phi(q)^T m - a(q) phi(q)^T s = 0`` in the ``2r`` unknowns; ``s_0 = n``
    (the constant feature) fixes the scale, so ``2r - 1`` generic queries
    determine ``s`` exactly: an un-noised statistic of the private keys.

    Args:
        answers: answers of one value column, shape (runs, m) with ``m >= 2r - 1``.
        Q: the public queries, shape (m, d).
        degree: the features' degree.
        n: the public number of rows.

    Returns:
        The recovered ``s`` of each run, shape (runs, r).
    """
    Q = check_array("Q", Q, ndim=2)
    fq = taylor_features(Q, degree)  # (m, r)
    m_q, r = fq.shape
    A = check_array("answers", answers, shape=(None, m_q), shape_of="Q's rows")
    n = check_int("n", n, 1)
    if m_q < 2 * r - 1:
        raise ValueError(f"Q: expected at least 2r - 1 = {2 * r - 1} queries, "
                         f"got {m_q}")
    out = np.empty((len(A), r))
    for i, a in enumerate(A):
        # unknowns [m (r), s_1..s_{r-1}]; s_0 = n moves to the right-hand side
        lhs = np.concatenate([fq, -a[:, None] * fq[:, 1:]], axis=1)
        sol, *_ = np.linalg.lstsq(lhs, a * n * fq[:, 0], rcond=None)
        out[i, 0], out[i, 1:] = n, sol[r:]
    return out
