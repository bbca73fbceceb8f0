"""Closed-form I/O counts and working sets of every schedule, word for word.

Each ``*_io`` function returns the exact :class:`~effteach.pebble_io.memory.IOCounts`
that the schedule of the same name in :mod:`effteach.pebble_io.schedules` makes on
the simulator, for any sizes (tiles need not divide ``n_ctx`` or ``d_head``). Each
``*_residency`` function returns the schedule's peak working set in words, which is
what the simulator's ``peak`` reaches. Neither runs the simulator: they are sums over
the tile grid, written from the pseudo-code alone, so the tests comparing them with
the simulator can fail.

Notation: ``n = n_ctx``, ``d = d_head``, ``b_i`` the height of query tile ``i``
(``block_m`` except maybe the last), ``c_j`` that of key tile ``j`` (``block_n``),
``T_r = ceil(n / block_m)``, ``T_c = ceil(n / block_n)``. With a mask, only the
*visible* tiles (those with at least one allowed score) are computed; the sums below
run over them, and dense attention is the case where all are visible. Dense forms:

=====================  ==========================================  ===================
schedule               loads                                       stores
=====================  ==========================================  ===================
standard_fwd           nd + n + 2n² + 2 T_r nd                     2n² + n + nd
standard_bwd           nd + 7n² + 2 T_r nd + 2 T_c nd              2n² + 3nd
fa1_fwd                2nd + T_c (2nd + 2n) - nd - 2n              T_c (nd + 2n) - n
fa2_fwd                nd + 2 T_r nd                               nd + n
fa2_bwd                nd + 2nd + T_c (3nd + 2n)                   n + 2nd + T_c nd
fa2_bwd_two_pass       6nd + 2n + T_c (2nd + 2n) + 2 T_r' nd       n + 3nd
square_fwd             3 T nd + T_d n² + n                         n² + n + nd
square_bwd             2nd + 2n + 7 T nd + 3 T_d n²                2n² + n + 3nd
=====================  ==========================================  ===================

(``T = ceil(n / block)``, ``T_d = ceil(d / block)`` for square tiling; ``T_r'`` is the
row-tile count of the two-pass schedule's dQ pass.) With tiles dividing the sizes,
``fa2_fwd`` is the notes' ``2nd + 2nd T_r + n`` and ``square_fwd`` is
``4n²d/B + n² + 2n + nd`` (Saha & Ye's Algorithm 1). ``fa2_bwd`` is the notes'
``6nd + n + T_c (4nd + 2n)`` minus ``nd``: the notes read the zero-initialised dQ
once more; this schedule creates it in fast memory on its first visit.

Paper: FlashAttention (Dao et al. 2022), Theorem 2 and its backward statement, and
    Saha & Ye 2024 (arXiv 2402.07443), Theorem 3.5, give these as Θ(...) [C]; the
    exact counts are derived here [R] and checked against the simulator.
Book: notebooks/pebble_io/lecture.md, "Exact counts".
"""

from __future__ import annotations

import numpy as np

from effteach.checks import check_int, check_sequence, typed
from effteach.pebble_io.memory import IOCounts
from effteach.pebble_io.reference import allowed_mask

__all__ = [
    "tile_sizes",
    "tile_visibility",
    "standard_fwd_io",
    "standard_bwd_io",
    "fa1_fwd_io",
    "fa2_fwd_io",
    "fa2_bwd_io",
    "fa2_bwd_two_pass_io",
    "square_fwd_io",
    "square_bwd_io",
    "standard_fwd_residency",
    "standard_bwd_residency",
    "fa_fwd_residency",
    "fa2_bwd_residency",
    "fa2_bwd_two_pass_residency",
    "square_fwd_residency",
    "square_bwd_residency",
]


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected a positive int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value}")
    return int(value)


def _srams(srams) -> list[int]:
    """Cache sizes: a sequence of positive ints, each named by its index."""
    return [check_int(f"srams[{i}]", m, 1)
            for i, m in enumerate(check_sequence("srams", srams))]


def _check_block(name: str, value, n_ctx: int) -> int:
    value = _check_size(name, value)
    if value > n_ctx:
        raise ValueError(f"{name}: expected an int in [1, n_ctx={n_ctx}], got {value}")
    return value


def tile_sizes(n: int, block: int) -> np.ndarray:
    """Heights of the tiles that cover ``n`` rows: ``block`` each, the last smaller.

    >>> tile_sizes(10, 4).tolist()
    [4, 4, 2]

    Paper: none; ceil-aware tiling (notes A.12, Pitfall 11).
    Book: notebooks/pebble_io/lecture.md, "Exact counts".
    """
    n, block = _check_size("n", n), _check_size("block", block)
    sizes = np.full(n // block, block, dtype=np.int64)
    return np.append(sizes, n % block) if n % block else sizes


def tile_visibility(n_ctx: int, block_m: int, block_n: int, causal=False, mask=None):
    """Which (query tile, key tile) pairs hold at least one allowed score.

    Args:
        n_ctx: sequence length.
        block_m: query-tile height.
        block_n: key-tile height.
        causal: forbid keys after the query.
        mask: boolean (n_ctx, n_ctx) array of allowed scores, or None.

    Returns:
        A bool array (T_r, T_c); all True for dense attention. Schedules skip the
        False tiles entirely: they are not part of the computation graph.

    Paper: block-sparse FlashAttention (Dao et al. 2022, Sec. 3.3) skips zero blocks.
    Book: notebooks/pebble_io/lecture.md, "Causal and block-sparse".
    """
    n_ctx = _check_size("n_ctx", n_ctx)
    block_m = _check_block("block_m", block_m, n_ctx)
    block_n = _check_block("block_n", block_n, n_ctx)
    t_r, t_c = -(-n_ctx // block_m), -(-n_ctx // block_n)
    allowed = allowed_mask(n_ctx, causal, mask)
    if allowed is None:
        return np.ones((t_r, t_c), dtype=bool)
    rows = np.logical_or.reduceat(allowed, np.arange(0, n_ctx, block_m), axis=0)
    return np.logical_or.reduceat(rows, np.arange(0, n_ctx, block_n), axis=1)


def _grid(n_ctx, block_m, block_n, causal, mask):
    """Row sizes b, column sizes c and the visibility grid."""
    vis = tile_visibility(n_ctx, block_m, block_n, causal, mask)
    return tile_sizes(n_ctx, block_m), tile_sizes(n_ctx, block_n), vis


def _sum_rows(vis, b) -> int:
    """Σ over visible tiles of b_i."""
    return int((vis * b[:, None]).sum())


def _sum_cols(vis, c) -> int:
    """Σ over visible tiles of c_j."""
    return int((vis * c[None, :]).sum())


def _sum_area(vis, b, c) -> int:
    """Σ over visible tiles of b_i c_j (allowed-or-not scores inside them)."""
    return int((vis * np.outer(b, c)).sum())


# ---- standard (materializing) attention ---------------------------------------
def standard_fwd_io(n_ctx: int, d_head: int, block_m: int, block_n: int) -> IOCounts:
    """Exact I/O of :func:`~effteach.pebble_io.schedules.standard_forward`.

    Three passes, each tiled by (block_m, block_n): S = scale Q Kᵀ with online row
    statistics (store S and the log-sum-exp L); P = exp(S - L) (load S, store P);
    O = P V (load P and V). Loads ``nd + n + 2n² + 2 T_r nd``, stores
    ``2n² + n + nd``.

    Paper: FlashAttention (Dao et al. 2022), Algorithm 0 and Theorem 2: Θ(nd + n²)
        HBM accesses [C]; this exact count is derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Exact counts".
    """
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    block_m = _check_block("block_m", block_m, n)
    _check_block("block_n", block_n, n)
    t_r = -(-n // block_m)
    return IOCounts(n * d + n + 2 * n * n + 2 * t_r * n * d, 2 * n * n + n + n * d)


@typed
def standard_fwd_residency(d_head: int, block_m: int, block_n: int) -> int:
    """Peak words of the standard forward: ``b d + c d + b c + 2b`` (pass 1).

    Paper: derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    b, c, d = block_m, block_n, d_head
    return max(b * d + c * d + b * c + 2 * b, b + b * c, b * d + b * c + c * d)


def standard_bwd_io(n_ctx: int, d_head: int, block_m: int, block_n: int) -> IOCounts:
    """Exact I/O of :func:`~effteach.pebble_io.schedules.standard_backward`.

    Reads the forward's P and writes dP and dS (n² words each): dP = dO Vᵀ;
    Δ = rowsum(P ⊙ dP) and dS = P ⊙ (dP - Δ) in two passes over P and dP;
    dV = Pᵀ dO; dQ = scale dS K; dK = scale dSᵀ Q. Loads
    ``nd + 7n² + 2 T_r nd + 2 T_c nd``, stores ``2n² + 3nd``.

    Paper: FlashAttention (Dao et al. 2022), Sec. 3.2 / App. B: the standard
        backward needs Θ(nd + n²) HBM accesses [C]; exact count derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Exact counts".
    """
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    t_r = -(-n // _check_block("block_m", block_m, n))
    t_c = -(-n // _check_block("block_n", block_n, n))
    return IOCounts(
        n * d + 7 * n * n + 2 * t_r * n * d + 2 * t_c * n * d, 2 * n * n + 3 * n * d
    )


@typed
def standard_bwd_residency(d_head: int, block_m: int, block_n: int) -> int:
    """Peak words of the standard backward: ``max(bd + cd + bc, b + 2bc)``.

    Paper: derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    b, c, d = block_m, block_n, d_head
    return max(b * d + c * d + b * c, b + 2 * b * c)


# ---- FlashAttention -----------------------------------------------------------
def fa2_fwd_io(
    n_ctx: int, d_head: int, block_m: int, block_n: int | None = None,
    causal: bool = False, mask=None,
) -> IOCounts:
    """Exact I/O of :func:`~effteach.pebble_io.schedules.fa2_forward`.

    Outer loop over query tiles (Q_i and the output accumulator stay resident),
    inner loop over visible key tiles (K_j, V_j streamed). Loads
    ``nd + 2d Σ_visible c_j`` (dense: ``nd + 2 T_r nd``), stores ``nd + n``
    (O and the log-sum-exp L). Dense, it does not depend on ``block_n``.

    Args:
        n_ctx: sequence length n.
        d_head: head width d.
        block_m: query-tile height B_r.
        block_n: key-tile height B_c (needed with a mask; defaults to 1 when dense).
        causal: skip tiles above the diagonal.
        mask: boolean (n_ctx, n_ctx) allowed scores; fully masked tiles are skipped.

    Returns:
        The :class:`IOCounts`.

    Paper: Dao 2023 (FlashAttention-2), Algorithm 1; Θ(n²d²/M) for d <= M <= nd by
        FlashAttention Theorem 2 [C]; exact count derived here [R] (notes A.5.2).
    Book: notebooks/pebble_io/lecture.md, "Exact counts".
    """
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    block_m = _check_block("block_m", block_m, n)
    if block_n is None:
        if causal or mask is not None:
            raise ValueError("block_n: needed when there is a mask")
        block_n = 1
    b, c, vis = _grid(n, block_m, block_n, causal, mask)
    return IOCounts(n * d + 2 * d * _sum_cols(vis, c), n * d + n)


@typed
def fa_fwd_residency(d_head: int, block_m: int, block_n: int) -> int:
    """Peak words of FlashAttention forward (both loop orders).

    ``2 B_r d`` (Q_i and the O accumulator) ``+ 2 B_c d`` (K_j, V_j) ``+ B_r B_c``
    (the score tile) ``+ 2 B_r`` (running max m and sum l).

    Paper: notes A.5.2 (exact residency constraint) [R].
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    b, c, d = block_m, block_n, d_head
    return 2 * b * d + 2 * c * d + b * c + 2 * b


def fa1_fwd_io(
    n_ctx: int, d_head: int, block_m: int, block_n: int, causal: bool = False,
    mask=None,
) -> IOCounts:
    """Exact I/O of :func:`~effteach.pebble_io.schedules.fa1_forward`.

    FlashAttention-1 loop order: outer loop over key tiles (K_j, V_j resident), inner
    over query tiles, whose Q_i, unnormalised O_i and statistics (l_i, m_i) are read
    and written back each time (created in fast memory on the first visit; the last
    visit writes the normalised O_i and L_i instead). Dense loads
    ``2nd + T_c (2nd + 2n) - nd - 2n``, stores ``T_c (nd + 2n) - n``.

    Paper: Dao et al. 2022 (FlashAttention), Algorithm 1 and Theorem 2 [C]; exact
        count derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Exact counts".
    """
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    b, c, vis = _grid(n, _check_block("block_m", block_m, n),
                      _check_block("block_n", block_n, n), causal, mask)
    kv = 2 * d * int(c[vis.any(axis=0)].sum())
    visits = _sum_rows(vis, b)  # Σ_visible b_i
    loads = kv + (2 * d + 2) * visits - (n * d + 2 * n)
    stores = (d + 2) * visits - n
    return IOCounts(loads, stores)


def fa2_bwd_io(
    n_ctx: int, d_head: int, block_m: int, block_n: int, causal: bool = False,
    mask=None,
) -> IOCounts:
    """Exact I/O of :func:`~effteach.pebble_io.schedules.fa2_backward`.

    Preprocess Δ = rowsum(dO ⊙ O) (load O, dO; store Δ), then an outer loop over
    key tiles (K_j, V_j, dK_j, dV_j resident) and an inner loop over visible query
    tiles, loading Q_i, dO_i, L_i, Δ_i and dQ_i (read-modify-write; created in fast
    memory on its first visit) and storing dQ_i. Loads
    ``nd + 2d Σ_{visible columns} c_j + Σ_visible (3d + 2) b_i`` (dense:
    ``3nd + T_c (3nd + 2n)``), stores ``n + 2nd + d Σ_visible b_i``.

    Paper: Dao 2023 (FlashAttention-2), Algorithm 2; Θ(n²d²/M) [C]; exact count
        derived here [R] (notes A.5.3 count ``6nd + n + T_c(4nd + 2n)`` also reads
        the zero-initialised dQ once).
    Book: notebooks/pebble_io/lecture.md, "Exact counts".
    """
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    b, c, vis = _grid(n, _check_block("block_m", block_m, n),
                      _check_block("block_n", block_n, n), causal, mask)
    kv = 2 * d * int(c[vis.any(axis=0)].sum())
    visits = _sum_rows(vis, b)
    return IOCounts(n * d + kv + (3 * d + 2) * visits, n + 2 * n * d + d * visits)


@typed
def fa2_bwd_residency(d_head: int, block_m: int, block_n: int) -> int:
    """Peak words of the FA-2 backward: ``4cd + 3bd + 2b + 2bc``.

    K_j, V_j, dK_j, dV_j (``4 B_c d``); Q_i, dO_i, dQ_i (``3 B_r d``); L_i, Δ_i
    (``2 B_r``); the P and dS tiles (``2 B_r B_c``). The Δ preprocess needs only
    ``2 B_r d + B_r``.

    Paper: notes A.5.3 [R].
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    b, c, d = block_m, block_n, d_head
    return max(4 * c * d + 3 * b * d + 2 * b + 2 * b * c, 2 * b * d + b)


def fa2_bwd_two_pass_io(
    n_ctx: int, d_head: int, block_m: int, block_n: int,
    dq_block_m: int | None = None, dq_block_n: int | None = None,
    causal: bool = False, mask=None,
) -> IOCounts:
    """Exact I/O of :func:`~effteach.pebble_io.schedules.fa2_backward_two_pass`.

    Preprocess Δ; pass 1 (tiles block_m x block_n) loops over key tiles and
    accumulates dK_j, dV_j only; pass 2 (tiles dq_block_m x dq_block_n) loops over
    query tiles and accumulates dQ_i over visible key tiles, recomputing P and dS.
    No read-modify-write. Loads ``2nd + 2d Σ_{visible columns} c_j +
    Σ_visible1 (2d + 2) b_i + 2nd + 2n + 2d Σ_visible2 c_j``, stores ``n + 3nd``.

    Paper: the Triton fused-attention tutorial's backward (separate dK/dV and dQ
        loops) [C]; exact count derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Exact counts".
    """
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    dq_block_m = block_m if dq_block_m is None else dq_block_m
    dq_block_n = block_n if dq_block_n is None else dq_block_n
    b, c, vis = _grid(n, _check_block("block_m", block_m, n),
                      _check_block("block_n", block_n, n), causal, mask)
    _, c2, vis2 = _grid(n, _check_block("dq_block_m", dq_block_m, n),
                        _check_block("dq_block_n", dq_block_n, n), causal, mask)
    kv = 2 * d * int(c[vis.any(axis=0)].sum())
    loads = (2 * n * d + kv + (2 * d + 2) * _sum_rows(vis, b)
             + 2 * n * d + 2 * n + 2 * d * _sum_cols(vis2, c2))
    return IOCounts(loads, n + 3 * n * d)


@typed
def fa2_bwd_two_pass_residency(
    d_head: int, block_m: int, block_n: int, dq_block_m: int | None = None,
    dq_block_n: int | None = None,
) -> int:
    """Peak words of the two-pass backward: the larger of its two passes.

    Pass 1: ``4cd + 2bd + 2b + 2bc``; pass 2: ``3b'd + 2b' + 2c'd + 2b'c'``.

    Paper: notes A.5.3 (variant) [R].
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    d = d_head
    b, c = block_m, block_n
    b2 = block_m if dq_block_m is None else dq_block_m
    c2 = block_n if dq_block_n is None else dq_block_n
    return max(
        4 * c * d + 2 * b * d + 2 * b + 2 * b * c,
        3 * b2 * d + 2 * b2 + 2 * c2 * d + 2 * b2 * c2,
    )


# ---- square tiling (small cache) -----------------------------------------------
def square_fwd_io(
    n_ctx: int, d_head: int, block: int, causal: bool = False, mask=None
) -> IOCounts:
    """Exact I/O of :func:`~effteach.pebble_io.schedules.square_forward`.

    Phase 1 forms A = exp(scale Q Kᵀ) tile by tile, tiling d as well
    (Q[i, l], K[j, l] are block x block), and stores A and the row sums r; phase 2
    forms O[i, l] = (Σ_k A[i, k] V[k, l]) / r_i. With T = ceil(n / B) and
    T_d = ceil(d / B), dense loads ``3 T nd + T_d n² + n``, stores ``n² + n + nd``:
    ``4n²d/B + n² + 2n + nd`` in all when B divides n and d.

    Paper: Saha & Ye 2024 (arXiv 2402.07443), Algorithm 1, Theorem 3.5:
        O(n²d/√M) [C]; exact count derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Small caches".
    """
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    block = _check_block("block", block, n)
    b, _, vis = _grid(n, block, block, causal, mask)
    t_d = -(-d // block)
    area = _sum_area(vis, b, b)
    both = _sum_rows(vis, b) + _sum_cols(vis, b)
    loads = d * both + n + t_d * area + d * _sum_cols(vis, b)
    return IOCounts(loads, area + n + n * d)


@typed
def square_fwd_residency(d_head: int, block: int) -> int:
    """Peak words of square tiling forward: ``B² + 2B min(B, d) + B``.

    The accumulator tile, two operand tiles (at most B wide in d) and the row sums.

    Paper: Saha & Ye 2024, Algorithm 1 (B = sqrt(M/4) keeps 3B² + B <= M) [C].
    Book: notebooks/pebble_io/lecture.md, "Small caches".
    """
    w = min(block, d_head)
    return block * block + 2 * block * w + block


def square_bwd_io(
    n_ctx: int, d_head: int, block: int, causal: bool = False, mask=None
) -> IOCounts:
    """Exact I/O of :func:`~effteach.pebble_io.schedules.square_backward`.

    Δ = rowsum(dO ⊙ O); a fused pass that forms P = exp(scale Q Kᵀ - L) and
    dP = dO Vᵀ by square tiling and stores P and dS = P ⊙ (dP - Δ); then three
    square-tiled products dV = Pᵀ dO, dQ = scale dS K, dK = scale dSᵀ Q. Dense loads
    ``2nd + 2n + 7 T nd + 3 T_d n²``, stores ``2n² + n + 3nd``.

    Paper: Li et al. (arXiv 2410.09397), "Algorithm 6" / Theorem 4.3: O(n²d/√M)
        for M = o(d²) [T: named by reviewers]. This schedule is our reconstruction
        (notes A.5.5) [R]; the exact count is derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Small caches".
    """
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    block = _check_block("block", block, n)
    b, _, vis = _grid(n, block, block, causal, mask)
    t_d = -(-d // block)
    area = _sum_area(vis, b, b)
    rows, cols = _sum_rows(vis, b), _sum_cols(vis, b)
    loads = (2 * n * d + 2 * n + 2 * d * (rows + cols) + 3 * t_d * area
             + d * (2 * rows + cols))
    return IOCounts(loads, 2 * area + n + 3 * n * d)


@typed
def square_bwd_residency(d_head: int, block: int) -> int:
    """Peak words of square tiling backward: ``2B² + 2B min(B, d) + 2B``.

    The fused pass holds the S/P and dP/dS tiles, two operand tiles and L_i, Δ_i.

    Paper: notes A.5.5 [R].
    Book: notebooks/pebble_io/lecture.md, "Small caches".
    """
    w = min(block, d_head)
    return 2 * block * block + 2 * block * w + 2 * block

