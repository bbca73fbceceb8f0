"""Graded questions of the pebble_io assignment, each with one known-wrong answer.

Four questions: the online-softmax update of one key tile, the piece of the kernel
that FlashAttention repeats (q1); the FlashAttention-2 forward schedule played on the
two-level memory, whose outputs must equal the reference and whose loads and stores
must equal the closed form :func:`~effteach.pebble_io.counts.fa2_fwd_io` (q2); the
crossover of the two branches of the backward bound, derived in SymPy (q3); and the
crossover of the exact counts of FlashAttention-2 and square tiling, measured from the
closed forms (q4). The hidden test of q2 uses :func:`library_schedules_disabled`, so
an answer must play the schedule itself rather than call
:func:`~effteach.pebble_io.schedules.fa2_forward`. Q5 is a Triton kernel: the inner
loop of the FlashAttention-2 forward (online softmax with rescaling, the tail and
causal masks) and its log-sum-exp output, run by :func:`launch_attention` in the CPU
interpreter on a laptop; its typical bugs are kept in :data:`ATTENTION_BUGS`, the
first of which is the registered wrong answer.

Book: notebooks/pebble_io/assignment.md.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator

import numpy as np
import sympy as sp
import torch
import triton
import triton.language as tl

from effteach.grading import Question, register
from effteach.grading_triton import (
    SpeedTest,
    check_guard,
    guarded_empty,
    register_speed,
)
from effteach.pebble_io import schedules
from effteach.pebble_io.counts import fa2_fwd_io, fa_fwd_residency
from effteach.pebble_io.experiments import (
    cache_grid,
    closed_form_curve,
    crossover_point,
)
from effteach.pebble_io.memory import TwoLevelMemory
from effteach.pebble_io.reference import attention_lse_ref, attention_ref
from effteach.pebble_io.symbolic import symbols

__all__ = [
    "ATTENTION_BUGS",
    "CROSSOVER_EXPERIMENT",
    "launch_attention",
    "library_schedules_disabled",
    "on_memory",
    "online_attention",
]

#: the protocol of q4: one head's sizes and the cache grid (points per octave)
CROSSOVER_EXPERIMENT = {"n_ctx": 256, "d_head": 16, "per_octave": 2}


# ----------------------------------------------------------------------- q1
def _online_update_ref(m, lsum, acc, s_block, v_block):
    """``m' = max(m, rowmax s)``, rescale ``l`` and ``acc`` by ``e^{m - m'}``."""
    m_new = torch.maximum(m, s_block.max(dim=1).values)
    alpha = torch.exp(m - m_new)
    p = torch.exp(s_block - m_new[:, None])
    return m_new, lsum * alpha + p.sum(dim=1), acc * alpha[:, None] + p @ v_block


def _online_update_wrong(m, lsum, acc, s_block, v_block):
    """Rescales the running sum ``l`` but forgets to rescale the accumulator."""
    m_new = torch.maximum(m, s_block.max(dim=1).values)
    alpha = torch.exp(m - m_new)
    p = torch.exp(s_block - m_new[:, None])
    return m_new, lsum * alpha + p.sum(dim=1), acc + p @ v_block


def _online_update_cases(n: int, seed: int) -> list[tuple]:
    """Seeded cases of q1: the first step (``m = -inf``), then states of earlier tiles.

    Case 0 is the first key tile (``m = -inf``, ``lsum = 0``, ``acc = 0``); case 1 has a
    new tile whose scores all exceed the running maximum (every row rescales); later
    cases are the state after a random earlier tile, with scores on both sides.
    """
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for i in range(n):
        rows = 1 + (seed + 3 * i) % 6
        cols = 1 + (2 * seed + 5 * i) % 7
        d = 2 + (seed + i) % 5
        s = torch.randn(rows, cols, generator=gen, dtype=torch.float64) * 2
        v = torch.randn(cols, d, generator=gen, dtype=torch.float64)
        if i == 0:
            m = torch.full((rows,), -math.inf, dtype=torch.float64)
            lsum = torch.zeros(rows, dtype=torch.float64)
            acc = torch.zeros(rows, d, dtype=torch.float64)
        else:
            s0 = torch.randn(rows, 3, generator=gen, dtype=torch.float64) * 2
            if i == 1:
                s = s + (s0.max() - s.min()) + 1.0  # every new score beats the max
            v0 = torch.randn(3, d, generator=gen, dtype=torch.float64)
            m = s0.max(dim=1).values
            p0 = torch.exp(s0 - m[:, None])
            lsum, acc = p0.sum(dim=1), p0 @ v0
        cases.append((m, lsum, acc, s, v))
    return cases


def online_attention(update: Callable, q, k, v, block_n: int) -> torch.Tensor:
    """Attention of one head by repeated online updates over key tiles of ``block_n``.

    Args:
        update: ``(m, lsum, acc, s_block, v_block) -> (m, lsum, acc)``, as in q1.
        q: queries, (n_ctx, d_head) float64 tensor.
        k: keys, the same shape.
        v: values, the same shape.
        block_n: key-tile height.

    Returns:
        ``acc / l`` after the last tile, (n_ctx, d_head).

    Book: notebooks/pebble_io/assignment.md, Q1.
    """
    n, d = q.shape
    m = torch.full((n,), -math.inf, dtype=q.dtype)
    lsum = torch.zeros(n, dtype=q.dtype)
    acc = torch.zeros(n, d, dtype=q.dtype)
    scale = 1.0 / math.sqrt(d)
    for c0 in range(0, k.shape[0], block_n):
        s = scale * q @ k[c0:c0 + block_n].T
        m, lsum, acc = update(m, lsum, acc, s, v[c0:c0 + block_n])
    return acc / lsum[:, None]


# ----------------------------------------------------------------------- q2
def _fa2_schedule_ref(mem, n_ctx, d_head, block_m, block_n) -> None:
    """FlashAttention-2 forward on ``mem``: Q_i resident, K_j and V_j streamed."""
    scale = 1.0 / math.sqrt(d_head)
    for r0 in range(0, n_ctx, block_m):
        r1 = min(r0 + block_m, n_ctx)
        qi = mem.load("Q", slice(r0, r1))
        acc = mem.alloc((r1 - r0, d_head), "O_acc")
        m = mem.alloc(r1 - r0, "m", fill=-np.inf)
        lsum = mem.alloc(r1 - r0, "lsum")
        for c0 in range(0, n_ctx, block_n):
            c1 = min(c0 + block_n, n_ctx)
            kj, vj = mem.load("K", slice(c0, c1)), mem.load("V", slice(c0, c1))
            s = mem.alloc((r1 - r0, c1 - c0), "S")
            s.value = scale * qi.value @ kj.value.T
            m_new = np.maximum(m.value, s.value.max(axis=1))
            alpha = np.exp(m.value - m_new)
            s.value = np.exp(s.value - m_new[:, None])
            lsum.value = lsum.value * alpha + s.value.sum(axis=1)
            acc.value = acc.value * alpha[:, None] + s.value @ vj.value
            m.value = m_new
            mem.free(kj, vj, s)
        acc.value = acc.value / lsum.value[:, None]
        m.value = m.value + np.log(lsum.value)
        mem.store(acc, "O", slice(r0, r1))
        mem.store(m, "L", slice(r0, r1))
        mem.free(qi, acc, m, lsum)


def _fa2_schedule_wrong(mem, n_ctx, d_head, block_m, block_n) -> None:
    """Loads Q_i again for every key tile: the numbers are right, the loads are not.

    Q is then read ``T_c`` times instead of once.
    """
    scale = 1.0 / math.sqrt(d_head)
    for r0 in range(0, n_ctx, block_m):
        r1 = min(r0 + block_m, n_ctx)
        acc = mem.alloc((r1 - r0, d_head), "O_acc")
        m = mem.alloc(r1 - r0, "m", fill=-np.inf)
        lsum = mem.alloc(r1 - r0, "lsum")
        for c0 in range(0, n_ctx, block_n):
            c1 = min(c0 + block_n, n_ctx)
            qi = mem.load("Q", slice(r0, r1))
            kj, vj = mem.load("K", slice(c0, c1)), mem.load("V", slice(c0, c1))
            s = mem.alloc((r1 - r0, c1 - c0), "S")
            s.value = scale * qi.value @ kj.value.T
            m_new = np.maximum(m.value, s.value.max(axis=1))
            alpha = np.exp(m.value - m_new)
            s.value = np.exp(s.value - m_new[:, None])
            lsum.value = lsum.value * alpha + s.value.sum(axis=1)
            acc.value = acc.value * alpha[:, None] + s.value @ vj.value
            m.value = m_new
            mem.free(qi, kj, vj, s)
        acc.value = acc.value / lsum.value[:, None]
        m.value = m.value + np.log(lsum.value)
        mem.store(acc, "O", slice(r0, r1))
        mem.store(m, "L", slice(r0, r1))
        mem.free(acc, m, lsum)


def _no_peeking(*_args, **_kw):
    raise RuntimeError(
        "mem.result is switched off while the schedule runs: reading slow memory "
        "without a load is not a move of the pebble game"
    )


def on_memory(schedule: Callable) -> Callable:
    """Wrap a schedule ``(mem, n_ctx, d_head, block_m, block_n) -> None`` for check.

    The wrapped function takes ``(q, k, v, block_m, block_n)`` (numpy float64), makes a
    :class:`TwoLevelMemory` of exactly FlashAttention's working set
    ``fa_fwd_residency(d, block_m, block_n)`` words, puts ``Q, K, V`` in slow memory,
    creates ``O`` (n, d) and ``L`` (n,), runs the schedule (with ``mem.result``
    switched off), and returns ``(O, L, [loads, stores])``.

    Raises:
        TypeError: if ``schedule`` is not a function.

    Book: notebooks/pebble_io/assignment.md, Q2.
    """
    if not callable(schedule):
        raise TypeError(
            f"schedule: expected a function, got {type(schedule).__name__}"
        )

    def run(q, k, v, block_m, block_n):
        n, d = q.shape
        mem = TwoLevelMemory(fa_fwd_residency(d, block_m, block_n))
        for name, x in (("Q", q), ("K", k), ("V", v)):
            mem.put(name, x)
        mem.create("O", (n, d))
        mem.create("L", (n,))
        mem.result = _no_peeking  # an instance attribute shadows the method
        try:
            schedule(mem, n, d, block_m, block_n)
        finally:
            del mem.result
        return mem.result("O"), mem.result("L"), np.array([mem.loads, mem.stores])

    run.__name__ = getattr(schedule, "__name__", "schedule")
    return run


def _fa2_reference(q, k, v, block_m, block_n):
    n, d = q.shape
    io = fa2_fwd_io(n, d, block_m, block_n)
    return attention_ref(q, k, v), attention_lse_ref(q, k), np.array([io.loads,
                                                                      io.stores])


def _fa2_cases(n: int, seed: int) -> list[tuple]:
    """Seeded cases of q2: tiles dividing n first, then ragged last tiles."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        d = int(rng.choice([2, 4, 8]))
        if i == 0:
            n_ctx, bm, bn = 8, 4, 2
        elif i == 1:
            n_ctx, bm, bn = 11, 4, 3  # ragged: the last tiles are smaller
        else:
            n_ctx = int(rng.integers(3, 25))
            bm, bn = int(rng.integers(1, n_ctx + 1)), int(rng.integers(1, n_ctx + 1))
        q, k, v = (rng.standard_normal((n_ctx, d)) * 1.5 for _ in range(3))
        cases.append((q, k, v, bm, bn))
    return cases


@contextlib.contextmanager
def library_schedules_disabled() -> Iterator[None]:
    """Make the library's FlashAttention forward schedules raise for the duration.

    ``fa2_forward`` and ``fa1_forward`` on :mod:`effteach.pebble_io.schedules` and on
    the package, their entries in ``SCHEDULES`` (so :func:`run_schedule` too), and
    the private online update raise ``RuntimeError``; everything is restored after.

    Book: notebooks/pebble_io/assignment.md, Q2.
    """

    def off(*_args, **_kw):
        raise RuntimeError(
            "fa2_forward and fa1_forward are switched off in this test: play the "
            "schedule yourself with mem.load, mem.alloc, mem.store and mem.free"
        )

    import effteach.pebble_io as package

    saved = [
        (owner, name, getattr(owner, name))
        for owner in (schedules, package)
        for name in ("fa2_forward", "fa1_forward", "_online_update")
        if hasattr(owner, name)
    ]
    saved_table = {key: schedules.SCHEDULES[key] for key in ("fa2_fwd", "fa1_fwd")}
    for owner, name, _ in saved:
        setattr(owner, name, off)
    for key in saved_table:
        schedules.SCHEDULES[key] = off
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
        schedules.SCHEDULES.update(saved_table)


# ----------------------------------------------------------------------- q3
def _bound_crossover() -> sp.Expr:
    """The M where ``(n²d² + nd³)/M`` equals ``(n²d + nd²)/√M``: ``d²``."""
    n, d, M = symbols()
    large = (n**2 * d**2 + n * d**3) / M
    small = (n**2 * d + n * d**2) / sp.sqrt(M)
    return sp.solve(sp.Eq(large, small), M)[0]


def _bound_crossover_wrong() -> sp.Expr:
    """Drops ``nd³`` from the large branch but keeps ``nd²`` in the small one."""
    n, d, _ = symbols()
    return n**2 * d**2 / (n + d) ** 2


# ----------------------------------------------------------------------- q4
@functools.lru_cache(maxsize=1)
def _measured_crossover() -> float:
    """Crossover M / d² of the exact totals, FlashAttention-2 against square tiling."""
    n, d = CROSSOVER_EXPERIMENT["n_ctx"], CROSSOVER_EXPERIMENT["d_head"]
    grid = cache_grid(d * d / 8, 4 * d * d, CROSSOVER_EXPERIMENT["per_octave"])
    fa = closed_form_curve("fa2_fwd", n, d, grid)
    sq = closed_form_curve("square_fwd", n, d, grid)
    return crossover_point(grid, fa, sq) / d**2


def _measured_crossover_wrong() -> float:
    """The Θ-bound's crossover taken literally: M = d², so 1."""
    return 1.0


register(
    Question(
        qid="pebble_io.q1",
        prompt="online_softmax_update(m, l, acc, s_block, v_block) -> (m, l, acc): "
        "one key tile of the online softmax.",
        kind="function",
        reference=_online_update_ref,
        wrong=_online_update_wrong,
        make_cases=_online_update_cases,
        rtol=1e-9,
        atol=1e-12,
    )
)

register(
    Question(
        qid="pebble_io.q2",
        prompt="fa2_schedule(mem, n_ctx, d_head, block_m, block_n): the "
        "FlashAttention-2 forward on the two-level memory (outputs and counts).",
        kind="function",
        reference=_fa2_reference,
        wrong=on_memory(_fa2_schedule_wrong),
        make_cases=_fa2_cases,
        rtol=1e-9,
        atol=1e-12,
    )
)

register(
    Question(
        qid="pebble_io.q3",
        prompt="The M where the two branches of the backward I/O bound meet.",
        kind="sympy",
        reference=_bound_crossover,
        wrong=_bound_crossover_wrong,
    )
)

register(
    Question(
        qid="pebble_io.q4",
        prompt="Measured crossover M / d² of FlashAttention-2 and square tiling "
        "(exact totals, best tiles, n = 256, d = 16).",
        kind="value",
        reference=_measured_crossover,
        wrong=_measured_crossover_wrong,
        rtol=1e-6,
        atol=0.0,
    )
)


# ----------------------------------------------------------------------- q5
LOG2E = 1.4426950408889634  # exp(x) = exp2(x * log2 e)
#: tiles of the graded launch (the interpreter runs any size; a GPU wants >= 16)
Q5_BLOCK = 16


@triton.jit
def _attn_kernel_ref(
    q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr, n_ctx, scale_log2,
    CAUSAL: tl.constexpr, D: tl.constexpr, BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    # the staff solution: the loop of kernels/pebble_io.py, lse in natural log
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
        keep = col_ok[None, :]
        if CAUSAL:
            keep = keep & (offs_n[None, :] <= offs_m[:, None])
        s = tl.where(keep, s, -float("inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        alpha = tl.math.exp2(m_i - m_new)
        p = tl.math.exp2(s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    out = acc / l_i[:, None]
    lse = (m_i + tl.math.log2(l_i)) * 0.6931471805599453  # log2 units -> ln
    tl.store(o_ptr + base + offs_m[:, None] * D + offs_d[None, :],
             out.to(o_ptr.dtype.element_ty), mask=row_ok[:, None])
    tl.store(lse_ptr + bh.to(tl.int64) * n_ctx + offs_m, lse, mask=row_ok)


@triton.jit
def _attn_kernel_no_rescale(
    q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr, n_ctx, scale_log2,
    CAUSAL: tl.constexpr, D: tl.constexpr, BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    # rescales the running sum l but not the accumulator: acc += P V only
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
        keep = col_ok[None, :]
        if CAUSAL:
            keep = keep & (offs_n[None, :] <= offs_m[:, None])
        s = tl.where(keep, s, -float("inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        alpha = tl.math.exp2(m_i - m_new)
        p = tl.math.exp2(s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    out = acc / l_i[:, None]
    lse = (m_i + tl.math.log2(l_i)) * 0.6931471805599453
    tl.store(o_ptr + base + offs_m[:, None] * D + offs_d[None, :],
             out.to(o_ptr.dtype.element_ty), mask=row_ok[:, None])
    tl.store(lse_ptr + bh.to(tl.int64) * n_ctx + offs_m, lse, mask=row_ok)


@triton.jit
def _attn_kernel_mask_after_max(
    q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr, n_ctx, scale_log2,
    CAUSAL: tl.constexpr, D: tl.constexpr, BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    # takes the row maximum over masked scores too, then zeroes the masked P:
    # exact in theory, but a large masked score makes every exp2 underflow
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
        keep = col_ok[None, :]
        if CAUSAL:
            keep = keep & (offs_n[None, :] <= offs_m[:, None])
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        alpha = tl.math.exp2(m_i - m_new)
        p = tl.where(keep, tl.math.exp2(s - m_new[:, None]), 0.0)
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    out = acc / l_i[:, None]
    lse = (m_i + tl.math.log2(l_i)) * 0.6931471805599453
    tl.store(o_ptr + base + offs_m[:, None] * D + offs_d[None, :],
             out.to(o_ptr.dtype.element_ty), mask=row_ok[:, None])
    tl.store(lse_ptr + bh.to(tl.int64) * n_ctx + offs_m, lse, mask=row_ok)


@triton.jit
def _attn_kernel_tail_off_by_one(
    q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr, n_ctx, scale_log2,
    CAUSAL: tl.constexpr, D: tl.constexpr, BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    # the tail mask keeps key n_ctx (offs_n <= n_ctx): a zero key, score 0, gets in
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
        keep = offs_n[None, :] <= n_ctx
        if CAUSAL:
            keep = keep & (offs_n[None, :] <= offs_m[:, None])
        s = tl.where(keep, s, -float("inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        alpha = tl.math.exp2(m_i - m_new)
        p = tl.math.exp2(s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    out = acc / l_i[:, None]
    lse = (m_i + tl.math.log2(l_i)) * 0.6931471805599453
    tl.store(o_ptr + base + offs_m[:, None] * D + offs_d[None, :],
             out.to(o_ptr.dtype.element_ty), mask=row_ok[:, None])
    tl.store(lse_ptr + bh.to(tl.int64) * n_ctx + offs_m, lse, mask=row_ok)


@triton.jit
def _attn_kernel_causal_off_by_one(
    q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr, n_ctx, scale_log2,
    CAUSAL: tl.constexpr, D: tl.constexpr, BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    # the causal mask is j < i: no query sees itself, and query 0 sees nothing
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
        keep = col_ok[None, :]
        if CAUSAL:
            keep = keep & (offs_n[None, :] < offs_m[:, None])
        s = tl.where(keep, s, -float("inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        alpha = tl.math.exp2(m_i - m_new)
        p = tl.math.exp2(s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    out = acc / l_i[:, None]
    lse = (m_i + tl.math.log2(l_i)) * 0.6931471805599453
    tl.store(o_ptr + base + offs_m[:, None] * D + offs_d[None, :],
             out.to(o_ptr.dtype.element_ty), mask=row_ok[:, None])
    tl.store(lse_ptr + bh.to(tl.int64) * n_ctx + offs_m, lse, mask=row_ok)


@triton.jit
def _attn_kernel_lse_log2(
    q_ptr, k_ptr, v_ptr, o_ptr, lse_ptr, n_ctx, scale_log2,
    CAUSAL: tl.constexpr, D: tl.constexpr, BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
):
    # stores m + log2 l, the base-2 log-sum-exp (what the lecture's kernel keeps
    # for its own backward), where the question asks for the natural log
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
        keep = col_ok[None, :]
        if CAUSAL:
            keep = keep & (offs_n[None, :] <= offs_m[:, None])
        s = tl.where(keep, s, -float("inf"))
        m_new = tl.maximum(m_i, tl.max(s, axis=1))
        alpha = tl.math.exp2(m_i - m_new)
        p = tl.math.exp2(s - m_new[:, None])
        l_i = l_i * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
        m_i = m_new
    out = acc / l_i[:, None]
    lse = m_i + tl.math.log2(l_i)
    tl.store(o_ptr + base + offs_m[:, None] * D + offs_d[None, :],
             out.to(o_ptr.dtype.element_ty), mask=row_ok[:, None])
    tl.store(lse_ptr + bh.to(tl.int64) * n_ctx + offs_m, lse, mask=row_ok)


#: typical bugs of Q5, each a whole kernel: name -> kernel (the first is registered)
ATTENTION_BUGS = {
    "no rescale of the accumulator": _attn_kernel_no_rescale,
    "mask applied after the max": _attn_kernel_mask_after_max,
    "off-by-one tail mask (offs_n <= n_ctx)": _attn_kernel_tail_off_by_one,
    "off-by-one causal mask (j < i)": _attn_kernel_causal_off_by_one,
    "lse in the wrong base (log2, not ln)": _attn_kernel_lse_log2,
}


def launch_attention(kernel, q, k, v, causal: bool, config=None, guard=True):
    """Run a FlashAttention-2 forward kernel as the grader does.

    Grid ``(cdiv(n_ctx, BLOCK_M), batch * n_heads)``, scale ``1/sqrt(d_head)``
    passed times ``log2 e``, tiles of ``Q5_BLOCK`` (or ``config``); both outputs are
    followed by guard elements (:func:`guarded_empty`) unless ``guard`` is False
    (for timing: the guard costs a fill and a check per call).

    Args:
        kernel: a ``@triton.jit`` kernel with the signature of Q5.
        q: queries, (batch, n_heads, n_ctx, d_head), contiguous, on the kernel's
            device; ``d_head`` a power of two >= 16.
        k: keys, the same shape and dtype.
        v: values, the same shape and dtype.
        causal: mask keys after each query.
        config: ``(BLOCK_M, BLOCK_N, num_warps, num_stages)``, for a GPU.
        guard: check that nothing was written past the outputs.

    Returns:
        ``(o, lse)``: o like ``q``; lse (batch, n_heads, n_ctx) float32, natural log.

    Raises:
        CheckFailed: if the kernel wrote past the end of an output.

    Book: notebooks/pebble_io/assignment.md, Q5.
    """
    b, h, n, d = q.shape
    bm, bn, warps, stages = config or (Q5_BLOCK, Q5_BLOCK, 1, 1)
    if guard:
        o_buf, o = guarded_empty((b, h, n, d), q.dtype, q.device)
        lse_buf, lse = guarded_empty((b, h, n), torch.float32, q.device)
    else:
        o = torch.empty_like(q)
        lse = torch.empty((b, h, n), dtype=torch.float32, device=q.device)
    grid = (triton.cdiv(n, bm), b * h)
    kernel[grid](q.contiguous(), k.contiguous(), v.contiguous(), o, lse, n,
                 LOG2E / math.sqrt(d), CAUSAL=bool(causal), D=d, BLOCK_M=bm,
                 BLOCK_N=bn, num_warps=warps, num_stages=stages)
    if guard:
        check_guard(o_buf, o, "o")
        check_guard(lse_buf, lse, "lse")
    return o, lse


def _attention_spec(q, k, v, causal):
    """The reference: ``attention_ref`` and ``attention_lse_ref`` per head, float64."""
    b, h, n, d = q.shape
    o = np.empty((b, h, n, d))
    lse = np.empty((b, h, n))
    for i in range(b):
        for j in range(h):
            qh, kh, vh = (t[i, j].double().numpy() for t in (q, k, v))
            o[i, j] = attention_ref(qh, kh, vh, causal=bool(causal))
            lse[i, j] = attention_lse_ref(qh, kh, causal=bool(causal))
    return o, lse


def _attention_tolerance(q, k, v, causal) -> tuple[float, float]:
    """fp16: P is rounded to fp16 before P V; fp32: TF32 dots on a GPU."""
    return (5e-3, 5e-3) if q.dtype == torch.float16 else (2e-3, 2e-3)


def _attention_cases(n: int, seed: int) -> list[tuple]:
    """Seeded cases of Q5 (d_head 16, tiles of 16), ragged n first.

    Case 0: n = 37 (three key tiles, the last of 5), not causal, fp32, two heads.
    Case 1: n = 37, causal, fp16. Case 2: n = 21, causal, fp32, built so that the
    masked scores of a tile (later keys, and the zero keys past the end) exceed the
    allowed ones by far: scores grow with the key index, all negative, so that a
    maximum taken before masking makes every exp2 of a row underflow. Later: n
    from 1 to 40 (1 and 5 among them), causal or not, fp32 or fp16.
    """
    gen = torch.Generator().manual_seed(seed)
    d = 16
    cases = []
    for i in range(n):
        dtype = torch.float16 if i % 2 else torch.float32
        heads = 2 if i % 3 == 0 else 1
        if i == 0:
            n_ctx, causal = 37, False
        elif i == 1:
            n_ctx, causal = 37, True
        elif i == 3:
            n_ctx, causal = 1, False
        elif i == 4:
            n_ctx, causal = 5, True
        else:
            n_ctx = 1 + int(torch.randint(0, 40, (), generator=gen))
            causal = bool(i % 2)
        q, k, v = (torch.randn(1, heads, n_ctx, d, generator=gen) for _ in range(3))
        if i == 2:
            n_ctx, causal = 21, True
            u = torch.ones(d) / math.sqrt(d)
            rows = torch.arange(n_ctx, dtype=torch.float32)
            q = (-8.0 * u).expand(1, 1, n_ctx, d).clone()  # every query: -8 u
            k = ((40.0 - 4.0 * rows)[:, None] * u).expand(1, 1, n_ctx, d).clone()
            q = q + 0.05 * torch.randn(q.shape, generator=gen)
            k = k + 0.05 * torch.randn(k.shape, generator=gen)
            v = torch.randn(1, 1, n_ctx, d, generator=gen)
        cases.append((q.to(dtype), k.to(dtype), v.to(dtype), causal))
    return cases


register(
    Question(
        qid="pebble_io.q5",
        prompt="attn_fwd_kernel: the inner loop of the FlashAttention-2 forward "
        "(online softmax with rescaling, tail and causal masks) and the natural-log "
        "log-sum-exp it stores.",
        kind="kernel",
        reference=_attention_spec,
        wrong=_attn_kernel_no_rescale,
        make_cases=_attention_cases,
        launch=launch_attention,
        tolerance=_attention_tolerance,
        output_names=("o", "lse"),
        solution=_attn_kernel_ref,
    )
)


def _speed_inputs() -> tuple:
    gen = torch.Generator(device="cuda").manual_seed(0)
    shape = (4, 32, 4096, 64)
    q, k, v = (torch.randn(shape, device="cuda", dtype=torch.bfloat16, generator=gen)
               for _ in range(3))
    return q, k, v


def _speed_launch(kernel, q, k, v):
    return launch_attention(kernel, q, k, v, True, config=(64, 64, 4, 3),
                            guard=False)


def _sdpa_flash(q, k, v):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        return torch.nn.functional.scaled_dot_product_attention(q, k, v,
                                                                is_causal=True)


register_speed(
    "pebble_io.q5",
    SpeedTest(
        label="bf16, causal, batch 4, 32 heads, n = 4096, d = 64",
        make_inputs=_speed_inputs,
        launch=_speed_launch,
        baseline=_sdpa_flash,
        baseline_name="SDPA-flash",
        slug="pebble_io",
        record={"impl": "triton", "pass": "fwd", "dtype": "bfloat16", "d_head": 64,
                "n_ctx": 4096, "causal": True},
        ratio_key="ratio_vs_sdpa_flash",
    ),
)
