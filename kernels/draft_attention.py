"""Block-sparse attention forward and the token permutation, in Triton.

What you will learn:

* a block-sparse FlashAttention forward: each program holds one tile of queries
  and streams only the key blocks its row of the block mask keeps, read from a
  per-row list (``idx[row, :cnt[row]]``), with the online softmax; the work, and
  so the time, falls with the kept fraction;
* ragged ends (``n`` not a multiple of the block) are masked loads and ``-inf``
  scores, as in the dense kernel of :mod:`effteach.kernels.pebble_io`;
* the permutation that makes each pooled window contiguous is a row gather, and
  its inverse a row scatter: pure memory traffic.

Credit: the online-softmax loop follows FlashAttention-2 (Dao 2023) as in the
pebble_io chapter; the kept-block lists play the role of the block-sparse kernel
of mit-han-lab's Block-Sparse-Attention that DraftAttention calls, written here
from scratch.
Paper: arXiv 2505.14708, Section 3.3.
Book: notebooks/draft_attention/lecture.md, "A Triton kernel".
"""

from __future__ import annotations

import collections
import math
import weakref

import torch
import triton
import triton.language as tl

from effteach.checks import check_int, check_tensor
from effteach.device import INTERPRETER, check_kernel_dtype
from effteach.device import as_on_a_gpu as _as_on_a_gpu

LOG2E = 1.4426950408889634

#: block lists whose values are known to be in range: checked once by
#: :func:`block_sparse_attn`, or built in range by ``kv_block_lists``. Keyed by
#: ``id(idx)``; an entry holds weak references (so that a reused id cannot match) and
#: both tensors' ``_version``, which any in-place change bumps, voiding the entry.
_CHECKED: collections.OrderedDict = collections.OrderedDict()
_CHECKED_MAX = 64


def _mark_checked(idx: torch.Tensor, cnt: torch.Tensor, n_rows: int) -> None:
    """Record that ``idx``/``cnt`` hold valid block lists for ``n_rows`` key blocks.

    Later :func:`block_sparse_attn` calls with these very tensors, unchanged, skip
    the value check and its device-to-host copy (the way FlexAttention checks a
    ``BlockMask`` once, when it is built). For builders that make valid lists by
    construction, such as ``effteach.draft_attention.kv_block_lists``.
    """
    _CHECKED[id(idx)] = (weakref.ref(idx), idx._version, weakref.ref(cnt),
                         cnt._version, n_rows)
    _CHECKED.move_to_end(id(idx))
    while len(_CHECKED) > _CHECKED_MAX:
        _CHECKED.popitem(last=False)


def _is_checked(idx, cnt, n_rows) -> bool:
    e = _CHECKED.get(id(idx))
    return (e is not None and e[0]() is idx and e[1] == idx._version
            and e[2]() is cnt and e[3] == cnt._version and e[4] == n_rows)


@triton.jit
def _bsa_fwd_kernel(
    q_ptr, k_ptr, v_ptr, o_ptr,  # (bh, n, D)
    idx_ptr, cnt_ptr,  # idx: (bh, n_rows, width) int32; cnt: (bh, n_rows) int32
    n_ctx, n_rows, width, scale_log2,
    D: tl.constexpr,
    BLOCK: tl.constexpr,  # mask block (multiple of BLOCK_M and BLOCK_N)
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    EVEN: tl.constexpr,  # n % BLOCK == 0: no ragged key block, no masks
):
    pid_m = tl.program_id(0)
    bh = tl.program_id(1)
    base = bh.to(tl.int64) * n_ctx * D
    row = (pid_m * BLOCK_M) // BLOCK
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, D)
    row_ok = offs_m < n_ctx
    q = tl.load(q_ptr + base + offs_m[:, None] * D + offs_d[None, :],
                mask=row_ok[:, None], other=0.0)
    m_i = tl.full((BLOCK_M,), -float("inf"), tl.float32)
    l_i = tl.zeros((BLOCK_M,), tl.float32)
    acc = tl.zeros((BLOCK_M, D), tl.float32)
    rbase = (bh.to(tl.int64) * n_rows + row)
    n_kept = tl.load(cnt_ptr + rbase)
    for j in range(0, n_kept):
        kb = tl.load(idx_ptr + rbase * width + j)
        for sub in tl.static_range(BLOCK // BLOCK_N):
            offs_n = kb * BLOCK + sub * BLOCK_N + tl.arange(0, BLOCK_N)
            if EVEN:
                k = tl.load(k_ptr + base + offs_n[:, None] * D + offs_d[None, :])
                v = tl.load(v_ptr + base + offs_n[:, None] * D + offs_d[None, :])
                s = tl.dot(q, tl.trans(k)) * scale_log2
            else:
                col_ok = offs_n < n_ctx
                k = tl.load(k_ptr + base + offs_n[:, None] * D + offs_d[None, :],
                            mask=col_ok[:, None], other=0.0)
                v = tl.load(v_ptr + base + offs_n[:, None] * D + offs_d[None, :],
                            mask=col_ok[:, None], other=0.0)
                s = tl.dot(q, tl.trans(k)) * scale_log2
                s = tl.where(col_ok[None, :], s, -float("inf"))
            m_new = tl.maximum(m_i, tl.max(s, axis=1))
            m_safe = tl.where(m_new == -float("inf"), 0.0, m_new)
            p = tl.math.exp2(s - m_safe[:, None])
            alpha = tl.math.exp2(m_i - m_safe)
            l_i = l_i * alpha + tl.sum(p, axis=1)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
            m_i = m_new
    l_safe = tl.where(l_i == 0.0, 1.0, l_i)
    tl.store(o_ptr + base + offs_m[:, None] * D + offs_d[None, :],
             (acc / l_safe[:, None]).to(o_ptr.dtype.element_ty),
             mask=row_ok[:, None])


@triton.jit
def _permute_rows_kernel(x_ptr, perm_ptr, o_ptr, n_ctx, D: tl.constexpr,
                         ROWS: tl.constexpr, SCATTER: tl.constexpr):
    pid = tl.program_id(0)
    bh = tl.program_id(1)
    base = bh.to(tl.int64) * n_ctx * D
    r = pid * ROWS + tl.arange(0, ROWS)
    ok = r < n_ctx
    src = tl.load(perm_ptr + r, mask=ok, other=0).to(tl.int64)
    offs_d = tl.arange(0, D)
    if SCATTER:  # out[perm[r]] = x[r]
        x = tl.load(x_ptr + base + r[:, None] * D + offs_d[None, :], mask=ok[:, None])
        tl.store(o_ptr + base + src[:, None] * D + offs_d[None, :], x,
                 mask=ok[:, None])
    else:  # out[r] = x[perm[r]]
        x = tl.load(x_ptr + base + src[:, None] * D + offs_d[None, :],
                    mask=ok[:, None])
        tl.store(o_ptr + base + r[:, None] * D + offs_d[None, :], x, mask=ok[:, None])


def _check_device(name, t, like=None):
    want = ("cpu" if INTERPRETER else "cuda") if like is None else like.device
    got = t.device.type if like is None else t.device
    if got != want:
        where = ("CPU tensors (Triton interpreter)" if INTERPRETER
                 else "CUDA tensors") if like is None else f"device {want}"
        raise ValueError(f"{name}: expected {where}, got device {t.device}")


def _check_config(config, block):
    if config is None:
        bm = min(block, 16 if INTERPRETER else 64)
        return bm, bm, (1 if INTERPRETER else 4), (1 if INTERPRETER else 3)
    ok = (isinstance(config, tuple) and len(config) == 4
          and all(isinstance(c, int) and not isinstance(c, bool) and c >= 1
                  for c in config)
          and all(c & (c - 1) == 0 and c >= 16 for c in config[:2]))
    if not ok:
        raise ValueError(
            "config: expected (BLOCK_M, BLOCK_N, num_warps, num_stages), tiles "
            f"powers of two >= 16, all ints >= 1, or None; got {config!r}")
    if block % config[0] or block % config[1]:
        raise ValueError(f"config: tiles {config[0]}, {config[1]} must divide "
                         f"block={block}")
    return config


def _check_head_dim(name, t):
    d = t.shape[-1]
    if d not in (16, 32, 64, 128):
        raise ValueError(f"{name}: expected d_head in (16, 32, 64, 128), got {d}")


def _check_attn(q, k, v):
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_tensor(name, t, ndim=4, kind="float")
        check_kernel_dtype(name, t)
    for name, t in (("k", k), ("v", v)):
        if t.shape != q.shape:
            raise ValueError(f"{name}: expected shape {tuple(q.shape)} as q "
                             f"(same batch, heads, n, d), got {tuple(t.shape)}")
        if t.dtype != q.dtype or t.device != q.device:
            raise ValueError(f"{name}: expected dtype {q.dtype} on {q.device} as q")
    _check_head_dim("q", q)
    _check_device("q", q)


def block_sparse_attn(q, k, v, idx, cnt, block: int = 128,
                      config: tuple[int, int, int, int] | None = None,
                      scale: float | None = None):
    """Attention over the kept key blocks of each query block.

    Args:
        q: queries ``(batch, heads, n, d)``, d in {16, 32, 64, 128}; fp16/bf16
            (fp32 and fp16 in the interpreter).
        k: keys, as ``q``.
        v: values, as ``q``.
        idx: ``(batch, heads, ceil(n / block), width)`` int32 kept key blocks of
            each query block (:func:`effteach.draft_attention.kv_block_lists`).
        cnt: ``(batch, heads, ceil(n / block))`` int32 how many of ``idx`` count.
        block: mask block size in tokens (a power of two, >= 16).
        config: ``(BLOCK_M, BLOCK_N, num_warps, num_stages)``; both tiles divide
            ``block``.
        scale: softmax scale, default ``1 / sqrt(d)``.

    Returns:
        The output, shape and dtype of ``q``; rows with no kept block are zero.

    Book: notebooks/draft_attention/lecture.md, "A Triton kernel".
    """
    _check_attn(q, k, v)
    block = check_int("block", block, 16)
    if block & (block - 1):
        raise ValueError(f"block: expected a power of two, got {block}")
    b, h, n, d = q.shape
    n_rows = triton.cdiv(n, block)
    check_tensor("idx", idx, ndim=4, kind="int")
    check_tensor("cnt", cnt, shape=(b, h, n_rows), kind="int",
                 shape_of="(batch, heads, ceil(n / block))")
    _check_device("idx", idx, q)
    _check_device("cnt", cnt, q)
    if tuple(idx.shape[:3]) != (b, h, n_rows):
        raise ValueError(f"idx: expected (batch, heads, rows) = {(b, h, n_rows)}, "
                         f"got {tuple(idx.shape)}")
    if _is_checked(idx, cnt, n_rows):
        pass  # these very lists were checked (or built valid), and not changed since
    elif cnt.numel() and idx.numel():
        # the value checks in one device-to-host copy (each sync costs the GPU a
        # gap: four of them took 0.35 ms, a quarter of a 90%-sparse 32k call; one
        # still costs 0.1 ms, so the result is remembered for these tensors)
        c_lo, c_hi, i_lo, i_hi = torch.stack(
            [t.long() for t in (*torch.aminmax(cnt.flatten()),
                                *torch.aminmax(idx.flatten()))]
        ).tolist()
        if c_lo < 0 or c_hi > idx.shape[-1]:
            raise ValueError(f"cnt: expected counts in [0, {idx.shape[-1]}]")
        if i_lo < 0 or i_hi >= n_rows:
            raise ValueError(f"idx: expected key-block indices in [0, {n_rows}), "
                             f"got [{i_lo}, {i_hi}]")
        _mark_checked(idx, cnt, n_rows)
    elif cnt.numel() and (int(cnt.min()) < 0 or int(cnt.max()) > 0):
        raise ValueError(f"cnt: expected counts in [0, {idx.shape[-1]}]")
    bm, bn, warps, stages = _check_config(config, block)
    if scale is not None and (isinstance(scale, bool) or not isinstance(
            scale, (int, float)) or not math.isfinite(scale) or scale <= 0):
        raise ValueError(f"scale: expected a finite float > 0 or None, got {scale!r}")
    return _launch_bsa(q, k, v, idx, cnt, block, (bm, bn, warps, stages), scale)


def _launch_bsa(q, k, v, idx, cnt, block, config, scale=None):
    """:func:`block_sparse_attn` without the argument checks.

    For trusted callers: the pipeline, whose block lists come from
    :func:`effteach.draft_attention.kv_block_lists`.
    """
    b, h, n, d = q.shape
    n_rows = triton.cdiv(n, block)
    bm, bn, warps, stages = config
    scale = 1.0 / math.sqrt(d) if scale is None else float(scale)
    q, k, v = (t.contiguous() for t in (q, k, v))
    idx = idx.to(device=q.device, dtype=torch.int32).contiguous()
    cnt = cnt.to(device=q.device, dtype=torch.int32).contiguous()
    o = torch.empty_like(q)
    grid = (triton.cdiv(n, bm), b * h)
    with _as_on_a_gpu():
        _bsa_fwd_kernel[grid](q, k, v, o, idx, cnt, n, n_rows, idx.shape[-1],
                              scale * LOG2E, D=d, BLOCK=block, BLOCK_M=bm,
                              BLOCK_N=bn, EVEN=n % block == 0, num_warps=warps,
                              num_stages=stages)
    return o


def _permute(x, perm, scatter: bool, rows: int = 64):
    check_tensor("x", x, ndim=4, kind="float")
    check_kernel_dtype("x", x)
    _check_head_dim("x", x)
    n = x.shape[2]
    _check_device("x", x)
    check_tensor("perm", perm, shape=(n,), kind="int", shape_of="x.shape[2]")
    _check_device("perm", perm, x)
    # an out-of-range index would read or write outside the tensor: refuse it here
    hit = torch.zeros(n, dtype=torch.bool, device=perm.device)
    if n and (int(perm.min()) < 0 or int(perm.max()) >= n):
        raise ValueError(f"perm: expected a permutation of range({n}), got values "
                         f"in [{int(perm.min())}, {int(perm.max())}]")
    hit[perm.long()] = True
    if not bool(hit.all()):
        raise ValueError(f"perm: expected a permutation of range({n}) (repeats)")
    return _launch_permute(x, perm, scatter, rows)


def _launch_permute(x, perm, scatter: bool, rows: int = 64):
    """The gather (``scatter=False``) or scatter launch without the checks."""
    n = x.shape[2]
    x = x.contiguous()
    perm = perm.to(device=x.device, dtype=torch.int32).contiguous()
    o = torch.empty_like(x)
    grid = (triton.cdiv(n, rows), x.shape[0] * x.shape[1])
    with _as_on_a_gpu():
        _permute_rows_kernel[grid](x, perm, o, n, D=x.shape[-1], ROWS=rows,
                                   SCATTER=scatter)
    return o


def gather_rows(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """``x[..., perm, :]`` with a Triton kernel (tokens into window order).

    Args:
        x: ``(batch, heads, n, d)``, d in {16, 32, 64, 128}.
        perm: ``(n,)`` a permutation of ``range(n)`` (checked: one bad index
            would read outside ``x``).
    """
    return _permute(x, perm, scatter=False)


def scatter_rows(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """``out[..., perm, :] = x``: the inverse of :func:`gather_rows`."""
    return _permute(x, perm, scatter=True)
