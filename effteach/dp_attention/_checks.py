"""Argument checks of the dp_attention chapter: arrays, privacy parameters, bounds.

Every check raises ``TypeError`` (wrong type) or ``ValueError`` (wrong value) whose
message starts with the argument's name, as :mod:`effteach.checks` does for tensors.

Book: notebooks/dp_attention/lecture.md, "The method".
"""

from __future__ import annotations

from typing import Any

import numpy as np

from effteach.checks import check_float


def check_array(
    name: str,
    value: Any,
    ndim: int | None = None,
    shape: tuple[int | None, ...] | None = None,
    shape_of: str | None = None,
) -> np.ndarray:
    """Return ``value`` as a float64 array if it is a finite, non-empty real array.

    Raises:
        TypeError: naming ``name`` unless ``value`` is a NumPy array of real numbers.
        ValueError: naming ``name`` for a wrong rank or shape, no entries, or a NaN
            or infinite entry.
    """
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(value).__name__}")
    if value.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected real numbers, got dtype {value.dtype}")
    if shape is not None:
        ndim = len(shape)
    if ndim is not None and value.ndim != ndim:
        raise ValueError(
            f"{name}: expected {ndim} dimensions, got shape {tuple(value.shape)}"
        )
    if shape is not None and any(
        w is not None and w != g for w, g in zip(shape, value.shape, strict=True)
    ):
        want = "(" + ", ".join("n" if w is None else str(w) for w in shape) + ")"
        src = f" (from {shape_of})" if shape_of else ""
        raise ValueError(f"{name}: expected shape {want}{src}, got {value.shape}")
    if value.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {value.shape}")
    out = value.astype(np.float64)
    if not np.isfinite(out).all():
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return out


def check_privacy(
    eps: Any, delta: Any, need_delta: bool = False, eps_name: str = "eps",
    delta_name: str = "delta",
) -> tuple[float, float]:
    """Check a privacy budget: ``eps > 0`` finite and ``delta`` in ``[0, 1)``.

    Args:
        eps: the budget epsilon.
        delta: the budget delta.
        need_delta: the mechanism needs ``delta > 0`` (a Gaussian mechanism).
        eps_name: the name of the eps argument, for the message.
        delta_name: the name of the delta argument, for the message.

    Raises:
        ValueError: naming ``eps`` if ``eps <= 0`` or infinite, ``delta`` outside
            ``[0, 1)`` (or 0 where ``need_delta``).
        TypeError: naming the argument if it is not a real number.
    """
    eps = check_float(eps_name, eps, 0.0, low_open=True)
    delta = check_float(delta_name, delta, 0.0)
    if delta >= 1.0:
        raise ValueError(f"{delta_name}: expected a number in [0, 1), got {delta:g}")
    if need_delta and delta == 0.0:
        raise ValueError(
            f"{delta_name}: the Gaussian mechanism needs delta > 0 (for delta = 0 use "
            "a Laplace mechanism)"
        )
    return eps, delta


def check_bound(name: str, value: Any) -> float:
    """A positive finite bound (R, R_w, x_max, ...)."""
    return check_float(name, value, 0.0, low_open=True)


def check_in_box(
    name: str, x: np.ndarray, low: float, high: float, clip: bool, bound: str
) -> np.ndarray:
    """Entries of ``x`` in ``[low, high]``: clip them (``clip``) or refuse them.

    Raises:
        ValueError: naming ``name`` and the bound, with the worst entry, when an
            entry lies outside and ``clip`` is False.
    """
    if clip:
        return np.clip(x, low, high)
    bad = (x < low) | (x > high)
    if bad.any():
        worst = float(x[bad].flat[np.argmax(np.abs(x[bad]))])
        raise ValueError(
            f"{name}: expected entries in [{low:g}, {high:g}] (the bound {bound}), got "
            f"{worst:g}; pass clip=True to clip explicitly"
        )
    return x

