"""Causal polynomial-feature attention in Triton, forward and backward, by chunks.

What you will learn:

* with features ``U = phi(q)``, ``W = phi(k)`` (rank r) and ``V' = [v | 1]``, causal
  polynomial attention is ``Y = (M o U W^T) V'``: numerator and row sums in one
  product (the last column of ``Y`` is the normaliser);
* the chunked scan splits it in two parts that are both parallel over chunks:
  a state per chunk ``S_t = W_t^T V'_t`` (r x e), summed over the chunks before
  (an exclusive prefix sum, float32), and inside a chunk a ``C x C`` masked block
  that never leaves the chip: ``Y_t = U_t S_{<t} + (M o U_t W_t^T) V'_t``;
* the backward is the same pattern: a reversed prefix sum of ``dS_t = U_t^T dY_t``
  and one kernel per chunk for ``dU``, ``dW`` and ``dV'``, with the ``C x C``
  blocks ``M o dY V'^T`` and ``M^T o W U^T`` formed on chip;
* the rank is looped in tiles of ``BLOCK_R`` columns, so any r fits;
* the degree-2 feature map is a kernel too: each row's outer product ``x x^T`` is
  formed in registers and only the ``i <= j`` half is stored (a masked scatter),
  and its backward is ``(G + G^T) x``; a gather in torch would spend its backward
  in atomic adds.

Work per token is O(C r + r e) instead of O(n d): the time grows linearly in n.
The grid is (chunks, batch x heads), so short sequences still fill the GPU.

Credit: the chunked form of causal linear attention follows Katharopoulos et al.
(2020) and the chunkwise formulation of Yang et al. (2024, "Gated linear attention
transformers with hardware-efficient training"), written here from scratch.
Paper: arXiv 2408.13233, Lemma I.3 / Algorithm 2 (prefix sums), Section 6.
Book: notebooks/poly_attention/lecture.md, "A Triton kernel".
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from effteach.checks import check_int, check_tensor
from effteach.device import INTERPRETER, check_kernel_dtype
from effteach.device import as_on_a_gpu as _as_on_a_gpu

__all__ = ["chunk_causal_attention", "poly_attention_triton", "taylor2_features",
           "taylor2_rank"]


@triton.jit
def _load_rhs(v_ptr, o_ptr, den_ptr, bh, n_ctx, offs_c, offs_e,
              DV: tl.constexpr, GRAD: tl.constexpr):
    """A chunk of the right-hand side, float32, ``BLOCK_E >= DV + 1`` columns.

    ``GRAD=False``: ``V' = [v | 1]`` (the ones column gives the normaliser).
    ``GRAD=True``: ``dY`` of the unnormalised product from ``dO`` (at ``v_ptr``),
    the output ``o`` and the normaliser: ``[dO / den | -rowsum(dO o) / den]``.
    """
    row_ok = offs_c < n_ctx
    off = bh * n_ctx * DV + offs_c[:, None] * DV + offs_e[None, :]
    mask = row_ok[:, None] & (offs_e[None, :] < DV)
    x = tl.load(v_ptr + off, mask=mask, other=0.0).to(tl.float32)
    last = (offs_e[None, :] == DV) & row_ok[:, None]
    if GRAD:
        o = tl.load(o_ptr + off, mask=mask, other=0.0).to(tl.float32)
        den = tl.load(den_ptr + bh * n_ctx + offs_c, mask=row_ok, other=1.0)
        delta = tl.sum(x * o, axis=1)
        x = tl.where(last, -delta[:, None], x) / den[:, None]
    else:
        x = tl.where(last, 1.0, x)
    return x


@triton.jit
def _chunk_state_kernel(
    a_ptr, v_ptr, o_ptr, den_ptr, s_ptr,  # a: (bh, n, R) -> s: (bh, n_chunks, R, E)
    n_ctx, R, E, n_chunks,
    DV: tl.constexpr, GRAD: tl.constexpr,
    CHUNK: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_E: tl.constexpr,
):
    """``s[t] = a_t^T b_t`` for chunk t (``b`` from :func:`_load_rhs`), in parallel."""
    t = tl.program_id(0)
    bh = tl.program_id(1).to(tl.int64)
    rb = tl.program_id(2)
    offs_c = t * CHUNK + tl.arange(0, CHUNK)
    offs_r = rb * BLOCK_R + tl.arange(0, BLOCK_R)
    offs_e = tl.arange(0, BLOCK_E)
    row_ok = offs_c < n_ctx
    a = tl.load(a_ptr + bh * n_ctx * R + offs_c[:, None] * R + offs_r[None, :],
                mask=row_ok[:, None] & (offs_r[None, :] < R), other=0.0)
    b = _load_rhs(v_ptr, o_ptr, den_ptr, bh, n_ctx, offs_c, offs_e, DV, GRAD)
    s = tl.dot(tl.trans(a), b.to(a.dtype))  # (BLOCK_R, BLOCK_E), f32 accumulator
    base = (bh * n_chunks + t) * R * E
    tl.store(s_ptr + base + offs_r[:, None] * E + offs_e[None, :], s,
             mask=(offs_r[:, None] < R) & (offs_e[None, :] < E))


@triton.jit
def _chunk_fwd_kernel(
    u_ptr, w_ptr, v_ptr, s_ptr, o_ptr, den_ptr,  # s: exclusive prefix states
    n_ctx, R, E, n_chunks,
    DV: tl.constexpr,
    CHUNK: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_E: tl.constexpr,
):
    """``Y_t = U_t S_{<t} + (M o U_t W_t^T) V'_t``, then ``o = Y[:, :d] / Y[:, d]``."""
    t = tl.program_id(0)
    bh = tl.program_id(1).to(tl.int64)
    offs_c = t * CHUNK + tl.arange(0, CHUNK)
    offs_e = tl.arange(0, BLOCK_E)
    row_ok = offs_c < n_ctx
    e_ok = offs_e < E
    s_base = (bh * n_chunks + t) * R * E
    acc_y = tl.zeros((CHUNK, BLOCK_E), tl.float32)
    acc_a = tl.zeros((CHUNK, CHUNK), tl.float32)
    for r0 in range(0, R, BLOCK_R):
        offs_r = r0 + tl.arange(0, BLOCK_R)
        r_ok = offs_r < R
        uw_off = bh * n_ctx * R + offs_c[:, None] * R + offs_r[None, :]
        u = tl.load(u_ptr + uw_off, mask=row_ok[:, None] & r_ok[None, :], other=0.0)
        w = tl.load(w_ptr + uw_off, mask=row_ok[:, None] & r_ok[None, :], other=0.0)
        s = tl.load(s_ptr + s_base + offs_r[:, None] * E + offs_e[None, :],
                    mask=r_ok[:, None] & e_ok[None, :], other=0.0)
        acc_y += tl.dot(u.to(tl.float32), s)  # inter-chunk: the state stays f32
        acc_a += tl.dot(u, tl.trans(w))  # the C x C block, on chip only
    causal = tl.arange(0, CHUNK)[:, None] >= tl.arange(0, CHUNK)[None, :]
    acc_a = tl.where(causal, acc_a, 0.0)
    v = _load_rhs(v_ptr, v_ptr, v_ptr, bh, n_ctx, offs_c, offs_e, DV, False)
    acc_y += tl.dot(acc_a.to(u_ptr.dtype.element_ty), v.to(u_ptr.dtype.element_ty))
    den = tl.sum(tl.where(offs_e[None, :] == DV, acc_y, 0.0), axis=1)
    tl.store(den_ptr + bh * n_ctx + offs_c, den, mask=row_ok)
    tl.store(o_ptr + bh * n_ctx * DV + offs_c[:, None] * DV + offs_e[None, :],
             (acc_y / den[:, None]).to(o_ptr.dtype.element_ty),
             mask=row_ok[:, None] & (offs_e[None, :] < DV))


@triton.jit
def _chunk_bwd_kernel(
    u_ptr, w_ptr, v_ptr, do_ptr, o_ptr, den_ptr, s_ptr, ds_ptr,  # S_{<t}, dS_{>t}
    du_ptr, dw_ptr, dv_ptr,
    n_ctx, R, E, n_chunks,
    DV: tl.constexpr,
    CHUNK: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_E: tl.constexpr,
):
    """dU, dW, dv of one chunk from the two prefix states and two on-chip blocks.

    With ``dY`` the gradient of the unnormalised product (:func:`_load_rhs`):
    ``dU_t = dY_t S_{<t}^T + (M o dY_t V'_t^T) W_t``,
    ``dW_t = V'_t dS_{>t}^T + (M o dY_t V'_t^T)^T U_t``,
    ``dV'_t = W_t dS_{>t} + (M^T o W_t U_t^T) dY_t`` (its first d columns are dv).
    """
    t = tl.program_id(0)
    bh = tl.program_id(1).to(tl.int64)
    offs_c = t * CHUNK + tl.arange(0, CHUNK)
    offs_e = tl.arange(0, BLOCK_E)
    row_ok = offs_c < n_ctx
    e_ok = offs_e < E
    dt = u_ptr.dtype.element_ty
    v32 = _load_rhs(v_ptr, v_ptr, v_ptr, bh, n_ctx, offs_c, offs_e, DV, False)
    dy32 = _load_rhs(do_ptr, o_ptr, den_ptr, bh, n_ctx, offs_c, offs_e, DV, True)
    v = v32.to(dt)
    dy = dy32.to(dt)
    ci = tl.arange(0, CHUNK)
    a1 = tl.dot(dy, tl.trans(v))  # (i, j): dY_i . V'_j
    a1 = tl.where(ci[:, None] >= ci[None, :], a1, 0.0).to(dt)
    s_base = (bh * n_chunks + t) * R * E
    acc_dv = tl.zeros((CHUNK, BLOCK_E), tl.float32)
    acc_b = tl.zeros((CHUNK, CHUNK), tl.float32)
    for r0 in range(0, R, BLOCK_R):
        offs_r = r0 + tl.arange(0, BLOCK_R)
        r_ok = offs_r < R
        uw_off = bh * n_ctx * R + offs_c[:, None] * R + offs_r[None, :]
        uw_mask = row_ok[:, None] & r_ok[None, :]
        u = tl.load(u_ptr + uw_off, mask=uw_mask, other=0.0)
        w = tl.load(w_ptr + uw_off, mask=uw_mask, other=0.0)
        st_off = s_base + offs_r[:, None] * E + offs_e[None, :]
        st_mask = r_ok[:, None] & e_ok[None, :]
        s = tl.load(s_ptr + st_off, mask=st_mask, other=0.0)
        ds = tl.load(ds_ptr + st_off, mask=st_mask, other=0.0)
        du = tl.dot(dy32, tl.trans(s)) + tl.dot(a1, w)
        dw = tl.dot(v32, tl.trans(ds)) + tl.dot(tl.trans(a1), u)
        tl.store(du_ptr + uw_off, du.to(du_ptr.dtype.element_ty), mask=uw_mask)
        tl.store(dw_ptr + uw_off, dw.to(dw_ptr.dtype.element_ty), mask=uw_mask)
        acc_dv += tl.dot(w.to(tl.float32), ds)
        acc_b += tl.dot(w, tl.trans(u))  # (j, i): W_j . U_i
    acc_b = tl.where(ci[:, None] <= ci[None, :], acc_b, 0.0)
    acc_dv += tl.dot(acc_b.to(dt), dy)
    tl.store(dv_ptr + bh * n_ctx * DV + offs_c[:, None] * DV + offs_e[None, :],
             acc_dv.to(dv_ptr.dtype.element_ty),
             mask=row_ok[:, None] & (offs_e[None, :] < DV))


@triton.jit
def _taylor2_fwd_kernel(
    x_ptr, f_ptr,  # x: (rows, D); f: (rows, RP), RP >= 1 + D + D (D + 1) / 2
    n_rows, sqrt_s, s_half, s_full,
    D: tl.constexpr, RP: tl.constexpr, BLOCK_N: tl.constexpr,
):
    """Degree-2 Taylor features of BLOCK_N rows: ``[1, sqrt(s) x, w_ij x_i x_j]``.

    The pairs ``i <= j`` are written in ``combinations_with_replacement`` order,
    column ``1 + D + i D - i (i - 1) / 2 + (j - i)``, with ``w_ii = s / sqrt 2`` and
    ``w_ij = s`` (``sqrt(s^2 / 2 * 2!/a!)``); columns past the rank are zero.
    """
    pid = tl.program_id(0)
    rows = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    ok = rows < n_rows
    dd = tl.arange(0, D)
    x = tl.load(x_ptr + rows[:, None].to(tl.int64) * D + dd[None, :], mask=ok[:, None],
                other=0.0).to(tl.float32)
    base = f_ptr + rows.to(tl.int64) * RP
    tl.store(base, tl.full((BLOCK_N,), 1.0, tl.float32).to(f_ptr.dtype.element_ty),
             mask=ok)
    tl.store(base[:, None] + 1 + dd[None, :],
             (sqrt_s * x).to(f_ptr.dtype.element_ty), mask=ok[:, None])
    ii = dd[:, None]
    jj = dd[None, :]
    col = 1 + D + ii * D - (ii * (ii - 1)) // 2 + (jj - ii)  # (D, D)
    w = tl.where(ii == jj, s_half, s_full)
    prod = x[:, :, None] * x[:, None, :] * w[None, :, :]  # (BLOCK_N, D, D)
    tl.store(base[:, None, None] + col[None, :, :],
             prod.to(f_ptr.dtype.element_ty),
             mask=ok[:, None, None] & (ii <= jj)[None, :, :])
    rank = 1 + D + (D * (D + 1)) // 2
    pad = rank + tl.arange(0, 16)
    tl.store(base[:, None] + pad[None, :],
             tl.zeros((BLOCK_N, 16), tl.float32).to(f_ptr.dtype.element_ty),
             mask=ok[:, None] & (pad[None, :] < RP))


@triton.jit
def _taylor2_bwd_kernel(
    x_ptr, df_ptr, dx_ptr, n_rows, sqrt_s, s_half, s_full,
    D: tl.constexpr, RP: tl.constexpr, BLOCK_N: tl.constexpr,
):
    """``dx = sqrt(s) df_1 + (G + G^T) x`` with ``G_ij = w_ij df_ij`` on ``i <= j``."""
    pid = tl.program_id(0)
    rows = pid * BLOCK_N + tl.arange(0, BLOCK_N)
    ok = rows < n_rows
    dd = tl.arange(0, D)
    x = tl.load(x_ptr + rows[:, None].to(tl.int64) * D + dd[None, :], mask=ok[:, None],
                other=0.0).to(tl.float32)
    base = df_ptr + rows.to(tl.int64) * RP
    dx = sqrt_s * tl.load(base[:, None] + 1 + dd[None, :], mask=ok[:, None],
                          other=0.0).to(tl.float32)
    ii = dd[:, None]
    jj = dd[None, :]
    col = 1 + D + ii * D - (ii * (ii - 1)) // 2 + (jj - ii)
    w = tl.where(ii == jj, s_half, s_full)
    g = tl.load(base[:, None, None] + col[None, :, :],
                mask=ok[:, None, None] & (ii <= jj)[None, :, :],
                other=0.0).to(tl.float32) * w[None, :, :]
    dx += tl.sum(g * x[:, None, :], axis=2) + tl.sum(g * x[:, :, None], axis=1)
    tl.store(dx_ptr + rows[:, None].to(tl.int64) * D + dd[None, :],
             dx.to(dx_ptr.dtype.element_ty), mask=ok[:, None])


def taylor2_rank(d: int) -> int:
    """Rank of the degree-2 Taylor features, ``binom(d + 2, 2)``."""
    d = check_int("d", d, 1)
    return 1 + d + d * (d + 1) // 2


def _padded_rank(d: int) -> int:
    return -(-(1 + d + d * (d + 1) // 2) // 16) * 16  # zero-padded to 16 columns


class _Taylor2Features(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        d = x.shape[-1]
        rows = x.numel() // d
        rp = _padded_rank(d)
        x2 = x.reshape(rows, d)
        f = torch.empty(*x.shape[:-1], rp, dtype=x.dtype, device=x.device)
        bn = 16 if INTERPRETER else 32
        consts = (math.sqrt(scale), scale / math.sqrt(2.0), scale)
        with _as_on_a_gpu():
            _taylor2_fwd_kernel[(triton.cdiv(rows, bn),)](
                x2, f, rows, *consts, D=d, RP=rp, BLOCK_N=bn)
        ctx.save_for_backward(x)
        ctx.consts = consts
        return f

    @staticmethod
    def backward(ctx, df):
        (x,) = ctx.saved_tensors
        d = x.shape[-1]
        rows = x.numel() // d
        dx = torch.empty_like(x)
        bn = 16 if INTERPRETER else 32
        with _as_on_a_gpu():
            _taylor2_bwd_kernel[(triton.cdiv(rows, bn),)](
                x, df.contiguous(), dx, rows, *ctx.consts, D=d, RP=_padded_rank(d),
                BLOCK_N=bn)
        return dx, None


def taylor2_features(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Degree-2 Taylor features of the last axis in one kernel, differentiable.

    The same map as ``poly_features(x, 2, scale)`` of
    :mod:`effteach.poly_attention.features` (symmetric monomials, same column
    order), zero-padded to a multiple of 16 columns so rows stay aligned.

    Args:
        x: ``(..., d)`` with d in {16, 32}; fp32/fp16 (bf16 on a GPU).
        scale: the logit scale s > 0.

    Returns:
        ``(..., 16 * ceil(binom(d + 2, 2) / 16))``, dtype of ``x``.
    """
    check_tensor("x", x, min_ndim=1, kind="float")
    check_kernel_dtype("x", x)
    _check_device("x", x)
    if x.shape[-1] not in (16, 32):
        raise ValueError(f"x: expected a last axis of 16 or 32, got {x.shape[-1]}")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not (
            math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale: expected a finite float > 0, got {scale!r}")
    return _Taylor2Features.apply(x.contiguous(), float(scale))


def _config(r: int, e: int):
    """(CHUNK, BLOCK_R, BLOCK_E, num_warps, num_stages): one pinned configuration.

    Chosen on the H200 among chunks 32-128, rank tiles 32-64, 4-8 warps, 2-3
    stages (bf16, d = 16, r = 160): within 5% of each other except chunk 32.
    """
    block_e = max(16, triton.next_power_of_2(e))
    if INTERPRETER:
        return 16, 16, block_e, 1, 1
    return 64, 32, block_e, 4, 2


def _attn_fwd(u, w, v):
    """Normalised causal product: ``o`` (dtype of v), ``den`` and prefix states."""
    bh, n, r = u.shape
    dv = v.shape[-1]
    e = dv + 1
    chunk, block_r, block_e, warps, stages = _config(r, e)
    n_chunks = triton.cdiv(n, chunk)
    s = torch.empty(bh, n_chunks, r, e, device=u.device, dtype=torch.float32)
    o = torch.empty_like(v)
    den = torch.empty(bh, n, device=u.device, dtype=torch.float32)
    with _as_on_a_gpu():
        _chunk_state_kernel[(n_chunks, bh, triton.cdiv(r, block_r))](
            w, v, v, v, s, n, r, e, n_chunks, DV=dv, GRAD=False, CHUNK=chunk,
            BLOCK_R=block_r, BLOCK_E=block_e, num_warps=warps)
        s = s.cumsum(1).sub_(s)  # exclusive prefix sum over chunks, float32
        _chunk_fwd_kernel[(n_chunks, bh)](
            u, w, v, s, o, den, n, r, e, n_chunks, DV=dv, CHUNK=chunk,
            BLOCK_R=block_r, BLOCK_E=block_e, num_warps=warps, num_stages=stages)
    return o, den, s


def _attn_bwd(u, w, v, o, den, s, do, du, dw):
    """Gradients of :func:`_attn_fwd`: writes ``du``, ``dw``, returns ``dv``."""
    bh, n, r = u.shape
    d = v.shape[-1]
    e = d + 1
    chunk, block_r, block_e, warps, stages = _config(r, e)
    n_chunks = triton.cdiv(n, chunk)
    do = do.contiguous()
    ds = torch.empty(bh, n_chunks, r, e, device=u.device, dtype=torch.float32)
    dv = torch.empty_like(v)
    with _as_on_a_gpu():
        _chunk_state_kernel[(n_chunks, bh, triton.cdiv(r, block_r))](
            u, do, o, den, ds, n, r, e, n_chunks, DV=d, GRAD=True, CHUNK=chunk,
            BLOCK_R=block_r, BLOCK_E=block_e, num_warps=warps)
        ds = ds.sum(1, keepdim=True) - ds.cumsum(1)  # the chunks after t
        _chunk_bwd_kernel[(n_chunks, bh)](
            u, w, v, do, o, den, s, ds, du, dw, dv, n, r, e, n_chunks, DV=d,
            CHUNK=chunk, BLOCK_R=block_r, BLOCK_E=block_e, num_warps=warps,
            num_stages=stages)
    return dv


class _ChunkCausalAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, w, v):
        o, den, s = _attn_fwd(u, w, v)
        ctx.save_for_backward(u, w, v, o, den, s)
        return o

    @staticmethod
    def backward(ctx, do):
        u, w, v, o, den, s = ctx.saved_tensors
        du, dw = torch.empty_like(u), torch.empty_like(w)
        dv = _attn_bwd(u, w, v, o, den, s, do, du, dw)
        return du, dw, dv


class _PolyAttentionTriton(torch.autograd.Function):
    """Features of q and k in one launch, the chunked product, and back."""

    @staticmethod
    def forward(ctx, q, k, v, scale):
        b, h, n, d = q.shape
        rp = _padded_rank(d)
        x = torch.stack([q, k]).contiguous()  # one feature launch for both sides
        f = torch.empty(2, b * h, n, rp, dtype=q.dtype, device=q.device)
        rows = 2 * b * h * n
        bn = 16 if INTERPRETER else 32
        consts = (math.sqrt(scale), scale / math.sqrt(2.0), scale)
        with _as_on_a_gpu():
            _taylor2_fwd_kernel[(triton.cdiv(rows, bn),)](
                x, f, rows, *consts, D=d, RP=rp, BLOCK_N=bn)
        vv = v.reshape(b * h, n, d).contiguous()
        o, den, s = _attn_fwd(f[0], f[1], vv)
        ctx.save_for_backward(x, f, vv, o, den, s)
        ctx.consts = consts
        return o.view(b, h, n, d)

    @staticmethod
    def backward(ctx, do):
        x, f, vv, o, den, s = ctx.saved_tensors
        b, h, n, d = x.shape[1:]
        df = torch.empty_like(f)
        dv = _attn_bwd(f[0], f[1], vv, o, den, s, do.reshape(b * h, n, d), df[0],
                       df[1])
        dx = torch.empty_like(x)
        rows = 2 * b * h * n
        bn = 16 if INTERPRETER else 32
        with _as_on_a_gpu():
            _taylor2_bwd_kernel[(triton.cdiv(rows, bn),)](
                x, df, dx, rows, *ctx.consts, D=d, RP=f.shape[-1], BLOCK_N=bn)
        return dx[0], dx[1], dv.view(b, h, n, d), None


def _check_device(name, t):
    want = "cpu" if INTERPRETER else "cuda"
    if t.device.type != want:
        where = "CPU tensors (Triton interpreter)" if INTERPRETER else "CUDA tensors"
        raise ValueError(f"{name}: expected {where}, got device {t.device}")


def chunk_causal_attention(u: torch.Tensor, w: torch.Tensor,
                           v: torch.Tensor) -> torch.Tensor:
    """``D^-1 (M o u w^T) v`` with the causal mask M, by chunks, differentiable.

    ``D`` holds the row sums of ``M o u w^T``: the normaliser is the last column of
    ``(M o u w^T) [v | 1]``, computed in the same pass.

    Args:
        u: left factor (query features) ``(batch_heads, n, r)``; fp32/fp16 (bf16
            on a GPU).
        w: right factor (key features), shape and dtype of ``u``.
        v: values ``(batch_heads, n, d)``, dtype of ``u``, d <= 128.

    Returns:
        ``(batch_heads, n, d)`` in the dtype of ``v``; no ``n x n`` tensor is
        formed, and the backward (to ``u``, ``w`` and ``v``) is chunked as well.

    Book: notebooks/poly_attention/lecture.md, "A Triton kernel".
    """
    check_tensor("u", u, ndim=3, kind="float")
    check_kernel_dtype("u", u)
    _check_device("u", u)
    check_tensor("w", w, shape=u.shape, kind="float", shape_of="u")
    check_tensor("v", v, ndim=3, kind="float")
    if v.shape[:2] != u.shape[:2] or not 1 <= v.shape[-1] <= 128:
        raise ValueError(f"v: expected (batch_heads, n, d) with (batch_heads, n) = "
                         f"{tuple(u.shape[:2])} as u and d <= 128, got "
                         f"{tuple(v.shape)}")
    for name, t in (("w", w), ("v", v)):
        if t.dtype != u.dtype or t.device != u.device:
            raise ValueError(f"{name}: expected dtype {u.dtype} on {u.device} as u, "
                             f"got {t.dtype} on {t.device}")
    return _ChunkCausalAttention.apply(u.contiguous(), w.contiguous(), v.contiguous())


def poly_attention_triton(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                          degree: int = 2, scale: float | None = None
                          ) -> torch.Tensor:
    """Causal Taylor polynomial attention, forward and backward in Triton.

    Three kernels each way: the degree-2 features of q and k in one launch (the
    map of :func:`effteach.poly_attention.feature_pair`, see
    :func:`taylor2_features`), the chunk states, and the chunked product with the
    normaliser; torch only sums the states over chunks. Equal to
    ``poly_attention(q, k, v, 2, scale, causal=True, backward="features")`` up to
    rounding.

    Args:
        q: queries ``(batch, heads, n, d)``, d in {16, 32}; fp32/fp16 (bf16 on a
            GPU).
        k: keys, as ``q``.
        v: values, as ``q``.
        degree: the Taylor degree; the kernel's feature map is degree 2.
        scale: logit scale, default ``1 / sqrt(d)``.

    Returns:
        The output, shape and dtype of ``q``.

    Paper: arXiv 2408.13233, Theorem 4.1 with the causal mask (Section 6).
    Book: notebooks/poly_attention/lecture.md, "A Triton kernel".
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(name, t, ndim=4, kind="float")
        check_kernel_dtype(name, t)
        _check_device(name, t)
    for name, t in (("k", k), ("v", v)):
        if t.shape != q.shape or t.dtype != q.dtype:
            raise ValueError(f"{name}: expected shape {tuple(q.shape)} and dtype "
                             f"{q.dtype} as q, got {tuple(t.shape)} {t.dtype}")
    if isinstance(degree, bool) or degree != 2:
        raise ValueError(f"degree: the kernel's feature map is degree 2, got {degree!r}"
                         " (other degrees: effteach.poly_attention.poly_attention)")
    d = q.shape[-1]
    if d not in (16, 32):
        raise ValueError(f"q: expected d_head 16 or 32 (rank binom(d + 2, 2) <= 561), "
                         f"got {d}")
    s = 1.0 / math.sqrt(d) if scale is None else scale
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not (
            math.isfinite(s) and s > 0):
        raise ValueError(f"scale: expected a finite float > 0 or None, got {scale!r}")
    return _PolyAttentionTriton.apply(q, k, v, float(s))
