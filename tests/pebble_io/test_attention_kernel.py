"""The tuned dense kernel: n_q != n_k (bottom-right causal), key padding, strides."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from effteach import device
from effteach.kernels.attention import attention, attention_fwd, attention_mask

CASES = [  # (n_q, n_k, causal, kv_lens)
    (37, 37, True, None), (37, 37, False, None), (5, 53, True, None),
    (20, 33, False, None), (40, 25, True, None), (17, 50, True, [50, 23]),
    (30, 30, False, [12, 30]), (9, 40, True, [3, 40]), (1, 64, True, None),
]


def _inputs(b, n_q, n_k, d, dtype, dev, seed):
    g = torch.Generator(device=dev).manual_seed(seed)
    # q arrives as (batch, n, heads, d) transposed: a strided view, no copy
    q = torch.randn(b, n_q, 3, d, generator=g, device=dev).to(dtype).transpose(1, 2)
    k, v = (torch.randn(b, 3, n_k, d, generator=g, device=dev).to(dtype)
            for _ in range(2))
    return q, k, v


def _reference(q, k, v, mask):
    """Masked softmax attention in float64; rows that see no key are zero."""
    s = (q @ k.transpose(-1, -2)) / q.shape[-1] ** 0.5
    p = torch.softmax(s.masked_fill(~mask, float("-inf")), -1).nan_to_num(0.0)
    return p @ v


@pytest.mark.interpreter
@pytest.mark.parametrize(("n_q", "n_k", "causal", "lens"), CASES)
@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 2e-5),
                                            (torch.float16, 4e-3)])
def test_matches_masked_attention_forward_and_backward(n_q, n_k, causal, lens,
                                                       dtype, tol):
    dev = device.DEVICE
    q, k, v = _inputs(2, n_q, n_k, 16, dtype, dev, seed=n_q * 100 + n_k)
    assert n_q == 1 or not q.is_contiguous()  # one row: any layout is contiguous
    kv_lens = None if lens is None else torch.tensor(lens, device=dev)
    mask = attention_mask(n_q, n_k, causal, kv_lens, device=dev)
    ref_in = [t.detach().double().requires_grad_() for t in (q, k, v)]
    ref = _reference(*ref_in, mask)
    g = torch.randn(ref.shape, generator=torch.Generator(device=dev).manual_seed(1),
                    device=dev, dtype=torch.float64)
    want = torch.autograd.grad(ref, ref_in, g)
    got_in = [t.detach().requires_grad_() for t in (q, k, v)]
    out = attention(*got_in, causal=causal, kv_lens=kv_lens)
    got = torch.autograd.grad(out, got_in, g.to(dtype))
    torch.testing.assert_close(out.double(), ref.detach(), atol=tol, rtol=tol)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a.double(), b, atol=tol, rtol=tol)
    # the rows that see no key at all are exactly zero, gradient included
    empty = ~mask.any(-1).expand(2, 3, n_q)
    assert torch.equal(out[empty], torch.zeros_like(out[empty]))
    assert torch.equal(got[0][empty], torch.zeros_like(got[0][empty]))


@pytest.mark.interpreter
def test_agrees_with_sdpa_and_its_lower_right_causal_bias():
    from torch.nn.attention.bias import causal_lower_right

    dev = device.DEVICE
    q, k, v = _inputs(1, 6, 40, 32, torch.float32, dev, seed=3)
    want = F.scaled_dot_product_attention(q.cpu(), k.cpu(), v.cpu(),
                                          attn_mask=causal_lower_right(6, 40))
    torch.testing.assert_close(attention(q, k, v, causal=True).cpu(), want,
                               atol=2e-5, rtol=2e-5)
    lens = torch.tensor([29], device=dev)
    mask = attention_mask(6, 40, False, lens, device=dev)
    want = F.scaled_dot_product_attention(q.cpu(), k.cpu(), v.cpu(),
                                          attn_mask=mask.cpu())
    o, lse = attention_fwd(q, k, v, kv_lens=lens)
    torch.testing.assert_close(o.cpu(), want, atol=2e-5, rtol=2e-5)
    assert lse.shape == (1, 3, 6) and lse.dtype == torch.float32


def test_bad_input_is_refused_by_name():
    dev = device.DEVICE
    x = torch.zeros(1, 2, 8, 16, device=dev)
    with pytest.raises(TypeError, match="q: expected a floating dtype"):
        attention(x.long(), x, x)
    with pytest.raises(ValueError, match="k: expected \\(batch, heads, n_k, d\\)"):
        attention(x, torch.zeros(1, 3, 8, 16, device=dev), x)
    with pytest.raises(ValueError, match="v: expected the shape of k"):
        attention(x, x, torch.zeros(1, 2, 9, 16, device=dev))
    with pytest.raises(ValueError, match="k: expected dtype"):
        attention(x, x.half(), x.half())
    with pytest.raises(ValueError, match="d_head in"):
        attention(*(torch.zeros(1, 2, 8, 24, device=dev),) * 3)
    with pytest.raises(TypeError, match="causal"):
        attention(x, x, x, causal=1)
    with pytest.raises(ValueError, match="kv_lens: expected lengths"):
        attention(x, x, x, kv_lens=torch.tensor([9], device=dev))
    with pytest.raises(TypeError, match="kv_lens"):
        attention(x, x, x, kv_lens=torch.tensor([2.0], device=dev))
    with pytest.raises(ValueError, match="kv_lens: expected shape"):
        attention(x, x, x, kv_lens=torch.tensor([2, 3], device=dev))
    if device.HAS_GPU:
        with pytest.raises(ValueError, match="q: expected CUDA tensors"):
            attention(x.cpu(), x.cpu(), x.cpu())


@pytest.mark.gpu
@pytest.mark.skipif(not device.HAS_GPU or device.INTERPRETER, reason="needs a GPU")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_real_sizes_on_the_gpu(dtype):
    q, k, v = _inputs(2, 4097, 8192 + 77, 128, dtype, "cuda", seed=0)
    lens = torch.tensor([8192 + 77, 5000], device="cuda")
    mask = attention_mask(4097, 8192 + 77, True, lens, device="cuda")
    out = attention(q, k, v, causal=True, kv_lens=lens)
    ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(),
                                         attn_mask=mask)
    assert float((out.float() - ref).abs().max()) < 2e-2


@pytest.mark.interpreter
@pytest.mark.parametrize("flags", [{"SPLIT": False, "TMA": False, "REVERSE": True},
                                   {"SPLIT": True, "TMA": True, "REVERSE": False}])
@pytest.mark.parametrize(("n_q", "n_k", "causal", "lens"), CASES[:6])
def test_every_forward_variant_computes_the_same_function(flags, n_q, n_k, causal,
                                                          lens, monkeypatch):
    """The ablation switches (stage split, TMA loads, row order) change speed only.

    The interpreter cannot tell whether a GPU could take tensor descriptors, so the
    eligibility check is forced on; the descriptor loads then run in NumPy.
    """
    from effteach.kernels import attention as A

    dev = device.DEVICE
    monkeypatch.setattr(A, "_tma_ok", lambda *ts: True)
    monkeypatch.setattr(A, "_set_allocator", lambda: None)
    q, k, v = _inputs(2, n_q, n_k, 16, torch.float32, dev, seed=n_q + 7 * n_k)
    kv_lens = None if lens is None else torch.tensor(lens, device=dev)
    mask = attention_mask(n_q, n_k, causal, kv_lens, device=dev)
    want = _reference(q.double(), k.double(), v.double(), mask)
    o, lse = A._fwd(q, k, v, causal, None, kv_lens, flags=flags)
    torch.testing.assert_close(o.double(), want, atol=2e-5, rtol=2e-5)
    g = torch.randn(o.shape, generator=torch.Generator(device=dev).manual_seed(2),
                    device=dev)
    got = A._bwd(q, k, v, o, lse, g, causal, None, kv_lens,
                 flags={"SPLIT": flags["SPLIT"]})
    ref_in = [t.detach().double().requires_grad_() for t in (q, k, v)]
    want_g = torch.autograd.grad(_reference(*ref_in, mask), ref_in, g.double())
    for a, b in zip(got, want_g, strict=True):
        torch.testing.assert_close(a.double(), b, atol=2e-5, rtol=2e-5)
