"""Tile sizes: the I/O-optimal choice under the exact working-set constraint.

FlashAttention's paper picks ``B_c = ceil(M / 4d)`` and ``B_r = min(ceil(M / 4d), d)``
(Algorithm 1, line 1). That choice is asymptotic: once the output accumulator, the
running statistics (m, l) and the score tile are counted, it does not fit in M words
for any ``M`` up to about ``8d²`` (:func:`dao_tiles_report`). :func:`best_tiles`
instead searches for the tiles with the fewest words moved, by the schedule's exact
closed form, among those whose exact working set fits.

The search is exhaustive for dense attention. Every dense count depends on a tile
size only through the number of tiles ``ceil(n / B)`` (and never grows when a tile
grows), and every working set grows with each tile size; so for each row-tile count
the smallest row tile that achieves it, paired with the largest key tile that still
fits, is enough. Ties are broken by fewer tile iterations (a faster simulation), then
by a smaller working set.

Paper: Dao et al. 2022 (FlashAttention), Algorithm 1 line 1 (the textbook tiles)
    [C]; the exact constraint and the search are ours [R] (notes A.5.2, Pitfall 3).
Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable

from effteach.checks import typed
from effteach.pebble_io import counts as C
from effteach.pebble_io.counts import _check_block, _check_size, _srams

__all__ = [
    "SCHEDULE_NAMES",
    "best_tiles",
    "dao_tiles",
    "dao_tiles_report",
    "min_sram",
    "residency",
    "schedule_io",
]

# name -> (kind, io function, residency function)
_FAMILIES: dict[str, tuple[str, Callable, Callable]] = {
    "standard_fwd": ("pair", C.standard_fwd_io, C.standard_fwd_residency),
    "standard_bwd": ("pair", C.standard_bwd_io, C.standard_bwd_residency),
    "fa1_fwd": ("pair", C.fa1_fwd_io, C.fa_fwd_residency),
    "fa2_fwd": ("pair", C.fa2_fwd_io, C.fa_fwd_residency),
    "fa2_bwd": ("pair", C.fa2_bwd_io, C.fa2_bwd_residency),
    "fa2_bwd_two_pass": ("two_pass", C.fa2_bwd_two_pass_io,
                         C.fa2_bwd_two_pass_residency),
    "square_fwd": ("square", C.square_fwd_io, C.square_fwd_residency),
    "square_bwd": ("square", C.square_bwd_io, C.square_bwd_residency),
}

#: Every schedule the simulator runs, by name.
SCHEDULE_NAMES: tuple[str, ...] = tuple(_FAMILIES)


def _family(schedule: str):
    if schedule not in _FAMILIES:
        raise ValueError(
            f"schedule: expected one of {', '.join(SCHEDULE_NAMES)}, got {schedule!r}"
        )
    return _FAMILIES[schedule]


def schedule_io(schedule: str, n_ctx: int, d_head: int, causal=False, mask=None,
                **tiles) -> C.IOCounts:
    """The closed-form counts of ``schedule`` with the given tiles.

    Example: ``schedule_io("fa2_fwd", 256, 16, block_m=32, block_n=8)``.

    Raises:
        ValueError: for an unknown schedule (listing the known ones), missing or
            unexpected tile arguments.

    Paper: see each ``*_io`` function of :mod:`effteach.pebble_io.counts`.
    Book: notebooks/pebble_io/lecture.md, "Exact counts".
    """
    kind, io, _ = _family(schedule)
    _check_tile_names(schedule, kind, tiles)
    if schedule.startswith("standard"):
        if causal or mask is not None:
            raise ValueError(f"causal, mask: {schedule} is dense only")
        return io(n_ctx, d_head, **tiles)
    return io(n_ctx, d_head, causal=causal, mask=mask, **tiles)


_TILE_NAMES = {
    "pair": ("block_m", "block_n"),
    "two_pass": ("block_m", "block_n", "dq_block_m", "dq_block_n"),
    "square": ("block",),
}


def _check_tile_names(schedule: str, kind: str, tiles: dict) -> None:
    want = _TILE_NAMES[kind]
    required = want[:2] if kind == "two_pass" else want
    missing = [t for t in required if t not in tiles]
    extra = [t for t in tiles if t not in want]
    if missing or extra:
        raise ValueError(
            f"tiles: {schedule} takes {', '.join(want)}; missing {missing}, "
            f"unexpected {extra}"
        )


def residency(schedule: str, d_head: int, **tiles) -> int:
    """The exact peak working set (words) of ``schedule`` with these tiles.

    Raises:
        ValueError: for an unknown schedule or wrong tile arguments.

    Paper: notes A.5.2-A.5.5 [R].
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    kind, _, res = _family(schedule)
    _check_tile_names(schedule, kind, tiles)
    d_head = _check_size("d_head", d_head)
    for name, value in tiles.items():
        if value is not None:
            _check_size(name, value)
    return res(d_head, **tiles)


@functools.lru_cache(maxsize=256)
def _canonical(n: int, lo: int) -> tuple[int, ...]:
    """For each tile count T, the smallest tile >= lo that covers n rows in T tiles."""
    return tuple(sorted({max(-(-n // t), lo) for t in range(1, n + 1)}))


def _largest(lo: int, hi: int, fits: Callable[[int], bool]) -> int | None:
    """The largest x in [lo, hi] with fits(x), for a monotone predicate."""
    if lo > hi or not fits(lo):
        return None
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _pair_search(n, sram, lo, res, cost, fix_b=None, fix_c=None):
    """Best (b, c) under res(b, c) <= sram by cost(b, c); None if none fits.

    Free sizes range over the canonical tiles (at least ``lo``); for each row tile
    the largest key tile that fits is taken (no dense count grows with a tile).
    """
    best = None
    for b in (fix_b,) if fix_b else _canonical(n, lo):
        if fix_c:
            c = fix_c if res(b, fix_c) <= sram else None
        else:
            c = _largest(lo, n, lambda c, b=b: res(b, c) <= sram)
            if c is not None:  # the smallest key tile with the same tile count
                c = max(-(-n // -(-n // c)), lo)
        if c is None:
            continue
        key = (cost(b, c), -(-n // b) * -(-n // c), res(b, c))
        if best is None or key < best[0]:
            best = (key, b, c)
    return None if best is None else (best[1], best[2])


@typed
def min_sram(schedule: str, d_head: int, min_block: int = 1) -> int:
    """The smallest ``sram`` for which ``schedule`` runs at all (tiles of min_block).

    Example: FlashAttention-2 forward needs ``4d + 3`` words (one query row, one key
    row, their score, m and l); square tiling forward needs 4.

    Paper: FlashAttention needs about 3d words, square tiling any M >= 4 (notes
        A.6, caveat 3) [R]; exact values derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    kind, _, res = _family(schedule)
    b = _check_size("min_block", min_block)
    if kind == "square":
        return res(d_head, b)
    if kind == "two_pass":
        return res(d_head, b, b, b, b)
    return res(d_head, b, b)


def best_tiles(schedule: str, n_ctx: int, d_head: int, sram: int,
               min_block: int = 1, **fixed: int | None) -> dict[str, int]:
    """The tiles with the fewest words moved whose exact working set fits in sram.

    Args:
        schedule: a name in :data:`SCHEDULE_NAMES`.
        n_ctx: sequence length.
        d_head: head width.
        sram: fast-memory capacity M in words.
        min_block: smallest free tile allowed (e.g. 16 for tensor cores); the pure
            pebble game's optimum for FlashAttention is degenerate (about one query
            row per tile in the backward, one key row in the forward).
        **fixed: tile sizes to keep (e.g. ``block_m=32``); the others are searched.

    Returns:
        All tile arguments of the schedule, e.g. ``{"block_m": 6, "block_n": 1}``,
        to pass to the schedule and to its ``*_io`` function.

    Raises:
        ValueError: naming ``sram`` when no tile of at least ``min_block`` fits (with
            the minimum needed), naming the fixed tiles when nothing fits next to
            them, or for an unknown schedule, tile name or bad size.

    Paper: the constraint is notes A.5.2/A.5.3 [R]; the search is ours [R].
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    kind, io, res = _family(schedule)
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    sram = _check_size("sram", sram)
    lo = min(_check_size("min_block", min_block), n)
    names = _TILE_NAMES[kind]
    unknown = [k for k in fixed if k not in names]
    if unknown:
        raise ValueError(f"tiles: {schedule} takes {', '.join(names)}; got {unknown}")
    fixed = {k: _check_block(k, v, n) for k, v in fixed.items() if v is not None}
    need = min_sram(schedule, d, lo)
    if not fixed and need > sram:
        raise ValueError(
            f"sram: {schedule} at d_head={d} needs at least {need} words (tiles of "
            f"{lo}); got sram={sram}"
        )
    if kind == "square":
        if fixed:
            found = fixed["block"] if res(d, fixed["block"]) <= sram else None
        else:
            top = _largest(lo, n, lambda b: res(d, b) <= sram)
            t, t_d = -(-n // top), -(-d // top)
            found = max(-(-n // t), -(-d // t_d), lo)
        tiles = None if found is None else {"block": found}
    elif kind == "pair":
        found = _pair_search(n, sram, lo, lambda b, c: res(d, b, c),
                             lambda b, c: io(n, d, b, c).total,
                             fixed.get("block_m"), fixed.get("block_n"))
        tiles = None if found is None else dict(zip(names, found, strict=True))
    else:  # two passes with separate constraints: dK/dV pass, then the dQ pass
        p1 = _pair_search(n, sram, lo, lambda b, c: res(d, b, c, 1, 1),
                          lambda b, c: io(n, d, b, c, 1, 1).total,
                          fixed.get("block_m"), fixed.get("block_n"))
        p2 = _pair_search(n, sram, lo, lambda b, c: res(d, 1, 1, b, c),
                          lambda b, c: io(n, d, 1, 1, b, c).total,
                          fixed.get("dq_block_m"), fixed.get("dq_block_n"))
        tiles = None if p1 is None or p2 is None else dict(zip(names, p1 + p2,
                                                               strict=True))
    if tiles is None:
        given = ", ".join(f"{k}={v}" for k, v in fixed.items())
        raise ValueError(
            f"{', '.join(fixed)}: no {schedule} tiles fit in sram={sram} with "
            f"{given} (and free tiles of at least {lo})"
        )
    return tiles


def dao_tiles(d_head: int, sram: int) -> dict[str, int]:
    """FlashAttention's textbook tiles: ``B_c = ceil(M/4d)``, ``B_r = min(B_c, d)``.

    Paper: Dao et al. 2022 (FlashAttention), Algorithm 1, line 1 [C].
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    d, sram = _check_size("d_head", d_head), _check_size("sram", sram)
    b_c = math.ceil(sram / (4 * d))
    return {"block_m": min(b_c, d), "block_n": b_c}


@typed
def dao_tiles_report(n_ctx: int, d_head: int, srams: Iterable[int],
                     schedule: str = "fa1_fwd") -> list[dict]:
    """Where the textbook tiles overflow, and what they cost when they fit.

    Args:
        n_ctx: sequence length.
        d_head: head width.
        srams: capacities M to tabulate.
        schedule: a FlashAttention forward (``"fa1_fwd"`` for the paper's loop
            order, or ``"fa2_fwd"``); both have the same working set.

    Returns:
        One dict per M: ``sram``, ``dao`` (the tiles, clipped to n_ctx),
        ``dao_words`` (their exact working set), ``fits``, ``dao_io`` (total words
        moved, None if they do not fit), ``best`` (:func:`best_tiles`) and
        ``best_io``. Whenever ``B_r = B_c`` the working set exceeds M (K, V, Q and
        O alone fill it), so the tiles overflow until ``B_r`` is capped at d and
        ``M`` reaches about ``8d² + 8d``.

    Paper: Dao et al. 2022, Algorithm 1 [C]; the overflow is our observation [R]
        (notes A.12, Pitfall 3).
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    if schedule not in ("fa1_fwd", "fa2_fwd"):
        raise ValueError(f"schedule: expected 'fa1_fwd' or 'fa2_fwd', got {schedule!r}")
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    _, io, res = _family(schedule)
    rows = []
    for sram in _srams(srams):
        tiles = {k: min(v, n) for k, v in dao_tiles(d, sram).items()}
        words = res(d, **tiles)
        fits = words <= sram
        try:
            best = best_tiles(schedule, n, d, sram)
            best_io = io(n, d, **best).total
        except ValueError:
            best, best_io = None, None
        rows.append({
            "sram": int(sram), "dao": tiles, "dao_words": words, "fits": fits,
            "dao_io": io(n, d, **tiles).total if fits else None,
            "best": best, "best_io": best_io,
        })
    return rows
