"""effteach.checks: the library's reading of type hints, and the small value checks."""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest
import torch

from effteach.checks import (
    check_float,
    check_int,
    check_labels,
    check_sizes,
    check_tensor,
    typed,
)


@typed
def _sized(n: int, x: float = 1.0, t: torch.Tensor | None = None) -> int:
    return n


@typed
@dataclasses.dataclass(frozen=True)
class _Config:
    width: int
    ratio: float = 2.0

    def __post_init__(self):
        check_sizes(self)


@pytest.mark.parametrize("n", [3, np.int64(3), np.int32(3)])
def test_int_hint_takes_python_and_numpy_integers(n):
    assert _sized(n) == 3


@pytest.mark.parametrize("bad", [2.5, 3.0, True, np.bool_(True), "3", None])
def test_int_hint_refuses_floats_bools_strings_none_by_name(bad):
    with pytest.raises(TypeError, match=r"parameter n="):
        _sized(bad)


@pytest.mark.parametrize("x", [2, 2.5, np.float32(2.5), math.inf])
def test_float_hint_takes_reals_and_inf(x):
    assert _sized(1, x) == 1


@pytest.mark.parametrize("bad", [math.nan, np.float64("nan"), True, "1.0"])
def test_float_hint_refuses_nan_bools_strings_by_name(bad):
    with pytest.raises(TypeError, match=r"parameter x="):
        _sized(1, bad)


def test_tensor_hint_and_optional_none():
    assert _sized(1, t=None) == 1 and _sized(1, t=torch.zeros(1)) == 1
    with pytest.raises(TypeError, match=r"parameter t="):
        _sized(1, t=[0.0])


def test_dataclass_init_is_checked_and_source_is_the_original():
    assert _Config(4).width == 4
    with pytest.raises(TypeError, match="width"):
        _Config(4.5)
    with pytest.raises(ValueError, match="width: expected an int >= 1"):
        _Config(0)
    with pytest.raises(ValueError, match="ratio"):
        _Config(1, -1.0)
    src = inspect.getsource(inspect.unwrap(_sized))
    assert src.startswith("@typed\ndef _sized(") and "return n" in src


def test_check_int_and_float_name_the_argument():
    assert check_int("k", np.int16(5), 0, 9) == 5
    with pytest.raises(TypeError, match="k: expected an int"):
        check_int("k", 5.0)
    with pytest.raises(ValueError, match=r"k: expected an int in \[0, 4\], got 5"):
        check_int("k", 5, 0, 4)
    assert check_float("lr", 3) == 3.0
    with pytest.raises(ValueError, match="lr: expected a finite number"):
        check_float("lr", math.inf)
    with pytest.raises(ValueError, match="lr: expected a number > 0"):
        check_float("lr", 0.0, low=0, low_open=True)


def test_check_tensor_names_shape_dtype_and_source():
    x = torch.zeros(2, 3)
    assert check_tensor("x", x, shape=(None, 3), kind="float") is x
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        check_tensor("x", x.numpy())
    with pytest.raises(TypeError, match="x: expected a int tensor"):
        check_tensor("x", x, kind="int")
    with pytest.raises(ValueError, match=r"y: expected shape \(n, 4\) \(from x\)"):
        check_tensor("y", x, shape=(None, 4), shape_of="x")
    with pytest.raises(ValueError, match="x: expected a non-empty tensor"):
        check_tensor("x", torch.zeros(0, 3))
    with pytest.raises(ValueError, match="x: expected finite values"):
        check_tensor("x", torch.tensor([1.0, math.nan]), finite=True)
    with pytest.raises(ValueError, match="x: expected at least 3 dimensions"):
        check_tensor("x", x, min_ndim=3)


def test_check_labels_range_and_dtype():
    check_labels("labels", torch.tensor([0, 9]), 10, 2)
    with pytest.raises(ValueError, match=r"labels: expected class labels in \[0, 10\)"):
        check_labels("labels", torch.tensor([0, 10]), 10)
    with pytest.raises(TypeError, match="labels: expected dtype torch.int64"):
        check_labels("labels", torch.tensor([0.0]), 10)
