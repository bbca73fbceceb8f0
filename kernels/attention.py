"""Dense attention in Triton, the tuned variant: any strides, n_q != n_k, padding.

The teaching kernel of :mod:`effteach.kernels.pebble_io` is FlashAttention-2 at its
plainest. This one keeps its algorithm and adds what users' calls need and what
the benchmark asks for:

* **Any layout.** ``q``, ``k``, ``v`` are read through their strides, so the usual
  ``(batch, n, heads, d)`` tensor transposed to ``(batch, heads, n, d)`` costs no
  copy (only the last axis must be contiguous).
* **``n_q != n_k`` and key padding.** Decoding with a KV cache and cross-attention
  have fewer queries than keys. Causal masking is aligned bottom-right (query ``i``
  sees keys ``j <= i + L - n_q``, the decoding convention of FlashAttention-2 and
  ``torch.nn.attention.bias.causal_lower_right``), and ``kv_lens[b]`` keys of batch
  row ``b`` are valid. A query row that sees no key gets a zero output.
* **Two stages per causal row block.** Key blocks that every query of the block
  sees are streamed without any mask arithmetic; only the blocks that cross the
  diagonal (or the padding edge) pay for the mask.
* **Per-shape configuration.** On a GPU the tile sizes, warps and pipeline
  stages are autotuned once per (n_q, n_k, d, causal) and cached by Triton; the
  interpreter runs one pinned configuration.
* **A short host path.** At small grids the call's host time decides the speed: the
  common call's argument check is a shortcut, the descriptors' scratch memory is
  reused, and launches go through :class:`effteach.kernels.launch.Launcher`.

Credit: FlashAttention-2 (Dao 2023) and the Triton tutorial "Fused Attention"
(stage split); written here from scratch.
Book: notebooks/pebble_io/lecture.md, "A Triton FlashAttention".
"""

from __future__ import annotations

import functools
import math

import torch
import triton
import triton.language as tl

from effteach.device import INTERPRETER, check_kernel_dtype, kernel_dtypes
from effteach.device import as_on_a_gpu as _as_on_a_gpu
from effteach.kernels.launch import Launcher

__all__ = ["attention", "attention_fwd", "attention_mask"]

LOG2E = 1.4426950408889634


@triton.jit
def _fwd_step(acc, l_i, m_i, q, k, v, offs_m, offs_n, shift, length, scale_log2,
              MASKED: tl.constexpr, CAUSAL: tl.constexpr):
    """One key block of the online softmax; ``MASKED`` adds the causal/padding mask."""
    s = tl.dot(q, tl.trans(k))
    if MASKED:
        keep = offs_n[None, :] < length
        if CAUSAL:
            keep = keep & (offs_n[None, :] <= offs_m[:, None] + shift)
        s = tl.where(keep, s * scale_log2, -float("inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        m_safe = tl.where(m_new == -float("inf"), 0.0, m_new)  # rows seeing nothing
        p = tl.math.exp2(s - m_safe[:, None])
        alpha = tl.math.exp2(m_i - m_safe)
    else:  # the scale folds into one multiply-add per score
        m_new = tl.maximum(m_i, tl.max(s, axis=1) * scale_log2)
        p = tl.math.exp2(s * scale_log2 - m_new[:, None])
        alpha = tl.math.exp2(m_i - m_new)
    l_i = l_i * alpha + tl.sum(p, axis=1)
    acc = tl.dot(p.to(v.dtype), v, acc * alpha[:, None])
    return acc, l_i, m_new


@triton.jit
def _fwd_kernel(
    q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr, lens_ptr,
    sqb, sqh, sqn, skb, skh, skn, svb, svh, svn,  # input strides (last axis: 1)
    n_heads, n_q, n_k, scale_log2,
    CAUSAL: tl.constexpr, HAS_LENS: tl.constexpr, D: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    SPLIT: tl.constexpr = True, TMA: tl.constexpr = False,
    REVERSE: tl.constexpr = False,
):
    # REVERSE: causal row blocks run longest first (the last rows see the most keys)
    start_m = tl.program_id(0)
    if REVERSE:
        start_m = tl.num_programs(0) - 1 - start_m
    bh = tl.program_id(1)
    b = bh // n_heads
    h = bh % n_heads
    length = n_k
    if HAS_LENS:
        length = tl.minimum(tl.load(lens_ptr + b), n_k)
    shift = length - n_q  # bottom-right alignment: row i sees keys j <= i + shift
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, D)
    row_ok = offs_m < n_q
    qb = q_ptr + b.to(tl.int64) * sqb + h.to(tl.int64) * sqh
    kb = k_ptr + b.to(tl.int64) * skb + h.to(tl.int64) * skh
    vb = v_ptr + b.to(tl.int64) * svb + h.to(tl.int64) * svh
    q = tl.load(qb + offs_m[:, None] * sqn + offs_d[None, :], mask=row_ok[:, None],
                other=0.0)
    if TMA:  # Hopper's copy engine: rows past ``length`` arrive as zeros
        k_desc = tl.make_tensor_descriptor(kb, shape=[length, D], strides=[skn, 1],
                                           block_shape=[BLOCK_N, D])
        v_desc = tl.make_tensor_descriptor(vb, shape=[length, D], strides=[svn, 1],
                                           block_shape=[BLOCK_N, D])
    m_i = tl.full((BLOCK_M,), -float("inf"), tl.float32)
    l_i = tl.zeros((BLOCK_M,), tl.float32)
    acc = tl.zeros((BLOCK_M, D), tl.float32)
    # keys [0, full) are seen by every row of the block; [full, hi) need the mask
    hi = length
    full = length
    if CAUSAL:
        hi = tl.maximum(tl.minimum(length, start_m * BLOCK_M + BLOCK_M + shift), 0)
        full = tl.maximum(tl.minimum(length, start_m * BLOCK_M + 1 + shift), 0)
    full = (full // BLOCK_N) * BLOCK_N
    if not SPLIT:  # the ablation: every block pays for the mask
        full = 0
    offs_n0 = tl.arange(0, BLOCK_N)
    for start_n in range(0, full, BLOCK_N):  # stage 1: no masks at all
        offs_n = start_n + offs_n0
        if TMA:
            k = k_desc.load([start_n, 0])
            v = v_desc.load([start_n, 0])
        else:
            k = tl.load(kb + offs_n[:, None] * skn + offs_d[None, :])
            v = tl.load(vb + offs_n[:, None] * svn + offs_d[None, :])
        acc, l_i, m_i = _fwd_step(acc, l_i, m_i, q, k, v, offs_m, offs_n, shift,
                                  length, scale_log2, False, CAUSAL)
    for start_n in range(full, hi, BLOCK_N):  # stage 2: the diagonal and the edge
        offs_n = start_n + offs_n0
        if TMA:
            k = k_desc.load([start_n, 0])
            v = v_desc.load([start_n, 0])
        else:
            col_ok = offs_n < length
            k = tl.load(kb + offs_n[:, None] * skn + offs_d[None, :],
                        mask=col_ok[:, None], other=0.0)
            v = tl.load(vb + offs_n[:, None] * svn + offs_d[None, :],
                        mask=col_ok[:, None], other=0.0)
        acc, l_i, m_i = _fwd_step(acc, l_i, m_i, q, k, v, offs_m, offs_n, shift,
                                  length, scale_log2, True, CAUSAL)
    l_safe = tl.where(l_i == 0.0, 1.0, l_i)
    rows = bh.to(tl.int64) * n_q + offs_m
    tl.store(o_ptr + rows[:, None] * D + offs_d[None, :],
             (acc / l_safe[:, None]).to(o_ptr.dtype.element_ty), mask=row_ok[:, None])
    tl.store(lse_ptr + rows, m_i + tl.math.log2(l_safe), mask=row_ok)


@triton.jit
def _delta_kernel(o_ptr, do_ptr, delta_ptr, n_rows, D: tl.constexpr,
                  BLOCK_M: tl.constexpr):
    offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, D)
    ok = offs_m < n_rows
    ptrs = offs_m.to(tl.int64)[:, None] * D + offs_d[None, :]
    o = tl.load(o_ptr + ptrs, mask=ok[:, None], other=0.0).to(tl.float32)
    do = tl.load(do_ptr + ptrs, mask=ok[:, None], other=0.0).to(tl.float32)
    tl.store(delta_ptr + offs_m, tl.sum(o * do, axis=1), mask=ok)


@triton.jit
def _dkdv_step(dk, dv, k, v, qb, sqn, do_ptr, lse_ptr, delta_ptr, rbase, start_m,
               offs_n, offs_d, n_q, shift, length, scale_log2, D: tl.constexpr,
               BLOCK_M: tl.constexpr, MASKED: tl.constexpr, CAUSAL: tl.constexpr):
    """Add one query block's share to a key block's dK and dV."""
    offs_m = start_m + tl.arange(0, BLOCK_M)
    if MASKED:
        row_ok = offs_m < n_q
        q = tl.load(qb + offs_m[:, None] * sqn + offs_d[None, :], mask=row_ok[:, None],
                    other=0.0)
        do = tl.load(do_ptr + (rbase + offs_m)[:, None] * D + offs_d[None, :],
                     mask=row_ok[:, None], other=0.0)
        lse = tl.load(lse_ptr + rbase + offs_m, mask=row_ok, other=0.0)
        delta = tl.load(delta_ptr + rbase + offs_m, mask=row_ok, other=0.0)
    else:
        q = tl.load(qb + offs_m[:, None] * sqn + offs_d[None, :])
        do = tl.load(do_ptr + (rbase + offs_m)[:, None] * D + offs_d[None, :])
        lse = tl.load(lse_ptr + rbase + offs_m)
        delta = tl.load(delta_ptr + rbase + offs_m)
    st = tl.dot(k, tl.trans(q)) * scale_log2  # (BLOCK_N, BLOCK_M)
    pt = tl.math.exp2(st - lse[None, :])
    if MASKED:
        keep = (offs_n[:, None] < length) & row_ok[None, :]
        if CAUSAL:
            keep = keep & (offs_n[:, None] <= offs_m[None, :] + shift)
        pt = tl.where(keep, pt, 0.0)
    dv = tl.dot(pt.to(do.dtype), do, dv)
    dpt = tl.dot(v, tl.trans(do))
    dst = pt * (dpt - delta[None, :])
    dk = tl.dot(dst.to(q.dtype), q, dk)
    return dk, dv


@triton.jit
def _bwd_dkdv_kernel(
    q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dk_ptr, dv_ptr, lens_ptr,
    sqb, sqh, sqn, skb, skh, skn, svb, svh, svn,
    n_heads, n_q, n_k, scale, scale_log2,
    CAUSAL: tl.constexpr, HAS_LENS: tl.constexpr, D: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, SPLIT: tl.constexpr = True,
):
    start_n = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // n_heads
    h = bh % n_heads
    length = n_k
    if HAS_LENS:
        length = tl.minimum(tl.load(lens_ptr + b), n_k)
    shift = length - n_q
    offs_n = start_n * BLOCK_N + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, D)
    col_ok = offs_n < length
    kb = k_ptr + b.to(tl.int64) * skb + h.to(tl.int64) * skh
    vb = v_ptr + b.to(tl.int64) * svb + h.to(tl.int64) * svh
    qb = q_ptr + b.to(tl.int64) * sqb + h.to(tl.int64) * sqh
    k = tl.load(kb + offs_n[:, None] * skn + offs_d[None, :], mask=col_ok[:, None],
                other=0.0)
    v = tl.load(vb + offs_n[:, None] * svn + offs_d[None, :], mask=col_ok[:, None],
                other=0.0)
    dk = tl.zeros((BLOCK_N, D), tl.float32)
    dv = tl.zeros((BLOCK_N, D), tl.float32)
    lo = 0
    if CAUSAL:  # rows i < j - shift see none of these keys
        lo = tl.maximum(start_n * BLOCK_N - shift, 0)
        lo = (lo // BLOCK_M) * BLOCK_M
    hi = tl.where(start_n * BLOCK_N >= length, 0, n_q)  # padding: nobody sees these
    lo = tl.minimum(lo, hi)
    # rows [mid, tail) see every key of this block and are whole: no mask there
    mid = lo
    if CAUSAL:
        mid = tl.cdiv(start_n * BLOCK_N + BLOCK_N - 1 - shift, BLOCK_M) * BLOCK_M
        mid = tl.minimum(tl.maximum(mid, lo), hi)
    tail = tl.maximum((n_q // BLOCK_M) * BLOCK_M, mid)
    if (start_n * BLOCK_N + BLOCK_N > length) or (not SPLIT):  # a partial key block
        mid = hi
        tail = hi
    rbase = bh.to(tl.int64) * n_q
    for start_m in range(lo, mid, BLOCK_M):  # the diagonal
        dk, dv = _dkdv_step(dk, dv, k, v, qb, sqn, do_ptr, lse_ptr, delta_ptr, rbase,
                            start_m, offs_n, offs_d, n_q, shift, length, scale_log2,
                            D, BLOCK_M, True, CAUSAL)
    for start_m in range(mid, tail, BLOCK_M):  # unmasked
        dk, dv = _dkdv_step(dk, dv, k, v, qb, sqn, do_ptr, lse_ptr, delta_ptr, rbase,
                            start_m, offs_n, offs_d, n_q, shift, length, scale_log2,
                            D, BLOCK_M, False, CAUSAL)
    for start_m in range(tail, hi, BLOCK_M):  # the last, partial row block
        dk, dv = _dkdv_step(dk, dv, k, v, qb, sqn, do_ptr, lse_ptr, delta_ptr, rbase,
                            start_m, offs_n, offs_d, n_q, shift, length, scale_log2,
                            D, BLOCK_M, True, CAUSAL)
    out = (bh.to(tl.int64) * n_k + offs_n)[:, None] * D + offs_d[None, :]
    n_ok = offs_n < n_k
    tl.store(dk_ptr + out, (dk * scale).to(dk_ptr.dtype.element_ty), mask=n_ok[:, None])
    tl.store(dv_ptr + out, dv.to(dv_ptr.dtype.element_ty), mask=n_ok[:, None])


@triton.jit
def _dq_step(dq, q, do, lse, delta, kb, vb, skn, svn, start_n, offs_m, offs_d, shift,
             length, scale_log2, BLOCK_N: tl.constexpr, MASKED: tl.constexpr,
             CAUSAL: tl.constexpr):
    """Add one key block's share to a query block's dQ."""
    offs_n = start_n + tl.arange(0, BLOCK_N)
    if MASKED:
        col_ok = offs_n < length
        k = tl.load(kb + offs_n[:, None] * skn + offs_d[None, :], mask=col_ok[:, None],
                    other=0.0)
        v = tl.load(vb + offs_n[:, None] * svn + offs_d[None, :], mask=col_ok[:, None],
                    other=0.0)
    else:
        k = tl.load(kb + offs_n[:, None] * skn + offs_d[None, :])
        v = tl.load(vb + offs_n[:, None] * svn + offs_d[None, :])
    s = tl.dot(q, tl.trans(k)) * scale_log2
    p = tl.math.exp2(s - lse[:, None])
    if MASKED:
        keep = col_ok[None, :]
        if CAUSAL:
            keep = keep & (offs_n[None, :] <= offs_m[:, None] + shift)
        p = tl.where(keep, p, 0.0)
    dp = tl.dot(do, tl.trans(v))
    ds = p * (dp - delta[:, None])
    return tl.dot(ds.to(k.dtype), k, dq)


@triton.jit
def _bwd_dq_kernel(
    q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, dq_ptr, lens_ptr,
    sqb, sqh, sqn, skb, skh, skn, svb, svh, svn,
    n_heads, n_q, n_k, scale, scale_log2,
    CAUSAL: tl.constexpr, HAS_LENS: tl.constexpr, D: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, SPLIT: tl.constexpr = True,
):
    start_m = tl.program_id(0)
    bh = tl.program_id(1)
    b = bh // n_heads
    h = bh % n_heads
    length = n_k
    if HAS_LENS:
        length = tl.minimum(tl.load(lens_ptr + b), n_k)
    shift = length - n_q
    offs_m = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, D)
    row_ok = offs_m < n_q
    qb = q_ptr + b.to(tl.int64) * sqb + h.to(tl.int64) * sqh
    kb = k_ptr + b.to(tl.int64) * skb + h.to(tl.int64) * skh
    vb = v_ptr + b.to(tl.int64) * svb + h.to(tl.int64) * svh
    rows = bh.to(tl.int64) * n_q + offs_m
    q = tl.load(qb + offs_m[:, None] * sqn + offs_d[None, :], mask=row_ok[:, None],
                other=0.0)
    do = tl.load(do_ptr + rows[:, None] * D + offs_d[None, :], mask=row_ok[:, None],
                 other=0.0)
    lse = tl.load(lse_ptr + rows, mask=row_ok, other=0.0)
    delta = tl.load(delta_ptr + rows, mask=row_ok, other=0.0)
    dq = tl.zeros((BLOCK_M, D), tl.float32)
    hi = length
    full = length
    if CAUSAL:
        hi = tl.maximum(tl.minimum(length, start_m * BLOCK_M + BLOCK_M + shift), 0)
        full = tl.maximum(tl.minimum(length, start_m * BLOCK_M + 1 + shift), 0)
    full = (full // BLOCK_N) * BLOCK_N
    if not SPLIT:
        full = 0
    for start_n in range(0, full, BLOCK_N):  # keys every row sees: no mask
        dq = _dq_step(dq, q, do, lse, delta, kb, vb, skn, svn, start_n, offs_m,
                      offs_d, shift, length, scale_log2, BLOCK_N, False, CAUSAL)
    for start_n in range(full, hi, BLOCK_N):  # the diagonal and the padding edge
        dq = _dq_step(dq, q, do, lse, delta, kb, vb, skn, svn, start_n, offs_m,
                      offs_d, shift, length, scale_log2, BLOCK_N, True, CAUSAL)
    tl.store(dq_ptr + rows[:, None] * D + offs_d[None, :],
             (dq * scale).to(dq_ptr.dtype.element_ty), mask=row_ok[:, None])


#: the kernels' launches, minus Triton's per-call argument binding after the first
_FWD, _DELTA, _DKDV, _DQ = map(Launcher, (_fwd_kernel, _delta_kernel, _bwd_dkdv_kernel,
                                          _bwd_dq_kernel))


def _configs(kind: str) -> list[tuple[int, int, int, int]]:
    """(BLOCK_M, BLOCK_N, num_warps, num_stages) candidates; one in the interpreter.

    The lists are the winners of the H200 sweep (bf16, d = 64 and 128, n = 4k-16k,
    causal and not): each candidate was fastest on at least one shape of it.
    """
    if INTERPRETER:
        return [(16, 16, 1, 1)]
    return {"fwd": [(128, 128, 8, 3), (128, 64, 8, 3), (64, 64, 4, 3),
                    (64, 128, 4, 3)],
            "dkdv": [(64, 64, 4, 2), (64, 64, 4, 3), (32, 128, 4, 3)],
            "dq": [(128, 32, 4, 3), (64, 64, 4, 2), (128, 64, 4, 3),
                   (64, 64, 4, 3)]}[kind]


#: chosen configuration per (kernel, n_q, n_k, d, causal, dtype): the tuning cache
_TUNED: dict[tuple, tuple[int, int, int, int]] = {}


def _pick(name, key, launch):
    """The fastest candidate for ``key`` (timed once on a GPU), cached."""
    cands = _configs(name)
    if len(cands) == 1:
        return cands[0]
    if (name, *key) not in _TUNED:
        from triton.testing import do_bench

        times = {}
        for c in cands:
            try:
                times[c] = do_bench(lambda c=c: launch(c), warmup=5, rep=20)
            except Exception:  # noqa: BLE001  (out of resources: not a candidate)
                continue
        _TUNED[(name, *key)] = min(times, key=times.get)
    return _TUNED[(name, *key)]


_DEVICE_TYPE = "cpu" if INTERPRETER else "cuda"
_D_HEADS = (16, 32, 64, 128)


def _plainly_ok(q, k, v, causal, scale, kv_lens) -> bool:
    """The common call, accepted in about a fifth of :func:`_check`'s time.

    False sends the call through :func:`_check`, which names what is wrong (or
    accepts what this shortcut does not cover: a scale, lengths, subclasses).
    """
    if (scale is not None or kv_lens is not None or causal.__class__ is not bool
            or q.__class__ is not torch.Tensor or k.__class__ is not torch.Tensor
            or v.__class__ is not torch.Tensor):
        return False
    dt, qs, ks = q.dtype, q.shape, k.shape
    if (dt not in kernel_dtypes() or k.dtype is not dt or v.dtype is not dt
            or len(qs) != 4 or len(ks) != 4 or v.shape != ks or qs[3] not in _D_HEADS
            or ks[3] != qs[3] or ks[0] != qs[0] or ks[1] != qs[1] or ks[2] < 1
            or q.numel() == 0):
        return False
    dev = q.device
    return dev.type == _DEVICE_TYPE and k.device == dev and v.device == dev


def _check(q, k, v, causal, scale, kv_lens):
    if not _plainly_ok(q, k, v, causal, scale, kv_lens):
        _check_fully(q, k, v, causal, scale, kv_lens)


def _check_fully(q, k, v, causal, scale, kv_lens):
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{name}: expected a floating dtype, got {t.dtype}")
        check_kernel_dtype(name, t)
        if t.dim() != 4:
            raise ValueError(f"{name}: expected shape (batch, heads, n, d_head), got "
                             f"{tuple(t.shape)}")
        want = "cpu" if INTERPRETER else "cuda"
        if t.device.type != want:
            where = ("CPU tensors (Triton interpreter)" if INTERPRETER
                     else "CUDA tensors")
            raise ValueError(f"{name}: expected {where}, got device {t.device}")
    b, h, n_q, d = q.shape
    if q.numel() == 0:
        raise ValueError(f"q: expected a non-empty tensor, got shape {tuple(q.shape)}")
    if d not in (16, 32, 64, 128):
        raise ValueError(f"q: expected d_head in (16, 32, 64, 128), got {d}")
    if k.shape[:2] != (b, h) or k.shape[3] != d:
        raise ValueError(f"k: expected (batch, heads, n_k, d) = ({b}, {h}, n_k, {d}), "
                         f"got {tuple(k.shape)}")
    if v.shape != k.shape:
        raise ValueError(f"v: expected the shape of k {tuple(k.shape)}, got "
                         f"{tuple(v.shape)}")
    for name, t in (("k", k), ("v", v)):
        if t.dtype != q.dtype or t.device != q.device:
            raise ValueError(f"{name}: expected dtype {q.dtype} on {q.device} as q, "
                             f"got {t.dtype} on {t.device}")
    if k.shape[2] < 1:
        raise ValueError(f"k: expected n_k >= 1, got shape {tuple(k.shape)}")
    if not isinstance(causal, bool):
        raise TypeError(f"causal: expected a bool, got {type(causal).__name__}")
    if scale is not None and (isinstance(scale, bool) or not isinstance(
            scale, (int, float)) or not math.isfinite(scale) or scale <= 0):
        raise ValueError(f"scale: expected a finite float > 0 or None, got {scale!r}")
    if kv_lens is not None:
        if not isinstance(kv_lens, torch.Tensor) or kv_lens.dtype not in (
                torch.int32, torch.int64):
            raise TypeError("kv_lens: expected an int32/int64 tensor of shape (batch,)")
        if kv_lens.shape != (b,) or kv_lens.device != q.device:
            raise ValueError(f"kv_lens: expected shape ({b},) on {q.device}, got "
                             f"{tuple(kv_lens.shape)} on {kv_lens.device}")
        lo, hi = torch.stack(torch.aminmax(kv_lens)).tolist()  # one sync
        if lo < 0 or hi > k.shape[2]:
            raise ValueError(f"kv_lens: expected lengths in [0, {k.shape[2]}], got "
                             f"[{lo}, {hi}]")


def _strides(t):
    if t.stride(-1) != 1:
        t = t.contiguous()
    return t, t.stride()[:3]


def attention_fwd(q, k, v, causal: bool = False, scale: float | None = None,
                  kv_lens: torch.Tensor | None = None):
    """Forward pass: ``(o, lse)`` with ``lse`` the row log-sum-exp in log2 units.

    Args:
        q: ``(batch, heads, n_q, d)``, any strides with a contiguous last axis;
            d in {16, 32, 64, 128}; fp32/fp16 (bf16 on a GPU).
        k: ``(batch, heads, n_k, d)``, dtype and device of ``q``.
        v: as ``k``.
        causal: bottom-right causal mask (query i sees keys ``j <= i + L - n_q``).
        scale: softmax scale, default ``1 / sqrt(d)``.
        kv_lens: ``(batch,)`` valid keys per batch row (the rest is padding), or
            ``None`` for all ``n_k``.

    Returns:
        ``o`` contiguous ``(batch, heads, n_q, d)`` in q's dtype (zero where a row
        sees no key) and ``lse`` float32 ``(batch, heads, n_q)``.
    """
    _check(q, k, v, causal, scale, kv_lens)
    return _fwd(q, k, v, causal, scale, kv_lens)


#: the forward's switches, as measured on the H200 (``results/gpu/kernels.json``,
#: "ablation"): split causal stages, tensor-descriptor (TMA) loads of K and V where
#: the layout allows them. Longest causal row blocks first gained 1.04-1.15x in the
#: ablation but was not on in the run that measured the defaults, so it stays off
FWD_FLAGS = {"SPLIT": True, "TMA": True, "REVERSE": False}
BWD_FLAGS = {"SPLIT": True}


@functools.lru_cache(maxsize=8)
def _hopper(index: int) -> bool:
    return torch.cuda.get_device_capability(index)[0] >= 9


def _tma_ok(*ts) -> bool:
    """Whether Hopper's tensor descriptors can address these tensors (16-byte rules)."""
    if INTERPRETER or not _hopper(ts[0].device.index or 0):
        return False
    for t in ts:
        es = t.element_size()
        if t.data_ptr() % 16 or any((s * es) % 16 for s in t.stride()[:3]):
            return False
    return True


#: scratch memory for device-side descriptors, one buffer per (device, stream)
_SCRATCH: dict[tuple[int, int], torch.Tensor] = {}


def _alloc(size, alignment, stream):
    """Triton's scratch for device-side descriptors, reused on each stream.

    Kernels on one stream run one after another, so each may take the buffer the
    last one used; this spares an allocation per launch (a few us of host time).
    """
    key = (torch.cuda.current_device(), stream)
    buf = _SCRATCH.get(key)
    if buf is None or buf.numel() < size:
        # torch's allocations are 512-byte aligned, more than Triton asks (<= 128)
        buf = _SCRATCH[key] = torch.empty(max(size, 1 << 16), dtype=torch.int8,
                                          device="cuda")
    return buf


@functools.cache
def _set_allocator():
    """Device-side descriptors need scratch memory; Triton asks for it here (once)."""
    triton.set_allocator(_alloc)


def _fwd(q, k, v, causal, scale, kv_lens, config=None, flags=None):
    b, h, n_q, d = q.shape
    n_k = k.shape[2]
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    (q, sq), (k, sk), (v, sv) = _strides(q), _strides(k), _strides(v)
    o = torch.empty(b, h, n_q, d, dtype=q.dtype, device=q.device)
    lse = torch.empty(b, h, n_q, dtype=torch.float32, device=q.device)
    # without lengths the kernel never reads ``lens_ptr``: any pointer will do
    lens = kv_lens.to(torch.int32) if kv_lens is not None else lse
    flags = dict(FWD_FLAGS if flags is None else flags)
    flags["REVERSE"] = bool(flags.get("REVERSE")) and causal
    if flags.get("TMA"):
        flags["TMA"] = _tma_ok(k, v)
        if flags["TMA"]:
            _set_allocator()

    def launch(c):
        bm, bn, warps, stages = c
        _FWD((triton.cdiv(n_q, bm), b * h),
            q, k, v, o, lse, lens, *sq, *sk, *sv, h, n_q, n_k, scale * LOG2E,
            CAUSAL=causal, HAS_LENS=kv_lens is not None, D=d, BLOCK_M=bm,
            BLOCK_N=bn, num_warps=warps, num_stages=stages, **flags)

    key = (n_q, n_k, d, causal, q.dtype, *flags.values())
    with _as_on_a_gpu():
        launch(config or _pick("fwd", key, launch))
    return o, lse


def _bwd(q, k, v, o, lse, do, causal, scale, kv_lens, configs=None, flags=None):
    b, h, n_q, d = q.shape
    n_k = k.shape[2]
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    (q, sq), (k, sk), (v, sv) = _strides(q), _strides(k), _strides(v)
    do = do.contiguous()
    delta = torch.empty_like(lse)
    dq = torch.empty(b, h, n_q, d, dtype=q.dtype, device=q.device)
    dk = torch.empty(b, h, n_k, d, dtype=q.dtype, device=q.device)
    dv = torch.empty_like(dk)
    lens = kv_lens.to(torch.int32) if kv_lens is not None else lse  # as in _fwd
    flags = dict(BWD_FLAGS if flags is None else flags)
    common = dict(CAUSAL=causal, HAS_LENS=kv_lens is not None, D=d, **flags)
    rows = b * h * n_q
    bmd = 16 if INTERPRETER else 64

    def launch_kv(c):
        bm, bn, warps, stages = c
        _DKDV((triton.cdiv(n_k, bn), b * h),
            q, k, v, do, lse, delta, dk, dv, lens, *sq, *sk, *sv, h, n_q, n_k, scale,
            scale * LOG2E, BLOCK_M=bm, BLOCK_N=bn, num_warps=warps,
            num_stages=stages, **common)

    def launch_q(c):
        bm, bn, warps, stages = c
        _DQ((triton.cdiv(n_q, bm), b * h),
            q, k, v, do, lse, delta, dq, lens, *sq, *sk, *sv, h, n_q, n_k, scale,
            scale * LOG2E, BLOCK_M=bm, BLOCK_N=bn, num_warps=warps,
            num_stages=stages, **common)

    key = (n_q, n_k, d, causal, q.dtype, *flags.values())
    ckv, cq = configs or (None, None)
    with _as_on_a_gpu():
        _DELTA((triton.cdiv(rows, bmd),), o, do, delta, rows, D=d, BLOCK_M=bmd)
        launch_kv(ckv or _pick("dkdv", key, launch_kv))
        launch_q(cq or _pick("dq", key, launch_q))
    return dq, dk, dv


class _Attention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal, scale, kv_lens):
        o, lse = _fwd(q, k, v, causal, scale, kv_lens)
        ctx.save_for_backward(q, k, v, o, lse)
        ctx.opts = (causal, scale, kv_lens)
        return o

    @staticmethod
    def backward(ctx, do):
        q, k, v, o, lse = ctx.saved_tensors
        dq, dk, dv = _bwd(q, k, v, o, lse, do, *ctx.opts)
        return dq, dk, dv, None, None, None


def attention(q, k, v, causal: bool = False, scale: float | None = None,
              kv_lens: torch.Tensor | None = None) -> torch.Tensor:
    """Differentiable attention output; the arguments of :func:`attention_fwd`.

    Book: notebooks/pebble_io/lecture.md, "A Triton FlashAttention".
    """
    _check(q, k, v, causal, scale, kv_lens)
    if not (torch.is_grad_enabled() and (q.requires_grad or k.requires_grad
                                         or v.requires_grad)):
        # nothing to differentiate: skip autograd's bookkeeping (about 20 us a call
        # on the H200 host, as long as the whole kernel at n = 1k)
        return _fwd(q, k, v, causal, scale, kv_lens)[0]
    return _Attention.apply(q, k, v, causal, scale, kv_lens)


def attention_mask(n_q: int, n_k: int, causal: bool = False,
                   kv_lens: torch.Tensor | None = None,
                   device: str | torch.device = "cpu") -> torch.Tensor:
    """The boolean mask the kernels apply, ``(batch or 1, 1, n_q, n_k)``.

    ``True`` where query i may see key j: ``j < L_b`` and, if causal,
    ``j <= i + L_b - n_q``. For references (SDPA with ``attn_mask``) and tests.
    """
    for name, x in (("n_q", n_q), ("n_k", n_k)):
        if isinstance(x, bool) or not isinstance(x, int) or x < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {x!r}")
    if not isinstance(causal, bool):
        raise TypeError(f"causal: expected a bool, got {type(causal).__name__}")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device: expected a str or torch.device, got {device!r}")
    try:
        device = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(f"device: not a device name: {device!r}") from exc
    if kv_lens is None:
        lens = torch.tensor([n_k], device=device)
    else:
        if not isinstance(kv_lens, torch.Tensor) or kv_lens.dim() != 1 or (
                kv_lens.dtype not in (torch.int32, torch.int64)):
            raise TypeError("kv_lens: expected a 1-D int32/int64 tensor")
        if kv_lens.device.type != device.type or device.index not in (
                None, kv_lens.device.index):
            raise ValueError(f"kv_lens: expected device {device}, got {kv_lens.device}")
        lens = kv_lens.to(torch.int64)
    i = torch.arange(n_q, device=device)[:, None]
    j = torch.arange(n_k, device=device)[None, :]
    lens = lens[:, None, None, None]
    keep = j < lens
    if causal:
        keep = keep & (j <= i + lens - n_q)
    return keep
