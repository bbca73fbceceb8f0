"""Plain PyTorch references: softmax, its Jacobian and backward, attention fwd/bwd.

These are the specifications every faster implementation in the book is checked
against. They favour clarity over speed and work in any float dtype.

Book: notebooks/foundations/lecture.md.
"""

from __future__ import annotations

import math

import torch


def _check_float(name: str, t: torch.Tensor, min_dim: int = 1) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if not t.dtype.is_floating_point:
        raise TypeError(f"{name}: expected a floating-point tensor, got {t.dtype}")
    if t.dim() < min_dim:
        raise ValueError(
            f"{name}: expected at least {min_dim} dimension(s), got shape "
            f"{tuple(t.shape)}"
        )


def softmax_ref(z: torch.Tensor) -> torch.Tensor:
    """Numerically stable softmax over the last dimension.

    Subtracting the row maximum changes nothing mathematically (softmax is invariant
    to adding a constant to every logit) but keeps ``exp`` from overflowing.

    Args:
        z: logits, shape (..., n).

    Returns:
        Probabilities, same shape and dtype; each row sums to 1.

    Paper: Vaswani et al. 2017, eq. (1).
    Book: notebooks/foundations/lecture.md, "The method".
    """
    _check_float("z", z)
    e = torch.exp(z - z.amax(dim=-1, keepdim=True))  # every exponent <= 0
    return e / e.sum(dim=-1, keepdim=True)


def softmax_naive(z: torch.Tensor) -> torch.Tensor:
    """Softmax straight from the definition, without the max shift (overflows).

    Args:
        z: logits, shape (..., n).

    Returns:
        ``exp(z) / sum(exp(z))``: inf/nan once ``exp`` overflows the dtype.

    Book: notebooks/foundations/lecture.md, "Why subtract the maximum".
    """
    _check_float("z", z)
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)


def softmax_jacobian_ref(p: torch.Tensor) -> torch.Tensor:
    """Jacobian of softmax at the point whose output is ``p``: ``diag(p) - p pᵀ``.

    Args:
        p: probabilities, shape (..., n).

    Returns:
        Jacobians ``J[..., i, j] = d p_i / d z_j``, shape (..., n, n).

    Book: notebooks/foundations/lecture.md, "The softmax Jacobian".
    """
    _check_float("p", p)
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)


def softmax_bwd_ref(p: torch.Tensor, dp: torch.Tensor) -> torch.Tensor:
    """Backward of softmax: ``dz = Jᵀ dp = p ⊙ (dp - <p, dp>)``, without forming J.

    Args:
        p: softmax outputs, shape (..., n).
        dp: gradient of the loss with respect to ``p``, same shape.

    Returns:
        Gradient with respect to the logits, same shape.

    Book: notebooks/foundations/lecture.md, "The softmax Jacobian".
    """
    _check_float("p", p)
    _check_float("dp", dp)
    if p.shape != dp.shape:
        raise ValueError(
            f"dp: expected shape {tuple(p.shape)} (the shape of p), got "
            f"{tuple(dp.shape)}"
        )
    return p * (dp - (p * dp).sum(dim=-1, keepdim=True))


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    for name, t in (("q", q), ("k", k), ("v", v)):
        _check_float(name, t, min_dim=2)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"k: expected d_head={q.shape[-1]} (the last dim of q), got shape "
            f"{tuple(k.shape)}"
        )
    if k.shape[:-1] != v.shape[:-1]:
        raise ValueError(
            f"v: expected the leading shape {tuple(k.shape[:-1])} of k, got "
            f"{tuple(v.shape)}"
        )
    if q.shape[:-2] != k.shape[:-2]:
        raise ValueError(
            f"k: expected batch dims {tuple(q.shape[:-2])} (those of q), got "
            f"{tuple(k.shape)}"
        )


def _check_options(causal, scale) -> None:
    # the same refusals (and messages) as the Triton kernel's wrapper
    if not isinstance(causal, bool):
        raise TypeError(f"causal: expected a bool, got {type(causal).__name__}")
    if scale is not None and (
        isinstance(scale, bool) or not isinstance(scale, (int, float))
        or not math.isfinite(scale) or scale <= 0
    ):
        raise ValueError(f"scale: expected a finite float > 0 or None, got {scale!r}")


def _scores(q, k, causal: bool, scale: float | None) -> torch.Tensor:
    _check_options(causal, scale)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = (q @ k.transpose(-2, -1)) * scale  # (..., n_q, n_k)
    if causal:
        n_q, n_k = s.shape[-2:]
        # query i sees keys j <= i + (n_k - n_q): bottom-right aligned, as in SDPA
        # for n_q == n_k
        mask = torch.ones(n_q, n_k, dtype=torch.bool, device=s.device).tril(n_k - n_q)
        s = s.masked_fill(~mask, float("-inf"))
    return s


def attention_ref(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """Scaled dot-product attention, ``softmax(q kᵀ / sqrt(d_head)) v``.

    Args:
        q: queries, shape (..., n_q, d_head), e.g. (batch, n_heads, n_ctx, d_head).
        k: keys, shape (..., n_k, d_head).
        v: values, shape (..., n_k, d_v).
        causal: mask keys after the query's position.
        scale: score scale; ``1 / sqrt(d_head)`` if None.

    Returns:
        Output ``o``, shape (..., n_q, d_v).

    Paper: Vaswani et al. 2017, eq. (1).
    Book: notebooks/foundations/lecture.md, "The method".
    """
    _check_qkv(q, k, v)
    return softmax_ref(_scores(q, k, causal, scale)) @ v


def attention_bwd_ref(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    do: torch.Tensor,
    causal: bool = False,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Backward of attention by hand, with ``Δ = rowsum(dO ⊙ O)``.

    With ``P = softmax(S)``, ``O = P V`` and ``dP = dO Vᵀ``, the softmax backward
    needs ``rowsum(P ⊙ dP)``; since ``rowsum(P ⊙ (dO Vᵀ)) = rowsum(dO ⊙ (P V))``,
    that is ``Δ = rowsum(dO ⊙ O)``, computable from O alone. FlashAttention's
    backward uses this so that it never stores P.

    Args:
        q: queries, as in :func:`attention_ref`.
        k: keys, as in :func:`attention_ref`.
        v: values, as in :func:`attention_ref`.
        do: gradient of the loss with respect to the output, shape of ``o``.
        causal: mask as in the forward.
        scale: score scale; ``1 / sqrt(d_head)`` if None.

    Returns:
        ``(dq, dk, dv)``, shapes of ``q``, ``k``, ``v``.

    Paper: Dao 2023 (FlashAttention-2), Algorithm 2, line "D_i = rowsum(dO_i ∘ O_i)".
    Book: notebooks/foundations/lecture.md, "The backward identity".
    """
    _check_qkv(q, k, v)
    _check_float("do", do, min_dim=2)
    if do.dtype != v.dtype:
        raise TypeError(f"do: expected dtype {v.dtype} (that of v), got {do.dtype}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    p = softmax_ref(_scores(q, k, causal, scale))  # (..., n_q, n_k)
    o = p @ v
    if do.shape != o.shape:
        raise ValueError(
            f"do: expected shape {tuple(o.shape)} (the output's, p @ v), got "
            f"{tuple(do.shape)}"
        )
    dv = p.transpose(-2, -1) @ do
    dp = do @ v.transpose(-2, -1)
    delta = (do * o).sum(dim=-1, keepdim=True)  # Δ, shape (..., n_q, 1)
    ds = p * (dp - delta)  # softmax backward, row by row
    dq = ds @ k * scale
    dk = ds.transpose(-2, -1) @ q * scale
    return dq, dk, dv
