"""The SymPy derivations, each checked against the numeric implementation."""

import math

import numpy as np
import pytest
import sympy as sp

from effteach.pebble_io import (
    best_tiles,
    dao_tiles_report,
    hong_kung_bound,
    schedule_io,
)
from effteach.pebble_io import symbolic as S
from effteach.symbolic import assert_identity

n, d, M = S.symbols()
B_r, B_c, B = S.tile_symbols()


def test_crossover_and_ratio():
    for backward in (True, False):
        assert_identity(S.branch_ratio(backward), d / sp.sqrt(M), "ratio d/sqrt(M)")
        assert S.crossover(backward) == [d**2]
    assert S.materialize_threshold() == [d**2]
    f = S.small_d_factors()
    assert_identity(f["large"], 1 + d / n)
    assert_identity(f["small"], 1 + d / n)
    # for d <= n the factor lies in [1, 2]
    assert sp.limit(f["large"], n, sp.oo) == 1 and f["large"].subs(n, d) == 2


@pytest.mark.parametrize(
    "name, expr, tiles",
    [("fa2_fwd", S.fa2_fwd_io_expr, lambda b: dict(block_m=b, block_n=1)),
     ("fa2_bwd", S.fa2_bwd_io_expr, lambda b: dict(block_m=3, block_n=b)),
     ("square_fwd", S.square_fwd_io_expr, lambda b: dict(block=b)),
     ("square_bwd", S.square_bwd_io_expr, lambda b: dict(block=b))],
)
def test_count_expressions_equal_the_closed_forms(name, expr, tiles):
    for nn, dd in ((64, 8), (48, 16), (32, 4)):
        for b in (1, 2, 4):  # dividing n and d
            sym = expr().subs({n: nn, d: dd, B_r: b, B_c: b, B: b})
            assert sym == schedule_io(name, nn, dd, **tiles(b)).total


def test_tile_optima_match_the_search():
    fwd, bwd = S.fa2_fwd_tile_optimum(), S.fa2_bwd_tile_optimum()
    side = S.square_tile_side()
    assert_identity(S.fa_fwd_residency_expr().subs(B_r, fwd["block_m"]), M)
    assert_identity(side["io_saha_ye"],
                    8 * n**2 * d / sp.sqrt(M) + n**2 + 2 * n + n * d)
    nn, dd = 256, 16
    for m in (100, 256, 777, 2048):
        br = min(math.floor(float(fwd["block_m_at_1"].subs({M: m, d: dd}))), nn)
        best = schedule_io("fa2_fwd", nn, dd, **best_tiles("fa2_fwd", nn, dd, m))
        assert schedule_io("fa2_fwd", nn, dd, block_m=br, block_n=1) == best
        bc = min(math.floor(float(bwd["block_n_at_1"].subs({M: m, d: dd}))), nn)
        if m >= 7 * dd + 4:
            best = schedule_io("fa2_bwd", nn, dd, **best_tiles("fa2_bwd", nn, dd, m))
            assert schedule_io("fa2_bwd", nn, dd, block_m=1, block_n=bc) == best
        for m2 in (m // 8, m // 2):  # square tiles no wider than d
            b = math.floor(float(side["exact"].subs(M, m2)) + 1e-12)
            if 1 <= b <= dd:
                best = best_tiles("square_fwd", nn, dd, m2)
                assert (schedule_io("square_fwd", nn, dd, block=b)
                        == schedule_io("square_fwd", nn, dd, **best))
    # continuous counts, evaluated, are below the exact (ceil) ones
    io = sp.lambdify((n, d, M), fwd["io"])
    assert io(nn, dd, 1024) <= schedule_io("fa2_fwd", nn, dd,
                                           **best_tiles("fa2_fwd", nn, dd, 1024)).total


def test_dao_overflow_threshold():
    t = S.dao_overflow_threshold()
    assert_identity(t["excess_equal"], M**2 / (16 * d**2) + M / (2 * d))
    assert_identity(t["threshold_capped"], 8 * d**2 + 8 * d)
    dd = 4
    rows = dao_tiles_report(64, dd, range(20, 400))
    first_fit = min(r["sram"] for r in rows if r["fits"])
    assert 8 * dd * dd + 8 * dd <= first_fit <= 8 * dd * dd + 20 * dd


def test_hong_kung_algebra():
    assert_identity(S.hk_tree_count(), M**2 / d**2)
    lim = S.hk_curve_limits()
    assert lim == {"large": 1, "small": 1}
    f = sp.lambdify((n, d, M), S.hk_curve_expr(backward=True))
    for nn, dd, m in ((4096, 64, 1000.0), (512, 16, 300.0)):
        assert max(f(nn, dd, m), 0.0) == pytest.approx(
            hong_kung_bound(nn, dd, m, backward=True))


def test_backward_identities_hold_and_a_wrong_one_fails():
    ids = S.backward_identities()
    assert len(ids) == 2
    for name, lhs, rhs in ids:
        assert_identity(lhs, rhs, name)
    _, jac_dp, ds = ids[1]
    with pytest.raises(AssertionError):
        assert_identity(jac_dp, 2 * ds, "wrong")  # the check can fail
    # larger rows too
    for name, lhs, rhs in S.backward_identities(n_keys=4, d_head=3):
        assert_identity(lhs, rhs, name)
    with pytest.raises(ValueError, match="n_keys"):
        S.backward_identities(n_keys=0)


def test_model_crossover_is_below_d_squared():
    for nn, dd in ((128, 16), (512, 16), (256, 8)):
        m = S.model_crossover(nn, dd)
        assert dd * dd / 4 <= m <= dd * dd
    # the continuous models really are equal there
    fa = S.fa2_fwd_tile_optimum()["io"].subs({n: 128, d: 16})
    sq = S.square_fwd_io_expr().subs(B, S.square_tile_side()["exact"]).subs(
        {n: 128, d: 16})
    m = S.model_crossover(128, 16)
    assert float(fa.subs(M, m)) == pytest.approx(float(sq.subs(M, m)), rel=1e-9)
    assert np.isfinite(m)
