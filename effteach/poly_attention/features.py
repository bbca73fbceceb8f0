"""Polynomial feature maps whose inner products approximate exp(scale * <q, k>).

Two constructions, one interface (``phi_q, phi_k = feature_pair(q, k, ...)``, then
``phi_q @ phi_k.T`` approximates ``exp(scale * q @ k.T)`` entry-wise):

* **Taylor, symmetric monomials** (``method="taylor"``): the degree-g Taylor
  polynomial of ``exp``. Since ``(q.k)^j = sum_{|a| = j} (j!/a!) q^a k^a`` over
  multi-indices ``a``, the map ``phi(x)_a = sqrt(scale^|a| / a!) x^a`` for every
  ``|a| <= g`` gives ``phi(q).phi(k) = sum_{j<=g} (scale q.k)^j / j!`` with rank
  ``binom(d + g, g)`` (hockey stick), the same map on both sides.
* **The paper's construction** (``method="chebyshev"``): Alman & Song's polynomial
  method, as Paper B's Lemma C.13 / I.1 uses it. A polynomial ``P`` of degree g that
  approximates ``exp`` on the whole interval ``[-bound, bound]`` the logits live in
  (here: interpolation at Chebyshev nodes, near-minimax), written as
  ``P(t) = sum_j c_j t^j``; each power is an inner product of tensor powers. The
  coefficients can be negative, so they all go on the query side (an asymmetric
  split). With ``symmetric=False`` the features are the full tensor powers
  ``q^{(x)j}`` (rank ``sum_j d^j``), as the proof writes them; with the default
  ``symmetric=True`` they are compressed to monomials (rank ``binom(d + g, g)``).

Invariants: every map is row-local (row i of the features depends on row i of the
input only), costs O(n r) for n rows and rank r, and never touches another row, so
nothing n x n is formed. Errors: wrong types raise TypeError, bad values ValueError,
both naming the argument.

Paper: Liang, Sha, Shi, Song, Zhou, arXiv 2408.13233, Lemma C.13 / I.1 (after
    Alman & Song, NeurIPS 2023, arXiv 2302.13214).
Book: notebooks/poly_attention/lecture.md, "The method".
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import torch

from effteach.checks import check_float, check_int, check_tensor

__all__ = [
    "METHODS",
    "monomial_exponents",
    "feature_rank",
    "tensor_rank",
    "paper_rank_bound",
    "exp_poly_coeffs",
    "poly_features",
    "feature_pair",
]

#: the polynomial constructions: Taylor at 0, Chebyshev interpolation on an interval
METHODS = ("taylor", "chebyshev")


def _check_method(method) -> str:
    if not isinstance(method, str):
        raise TypeError(f"method: expected one of {METHODS}, got {method!r}")
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    return method


@functools.lru_cache(maxsize=64)
def _index_tuples(d: int, j: int) -> tuple[tuple[int, ...], ...]:
    return tuple(itertools.combinations_with_replacement(range(d), j))


def monomial_exponents(d_head: int, degree: int) -> list[tuple[int, ...]]:
    """The multi-indices ``a`` with ``|a| <= degree`` in the order features use.

    Args:
        d_head: number of variables d >= 1.
        degree: largest total degree g >= 0.

    Returns:
        A list of exponent tuples of length ``d_head``, degree 0 first.

    Paper: arXiv 2408.13233, Lemma C.13 (rank of the polynomial method).
    Book: notebooks/poly_attention/lecture.md, "Derivations".
    """
    d = check_int("d_head", d_head, 1)
    g = check_int("degree", degree, 0)
    out = []
    for j in range(g + 1):
        for idx in _index_tuples(d, j):
            a = [0] * d
            for i in idx:
                a[i] += 1
            out.append(tuple(a))
    return out


def feature_rank(d_head: int, degree: int) -> int:
    """Rank of the symmetric-monomial map: ``binom(d + g, g)``.

    Book: notebooks/poly_attention/lecture.md, "Derivations".
    """
    d = check_int("d_head", d_head, 1)
    g = check_int("degree", degree, 0)
    return math.comb(d + g, g)


def tensor_rank(d_head: int, degree: int) -> int:
    """Rank of the full tensor-power map: ``sum_{j <= g} d^j``.

    Book: notebooks/poly_attention/lecture.md, "Derivations".
    """
    d = check_int("d_head", d_head, 1)
    g = check_int("degree", degree, 0)
    return sum(d**j for j in range(g + 1))


def paper_rank_bound(d_head: int, degree: int) -> int:
    """The rank bound stated by Alman-Song / Paper B: ``binom(2 (g + d), 2 g)``.

    Paper: arXiv 2408.13233, Lemma C.13 (from arXiv 2302.13214, Lemma 3.4).
    Book: notebooks/poly_attention/lecture.md, "Derivations".
    """
    d = check_int("d_head", d_head, 1)
    g = check_int("degree", degree, 0)
    return math.comb(2 * (g + d), 2 * g)


@functools.lru_cache(maxsize=256)
def _coeffs(degree: int, method: str, bound: float) -> tuple[float, ...]:
    if method == "taylor":
        return tuple(1.0 / math.factorial(j) for j in range(degree + 1))
    cheb = np.polynomial.chebyshev.Chebyshev.interpolate(
        np.exp, degree, domain=[-bound, bound]
    )
    power = cheb.convert(kind=np.polynomial.Polynomial, domain=[-1, 1], window=[-1, 1])
    c = np.zeros(degree + 1)
    c[: len(power.coef)] = power.coef
    return tuple(float(x) for x in c)


def exp_poly_coeffs(degree: int, method: str = "taylor", bound: float = 1.0
                    ) -> np.ndarray:
    """Power-basis coefficients ``c_0..c_g`` of the polynomial approximating ``exp``.

    Args:
        degree: g >= 0.
        method: ``"taylor"`` (``c_j = 1/j!``, ``bound`` unused) or ``"chebyshev"``
            (interpolation of ``exp`` at the g + 1 Chebyshev nodes of
            ``[-bound, bound]``).
        bound: half-width of the interval of logits, > 0.

    Returns:
        float64 array of length ``degree + 1``.

    Paper: arXiv 2408.13233, Lemma C.13 step "polynomial P with |P - e^t| <= eps e^t"
        (Aggarwal & Alman 2022 give the optimal degree).
    Book: notebooks/poly_attention/lecture.md, "Derivations".
    """
    g = check_int("degree", degree, 0, 40)
    method = _check_method(method)
    b = check_float("bound", bound, 0.0, low_open=True)
    return np.array(_coeffs(g, method, b))


def _monomials(x: torch.Tensor, j: int) -> torch.Tensor:
    """All degree-j monomials of the last axis: (..., d) -> (..., binom(d+j-1, j))."""
    d = x.shape[-1]
    if j == 0:
        return torch.ones(*x.shape[:-1], 1, dtype=x.dtype, device=x.device)
    idx = _index_tensor(d, j, x.device)  # (r_j, j)
    out = x[..., idx[:, 0]]
    for t in range(1, j):
        out = out * x[..., idx[:, t]]
    return out


@functools.lru_cache(maxsize=64)
def _index_tensor(d: int, j: int, device: torch.device) -> torch.Tensor:
    """The degree-j index tuples as a tensor on ``device``, made once."""
    return torch.tensor(_index_tuples(d, j), device=device)


@functools.lru_cache(maxsize=256)
def _block_weight(d: int, j: int, weight: float, side: str, symmetric: bool,
                  dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Per-feature weights of the degree-j block, cached on ``device``."""
    mult = _multinomial(d, j) if symmetric else torch.ones(d**j, dtype=torch.float64)
    w = weight * mult  # weight of <q^a, k^a> in P(s q.k)
    if side == "both":
        w = w.sqrt()
    elif side == "k":
        w = torch.ones_like(w)
    return w.to(dtype=dtype, device=device)


def _multinomial(d: int, j: int) -> torch.Tensor:
    """``j! / a!`` for the degree-j multi-indices, float64, shape (r_j,)."""
    vals = []
    for idx in _index_tuples(d, j):
        counts = [idx.count(i) for i in set(idx)]
        vals.append(math.factorial(j) / math.prod(math.factorial(c) for c in counts))
    return torch.tensor(vals, dtype=torch.float64)


def _tensor_power(x: torch.Tensor, j: int) -> torch.Tensor:
    """Flattened j-th tensor power of the last axis: (..., d) -> (..., d^j)."""
    out = torch.ones(*x.shape[:-1], 1, dtype=x.dtype, device=x.device)
    for _ in range(j):
        out = (out.unsqueeze(-1) * x.unsqueeze(-2)).flatten(-2)
    return out


def poly_features(x: torch.Tensor, degree: int, scale: float, side: str = "both",
                  method: str = "taylor", bound: float = 1.0,
                  symmetric: bool = True) -> torch.Tensor:
    """Features of one side; see :func:`feature_pair` for the matching pair.

    Args:
        x: queries or keys, shape (..., n_ctx, d_head), floating.
        degree: polynomial degree g.
        scale: logit scale s (the logits are ``s <q, k>``), > 0.
        side: ``"both"`` (Taylor's symmetric split, ``sqrt(c_j j!/a!) x^a``),
            ``"q"`` (carries the coefficients ``c_j s^j j!/a!``) or ``"k"`` (plain
            monomials ``x^a``).
        method: see :func:`exp_poly_coeffs`.
        bound: interval half-width of the ``"chebyshev"`` polynomial.
        symmetric: monomials (rank binom(d+g, g)) or full tensor powers
            (rank sum d^j).

    Returns:
        Tensor of shape (..., n_ctx, r).

    Raises:
        ValueError: ``side="both"`` with negative coefficients (Chebyshev).

    Paper: arXiv 2408.13233, Lemma C.13 / I.1.
    Book: notebooks/poly_attention/lecture.md, "The method".
    """
    check_tensor("x", x, min_ndim=2, kind="float")
    g = check_int("degree", degree, 0, 40)
    s = check_float("scale", scale, 0.0, low_open=True)
    if side not in ("both", "q", "k"):
        raise ValueError(f"side: expected 'both', 'q' or 'k', got {side!r}")
    if not isinstance(symmetric, bool):
        raise TypeError(f"symmetric: expected a bool, got {symmetric!r}")
    c = exp_poly_coeffs(g, method, bound)
    if side == "both" and (c < 0).any():
        raise ValueError("side: 'both' needs non-negative coefficients; use the "
                         "asymmetric pair ('q', 'k') for method='chebyshev'")
    d = x.shape[-1]
    blocks = []
    for j in range(g + 1):
        mono = _monomials(x, j) if symmetric else _tensor_power(x, j)
        w = _block_weight(d, j, float(c[j] * s**j), side, symmetric, x.dtype,
                          x.device)
        blocks.append(mono * w)
    return torch.cat(blocks, dim=-1)


def feature_pair(q: torch.Tensor, k: torch.Tensor, degree: int,
                 scale: float | None = None, method: str = "taylor",
                 bound: float = 1.0, symmetric: bool = True
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature maps ``(phi_q, phi_k)`` with ``phi_q @ phi_k^T ~ exp(scale q k^T)``.

    Args:
        q: queries, shape (..., n_ctx, d_head).
        k: keys, shape (..., n_kv, d_head).
        degree: polynomial degree g.
        scale: logit scale; default ``1 / sqrt(d_head)`` (the paper writes 1/d).
        method: ``"taylor"`` (same map on both sides) or ``"chebyshev"`` (the
            paper's interval polynomial, coefficients on the query side).
        bound: the interval ``[-bound, bound]`` the logits are assumed to lie in
            (Chebyshev only).
        symmetric: compress tensor powers to monomials.

    Returns:
        ``(phi_q, phi_k)`` of shapes (..., n_ctx, r) and (..., n_kv, r).

    Paper: arXiv 2408.13233, Lemma C.13 (U, V with |UV^T - A| <= eps A).
    Book: notebooks/poly_attention/lecture.md, "The method".
    """
    check_tensor("q", q, min_ndim=2, kind="float")
    check_tensor("k", k, min_ndim=2, kind="float")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"k: expected d_head {q.shape[-1]} like q, got shape "
                         f"{tuple(k.shape)}")
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    method = _check_method(method)
    if method == "taylor":
        return (poly_features(q, degree, s, "both", method, bound, symmetric),
                poly_features(k, degree, s, "both", method, bound, symmetric))
    return (poly_features(q, degree, s, "q", method, bound, symmetric),
            poly_features(k, degree, s, "k", method, bound, symmetric))
