"""Polynomial (truncated Taylor) features: ``exp(<q, k>) ~ <phi(q), phi(k)>``.

For a degree ``g`` the feature map lists every monomial of degree at most ``g``,
scaled so that inner products give the truncated exponential series exactly:

    phi_g(x) = ( x^beta / sqrt(beta!) )  over multi-indices |beta| <= g,
    <phi_g(x), phi_g(y)> = sum_{m <= g} <x, y>^m / m!,

so ``r = C(d + g, g)`` features, and the norm is known without forming phi
(the kernel trick): ``|phi_g(x)|^2 = sum_{m <= g} |x|^{2m} / m! <= exp(|x|^2)``.
On ``<x, y> in [0, b]`` the relative error of the truncated series is at most
``b^(g+1) / (g+1)!`` (Lagrange remainder).

The features are the paper's "polynomial kernel method" (parameters r, s, eps_s;
its s is our ``degree``), in the concrete Taylor form that Alman and Song's
construction specialises to.

Paper: arXiv 2407.14717, Sec. 2-3 and App. I (polynomial kernel approximation);
    Alman and Song, NeurIPS 2023.
Book: notebooks/dp_attention/lecture.md, "Polynomial features".
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from effteach.checks import check_float, check_int, typed
from effteach.dp_attention._checks import check_array

__all__ = [
    "multi_indices",
    "n_features",
    "taylor_features",
    "feature_norm_sq",
    "feature_sup_norm",
    "feature_max",
    "taylor_relative_error",
    "degree_for",
]


@functools.cache
def _multi_indices(d: int, degree: int) -> np.ndarray:
    rows = [
        beta
        for m in range(degree + 1)
        for beta in itertools.product(range(m + 1), repeat=d)
        if sum(beta) == m
    ]
    out = np.array(rows, dtype=np.int64).reshape(len(rows), d)
    out.setflags(write=False)
    return out


@typed
def multi_indices(d: int, degree: int) -> np.ndarray:
    """Multi-indices ``beta`` with ``|beta| <= degree``, degree 0 first; (r, d).

    Row 0 is ``beta = 0``, whose feature is the constant 1.
    """
    d = check_int("d", d, 1, 64)
    degree = check_int("degree", degree, 0, 64)
    if math.comb(d + degree, degree) > 200_000:
        raise ValueError(
            f"degree: r = C(d + degree, degree) = {math.comb(d + degree, degree)} "
            "features is too many for this teaching code (at most 200000)"
        )
    return _multi_indices(d, degree).copy()


@typed
def n_features(d: int, degree: int) -> int:
    """``r = C(d + degree, degree)``, the number of features."""
    d = check_int("d", d, 1)
    degree = check_int("degree", degree, 0)
    return math.comb(d + degree, degree)


@typed
def taylor_features(x: np.ndarray, degree: int) -> np.ndarray:
    """Feature map ``phi_g(x) = x^beta / sqrt(beta!)`` of every row of ``x``.

    Args:
        x: points, shape (n, d).
        degree: ``g``, the largest total degree.

    Returns:
        Features, shape (n, r) with ``r = C(d + g, g)``.

    Paper: arXiv 2407.14717, App. I (polynomial kernel); our Taylor instance.
    Book: notebooks/dp_attention/lecture.md, "Polynomial features".
    """
    x = check_array("x", x, ndim=2)
    betas = multi_indices(x.shape[1], degree)  # (r, d)
    fact = np.array([math.prod(math.factorial(b) for b in beta) for beta in betas])
    # (n, 1, d) ** (1, r, d) -> product over d: (n, r)
    mono = np.prod(x[:, None, :] ** betas[None, :, :], axis=-1)
    return mono / np.sqrt(fact)


@typed
def feature_norm_sq(sq_norm: float, degree: int) -> float:
    """``|phi_g(x)|^2 = sum_{m <= g} |x|^{2m} / m!`` from ``sq_norm = |x|^2``."""
    s = check_float("sq_norm", sq_norm, 0.0)
    degree = check_int("degree", degree, 0)
    return float(sum(s**m / math.factorial(m) for m in range(degree + 1)))


@typed
def feature_sup_norm(d: int, degree: int, R: float) -> float:
    """``sup |phi_g(k)|`` over keys ``k in [0, R]^d`` (attained at ``k = R 1``)."""
    d = check_int("d", d, 1)
    R = check_float("R", R, 0.0, low_open=True)
    return math.sqrt(feature_norm_sq(d * R * R, degree))


@typed
def feature_max(d: int, degree: int, R: float) -> np.ndarray:
    """Per-feature maximum over ``[0, R]^d``: ``R^|beta| / sqrt(beta!)``; (r,)."""
    R = check_float("R", R, 0.0, low_open=True)
    betas = multi_indices(d, degree)
    fact = np.array([math.prod(math.factorial(b) for b in beta) for beta in betas])
    return R ** betas.sum(axis=1).astype(np.float64) / np.sqrt(fact)


@typed
def taylor_relative_error(b: float, degree: int) -> float:
    """Bound ``b^(g+1) / (g+1)!`` on the relative error of the series on ``[0, b]``."""
    b = check_float("b", b, 0.0)
    degree = check_int("degree", degree, 0)
    return b ** (degree + 1) / math.factorial(degree + 1)


@typed
def degree_for(b: float, eps_s: float) -> int:
    """Smallest degree ``g`` whose relative error bound on ``[0, b]`` is <= eps_s."""
    b = check_float("b", b, 0.0)
    eps_s = check_float("eps_s", eps_s, 0.0, 1.0, low_open=True)
    g = 0
    while taylor_relative_error(b, g) > eps_s:
        g += 1
        if g > 1000:
            raise ValueError(f"b: no degree <= 1000 reaches eps_s={eps_s:g} at b={b:g}")
    return g
