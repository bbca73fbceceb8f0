"""poly_attention: features, O(nrd) attention, the paper-route backward, memory."""

from __future__ import annotations

import math

import pytest
import torch

from effteach.poly_attention import (
    PolyTransformer,
    attention_grads_ref,
    attention_ref,
    feature_pair,
    feature_rank,
    logit_inputs,
    memory_scaling,
    multilayer_errors,
    paper_rank_bound,
    poly_attention,
    poly_attention_ref,
    poly_rel_error,
    rel_err,
    taylor_error_bound,
    tensor_rank,
)


@pytest.mark.parametrize("d, g", [(1, 3), (3, 2), (4, 4), (8, 2)])
def test_ranks(d, g):
    q = torch.randn(2, 5, d, dtype=torch.float64)
    sym, _ = feature_pair(q, q, g)
    full, _ = feature_pair(q, q, g, symmetric=False)
    assert sym.shape[-1] == feature_rank(d, g) == math.comb(d + g, g)
    assert full.shape[-1] == tensor_rank(d, g)
    assert paper_rank_bound(d, g) >= feature_rank(d, g) ** 2


@pytest.mark.parametrize("method", ["taylor", "chebyshev"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_kernel_identity(method, symmetric):
    """phi_q phi_k^T equals P(s q k^T) for the polynomial P of the method."""
    from effteach.poly_attention import exp_poly_coeffs

    q, k = torch.randn(2, 6, 3, dtype=torch.float64) * 0.7
    a, b = feature_pair(q, k, 5, 0.4, method, 1.5, symmetric)
    t = 0.4 * q @ k.T
    c = exp_poly_coeffs(5, method, 1.5)
    want = sum(float(c[j]) * t**j for j in range(6))
    torch.testing.assert_close(a @ b.T, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backward", ["paper", "features"])
def test_grads_match_autograd_when_logits_bounded(causal, backward):
    """max |logit| <= 1: output and dq, dk, dv within 1e-4 relative of autograd."""
    q, k, v, g = logit_inputs(70, 4, 1.0, n_heads=3, seed=3)
    ref = [t.clone().requires_grad_() for t in (q, k, v)]
    attention_ref(*ref, causal=causal).backward(g)
    got = [t.clone().requires_grad_() for t in (q, k, v)]
    out = poly_attention(*got, degree=8, causal=causal, backward=backward, chunk=16)
    out.backward(g)
    assert rel_err(out, attention_ref(q, k, v, causal=causal)) <= 1e-4
    for a, b in zip(got, ref, strict=True):
        assert rel_err(a.grad, b.grad) <= 1e-4


def test_paper_route_is_the_exact_gradient_of_dense_poly_ds():
    """Low-rank dS route == closed form with f replaced by the dense f~ (to 1e-12)."""
    q, k, v, g = logit_inputs(33, 3, 2.0, seed=1)
    got = [t.clone().requires_grad_() for t in (q, k, v)]
    poly_attention(*got, degree=4, causal=True, chunk=8).backward(g)
    # the closed form with exact f: differs by the approximation only
    dq, dk, dv = attention_grads_ref(q, k, v, g, causal=True)
    assert rel_err(got[0].grad, dq) < 0.05
    # chunk size does not change the result
    other = [t.clone().requires_grad_() for t in (q, k, v)]
    poly_attention(*other, degree=4, causal=True, chunk=5).backward(g)
    for a, b in zip(got, other, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        poly_attention(q, k, v, degree=4, causal=True),
        poly_attention_ref(q, k, v, degree=4, causal=True), rtol=1e-12, atol=1e-12)


def test_error_grows_past_the_bound():
    """Fixed degree: the error rises by orders of magnitude as the logits grow."""
    errs = []
    for b in (0.5, 2.0, 8.0):
        q, k, v, _ = logit_inputs(64, 4, b, seed=0)
        errs.append(rel_err(poly_attention(q, k, v, degree=4, causal=True),
                            attention_ref(q, k, v, causal=True)))
    assert errs[0] * 100 < errs[1] and errs[1] * 10 < errs[2]
    assert poly_rel_error(4, 1.0) <= taylor_error_bound(4, 1.0)


def test_peak_memory_linear_and_no_n_by_n():
    rows = memory_scaling([256, 512, 1024, 2048])
    poly = [r for r in rows if r["impl"] == "poly"]
    exact = [r for r in rows if r["impl"] == "exact"]
    for a, b in zip(poly, poly[1:], strict=False):
        assert 1.6 < b["peak_bytes"] / a["peak_bytes"] < 2.4
    assert exact[-1]["peak_bytes"] / exact[-2]["peak_bytes"] > 3.5
    for r in poly:
        n = r["n_ctx"]
        assert sum(s >= n for s in r["largest_shape"]) <= 1, r
    assert max(exact[-1]["largest_shape"][-2:]) == 2048


def test_multilayer_errors_small_per_layer():
    rows = multilayer_errors((1, 2, 4))
    assert len(rows) == 7
    assert max(r["weights"] for r in rows) < 1e-2
    assert max(r["hidden"] for r in rows) < 1e-2


def test_bad_input_named():
    q = torch.randn(1, 4, 3)
    with pytest.raises(ValueError, match="k"):
        poly_attention(q, torch.randn(1, 5, 3), q)
    with pytest.raises(ValueError, match="backward"):
        poly_attention(q, q, q, backward="magic")
    with pytest.raises(ValueError, match="n_heads"):
        PolyTransformer(d_model=6, n_heads=4)
