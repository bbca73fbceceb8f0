"""Argument checks shared by the library: type hints enforced, and small value checks.

Two layers, so that every public function refuses bad input by name (issue 21):

1. :func:`typed` (a decorator) enforces the function's type hints at call time with
   `beartype <https://beartype.readthedocs.io>`_: a wrong type raises a
   ``TypeError`` that names the parameter and the hint
   (``parameter n_ctx=2.5 violates type hint <class 'int'>``). Two readings of the
   hints are the library's own, the same everywhere:

   * ``int`` accepts Python and NumPy integers, but not ``bool`` (``True`` is not a
     size) and not floats (``2.5`` is never truncated);
   * ``float`` accepts Python/NumPy floats and integers, but not NaN (no parameter
     of the library means anything by NaN; ``inf`` passes the hint, and a range
     check refuses it where it is meaningless).

   Apply it to a function, a method or a (data)class (after ``@dataclass``, so the
   generated ``__init__`` is checked)::

       @typed
       @dataclasses.dataclass(frozen=True)
       class GPTConfig: ...

   A generator function is checked only when it first runs (``next``), so a
   ``@contextmanager`` should check its arguments in a plain function that returns
   it. The wrapper keeps ``__wrapped__``, so ``inspect.unwrap``/``inspect.getsource``
   (and ``effteach.show_source``) show the original source. The check is a few
   ``isinstance`` calls (about a microsecond), cheap enough for sampler loops.

2. Value checks that hints cannot express (ranges, NaN in tensors, shapes, dtypes):
   :func:`check_int`, :func:`check_float`, :func:`check_tensor`,
   :func:`check_labels`, :func:`check_sizes` (model configs), ... Each raises
   ``ValueError`` (``TypeError`` for a wrong type) whose message starts with the
   argument's name.

Book: book/howto.md (bad input gets a clear error).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any

import numpy as np
import torch
from beartype import BeartypeConf, FrozenDict, beartype
from beartype.vale import Is

__all__ = [
    "typed",
    "check_int",
    "check_float",
    "check_tensor",
    "check_labels",
    "check_sizes",
    "check_sequence",
]


def _not_a_bool(value) -> bool:
    return not isinstance(value, (bool, np.bool_))


def _not_nan(value) -> bool:
    return value == value  # noqa: PLR0124  (False only for NaN)


#: what the hint ``int`` means in the library
Int = Annotated[int | np.integer, Is[_not_a_bool]]
#: what the hint ``float`` means in the library
Float = Annotated[float | int | np.floating | np.integer, Is[_not_a_bool], Is[_not_nan]]

CONF = BeartypeConf(
    violation_type=TypeError,
    hint_overrides=FrozenDict({int: Int, float: Float}),
)
#: the decorator: ``@typed`` on a function, method or class
typed = beartype(conf=CONF)


def _name_of(value) -> str:
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return f"{type(value).__name__} of shape {tuple(value.shape)}, {value.dtype}"
    return f"{type(value).__name__} {value!r}"


def check_int(
    name: str, value: Any, low: int | None = None, high: int | None = None
) -> int:
    """Return ``value`` as an ``int`` if it is an integer (not bool) in ``[low, high]``.

    Raises:
        TypeError: naming ``name`` unless ``value`` is a Python/NumPy integer.
        ValueError: naming ``name`` if it lies outside ``[low, high]``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {_name_of(value)}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        rng = f">= {low}" if high is None else (
            f"<= {high}" if low is None else f"in [{low}, {high}]")
        raise ValueError(f"{name}: expected an int {rng}, got {value}")
    return value


def check_float(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    finite: bool = True,
    low_open: bool = False,
) -> float:
    """Return ``value`` as a ``float`` if it is a real number in range.

    Args:
        name: the argument's name, for the message.
        value: the value to check.
        low: lower bound (inclusive unless ``low_open``).
        high: upper bound (inclusive).
        low_open: make ``low`` exclusive (``> low``).
        finite: refuse ``inf`` too (NaN is always refused).

    Raises:
        TypeError: naming ``name`` unless ``value`` is a real number (not bool).
        ValueError: naming ``name`` if it is NaN, infinite (with ``finite``) or
            out of range.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"{name}: expected a real number, got {_name_of(value)}")
    value = float(value)
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    below = low is not None and (value <= low if low_open else value < low)
    if below or (high is not None and value > high):
        lo = "" if low is None else ("> " if low_open else ">= ") + f"{low:g}"
        hi = "" if high is None else f"<= {high:g}"
        raise ValueError(
            f"{name}: expected a number {' and '.join(s for s in (lo, hi) if s)}, "
            f"got {value:g}"
        )
    return value


_KINDS = {
    "float": lambda t: t.is_floating_point(),
    "int": lambda t: not t.is_floating_point() and not t.is_complex()
    and t.dtype != torch.bool,
    "bool": lambda t: t.dtype == torch.bool,
}


def check_tensor(
    name: str,
    value: Any,
    shape: Sequence[int | None] | None = None,
    ndim: int | None = None,
    min_ndim: int | None = None,
    kind: str | None = None,
    dtype: torch.dtype | None = None,
    non_empty: bool = True,
    finite: bool = False,
    shape_of: str | None = None,
) -> torch.Tensor:
    """Check a tensor argument; return it unchanged.

    Args:
        name: the argument's name, for the message.
        value: the argument.
        shape: the expected shape; ``None`` entries are free (their count fixes the
            rank).
        ndim: the expected rank (when ``shape`` is not given).
        min_ndim: the least rank (e.g. 2 for ``(batch, ...)``).
        kind: ``"float"``, ``"int"`` (any integer dtype) or ``"bool"``.
        dtype: one exact dtype.
        non_empty: refuse a tensor with no elements.
        finite: refuse NaN and inf entries (floating tensors).
        shape_of: where ``shape`` comes from (another argument's name), for the
            message: a mismatch names both arguments.

    Raises:
        TypeError: naming ``name`` if ``value`` is no tensor or has the wrong dtype.
        ValueError: naming ``name`` for a wrong rank or shape, emptiness or a
            non-finite entry.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {_name_of(value)}")
    if kind is not None and not _KINDS[kind](value):
        raise TypeError(f"{name}: expected a {kind} tensor, got dtype {value.dtype}")
    if dtype is not None and value.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype}, got {value.dtype}")
    got = tuple(value.shape)
    if shape is not None:
        want = tuple(shape)
        if len(got) != len(want) or any(
            w is not None and w != g for w, g in zip(want, got, strict=True)
        ):
            text = "(" + ", ".join("n" if w is None else str(w) for w in want) + ")"
            src = f" (from {shape_of})" if shape_of else ""
            raise ValueError(f"{name}: expected shape {text}{src}, got {got}")
    elif ndim is not None and len(got) != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {got}")
    if min_ndim is not None and len(got) < min_ndim:
        raise ValueError(
            f"{name}: expected at least {min_ndim} dimensions, got shape {got}"
        )
    if non_empty and value.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty tensor, got shape {got}")
    if finite and value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return value


def check_labels(name: str, value: Any, n_classes: int, n: int | None = None):
    """Check class labels: an int64 tensor of shape (n,), entries in [0, n_classes).

    Raises:
        TypeError, ValueError: naming ``name``.
    """
    check_tensor(name, value, shape=(n,), dtype=torch.long)
    lo, hi = int(value.min()), int(value.max())
    if lo < 0 or hi >= n_classes:
        raise ValueError(
            f"{name}: expected class labels in [0, {n_classes}), got [{lo}, {hi}]"
        )
    return value


def check_sequence(
    name: str, value: Any, non_empty: bool = True, length: int | None = None
) -> list:
    """Check a sequence argument (a list, tuple, range or 1-D array); return a list.

    Its items are checked by the caller, e.g. with
    ``[check_float(f"{name}[{i}]", x) for i, x in enumerate(items)]``, so that a bad
    item's message names the argument and the index.

    Raises:
        TypeError: naming ``name`` for a str, a mapping, a scalar or an array that is
            not 1-D.
        ValueError: naming ``name`` if it is empty (with ``non_empty``) or its length
            is not ``length``.
    """
    ok = isinstance(value, (list, tuple, range)) or (
        isinstance(value, (np.ndarray, torch.Tensor)) and value.ndim == 1
    )
    if not ok:
        raise TypeError(
            f"{name}: expected a list, tuple or 1-D array, got {_name_of(value)}"
        )
    items = list(value)
    if non_empty and not items:
        raise ValueError(f"{name}: expected at least one item, got none")
    if length is not None and len(items) != length:
        raise ValueError(f"{name}: expected {length} items, got {len(items)}")
    return items


def check_sizes(config: Any) -> None:
    """Check a sizes dataclass: every ``int`` field >= 1, every ``float`` field > 0.

    For model configs (call it from ``__post_init__``); the types themselves are
    checked by :func:`typed`.

    Raises:
        ValueError: naming the first field out of range.
    """
    import dataclasses

    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, np.integer)):
            check_int(f.name, value, low=1)
        elif isinstance(value, (float, np.floating)):
            check_float(f.name, value, low=0, low_open=True)
