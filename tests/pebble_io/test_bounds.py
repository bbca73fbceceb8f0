"""The bounds: formulas, regimes, and the lower bounds under every measured count."""

import numpy as np
import pytest

from effteach.pebble_io import (
    REGISTERS,
    SCHEDULE_NAMES,
    backward_bound,
    best_tiles,
    forward_bound,
    hong_kung_bound,
    lower_bound,
    min_sram,
    regime,
    schedule_io,
    sparse_bound,
    trivial_floor,
)


def test_theta_formulas_meet_at_d_squared():
    for n, d in ((1024, 64), (100, 7), (5, 40)):
        m = d * d
        assert forward_bound(n, d, m) == pytest.approx(n * n)
        assert backward_bound(n, d, m) == pytest.approx(n * n + n * d)
        for mm in (m / 9, m / 2, 2 * m, 50 * m):
            large = (n * n * d * d + n * d**3) / mm
            small = (n * n * d + n * d * d) / np.sqrt(mm)
            assert large / small == pytest.approx(d / np.sqrt(mm))  # exactly d/√M
            assert backward_bound(n, d, mm) == pytest.approx(min(large, small))
            branch = "large" if mm >= m else "small"
            assert regime(d, mm) == branch
            assert (large <= small) == (branch == "large")


def test_vectorized_and_bad_sram():
    m = np.array([16.0, 256.0, 4096.0])
    out = forward_bound(256, 16, m)
    assert isinstance(out, np.ndarray) and out.shape == (3,)
    assert np.all(np.diff(out) < 0)
    assert isinstance(forward_bound(256, 16, 64), float)
    for bad in (0, -1, [], [4, 0], np.array([4.0, np.nan])):
        with pytest.raises(ValueError, match="sram: expected positive"):
            backward_bound(8, 2, bad)
    for bad in (np.nan, "64", None, np.array(["a"])):  # not a number: a TypeError
        with pytest.raises(TypeError, match="sram"):
            backward_bound(8, 2, bad)
    with pytest.raises(ValueError, match="n_ctx"):
        forward_bound(0, 2, 4)
    with pytest.raises(ValueError, match="z_in"):
        sparse_bound(0, 4, 4)


def test_hong_kung_curve_has_both_branches():
    n, d = 10**6, 64
    big = 100 * d * d  # M >> d²: close to n²d²/M
    assert hong_kung_bound(n, d, big) / (n * n * d * d / big) == pytest.approx(
        1, rel=0.03)
    d2 = 10**6  # 1 << M << d²: close to n²d/(2√M)
    m = 1e4
    assert hong_kung_bound(n, d2, m) / (n * n * d2 / (2 * np.sqrt(m))) == pytest.approx(
        1, rel=0.02)
    n, d = 4096, 64
    assert hong_kung_bound(n, d, 4 * d * d, backward=True) > hong_kung_bound(
        n, d, 4 * d * d)
    assert hong_kung_bound(8, 2, 10**6) == 0.0  # clipped at 0
    # it sits below the Θ-formula (constant 1) everywhere
    ms = np.geomspace(4, n * d, 40)
    assert np.all(hong_kung_bound(n, d, ms) <= forward_bound(n, d, ms))


def test_floor_and_sparse_bound():
    assert trivial_floor(10, 3) == 120 and trivial_floor(10, 3, backward=True) == 210
    n, d = 256, 16
    # FlashAttention-2 forward reaches the floor (+ n for L) once T_r = 1
    tiles = best_tiles("fa2_fwd", n, d, 4 * n * d)
    assert schedule_io("fa2_fwd", n, d, **tiles).total == trivial_floor(n, d) + n
    # the sparse form reduces to the dense bound up to constants
    for m in (16, 256, 4096):
        dense = sparse_bound(2 * n * d, n * n, m)
        want = min(4 * n * n * d * d / m, 2 * n * n * d / m**0.5)
        assert dense == pytest.approx(want)
        assert 1 <= dense / forward_bound(n, d, m) <= 4


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_every_count_is_above_the_lower_bound(name):
    backward = name.endswith(("_bwd", "_two_pass"))
    for n, d in ((64, 8), (128, 16), (33, 5), (16, 40)):
        for m in sorted({min_sram(name, d), *np.geomspace(4, 8 * n * d, 25).astype(
                int)}):
            if m < min_sram(name, d):
                continue
            total = schedule_io(name, n, d, **best_tiles(name, n, d, m)).total
            # the run also used up to REGISTERS scalar registers beyond M
            assert total >= lower_bound(n, d, m + REGISTERS, backward)
            assert total >= trivial_floor(n, d, backward)
