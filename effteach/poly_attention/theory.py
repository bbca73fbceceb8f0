"""Error theory of the polynomial kernel: remainder, degree, normalisation.

The Taylor remainder, the degree for an error, and how a relative error on exp
survives the softmax normalisation.

* :func:`taylor_error_bound` (g, B): Lagrange remainder, relative to ``e^t``, on
  ``[-B, B]``: ``B^(g+1) e^B / (g+1)!`` (the ``e^B`` comes from ``t = -B``, where
  ``e^t`` is smallest).
* :func:`poly_rel_error` (g, B, method): the exact ``sup |P(t)/e^t - 1|`` on the
  interval, on a fine grid (the tight value the bound over-estimates).
* :func:`degree_for` (eps, B): the least degree whose Taylor bound is <= eps.
* :func:`output_error_bound` (eps): ``2 eps / (1 - eps)``: if every entry of
  ``A~`` is within a factor ``1 +- eps`` of ``A``, each softmax row is within
  ``2 eps/(1 - eps)`` relatively, so
  ``|out~ - out|_inf <= 2 eps/(1 - eps) |v|_inf``.
* :func:`paper_degree` (eps, R): Alman-Song's order
  ``max(log(1/eps) / log(log(1/eps) / R^2), R^2)`` for logits in ``[-R^2, R^2]``
  (constants dropped, as in the paper).

Paper: arXiv 2408.13233, Lemma C.13 / I.1 (from arXiv 2302.13214, Lemma 3.4;
    Aggarwal & Alman 2022 for the degree).
Book: notebooks/poly_attention/lecture.md, "Derivations", "Error against the
    logit bound".
"""

from __future__ import annotations

import math

import numpy as np

from effteach.checks import check_float, check_int
from effteach.poly_attention.features import exp_poly_coeffs

__all__ = [
    "taylor_error_bound",
    "poly_rel_error",
    "degree_for",
    "output_error_bound",
    "paper_degree",
]


def taylor_error_bound(degree: int, bound: float) -> float:
    """``B^(g+1) e^B / (g+1)!``: the Taylor polynomial's relative error on [-B, B].

    Book: notebooks/poly_attention/lecture.md, "Derivations".
    """
    g = check_int("degree", degree, 0, 170)
    b = check_float("bound", bound, 0.0)
    return b ** (g + 1) * math.exp(b) / math.factorial(g + 1)


def poly_rel_error(degree: int, bound: float, method: str = "taylor",
                   fit_bound: float | None = None, n_grid: int = 4001) -> float:
    """``max |P(t) e^-t - 1|`` over ``t`` in ``[-bound, bound]`` (a fine grid).

    Args:
        degree: g.
        bound: the interval's half-width B > 0 (where the logits are).
        method: ``"taylor"`` or ``"chebyshev"``.
        fit_bound: the interval the Chebyshev polynomial was fitted on (default
            ``bound``); a logit outside it is the failure the lecture measures.
        n_grid: grid points.

    Book: notebooks/poly_attention/lecture.md, "Error against the logit bound".
    """
    b = check_float("bound", bound, 0.0, low_open=True)
    fb = b if fit_bound is None else check_float("fit_bound", fit_bound, 0.0,
                                                 low_open=True)
    n = check_int("n_grid", n_grid, 3)
    c = exp_poly_coeffs(degree, method, fb)
    t = np.linspace(-b, b, n)
    p = np.polynomial.polynomial.polyval(t, c)
    return float(np.abs(p * np.exp(-t) - 1).max())


def degree_for(eps: float, bound: float) -> int:
    """Least g with ``taylor_error_bound(g, bound) <= eps``.

    Book: notebooks/poly_attention/lecture.md, "Derivations".
    """
    e = check_float("eps", eps, 0.0, 1.0, low_open=True)
    check_float("bound", bound, 0.0)
    for g in range(171):
        if taylor_error_bound(g, bound) <= e:
            return g
    raise ValueError(f"bound: no degree <= 170 reaches eps={e:g} at bound={bound:g}")


def output_error_bound(eps: float) -> float:
    """``2 eps / (1 - eps)``: relative softmax error from a relative error on exp.

    Returns ``inf`` for ``eps >= 1`` (the bound says nothing).

    Book: notebooks/poly_attention/lecture.md, "Derivations".
    """
    e = check_float("eps", eps, 0.0, finite=False)
    return math.inf if e >= 1 else 2 * e / (1 - e)


def paper_degree(eps: float, r_bound: float) -> float:
    """The paper's degree order ``max(log(1/eps)/log(log(1/eps)/R^2), R^2)``.

    Constants are dropped as in the statement, so this is a shape, not a count; the
    ``log`` in the denominator is floored at 1.

    Paper: arXiv 2408.13233, Lemma C.13 (g = O(max{log(1/eps)/log(log(1/eps)/R),
        R^2})); we write the interval width R^2 in both places.
    Book: notebooks/poly_attention/lecture.md, "Derivations".
    """
    e = check_float("eps", eps, 0.0, 1.0, low_open=True)
    r = check_float("r_bound", r_bound, 0.0, low_open=True)
    lg = math.log(1 / e)
    return max(lg / max(1.0, math.log(lg / r**2)), r**2)
