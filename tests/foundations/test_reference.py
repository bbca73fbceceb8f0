import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from effteach.foundations import (
    attention_bwd_ref,
    attention_ref,
    softmax_bwd_ref,
    softmax_jacobian_ref,
    softmax_naive,
    softmax_ref,
)
from effteach.testing import randn


def test_softmax_ref_matches_torch():
    z = randn((4, 7, 33), dtype=torch.float64, seed=1) * 5
    torch.testing.assert_close(softmax_ref(z), torch.softmax(z, -1))


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 20),
    shift=st.floats(-1e3, 1e3, allow_nan=False),
    seed=st.integers(0, 10_000),
)
def test_softmax_shift_invariant_and_sums_to_one(n, shift, seed):
    z = randn((3, n), dtype=torch.float64, seed=seed) * 4
    p = softmax_ref(z)
    torch.testing.assert_close(p.sum(-1), torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(softmax_ref(z + shift), p, rtol=1e-9, atol=1e-12)


def test_naive_softmax_overflows_in_fp16_where_stable_does_not():
    limit = math.log(torch.finfo(torch.float16).max)  # 11.09
    z = torch.tensor([[limit + 0.1, 0.0]], dtype=torch.float16)
    assert not torch.isfinite(softmax_naive(z)).all()
    assert torch.isfinite(softmax_ref(z)).all()
    z_ok = torch.tensor([[limit - 0.1, 0.0]], dtype=torch.float16)
    assert torch.isfinite(softmax_naive(z_ok)).all()


def test_jacobian_matches_autograd():
    z = randn((5,), dtype=torch.float64, seed=3)
    jac = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, -1), z)
    torch.testing.assert_close(softmax_jacobian_ref(softmax_ref(z)), jac)


@pytest.mark.parametrize("shape", [(1, 2), (3, 17), (2, 4, 9)])
def test_softmax_bwd_matches_autograd(shape):
    z = randn(shape, dtype=torch.float64, seed=4).requires_grad_()
    dp = randn(shape, dtype=torch.float64, seed=5)
    p = torch.softmax(z, -1)
    (g,) = torch.autograd.grad(p, z, dp)
    torch.testing.assert_close(softmax_bwd_ref(p.detach(), dp), g)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("n_q, n_k", [(8, 8), (5, 9)])
def test_attention_matches_sdpa_and_autograd(causal, n_q, n_k):
    if causal and n_q != n_k:
        pytest.skip("SDPA's is_causal is top-left aligned for n_q != n_k")
    q = randn((2, 3, n_q, 16), dtype=torch.float64, seed=6).requires_grad_()
    k, v = randn((2, 3, n_k, 16), (2, 3, n_k, 16), dtype=torch.float64, seed=7)
    k.requires_grad_()
    v.requires_grad_()
    o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(attention_ref(q, k, v, causal=causal), o)
    do = randn(o.shape, dtype=torch.float64, seed=8)
    grads = torch.autograd.grad(o, (q, k, v), do)
    mine = attention_bwd_ref(q.detach(), k.detach(), v.detach(), do, causal=causal)
    for got, want in zip(mine, grads, strict=True):
        torch.testing.assert_close(got, want)


def test_delta_identity_holds():
    q, k, v, do = randn((6, 8), (7, 8), (7, 5), (6, 5), dtype=torch.float64, seed=9)
    p = softmax_ref(q @ k.T / math.sqrt(8))
    o = p @ v
    dp = do @ v.T
    torch.testing.assert_close((p * dp).sum(-1), (do * o).sum(-1))


def test_bad_inputs_name_the_argument():
    with pytest.raises(TypeError, match="z: expected a floating-point"):
        softmax_ref(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="dp: expected shape"):
        softmax_bwd_ref(torch.rand(2, 3), torch.rand(3, 2))
    with pytest.raises(ValueError, match="k: expected d_head=4"):
        attention_ref(torch.rand(3, 4), torch.rand(3, 5), torch.rand(3, 5))
    with pytest.raises(ValueError, match="v: expected the leading shape"):
        attention_ref(torch.rand(3, 4), torch.rand(3, 4), torch.rand(2, 4))
    with pytest.raises(ValueError, match="do: expected shape"):
        attention_bwd_ref(
            torch.rand(3, 4), torch.rand(3, 4), torch.rand(3, 4), torch.rand(4, 4)
        )
