"""Test helpers shared by tests and notebooks: seeded inputs, dtype tolerances.

Book: book/howto.md.
"""

from __future__ import annotations

import torch

#: (rtol, atol) used when comparing a result of this dtype with a float64/32 reference.
TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float64: (1e-10, 1e-12),
    torch.float32: (1e-5, 1e-6),
    torch.float16: (2e-3, 2e-3),
    torch.bfloat16: (1.6e-2, 1.6e-2),
}


def randn(*shapes, dtype=torch.float32, device="cpu", seed: int = 0):
    """Return seeded standard-normal tensors, one per shape (a tuple if several)."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    out = tuple(
        torch.randn(s, generator=g, dtype=torch.float32).to(dtype=dtype, device=device)
        for s in shapes
    )
    return out if len(out) > 1 else out[0]


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype=None) -> None:
    """``torch.testing.assert_close`` with tolerances chosen by ``actual``'s dtype."""
    rtol, atol = TOLERANCES[dtype or actual.dtype]
    torch.testing.assert_close(
        actual.to(expected.dtype), expected, rtol=rtol, atol=atol
    )
