"""Plain numpy references for one attention head, in float64.

Every schedule of the simulator is checked against these. One head, no batch: the
pebble game counts the words of a single ``(n_ctx, d_head)`` problem, and heads are
independent.

Conventions (as in ``book/glossary.md``)::

    S = scale * Q Kᵀ  (masked entries -inf),  P = softmax(S) row-wise,  O = P V
    lse = log rowsum(exp(S))          (what FlashAttention stores for the backward)
    dV = Pᵀ dO,  dP = dO Vᵀ,  Δ = rowsum(dO ⊙ O),  dS = P ⊙ (dP - Δ)
    dQ = scale * dS K,  dK = scale * dSᵀ Q

The mask is a boolean ``(n_ctx, n_ctx)`` array of *allowed* entries (True = the
query may attend to the key); ``causal=True`` intersects it with ``j <= i``. Every
row needs at least one allowed key.

Paper: Vaswani et al. 2017, eq. (1); Dao 2023 (FlashAttention-2), Algorithm 2.
Book: notebooks/pebble_io/lecture.md, "The question".
"""

from __future__ import annotations

import math

import numpy as np

from effteach.checks import check_float

__all__ = [
    "attention_ref",
    "attention_lse_ref",
    "attention_bwd_ref",
    "probabilities_ref",
    "allowed_mask",
    "check_qkv",
]


def _check_matrix(name: str, x, shape: tuple[int, int] | None = None) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor: look at it through numpy
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{name}: expected a numpy array of shape (n_ctx, d_head), got "
            f"{type(x).__name__}"
        )
    if x.dtype not in (np.float64, np.float32):
        raise TypeError(f"{name}: expected dtype float64 (or float32), got {x.dtype}")
    if x.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D array (n_ctx, d_head) for one head, got shape "
            f"{x.shape}"
        )
    if shape is not None and x.shape != shape:
        raise ValueError(f"{name}: expected shape {shape} (that of q), got {x.shape}")
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{name}: expected positive sizes, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: expected finite values")
    return np.ascontiguousarray(x, dtype=np.float64)


def check_qkv(q, k, v, do=None):
    """Validate one head's ``q, k, v`` (and ``do``); return them as float64 arrays.

    Args:
        q: queries, shape (n_ctx, d_head), float64 or float32.
        k: keys, the same shape.
        v: values, the same shape.
        do: output gradient, the same shape, or None.

    Returns:
        ``(q, k, v)`` or ``(q, k, v, do)``, contiguous float64 copies or views.

    Raises:
        TypeError: naming the argument, for a non-array or a non-float dtype.
        ValueError: naming the argument, for a wrong number of dimensions, an empty
            or mismatched shape, or non-finite values.

    Paper: none; input validation.
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    q = _check_matrix("q", q)
    k = _check_matrix("k", k, q.shape)
    v = _check_matrix("v", v, q.shape)
    if do is None:
        return q, k, v
    return q, k, v, _check_matrix("do", do, q.shape)


def allowed_mask(n_ctx: int, causal: bool = False, mask=None) -> np.ndarray | None:
    """The boolean ``(n_ctx, n_ctx)`` array of allowed scores, or None when dense.

    Args:
        n_ctx: sequence length.
        causal: also forbid keys after the query (``j > i``).
        mask: boolean array of allowed entries, shape (n_ctx, n_ctx), or None.

    Returns:
        None if every entry is allowed, else the combined mask.

    Raises:
        TypeError, ValueError: naming ``mask`` for a wrong dtype or shape, or a row
            with no allowed key.

    Paper: block-sparse and causal attention, FlashAttention (Dao et al. 2022),
        Sec. 3.3 [C].
    Book: notebooks/pebble_io/lecture.md, "Causal and block-sparse".
    """
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal: expected a bool, got {type(causal).__name__}")
    out = None
    if mask is not None:
        if hasattr(mask, "detach"):
            mask = mask.detach().cpu().numpy()
        mask = np.asarray(mask)
        if mask.dtype != np.bool_:
            raise TypeError(f"mask: expected a boolean array, got dtype {mask.dtype}")
        if mask.shape != (n_ctx, n_ctx):
            raise ValueError(
                f"mask: expected shape (n_ctx, n_ctx) = {(n_ctx, n_ctx)}, got "
                f"{mask.shape}"
            )
        out = mask.copy()
    if causal:
        tril = np.tri(n_ctx, dtype=bool)
        out = tril if out is None else out & tril
    if out is not None:
        empty = np.flatnonzero(~out.any(axis=1))
        if empty.size:
            raise ValueError(
                f"mask: every query row needs at least one allowed key; row "
                f"{int(empty[0])} has none"
            )
    return out


def _scale(d_head: int, scale: float | None) -> float:
    """The score scale: ``1/sqrt(d_head)`` for None, else a finite non-zero float."""
    if scale is None:
        return 1.0 / math.sqrt(d_head)
    scale = check_float("scale", scale)
    if scale == 0:
        raise ValueError("scale: expected a finite non-zero float, got 0")
    return scale


def _check_qkv_do(q, k, v, do):
    """:func:`check_qkv` for a backward: ``do`` is required."""
    if do is None:
        raise TypeError("do: expected an array of shape (n_ctx, d_head), got None")
    return check_qkv(q, k, v, do)


def _scores(q, k, causal, mask, scale) -> np.ndarray:
    s = (q @ k.T) * _scale(q.shape[1], scale)  # (n_ctx, n_ctx)
    allowed = allowed_mask(q.shape[0], causal, mask)
    if allowed is not None:
        s = np.where(allowed, s, -np.inf)
    return s


def probabilities_ref(q, k, causal=False, mask=None, scale=None) -> np.ndarray:
    """Attention probabilities ``P = softmax(scale * Q Kᵀ)``, shape (n_ctx, n_ctx).

    Paper: Vaswani et al. 2017, eq. (1).
    Book: notebooks/pebble_io/lecture.md, "The question".
    """
    q, k, _ = check_qkv(q, k, k)
    s = _scores(q, k, causal, mask, scale)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def attention_ref(q, k, v, causal=False, mask=None, scale=None) -> np.ndarray:
    """Softmax attention of one head, ``O = softmax(scale * Q Kᵀ) V``.

    Args:
        q: queries, shape (n_ctx, d_head).
        k: keys, shape (n_ctx, d_head).
        v: values, shape (n_ctx, d_head).
        causal: forbid keys after the query.
        mask: boolean (n_ctx, n_ctx) array of allowed entries, or None.
        scale: score scale; ``1 / sqrt(d_head)`` if None.

    Returns:
        ``o``, shape (n_ctx, d_head), float64.

    Paper: Vaswani et al. 2017, eq. (1).
    Book: notebooks/pebble_io/lecture.md, "The question".
    """
    q, k, v = check_qkv(q, k, v)
    return probabilities_ref(q, k, causal, mask, scale) @ v


def attention_lse_ref(q, k, causal=False, mask=None, scale=None) -> np.ndarray:
    """Row-wise log-sum-exp of the scores, shape (n_ctx,): FlashAttention's ``L``.

    Paper: Dao 2023 (FlashAttention-2), Algorithm 1, "L_i = m_i + log(l_i)".
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    q, k, _ = check_qkv(q, k, k)
    s = _scores(q, k, causal, mask, scale)
    m = s.max(axis=1)
    return m + np.log(np.exp(s - m[:, None]).sum(axis=1))


def attention_bwd_ref(q, k, v, do, causal=False, mask=None, scale=None):
    """Gradients ``(dq, dk, dv)`` of one head by the textbook formulas.

    Args:
        q: queries, shape (n_ctx, d_head).
        k: keys, the same shape.
        v: values, the same shape.
        do: gradient of the loss with respect to ``o``, the same shape.
        causal: forbid keys after the query.
        mask: boolean (n_ctx, n_ctx) array of allowed entries, or None.
        scale: score scale; ``1 / sqrt(d_head)`` if None.

    Returns:
        ``(dq, dk, dv)``, each (n_ctx, d_head), float64.

    Paper: Dao 2023 (FlashAttention-2), Algorithm 2 (with Δ = rowsum(dO ⊙ O)).
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    q, k, v, do = _check_qkv_do(q, k, v, do)
    sc = _scale(q.shape[1], scale)
    p = probabilities_ref(q, k, causal, mask, scale)
    o = p @ v
    dv = p.T @ do
    dp = do @ v.T
    delta = (do * o).sum(axis=1, keepdims=True)  # Δ, (n_ctx, 1)
    ds = p * (dp - delta)
    return sc * ds @ k, sc * ds.T @ q, dv
