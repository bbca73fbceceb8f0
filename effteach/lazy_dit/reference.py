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

__all__ = [
    "gate_score_ref",
    "soft_mix_ref",
    "lazy_penalty_ref",
    "lazy_ratio_ref",
    "cosine_ref",
]


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
    return torch.sigmoid((z @ w).sum(dim=-1) + b)  # (batch, n_ctx) -> (batch,)


def soft_mix_ref(g: torch.Tensor, fresh: torch.Tensor, cached: torch.Tensor):
    """Training-time output ``g * F(z) + (1 - g) * Y_prev`` (g per sample)."""
    gb = g.view(-1, *[1] * (fresh.dim() - 1))
    return gb * fresh + (1 - gb) * cached


def lazy_penalty_ref(gates: torch.Tensor, rho: float) -> torch.Tensor:
    """``rho * mean_batch sum_modules g``; ``gates`` has shape (batch, n_modules)."""
    return rho * gates.sum(dim=1).mean()


def lazy_ratio_ref(computed: torch.Tensor) -> float:
    """Share of skipped module calls: ``1 - mean(computed)`` over every entry."""
    return 1.0 - float(computed.float().mean())


def cosine_ref(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``tr(a^T b) / (|a|_F |b|_F)`` per sample (first dim is the batch)."""
    a, b = a.flatten(1).double(), b.flatten(1).double()
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
