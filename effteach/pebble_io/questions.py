"""Graded questions of the pebble_io assignment, each with one known-wrong answer.

Four questions: the online-softmax update of one key tile, the piece of the kernel
that FlashAttention repeats (q1); the FlashAttention-2 forward schedule played on the
two-level memory, whose outputs must equal the reference and whose loads and stores
must equal the closed form :func:`~effteach.pebble_io.counts.fa2_fwd_io` (q2); the
crossover of the two branches of the backward bound, derived in SymPy (q3); and the
crossover of the exact counts of FlashAttention-2 and square tiling, measured from the
closed forms (q4). The hidden test of q2 uses :func:`library_schedules_disabled`, so
an answer must play the schedule itself rather than call
:func:`~effteach.pebble_io.schedules.fa2_forward`.

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

from effteach.grading import Question, register
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
    "CROSSOVER_EXPERIMENT",
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
