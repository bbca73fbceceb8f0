import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effteach.dp_attention import (
    degree_for,
    feature_max,
    feature_norm_sq,
    feature_sup_norm,
    multi_indices,
    n_features,
    taylor_features,
    taylor_relative_error,
)


@settings(max_examples=40, deadline=None)
@given(d=st.integers(1, 4), g=st.integers(0, 5), seed=st.integers(0, 10**6))
def test_kernel_identity(d, g, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(-1, 1, (2, 1, d))
    fx, fy = taylor_features(x, g), taylor_features(y, g)
    t = float((x @ y.T)[0, 0])
    want = sum(t**m / math.factorial(m) for m in range(g + 1))
    assert fx.shape == (1, n_features(d, g)) == (1, math.comb(d + g, g))
    assert abs(float((fx @ fy.T)[0, 0]) - want) < 1e-12
    # the kernel trick: the norm without the features
    sq = float((x @ x.T)[0, 0])
    assert abs(float((fx @ fx.T)[0, 0]) - feature_norm_sq(sq, g)) < 1e-12


def test_multi_indices_are_all_and_distinct():
    b = multi_indices(3, 4)
    assert len({tuple(r) for r in b}) == len(b) == math.comb(7, 4)
    assert (b[0] == 0).all() and (b.sum(axis=1) <= 4).all()


def test_sup_norm_and_feature_max_are_attained_at_the_corner():
    R = 0.8
    corner = taylor_features(np.full((1, 2), R), 3)[0]
    assert abs(np.linalg.norm(corner) - feature_sup_norm(2, 3, R)) < 1e-12
    np.testing.assert_allclose(corner, feature_max(2, 3, R))
    pts = np.random.default_rng(0).uniform(0, R, (200, 2))
    assert (taylor_features(pts, 3) <= feature_max(2, 3, R) + 1e-15).all()


def test_remainder_bound_holds_and_can_fail():
    t = np.linspace(0, 2.0, 101)
    for g in range(6):
        approx = sum(t**m / math.factorial(m) for m in range(g + 1))
        rel = np.abs(np.exp(t) - approx) / np.exp(t)
        assert rel.max() <= taylor_relative_error(2.0, g) * (1 + 1e-12)
        assert rel.max() > 0.05 * taylor_relative_error(2.0, g)  # not vacuous
    assert degree_for(4.0, 1e-3) == 14  # the research notes' number


@pytest.mark.parametrize("bad", [np.array([[np.nan, 1.0]]), np.zeros((0, 2)),
                                 np.zeros(3), "abc"])
def test_bad_points_are_refused_by_name(bad):
    with pytest.raises((ValueError, TypeError), match="x"):
        taylor_features(bad, 2)
