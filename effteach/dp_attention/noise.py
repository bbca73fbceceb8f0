"""Noise that is sound on a computer, its calibration, and composition.

**Why not ``x + np.random.laplace(b)``.** The textbook Laplace mechanism adds a
floating-point sample to a floating-point value. Mironov (CCS 2012) showed that the
set of doubles such a sampler can return is sparse and irregular (it comes from
``b * log(u)`` of a 53-bit uniform ``u``), and that after rounding ``x + noise`` the
*low bits* of the output reveal which ``x`` it came from: some outputs are possible
for one input and impossible for its neighbour, so the guarantee is lost entirely,
whatever ``eps`` says. The fix used here is the one of Canonne, Kamath and Steinke
(NeurIPS 2020) and of OpenDP: make the released statistic an **integer** on a public
grid of step ``gamma`` (each record's contribution is rounded to the grid before it
is summed) and add **integer** noise from the discrete Laplace or discrete Gaussian.
Every output is then ``gamma * (integer)``, the same support for every input, and
the privacy of the integer mechanisms is exact:

* discrete Laplace ``P(z) ~ exp(-|z| / t)``: ``Delta_1 / t``-DP for integer queries
  of l1 sensitivity ``Delta_1``;
* discrete Gaussian ``P(z) ~ exp(-z^2 / (2 sigma^2))``: ``Delta_2^2 / (2 sigma^2)``-
  zCDP for integer queries of l2 sensitivity ``Delta_2`` (CKS Thm 14), converted to
  ``(eps, delta)`` with ``eps = rho + 2 sqrt(rho log(1/delta))`` (Bun-Steinke).

Documented conversion: rounding each record to the grid can move its contribution by
half a grid step per coordinate, so the integer sensitivities below add that
(``|round(c / gamma)| <= |c| / gamma + sqrt(m) / 2``). The samplers use NumPy's
generator for uniform and geometric draws and evaluate the acceptance probability of
the discrete Gaussian in float64; the outputs are exact integers, and the float
error touches only the probabilities (relative 1e-16), not the support. A production
system should use OpenDP's exact samplers (arbitrary-precision arithmetic); they are
about 1000 times slower than these vectorised ones (37 us a sample), too slow for
the audits of this chapter, which draw millions.

Paper: arXiv 2407.14717 uses Laplace noise in its trees (App. D-F); the discrete
    samplers and accounting here are ours (Canonne-Kamath-Steinke 2020; Bun and
    Steinke 2016; Dwork, Rothblum and Vadhan 2010 for advanced composition).
Book: notebooks/dp_attention/lecture.md, "Sound noise" and "Accounting".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import optimize, stats

from effteach.checks import check_float, check_int, check_sequence, typed
from effteach.dp_attention._checks import check_privacy

__all__ = [
    "discrete_laplace",
    "discrete_gaussian",
    "discrete_laplace_var",
    "laplace_scale",
    "zcdp_rho",
    "zcdp_to_dp",
    "gaussian_sigma",
    "compose_basic",
    "compose_advanced",
    "compose_zcdp",
    "gaussian_delta",
    "gaussian_epsilon",
]


def _shape(size) -> tuple[int, ...]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (size,)
    items = check_sequence("size", size)
    return tuple(check_int(f"size[{i}]", s, 1) for i, s in enumerate(items))


@typed
def discrete_laplace(
    t: float, size: int | Sequence[int], rng: np.random.Generator
) -> np.ndarray:
    """Integers ``z`` with ``P(z) ~ exp(-|z| / t)`` (the difference of two geometrics).

    Args:
        t: the scale (> 0); ``Delta_1 / eps`` for an ``eps``-DP integer query.
        size: output shape.
        rng: the NumPy generator (seeded by the caller).

    Returns:
        An int64 array of the given shape.
    """
    t = check_float("t", t, 0.0, low_open=True)
    shape = _shape(size)
    q = -math.expm1(-1.0 / t)  # success probability 1 - exp(-1/t)
    # numpy's geometric counts trials (>= 1): minus 1 gives P(G = k) = (1-q)^k q
    g1 = rng.geometric(q, size=shape) - 1
    g2 = rng.geometric(q, size=shape) - 1
    return (g1 - g2).astype(np.int64)


@typed
def discrete_gaussian(
    sigma: float, size: int | Sequence[int], rng: np.random.Generator
) -> np.ndarray:
    """Integers ``z`` with ``P(z) ~ exp(-z^2 / (2 sigma^2))`` (CKS Algorithm 3).

    Rejection from the discrete Laplace of scale ``t = floor(sigma) + 1``: accept
    ``y`` with probability ``exp(-(|y| - sigma^2 / t)^2 / (2 sigma^2))``,
    vectorised over the output, until every entry is accepted.

    Args:
        sigma: the scale (> 0); the variance is at most ``sigma^2``.
        size: output shape.
        rng: the NumPy generator.

    Returns:
        An int64 array of the given shape.
    """
    sigma = check_float("sigma", sigma, 0.0, low_open=True)
    shape = _shape(size)
    t = math.floor(sigma) + 1.0
    out = np.empty(math.prod(shape), dtype=np.int64)
    todo = np.arange(out.size)
    while todo.size:
        y = discrete_laplace(t, todo.size, rng)
        accept = rng.random(todo.size) < np.exp(
            -((np.abs(y) - sigma**2 / t) ** 2) / (2 * sigma**2)
        )
        out[todo[accept]] = y[accept]
        todo = todo[~accept]
    return out.reshape(shape)


@typed
def discrete_laplace_var(t: float) -> float:
    """Variance of the discrete Laplace: ``2 e^{-1/t} / (1 - e^{-1/t})^2`` (~ 2 t^2)."""
    t = check_float("t", t, 0.0, low_open=True)
    p = math.exp(-1.0 / t)
    return 2 * p / (1 - p) ** 2


@typed
def laplace_scale(l1_sensitivity: float, eps: float) -> float:
    """``Delta_1 / eps``: the Laplace scale of an ``eps``-DP release."""
    s = check_float("l1_sensitivity", l1_sensitivity, 0.0, low_open=True)
    eps, _ = check_privacy(eps, 0.0)
    return s / eps


@typed
def zcdp_rho(eps: float, delta: float) -> float:
    """Largest ``rho`` whose zCDP implies ``(eps, delta)``-DP (Bun-Steinke Prop 1.3).

    Solves ``eps = rho + 2 sqrt(rho L)`` with ``L = log(1/delta)``:
    ``rho = (sqrt(eps + L) - sqrt(L))^2``.
    """
    eps, delta = check_privacy(eps, delta, need_delta=True)
    L = math.log(1.0 / delta)
    return (math.sqrt(eps + L) - math.sqrt(L)) ** 2


@typed
def zcdp_to_dp(rho: float, delta: float) -> float:
    """``eps = rho + 2 sqrt(rho log(1/delta))``: zCDP to ``(eps, delta)``-DP."""
    rho = check_float("rho", rho, 0.0, low_open=True)
    _, delta = check_privacy(1.0, delta, need_delta=True)
    return rho + 2 * math.sqrt(rho * math.log(1.0 / delta))


@typed
def gaussian_sigma(l2_sensitivity: float, eps: float, delta: float) -> float:
    """``sigma = Delta_2 / sqrt(2 rho(eps, delta))`` for the (discrete) Gaussian."""
    s = check_float("l2_sensitivity", l2_sensitivity, 0.0, low_open=True)
    return s / math.sqrt(2 * zcdp_rho(eps, delta))


@typed
def compose_basic(
    eps: Sequence[float], delta: Sequence[float] | None = None
) -> tuple[float, float]:
    """Basic composition: ``(sum eps_i, sum delta_i)``."""
    e = [check_float(f"eps[{i}]", x, 0.0, low_open=True)
         for i, x in enumerate(check_sequence("eps", eps))]
    if delta is None:
        return float(sum(e)), 0.0
    d = [check_float(f"delta[{i}]", x, 0.0, 1.0)
         for i, x in enumerate(check_sequence("delta", delta, length=len(e)))]
    return float(sum(e)), float(sum(d))


@typed
def compose_advanced(
    eps: float, delta: float, k: int, delta_prime: float
) -> tuple[float, float]:
    """Advanced composition of ``k`` ``(eps, delta)`` mechanisms (DRV 2010).

    Returns:
        ``(eps sqrt(2k log(1/delta')) + k eps (e^eps - 1), k delta + delta')``.
    """
    eps, delta = check_privacy(eps, delta)
    k = check_int("k", k, 1)
    _, delta_prime = check_privacy(1.0, delta_prime, need_delta=True,
                                   delta_name="delta_prime")
    total = eps * math.sqrt(2 * k * math.log(1 / delta_prime)) + k * eps * math.expm1(
        eps
    )
    return total, k * delta + delta_prime


@typed
def compose_zcdp(rho: Sequence[float]) -> float:
    """ZCDP composes additively: ``sum rho_i``."""
    return float(sum(check_float(f"rho[{i}]", x, 0.0, low_open=True)
                     for i, x in enumerate(check_sequence("rho", rho))))


@typed
def gaussian_delta(eps: float, mu: float) -> float:
    """Tight ``delta(eps)`` of a Gaussian mechanism with ``mu = Delta_2 / sigma``.

    ``Phi(-eps/mu + mu/2) - e^eps Phi(-eps/mu - mu/2)`` (Balle and Wang 2018): the
    privacy profile of the continuous Gaussian, the reference curve for audits.
    """
    eps = check_float("eps", eps, 0.0)
    mu = check_float("mu", mu, 0.0, low_open=True)
    return float(stats.norm.cdf(-eps / mu + mu / 2)
                 - math.exp(eps) * stats.norm.cdf(-eps / mu - mu / 2))


@typed
def gaussian_epsilon(delta: float, mu: float) -> float:
    """Smallest ``eps`` with ``gaussian_delta(eps, mu) <= delta`` (root finding)."""
    _, delta = check_privacy(1.0, delta, need_delta=True)
    mu = check_float("mu", mu, 0.0, low_open=True)
    if gaussian_delta(0.0, mu) <= delta:
        return 0.0
    hi = 1.0
    while gaussian_delta(hi, mu) > delta:
        hi *= 2
    return float(optimize.brentq(lambda e: gaussian_delta(e, mu) - delta, 0.0, hi,
                                 xtol=1e-12))
