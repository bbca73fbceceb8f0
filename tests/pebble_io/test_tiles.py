"""The tile optimizer against brute force, the textbook tiles, tile helpers."""

import itertools

import numpy as np
import pytest

from effteach.pebble_io import (
    SCHEDULE_NAMES,
    best_tiles,
    dao_tiles,
    dao_tiles_report,
    fa2_forward,
    fa2_fwd_io,
    fa_fwd_residency,
    min_sram,
    residency,
    schedule_io,
    tile_sizes,
    tile_visibility,
)
from effteach.pebble_io.memory import CapacityError


def _brute(name, n, d, sram, lo=1, **fixed):
    """Fewest words over every tile choice that fits, by enumeration."""
    if name.startswith("square"):
        names = ("block",)
    elif name.endswith("two_pass"):
        names = ("block_m", "block_n", "dq_block_m", "dq_block_n")
    else:
        names = ("block_m", "block_n")
    best = None
    for combo in itertools.product(range(lo, n + 1), repeat=len(names)):
        tiles = dict(zip(names, combo, strict=True))
        if any(tiles[k] != v for k, v in fixed.items()):
            continue
        if residency(name, d, **tiles) <= sram:
            total = schedule_io(name, n, d, **tiles).total
            best = total if best is None else min(best, total)
    return best


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_best_tiles_are_optimal_by_brute_force(name):
    two = name.endswith("two_pass")  # 4 tile sizes: n⁴ choices, keep n small
    sizes = [(7, 2), (6, 3)] if two else [(13, 3), (12, 4), (5, 7)]
    for n, d in sizes:
        for slack in (0, 17, 200) if two else (0, 5, 17, 60, 200, 1000):
            sram = min_sram(name, d) + slack
            tiles = best_tiles(name, n, d, sram)
            assert residency(name, d, **tiles) <= sram
            assert schedule_io(name, n, d, **tiles).total == _brute(name, n, d, sram)


@pytest.mark.parametrize("name", ["fa2_fwd", "fa2_bwd", "standard_bwd", "square_fwd"])
def test_min_block_and_fixed_tiles_by_brute_force(name):
    for n, d, lo in ((9, 2, 4), (13, 3, 3), (10, 4, 5)):
        for slack in (10, 80, 400):
            sram = min_sram(name, d, lo) + slack
            tiles = best_tiles(name, n, d, sram, min_block=lo)
            assert all(t >= lo for t in tiles.values())
            assert schedule_io(name, n, d, **tiles).total == _brute(name, n, d, sram,
                                                                    lo)
            key = "block" if name.startswith("square") else "block_m"
            fixed = {key: 3}
            if residency(name, d, **{k: 3 for k in tiles}) <= sram:
                tiles = best_tiles(name, n, d, sram, **fixed)
                assert tiles[key] == 3
                assert schedule_io(name, n, d, **tiles).total == _brute(
                    name, n, d, sram, 1, **fixed)


def test_min_block_and_degenerate_optimum():
    # in the pure pebble game the FA-2 backward wants (nearly) one query row per
    # tile: its count depends on the key tiles only, which grow as B_r shrinks
    tiles = best_tiles("fa2_bwd", 256, 16, 4096)
    one_row = schedule_io("fa2_bwd", 256, 16, block_m=1, block_n=61)
    assert residency("fa2_bwd", 16, block_m=1, block_n=61) <= 4096
    assert residency("fa2_bwd", 16, block_m=1, block_n=62) > 4096
    assert schedule_io("fa2_bwd", 256, 16, **tiles) == one_row
    assert tiles["block_m"] < 16
    t16 = best_tiles("fa2_bwd", 256, 16, 4096, min_block=16)
    assert t16["block_m"] >= 16 and t16["block_n"] >= 16
    assert residency("fa2_bwd", 16, **t16) <= 4096
    assert (schedule_io("fa2_bwd", 256, 16, **t16).total
            > schedule_io("fa2_bwd", 256, 16, **tiles).total)
    with pytest.raises(ValueError, match="needs at least .* words \\(tiles of 16\\)"):
        best_tiles("fa2_bwd", 256, 16, 1000, min_block=16)


def test_min_sram():
    d = 16
    assert min_sram("fa2_fwd", d) == 4 * d + 3  # one row of Q, O, K, V, a score, m, l
    assert min_sram("square_fwd", d) == 4
    assert min_sram("square_bwd", d) == 6
    assert min_sram("fa2_bwd", d) == 7 * d + 4
    with pytest.raises(ValueError, match="sram: fa2_fwd at d_head=16 needs at least "
                                         "67"):
        best_tiles("fa2_fwd", 64, 16, 66)


def test_dao_tiles_overflow_until_about_8d2():
    d = 8
    assert dao_tiles(d, 64) == {"block_m": 2, "block_n": 2}
    assert dao_tiles(d, 4096) == {"block_m": 8, "block_n": 128}
    rows = dao_tiles_report(64, d, range(4 * d, 12 * d * d))  # B_c <= 24 < 64
    for row in rows:
        m = row["sram"]
        assert row["dao_words"] == fa_fwd_residency(d, **row["dao"])
        if m < 8 * d * d + 8 * d:  # the continuous threshold (symbolic.py)
            assert not row["fits"] and row["dao_io"] is None
        if m >= 8 * d * d + 20 * d:  # + the rounding of ceil(M / 4d)
            assert row["fits"]
        if row["fits"]:
            assert row["dao_io"] >= row["best_io"]
    # where B_r = B_c the tiles never fit
    assert all(not r["fits"] for r in rows if r["dao"]["block_m"] == r["dao"][
        "block_n"])
    # and the simulator agrees: the textbook tiles make it raise
    rng = np.random.default_rng(0)
    q, k, v = rng.standard_normal((3, 64, d))
    tiles = dao_tiles(d, 256)
    with pytest.raises(CapacityError, match="sram=256"):
        fa2_forward(256, q, k, v, **tiles)
    with pytest.raises(ValueError, match="schedule: expected 'fa1_fwd' or 'fa2_fwd'"):
        dao_tiles_report(64, d, [64], schedule="fa2_bwd")


def test_fa2_textbook_cap_stops_the_io_from_falling():
    # notes Pitfall 3: with the FA-2 loop order, B_r <= d freezes the count past ~8d²
    d, n = 8, 512
    rows = dao_tiles_report(n, d, [2**k for k in range(10, 14)], schedule="fa2_fwd")
    dao = [r["dao_io"] for r in rows]
    assert all(x is not None for x in dao) and len(set(dao)) == 1
    best = [r["best_io"] for r in rows]
    assert best == sorted(best, reverse=True) and best[-1] < dao[-1] / 3


def test_tile_sizes_and_visibility():
    assert tile_sizes(10, 4).tolist() == [4, 4, 2]
    assert tile_sizes(8, 4).tolist() == [4, 4]
    vis = tile_visibility(10, 4, 3, causal=True)
    assert vis.shape == (3, 4)
    assert vis.tolist() == [[True, True, False, False], [True, True, True, False],
                            [True, True, True, True]]
    assert tile_visibility(10, 4, 3).all()
    mask = np.zeros((10, 10), bool)
    mask[:, 9] = True
    assert tile_visibility(10, 4, 3, mask=mask)[:, :3].sum() == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match="schedule: expected one of standard_fwd"):
        best_tiles("flash", 8, 2, 100)
    with pytest.raises(ValueError, match="schedule"):
        residency("flash", 2, block=1)
    with pytest.raises(ValueError, match="tiles: fa2_fwd takes block_m, block_n"):
        schedule_io("fa2_fwd", 8, 2, block=2)
    with pytest.raises(ValueError, match="tiles: square_fwd takes block"):
        residency("square_fwd", 2, block_m=1, block_n=1)
    with pytest.raises(ValueError, match="causal, mask: standard_fwd is dense only"):
        schedule_io("standard_fwd", 8, 2, block_m=2, block_n=2, causal=True)
    with pytest.raises(ValueError, match="n_ctx"):
        best_tiles("fa2_fwd", 0, 2, 100)
    with pytest.raises(TypeError, match="d_head"):
        best_tiles("fa2_fwd", 8, 2.0, 100)
    with pytest.raises(ValueError, match="sram"):
        best_tiles("fa2_fwd", 8, 2, -1)
    with pytest.raises(ValueError, match="block_n: needed when there is a mask"):
        fa2_fwd_io(8, 2, 2, causal=True)
    assert fa2_fwd_io(8, 2, 2) == fa2_fwd_io(8, 2, 2, 5)  # dense: B_c is irrelevant
