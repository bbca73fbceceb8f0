"""Building blocks shared by the book's small models (LLaMA- and DiT-style).

Names follow the papers' and Hugging Face's module names (``q_proj``, ``gate_proj``,
``adaLN_modulation``) so that a chapter that prunes, skips or caches "the MLP of layer
3" finds ``model.layers[3].mlp`` exactly where the paper's code would.

Book: notebooks/zoo/models.md, "The small models of this book".
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from effteach.checks import check_int, typed


class RMSNorm(nn.Module):
    """Root-mean-square layer norm (no mean subtraction, no bias), as in LLaMA."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        rms = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return x * rms * self.weight


def rope_tables(
    n_ctx: int, d_head: int, base: float = 10000.0, device=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cos and sin tables of rotary position embeddings, shape (n_ctx, d_head // 2)."""
    if d_head % 2:
        raise ValueError(f"d_head: expected an even number for RoPE, got {d_head}")
    inv = base ** (-torch.arange(0, d_head, 2, device=device).float() / d_head)
    ang = torch.arange(n_ctx, device=device).float()[:, None] * inv[None, :]
    return ang.cos(), ang.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[2i], x[2i+1]) of ``x`` (…, n_ctx, d_head) by position angles."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
    return out.flatten(-2)


class KVCache:
    """Keys and values of past positions, one entry per attention layer.

    ``cache[i]`` is ``None`` or ``(k, v)`` of shape (batch, n_heads, n_past, d_head).
    """

    @typed
    def __init__(self, n_layers: int):
        check_int("n_layers", n_layers, low=1)
        self.layers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * n_layers

    @property
    def n_past(self) -> int:
        """Number of cached positions."""
        first = self.layers[0]
        return 0 if first is None else first[0].shape[-2]


class Attention(nn.Module):
    """Multi-head self-attention with ``q/k/v/o_proj``, optional RoPE, causal mask.

    ``attn_fn`` may be replaced (``model.set_attention_fn``) by a chapter's own
    attention (sparse, pruned, private); it receives ``q, k, v`` of shape
    (batch, n_heads, n_ctx, d_head) and ``causal`` and returns the output.
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = False):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(
                f"n_heads: must divide d_model={d_model}, got n_heads={n_heads}"
            )
        self.n_heads, self.d_head = n_heads, d_model // n_heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.o_proj = nn.Linear(d_model, d_model, bias=bias)
        self.attn_fn = None  # None: torch's scaled_dot_product_attention

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.n_heads, self.d_head).transpose(1, 2)

    def forward(
        self,
        x: torch.Tensor,
        causal: bool = False,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
    ) -> torch.Tensor:
        """Attend over ``x`` (batch, n_ctx, d_model); append to ``cache`` if given."""
        q, k = self._heads(self.q_proj(x)), self._heads(self.k_proj(x))
        v = self._heads(self.v_proj(x))
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        if cache is not None:
            past = cache.layers[layer]
            if past is not None:
                k = torch.cat((past[0], k), dim=-2)
                v = torch.cat((past[1], v), dim=-2)
            cache.layers[layer] = (k, v)
        if self.attn_fn is not None:
            o = self.attn_fn(q, k, v, causal=causal)
        elif causal and q.shape[-2] != k.shape[-2]:
            # decoding with a cache: the new queries sit at the end (bottom-right)
            n_q, n_k = q.shape[-2], k.shape[-2]
            mask = torch.ones(n_q, n_k, dtype=torch.bool, device=q.device)
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.tril(n_k - n_q))
        else:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        b, _, n, _ = o.shape
        return self.o_proj(o.transpose(1, 2).reshape(b, n, -1))


class SwiGLU(nn.Module):
    """LLaMA's MLP: ``down_proj(silu(gate_proj(x)) * up_proj(x))``."""

    def __init__(self, d_model: int, d_ff: int, bias: bool = False):
        super().__init__()
        self.gate_proj = nn.Linear(d_model, d_ff, bias=bias)
        self.up_proj = nn.Linear(d_model, d_ff, bias=bias)
        self.down_proj = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0):
    """Sinusoidal embedding of (possibly fractional) timesteps, shape (batch, dim)."""
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, device=t.device).float() / half
    )
    ang = t.float()[:, None] * freqs[None]
    return torch.cat((ang.cos(), ang.sin()), dim=-1)
