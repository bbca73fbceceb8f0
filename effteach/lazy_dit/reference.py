"""Plain reference formulas of LazyDiT: gate score, soft mixing, lazy loss, ratio.

Polarity used throughout the book (the official code's): the gate ``g`` is the
weight on the *fresh* computation, ``g = sigmoid(sum_tokens z . w + b)``; a module
is computed when ``g >= 0.5`` and skipped (its previous-step output reused) when
``g < 0.5``; the laziness penalty is ``rho * g``. The paper writes ``s = 1 - g``
(the weight on the cache), penalises ``1 - s`` and skips when ``s > 0.5``: the two
agree except exactly at ``g = s = 0.5``, where the code computes and the paper's
rule also computes (``s > 0.5`` is false).

Paper: LazyDiT (arXiv 2412.12444), Sec. 4.1-4.3, Eq. (10)-(13).
Book: notebooks/lazy_dit/lecture.md, "The method".
"""

from __future__ import annotations

import torch

from effteach.checks import check_tensor, typed

__all__ = [
    "gate_score_ref",
    "soft_mix_ref",
    "lazy_penalty_ref",
    "lazy_ratio_ref",
    "cosine_ref",
]


@typed
def gate_score_ref(
    z: torch.Tensor, w: torch.Tensor, b: torch.Tensor | float = 0.0
) -> torch.Tensor:
    """Compute weight ``g = sigmoid(sum_tokens (z @ w) + b)`` per sample.

    Args:
        z: modulated module input, shape (batch, n_ctx, d_model).
        w: gate weights of one (step, layer, module), shape (d_model,).
        b: gate bias (0 in the paper and the official code).

    Returns:
        ``g`` in (0, 1), shape (batch,); the paper's ``s`` is ``1 - g``.
    """
    check_tensor("z", z, ndim=3, kind="float")
    check_tensor("w", w, shape=(z.shape[-1],), dtype=z.dtype, shape_of="z")
    return torch.sigmoid((z @ w).sum(dim=-1) + b)  # (batch, n_ctx) -> (batch,)


@typed
def soft_mix_ref(g: torch.Tensor, fresh: torch.Tensor, cached: torch.Tensor):
    """Training-time output ``g * F(z) + (1 - g) * Y_prev`` (g per sample)."""
    check_tensor("fresh", fresh, kind="float", min_ndim=2)  # (batch, ...)
    check_tensor("cached", cached, shape=fresh.shape, kind="float", shape_of="fresh")
    check_tensor("g", g, shape=(fresh.shape[0],), kind="float", shape_of="fresh")
    gb = g.view(-1, *[1] * (fresh.dim() - 1))
    return gb * fresh + (1 - gb) * cached


@typed
def lazy_penalty_ref(gates: torch.Tensor, rho: float) -> torch.Tensor:
    """``rho * mean_batch sum_modules g``; ``gates`` has shape (batch, n_modules)."""
    check_tensor("gates", gates, ndim=2, kind="float")
    return rho * gates.sum(dim=1).mean()


@typed
def lazy_ratio_ref(computed: torch.Tensor) -> float:
    """Share of skipped module calls: ``1 - mean(computed)`` over every entry."""
    check_tensor("computed", computed)
    if computed.is_floating_point() and not bool(
        ((computed >= 0) & (computed <= 1)).all()
    ):
        raise ValueError("computed: expected shares in [0, 1] (or 0/1 flags)")
    return 1.0 - float(computed.float().mean())


@typed
def cosine_ref(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``tr(a^T b) / (|a|_F |b|_F)`` per sample (first dim is the batch)."""
    check_tensor("a", a, kind="float", min_ndim=2)  # (batch, ...)
    check_tensor("b", b, shape=a.shape, kind="float", shape_of="a")
    a, b = a.flatten(1).double(), b.flatten(1).double()
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
