"""The poly_attention Triton kernels in the interpreter: features, chunked product."""

from __future__ import annotations

import pytest
import torch

import effteach  # noqa: F401  (TRITON_INTERPRET before the kernel import)
from effteach.device import HAS_GPU
from effteach.kernels.poly_attention import (
    chunk_causal_attention,
    poly_attention_triton,
    taylor2_features,
    taylor2_rank,
)
from effteach.poly_attention import feature_rank, lowrank_apply, poly_attention
from effteach.poly_attention.features import poly_features

pytestmark = pytest.mark.skipif(HAS_GPU, reason="interpreter tests (CPU only)")


def _t(*shape, seed=0, scale=1.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale


def _rel(a, b):
    """Relative error, absolute where the reference is zero (one token: du = 0)."""
    b = b.double()
    return float((a.double() - b).norm() / max(float(b.norm()), 1.0))


@pytest.mark.parametrize("d", [16, 32])
def test_taylor2_features_and_their_gradient_match_the_torch_map(d):
    assert taylor2_rank(d) == feature_rank(d, 2)
    x = _t(3, 21, d, seed=d, scale=0.7).requires_grad_()
    f = taylor2_features(x, 0.3)
    r = taylor2_rank(d)
    assert f.shape[-1] % 16 == 0 and f.shape[-1] >= r
    assert torch.equal(f[..., r:], torch.zeros_like(f[..., r:]))  # the padding
    x64 = x.detach().double().requires_grad_()
    ref = poly_features(x64, 2, 0.3)
    assert _rel(f[..., :r], ref) < 1e-6
    g = _t(*f.shape, seed=1)
    (dx,) = torch.autograd.grad(f, x, g)
    (dref,) = torch.autograd.grad(ref, x64, g[..., :r].double())
    assert _rel(dx, dref) < 1e-6


@pytest.mark.parametrize("n", [1, 15, 16, 45])
def test_chunked_product_matches_the_prefix_sum_reference(n):
    u, w = _t(2, n, 20, seed=1).abs(), _t(2, n, 20, seed=2).abs()
    v = _t(2, n, 7, seed=3)
    ins = [t.double().requires_grad_() for t in (u, w, v)]
    one = torch.ones(2, n, 1, dtype=torch.float64)
    ref = (lowrank_apply(ins[0], ins[1], ins[2], True, chunk=8)
           / lowrank_apply(ins[0], ins[1], one, True, chunk=8))
    g = _t(*ref.shape, seed=4).double()
    want = torch.autograd.grad(ref, ins, g)
    got_in = [t.clone().requires_grad_() for t in (u, w, v)]
    out = chunk_causal_attention(*got_in)
    got = torch.autograd.grad(out, got_in, g.float())
    assert out.dtype == torch.float32 and out.shape == (2, n, 7)
    assert _rel(out.detach(), ref.detach()) < 1e-5
    for a, b in zip(got, want, strict=True):
        assert _rel(a, b) < 1e-5


def test_a_future_token_changes_nothing_before_it():
    u, w, v = _t(1, 40, 20, seed=5).abs(), _t(1, 40, 20, seed=6).abs(), _t(1, 40, 4)
    base = chunk_causal_attention(u, w, v)
    v2 = v.clone()
    v2[0, 30] += 5.0
    w2 = w.clone()
    w2[0, 30] += 1.0
    for other in (chunk_causal_attention(u, w, v2), chunk_causal_attention(u, w2, v)):
        assert torch.allclose(other[0, :30], base[0, :30], rtol=1e-6, atol=1e-7)
        assert not torch.allclose(other[0, 30:], base[0, 30:])


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-5),
                                            (torch.float16, 3e-3)])
def test_poly_attention_kernel_matches_the_torch_route(dtype, tol):
    q, k, v = (_t(1, 2, 37, 16, seed=s, scale=0.5) for s in (7, 8, 9))
    ins = [t.double().requires_grad_() for t in (q, k, v)]
    ref = poly_attention(*ins, degree=2, causal=True, backward="features")
    g = _t(*ref.shape, seed=10).double()
    want = torch.autograd.grad(ref, ins, g)
    got_in = [t.to(dtype).requires_grad_() for t in (q, k, v)]
    out = poly_attention_triton(*got_in)
    got = torch.autograd.grad(out, got_in, g.to(dtype))
    assert out.dtype == dtype
    assert _rel(out.detach(), ref.detach()) < tol
    for a, b in zip(got, want, strict=True):
        assert a.dtype == dtype and _rel(a, b) < 10 * tol


def test_bad_input_is_refused_by_name():
    q = _t(1, 2, 8, 16)
    with pytest.raises(ValueError, match="degree"):
        poly_attention_triton(q, q, q, degree=4)
    with pytest.raises(ValueError, match="q: expected d_head"):
        poly_attention_triton(q[..., :8], q[..., :8], q[..., :8])
    with pytest.raises(TypeError, match="q: dtype float64"):
        poly_attention_triton(q.double(), q.double(), q.double())
    with pytest.raises(ValueError, match="k: expected shape"):
        poly_attention_triton(q, q[:, :, :4], q)
    with pytest.raises(ValueError, match="scale"):
        poly_attention_triton(q, q, q, scale=-1.0)
    with pytest.raises(ValueError, match="v: expected"):
        chunk_causal_attention(q[0], q[0], q[0, :1])
    with pytest.raises(ValueError, match="w: expected dtype"):
        chunk_causal_attention(q[0], q[0].half(), q[0])
    with pytest.raises(ValueError, match="x: expected a last axis"):
        taylor2_features(q[..., :8], 0.5)
