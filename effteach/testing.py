"""Test helpers shared by tests and notebooks: seeded inputs, dtype tolerances.

Book: book/howto.md.
"""

from __future__ import annotations

import torch

from effteach.checks import typed

#: (rtol, atol) used when comparing a result of this dtype with a float64/32 reference.
TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-10, 1e-12),
    torch.float32: (1e-5, 1e-6),
    torch.float16: (2e-3, 2e-3),
    torch.bfloat16: (1.6e-2, 1.6e-2),
}


@typed
def randn(
    *shapes,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    seed: int = 0,
):
    """Return seeded standard-normal tensors, one per shape (a tuple if several)."""
    try:
        device = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device: {err}") from None
    g = torch.Generator(device="cpu").manual_seed(seed)
    out = tuple(
        torch.randn(s, generator=g, dtype=torch.float32).to(dtype=dtype, device=device)
        for s in shapes
    )
    return out if len(out) > 1 else out[0]


@typed
def assert_close(
    actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype | None = None
) -> None:
    """``torch.testing.assert_close`` with tolerances chosen by ``actual``'s dtype.

    Raises:
        AssertionError: naming ``actual`` and ``expected``, if they differ in shape
            or are not close (NaN is close to nothing).
        TypeError: if the dtype (``dtype`` or ``actual``'s) has no tolerance.
    """
    key = dtype or actual.dtype
    if key not in TOLERANCES:
        name = "dtype" if dtype is not None else "actual"
        raise TypeError(f"{name}: no tolerance for {key}; expected one of "
                        f"{', '.join(map(str, TOLERANCES))}")
    rtol, atol = TOLERANCES[key]
    if actual.shape != expected.shape:
        raise AssertionError(f"actual has shape {tuple(actual.shape)}, expected "
                             f"has shape {tuple(expected.shape)}")
    try:
        torch.testing.assert_close(
            actual.to(expected.dtype), expected, rtol=rtol, atol=atol
        )
    except AssertionError as err:
        raise AssertionError(f"actual differs from expected: {err}") from None
