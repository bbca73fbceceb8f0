"""The closed-form gradients against autograd, descent, binarisation, bad input."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from effteach.attention_prune import (
    attention_grad,
    attention_loss,
    attention_loss_ref,
    attention_matrix,
    binarize,
    descend,
    error_projection,
    qk_grad,
    qk_loss,
    qk_loss_ref,
    softmax_jacobian_ref,
)
from effteach.models.layers import rope_tables


def _rel(a, b):
    return float((a - b).norm() / b.norm().clamp_min(1e-300))


def _instance(seed, b, n, d, scale):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, n, d, generator=g, dtype=torch.float64) * scale
    w = torch.randn(d, d, generator=g, dtype=torch.float64)
    m = torch.rand(d, d, generator=g, dtype=torch.float64) * 2
    w0 = torch.randn(d, d, generator=g, dtype=torch.float64)
    return x, w, m, w0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), b=st.integers(1, 3), n=st.integers(1, 9),
       d=st.integers(1, 6), causal=st.booleans(), lam=st.floats(0, 3),
       scale=st.floats(0.1, 1.5))
def test_attention_grad_matches_autograd(seed, b, n, d, causal, lam, scale):
    x, w, m, w0 = _instance(seed, b, n, d, scale)
    target = attention_matrix(x @ w0 @ x.transpose(-1, -2), causal)
    mm = m.clone().requires_grad_(True)
    ref = attention_loss_ref(x, w, mm, target, lam, causal)
    ref.backward()
    got = attention_grad(x, w, m, target, lam, causal)
    assert _rel(got, mm.grad) < 1e-6 or float(mm.grad.norm()) < 1e-12
    assert attention_loss(x, w, m, target, lam, causal) == pytest.approx(
        float(ref.detach()), rel=1e-12, abs=1e-14)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), b=st.integers(1, 3), n=st.integers(2, 8),
       d=st.integers(2, 6), half=st.integers(1, 3), causal=st.booleans(),
       use_rope=st.booleans(), lam=st.floats(0, 2))
def test_qk_grad_matches_autograd(seed, b, n, d, half, causal, use_rope, lam):
    g = torch.Generator().manual_seed(seed)
    dh = 2 * half
    x = torch.randn(b, n, d, generator=g, dtype=torch.float64)
    wq, wk, mq, mk = torch.randn(4, d, dh, generator=g, dtype=torch.float64)
    rope = tuple(t.double() for t in rope_tables(n, dh)) if use_rope else None
    target = attention_matrix(torch.randn(b, n, n, generator=g,
                                          dtype=torch.float64), causal)
    aq, ak = mq.clone().requires_grad_(True), mk.clone().requires_grad_(True)
    qk_loss_ref(x, wq, wk, aq, ak, target, lam, causal, rope).backward()
    gq, gk = qk_grad(x, wq, wk, mq, mk, target, lam, causal, rope)
    assert _rel(gq, aq.grad) < 1e-6
    assert _rel(gk, ak.grad) < 1e-6
    assert qk_loss(x, wq, wk, mq, mk, target, lam, causal, rope) == pytest.approx(
        float(qk_loss_ref(x, wq, wk, mq, mk, target, lam, causal, rope)), rel=1e-12)


def test_grad_matches_finite_differences():
    x, w, m, w0 = _instance(3, 2, 5, 3, 1.0)
    target = attention_matrix(x @ w0 @ x.transpose(-1, -2), True)
    g = attention_grad(x, w, m, target, 0.5, True)
    eps = 1e-6
    for i, j in [(0, 0), (1, 2), (2, 1)]:
        e = torch.zeros_like(m)
        e[i, j] = eps
        fd = (attention_loss(x, w, m + e, target, 0.5, True)
              - attention_loss(x, w, m - e, target, 0.5, True)) / (2 * eps)
        assert fd == pytest.approx(float(g[i, j]), rel=1e-6, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 8))
def test_softmax_jacobian_psd_bounded(seed, n):
    g = torch.Generator().manual_seed(seed)
    a = torch.softmax(3 * torch.randn(n, generator=g, dtype=torch.float64), 0)
    j = softmax_jacobian_ref(a)
    ev = torch.linalg.eigvalsh(j)
    assert float(ev.min()) > -1e-12 and float(ev.max()) <= 0.5 + 1e-12
    c = torch.randn(n, generator=g, dtype=torch.float64)
    torch.testing.assert_close(error_projection(a, c), j @ c)


def test_causal_entries_are_zero():
    f = attention_matrix(torch.randn(5, 5, dtype=torch.float64), True)
    assert float(f.triu(1).abs().max()) == 0.0
    torch.testing.assert_close(f.sum(-1), torch.ones(5, dtype=torch.float64))


def _problem():
    x, w, m, w0 = _instance(7, 2, 6, 4, 1.0)
    target = attention_matrix(x @ w0 @ x.transpose(-1, -2), True)
    return (lambda mm: attention_loss(x, w, mm, target, 0.1, True),
            lambda mm: attention_grad(x, w, mm, target, 0.1, True), m)


def test_fixed_step_diverges_where_armijo_does_not():
    loss, grad, m0 = _problem()
    fixed = descend(loss, grad, m0, 30, step=20.0)
    arm = descend(loss, grad, m0, 30, step="armijo", step0=20.0)
    assert fixed.diverged and fixed.losses[-1] > 1.5 * fixed.losses[0]
    assert not arm.diverged
    assert all(b <= a + 1e-15 for a, b in zip(arm.losses, arm.losses[1:], strict=False))
    assert arm.losses[-1] < 0.5 * arm.losses[0]


def test_small_fixed_step_decreases():
    loss, grad, m0 = _problem()
    tr = descend(loss, grad, m0, 30, step=0.05)
    assert all(b <= a + 1e-15 for a, b in zip(tr.losses, tr.losses[1:], strict=False))


def test_binarize_keeps_largest():
    s = torch.tensor([[0.1, 0.9, 0.5, 0.3]], dtype=torch.float64)
    assert binarize(s, 0.5).tolist() == [[0.0, 1.0, 1.0, 0.0]]
    cols = binarize(torch.rand(6, 4, dtype=torch.float64), 0.5, dim=0)
    assert cols.sum(0).tolist() == [3.0] * 4
    assert float(binarize(s, 0.0).sum()) == 4.0


@pytest.mark.parametrize("bad, match", [
    (dict(lam=-0.1), "lam"),
    (dict(w=torch.zeros(3, 4, dtype=torch.float64)), "w"),
    (dict(m=torch.zeros(4, 3, dtype=torch.float64)), "m"),
    (dict(target=torch.zeros(5, 5, dtype=torch.float64)), "target"),
    (dict(x=torch.zeros(6, dtype=torch.float64)), "x"),
])
def test_bad_input_named(bad, match):
    args = dict(x=torch.randn(6, 4, dtype=torch.float64),
                w=torch.randn(4, 4, dtype=torch.float64),
                m=torch.ones(4, 4, dtype=torch.float64),
                target=torch.eye(6, dtype=torch.float64), lam=0.1, causal=True)
    args.update(bad)
    for fn in (attention_loss, attention_grad):
        with pytest.raises(ValueError, match=match):
            fn(**args)


@pytest.mark.parametrize("s", [-0.1, 1.0, 1.5, float("nan")])
def test_bad_sparsity(s):
    with pytest.raises(ValueError, match="sparsity"):
        binarize(torch.rand(4, dtype=torch.float64), s)


def test_bad_qk_shapes_and_step():
    x = torch.randn(1, 4, 3, dtype=torch.float64)
    w = torch.randn(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="wk"):
        qk_grad(x, w, torch.randn(3, 4, dtype=torch.float64), w, w,
                torch.eye(4, dtype=torch.float64)[None])
    with pytest.raises(ValueError, match="lam"):
        qk_loss(x, w, w, w, w, torch.eye(4, dtype=torch.float64)[None], lam=-1.0)
    with pytest.raises(ValueError, match="step"):
        descend(lambda m: 0.0, lambda m: m, torch.ones(2), 3, step=-1.0)
    with pytest.raises(ValueError, match="step"):
        descend(lambda m: 0.0, lambda m: m, torch.ones(2), 3, step="newton")
