"""Plain references of the attention-matrix pruning loss, for autograd to differentiate.

The loss of the paper (arXiv 2410.11261, Sec. 3; our reconstruction, see the
lecture's note: the full text was not available) for calibration input ``x`` of
shape (n_ctx, d) or (batch, n_ctx, d), weight ``w`` (d, d) standing for
``W_Q W_K^T`` and a real-valued mask ``m`` (d, d):

    L(M) = 1/2 mean_b || softmax(X_b (M o W) X_b^T) - A_b ||_F^2 + lambda/2 ||M||_F^2

with the causal variant masking logits above the diagonal (so masked entries of
both attention matrices are exactly zero). These functions build the loss with
plain torch ops so that ``torch.autograd`` gives the gradient the closed form in
:mod:`effteach.attention_prune.objective` is tested against.

Paper: Liang et al., "Beyond Linear Approximations: A Novel Pruning Approach for
    Attention Matrix", ICLR 2025, arXiv 2410.11261, Sec. 3 (loss), Sec. 4 (gradient).
Book: notebooks/attention_prune/lecture.md, "The method".
"""

from __future__ import annotations

import torch

from effteach.checks import check_tensor

__all__ = ["softmax_ref", "attention_loss_ref", "qk_loss_ref", "softmax_jacobian_ref"]


def softmax_ref(logits: torch.Tensor, causal: bool) -> torch.Tensor:
    """Row softmax of ``logits`` (..., n, n); causal: entries above the diagonal 0."""
    from effteach.attention_prune.objective import check_bool

    check_tensor("logits", logits, kind="float", min_ndim=2)
    check_bool("causal", causal)
    if causal:
        n = logits.shape[-1]
        keep = torch.ones(n, n, dtype=torch.bool, device=logits.device).tril()
        logits = logits.masked_fill(~keep, float("-inf"))
    return torch.softmax(logits, dim=-1)


def attention_loss_ref(x, w, m, target, lam: float, causal: bool) -> torch.Tensor:
    """The merged-mask loss L(M) above, differentiable in ``m`` by autograd.

    Args:
        x: (n, d) or (batch, n, d).
        w: weight (d, d).
        m: mask (d, d).
        target: the attention matrix to approximate, (n, n) or (batch, n, n).
        lam: ridge weight >= 0.
        causal: mask logits above the diagonal.

    Returns:
        A scalar tensor.
    """
    from effteach.attention_prune.objective import _lam, _merged, check_bool

    xb, tb = _merged(x, w, m, target)
    lam = _lam(lam)
    check_bool("causal", causal)
    f = softmax_ref(xb @ (m * w) @ xb.transpose(-1, -2), causal)
    return 0.5 * ((f - tb) ** 2).sum() / xb.shape[0] + 0.5 * lam * (m**2).sum()


def qk_loss_ref(x, wq, wk, mq, mk, target, lam: float, causal: bool,
                rope=None) -> torch.Tensor:
    """Separate-mask loss: logits ``rope(X(Mq o Wq)) rope(X(Mk o Wk))^T / sqrt(d_h)``.

    Args:
        x: (batch, n, d).
        wq: (d, d_h).
        wk: (d, d_h).
        mq: (d, d_h).
        mk: (d, d_h).
        target: (batch, n, n).
        lam: ridge weight on both masks.
        causal: as above.
        rope: optional ``(cos, sin)`` tables of shape (n, d_h // 2).
    """
    from effteach.attention_prune.objective import _lam, _qk, check_bool
    from effteach.models.layers import apply_rope

    x = _qk(x, wq, wk, mq, mk, target, rope)[0]
    lam = _lam(lam)
    check_bool("causal", causal)
    q, k = x @ (mq * wq), x @ (mk * wk)
    if rope is not None:
        q, k = apply_rope(q, *rope), apply_rope(k, *rope)
    f = softmax_ref(q @ k.transpose(-1, -2) / wq.shape[1] ** 0.5, causal)
    ridge = (mq**2).sum() + (mk**2).sum()
    return 0.5 * ((f - target) ** 2).sum() / x.shape[0] + 0.5 * lam * ridge


def softmax_jacobian_ref(a: torch.Tensor) -> torch.Tensor:
    """Jacobian ``diag(a) - a a^T`` of softmax at output ``a`` (n,), shape (n, n)."""
    check_tensor("a", a, ndim=1, kind="float")
    return torch.diag(a) - torch.outer(a, a)
