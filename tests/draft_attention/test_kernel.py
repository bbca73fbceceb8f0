"""The Triton kernels in the interpreter: block-sparse forward, gather and scatter."""

from __future__ import annotations

import math

import pytest
import torch

import effteach  # noqa: F401  (TRITON_INTERPRET before the kernel import)
import effteach.draft_attention as da
from effteach.device import HAS_GPU
from effteach.draft_attention.reference import block_sparse_ref
from effteach.kernels.draft_attention import (
    block_sparse_attn,
    gather_rows,
    scatter_rows,
)

pytestmark = pytest.mark.skipif(HAS_GPU, reason="interpreter tests (CPU only)")


def _inputs(n, d, dtype, seed=0, h=2):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(1, h, n, d, generator=g).to(dtype) for _ in range(3))


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float32, 1e-5),
                                            (torch.float16, 2e-3)])
@pytest.mark.parametrize("n", [77, 64])
def test_kernel_matches_dense_reference_on_the_same_mask(dtype, tol, n):
    block = 16
    q, k, v = _inputs(n, 16, dtype)
    m = math.ceil(n / block)
    g = torch.Generator().manual_seed(n)
    bm = torch.rand(1, 2, m, m, generator=g) < 0.5
    bm[0, 1, 2] = False  # one query block keeps nothing: zeros
    idx, cnt = da.kv_block_lists(bm)
    out = block_sparse_attn(q, k, v, idx, cnt, block, (16, 16, 1, 1))
    ref = block_sparse_ref(q, k, v, bm, block)
    assert out.dtype == dtype
    err = float((out.double() - ref).abs().max())
    assert err < tol, err
    assert float(out[0, 1, 32:48].abs().max()) == 0.0
    # and the masked dense reference of the library agrees
    ids = torch.arange(n) // block
    dense = da.masked_attention(q.float(), k.float(), v.float(), da.token_mask(bm, ids))
    assert float((out.float() - dense).abs().max()) < tol


def test_kernel_sub_tiles_of_a_larger_block():
    # block 32 streamed as two 16-key tiles: the same answer
    q, k, v = _inputs(80, 16, torch.float32, seed=3)
    bm = torch.rand(1, 2, 3, 3, generator=torch.Generator().manual_seed(1)) < 0.6
    bm[..., 0] = True
    idx, cnt = da.kv_block_lists(bm)
    out = block_sparse_attn(q, k, v, idx, cnt, 32, (16, 16, 1, 1))
    assert float((out.double() - block_sparse_ref(q, k, v, bm, 32)).abs().max()) < 1e-5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_gather_scatter_round_trip_exactly(dtype):
    x = _inputs(83, 16, dtype)[0]
    perm = torch.randperm(83, generator=torch.Generator().manual_seed(0))
    y = gather_rows(x, perm)
    assert torch.equal(y, x[:, :, perm])
    assert torch.equal(scatter_rows(y, perm), x)


def test_pipeline_equals_the_masked_reference():
    f, h, w, win = 2, 4, 8, (4, 4)
    q, k, v = _inputs(f * h * w, 16, torch.float32, seed=7)
    parts: dict = {}
    out = da.sparse_pipeline(q, k, v, f, h, w, 0.5, win, block=16,
                             config=(16, 16, 1, 1), parts=parts)
    ref = da.draft_attention(q, k, v, f, h, w, 0.5, win)
    assert float((out - ref).abs().max()) < 1e-5
    _, bm = da.draft_attention(q, k, v, f, h, w, 0.5, win, return_mask=True)
    assert torch.equal(parts["block_mask"], bm)


def test_bad_permutations_and_block_lists_are_refused_before_launch():
    x = _inputs(16, 16, torch.float32)[0]
    with pytest.raises(ValueError, match="perm"):
        gather_rows(x, torch.arange(16) + 1)  # out of range: would read past x
    with pytest.raises(ValueError, match="perm"):
        scatter_rows(x, torch.zeros(16, dtype=torch.long))  # repeats
    idx, cnt = da.kv_block_lists(torch.ones(1, 2, 1, 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="idx"):
        block_sparse_attn(x, x, x, idx + 5, cnt, 16, (16, 16, 1, 1))
    with pytest.raises(ValueError, match="config"):
        block_sparse_attn(x, x, x, idx, cnt, 16, (32, 16, 1, 1))


def test_block_lists_are_checked_once_and_again_after_an_inplace_change(monkeypatch):
    """The value check (a device-to-host copy) runs once per pair of list tensors.

    Lists built by ``kv_block_lists`` are in range by construction and are never
    checked; any in-place change to either tensor brings the check back.
    """
    x = _inputs(32, 16, torch.float32)[0]
    calls = []
    real = torch.aminmax

    def counting(t):
        calls.append(t.numel())
        return real(t)

    monkeypatch.setattr(torch, "aminmax", counting)
    idx, cnt = da.kv_block_lists(torch.ones(1, 2, 2, 2, dtype=torch.bool))
    want = block_sparse_attn(x, x, x, idx, cnt, 16, (16, 16, 1, 1))
    assert calls == []  # built valid: no check
    mine_idx, mine_cnt = idx.clone(), cnt.clone()  # the user's own tensors
    torch.testing.assert_close(
        block_sparse_attn(x, x, x, mine_idx, mine_cnt, 16, (16, 16, 1, 1)), want)
    assert len(calls) == 2  # checked (counts and indices, one copy to the host)
    block_sparse_attn(x, x, x, mine_idx, mine_cnt, 16, (16, 16, 1, 1))
    assert len(calls) == 2  # remembered
    for t in (idx, mine_idx):  # a change in place voids what was known
        t[0, 0, 0, 0] = 7
        with pytest.raises(ValueError, match=r"idx: expected key-block indices"):
            block_sparse_attn(x, x, x, t, cnt if t is idx else mine_cnt, 16,
                              (16, 16, 1, 1))
    mine_cnt[0, 0, 0] = 9
    mine_idx[0, 0, 0, 0] = 0
    with pytest.raises(ValueError, match="cnt: expected counts"):
        block_sparse_attn(x, x, x, mine_idx, mine_cnt, 16, (16, 16, 1, 1))


@pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")
def test_bench_smoke_in_the_interpreter():
    import importlib

    import effteach.draft_attention.bench as bench

    bench = importlib.reload(bench)  # fresh module constants
    try:
        bench.smoke_setup()
        records, method = bench.run(quick=True)
    finally:
        importlib.reload(bench)
    assert all(c["ok"] for c in method["correctness"])
    rec = records[0]
    for key in ("flex_vs_triton_err_0.5", "flex_vs_triton_err_0.9",
                "pipeline_err_0.9"):
        assert rec["notes"][key] < 1e-4, (key, rec["notes"])
    assert {"speedup_vs_allblocks_0.9", "overhead_share_0.9",
            "pipeline_vs_cudnn_0.9"} <= set(rec)
