"""SymPy helpers: assert an identity, and compare a formula with an implementation.

Every derivation in the book ends in one of these two calls, so a wrong formula or a
wrong implementation stops the notebook with a readable message::

    assert_identity(sp.exp(a) * sp.exp(b), sp.exp(a + b), "exp is a homomorphism")
    assert_matches(expr, [x, y], impl, samples={"x": (-2, 2), "y": (0.1, 3)})

Book: notebooks/foundations/lecture.md, "Derivations".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import sympy as sp


class IdentityError(AssertionError):
    """A symbolic identity or a numerical comparison did not hold."""


def assert_identity(lhs, rhs, name: str = "identity") -> None:
    """Assert that ``lhs == rhs`` symbolically (works for scalars and matrices).

    Args:
        lhs: a SymPy expression or Matrix.
        rhs: a SymPy expression or Matrix of the same shape.
        name: what the identity is, used in the failure message.

    Raises:
        IdentityError: naming the identity and the non-zero simplified difference
            (for matrices, the first entry that differs).
    """
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
        if getattr(lhs, "shape", None) != getattr(rhs, "shape", None):
            raise IdentityError(
                f"{name}: shapes differ: {getattr(lhs, 'shape', 'scalar')} vs "
                f"{getattr(rhs, 'shape', 'scalar')}"
            )
        for i in range(lhs.rows):
            for j in range(lhs.cols):
                diff = sp.simplify(lhs[i, j] - rhs[i, j])
                if diff != 0:
                    raise IdentityError(
                        f"{name}: entry ({i}, {j}) differs; lhs - rhs simplifies to "
                        f"{diff}"
                    )
        return
    diff = sp.simplify(lhs - rhs)
    if diff != 0:
        raise IdentityError(f"{name}: lhs - rhs simplifies to {diff}, not 0")


def assert_matches(
    expr,
    symbols: Sequence[sp.Symbol],
    impl: Callable[..., object],
    samples: Mapping[str, tuple[float, float]],
    n: int = 64,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    seed: int = 0,
) -> float:
    """Compare a lambdified expression with an implementation over sampled inputs.

    Args:
        expr: a SymPy expression (or Matrix) in ``symbols``.
        symbols: the free symbols, in the order ``impl`` takes them.
        impl: the implementation; called as ``impl(*values)`` with floats.
        samples: for each symbol name, the ``(low, high)`` range to draw from.
        n: how many points to draw.
        rtol: relative tolerance of the comparison.
        atol: absolute tolerance of the comparison.
        seed: seed of the sampled points.

    Returns:
        The largest absolute difference seen.

    Raises:
        ValueError: if a symbol has no sample range.
        IdentityError: at the first point where the two disagree, naming it.
    """
    missing = [str(s) for s in symbols if str(s) not in samples]
    if missing:
        raise ValueError(f"samples: no (low, high) range for symbol(s) {missing}")
    f = sp.lambdify(list(symbols), expr, modules="numpy")
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(n):
        point = [float(rng.uniform(*samples[str(s)])) for s in symbols]
        want = np.asarray(f(*point), dtype=np.float64)
        got = impl(*point)
        if hasattr(got, "detach"):
            got = got.detach().cpu().double().numpy()
        got = np.asarray(got, dtype=np.float64)
        if got.shape != want.shape:
            raise IdentityError(
                f"impl returned shape {got.shape}, the formula gives {want.shape}"
            )
        err = np.abs(got - want)
        worst = max(worst, float(err.max(initial=0.0)))
        if np.any(err > atol + rtol * np.abs(want)):
            at = ", ".join(f"{s}={v:.6g}" for s, v in zip(symbols, point, strict=True))
            raise IdentityError(
                f"formula and implementation disagree at {at}: formula {want}, "
                f"implementation {got} (max error {err.max():.3e})"
            )
    return worst
