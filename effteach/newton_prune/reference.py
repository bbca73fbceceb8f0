"""Plain reference formulas of numerical (Newton) pruning, in the paper's convention.

Convention (the paper's, Sec. 3.1): a linear map is ``Y = X W`` with calibration
inputs ``X`` of shape (N, D) and weights ``W`` of shape (D, D'). A structured mask
acts on the **rows** of ``W``, the layer's input channels. PyTorch stores
``nn.Linear.weight`` as (out, in) = ``W.T``, so "row j of W" is column j of
``weight``. Every function here takes the Gram matrix ``G = X^T X`` (or a scaled
one) rather than ``X`` where only ``G`` is needed, and computes in float64.

* :func:`newton_hessian_ref`: ``H_l = (W W^T) o (X^T X)``, the Hessian of the
  reconstruction loss in the relaxed mask ``z`` (Lemma 14).
* :func:`newton_iterate_ref`: Algorithm 1, Newton's method on
  ``L(z) + L_reg(z)`` for ``iters`` steps.
* :func:`newton_closed_form_ref`: the minimiser in one formula (Sherman-Morrison),
  ``z* = 1 - [lam rho D / (1 + lam 1^T a)] a`` with ``a = H_l^{-1} 1``.
* :func:`compensate_ref`: Theorem 3's update of the weights that remain.
* :func:`lstsq_refit_ref`: the same thing as an ordinary least-squares refit of the
  kept rows (``torch.linalg.lstsq`` on ``X``), the simplest way to see it.
* :func:`wanda_channel_ref`: the structured Wanda score ``|X_j| |W_j|``.
* :func:`lemma1_sides`: both sides of the paper's Lemma 1 and of its correction.

Raises ``ValueError``/``TypeError`` naming the argument for wrong shapes or dtypes.

Paper: Shen et al., "Numerical Pruning for Efficient Autoregressive Models", AAAI
    2025, arXiv 2412.12441, Sec. 3.2-3.4, Algorithm 1, Theorem 3.
Book: notebooks/newton_prune/lecture.md, "The method".
"""

from __future__ import annotations

import torch

from effteach.checks import check_float, check_int, check_tensor, typed

__all__ = [
    "newton_hessian_ref",
    "newton_iterate_ref",
    "newton_closed_form_ref",
    "compensate_ref",
    "lstsq_refit_ref",
    "wanda_channel_ref",
    "lemma1_sides",
]


def _gram_w(gram: torch.Tensor, w: torch.Tensor) -> None:
    check_tensor("gram", gram, ndim=2, kind="float", finite=True)
    if gram.shape[0] != gram.shape[1]:
        raise ValueError(f"gram: expected a square (D, D) matrix, got "
                         f"{tuple(gram.shape)}")
    check_tensor("w", w, shape=(gram.shape[0], None), kind="float", finite=True,
                 shape_of="gram")


@typed
def newton_hessian_ref(gram: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Hessian of the relaxed reconstruction loss, ``H_l = (W W^T) o G``.

    Args:
        gram: ``X^T X`` of the layer's inputs, shape (D, D).
        w: weights in the paper's convention, shape (D, D') (``linear.weight.T``).

    Returns:
        ``H_l``, float64, shape (D, D); positive semi-definite (Schur product).

    Paper: arXiv 2412.12441, Lemma 14 (Eq. 6).
    """
    _gram_w(gram, w)
    w = w.double()
    return (w @ w.T) * gram.double()


def _rho_lam(rho, lam) -> tuple[float, float]:
    rho = check_float("rho", rho, 0.0, 1.0)
    if rho >= 1.0:
        raise ValueError(f"rho: expected a pruning ratio in [0, 1), got {rho:g}")
    lam = check_float("lam", lam, 0.0, low_open=True)
    return rho, lam


@typed
def newton_iterate_ref(
    gram: torch.Tensor,
    w: torch.Tensor,
    rho: float,
    lam: float = 1.0,
    iters: int = 50,
    z0: torch.Tensor | None = None,
) -> torch.Tensor:
    """Algorithm 1: Newton's method on ``L(z) + L_reg(z)``, as the paper prints it.

    ``L(z) = 1/2 sum_i |X W_i - X (z o W_i)|^2`` and
    ``L_reg(z) = lam/2 (<1, z> - r)^2`` with ``r = (1 - rho) D``. Gradient
    ``g = H_l (z - 1) + lam (<1, z> - r) 1``, Hessian ``H = H_l + lam 1 1^T``
    (Lemmas 12-15); each step is ``z <- z - H^{-1} g``. No projection onto
    ``[0, 1]^D`` is applied, as in the paper.

    Args:
        gram: ``X^T X``, shape (D, D).
        w: weights (D, D').
        rho: pruning ratio in [0, 1).
        lam: penalty weight, > 0.
        iters: Newton steps T, >= 1 (the paper: "around 50").
        z0: starting point, shape (D,); ones by default.

    Returns:
        ``z`` after ``iters`` steps, float64, shape (D,).

    Paper: arXiv 2412.12441, Algorithm 1, Eq. (3), Lemmas 12-15.
    """
    h_l = newton_hessian_ref(gram, w)
    rho, lam = _rho_lam(rho, lam)
    iters = check_int("iters", iters, 1)
    d = h_l.shape[0]
    r = (1.0 - rho) * d
    ones = torch.ones(d, dtype=torch.float64)
    if z0 is None:
        z = ones.clone()
    else:
        check_tensor("z0", z0, shape=(d,), kind="float", finite=True, shape_of="gram")
        z = z0.double().clone()
    hess = h_l + lam * torch.ones(d, d, dtype=torch.float64)
    for _ in range(iters):
        grad = h_l @ (z - 1) + lam * (z.sum() - r) * ones
        z = z - torch.linalg.solve(hess, grad)
    return z


@typed
def newton_closed_form_ref(
    gram: torch.Tensor, w: torch.Tensor, rho: float, lam: float = 1.0
) -> torch.Tensor:
    """The minimiser of Algorithm 1's objective: ``z* = 1 - c a``, ``a = H_l^{-1} 1``.

    ``c = lam rho D / (1 + lam 1^T a)`` (Sherman-Morrison on ``H_l + lam 1 1^T``).

    Args:
        gram: ``X^T X``, shape (D, D); ``H_l`` must be invertible.
        w: weights (D, D').
        rho: pruning ratio in [0, 1).
        lam: penalty weight, > 0.

    Returns:
        ``z*``, float64, shape (D,).

    Paper: arXiv 2412.12441, Theorem 2 (our closed form; the paper iterates).
    """
    h_l = newton_hessian_ref(gram, w)
    rho, lam = _rho_lam(rho, lam)
    d = h_l.shape[0]
    a = torch.linalg.solve(h_l, torch.ones(d, dtype=torch.float64))
    c = lam * rho * d / (1.0 + lam * a.sum())
    return 1.0 - c * a


def _pruned_index(name: str, idx: torch.Tensor, d: int) -> torch.Tensor:
    check_tensor(name, idx, ndim=1, kind="int")
    if int(idx.min()) < 0 or int(idx.max()) >= d:
        raise ValueError(f"{name}: expected row indices in [0, {d}), got "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    if len(torch.unique(idx)) != len(idx):
        raise ValueError(f"{name}: expected distinct row indices")
    if len(idx) >= d:
        raise ValueError(
            f"{name}: at least one row must be kept, got {len(idx)} of {d}")
    return idx.long()


@typed
def compensate_ref(
    gram: torch.Tensor, w: torch.Tensor, pruned: torch.Tensor
) -> torch.Tensor:
    """Theorem 3: the weights plus the paper's optimal update ``dW*``.

    ``dW* = -G^{-1} M_p (M_p^T G^{-1} M_p)^{-1} M_p^T W`` (``M_p`` selects the
    pruned rows). The factor 2 of the paper's ``2 X^T X`` cancels. The pruned rows
    of the result are zero (up to rounding); the kept rows are compensated.

    Args:
        gram: ``X^T X`` (possibly damped), shape (D, D), invertible.
        w: weights (D, D').
        pruned: indices of the pruned rows, int, shape (k,), 1 <= k < D.

    Returns:
        The compensated weights, float64, shape (D, D').

    Paper: arXiv 2412.12441, Theorem 3, Eq. (10).
    """
    _gram_w(gram, w)
    p = _pruned_index("pruned", pruned, gram.shape[0])
    g_inv = torch.linalg.inv(gram.double())
    w = w.double()
    # M_p^T G^-1 M_p is the (p, p) block of G^-1; G^-1 M_p its p columns
    dw = -g_inv[:, p] @ torch.linalg.solve(g_inv[p][:, p], w[p])
    return w + dw


@typed
def lstsq_refit_ref(x: torch.Tensor, w: torch.Tensor, keep: torch.Tensor
                    ) -> torch.Tensor:
    """Least-squares refit of the kept rows: ``argmin_V |X W - X_K V|_F``.

    Args:
        x: calibration inputs, shape (N, D), N >= number kept.
        w: weights (D, D').
        keep: indices of the kept rows, int, shape (m,).

    Returns:
        ``V``, float64, shape (m, D'): the new kept rows (the rest are removed).

    Paper: arXiv 2412.12441, Theorem 3 (equivalent form; ours).
    """
    check_tensor("x", x, ndim=2, kind="float", finite=True)
    check_tensor("w", w, shape=(x.shape[1], None), kind="float", finite=True,
                 shape_of="x")
    check_tensor("keep", keep, ndim=1, kind="int")
    d = x.shape[1]
    if int(keep.min()) < 0 or int(keep.max()) >= d:
        raise ValueError(f"keep: expected row indices in [0, {d})")
    x = x.double()
    sol = torch.linalg.lstsq(x[:, keep.long()], x @ w.double(), driver="gelsd")
    return sol.solution


@typed
def wanda_channel_ref(gram: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Structured Wanda: ``|X_{:,j}|_2 |W_{j,:}|_2`` per input channel j.

    Args:
        gram: ``X^T X``, shape (D, D) (only its diagonal is read).
        w: weights (D, D').

    Returns:
        Scores, float64, shape (D,); larger = more important.

    Paper: Sun et al., "A Simple and Effective Pruning Approach for LLMs" (Wanda),
        ICLR 2024, in its structured (channel) form; arXiv 2412.12441 compares to it
        through FLAP.
    """
    _gram_w(gram, w)
    return gram.double().diagonal().clamp_min(0).sqrt() * w.double().norm(dim=1)


@typed
def lemma1_sides(x: torch.Tensor, w: torch.Tensor, mask: torch.Tensor
                 ) -> tuple[float, float, float]:
    """Lemma 1 of the paper, both sides, and the bound that does hold.

    Lemma 1 claims ``|X w - X (m o w)|_2 <= rho R |w|_2`` for every column ``w`` of
    ``W``, with ``R = |X|_2`` (spectral norm) and ``rho`` the share of zeros of the
    mask ``m``. Its proof uses ``|1 - m|_2 = rho D``; in fact ``|1 - m|_2 =
    sqrt(rho D)``. A bound that holds: ``R |(1 - m) o w|_2``.

    Args:
        x: inputs (N, D).
        w: one column of ``W``, shape (D,).
        mask: 0/1 mask over the D input channels, shape (D,) (bool or float).

    Returns:
        ``(lhs, paper_rhs, corrected_rhs)`` as floats (float64 arithmetic).

    Paper: arXiv 2412.12441, Lemma 1 (Lemma 9 in the appendix).
    """
    check_tensor("x", x, ndim=2, kind="float", finite=True)
    d = x.shape[1]
    check_tensor("w", w, shape=(d,), kind="float", finite=True, shape_of="x")
    check_tensor("mask", mask, shape=(d,), shape_of="x")
    m = mask.double()
    if not bool(((m == 0) | (m == 1)).all()):
        raise ValueError("mask: expected entries 0 or 1")
    x, w = x.double(), w.double()
    lhs = float(torch.linalg.vector_norm(x @ ((1 - m) * w)))
    r = float(torch.linalg.matrix_norm(x, ord=2))
    rho = float((m == 0).double().mean())
    return lhs, rho * r * float(w.norm()), r * float(((1 - m) * w).norm())
