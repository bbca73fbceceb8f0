"""Measurements on the simulator: I/O against cache size, slopes and the crossover.

Everything here runs the schedules on the simulator with seeded random inputs (the
counts do not depend on the values, the output check does), with the best tiles of
:func:`~effteach.pebble_io.tiles.best_tiles` at every cache size, and reports what it
measured next to the closed form, so a lecture can print and assert it.

Paper: Li et al., arXiv 2410.09397, Figure 1 (I/O against M, FlashAttention against
    the tight bound, crossing at M = Θ(d²)) [T: described by a reviewer]; reproduced
    here by measurement [R].
Book: notebooks/pebble_io/lecture.md, "Experiments".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from effteach.checks import check_float, check_int, check_sequence, typed
from effteach.pebble_io.counts import _check_size, _srams
from effteach.pebble_io.reference import (
    attention_bwd_ref,
    attention_lse_ref,
    attention_ref,
)
from effteach.pebble_io.schedules import run_schedule
from effteach.pebble_io.symbolic import model_crossover
from effteach.pebble_io.tiles import _family, best_tiles, schedule_io

__all__ = [
    "cache_grid",
    "closed_form_curve",
    "crossover_point",
    "io_curve",
    "loglog_slope",
    "measure_regimes",
    "random_qkv",
]


def _reals(name: str, values, allow_none: bool = False) -> list:
    """A sequence of finite positive numbers (None entries kept with allow_none)."""
    return [None if x is None and allow_none else
            check_float(f"{name}[{i}]", x, 0.0, low_open=True)
            for i, x in enumerate(check_sequence(name, values))]


@typed
def random_qkv(n_ctx: int, d_head: int, seed: int = 0):
    """Seeded standard-normal ``(q, k, v, do)``, each (n_ctx, d_head) float64.

    Paper: none; seeded inputs.
    Book: notebooks/pebble_io/lecture.md, "Experiments".
    """
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    return tuple(rng.standard_normal((n, d)) for _ in range(4))


@typed
def cache_grid(lo: float, hi: float, per_octave: int = 2) -> list[int]:
    """Integer cache sizes from lo to hi, ``per_octave`` per doubling (deduplicated).

    >>> cache_grid(16, 64)
    [16, 23, 32, 45, 64]

    Paper: none; a helper.
    Book: notebooks/pebble_io/lecture.md, "Experiments".
    """
    lo = check_float("lo", lo, 0.0, low_open=True)
    hi = check_float("hi", hi, lo)
    per_octave = _check_size("per_octave", per_octave)
    k = np.arange(np.floor(np.log2(lo) * per_octave),
                  np.ceil(np.log2(hi) * per_octave) + 1)
    vals = np.rint(2.0 ** (k / per_octave)).astype(int)
    return sorted({int(v) for v in vals if lo <= v <= hi})


@typed
def io_curve(schedule: str, n_ctx: int, d_head: int, srams: Iterable[int],
             seed: int = 0, causal: bool = False) -> list[dict]:
    """Run ``schedule`` with its best tiles at each cache size; record the counts.

    Args:
        schedule: a name in :data:`~effteach.pebble_io.tiles.SCHEDULE_NAMES`.
        n_ctx: sequence length.
        d_head: head width.
        srams: cache sizes M.
        seed: seed of the random inputs.
        causal: run the causal variant (not for the standard schedules).

    Returns:
        One dict per M: ``sram``, ``tiles`` (None if no tile fits), ``loads``,
        ``stores``, ``total`` (None if it cannot run), ``peak``, ``closed_form``
        (the ``*_io`` total) and ``error`` (max abs difference from the numpy
        reference over all outputs).

    Paper: Li et al., arXiv 2410.09397, Figure 1 (I/O against M) [T]; measured
        here [R].
    Book: notebooks/pebble_io/lecture.md, "Experiments".
    """
    _family(schedule)
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    srams = _srams(srams)
    q, k, v, do = random_qkv(n, d, seed)
    backward = schedule.endswith(("_bwd", "_two_pass"))
    if backward:
        want = dict(zip(("dq", "dk", "dv"), attention_bwd_ref(q, k, v, do, causal),
                        strict=True))
    else:
        want = {"o": attention_ref(q, k, v, causal), "lse": attention_lse_ref(q, k,
                                                                              causal)}
    extra = {"causal": True} if causal else {}
    rows = []
    for sram in srams:
        try:
            tiles = best_tiles(schedule, n, d, sram)
        except ValueError:
            rows.append({"sram": sram, "tiles": None, "loads": None, "stores": None,
                         "total": None, "peak": None, "closed_form": None,
                         "error": None})
            continue
        res = run_schedule(schedule, sram, q, k, v, do if backward else None,
                           **extra, **tiles)
        err = max(float(np.abs(res.outputs[key] - want[key]).max()) for key in want)
        rows.append({
            "sram": sram, "tiles": tiles, "loads": res.loads, "stores": res.stores,
            "total": res.total, "peak": res.peak,
            "closed_form": schedule_io(schedule, n, d, **extra, **tiles).total,
            "error": err,
        })
    return rows


@typed
def closed_form_curve(schedule: str, n_ctx: int, d_head: int,
                      srams: Iterable[int], min_block: int = 1) -> list[int | None]:
    """Total words of ``schedule`` with its best tiles at each M, by the closed form.

    No simulation, so it is fast enough for wide plots (the tests check that the
    simulator gives the same numbers). None where no tile fits.

    Paper: see the ``*_io`` functions of :mod:`effteach.pebble_io.counts` [R].
    Book: notebooks/pebble_io/lecture.md, "Experiments".
    """
    out = []
    for sram in _srams(srams):
        try:
            tiles = best_tiles(schedule, n_ctx, d_head, sram, min_block)
        except ValueError as err:
            if not str(err).startswith("sram:"):
                raise
            out.append(None)
            continue
        out.append(schedule_io(schedule, n_ctx, d_head, **tiles).total)
    return out


@typed
def loglog_slope(srams: Sequence | np.ndarray,
                 totals: Sequence | np.ndarray) -> float:
    """Least-squares slope of log(total) against log(M) (None entries skipped).

    Raises:
        ValueError: with fewer than two usable points.

    Paper: none; the exponents -1 and -1/2 of the Θ-bounds are fitted with it.
    Book: notebooks/pebble_io/lecture.md, "Experiments".
    """
    srams, totals = _reals("srams", srams), _reals("totals", totals, allow_none=True)
    if len(totals) != len(srams):
        raise ValueError(
            f"totals: expected one per entry of srams ({len(srams)}), got {len(totals)}"
        )
    pts = [(m, t) for m, t in zip(srams, totals, strict=True) if t is not None]
    if len(pts) < 2:
        raise ValueError("totals: need at least two measured points for a slope")
    x, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(x, y, 1)[0])


@typed
def crossover_point(srams: Sequence | np.ndarray,
                    large_cache: Sequence | np.ndarray,
                    small_cache: Sequence | np.ndarray) -> float | None:
    """The M where the large-cache schedule first moves no more than the other.

    Between the last grid point where ``small_cache`` wins (or ``large_cache``
    cannot run, None) and the next one, log(large/small) is interpolated linearly in
    log M.

    Returns:
        The crossover M, or None if the large-cache schedule never wins on the grid.

    Paper: the crossover at M = Θ(d²) of Li et al. (arXiv 2410.09397) [T];
        measured here [R].
    Book: notebooks/pebble_io/lecture.md, "Experiments".
    """
    srams = _reals("srams", srams)
    large_cache = _reals("large_cache", large_cache, allow_none=True)
    small_cache = _reals("small_cache", small_cache)
    for name, seq in (("large_cache", large_cache), ("small_cache", small_cache)):
        if len(seq) != len(srams):
            raise ValueError(
                f"{name}: expected one per entry of srams ({len(srams)}), got "
                f"{len(seq)}"
            )
    prev = None
    for m, a, b in zip(srams, large_cache, small_cache, strict=True):
        r = np.inf if a is None else np.log(a / b)
        if r <= 0:
            if prev is None or not np.isfinite(prev[1]):
                return float(m)
            m0, t = prev[0], prev[1] / (prev[1] - r)
            return float(np.exp(np.log(m0) + t * (np.log(m) - np.log(m0))))
        prev = (m, r)
    return None


@typed
def measure_regimes(n_ctx: int = 128, d_head: int = 16, backward: bool = False,
                    per_octave: int = 2, seed: int = 0) -> dict:
    """The chapter's experiment: both regimes and the crossover, measured.

    FlashAttention-2 (``fa2_fwd`` or ``fa2_bwd``) runs for ``d²/2 <= M <= nd/2``;
    square tiling (``square_fwd`` or ``square_bwd``) for ``d²/4 <= M <= 4d²``, each
    with its best tiles on a geometric grid. The slopes are fitted over
    ``d² <= M <= nd/2`` (FlashAttention) and ``d²/4 <= M <= d²`` (square tiling);
    the crossover is searched on the common grid ``[d²/2, 4d²]`` (if FlashAttention
    already wins at d²/2, that point is returned: an upper estimate).

    Args:
        n_ctx: sequence length (128 keeps the run to a few seconds).
        d_head: head width.
        backward: measure the backward schedules instead.
        per_octave: grid points per doubling of M.
        seed: seed of the inputs.

    Returns:
        A dict with ``fa`` and ``square`` (the :func:`io_curve` rows),
        ``fa_slope``, ``square_slope``, ``crossover`` (M), ``crossover_over_d2``,
        ``model_crossover`` (the continuous-count prediction, forward only, else
        None), and the windows used.

    Paper: Li et al., arXiv 2410.09397: slopes -1 and -1/2 and the transition at
        M = Θ(d²) [T]; measured here [R].
    Book: notebooks/pebble_io/lecture.md, "Experiments".
    """
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    d2 = d * d
    if d2 < 8:  # the square grid starts at 8 words: its window [.., d²] is empty
        raise ValueError(f"d_head: expected >= 3 (square tiling needs d² >= 8), "
                         f"got {d}")
    if n * d // 2 < 2 * d2:
        raise ValueError(
            f"n_ctx: need n_ctx >= 4 d_head for a FlashAttention window "
            f"[d², nd/2] of at least one octave; got n_ctx={n}, d_head={d}"
        )
    fa_name, sq_name = ("fa2_bwd", "square_bwd") if backward else ("fa2_fwd",
                                                                   "square_fwd")
    fa_grid = cache_grid(d2 / 2, n * d / 2, per_octave)
    sq_grid = cache_grid(max(d2 / 4, 8), 4 * d2, per_octave)
    fa = io_curve(fa_name, n, d, fa_grid, seed)
    sq = io_curve(sq_name, n, d, sq_grid, seed)
    fa_win = [r for r in fa if d2 <= r["sram"] <= n * d / 2]
    sq_win = [r for r in sq if r["sram"] <= d2]
    common = sorted(set(fa_grid) & set(sq_grid))
    by_fa = {r["sram"]: r["total"] for r in fa}
    by_sq = {r["sram"]: r["total"] for r in sq}
    cross = crossover_point(common, [by_fa[m] for m in common],
                            [by_sq[m] for m in common])
    return {
        "n_ctx": n, "d_head": d, "backward": backward,
        "fa": fa, "square": sq,
        "fa_window": (fa_win[0]["sram"], fa_win[-1]["sram"]),
        "square_window": (sq_win[0]["sram"], sq_win[-1]["sram"]),
        "fa_slope": loglog_slope([r["sram"] for r in fa_win],
                                 [r["total"] for r in fa_win]),
        "square_slope": loglog_slope([r["sram"] for r in sq_win],
                                     [r["total"] for r in sq_win]),
        "crossover": cross,
        "crossover_over_d2": None if cross is None else cross / d2,
        "model_crossover": None if backward else model_crossover(n, d),
    }
