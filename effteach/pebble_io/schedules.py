"""Attention schedules played on the two-level memory, forward and backward.

Each schedule takes a fresh :class:`~effteach.pebble_io.memory.TwoLevelMemory` (or
just its capacity ``sram``), places its inputs in slow memory, runs, and returns a
:class:`ScheduleResult`: the outputs (read back from slow memory), the exact loads and
stores, the peak working set and the tiles used. The closed form of every count is
the function of the same name in :mod:`effteach.pebble_io.counts`.

==================================  =================  ===========================
schedule                            name               kept in fast memory
==================================  =================  ===========================
:func:`standard_forward`            standard_fwd       tiles of S, P (written out)
:func:`standard_backward`           standard_bwd       tiles of P, dP, dS (written)
:func:`fa1_forward`                 fa1_fwd            K_j, V_j (outer loop)
:func:`fa2_forward`                 fa2_fwd            Q_i, its output (outer)
:func:`fa2_backward`                fa2_bwd            K_j, V_j, dK_j, dV_j; dQ RMW
:func:`fa2_backward_two_pass`       fa2_bwd_two_pass   dK/dV pass, then a dQ pass
:func:`square_forward`              square_fwd         B x B tiles, d tiled too
:func:`square_backward`             square_bwd         B x B tiles; P, dS written
==================================  =================  ===========================

Backward schedules take ``(q, k, v, do)``; the forward's outputs they read (O and the
log-sum-exp L, or P for the standard backward) are placed in slow memory from the
numpy reference, as a forward pass would have left them. The causal or block-sparse
``mask`` is part of the computation graph (which scores exist), like a causal mask
computed from indices: it costs no I/O, and tiles without an allowed score are
skipped. The standard schedules are dense only.

Paper: FlashAttention (Dao et al. 2022) Algorithms 0-1; FlashAttention-2 (Dao 2023)
    Algorithms 1-2; Saha & Ye 2024 (arXiv 2402.07443) Algorithm 1 [C]; the square-
    tiling backward is our reconstruction of Li et al.'s (arXiv 2410.09397)
    Algorithm 6, whose text we could not read [R].
Book: notebooks/pebble_io/lecture.md, "The method".
"""

from __future__ import annotations

import dataclasses

import numpy as np

from effteach.pebble_io.counts import _check_block, tile_visibility
from effteach.pebble_io.memory import IOCounts, TwoLevelMemory
from effteach.pebble_io.reference import (
    _check_qkv_do,
    _scale,
    allowed_mask,
    attention_lse_ref,
    attention_ref,
    check_qkv,
    probabilities_ref,
)
from effteach.pebble_io.tiles import _TILE_NAMES, SCHEDULE_NAMES, _family, best_tiles

__all__ = [
    "SCHEDULES",
    "ScheduleResult",
    "run_schedule",
    "standard_forward",
    "standard_backward",
    "fa1_forward",
    "fa2_forward",
    "fa2_backward",
    "fa2_backward_two_pass",
    "square_forward",
    "square_backward",
]


@dataclasses.dataclass(frozen=True)
class ScheduleResult:
    """What a schedule run produced.

    Attributes:
        schedule: its name (a key of :data:`SCHEDULES`).
        outputs: ``{"o", "lse"}`` for a forward, ``{"dq", "dk", "dv"}`` for a
            backward, read back from slow memory (float64).
        counts: the words loaded and stored.
        peak: the most words ever in fast memory (never above ``sram``).
        sram: the capacity M it ran with.
        tiles: the tile arguments used (chosen by :func:`best_tiles` if not given).
        memory: the memory after the run (for its trace and per-tensor counts).

    Paper: none; the record of one run.
    Book: notebooks/pebble_io/lecture.md, "The method".
    """

    schedule: str
    outputs: dict[str, np.ndarray]
    counts: IOCounts
    peak: int
    sram: int
    tiles: dict[str, int]
    memory: TwoLevelMemory = dataclasses.field(repr=False)

    @property
    def loads(self) -> int:
        """Words read from slow memory."""
        return self.counts.loads

    @property
    def stores(self) -> int:
        """Words written to slow memory."""
        return self.counts.stores

    @property
    def total(self) -> int:
        """Words moved, ``loads + stores``."""
        return self.counts.total

    def __getitem__(self, name: str) -> np.ndarray:
        return self.outputs[name]


# ---- shared set-up ------------------------------------------------------------------
def _memory(mem) -> TwoLevelMemory:
    if isinstance(mem, TwoLevelMemory):
        if not mem.fresh:
            raise ValueError(
                "mem: expected a fresh TwoLevelMemory (no tensors, no I/O yet); "
                "make one per schedule run"
            )
        return mem
    if isinstance(mem, bool) or not isinstance(mem, (int, np.integer)):
        raise TypeError(
            f"mem: expected a TwoLevelMemory or an int sram, got {type(mem).__name__}"
        )
    return TwoLevelMemory(int(mem))


def _tiles(schedule: str, n: int, d: int, sram: int, **given) -> dict[str, int]:
    """The tiles to run with: those given, the rest by :func:`best_tiles`.

    For the two-pass backward, giving only block_m and block_n sets the dQ pass's
    tiles to the same values, as :func:`~effteach.pebble_io.counts.fa2_bwd_two_pass_io`
    does.
    """
    names = _TILE_NAMES[_family(schedule)[0]]
    given = {k: _check_block(k, v, n) for k, v in given.items() if v is not None}
    if len(names) == 4 and set(given) == {"block_m", "block_n"}:
        given.update(dq_block_m=given["block_m"], dq_block_n=given["block_n"])
    if len(given) == len(names):
        return {k: given[k] for k in names}
    return best_tiles(schedule, n, d, sram, **given)


def _ranges(n: int, b: int) -> list[tuple[int, int]]:
    return [(s, min(s + b, n)) for s in range(0, n, b)]


def _sub(allowed, r0, r1, c0, c1):
    """The tile's allowed entries, or None when all are allowed."""
    if allowed is None:
        return None
    sub = allowed[r0:r1, c0:c1]
    return None if sub.all() else sub


def _result(name, mem, outs, tiles) -> ScheduleResult:
    outputs = {key: mem.result(tensor) for key, tensor in outs.items()}
    return ScheduleResult(name, outputs, mem.counts, mem.peak, mem.sram, tiles, mem)


def _online_update(s, m, lsum, acc, v_tile, masked):
    """One FlashAttention step on resident tiles: s (scores) becomes exp(s - m_new).

    Row by row this needs O(1) registers (the new maximum, the rescale factor):
    ``m_new = max(m, rowmax s)``, ``l = l e^{m - m_new} + rowsum e^{s - m_new}``,
    ``acc = acc e^{m - m_new} + e^{s - m_new} V_j``. Rows with no allowed score yet
    (m_new = -inf) keep l = 0 and acc = 0.
    """
    sv, mv = s.value, m.value
    m_new = np.maximum(mv, sv.max(axis=1))
    shift = m_new
    if masked:  # a row may have seen no allowed score yet: shift by 0, not -inf
        shift = np.where(m_new == -np.inf, 0.0, m_new)
    sv -= shift[:, None]
    np.exp(sv, out=sv)
    alpha = np.exp(mv - shift)
    lv = lsum.value
    lv *= alpha
    lv += sv.sum(axis=1)
    av = acc.value
    av *= alpha[:, None]
    av += sv @ v_tile.value
    mv[...] = m_new


# ---- FlashAttention ------------------------------------------------------------
def fa2_forward(mem, q, k, v, block_m=None, block_n=None, causal=False, mask=None,
                scale=None) -> ScheduleResult:
    """FlashAttention-2 forward: outer loop over query tiles, online softmax.

    Args:
        mem: a fresh TwoLevelMemory, or its capacity ``sram`` in words.
        q: queries, (n_ctx, d_head) float64 (or float32).
        k: keys, the same shape.
        v: values, the same shape.
        block_m: query-tile height B_r; with ``block_n`` None, both come from
            :func:`~effteach.pebble_io.tiles.best_tiles`.
        block_n: key-tile height B_c.
        causal: forbid keys after the query (tiles above the diagonal are skipped).
        mask: boolean (n_ctx, n_ctx) allowed scores; fully masked tiles are skipped.
        scale: score scale, ``1/sqrt(d_head)`` if None.

    Returns:
        A :class:`ScheduleResult` with outputs ``o`` and ``lse``; its counts equal
        :func:`~effteach.pebble_io.counts.fa2_fwd_io`.

    Raises:
        CapacityError: if the tiles' working set exceeds ``sram``.
        ValueError, TypeError: for bad inputs, naming the argument.

    Paper: Dao 2023 (FlashAttention-2), Algorithm 1 [C].
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    mem = _memory(mem)
    q, k, v = check_qkv(q, k, v)
    n, d = q.shape
    allowed = allowed_mask(n, causal, mask)
    tiles = _tiles("fa2_fwd", n, d, mem.sram, block_m=block_m, block_n=block_n)
    vis = tile_visibility(n, tiles["block_m"], tiles["block_n"], causal, mask)
    sc = _scale(d, scale)
    for name, x in (("Q", q), ("K", k), ("V", v)):
        mem.put(name, x)
    mem.create("O", (n, d))
    mem.create("L", (n,))
    cols = _ranges(n, tiles["block_n"])
    for i, (r0, r1) in enumerate(_ranges(n, tiles["block_m"])):
        rows = slice(r0, r1)
        qi = mem.load("Q", rows)
        acc = mem.alloc((r1 - r0, d), "O_acc")
        m = mem.alloc(r1 - r0, "m", fill=-np.inf)
        lsum = mem.alloc(r1 - r0, "l")
        for j in np.flatnonzero(vis[i]):
            c0, c1 = cols[j]
            kj = mem.load("K", slice(c0, c1))
            vj = mem.load("V", slice(c0, c1))
            s = mem.alloc((r1 - r0, c1 - c0), "S")
            sv = s.value
            np.matmul(qi.value, kj.value.T, out=sv)
            sv *= sc
            sub = _sub(allowed, r0, r1, c0, c1)
            if sub is not None:
                sv[~sub] = -np.inf
            _online_update(s, m, lsum, acc, vj, allowed is not None)
            mem.free(kj, vj, s)
        acc.value /= lsum.value[:, None]
        m.value += np.log(lsum.value)  # m becomes L = m + log l
        mem.store(acc, "O", rows)
        mem.store(m, "L", rows)
        mem.free(qi, acc, m, lsum)
    return _result("fa2_fwd", mem, {"o": "O", "lse": "L"}, tiles)


def fa1_forward(mem, q, k, v, block_m=None, block_n=None, causal=False, mask=None,
                scale=None) -> ScheduleResult:
    """FlashAttention(-1) forward: outer loop over key tiles, O read-modify-write.

    K_j and V_j stay resident while every visible query tile passes by; each query
    tile's unnormalised output and statistics (l, m) go back to slow memory between
    visits (created in fast memory on the first visit; the last visit writes the
    normalised O_i and L_i). Arguments and result as in :func:`fa2_forward`; counts
    equal :func:`~effteach.pebble_io.counts.fa1_fwd_io`.

    Paper: Dao et al. 2022 (FlashAttention), Algorithm 1 [C].
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    mem = _memory(mem)
    q, k, v = check_qkv(q, k, v)
    n, d = q.shape
    allowed = allowed_mask(n, causal, mask)
    tiles = _tiles("fa1_fwd", n, d, mem.sram, block_m=block_m, block_n=block_n)
    vis = tile_visibility(n, tiles["block_m"], tiles["block_n"], causal, mask)
    sc = _scale(d, scale)
    for name, x in (("Q", q), ("K", k), ("V", v)):
        mem.put(name, x)
    for name, shape in (("O", (n, d)), ("L", (n,)), ("l", (n,)), ("m", (n,))):
        mem.create(name, shape)
    rows = _ranges(n, tiles["block_m"])
    first = vis.argmax(axis=1)  # first visible key tile of each query tile
    last = vis.shape[1] - 1 - vis[:, ::-1].argmax(axis=1)
    for j, (c0, c1) in enumerate(_ranges(n, tiles["block_n"])):
        visible = np.flatnonzero(vis[:, j])
        if not visible.size:
            continue
        kj = mem.load("K", slice(c0, c1))
        vj = mem.load("V", slice(c0, c1))
        for i in visible:
            r0, r1 = rows[i]
            rs = slice(r0, r1)
            qi = mem.load("Q", rs)
            if j == first[i]:
                acc = mem.alloc((r1 - r0, d), "O_acc")
                m = mem.alloc(r1 - r0, "m", fill=-np.inf)
                lsum = mem.alloc(r1 - r0, "l")
            else:
                acc, m, lsum = mem.load("O", rs), mem.load("m", rs), mem.load("l", rs)
            s = mem.alloc((r1 - r0, c1 - c0), "S")
            sv = s.value
            np.matmul(qi.value, kj.value.T, out=sv)
            sv *= sc
            sub = _sub(allowed, r0, r1, c0, c1)
            if sub is not None:
                sv[~sub] = -np.inf
            _online_update(s, m, lsum, acc, vj, allowed is not None)
            if j == last[i]:
                acc.value /= lsum.value[:, None]
                m.value += np.log(lsum.value)
                mem.store(acc, "O", rs)
                mem.store(m, "L", rs)
            else:
                mem.store(acc, "O", rs)
                mem.store(m, "m", rs)
                mem.store(lsum, "l", rs)
            mem.free(qi, acc, m, lsum, s)
        mem.free(kj, vj)
    return _result("fa1_fwd", mem, {"o": "O", "lse": "L"}, tiles)


def _backward_inputs(mem, q, k, v, do, causal, mask, scale):
    """Place Q, K, V, dO and the forward's O and L in slow memory."""
    for name, x in (("Q", q), ("K", k), ("V", v), ("dO", do)):
        mem.put(name, x)
    mem.put("O", attention_ref(q, k, v, causal, mask, scale))
    mem.put("L", attention_lse_ref(q, k, causal, mask, scale))
    n, d = q.shape
    for name in ("dQ", "dK", "dV"):
        mem.create(name, (n, d))
    mem.create("Delta", (n,))


def _delta(mem, n, block):
    """Δ = rowsum(dO ⊙ O), tile by tile: loads 2nd, stores n."""
    for r0, r1 in _ranges(n, block):
        rs = slice(r0, r1)
        o, g = mem.load("O", rs), mem.load("dO", rs)
        dl = mem.alloc(r1 - r0, "Delta")
        dl.value = (o.value * g.value).sum(axis=1)
        mem.store(dl, "Delta", rs)
        mem.free(o, g, dl)


def _p_and_ds(mem, qi, gi, kj, vj, li, di, sc, sub, shape):
    """P = exp(scale Q_i K_jᵀ - L_i) and dS = P ⊙ (dO_i V_jᵀ - Δ_i) as two tiles."""
    p = mem.alloc(shape, "P")
    pv = p.value
    np.matmul(qi.value, kj.value.T, out=pv)
    pv *= sc
    pv -= li.value[:, None]
    if sub is not None:
        pv[~sub] = -np.inf
    np.exp(pv, out=pv)
    ds = mem.alloc(shape, "dS")
    dsv = ds.value
    np.matmul(gi.value, vj.value.T, out=dsv)  # dP
    dsv -= di.value[:, None]
    dsv *= pv
    return p, ds


def fa2_backward(mem, q, k, v, do, block_m=None, block_n=None, causal=False,
                 mask=None, scale=None) -> ScheduleResult:
    """FlashAttention-2 backward: outer loop over key tiles, dQ read-modify-write.

    Preprocess Δ = rowsum(dO ⊙ O); then for each key tile j, K_j, V_j and the
    accumulators dK_j, dV_j stay resident while each visible query tile brings
    Q_i, dO_i, L_i, Δ_i and dQ_i, recomputes P and dS, and writes dQ_i back (on its
    first visit dQ_i is created in fast memory rather than read).

    Args:
        mem: a fresh TwoLevelMemory, or its capacity ``sram``.
        q: queries, (n_ctx, d_head).
        k: keys, the same shape.
        v: values, the same shape.
        do: gradient of the loss with respect to the output, the same shape.
        block_m: query-tile height B_r (None with block_n: the best tiles).
        block_n: key-tile height B_c.
        causal: forbid keys after the query.
        mask: boolean (n_ctx, n_ctx) allowed scores.
        scale: score scale, ``1/sqrt(d_head)`` if None.

    Returns:
        A :class:`ScheduleResult` with ``dq``, ``dk``, ``dv``; counts equal
        :func:`~effteach.pebble_io.counts.fa2_bwd_io`.

    Paper: Dao 2023 (FlashAttention-2), Algorithm 2 [C].
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    mem = _memory(mem)
    q, k, v, do = _check_qkv_do(q, k, v, do)
    n, d = q.shape
    allowed = allowed_mask(n, causal, mask)
    tiles = _tiles("fa2_bwd", n, d, mem.sram, block_m=block_m, block_n=block_n)
    vis = tile_visibility(n, tiles["block_m"], tiles["block_n"], causal, mask)
    sc = _scale(d, scale)
    _backward_inputs(mem, q, k, v, do, causal, mask, scale)
    _delta(mem, n, tiles["block_m"])
    rows = _ranges(n, tiles["block_m"])
    seen = np.zeros(len(rows), dtype=bool)
    for j, (c0, c1) in enumerate(_ranges(n, tiles["block_n"])):
        cs = slice(c0, c1)
        dk = mem.alloc((c1 - c0, d), "dK_acc")
        dv = mem.alloc((c1 - c0, d), "dV_acc")
        visible = np.flatnonzero(vis[:, j])
        if visible.size:
            kj, vj = mem.load("K", cs), mem.load("V", cs)
            for i in visible:
                r0, r1 = rows[i]
                rs = slice(r0, r1)
                qi, gi = mem.load("Q", rs), mem.load("dO", rs)
                li, di = mem.load("L", rs), mem.load("Delta", rs)
                if seen[i]:
                    dq = mem.load("dQ", rs)
                else:
                    dq = mem.alloc((r1 - r0, d), "dQ_acc")
                    seen[i] = True
                p, ds = _p_and_ds(mem, qi, gi, kj, vj, li, di, sc,
                                  _sub(allowed, r0, r1, c0, c1), (r1 - r0, c1 - c0))
                dv.value += p.value.T @ gi.value
                dq.value += sc * (ds.value @ kj.value)
                mem.store(dq, "dQ", rs)
                dk.value += sc * (ds.value.T @ qi.value)
                mem.free(qi, gi, li, di, dq, p, ds)
            mem.free(kj, vj)
        mem.store(dk, "dK", cs)
        mem.store(dv, "dV", cs)
        mem.free(dk, dv)
    return _result("fa2_bwd", mem, {"dq": "dQ", "dk": "dK", "dv": "dV"}, tiles)


def fa2_backward_two_pass(mem, q, k, v, do, block_m=None, block_n=None,
                          dq_block_m=None, dq_block_n=None, causal=False, mask=None,
                          scale=None) -> ScheduleResult:
    """FlashAttention-2 backward in two passes, as in Triton's tutorial: no RMW.

    Preprocess Δ (row tiles of ``dq_block_m``); pass 1 loops over key tiles
    (``block_n``) and accumulates only dK_j, dV_j over visible query tiles
    (``block_m``); pass 2 loops over query tiles (``dq_block_m``), keeps dQ_i
    resident and streams the visible key tiles (``dq_block_n``), recomputing P and
    dS once more. Each pass has its own tiles because each wants the opposite
    shape. Other arguments as in :func:`fa2_backward`; counts equal
    :func:`~effteach.pebble_io.counts.fa2_bwd_two_pass_io`.

    Paper: triton-lang/triton, python/tutorials/06-fused-attention.py (backward
        with separate dK/dV and dQ loops) [C].
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    mem = _memory(mem)
    q, k, v, do = _check_qkv_do(q, k, v, do)
    n, d = q.shape
    allowed = allowed_mask(n, causal, mask)
    tiles = _tiles("fa2_bwd_two_pass", n, d, mem.sram, block_m=block_m,
                   block_n=block_n, dq_block_m=dq_block_m, dq_block_n=dq_block_n)
    vis1 = tile_visibility(n, tiles["block_m"], tiles["block_n"], causal, mask)
    vis2 = tile_visibility(n, tiles["dq_block_m"], tiles["dq_block_n"], causal, mask)
    sc = _scale(d, scale)
    _backward_inputs(mem, q, k, v, do, causal, mask, scale)
    _delta(mem, n, tiles["dq_block_m"])
    rows = _ranges(n, tiles["block_m"])
    for j, (c0, c1) in enumerate(_ranges(n, tiles["block_n"])):  # pass 1: dK, dV
        cs = slice(c0, c1)
        dk = mem.alloc((c1 - c0, d), "dK_acc")
        dv = mem.alloc((c1 - c0, d), "dV_acc")
        visible = np.flatnonzero(vis1[:, j])
        if visible.size:
            kj, vj = mem.load("K", cs), mem.load("V", cs)
            for i in visible:
                r0, r1 = rows[i]
                rs = slice(r0, r1)
                qi, gi = mem.load("Q", rs), mem.load("dO", rs)
                li, di = mem.load("L", rs), mem.load("Delta", rs)
                p, ds = _p_and_ds(mem, qi, gi, kj, vj, li, di, sc,
                                  _sub(allowed, r0, r1, c0, c1), (r1 - r0, c1 - c0))
                dv.value += p.value.T @ gi.value
                dk.value += sc * (ds.value.T @ qi.value)
                mem.free(qi, gi, li, di, p, ds)
            mem.free(kj, vj)
        mem.store(dk, "dK", cs)
        mem.store(dv, "dV", cs)
        mem.free(dk, dv)
    cols = _ranges(n, tiles["dq_block_n"])
    for i, (r0, r1) in enumerate(_ranges(n, tiles["dq_block_m"])):  # pass 2: dQ
        rs = slice(r0, r1)
        qi, gi = mem.load("Q", rs), mem.load("dO", rs)
        li, di = mem.load("L", rs), mem.load("Delta", rs)
        dq = mem.alloc((r1 - r0, d), "dQ_acc")
        for j in np.flatnonzero(vis2[i]):
            c0, c1 = cols[j]
            kj, vj = mem.load("K", slice(c0, c1)), mem.load("V", slice(c0, c1))
            p, ds = _p_and_ds(mem, qi, gi, kj, vj, li, di, sc,
                              _sub(allowed, r0, r1, c0, c1), (r1 - r0, c1 - c0))
            dq.value += sc * (ds.value @ kj.value)
            mem.free(kj, vj, p, ds)
        mem.store(dq, "dQ", rs)
        mem.free(qi, gi, li, di, dq)
    return _result("fa2_bwd_two_pass", mem, {"dq": "dQ", "dk": "dK", "dv": "dV"},
                   tiles)


# ---- standard (materializing) attention ---------------------------------------
def standard_forward(mem, q, k, v, block_m=None, block_n=None,
                     scale=None) -> ScheduleResult:
    """Standard attention forward: S and P are written to slow memory.

    Three tiled passes, as three separate kernels would run: (1) S = scale Q Kᵀ,
    stored, with online row statistics giving L = log-sum-exp; (2) P = exp(S - L),
    loaded and stored tile by tile; (3) O = P V. Dense only. Arguments as in
    :func:`fa2_forward`; counts equal
    :func:`~effteach.pebble_io.counts.standard_fwd_io` (Θ(nd + n²) plus the
    re-reads of K and V).

    Paper: Dao et al. 2022 (FlashAttention), Algorithm 0 [C].
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    mem = _memory(mem)
    q, k, v = check_qkv(q, k, v)
    n, d = q.shape
    tiles = _tiles("standard_fwd", n, d, mem.sram, block_m=block_m, block_n=block_n)
    sc = _scale(d, scale)
    for name, x in (("Q", q), ("K", k), ("V", v)):
        mem.put(name, x)
    for name, shape in (("S", (n, n)), ("P", (n, n)), ("L", (n,)), ("O", (n, d))):
        mem.create(name, shape)
    rows, cols = _ranges(n, tiles["block_m"]), _ranges(n, tiles["block_n"])
    for r0, r1 in rows:  # pass 1: S and its row statistics
        rs = slice(r0, r1)
        qi = mem.load("Q", rs)
        m = mem.alloc(r1 - r0, "m", fill=-np.inf)
        lsum = mem.alloc(r1 - r0, "l")
        for c0, c1 in cols:
            kj = mem.load("K", slice(c0, c1))
            s = mem.alloc((r1 - r0, c1 - c0), "S")
            s.value = sc * (qi.value @ kj.value.T)
            mem.store(s, "S", rs, slice(c0, c1))
            mv = m.value
            m_new = np.maximum(mv, s.value.max(axis=1))
            lsum.value = lsum.value * np.exp(mv - m_new) + np.exp(
                s.value - m_new[:, None]).sum(axis=1)
            mv[...] = m_new
            mem.free(kj, s)
        m.value += np.log(lsum.value)
        mem.store(m, "L", rs)
        mem.free(qi, m, lsum)
    for r0, r1 in rows:  # pass 2: P = exp(S - L)
        rs = slice(r0, r1)
        li = mem.load("L", rs)
        for c0, c1 in cols:
            s = mem.load("S", rs, slice(c0, c1))
            s.value = np.exp(s.value - li.value[:, None])
            mem.store(s, "P", rs, slice(c0, c1))
            mem.free(s)
        mem.free(li)
    for r0, r1 in rows:  # pass 3: O = P V
        rs = slice(r0, r1)
        acc = mem.alloc((r1 - r0, d), "O_acc")
        for c0, c1 in cols:
            p = mem.load("P", rs, slice(c0, c1))
            vj = mem.load("V", slice(c0, c1))
            acc.value += p.value @ vj.value
            mem.free(p, vj)
        mem.store(acc, "O", rs)
        mem.free(acc)
    return _result("standard_fwd", mem, {"o": "O", "lse": "L"}, tiles)


def standard_backward(mem, q, k, v, do, block_m=None, block_n=None,
                      scale=None) -> ScheduleResult:
    """Standard attention backward: dP and dS are written to slow memory.

    Reads the forward's P. Five tiled passes: dP = dO Vᵀ; Δ = rowsum(P ⊙ dP) and
    dS = P ⊙ (dP - Δ) (two sweeps over P and dP per row tile, as a softmax-backward
    kernel does); dV = Pᵀ dO; dQ = scale dS K; dK = scale dSᵀ Q. Dense only.
    Arguments as in :func:`fa2_backward`; counts equal
    :func:`~effteach.pebble_io.counts.standard_bwd_io`.

    Paper: Dao et al. 2022 (FlashAttention), Algorithm 3 / App. B.2 (standard
        backward) [C].
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    mem = _memory(mem)
    q, k, v, do = _check_qkv_do(q, k, v, do)
    n, d = q.shape
    tiles = _tiles("standard_bwd", n, d, mem.sram, block_m=block_m, block_n=block_n)
    sc = _scale(d, scale)
    for name, x in (("Q", q), ("K", k), ("V", v), ("dO", do)):
        mem.put(name, x)
    mem.put("P", probabilities_ref(q, k, scale=scale))
    for name, shape in (("dP", (n, n)), ("dS", (n, n)), ("dQ", (n, d)),
                        ("dK", (n, d)), ("dV", (n, d))):
        mem.create(name, shape)
    rows, cols = _ranges(n, tiles["block_m"]), _ranges(n, tiles["block_n"])
    for r0, r1 in rows:  # dP = dO Vᵀ
        rs = slice(r0, r1)
        gi = mem.load("dO", rs)
        for c0, c1 in cols:
            vj = mem.load("V", slice(c0, c1))
            t = mem.alloc((r1 - r0, c1 - c0), "dP")
            t.value = gi.value @ vj.value.T
            mem.store(t, "dP", rs, slice(c0, c1))
            mem.free(vj, t)
        mem.free(gi)
    for r0, r1 in rows:  # Δ, then dS
        rs = slice(r0, r1)
        delta = mem.alloc(r1 - r0, "Delta")
        for c0, c1 in cols:
            p, t = mem.load("P", rs, slice(c0, c1)), mem.load("dP", rs, slice(c0, c1))
            delta.value += (p.value * t.value).sum(axis=1)
            mem.free(p, t)
        for c0, c1 in cols:
            p, t = mem.load("P", rs, slice(c0, c1)), mem.load("dP", rs, slice(c0, c1))
            t.value = p.value * (t.value - delta.value[:, None])
            mem.store(t, "dS", rs, slice(c0, c1))
            mem.free(p, t)
        mem.free(delta)
    for c0, c1 in cols:  # dV = Pᵀ dO
        cs = slice(c0, c1)
        acc = mem.alloc((c1 - c0, d), "dV_acc")
        for r0, r1 in rows:
            p, gi = mem.load("P", slice(r0, r1), cs), mem.load("dO", slice(r0, r1))
            acc.value += p.value.T @ gi.value
            mem.free(p, gi)
        mem.store(acc, "dV", cs)
        mem.free(acc)
    for r0, r1 in rows:  # dQ = scale dS K
        rs = slice(r0, r1)
        acc = mem.alloc((r1 - r0, d), "dQ_acc")
        for c0, c1 in cols:
            t, kj = mem.load("dS", rs, slice(c0, c1)), mem.load("K", slice(c0, c1))
            acc.value += sc * (t.value @ kj.value)
            mem.free(t, kj)
        mem.store(acc, "dQ", rs)
        mem.free(acc)
    for c0, c1 in cols:  # dK = scale dSᵀ Q
        cs = slice(c0, c1)
        acc = mem.alloc((c1 - c0, d), "dK_acc")
        for r0, r1 in rows:
            t, qi = mem.load("dS", slice(r0, r1), cs), mem.load("Q", slice(r0, r1))
            acc.value += sc * (t.value.T @ qi.value)
            mem.free(t, qi)
        mem.store(acc, "dK", cs)
        mem.free(acc)
    return _result("standard_bwd", mem, {"dq": "dQ", "dk": "dK", "dv": "dV"}, tiles)


# ---- square tiling (small cache) -----------------------------------------------
def _check_exp_range(q, k, sc) -> None:
    # exp(score) is stored without a max shift (Saha & Ye's A = exp(QKᵀ)); by
    # Cauchy-Schwarz every |score| <= sc max|q_i| max|k_j|
    bound = abs(sc) * np.linalg.norm(q, axis=1).max() * np.linalg.norm(k, axis=1).max()
    if bound > 700:
        raise ValueError(
            f"q, k: square tiling stores exp(score) unshifted, as Saha & Ye's "
            f"Algorithm 1 does; scores may reach {bound:.3g} and exp would overflow "
            "float64 (keep |score| <= 700, e.g. scale q and k down)"
        )


def square_forward(mem, q, k, v, block=None, causal=False, mask=None,
                   scale=None) -> ScheduleResult:
    """Saha & Ye's square tiling forward for small caches (M below d²).

    Every operand tile is at most ``block`` x ``block``: the d dimension is tiled
    too, so the schedule runs with as little as 4 words. Phase 1 builds
    A[i, j] = exp(scale Σ_l Q[i, l] K[j, l]ᵀ) tile by tile and stores A and the row
    sums r; phase 2 builds O[i, l] = Σ_k A[i, k] V[k, l] / r_i. Writing all of A
    (n² words) is affordable exactly when M <= d².

    Args:
        mem: a fresh TwoLevelMemory, or its capacity ``sram``.
        q: queries, (n_ctx, d_head).
        k: keys, the same shape.
        v: values, the same shape.
        block: tile side B (None: the best that fits).
        causal: forbid keys after the query; tiles above the diagonal are skipped.
        mask: boolean (n_ctx, n_ctx) allowed scores.
        scale: score scale, ``1/sqrt(d_head)`` if None.

    Returns:
        A :class:`ScheduleResult` with ``o`` and ``lse`` (= log r); counts equal
        :func:`~effteach.pebble_io.counts.square_fwd_io`.

    Raises:
        ValueError: if scores could overflow exp (the algorithm stores exp(S)
            unshifted), or for bad inputs.

    Paper: Saha & Ye 2024 (arXiv 2402.07443), Algorithm 1, Theorem 3.5 [C].
    Book: notebooks/pebble_io/lecture.md, "Small caches".
    """
    mem = _memory(mem)
    q, k, v = check_qkv(q, k, v)
    n, d = q.shape
    allowed = allowed_mask(n, causal, mask)
    tiles = _tiles("square_fwd", n, d, mem.sram, block=block)
    b = tiles["block"]
    vis = tile_visibility(n, b, b, causal, mask)
    sc = _scale(d, scale)
    _check_exp_range(q, k, sc)
    for name, x in (("Q", q), ("K", k), ("V", v)):
        mem.put(name, x)
    for name, shape in (("A", (n, n)), ("r", (n,)), ("O", (n, d))):
        mem.create(name, shape)
    blocks, dblocks = _ranges(n, b), _ranges(d, b)
    for i, (r0, r1) in enumerate(blocks):  # phase 1: A = exp(scale Q Kᵀ), r
        rs = slice(r0, r1)
        r = mem.alloc(r1 - r0, "r")
        for j in np.flatnonzero(vis[i]):
            c0, c1 = blocks[j]
            acc = mem.alloc((r1 - r0, c1 - c0), "A")
            for l0, l1 in dblocks:
                qb = mem.load("Q", rs, slice(l0, l1))
                kb = mem.load("K", slice(c0, c1), slice(l0, l1))
                acc.value += qb.value @ kb.value.T
                mem.free(qb, kb)
            av = acc.value
            av *= sc
            sub = _sub(allowed, r0, r1, c0, c1)
            if sub is not None:
                av[~sub] = -np.inf
            np.exp(av, out=av)
            r.value += av.sum(axis=1)
            mem.store(acc, "A", rs, slice(c0, c1))
            mem.free(acc)
        mem.store(r, "r", rs)
        mem.free(r)
    for i, (r0, r1) in enumerate(blocks):  # phase 2: O = A V / r
        rs = slice(r0, r1)
        r = mem.load("r", rs)
        for l0, l1 in dblocks:
            acc = mem.alloc((r1 - r0, l1 - l0), "O_acc")
            for kk in np.flatnonzero(vis[i]):
                c0, c1 = blocks[kk]
                a = mem.load("A", rs, slice(c0, c1))
                vb = mem.load("V", slice(c0, c1), slice(l0, l1))
                acc.value += a.value @ vb.value
                mem.free(a, vb)
            acc.value /= r.value[:, None]
            mem.store(acc, "O", rs, slice(l0, l1))
            mem.free(acc)
        mem.free(r)
    res = _result("square_fwd", mem, {"o": "O"}, tiles)
    res.outputs["lse"] = np.log(mem.result("r"))  # for comparison with the others
    return res


def square_backward(mem, q, k, v, do, block=None, causal=False, mask=None,
                    scale=None) -> ScheduleResult:
    """Square-tiling backward for small caches: every n x n product tiled B x B.

    Δ = rowsum(dO ⊙ O); a fused pass builds P = exp(scale Q Kᵀ - L) and
    dP = dO Vᵀ with d tiled, stores P and dS = P ⊙ (dP - Δ); then
    dV = Pᵀ dO, dQ = scale dS K and dK = scale dSᵀ Q, each by square tiling.
    Θ(n²d/√M + n²) words. Arguments as in :func:`square_forward` plus ``do``;
    counts equal :func:`~effteach.pebble_io.counts.square_bwd_io`.

    Paper: Li et al. (arXiv 2410.09397), Algorithm 6 / Theorem 4.3 [T: named by
        reviewers, text not read]; this schedule is our reconstruction [R].
    Book: notebooks/pebble_io/lecture.md, "Small caches".
    """
    mem = _memory(mem)
    q, k, v, do = _check_qkv_do(q, k, v, do)
    n, d = q.shape
    allowed = allowed_mask(n, causal, mask)
    tiles = _tiles("square_bwd", n, d, mem.sram, block=block)
    b = tiles["block"]
    vis = tile_visibility(n, b, b, causal, mask)
    sc = _scale(d, scale)
    _backward_inputs(mem, q, k, v, do, causal, mask, scale)
    mem.create("P", (n, n))
    mem.create("dS", (n, n))
    blocks, dblocks = _ranges(n, b), _ranges(d, b)
    for r0, r1 in blocks:  # Δ = rowsum(dO ⊙ O), d tiled
        rs = slice(r0, r1)
        dl = mem.alloc(r1 - r0, "Delta")
        for l0, l1 in dblocks:
            o, g = mem.load("O", rs, slice(l0, l1)), mem.load("dO", rs, slice(l0, l1))
            dl.value += (o.value * g.value).sum(axis=1)
            mem.free(o, g)
        mem.store(dl, "Delta", rs)
        mem.free(dl)
    for i, (r0, r1) in enumerate(blocks):  # fused: P and dS
        rs = slice(r0, r1)
        li, di = mem.load("L", rs), mem.load("Delta", rs)
        for j in np.flatnonzero(vis[i]):
            c0, c1 = blocks[j]
            cs = slice(c0, c1)
            p = mem.alloc((r1 - r0, c1 - c0), "P")
            for l0, l1 in dblocks:
                ls = slice(l0, l1)
                qb, kb = mem.load("Q", rs, ls), mem.load("K", cs, ls)
                p.value += qb.value @ kb.value.T
                mem.free(qb, kb)
            pv = p.value
            pv *= sc
            pv -= li.value[:, None]
            sub = _sub(allowed, r0, r1, c0, c1)
            if sub is not None:
                pv[~sub] = -np.inf
            np.exp(pv, out=pv)
            mem.store(p, "P", rs, cs)
            ds = mem.alloc((r1 - r0, c1 - c0), "dS")
            for l0, l1 in dblocks:
                ls = slice(l0, l1)
                gb, vb = mem.load("dO", rs, ls), mem.load("V", cs, ls)
                ds.value += gb.value @ vb.value.T
                mem.free(gb, vb)
            dsv = ds.value
            dsv -= di.value[:, None]
            dsv *= pv
            mem.store(ds, "dS", rs, cs)
            mem.free(p, ds)
        mem.free(li, di)
    # three square-tiled products; "by rows": out[x] = Σ_y lhs[x, y] rhs[y],
    # else out[x] = Σ_y lhs[y, x]ᵀ rhs[y] (only visible (x, y) tiles)
    for out, lhs, rhs, factor, by_rows in (("dV", "P", "dO", 1.0, False),
                                           ("dQ", "dS", "K", sc, True),
                                           ("dK", "dS", "Q", sc, False)):
        for x, (x0, x1) in enumerate(blocks):
            xs = slice(x0, x1)
            others = np.flatnonzero(vis[x] if by_rows else vis[:, x])
            for l0, l1 in dblocks:
                acc = mem.alloc((x1 - x0, l1 - l0), f"{out}_acc")
                for y in others:
                    ys = slice(*blocks[y])
                    t = mem.load(lhs, xs, ys) if by_rows else mem.load(lhs, ys, xs)
                    u = mem.load(rhs, ys, slice(l0, l1))
                    tv = t.value if by_rows else t.value.T
                    acc.value += factor * (tv @ u.value)
                    mem.free(t, u)
                mem.store(acc, out, xs, slice(l0, l1))
                mem.free(acc)
    return _result("square_bwd", mem, {"dq": "dQ", "dk": "dK", "dv": "dV"}, tiles)



#: name -> schedule function; forward ones take (mem, q, k, v, ...), backward ones
#: (mem, q, k, v, do, ...).
SCHEDULES = {
    "standard_fwd": standard_forward,
    "standard_bwd": standard_backward,
    "fa1_fwd": fa1_forward,
    "fa2_fwd": fa2_forward,
    "fa2_bwd": fa2_backward,
    "fa2_bwd_two_pass": fa2_backward_two_pass,
    "square_fwd": square_forward,
    "square_bwd": square_backward,
}
assert tuple(SCHEDULES) == SCHEDULE_NAMES


def run_schedule(schedule: str, mem, q, k, v, do=None, **kwargs) -> ScheduleResult:
    """Run a schedule by name: ``run_schedule("fa2_bwd", 512, q, k, v, do)``.

    Args:
        schedule: a key of :data:`SCHEDULES`.
        mem: a fresh TwoLevelMemory or its capacity ``sram``.
        q: queries, (n_ctx, d_head).
        k: keys, the same shape.
        v: values, the same shape.
        do: output gradient, needed exactly by the backward schedules.
        **kwargs: tiles, ``causal``, ``mask``, ``scale``.

    Raises:
        ValueError: for an unknown schedule (listing the known ones), or ``do``
            given to a forward / missing for a backward.

    Paper: none; dispatches to the schedules above.
    Book: notebooks/pebble_io/lecture.md, "The method".
    """
    if schedule not in SCHEDULES:
        raise ValueError(
            f"schedule: expected one of {', '.join(SCHEDULES)}, got {schedule!r}"
        )
    fn = SCHEDULES[schedule]
    backward = schedule.endswith(("_bwd", "_two_pass"))
    if backward and do is None:
        raise ValueError(f"do: {schedule} is a backward schedule and needs do")
    if not backward and do is not None:
        raise ValueError(f"do: {schedule} is a forward schedule; do must be None")
    return fn(mem, q, k, v, do, **kwargs) if backward else fn(mem, q, k, v, **kwargs)
