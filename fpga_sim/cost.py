"""Cycle and energy costs of one op on one core: systolic GEMM cycles and a roofline.

* :func:`gemm_cycles` is the output-stationary systolic-array count: an
  ``(m, k) @ (k, n)`` GEMM on an ``R x C`` array runs ``ceil(m/R) * ceil(n/C)``
  folds. SCALE-Sim's paper (Samajdar et al., ISPASS 2020) charges each fold
  ``2R + C + k - 2`` cycles; SCALE-Sim 3.0 overlaps one fold's drain with the next
  fold's fill, ``R + C + k - 2`` per fold (``pipelined=False``: it matches the tool to
  one cycle, see ``results/cpu/fastcar_scalesim.json``). Our simulator's default
  (``pipelined=True``) overlaps folds fully (double-buffered), ``folds * k + 2R + C -
  2``: fill and drain paid once, within 6 % of SCALE-Sim on decode shapes.
* :func:`op_cycles` is the roofline: ``max(compute, bytes / bandwidth share)`` plus
  the dispatch cost; weight bytes are paid once per op on a core, whatever the
  number of rows, which is why decode at small batch is memory-bound.

Paper: FastCar (arXiv 2505.14709), FPGA section (not public; a model).
Book: notebooks/fastcar/lecture.md, "A simulated accelerator".
"""

from __future__ import annotations

import math

from effteach.checks import check_float, check_int, typed

__all__ = ["gemm_cycles", "op_cycles"]


@typed
def gemm_cycles(m: int, k: int, n: int, pe_rows: int, pe_cols: int,
                pipelined: bool = True) -> int:
    """Cycles of an (m, k) @ (k, n) GEMM on an output-stationary R x C array.

    Args:
        m: rows of activations (batch rows on this core).
        k: reduction length.
        n: output features.
        pe_rows: R, array rows.
        pe_cols: C, array columns.
        pipelined: overlap folds (fill/drain once) instead of SCALE-Sim 3.0's
            per-fold ``R + C + k - 2``.

    Returns:
        Cycles; 0 when ``m == 0`` (nothing to compute).
    """
    m = check_int("m", m, low=0)
    k, n = check_int("k", k, low=1), check_int("n", n, low=1)
    r, c = check_int("pe_rows", pe_rows, low=1), check_int("pe_cols", pe_cols, low=1)
    if m == 0:
        return 0
    folds = math.ceil(m / r) * math.ceil(n / c)
    if pipelined:
        return folds * k + 2 * r + c - 2
    return folds * (r + c + k - 2)


@typed
def op_cycles(compute: int, n_bytes: float, bytes_per_cycle: float,
              dispatch: int) -> int:
    """Roofline time of one op on one core: ``max(compute, memory) + dispatch``."""
    compute = check_int("compute", compute, low=0)
    n_bytes = check_float("n_bytes", n_bytes, low=0)
    bpc = check_float("bytes_per_cycle", bytes_per_cycle, low=0, low_open=True)
    dispatch = check_int("dispatch", dispatch, low=0)
    if compute == 0 and n_bytes == 0:
        return 0
    return max(compute, math.ceil(n_bytes / bpc)) + dispatch
