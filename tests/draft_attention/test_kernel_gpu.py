"""The block-sparse kernel and the pipeline on a GPU (fp16, bf16; ragged n)."""

from __future__ import annotations

import math

import pytest
import torch

import effteach.draft_attention as da


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("n", [4096 + 77, 4096])
def test_kernel_matches_masked_reference_on_gpu(dtype, n):
    from effteach.kernels.draft_attention import block_sparse_attn

    g = torch.Generator(device="cuda").manual_seed(n)
    q, k, v = (torch.randn(1, 4, n, 128, device="cuda", dtype=dtype, generator=g)
               for _ in range(3))
    m = math.ceil(n / 128)
    bm = torch.rand(1, 4, m, m, device="cuda", generator=g) < 0.3
    bm[..., 0] = True
    out = block_sparse_attn(q, k, v, *da.kv_block_lists(bm), 128)
    ids = torch.arange(n, device="cuda") // 128
    ref = da.masked_attention(q.float(), k.float(), v.float(), da.token_mask(bm, ids))
    tol = 2e-2 if dtype == torch.bfloat16 else 5e-3
    assert float((out.float() - ref).abs().max()) < tol


@pytest.mark.gpu
def test_pipeline_matches_draft_attention_on_gpu():
    g = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (torch.randn(1, 2, 4 * 16 * 32, 64, device="cuda",
                           dtype=torch.float16, generator=g) for _ in range(3))
    out = da.sparse_pipeline(q, k, v, 4, 16, 32, 0.75, (8, 16))
    ref = da.draft_attention(q.float(), k.float(), v.float(), 4, 16, 32, 0.75, (8, 16))
    assert float((out.float() - ref).abs().max()) < 5e-3
