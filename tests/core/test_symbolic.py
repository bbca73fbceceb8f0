import math

import pytest
import sympy as sp

from effteach.symbolic import IdentityError, assert_identity, assert_matches

x, y = sp.symbols("x y", real=True)


def test_assert_identity_passes_and_fails_readably():
    assert_identity(sp.exp(x) * sp.exp(y), sp.exp(x + y))
    with pytest.raises(IdentityError, match=r"double angle: lhs - rhs simplifies to"):
        assert_identity(sp.sin(2 * x), sp.sin(x) * sp.cos(x), "double angle")


def test_assert_identity_matrices():
    m = sp.Matrix([[x, 1], [0, y]])
    assert_identity(m * sp.eye(2), m)
    with pytest.raises(IdentityError, match=r"entry \(0, 1\) differs"):
        assert_identity(m, sp.Matrix([[x, 2], [0, y]]))
    with pytest.raises(IdentityError, match="shapes differ"):
        assert_identity(m, sp.eye(3))


def test_assert_matches_implementation():
    worst = assert_matches(
        sp.sin(x) * y,
        [x, y],
        lambda a, b: math.sin(a) * b,
        samples={"x": (-3, 3), "y": (0, 2)},
    )
    assert worst < 1e-12
    with pytest.raises(IdentityError, match="disagree at x="):
        assert_matches(
            sp.sin(x), [x], lambda a: math.sin(a) + 1e-3, samples={"x": (-3, 3)}
        )
    with pytest.raises(ValueError, match=r"samples: no \(low, high\) range.*'y'"):
        assert_matches(x + y, [x, y], lambda a, b: a + b, samples={"x": (0, 1)})
