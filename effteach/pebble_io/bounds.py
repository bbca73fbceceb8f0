"""I/O bounds for attention: the Θ-formulas, the trivial floor, an explicit lower bound.

Three kinds of statement, with where each comes from:

* :func:`forward_bound`: Saha & Ye's tight forward bound
  ``Θ(min(n²d/√M, n²d²/M))`` [C: their Theorem 3.1, read in full].
* :func:`backward_bound`: Li et al.'s backward bound
  ``Θ(min((n²d² + nd³)/M, (n²d + nd²)/√M))`` [T: the formula is quoted by two
  independent summaries and its theorem number by a reviewer; we could not read the
  paper's text]. Both carry constant 1 here: Θ hides the constants.
* :func:`trivial_floor` and :func:`hong_kung_bound`: explicit lower bounds with
  constants, derived here [R] (see :func:`hong_kung_bound`), valid for every
  algorithm that forms the scores by standard matrix multiplication.

All functions take ``sram`` as a number or a numpy array (for curves).

Paper: Li et al., arXiv 2410.09397, Theorem 1.1 [T]; Saha & Ye 2024 (arXiv
    2402.07443), Theorems 3.1, 3.5, 3.7 and Lemmas 2.7-3.4 [C]; Hong & Kung 1981 [C].
Book: notebooks/pebble_io/lecture.md, "Bounds".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from effteach.checks import typed
from effteach.pebble_io.counts import _check_size

__all__ = [
    "forward_bound",
    "backward_bound",
    "trivial_floor",
    "hong_kung_bound",
    "lower_bound",
    "sparse_bound",
    "regime",
]


def _sram(sram):
    m = np.asarray(sram)
    if m.dtype.kind not in "iuf":
        raise TypeError(
            f"sram: expected a number or an array of numbers, got {type(sram).__name__}"
        )
    m = m.astype(np.float64)
    if m.size == 0 or not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(f"sram: expected positive word counts, got {sram!r}")
    return m


def _out(x):
    return float(x) if np.ndim(x) == 0 else x


@typed
def forward_bound(n_ctx: int, d_head: int, sram: float | np.ndarray | Sequence):
    """``min(n²d/√M, n²d²/M)``: the forward pass's tight bound, constant 1.

    The two branches meet at ``M = d²``, where both equal n². Valid for standard
    matrix multiplication; Saha & Ye also prove the large-cache branch for any
    algorithm over large fields (their Theorem 4.8).

    Paper: Saha & Ye 2024 (arXiv 2402.07443), Theorem 3.1 [C].
    Book: notebooks/pebble_io/lecture.md, "Bounds".
    """
    n, d, m = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head), _sram(sram)
    return _out(np.minimum(n * n * d / np.sqrt(m), n * n * d * d / m))


@typed
def backward_bound(n_ctx: int, d_head: int, sram: float | np.ndarray | Sequence):
    """``min((n²d² + nd³)/M, (n²d + nd²)/√M)``: the backward pass's bound.

    Since ``n²d² + nd³ = d (n²d + nd²)``, the branches' ratio is exactly ``d/√M``,
    so they cross at ``M = d²`` for every n and d; for ``d <= n`` each branch is
    within a factor ``1 + d/n <= 2`` of ``n²d²/M`` and ``n²d/√M``
    (:mod:`effteach.pebble_io.symbolic` derives both).

    Paper: Li et al., arXiv 2410.09397, Theorem 1.1 [T: formula quoted by two
        third-party summaries, theorem named by a reviewer; side conditions unseen].
    Book: notebooks/pebble_io/lecture.md, "Bounds".
    """
    n, d, m = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head), _sram(sram)
    return _out(np.minimum((n * n * d * d + n * d**3) / m,
                           (n * n * d + n * d * d) / np.sqrt(m)))


@typed
def trivial_floor(n_ctx: int, d_head: int, backward: bool = False) -> int:
    """Words any schedule must move: read every input once, write every output.

    Forward: Q, K, V in, O out: ``4nd``. Backward: Q, K, V, dO in, dQ, dK, dV out:
    ``7nd`` (O and L are helpers an algorithm may recompute instead of reading).

    Paper: the Ω(nd) floor of FlashAttention Theorem 2's range d <= M <= nd [C];
        the constants are counted here [R].
    Book: notebooks/pebble_io/lecture.md, "Bounds".
    """
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    return (7 if backward else 4) * n * d


@typed
def hong_kung_bound(
    n_ctx: int, d_head: int, sram: float | np.ndarray | Sequence,
    backward: bool = False,
):
    """An explicit lower bound, ``p n²d / (2 + √(4M + M²/d²)) - M`` (at least 0).

    ``p = 1`` for the forward (the n²d products ``Q_il K_jl``), ``p = 2`` for the
    backward (also the products of ``dO Vᵀ``). For ``M >> d²`` it tends to
    ``p n²d²/M``, for ``1 << M << d²`` to ``p n²d/(2√M)``: one formula with both of
    the Θ-bound's branches, and explicit constants.

    Derivation [R], following Saha & Ye's Lemma 3.3 with Loomis-Whitney: a run
    with Q words of I/O splits into ``h <= Q/M + 1`` parts whose dominator set D and
    minimum set each have at most 2M vertices (Hong & Kung; Saha & Ye Lemma 2.7).
    In one part, at most 2M products lie in D; any other product ``Q_il K_jl`` has
    both inputs in D, so the sets of their (i, l) and (j, l) index pairs have
    sizes adding up to at most 2M. Its score's summation tree either touches D or
    the minimum set (at most 4M trees) or has all 2d inputs of row i of Q and row j
    of K in D,
    which by AM-GM allows at most ``(M/d)²`` trees. Loomis-Whitney then bounds the
    products per part by ``2M + M √(4M + M²/d²)``; dividing the ``p n²d`` products
    by that gives h, and ``Q >= M (h - 1)``.

    Args:
        n_ctx: sequence length.
        d_head: head width.
        sram: M (number or array).
        backward: count both n x n products of the backward (assumes the algorithm
            forms QKᵀ and dO Vᵀ by summation trees, as all schedules here do).

    Paper: Hong & Kung 1981, Theorem 3.1 / Saha & Ye 2024 Lemmas 2.7-2.8 [C]; the
        explicit per-part count is derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Bounds".
    """
    n, d, m = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head), _sram(sram)
    p = 2 if backward else 1
    return _out(np.maximum(0.0, p * n * n * d / (2 + np.sqrt(4 * m + (m / d) ** 2))
                           - m))


@typed
def lower_bound(
    n_ctx: int, d_head: int, sram: float | np.ndarray | Sequence,
    backward: bool = False,
):
    """``max(trivial_floor, hong_kung_bound)``: every schedule moves at least this.

    Paper: derived here [R] from Hong & Kung / Saha & Ye [C].
    Book: notebooks/pebble_io/lecture.md, "Bounds".
    """
    return _out(np.maximum(trivial_floor(n_ctx, d_head, backward),
                           hong_kung_bound(n_ctx, d_head, sram, backward)))


@typed
def sparse_bound(z_in: int, z_qk: int, sram: float | np.ndarray | Sequence):
    """``min(Z_in²/M, Z_in √Z_qk / √M)``: our guess at the sparse lower bound's shape.

    ``z_in`` counts the input nonzeros, ``z_qk`` the scores computed. With
    ``z_in = 2nd`` and ``z_qk = n²`` it gives ``min(4n²d²/M, 2n²d/√M)``, the dense
    bound up to constants. No schedule is known to match it.

    Paper: Li et al. (arXiv 2410.09397) state sparse lower bounds [T: existence
        only]; this form is inferred from Pagh & Stöckel 2014 (arXiv 1403.3551),
        not read in the paper [R].
    Book: notebooks/pebble_io/lecture.md, "What the paper leaves open".
    """
    z_in, z_qk, m = _check_size("z_in", z_in), _check_size("z_qk", z_qk), _sram(sram)
    return _out(np.minimum(z_in * z_in / m, z_in * np.sqrt(z_qk) / np.sqrt(m)))


@typed
def regime(d_head: int, sram: float) -> str:
    """``"large"`` if ``M >= d²`` (FlashAttention is optimal), else ``"small"``.

    Paper: Li et al., arXiv 2410.09397, abstract: the transition at M = Θ(d²) [C].
    Book: notebooks/pebble_io/lecture.md, "Bounds".
    """
    d = _check_size("d_head", d_head)
    return "large" if float(_sram(sram)) >= d * d else "small"
