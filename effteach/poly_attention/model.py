"""A small multi-layer causal transformer whose whole gradient can be approximate.

Layer i (Paper B, Section 6 / Lemma J.3, residual form):
``Z_i = T_{i-1} + MHA_i(T_{i-1}) W_O``, ``T_i = Z_i + tanh(Z_i W_1) W_2``, with
causal multi-head attention. ``attn="exact"`` is softmax attention (autograd);
``attn="poly"`` is :func:`~effteach.poly_attention.attention.poly_attention`, whose
backward takes the paper's low-rank route, so the gradient of every weight and of
the input flows through the approximation in every layer (Algorithm 1, ALTGrad).
The two share weights: ``model.attn = ...`` switches a model in place.

Book: notebooks/poly_attention/lecture.md, "Many layers".
"""

from __future__ import annotations

import math

import torch
from torch import nn

from effteach.checks import check_float, check_int, check_tensor
from effteach.poly_attention.attention import poly_attention
from effteach.poly_attention.reference import attention_ref

__all__ = ["ATTNS", "PolyTransformer"]

#: attention implementations of :class:`PolyTransformer`
ATTNS = ("exact", "poly")


class PolyTransformer(nn.Module):
    """``n_layers`` residual blocks of causal multi-head attention and an MLP.

    Args:
        d_model: width; ``d_model % n_heads == 0``.
        n_heads: heads per layer.
        n_layers: m >= 1.
        attn: ``"exact"`` or ``"poly"``.
        degree: polynomial degree of ``"poly"``.
        w_scale: standard deviation of the weights times ``sqrt(d_model)``; small
            values keep the logits bounded (the paper's assumption).
        seed: seed of the weights.
        dtype: parameter dtype.

    Paper: arXiv 2408.13233, Definition 3.4 (multi-layer transformer), Theorem 4.2.
    Book: notebooks/poly_attention/lecture.md, "Many layers".
    """

    def __init__(self, d_model: int = 16, n_heads: int = 2, n_layers: int = 2,
                 attn: str = "poly", degree: int = 6, w_scale: float = 0.5,
                 seed: int = 0, dtype: torch.dtype = torch.float64):
        super().__init__()
        d = check_int("d_model", d_model, 1)
        h = check_int("n_heads", n_heads, 1)
        if d % h:
            raise ValueError(f"n_heads: expected a divisor of d_model={d}, got {h}")
        m = check_int("n_layers", n_layers, 1)
        self.degree = check_int("degree", degree, 0, 40)
        w_scale = check_float("w_scale", w_scale, 0.0, low_open=True)
        seed = check_int("seed", seed, 0)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"dtype: expected a floating torch.dtype, got {dtype!r}")
        self.attn = attn
        self.d_model, self.n_heads, self.n_layers = d, h, m
        gen = torch.Generator().manual_seed(seed)

        def w(*shape):
            return nn.Parameter(torch.randn(*shape, generator=gen, dtype=dtype)
                                * w_scale / math.sqrt(shape[0]))

        self.layers = nn.ModuleList()
        for _ in range(m):
            layer = nn.ParameterDict({"wq": w(d, d), "wk": w(d, d), "wv": w(d, d),
                                      "wo": w(d, d), "w1": w(d, 2 * d),
                                      "w2": w(2 * d, d)})
            self.layers.append(layer)

    @property
    def attn(self) -> str:
        """The attention implementation, ``"exact"`` or ``"poly"``."""
        return self._attn

    @attn.setter
    def attn(self, value: str) -> None:
        if value not in ATTNS:
            raise ValueError(f"attn: expected one of {ATTNS}, got {value!r}")
        self._attn = value

    def _heads(self, x):  # (b, n, d) -> (b, h, n, d/h)
        b, n, _ = x.shape
        return x.reshape(b, n, self.n_heads, -1).transpose(1, 2)

    def forward(self, x: torch.Tensor, keep: list | None = None) -> torch.Tensor:
        """Run the layers on ``x`` of shape (batch, n_ctx, d_model).

        Args:
            x: the input T_0.
            keep: if a list, the hidden states T_0..T_m are appended to it (with
                ``retain_grad``, so their gradients dL/dT_i can be read).

        Returns:
            T_m, shape of ``x``.
        """
        check_tensor("x", x, ndim=3, kind="float")
        if x.shape[-1] != self.d_model:
            raise ValueError(f"x: expected last dimension {self.d_model}, got shape "
                             f"{tuple(x.shape)}")
        t = x
        if keep is not None:
            t = t.clone()
            if not t.requires_grad:
                t.requires_grad_(True)
            t.retain_grad()
            keep.append(t)
        for layer in self.layers:
            q, k, v = (self._heads(t @ layer[n]) for n in ("wq", "wk", "wv"))
            if self.attn == "exact":
                a = attention_ref(q, k, v, causal=True)
            else:
                a = poly_attention(q, k, v, degree=self.degree, causal=True,
                                   chunk=32)
            z = t + a.transpose(1, 2).reshape(t.shape) @ layer["wo"]
            t = z + torch.tanh(z @ layer["w1"]) @ layer["w2"]
            if keep is not None:
                t.retain_grad()
                keep.append(t)
        return t

    @torch.no_grad()
    def max_logits(self, x: torch.Tensor) -> list[float]:
        """The largest |s <q_i, k_j>| of every layer on input ``x`` (exact forward).

        Book: notebooks/poly_attention/lecture.md, "Many layers".
        """
        check_tensor("x", x, ndim=3, kind="float")
        out, t = [], x
        for layer in self.layers:
            q, k = (self._heads(t @ layer[n]) for n in ("wq", "wk"))
            s = 1.0 / math.sqrt(q.shape[-1])
            out.append(float((s * q @ k.transpose(-1, -2)).abs().max()))
            v = self._heads(t @ layer["wv"])
            z = t + attention_ref(q, k, v, causal=True).transpose(1, 2).reshape(
                t.shape) @ layer["wo"]
            t = z + torch.tanh(z @ layer["w1"]) @ layer["w2"]
        return out
