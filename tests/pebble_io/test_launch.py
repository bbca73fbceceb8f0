"""The kernels' launcher: Triton's own binding once, then the compiled kernel."""

import pytest
import torch

from effteach import device
from effteach.kernels import attention as A
from effteach.kernels.launch import Launcher


def test_tail_binds_constexprs_and_defaults_in_signature_order():
    launch = Launcher(A._fwd_kernel)
    n_args = A._fwd_kernel.arg_names.index("CAUSAL")
    meta = {"CAUSAL": True, "HAS_LENS": False, "D": 64, "BLOCK_M": 64, "BLOCK_N": 32,
            "TMA": True, "num_warps": 4, "num_stages": 2}
    # SPLIT and REVERSE are left out: their defaults (True, False) fill in
    assert launch._tail(n_args, meta) == [True, False, 64, 64, 32, True, True, False]
    with pytest.raises(KeyError):
        launch._tail(n_args, {"CAUSAL": True})  # D has no default


def test_an_empty_hook_chain_is_no_hook(monkeypatch):
    from triton import knobs

    from effteach.kernels import launch

    class Chain:  # Triton 3.6's HookChain: never None, empty unless a hook is added
        calls: list = []

    monkeypatch.setattr(knobs.runtime, "launch_enter_hook", Chain())
    assert not launch._hooked()
    Chain.calls = [print]
    assert launch._hooked()
    monkeypatch.setattr(knobs.runtime, "launch_enter_hook", None)
    assert not launch._hooked()


def test_key_holds_what_triton_specialises_on():
    launch = Launcher(A._fwd_kernel)
    buf = torch.zeros(64, dtype=torch.float16)
    aligned, shifted = buf[:32], buf[1:33]  # 2-byte offset: not 16-byte aligned
    meta = {"D": 16, "num_warps": 4}
    key = launch._key((aligned, 7, 0.5), meta, 0)
    assert key == launch._key((aligned.clone(), 7, 0.25), dict(reversed(meta.items())),
                              0)  # floats are fp32 whatever their value
    assert key != launch._key((shifted, 7, 0.5), meta, 0)
    assert key != launch._key((aligned.float(), 7, 0.5), meta, 0)
    assert key != launch._key((aligned, 16, 0.5), meta, 0)
    assert key != launch._key((aligned, 7, 0.5), {"D": 16, "num_warps": 8}, 0)
    assert key != launch._key((aligned, 7, 0.5), meta, 1)


@pytest.mark.gpu
@pytest.mark.skipif(not device.HAS_GPU or device.INTERPRETER, reason="needs a GPU")
@pytest.mark.parametrize("offset", [0, 1])
def test_cached_launch_gives_triton_own_result(offset, monkeypatch):
    """The second call (cached kernel) equals a call through ``fn[grid]``, bit for bit,
    with the inputs 16-byte aligned and not (a separate compiled kernel)."""
    from effteach.kernels import launch

    gen = torch.Generator(device="cuda").manual_seed(offset)
    n, d = 1000, 64
    q, k, v = torch.randn(3, 1, 2, n, d, generator=gen, device="cuda").to(
        torch.bfloat16).unbind(0)
    if offset:  # a view that starts 2 bytes past an aligned address
        raw = torch.empty(q.numel() + 1, dtype=q.dtype, device="cuda")
        raw[1:].copy_(q.reshape(-1))
        q = raw[1:].view(q.shape)
    monkeypatch.setattr(launch, "DIRECT", False)
    ref = A.attention(q, k, v, causal=True)  # through fn[grid]
    monkeypatch.setattr(launch, "DIRECT", True)
    first = A.attention(q, k, v, causal=True)  # compiles or finds, and caches
    again = A.attention(q, k, v, causal=True)  # the cached kernel
    assert torch.equal(first, ref) and torch.equal(again, ref)


def test_the_quick_argument_check_accepts_only_what_the_full_one_accepts():
    """Every call the shortcut passes, the full check passes too (over good and bad
    calls alike), and the shortcut does pass the plain call."""
    dev = device.DEVICE

    def t(*shape, dtype=torch.float32, on=dev):
        return torch.zeros(shape, dtype=dtype, device=on)

    good = t(1, 2, 8, 16)
    tried = [
        (good, good, good, False, None, None),
        (good, t(1, 2, 5, 16), t(1, 2, 5, 16), True, None, None),
        (good, good, good, 1, None, None),
        (good, good, good, False, 0.5, None),
        (good, good, t(1, 2, 8, 16, dtype=torch.float64), False, None, None),
        (t(1, 2, 8, 16, dtype=torch.int32), good, good, False, None, None),
        (t(1, 2, 8, 24), t(1, 2, 8, 24), t(1, 2, 8, 24), False, None, None),
        (good, t(1, 3, 8, 16), t(1, 3, 8, 16), False, None, None),
        (good, t(2, 2, 8, 16), t(2, 2, 8, 16), False, None, None),
        (good, good, t(1, 2, 7, 16), False, None, None),
        (good, t(1, 2, 0, 16), t(1, 2, 0, 16), False, None, None),
        (t(1, 2, 0, 16), good, good, False, None, None),
        (t(2, 8, 16), good, good, False, None, None),
        (good, good, good.numpy(), False, None, None),
        (torch.nn.Parameter(good), good, good, False, None, None),
    ]
    if device.HAS_GPU:
        tried.append((good, good, good.cpu(), False, None, None))
    passed = 0
    for args in tried:
        if A._plainly_ok(*args):
            passed += 1
            A._check_fully(*args)  # must not raise
    assert A._plainly_ok(*tried[0]) and A._plainly_ok(*tried[1]) and passed == 2
