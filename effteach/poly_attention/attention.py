"""Polynomial attention ``D^-1 (M o U V^T) v`` in O(n r d), forward and backward.

With ``U = phi_q(q)`` and ``V = phi_k(k)`` of rank r (:mod:`.features`), the
approximate attention matrix ``A~ = U V^T`` is never formed:

* non-causal: ``out = U (V^T v) / U (V^T 1)``, two r x d products;
* causal (mask M lower-triangular): prefix sums ``c_j = c_{j-1} + V_j^T v_j`` and
  ``y_i = U_i c_i`` (Paper B, Lemma I.3 / Algorithm 2, after Conv-basis). We take
  them by chunks of ``chunk`` rows: one running r x e state between chunks and a
  ``chunk x chunk`` masked block inside one. Memory is O(n r e / chunk + n r).

**Backward, the paper's route** (:class:`PolyAttentionFunction`). With
``f~ = D^-1 (M o U V^T)`` the approximate softmax, ``G = dL/dout`` and
``Delta = rowsum(G o out)``, the gradient of the logits ``S = s q k^T`` is
``p = f~ o (G v^T) - diag(Delta) f~`` (Paper B, Definition C.12). Both terms are
low rank: by the row-wise Kronecker product (Fact C.2,
``(U1 V1^T) o (U2 V2^T) = (U1 (/) U2)(V1 (/) V2)^T``)
``p = M o [ (F (/) G)(V (/) v)^T - (Delta F) V^T ]`` with ``F = D^-1 U``, rank
``r d + r``. Then ``dq = s p k``, ``dk = s p^T q`` and ``dv = f~^T G`` are
products of tall factors, computed with the same (reversed) prefix sums. This is
the paper's gradient of the *exact* model with f replaced by f~; it needs no
derivative of the feature map, and costs O(n r d^2).

``backward="features"`` instead lets autograd differentiate the approximate
forward (the exact gradient of the *approximate* model, O(n r d)): the route
linear-attention kernels take. Both are compared in the lecture.

Shapes: ``q, k, v`` are ``(batch, n_heads, n_ctx, d_head)`` (any leading dims);
multi-head is batching over the head axis (Paper B, Lemma K.2).

Paper: arXiv 2408.13233, Sections 5 and B.3, Lemmas C.13, I.3-I.8.
Book: notebooks/poly_attention/lecture.md, "The method", "Backward without n x n".
"""

from __future__ import annotations

import math

import torch

from effteach.checks import check_float, check_int, check_tensor
from effteach.poly_attention.features import METHODS, feature_pair

__all__ = [
    "BACKWARDS",
    "lowrank_apply",
    "poly_attention",
    "PolyAttentionFunction",
]

#: how the gradient is taken: the paper's low-rank dS route, or autograd of the
#: approximate forward
BACKWARDS = ("paper", "features")


def lowrank_apply(u: torch.Tensor, v: torch.Tensor, x: torch.Tensor,
                  causal: bool = True, transpose: bool = False,
                  chunk: int = 64) -> torch.Tensor:
    """``(M o u v^T) x`` (or its transpose) without forming the n x n matrix.

    Args:
        u: left factor, shape (..., n_ctx, r).
        v: right factor, shape (..., n_ctx, r).
        x: right-hand side, shape (..., n_ctx, e).
        causal: apply the lower-triangular mask M (``j <= i``); else no mask.
        transpose: compute ``(M o u v^T)^T x`` instead (a reversed prefix sum).
        chunk: rows per chunk of the causal scan (the largest block formed is
            ``chunk x chunk``).

    Returns:
        Tensor of shape (..., n_ctx, e).

    Paper: arXiv 2408.13233, Lemma I.3 / I.4 (prefix sums), Algorithm 2.
    Book: notebooks/poly_attention/lecture.md, "Causal attention by prefix sums".
    """
    check_tensor("u", u, min_ndim=2, kind="float")
    check_tensor("v", v, shape=u.shape, kind="float", shape_of="u")
    check_tensor("x", x, min_ndim=2, kind="float")
    if x.shape[:-1] != u.shape[:-1]:
        raise ValueError(f"x: expected leading shape {tuple(u.shape[:-1])} like u, "
                         f"got {tuple(x.shape)}")
    if not isinstance(causal, bool):
        raise TypeError(f"causal: expected a bool, got {causal!r}")
    if not isinstance(transpose, bool):
        raise TypeError(f"transpose: expected a bool, got {transpose!r}")
    c = check_int("chunk", chunk, 1)
    if transpose:
        u, v = v, u
    if not causal:
        return u @ (v.transpose(-1, -2) @ x)
    if transpose:  # (M o v u^T)^T = reversed-order causal product
        u, v, x = u.flip(-2), v.flip(-2), x.flip(-2)
    out = _causal_scan(u, v, x, c)
    return out.flip(-2) if transpose else out


def _causal_scan(u, v, x, c):
    n = u.shape[-2]
    pad = (-n) % c
    if pad:
        u = torch.nn.functional.pad(u, (0, 0, 0, pad))
        v = torch.nn.functional.pad(v, (0, 0, 0, pad))
        x = torch.nn.functional.pad(x, (0, 0, 0, pad))
    lead = u.shape[:-2]
    nc = (n + pad) // c
    uc = u.reshape(*lead, nc, c, u.shape[-1])  # (..., nc, c, r)
    vc = v.reshape(*lead, nc, c, v.shape[-1])
    xc = x.reshape(*lead, nc, c, x.shape[-1])  # (..., nc, c, e)
    acc = torch.promote_types(u.dtype, torch.float32)  # bf16/fp16 sum in fp32
    state = (vc.transpose(-1, -2) @ xc).to(acc)  # per chunk V_t^T x_t: (.., nc, r, e)
    # exclusive prefix sum over chunks, accumulated in float32 at least
    state = (state.cumsum(dim=-3) - state).to(u.dtype)
    inter = uc @ state  # (..., nc, c, e)
    mask = torch.ones(c, c, dtype=torch.bool, device=u.device).tril()
    block = (uc @ vc.transpose(-1, -2)).masked_fill(~mask, 0.0)  # (..., nc, c, c)
    out = (inter + block @ xc).reshape(*lead, nc * c, x.shape[-1])
    return out[..., :n, :]


def _row_kron(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Kronecker (face-splitting) product, (..., n, r e)."""
    return (a.unsqueeze(-1) * b.unsqueeze(-2)).flatten(-2)


class PolyAttentionFunction(torch.autograd.Function):
    """Polynomial attention with the paper's low-rank backward (no n x n tensor).

    ``forward(ctx, q, k, v, degree, scale, causal, method, bound, chunk)``.

    Paper: arXiv 2408.13233, Lemmas 5.1-5.3, C.12-C.16, I.6-I.8.
    Book: notebooks/poly_attention/lecture.md, "Backward without n x n".
    """

    @staticmethod
    def forward(ctx, q, k, v, degree, scale, causal, method, bound, chunk):
        """Forward; saves the factors F = D^-1 U, V and the output."""
        uq, vk = feature_pair(q, k, degree, scale, method, bound)
        ones = torch.ones(*v.shape[:-1], 1, dtype=v.dtype, device=v.device)
        z = lowrank_apply(uq, vk, ones, causal, chunk=chunk)  # row sums (..., n, 1)
        out = lowrank_apply(uq, vk, v, causal, chunk=chunk) / z
        f_u = uq / z  # f~ = F V^T (masked)
        ctx.save_for_backward(q, k, v, f_u, vk, out)
        ctx.cfg = (scale, causal, chunk)
        return out

    @staticmethod
    def backward(ctx, grad_out):
        """dq, dk, dv from the factors of dS = f~ o (G v^T) - diag(Delta) f~."""
        q, k, v, f_u, vk, out = ctx.saved_tensors
        scale, causal, chunk = ctx.cfg
        g = grad_out
        dv = lowrank_apply(f_u, vk, g, causal, transpose=True, chunk=chunk)
        delta = (g * out).sum(-1, keepdim=True)  # (..., n, 1)
        # p = M o (U_p V_p^T), U_p = [F (/) G, -Delta F], V_p = [V (/) v, V]
        u_p = torch.cat([_row_kron(f_u, g), -delta * f_u], dim=-1)
        v_p = torch.cat([_row_kron(vk, v), vk], dim=-1)
        dq = scale * lowrank_apply(u_p, v_p, k, causal, chunk=chunk)
        dk = scale * lowrank_apply(u_p, v_p, q, causal, transpose=True, chunk=chunk)
        return dq, dk, dv, None, None, None, None, None, None


def poly_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                   degree: int = 4, scale: float | None = None,
                   causal: bool = False, method: str = "taylor",
                   bound: float = 1.0, backward: str = "paper",
                   chunk: int = 64) -> torch.Tensor:
    """Softmax attention with ``exp`` replaced by a degree-g polynomial kernel.

    Args:
        q: queries, shape (batch, n_heads, n_ctx, d_head) (any leading dims).
        k: keys, the shape of ``q``.
        v: values, the shape of ``q``.
        degree: polynomial degree g (rank ``binom(d_head + g, g)``); an even degree
            keeps the Taylor kernel positive for every logit.
        scale: logit scale s; default ``1/sqrt(d_head)``.
        causal: lower-triangular mask, by chunked prefix sums.
        method: ``"taylor"`` or ``"chebyshev"`` (the paper's construction).
        bound: the logit interval of ``"chebyshev"``.
        backward: ``"paper"`` (low-rank dS, :class:`PolyAttentionFunction`) or
            ``"features"`` (autograd through the approximate forward).
        chunk: rows per chunk of the causal scan.

    Returns:
        The attention output, shape of ``v``.

    Paper: arXiv 2408.13233, Theorem 4.1 (single layer), Section 6 (causal mask,
        multi-head).
    Book: notebooks/poly_attention/lecture.md, "The method".
    """
    check_tensor("q", q, min_ndim=2, kind="float")
    check_tensor("k", k, shape=q.shape, kind="float", shape_of="q")
    check_tensor("v", v, shape=q.shape, kind="float", shape_of="q")
    degree = check_int("degree", degree, 0, 40)
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else check_float(
        "scale", scale, 0.0, low_open=True)
    if not isinstance(causal, bool):
        raise TypeError(f"causal: expected a bool, got {causal!r}")
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    bound = check_float("bound", bound, 0.0, low_open=True)
    if backward not in BACKWARDS:
        raise ValueError(f"backward: expected one of {BACKWARDS}, got {backward!r}")
    chunk = check_int("chunk", chunk, 1)
    if backward == "paper":
        return PolyAttentionFunction.apply(q, k, v, degree, s, causal, method, bound,
                                           chunk)
    uq, vk = feature_pair(q, k, degree, s, method, bound)
    ones = torch.ones(*v.shape[:-1], 1, dtype=v.dtype, device=v.device)
    z = lowrank_apply(uq, vk, ones, causal, chunk=chunk)
    return lowrank_apply(uq, vk, v, causal, chunk=chunk) / z
