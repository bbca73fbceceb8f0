import pytest
import torch

from effteach import device
from effteach.foundations import softmax_ref
from effteach.kernels.foundations import softmax_fwd
from effteach.testing import assert_close, randn


@pytest.mark.interpreter
@pytest.mark.parametrize("n_rows, n_cols", [(1, 1), (7, 5), (16, 64), (3, 129)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_softmax_fwd_matches_ref(n_rows, n_cols, dtype):
    x = randn((n_rows, n_cols), dtype=dtype, device=device.DEVICE, seed=n_cols) * 6
    assert_close(softmax_fwd(x), softmax_ref(x.float()), dtype=dtype)


@pytest.mark.interpreter
def test_softmax_fwd_is_stable_for_large_logits():
    # exp(100) overflows fp16 and fp32 is close; the max shift must make it finite
    x = torch.tensor([[100.0, 99.0, -50.0]], device=device.DEVICE)
    out = softmax_fwd(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, torch.softmax(x, -1))


@pytest.mark.interpreter
def test_softmax_fwd_handles_strided_and_batched_input():
    x = randn((2, 3, 10), seed=1).to(device.DEVICE)
    xt = x.transpose(0, 1)  # non-contiguous
    torch.testing.assert_close(softmax_fwd(xt), torch.softmax(xt, -1))


def test_softmax_fwd_rejects_bad_input():
    with pytest.raises(TypeError, match="x: expected a torch.Tensor"):
        softmax_fwd([1.0, 2.0])
    with pytest.raises(ValueError, match="x: expected a non-empty"):
        softmax_fwd(torch.empty(0, 4))
    with pytest.raises(ValueError, match="n_cols <= 65536"):
        softmax_fwd(torch.empty(1, 70000, device=device.DEVICE))
    if device.INTERPRETER:
        with pytest.raises(TypeError, match="x: dtype bfloat16 is not supported"):
            softmax_fwd(torch.ones(2, 2, dtype=torch.bfloat16))
    with pytest.raises(TypeError, match="x: dtype int64"):
        softmax_fwd(torch.ones(2, 2, dtype=torch.int64))


@pytest.mark.gpu
@pytest.mark.parametrize("n_cols", [1, 1000, 4096, 32768, 65536])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_softmax_fwd_matches_ref_on_gpu(n_cols, dtype):
    x = randn((1024, n_cols), dtype=dtype, device="cuda", seed=0) * 8
    assert_close(softmax_fwd(x), torch.softmax(x.float(), -1), dtype=dtype)
