"""SymPy derivations of the chapter, as functions a lecture can assert against.

Each helper returns SymPy objects (or plain numbers) and does no asserting itself;
the lecture and the tests compare them with the numeric implementation, e.g.::

    n, d, M = symbols()
    assert sp.simplify(branch_ratio() - d / sp.sqrt(M)) == 0
    assert crossover() == [d**2]

The symbols are positive reals: ``n`` (n_ctx), ``d`` (d_head), ``M`` (sram) and the
tile sizes ``B_r`` (block_m), ``B_c`` (block_n), ``B`` (square tile side).

Paper: Li et al., arXiv 2410.09397, Theorem 1.1 [T]; Saha & Ye 2024 (arXiv
    2402.07443), Theorem 3.1 and Lemma 3.3 [C]; the exact-count algebra is ours [R].
Book: notebooks/pebble_io/lecture.md, "Derivations".
"""

from __future__ import annotations

import sympy as sp

from effteach.pebble_io.counts import _check_size

__all__ = [
    "symbols",
    "tile_symbols",
    "bound_branches",
    "branch_ratio",
    "crossover",
    "small_d_factors",
    "fa2_fwd_io_expr",
    "fa2_bwd_io_expr",
    "square_fwd_io_expr",
    "square_bwd_io_expr",
    "fa_fwd_residency_expr",
    "fa2_fwd_tile_optimum",
    "fa2_bwd_tile_optimum",
    "square_tile_side",
    "materialize_threshold",
    "dao_overflow_threshold",
    "hk_tree_count",
    "hk_curve_expr",
    "hk_curve_limits",
    "backward_identities",
    "model_crossover",
]

_n, _d, _M = sp.symbols("n d M", positive=True)
_Br, _Bc, _B = sp.symbols("B_r B_c B", positive=True)


def symbols() -> tuple[sp.Symbol, sp.Symbol, sp.Symbol]:
    """``(n, d, M)``: sequence length, head width, cache size, all positive.

    Paper: Li et al. (arXiv 2410.09397) use n, d, M [T].
    Book: notebooks/pebble_io/lecture.md, "Derivations".
    """
    return _n, _d, _M


def tile_symbols() -> tuple[sp.Symbol, sp.Symbol, sp.Symbol]:
    """``(B_r, B_c, B)``: query tile, key tile, square tile, all positive.

    Paper: FlashAttention (Dao et al. 2022) calls the tiles B_r, B_c [C].
    Book: notebooks/pebble_io/lecture.md, "Derivations".
    """
    return _Br, _Bc, _B


def bound_branches(backward: bool = True) -> tuple[sp.Expr, sp.Expr]:
    """The large-cache and small-cache branches of the Θ-bound.

    Backward: ``((n²d² + nd³)/M, (n²d + nd²)/√M)`` [T, Li et al. Theorem 1.1];
    forward: ``(n²d²/M, n²d/√M)`` [C, Saha & Ye Theorem 3.1].

    Paper: Li et al., arXiv 2410.09397, Theorem 1.1 [T]; Saha & Ye 2024,
        Theorem 3.1 [C].
    Book: notebooks/pebble_io/lecture.md, "Derivations".
    """
    n, d, M = _n, _d, _M
    if backward:
        return (n**2 * d**2 + n * d**3) / M, (n**2 * d + n * d**2) / sp.sqrt(M)
    return n**2 * d**2 / M, n**2 * d / sp.sqrt(M)


def branch_ratio(backward: bool = True) -> sp.Expr:
    """The ratio large / small, simplified: exactly ``d/√M`` for both passes.

    For the backward this rests on the factorisation n²d² + nd³ = d (n²d + nd²).

    Paper: the crossover at M = Θ(d²) is the paper's [T]; the exact ratio is
        derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Derivations".
    """
    large, small = bound_branches(backward)
    return sp.simplify(sp.factor(large / small))


def crossover(backward: bool = True) -> list[sp.Expr]:
    """Solutions M of large = small: ``[d**2]``, for every n and d.

    Below it (ratio d/√M > 1) the min picks the M^(-1/2) branch, above it the M^(-1)
    branch.

    Paper: Li et al., arXiv 2410.09397, abstract: transition at M = Θ(d²) [C];
        exactly d² for the stated formula [R].
    Book: notebooks/pebble_io/lecture.md, "Derivations".
    """
    large, small = bound_branches(backward)
    return sp.solve(sp.Eq(large, small), _M)


def small_d_factors() -> dict[str, sp.Expr]:
    """How far each backward branch is from its d <= n simplification.

    Returns:
        ``{"large": (n²d² + nd³)/M ÷ n²d²/M, "small": (n²d + nd²)/√M ÷ n²d/√M}``,
        both ``1 + d/n``: in [1, 2] when d <= n, so the backward bound is
        Θ(n²d²/M) for M >= d² and Θ(n²d/√M) for M <= d² (the common statement).

    Paper: the simplification is ours [R] (notes A.6, "Algebra").
    Book: notebooks/pebble_io/lecture.md, "Derivations".
    """
    n, d, M = _n, _d, _M
    large, small = bound_branches(True)
    return {
        "large": sp.simplify(large / (n**2 * d**2 / M)),
        "small": sp.simplify(small / (n**2 * d / sp.sqrt(M))),
    }


# ---- exact counts, when tiles divide the sizes ---------------------------------------
def fa2_fwd_io_expr() -> sp.Expr:
    """Total words of FlashAttention-2 forward: ``2nd + n + 2nd · n/B_r``.

    The dense closed form of :func:`~effteach.pebble_io.counts.fa2_fwd_io` with
    ``T_r = n/B_r``.

    Paper: derived here [R] (notes A.5.2).
    Book: notebooks/pebble_io/lecture.md, "Exact counts".
    """
    n, d = _n, _d
    return 2 * n * d + n + 2 * n * d * (n / _Br)


def fa2_bwd_io_expr() -> sp.Expr:
    """Total words of FlashAttention-2 backward: ``5nd + n + (n/B_c)(4nd + 2n)``.

    Paper: derived here [R] (notes A.5.3, less one read of the zero dQ).
    Book: notebooks/pebble_io/lecture.md, "Exact counts".
    """
    n, d = _n, _d
    return 5 * n * d + n + (n / _Bc) * (4 * n * d + 2 * n)


def square_fwd_io_expr() -> sp.Expr:
    """Total words of square tiling forward: ``4n²d/B + n² + 2n + nd``.

    Paper: Saha & Ye 2024, Algorithm 1 [C]; exact count derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Small caches".
    """
    n, d = _n, _d
    return 4 * n**2 * d / _B + n**2 + 2 * n + n * d


def square_bwd_io_expr() -> sp.Expr:
    """Total words of square tiling backward: ``10n²d/B + 2n² + 5nd + 3n``.

    Paper: our reconstruction of Li et al.'s Algorithm 6 [R].
    Book: notebooks/pebble_io/lecture.md, "Small caches".
    """
    n, d = _n, _d
    return 10 * n**2 * d / _B + 2 * n**2 + 5 * n * d + 3 * n


def fa_fwd_residency_expr() -> sp.Expr:
    """FlashAttention forward working set: ``2B_r d + 2B_c d + B_r B_c + 2B_r``.

    Paper: notes A.5.2 [R].
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    return 2 * _Br * _d + 2 * _Bc * _d + _Br * _Bc + 2 * _Br


def fa2_fwd_tile_optimum() -> dict[str, sp.Expr]:
    """The forward's best tiles in the continuous relaxation.

    The count falls as B_r grows and does not involve B_c, so the optimum takes the
    largest B_r the working set allows: ``B_r = (M - 2dB_c)/(B_c + 2d + 2)``,
    largest at the smallest key tile, B_c = 1: ``(M - 2d)/(2d + 3)``. Substituted,
    the count is ``2nd + n + 2n²d(2d + 3)/(M - 2d)``, Θ(n²d²/M).

    Returns:
        ``{"block_m": B_r(B_c), "block_m_at_1": B_r(1), "io": count at B_r(1)}``.

    Paper: derived here [R] (notes A.9, item 3).
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    b_r = sp.solve(sp.Eq(fa_fwd_residency_expr(), _M), _Br)[0]
    at1 = sp.simplify(b_r.subs(_Bc, 1))
    return {"block_m": sp.simplify(b_r), "block_m_at_1": at1,
            "io": sp.simplify(fa2_fwd_io_expr().subs(_Br, at1))}


def fa2_bwd_tile_optimum() -> dict[str, sp.Expr]:
    """The backward's best tiles in the continuous relaxation.

    From ``4B_c d + 3B_r d + 2B_r + 2B_r B_c = M``:
    ``B_c = (M - 3dB_r - 2B_r)/(4d + 2B_r)``, largest at B_r = 1:
    ``(M - 3d - 2)/(4d + 2)``; the count is then
    ``5nd + n + n²(4d + 2)²/(M - 3d - 2)``, about 16n²d²/M.

    Returns:
        ``{"block_n": B_c(B_r), "block_n_at_1": B_c(1), "io": count at B_c(1)}``.

    Paper: derived here [R] (notes A.9, item 3).
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    res = 4 * _Bc * _d + 3 * _Br * _d + 2 * _Br + 2 * _Br * _Bc
    b_c = sp.solve(sp.Eq(res, _M), _Bc)[0]
    at1 = sp.simplify(b_c.subs(_Br, 1))
    return {"block_n": sp.simplify(b_c), "block_n_at_1": at1,
            "io": sp.simplify(fa2_bwd_io_expr().subs(_Bc, at1))}


def square_tile_side() -> dict[str, sp.Expr]:
    """Square tile sides: the exact fit and Saha & Ye's choice.

    Returns:
        ``{"exact": B with 3B² + B = M (tiles no wider than d),
        "saha_ye": √M / 2, "io_saha_ye": 8n²d/√M + n² + 2n + nd}``.

    Paper: Saha & Ye 2024, Algorithm 1 (B = √(M/4)) [C].
    Book: notebooks/pebble_io/lecture.md, "Small caches".
    """
    roots = sp.solve(sp.Eq(3 * _B**2 + _B, _M), _B)
    exact = max(roots, key=lambda r: float(r.subs(_M, 4)))  # the positive root
    half = sp.sqrt(_M) / 2
    return {"exact": sp.simplify(exact), "saha_ye": half,
            "io_saha_ye": sp.expand(square_fwd_io_expr().subs(_B, half))}


def materialize_threshold() -> list[sp.Expr]:
    """M where writing the n x n matrix (n² words) costs the small-cache bound n²d/√M.

    ``[d**2]``: for M <= d² square tiling can afford to store A = exp(QKᵀ).

    Paper: Saha & Ye 2024, Sec. 3 (the small-cache algorithm) [C].
    Book: notebooks/pebble_io/lecture.md, "Small caches".
    """
    n, d, M = _n, _d, _M
    return sp.solve(sp.Eq(n**2, n**2 * d / sp.sqrt(M)), M)


def dao_overflow_threshold() -> dict[str, sp.Expr]:
    """Where FlashAttention's textbook tiles start to fit, in the continuous model.

    With ``B_c = M/(4d)``: if ``B_r = B_c`` the working set exceeds M by
    ``B_c² + 2B_c > 0`` always; if ``B_r = d`` it fits iff ``M >= 8d² + 8d``.

    Returns:
        ``{"excess_equal": working set - M at B_r = B_c,
        "threshold_capped": the M solving working set = M at B_r = d}``.

    Paper: Dao et al. 2022, Algorithm 1 line 1 [C]; the overflow is ours [R].
    Book: notebooks/pebble_io/lecture.md, "Choosing tiles".
    """
    b_c = _M / (4 * _d)
    res = fa_fwd_residency_expr()
    excess = sp.expand(res.subs({_Bc: b_c, _Br: b_c}) - _M)
    threshold = sp.solve(sp.Eq(res.subs({_Bc: b_c, _Br: _d}), _M), _M)[0]
    return {"excess_equal": excess, "threshold_capped": sp.expand(threshold)}


# ---- the explicit lower bound --------------------------------------------------------
def hk_tree_count() -> sp.Expr:
    """Max of I·J given (I + J) d <= 2M: ``M²/d²`` (the AM-GM step of Lemma 3.3).

    A part's dominator set holds at most 2M words; a summation tree whose every
    input is in it needs a whole row i of Q and row j of K, so I rows and J columns
    cost (I + J) d words and give at most I·J trees.

    Paper: Saha & Ye 2024, Lemma 3.3 (their C <= M²/d², with constants) [C/R].
    Book: notebooks/pebble_io/lecture.md, "Bounds".
    """
    i = sp.symbols("I", positive=True)
    j = 2 * _M / _d - i  # the budget used fully
    prod = i * j
    best_i = sp.solve(sp.diff(prod, i), i)[0]
    return sp.simplify(prod.subs(i, best_i))


def hk_curve_expr(backward: bool = False) -> sp.Expr:
    """``p n²d/(2 + √(4M + M²/d²)) - M``, the explicit lower bound (p = 1 or 2).

    The same formula as :func:`~effteach.pebble_io.bounds.hong_kung_bound`.

    Paper: derived here [R]; see :func:`effteach.pebble_io.bounds.hong_kung_bound`.
    Book: notebooks/pebble_io/lecture.md, "Bounds".
    """
    p = 2 if backward else 1
    return p * _n**2 * _d / (2 + sp.sqrt(4 * _M + _M**2 / _d**2)) - _M


def hk_curve_limits() -> dict[str, sp.Expr]:
    """The explicit bound's leading term against the two Θ-branches.

    Returns:
        ``{"large": lim_{M→∞} main / (n²d²/M), "small": lim_{M→∞} lim_{d→∞}
        main / (n²d/(2√M))}`` where main is the bound without its ``- M``; both 1,
        so the bound has the Θ-formula's shape in both regimes.

    Paper: derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Bounds".
    """
    main = hk_curve_expr() + _M
    n, d, M = _n, _d, _M
    large = sp.limit(sp.simplify(main / (n**2 * d**2 / M)), M, sp.oo)
    inner = sp.limit(sp.simplify(main / (n**2 * d / (2 * sp.sqrt(M)))), d, sp.oo)
    return {"large": large, "small": sp.limit(inner, M, sp.oo)}


# ---- the backward identities ---------------------------------------------------------
def backward_identities(n_keys: int = 3, d_head: int = 2) -> list[tuple]:
    """The two identities the FlashAttention backward rests on, on symbolic rows.

    1. ``Δ = Σ_j P_j (dO · V_j) = dO · O`` with ``O = Σ_j P_j V_j``: Δ needs only O.
    2. ``dS = P ⊙ (dP - Δ)`` equals the softmax Jacobian applied to dP,
       ``(diag(P) - P Pᵀ) dP``, with ``P = softmax(s)`` differentiated by SymPy.

    Args:
        n_keys: keys in the symbolic row.
        d_head: width of dO and V.

    Returns:
        ``[(name, lhs, rhs), ...]``: check each with
        :func:`effteach.symbolic.assert_identity`.

    Paper: Dao 2023 (FlashAttention-2), Sec. 3.1.2 / Algorithm 2, D_i [C].
    Book: notebooks/pebble_io/lecture.md, "Derivations".
    """
    nk, dh = _check_size("n_keys", n_keys), _check_size("d_head", d_head)
    p = sp.Matrix(sp.symbols(f"p0:{nk}"))
    g = sp.Matrix(sp.symbols(f"g0:{dh}"))
    v = sp.Matrix(nk, dh, lambda i, j: sp.Symbol(f"v{i}{j}"))
    o = v.T * p  # (d_head, 1): O = Σ_j P_j V_j
    delta_p = sum(p[j] * (g.T * v[j, :].T)[0] for j in range(nk))
    delta_o = (g.T * o)[0]
    s = sp.Matrix(sp.symbols(f"s0:{nk}"))
    e = s.applyfunc(sp.exp)
    soft = e / sum(e)
    jac = soft.jacobian(s)  # ∂P_i/∂s_j
    dp = sp.Matrix(sp.symbols(f"dp0:{nk}"))
    delta = (soft.T * dp)[0]
    ds = sp.Matrix([soft[i] * (dp[i] - delta) for i in range(nk)])
    return [
        ("Delta = rowsum(dO * O)", delta_p, delta_o),
        ("dS = P * (dP - Delta) is the softmax backward", jac.T * dp, ds),
    ]


def model_crossover(n_ctx: int, d_head: int) -> float:
    """M where the continuous forward counts of FlashAttention-2 and square tiling meet.

    FlashAttention-2 with its best tiles (``B_r = (M - 2d)/(2d + 3)``, B_c = 1)
    against square tiling with the largest tile that fits (``3B² + B = M``,
    ``B <= d``). The constants put the meeting point below d².

    Returns:
        The crossover M, a float.

    Paper: the notes measured about 0.6 d² [R]; derived here [R].
    Book: notebooks/pebble_io/lecture.md, "Experiments".
    """
    n, d = _check_size("n_ctx", n_ctx), _check_size("d_head", d_head)
    fa = fa2_fwd_tile_optimum()["io"]
    sq = square_fwd_io_expr().subs(_B, square_tile_side()["exact"])
    f = sp.lambdify(_M, (fa - sq).subs({_n: n, _d: d}), "math")
    lo, hi = 4.0 * d + 3, 16.0 * d * d  # FA runs from 4d + 3; fa - sq changes sign
    if f(lo) * f(hi) > 0:
        raise ValueError(f"d_head: no crossover in [{lo}, {hi}] for n_ctx={n}, d={d}")
    for _ in range(200):  # bisection in log M
        mid = (lo * hi) ** 0.5
        if f(lo) * f(mid) <= 0:
            hi = mid
        else:
            lo = mid
    return (lo * hi) ** 0.5
