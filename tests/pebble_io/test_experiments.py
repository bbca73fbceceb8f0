"""The chapter's measurements: slopes, crossover, and their helpers."""

import numpy as np
import pytest

from effteach.pebble_io import (
    cache_grid,
    closed_form_curve,
    crossover_point,
    io_curve,
    loglog_slope,
    measure_regimes,
    random_qkv,
)


@pytest.fixture(scope="module")
def forward():
    return measure_regimes(n_ctx=128, d_head=16)


def test_forward_regimes_are_measured(forward):
    d2 = 16 * 16
    r = forward
    assert -1.1 <= r["fa_slope"] <= -0.85  # Θ(n²d²/M) in FlashAttention's window
    assert -0.6 <= r["square_slope"] <= -0.4  # Θ(n²d/√M) below d²
    assert d2 / 4 <= r["crossover"] <= 4 * d2
    assert r["crossover_over_d2"] == pytest.approx(r["crossover"] / d2)
    # the constants put the crossover below d², near the continuous model's
    assert r["crossover"] < d2
    assert r["crossover"] == pytest.approx(r["model_crossover"], rel=0.3)
    assert r["fa_window"] == (256, 1024) and r["square_window"] == (64, 256)
    for row in r["fa"] + r["square"]:
        if row["total"] is None:
            continue
        assert row["total"] == row["closed_form"]  # measured = closed form
        assert row["peak"] <= row["sram"]
        assert row["error"] < 1e-10
    # FlashAttention wins above the crossover, square tiling below
    by_fa = {x["sram"]: x["total"] for x in r["fa"]}
    by_sq = {x["sram"]: x["total"] for x in r["square"]}
    for m in set(by_fa) & set(by_sq):
        assert (by_fa[m] < by_sq[m]) == (m > r["crossover"])


def test_backward_regimes_are_measured():
    r = measure_regimes(n_ctx=128, d_head=16, backward=True)
    assert -1.1 <= r["fa_slope"] <= -0.9
    assert -0.6 <= r["square_slope"] <= -0.4
    assert 256 / 4 <= r["crossover"] <= 4 * 256
    assert r["model_crossover"] is None
    assert all(x["total"] == x["closed_form"] for x in r["fa"] + r["square"]
               if x["total"] is not None)


def test_closed_form_curve_agrees_with_the_simulator(forward):
    rows = forward["fa"]
    predicted = closed_form_curve("fa2_fwd", 128, 16, [r["sram"] for r in rows])
    assert predicted == [r["total"] for r in rows]
    wide = closed_form_curve("square_bwd", 4096, 128, [2, 6, 2**10, 2**20])
    assert wide[0] is None and wide[1] > wide[2] > wide[3]
    with pytest.raises(ValueError, match="schedule"):
        closed_form_curve("nope", 8, 2, [10])


def test_io_curve_reports_infeasible_sizes():
    rows = io_curve("fa2_fwd", 16, 4, [10, 19, 100], causal=True)
    assert rows[0]["total"] is None and rows[0]["tiles"] is None  # needs 4d + 3
    assert rows[1]["tiles"] == {"block_m": 1, "block_n": 1}
    assert all(r["total"] == r["closed_form"] for r in rows[1:])
    assert rows[2]["total"] < rows[1]["total"]
    with pytest.raises(ValueError, match="schedule"):
        io_curve("nope", 16, 4, [100])


def test_helpers():
    assert cache_grid(16, 64) == [16, 23, 32, 45, 64]
    assert cache_grid(10, 40, per_octave=1) == [16, 32]
    with pytest.raises(ValueError, match="hi: expected a number >= 8"):
        cache_grid(8, 4)
    with pytest.raises(ValueError, match="lo: expected a number > 0"):
        cache_grid(0, 4)
    with pytest.raises(ValueError, match=r"srams\[1\]: expected a finite"):
        loglog_slope([1.0, np.nan], [2.0, 1.0])
    with pytest.raises(ValueError, match="totals: expected one per entry"):
        loglog_slope([1.0, 2.0], [2.0])
    with pytest.raises(TypeError, match="large_cache"):
        crossover_point([1.0], "a", [1.0])
    m = np.array([4.0, 16.0, 64.0, 256.0])
    assert loglog_slope(m, 7 * m**-0.5) == pytest.approx(-0.5)
    assert loglog_slope([1, 2, 4], [None, 8, 4]) == pytest.approx(-1)
    with pytest.raises(ValueError, match="at least two"):
        loglog_slope([1, 2], [None, 3])
    # large-cache counts fall faster: they cross between 100 and 400, at 200
    grid = [25, 50, 100, 400, 800]
    large = [None, 9000.0, 4000.0, 1000.0, 500.0]
    small = [3000.0, 2500.0, 2000.0, 2000.0, 1900.0]
    assert crossover_point(grid, large, small) == pytest.approx(200.0)
    assert crossover_point(grid[:2], large[:2], small[:2]) is None
    assert crossover_point([8, 16], [1.0, 1.0], [2.0, 2.0]) == 8.0
    q, k, v, do = random_qkv(5, 3, seed=1)
    assert q.shape == (5, 3) and not np.allclose(q, k)
    np.testing.assert_array_equal(random_qkv(5, 3, seed=1)[3], do)
    with pytest.raises(ValueError, match="n_ctx: need n_ctx >= 4 d_head"):
        measure_regimes(n_ctx=16, d_head=8)
