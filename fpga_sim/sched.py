"""Map the rows that need the MLP onto cores: static, DRS round-robin, oracle packing.

* ``static``: row ``b`` always runs on core ``b mod P`` (what a precompiled
  multi-core design does); a core whose rows all replay idles.
* ``drs``: the paper's Dynamic Resource Scheduling: the Index Register holds one bit
  per row (1 = compute); compute rows are dealt round-robin to cores (the Mapping
  Registers), replayed rows' instructions are discarded. Core loads differ by at most
  one, so the busiest core has ``ceil(c / P)`` rows for ``c`` compute rows.
* ``oracle``: round-robin over the best number ``k <= P`` of cores (chosen by the
  simulator), without the DRS overhead: packing onto fewer cores can pay when the
  weight stream, not the PEs, is the bottleneck.

Paper: FastCar (arXiv 2505.14709), Dynamic Resource Scheduling.
Book: notebooks/fastcar/lecture.md, "A simulated accelerator".
"""

from __future__ import annotations

import numpy as np

from effteach.checks import check_int, typed

__all__ = ["SCHEDULERS", "assign_rows", "core_loads"]

SCHEDULERS = ("static", "drs", "oracle")


def _flags(compute) -> np.ndarray:
    arr = np.asarray(compute)
    if arr.ndim != 1 or arr.dtype != np.bool_:
        raise TypeError(f"compute: expected a 1-d bool array, got {arr.dtype} "
                        f"shape {arr.shape}")
    return arr


@typed
def assign_rows(compute, n_cores: int, scheduler: str = "drs") -> np.ndarray:
    """Core of each row (``-1``: replayed, not run) under ``scheduler``.

    Args:
        compute: (B,) bool, True where the row needs the MLP.
        n_cores: cores to use (for ``oracle``, the simulator passes its choice).
        scheduler: ``"static"`` or ``"drs"`` (``"oracle"`` deals like ``"drs"``).

    Returns:
        (B,) int64 core ids.
    """
    flags = _flags(compute)
    p = check_int("n_cores", n_cores, low=1)
    if scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler: expected one of {SCHEDULERS}, got {scheduler!r}")
    out = np.full(flags.shape, -1, dtype=np.int64)
    if scheduler == "static":
        rows = np.nonzero(flags)[0]
        out[rows] = rows % p
    else:
        rows = np.nonzero(flags)[0]
        out[rows] = np.arange(len(rows)) % p
    return out


@typed
def core_loads(mapping, n_cores: int) -> np.ndarray:
    """(P,) number of rows mapped to each core."""
    arr = np.asarray(mapping)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError("mapping: expected a 1-d integer array")
    p = check_int("n_cores", n_cores, low=1)
    if arr.size and (arr.max() >= p or arr.min() < -1):
        raise ValueError(f"mapping: core ids must lie in [-1, {p})")
    return np.bincount(arr[arr >= 0], minlength=p)
