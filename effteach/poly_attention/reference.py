"""Plain references: exact softmax attention and its gradients, materialising n x n.

Everything here forms the full ``n_ctx x n_ctx`` matrix on purpose: these are the
baselines the low-rank paths are tested against, in float64 where accuracy matters.

* ``attention_ref(q, k, v, scale, causal)``: ``softmax(s q k^T + mask) v``.
* ``poly_attention_ref(...)``: the same with ``exp`` replaced by the feature
  kernel ``phi_q phi_k^T`` (the approximate model, formed densely).
* ``attention_grads_ref(...)``: ``(dq, dk, dv)`` of the exact model by the closed
  form ``p = f o (G v^T) - diag(Delta) f``.

Paper: arXiv 2408.13233, Section 3 (definitions) and Definition C.12.
Book: notebooks/poly_attention/lecture.md, "Derivations".
"""

from __future__ import annotations

import math

import torch

from effteach.checks import check_tensor
from effteach.poly_attention.features import feature_pair

__all__ = ["attention_ref", "poly_attention_ref", "attention_grads_ref"]


def _check_qkv(q, k, v, causal=False):
    if not isinstance(causal, bool):
        raise TypeError(f"causal: expected a bool, got {causal!r}")
    check_tensor("q", q, min_ndim=2, kind="float")
    check_tensor("k", k, shape=q.shape, kind="float", shape_of="q")
    check_tensor("v", v, shape=q.shape, kind="float", shape_of="q")


def _mask(n: int, device) -> torch.Tensor:
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def attention_ref(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                  scale: float | None = None, causal: bool = False) -> torch.Tensor:
    """Exact softmax attention, materialising the logits.

    Args:
        q: queries, shape (..., n_ctx, d_head).
        k: keys, the shape of ``q``.
        v: values, the shape of ``q``.
        scale: logit scale; default ``1/sqrt(d_head)``.
        causal: lower-triangular mask.

    Returns:
        Shape of ``v``.

    Paper: arXiv 2408.13233, Definition 3.1 (Attn = D^-1 A V).
    Book: notebooks/poly_attention/lecture.md, "The question".
    """
    _check_qkv(q, k, v, causal)
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    logits = s * q @ k.transpose(-1, -2)
    if causal:
        logits = logits.masked_fill(~_mask(q.shape[-2], q.device), float("-inf"))
    return torch.softmax(logits, dim=-1) @ v


def poly_attention_ref(q, k, v, degree: int = 4, scale: float | None = None,
                       causal: bool = False, method: str = "taylor",
                       bound: float = 1.0) -> torch.Tensor:
    """The approximate model formed densely: ``D~^-1 (M o phi_q phi_k^T) v``.

    Book: notebooks/poly_attention/lecture.md, "The method".
    """
    _check_qkv(q, k, v, causal)
    uq, vk = feature_pair(q, k, degree, scale, method, bound)
    a = uq @ vk.transpose(-1, -2)
    if causal:
        a = a.masked_fill(~_mask(q.shape[-2], q.device), 0.0)
    return (a @ v) / a.sum(-1, keepdim=True)


def attention_grads_ref(q, k, v, grad_out, scale: float | None = None,
                        causal: bool = False):
    """Closed-form gradients of exact attention: ``(dq, dk, dv)``.

    ``f = softmax``, ``Delta = rowsum(G o out)``, ``p = f o (G v^T) - diag(Delta) f``;
    ``dq = s p k``, ``dk = s p^T q``, ``dv = f^T G``.

    Paper: arXiv 2408.13233, Definition C.12 and Lemma E.11 (our transposes: the
        extracted text loses them; checked against autograd in the tests).
    Book: notebooks/poly_attention/lecture.md, "Derivations".
    """
    _check_qkv(q, k, v, causal)
    check_tensor("grad_out", grad_out, shape=q.shape, kind="float", shape_of="q")
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    logits = s * q @ k.transpose(-1, -2)
    if causal:
        logits = logits.masked_fill(~_mask(q.shape[-2], q.device), float("-inf"))
    f = torch.softmax(logits, dim=-1)
    out = f @ v
    delta = (grad_out * out).sum(-1, keepdim=True)
    p = f * (grad_out @ v.transpose(-1, -2)) - delta * f
    return s * p @ k, s * p.transpose(-1, -2) @ q, f.transpose(-1, -2) @ grad_out
