import pytest
import torch
import torch.nn.functional as F

from effteach import device
from effteach.kernels.pebble_io import flash_attn, model_bytes


def _check(b, h, n, d, causal, dtype, dev, tol):
    g = torch.Generator(device=dev).manual_seed(n * 7 + d)
    q, k, v = (
        torch.randn(b, h, n, d, generator=g, device=dev).to(dtype).requires_grad_()
        for _ in range(3)
    )
    do = torch.randn(b, h, n, d, generator=g, device=dev).to(dtype)
    o = flash_attn(q, k, v, causal)
    o.backward(do)
    ref = [t.detach().float().requires_grad_() for t in (q, k, v)]
    o_ref = F.scaled_dot_product_attention(*ref, is_causal=causal)
    o_ref.backward(do.float())
    for got, want in ((o, o_ref), (q.grad, ref[0].grad), (k.grad, ref[1].grad),
                      (v.grad, ref[2].grad)):
        torch.testing.assert_close(got.float(), want.detach(), atol=tol, rtol=tol)


@pytest.mark.interpreter
@pytest.mark.parametrize("n", [1, 5, 16, 37])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_flash_attn_matches_sdpa_and_autograd(n, causal, dtype):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tol = 1e-5 if dtype == torch.float32 else 5e-3
        _check(1, 2, n, 16, causal, dtype, device.DEVICE, tol)
    finally:
        torch.set_num_threads(before)


def test_flash_attn_rejects_bad_input():
    x = torch.zeros(1, 1, 4, 16)
    with pytest.raises(ValueError, match="q: expected shape"):
        flash_attn(torch.zeros(4, 16), x, x)
    with pytest.raises(ValueError, match="k, v: expected the shape of q"):
        flash_attn(x, torch.zeros(1, 1, 5, 16), x)
    with pytest.raises(ValueError, match="d_head in"):
        flash_attn(*(torch.zeros(1, 1, 4, 24),) * 3)
    with pytest.raises(TypeError, match="q: dtype int64"):
        flash_attn(*(torch.zeros(1, 1, 4, 16, dtype=torch.int64),) * 3)


def test_model_bytes_counts_each_tile_visit():
    # one block covers everything: Q, K, V, O once, plus the fp32 lse
    assert model_bytes(64, 16, 2, block_m=64, block_n=64) == 4 * 64 * 16 * 2 + 64 * 4
    # causal visits about half the key blocks of the dense schedule
    dense = model_bytes(4096, 64, 2)
    causal = model_bytes(4096, 64, 2, causal=True)
    assert 0.5 < causal / dense < 0.6


@pytest.mark.gpu
@pytest.mark.parametrize("n", [1000, 4096, 16384])
@pytest.mark.parametrize("d", [64, 128])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_flash_attn_matches_sdpa_on_gpu(n, d, causal, dtype):
    _check(1, 4, n, d, causal, dtype, "cuda", 3e-2 if dtype == torch.bfloat16 else 5e-3)
