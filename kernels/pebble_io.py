"""FlashAttention-2 in Triton: forward, and backward as Δ, dK/dV and dQ passes.

What you will learn:

* the forward pass keeps one block of queries in fast memory (registers and shared
  memory) and streams blocks of keys and values past it, with the online softmax
  (running max ``m``, running sum ``l``); it writes the output and the row
  log-sum-exp ``lse = m + log l``, never the ``n x n`` matrix;
* the backward pass recomputes ``P = exp(S - lse)`` block by block: a first kernel
  computes ``Δ = rowsum(dO ∘ O)``; one program per block of keys accumulates dK and
  dV over all query blocks; one program per block of queries accumulates dQ over all
  key blocks (FA-2's two-pass choice: no atomics, each block written once);
* causal masking skips whole tiles above the diagonal and masks the diagonal tiles;
  ragged ends (``n`` not a multiple of the block) are masked loads and ``-inf``
  scores.

:func:`model_bytes` counts the bytes these loops move between HBM and the chip, the
same count the pebble-game simulator of :mod:`effteach.pebble_io` makes for the
schedule at tile granularity.

Credit: the algorithm is FlashAttention-2 (Dao 2023); the structure follows the
Triton tutorial "Fused Attention", written here from scratch.
Paper: arXiv 2410.09397 (I/O complexity; FlashAttention is optimal for large M).
Book: notebooks/pebble_io/lecture.md, "A Triton FlashAttention".
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

from effteach.checks import check_int, typed
from effteach.device import INTERPRETER, check_kernel_dtype
from effteach.device import as_on_a_gpu as _as_on_a_gpu

LOG2E = 1.4426950408889634  # exp(x) = exp2(x * log2(e)): exp2 is the fast one


@triton.jit
def _attn_fwd_kernel(
    q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr,  # q,k,v,o: (bh, n, d); lse: (bh, n) fp32
    n_ctx, scale_log2,  # softmax scale times log2(e)
    CAUSAL: tl.constexpr,
    D: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    start_m = tl.program_id(0)
    bh = tl.program_id(1)
    base = bh.to(tl.int64) * n_ctx * D
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, D)
    row_ok = offs_m < n_ctx
    q = tl.load(q_ptr + base + offs_m[:, None] * D + offs_d[None, :],
                mask=row_ok[:, None], other=0.0)
    m_i = tl.full((BLOCK_M,), -float("inf"), tl.float32)
    l_i = tl.zeros((BLOCK_M,), tl.float32)
    acc = tl.zeros((BLOCK_M, D), tl.float32)
    hi = n_ctx
    if CAUSAL:  # key blocks past this query block's last row are all masked
        hi = tl.minimum((start_m + 1) * BLOCK_M, n_ctx)
    for start_n in range(0, hi, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        col_ok = offs_n < n_ctx
        k = tl.load(k_ptr + base + offs_n[:, None] * D + offs_d[None, :],
                    mask=col_ok[:, None], other=0.0)
        v = tl.load(v_ptr + base + offs_n[:, None] * D + offs_d[None, :],
                    mask=col_ok[:, None], other=0.0)
        s = tl.dot(q, tl.trans(k)) * scale_log2  # (BLOCK_M, BLOCK_N), log2 units
        keep = col_ok[None, :]
        if CAUSAL:
            keep = keep & (offs_n[None, :] <= offs_m[:, None])
        s = tl.where(keep, s, -float("inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        # rows with nothing unmasked yet keep m = -inf: use 0 to avoid inf - inf
        m_safe = tl.where(m_new == -float("inf"), 0.0, m_new)
        p = tl.math.exp2(s - m_safe[:, None])
        alpha = tl.math.exp2(m_i - m_safe)
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    l_safe = tl.where(l_i == 0.0, 1.0, l_i)
    out = acc / l_safe[:, None]
    tl.store(o_ptr + base + offs_m[:, None] * D + offs_d[None, :],
             out.to(o_ptr.dtype.element_ty), mask=row_ok[:, None])
    # lse in log2 units (what the backward recomputes P with)
    tl.store(lse_ptr + bh.to(tl.int64) * n_ctx + offs_m, m_i + tl.math.log2(l_safe),
             mask=row_ok)


@triton.jit
def _attn_bwd_delta_kernel(
    o_ptr, do_ptr, delta_ptr, n_ctx, D: tl.constexpr, BLOCK_M: tl.constexpr
):
    start_m = tl.program_id(0)
    bh = tl.program_id(1)
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, D)
    ok = offs_m < n_ctx
    base = bh.to(tl.int64) * n_ctx * D
    ptrs = base + offs_m[:, None] * D + offs_d[None, :]
    o = tl.load(o_ptr + ptrs, mask=ok[:, None], other=0.0).to(tl.float32)
    do = tl.load(do_ptr + ptrs, mask=ok[:, None], other=0.0).to(tl.float32)
    tl.store(delta_ptr + bh.to(tl.int64) * n_ctx + offs_m, tl.sum(o * do, axis=1),
             mask=ok)


@triton.jit
def _attn_bwd_dkdv_kernel(
    q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dk_ptr, dv_ptr,
    n_ctx, scale, scale_log2,
    CAUSAL: tl.constexpr,
    D: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    start_n = tl.program_id(0)
    bh = tl.program_id(1)
    base = bh.to(tl.int64) * n_ctx * D
    rbase = bh.to(tl.int64) * n_ctx
    offs_n = start_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, D)
    col_ok = offs_n < n_ctx
    k = tl.load(k_ptr + base + offs_n[:, None] * D + offs_d[None, :],
                mask=col_ok[:, None], other=0.0)
    v = tl.load(v_ptr + base + offs_n[:, None] * D + offs_d[None, :],
                mask=col_ok[:, None], other=0.0)
    dk = tl.zeros((BLOCK_N, D), tl.float32)
    dv = tl.zeros((BLOCK_N, D), tl.float32)
    lo = 0
    if CAUSAL:  # query blocks before this key block see none of its keys
        lo = (start_n * BLOCK_N // BLOCK_M) * BLOCK_M
    for start_m in range(lo, n_ctx, BLOCK_M):
        offs_m = start_m + tl.arange(0, BLOCK_M)
        row_ok = offs_m < n_ctx
        q = tl.load(q_ptr + base + offs_m[:, None] * D + offs_d[None, :],
                    mask=row_ok[:, None], other=0.0)
        do = tl.load(do_ptr + base + offs_m[:, None] * D + offs_d[None, :],
                     mask=row_ok[:, None], other=0.0)
        lse = tl.load(lse_ptr + rbase + offs_m, mask=row_ok, other=0.0)
        delta = tl.load(delta_ptr + rbase + offs_m, mask=row_ok, other=0.0)
        # transposed scores: (BLOCK_N, BLOCK_M), so dV += P^T dO needs no transpose
        st = tl.dot(k, tl.trans(q)) * scale_log2
        keep = col_ok[:, None] & row_ok[None, :]
        if CAUSAL:
            keep = keep & (offs_n[:, None] <= offs_m[None, :])
        pt = tl.where(keep, tl.math.exp2(st - lse[None, :]), 0.0)
        dv += tl.dot(pt.to(do.dtype), do)
        dpt = tl.dot(v, tl.trans(do))  # (dO V^T)^T
        dst = pt * (dpt - delta[None, :])
        dk += tl.dot(dst.to(q.dtype), q)
    tl.store(dk_ptr + base + offs_n[:, None] * D + offs_d[None, :],
             (dk * scale).to(dk_ptr.dtype.element_ty), mask=col_ok[:, None])
    tl.store(dv_ptr + base + offs_n[:, None] * D + offs_d[None, :],
             dv.to(dv_ptr.dtype.element_ty), mask=col_ok[:, None])


@triton.jit
def _attn_bwd_dq_kernel(
    q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dq_ptr,
    n_ctx, scale, scale_log2,
    CAUSAL: tl.constexpr,
    D: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    start_m = tl.program_id(0)
    bh = tl.program_id(1)
    base = bh.to(tl.int64) * n_ctx * D
    rbase = bh.to(tl.int64) * n_ctx
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, D)
    row_ok = offs_m < n_ctx
    q = tl.load(q_ptr + base + offs_m[:, None] * D + offs_d[None, :],
                mask=row_ok[:, None], other=0.0)
    do = tl.load(do_ptr + base + offs_m[:, None] * D + offs_d[None, :],
                 mask=row_ok[:, None], other=0.0)
    lse = tl.load(lse_ptr + rbase + offs_m, mask=row_ok, other=0.0)
    delta = tl.load(delta_ptr + rbase + offs_m, mask=row_ok, other=0.0)
    dq = tl.zeros((BLOCK_M, D), tl.float32)
    hi = n_ctx
    if CAUSAL:
        hi = tl.minimum((start_m + 1) * BLOCK_M, n_ctx)
    for start_n in range(0, hi, BLOCK_N):
        offs_n = start_n + tl.arange(0, BLOCK_N)
        col_ok = offs_n < n_ctx
        k = tl.load(k_ptr + base + offs_n[:, None] * D + offs_d[None, :],
                    mask=col_ok[:, None], other=0.0)
        v = tl.load(v_ptr + base + offs_n[:, None] * D + offs_d[None, :],
                    mask=col_ok[:, None], other=0.0)
        s = tl.dot(q, tl.trans(k)) * scale_log2
        keep = row_ok[:, None] & col_ok[None, :]
        if CAUSAL:
            keep = keep & (offs_n[None, :] <= offs_m[:, None])
        p = tl.where(keep, tl.math.exp2(s - lse[:, None]), 0.0)
        dp = tl.dot(do, tl.trans(v))
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k.dtype), k)
    tl.store(dq_ptr + base + offs_m[:, None] * D + offs_d[None, :],
             (dq * scale).to(dq_ptr.dtype.element_ty), mask=row_ok[:, None])


def _blocks(d: int, dtype: torch.dtype, backward: bool) -> tuple[int, int, int, int]:
    """(BLOCK_M, BLOCK_N, num_warps, num_stages) for head size d."""
    if INTERPRETER:
        return 16, 16, 1, 1
    # measured on an H200 (bf16, n = 8192): the benchmark re-tunes per shape
    if backward:
        return 64, 64, 4, 2
    return 64, 64, 4, 3


def _check(q, k, v):
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        check_kernel_dtype(name, t)
        if t.dim() != 4:
            raise ValueError(
                f"{name}: expected shape (batch, n_heads, n_ctx, d_head), got "
                f"{tuple(t.shape)}"
            )
    if not q.shape == k.shape == v.shape:
        raise ValueError(
            f"k, v: expected the shape of q {tuple(q.shape)}, got {tuple(k.shape)} "
            f"and {tuple(v.shape)}"
        )
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"k, v: expected q's dtype {q.dtype}, got {k.dtype}, {v.dtype}")
    d = q.shape[-1]
    if d not in (16, 32, 64, 128):
        raise ValueError(f"q: expected d_head in (16, 32, 64, 128), got {d}")
    if q.shape[2] < 1:
        raise ValueError("q: expected n_ctx >= 1")
    devices = {t.device for t in (q, k, v)}
    if len(devices) > 1:
        raise ValueError(f"k, v: expected q's device {q.device}, got {k.device}, "
                         f"{v.device}")
    if q.device.type != ("cpu" if INTERPRETER else "cuda"):
        where = "CPU tensors (Triton interpreter)" if INTERPRETER else "CUDA tensors"
        raise ValueError(f"q: expected {where}, got device {q.device}")


def _check_options(causal, scale, config) -> None:
    if not isinstance(causal, bool):
        raise TypeError(f"causal: expected a bool, got {type(causal).__name__}")
    if scale is not None and (
        isinstance(scale, bool) or not isinstance(scale, (int, float))
        or not math.isfinite(scale) or scale <= 0
    ):
        raise ValueError(f"scale: expected a finite float > 0 or None, got {scale!r}")
    if config is not None and not (
        isinstance(config, tuple) and len(config) == 4
        and all(isinstance(c, int) and not isinstance(c, bool) and c >= 1
                for c in config)
        and all(c & (c - 1) == 0 and c >= 16 for c in config[:2])
    ):
        raise ValueError(
            "config: expected (BLOCK_M, BLOCK_N, num_warps, num_stages), block sizes "
            f"powers of two >= 16, all ints >= 1, or None; got {config!r}"
        )


def _check_bwd(q, o, lse, do) -> None:
    for name, t, shape, dtype in (
        ("o", o, q.shape, q.dtype),
        ("do", do, q.shape, q.dtype),
        ("lse", lse, q.shape[:3], torch.float32),
    ):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        if t.shape != shape or t.dtype != dtype or t.device != q.device:
            raise ValueError(
                f"{name}: expected shape {tuple(shape)}, dtype {dtype} on {q.device} "
                f"(from flash_attn_fwd), got {tuple(t.shape)}, {t.dtype} on "
                f"{t.device}"
            )


def flash_attn_fwd(q, k, v, causal: bool = False, scale: float | None = None,
                   config: tuple[int, int, int, int] | None = None):
    """Attention forward; returns ``(o, lse)`` with ``lse`` in log2 units (fp32).

    ``config`` overrides ``(BLOCK_M, BLOCK_N, num_warps, num_stages)``.
    """
    _check(q, k, v)
    _check_options(causal, scale, config)
    b, h, n, d = q.shape
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    q, k, v = (t.contiguous() for t in (q, k, v))
    o = torch.empty_like(q)
    lse = torch.empty((b, h, n), device=q.device, dtype=torch.float32)
    bm, bn, warps, stages = config or _blocks(d, q.dtype, backward=False)
    grid = (triton.cdiv(n, bm), b * h)
    with _as_on_a_gpu():
        _attn_fwd_kernel[grid](q, k, v, o, lse, n, scale * LOG2E,
                               CAUSAL=bool(causal), D=d, BLOCK_M=bm, BLOCK_N=bn,
                               num_warps=warps, num_stages=stages)
    return o, lse


def flash_attn_bwd(q, k, v, o, lse, do, causal: bool = False,
                   scale: float | None = None,
                   config: tuple[int, int, int, int] | None = None):
    """Gradients ``(dq, dk, dv)`` from the forward's ``o`` and ``lse``.

    Raises:
        TypeError, ValueError: naming the argument, as :func:`flash_attn_fwd`, and
            for an ``o``, ``lse`` or ``do`` whose shape, dtype or device is not the
            forward's.
    """
    _check(q, k, v)
    _check_options(causal, scale, config)
    _check_bwd(q, o, lse, do)
    b, h, n, d = q.shape
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    q, k, v, o, do = (t.contiguous() for t in (q, k, v, o, do))
    bm, bn, warps, stages = config or _blocks(d, q.dtype, backward=True)
    delta = torch.empty_like(lse)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    common = dict(CAUSAL=bool(causal), D=d, BLOCK_M=bm, BLOCK_N=bn,
                  num_warps=warps, num_stages=stages)
    with _as_on_a_gpu():
        _attn_bwd_delta_kernel[(triton.cdiv(n, bm), b * h)](o, do, delta, n, D=d,
                                                              BLOCK_M=bm)
        _attn_bwd_dkdv_kernel[(triton.cdiv(n, bn), b * h)](
            q, k, v, do, lse, delta, dk, dv, n, scale, scale * LOG2E, **common)
        _attn_bwd_dq_kernel[(triton.cdiv(n, bm), b * h)](
            q, k, v, do, lse, delta, dq, n, scale, scale * LOG2E, **common)
    return dq, dk, dv


class FlashAttnFunction(torch.autograd.Function):
    """``flash_attn(q, k, v, causal)`` with the Triton backward."""

    @staticmethod
    def forward(ctx, q, k, v, causal=False, scale=None):  # noqa: D102
        o, lse = flash_attn_fwd(q, k, v, causal, scale)
        ctx.save_for_backward(q, k, v, o, lse)
        ctx.causal, ctx.scale = causal, scale
        return o

    @staticmethod
    def backward(ctx, do):  # noqa: D102
        q, k, v, o, lse = ctx.saved_tensors
        dq, dk, dv = flash_attn_bwd(q, k, v, o, lse, do, ctx.causal, ctx.scale)
        return dq, dk, dv, None, None


def flash_attn(q, k, v, causal: bool = False, scale: float | None = None):
    """Scaled dot-product attention with the Triton FlashAttention-2 kernels.

    Args:
        q: queries, shape (batch, n_heads, n_ctx, d_head), d_head in {16, 32,
            64, 128}; fp16/bf16 (fp32 and fp16 in the interpreter).
        k: keys, the shape and dtype of ``q``.
        v: values, the shape and dtype of ``q``.
        causal: mask keys after each query.
        scale: softmax scale, default ``1 / sqrt(d_head)``.

    Returns:
        The output, same shape and dtype as ``q``; differentiable.

    Book: notebooks/pebble_io/lecture.md, "A Triton FlashAttention".
    """
    return FlashAttnFunction.apply(q, k, v, causal, scale)


@typed
def model_bytes(n_ctx: int, d_head: int, element_size: int, causal: bool = False,
                backward: bool = False, block_m: int = 128,
                block_n: int = 64) -> int:
    """HBM bytes the kernels' loops move for one (batch, head).

    Forward: each query block reads Q once, K and V once per visited key block,
    writes O and the fp32 lse. Backward: Δ reads O and dO, writes Δ; the dK/dV pass
    reads K, V once per key block and Q, dO, lse, Δ once per visited (key, query)
    pair, writes dK, dV; the dQ pass reads Q, dO, lse, Δ once per query block and K,
    V once per visited pair, writes dQ.
    """
    e, d, n = (check_int(name, x, 1) for name, x in (
        ("element_size", element_size), ("d_head", d_head), ("n_ctx", n_ctx)))
    block_m = check_int("block_m", block_m, 1)
    block_n = check_int("block_n", block_n, 1)
    n_m, n_n = math.ceil(n / block_m), math.ceil(n / block_n)

    def visited_pairs(bm, bn):  # key blocks visited by each query block
        if not causal:
            return math.ceil(n / bm) * math.ceil(n / bn)
        n_q = math.ceil(n / bm)
        return sum(math.ceil(min((i + 1) * bm, n) / bn) for i in range(n_q))

    if not backward:
        pairs = visited_pairs(block_m, block_n)
        return (n * d * e  # Q
                + pairs * 2 * min(block_n, n) * d * e  # K, V per visited pair
                + n * d * e + n * 4)  # O, lse
    pairs = visited_pairs(block_m, block_n)
    delta = 2 * n * d * e + n * 4
    dkdv = (2 * n * d * e + pairs * (2 * min(block_m, n) * d * e + 2 * 4 * block_m)
            + 2 * n * d * e)
    dq = (2 * n * d * e + 2 * n * 4 + pairs * 2 * min(block_n, n) * d * e + n * d * e)
    _ = (n_m, n_n)
    return delta + dkdv + dq
