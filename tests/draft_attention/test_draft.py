"""Draft pooling, block selection, permutation and the masked pipeline (CPU)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import effteach.draft_attention as da
from effteach.draft_attention.reference import (
    output_error_bound,
    permutation_ref,
    pool_ref,
    select_ref,
)


def _qkv(n, h=2, d=8, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(1, h, n, d, generator=g, dtype=dtype) for _ in range(3))


@settings(max_examples=60, deadline=None)
@given(f=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7),
       ph=st.integers(1, 4), pw=st.integers(1, 4))
def test_permutation_round_trips_on_ragged_frames(f, h, w, ph, pw):
    perm, inv = da.window_permutation(f, h, w, (ph, pw))
    n = f * h * w
    x = torch.randn(n, 3)
    assert torch.equal(x[perm][inv], x)  # exact, any frame size
    assert torch.equal(x[inv][perm], x)
    assert sorted(perm.tolist()) == list(range(n))
    ref_perm, ref_inv = permutation_ref(f, h, w, (ph, pw))
    assert perm.tolist() == ref_perm and inv.tolist() == ref_inv
    # after the permutation, each window is one contiguous run of its ids
    ids = da.window_ids(f, h, w, (ph, pw))[perm]
    assert bool((ids[1:] >= ids[:-1]).all())
    assert da.n_windows(f, h, w, (ph, pw)) == int(ids[-1]) + 1


@settings(max_examples=30, deadline=None)
@given(f=st.integers(1, 3), h=st.integers(1, 6), w=st.integers(1, 6),
       ph=st.integers(1, 3), pw=st.integers(1, 3))
def test_pooling_matches_loops_on_ragged_frames(f, h, w, ph, pw):
    (q, _, _) = _qkv(f * h * w)
    got = da.pool_draft(q, f, h, w, (ph, pw))
    torch.testing.assert_close(got, pool_ref(q, f, h, w, (ph, pw)), rtol=1e-12,
                               atol=1e-12)


def test_pooled_logits_are_block_means_of_full_logits():
    # bilinearity: <mean q, mean k> = mean of <q_u, k_v> over the block pair
    f, h, w, win = 2, 4, 6, (2, 3)
    q, k, _ = _qkv(f * h * w)
    ids = da.window_ids(f, h, w, win)
    s = q[0, 0] @ k[0, 0].T
    qd, kd = (da.pool_draft(t, f, h, w, win)[0, 0] for t in (q, k))
    sd = qd @ kd.T
    m = int(ids.max()) + 1
    for i in range(m):
        for j in range(m):
            block = s[ids == i][:, ids == j]
            assert abs(float(block.mean()) - float(sd[i, j])) < 1e-12


@pytest.mark.parametrize("mode", ["head", "row"])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9])
def test_select_blocks_matches_sorting(mode, sparsity):
    g = torch.Generator().manual_seed(1)
    dmap = torch.softmax(torch.randn(2, 3, 9, 9, generator=g, dtype=torch.float64), -1)
    got = da.select_blocks(dmap, sparsity, mode)
    assert torch.equal(got, select_ref(dmap, sparsity, mode))
    assert bool(got.any(-1).all())  # every query row keeps a block
    if mode == "head":
        kept = got.flatten(2).sum(-1)
        assert int(kept.min()) >= math.ceil((1 - sparsity) * 81)


def test_baselines_match_the_kept_count():
    g = torch.Generator().manual_seed(2)
    dmap = torch.softmax(torch.randn(1, 2, 8, 8, generator=g), -1)
    bm = da.select_blocks(dmap, 0.75)
    for kind in ("random", "window"):
        other = da.baseline_blocks((1, 2, 8), bm, kind, seed=3)
        assert torch.equal(other.flatten(2).sum(-1), bm.flatten(2).sum(-1))
    win = da.baseline_blocks((1, 2, 8), bm, "window")
    i = torch.arange(8)
    near = (i[:, None] - i[None, :]).abs()
    # the window mask keeps the blocks nearest the diagonal first
    assert int(near[win[0, 0]].max()) <= int(near[~win[0, 0]].min()) + 0


def test_draft_attention_equals_block_sparse_loops_after_permutation():
    from effteach.draft_attention.reference import block_sparse_ref

    f, h, w, win = 2, 4, 4, (2, 2)
    q, k, v = _qkv(f * h * w, d=16)
    out, bm = da.draft_attention(q, k, v, f, h, w, 0.6, win, return_mask=True)
    perm, inv = da.window_permutation(f, h, w, win)
    ref = block_sparse_ref(q[:, :, perm], k[:, :, perm], v[:, :, perm], bm, 4)
    torch.testing.assert_close(out, ref[:, :, inv], rtol=1e-10, atol=1e-12)


def test_sparsity_zero_is_dense_attention():
    q, k, v = _qkv(32, d=16)
    out = da.draft_attention(q, k, v, 2, 4, 4, 0.0, (2, 2))
    dense = torch.softmax(q @ k.transpose(-1, -2) / 4, -1) @ v
    torch.testing.assert_close(out, dense, rtol=1e-10, atol=1e-12)


def test_output_error_bound_holds_and_is_tight_enough():
    g = torch.Generator().manual_seed(5)
    worst = 0.0
    for _ in range(200):
        p = torch.softmax(torch.randn(6, 20, generator=g, dtype=torch.float64) * 3, -1)
        keep = torch.rand(6, 20, generator=g) < 0.4
        keep[torch.arange(6), p.argmax(-1)] = True
        v = torch.randn(20, 5, generator=g, dtype=torch.float64)
        err, bound = output_error_bound(p, keep, v)
        assert bool((err <= bound + 1e-12).all())
        worst = max(worst, float((err / bound).max()))
    assert worst > 0.2  # not vacuous: some rows come within 5x of the bound


def test_bad_inputs_name_the_argument():
    q, k, v = _qkv(32, d=16)
    for s in (-0.1, 1.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="sparsity"):
            da.draft_attention(q, k, v, 2, 4, 4, s, (2, 2))
        with pytest.raises(ValueError, match="sparsity"):
            da.DraftConfig(sparsity=s)
    with pytest.raises(ValueError, match="heads"):
        da.draft_attention(q, k[:, :1], v, 2, 4, 4, 0.5, (2, 2))
    with pytest.raises(ValueError, match="tokens"):
        da.draft_attention(q, k, v, 2, 4, 5, 0.5, (2, 2))
    q16, k16, v16 = _qkv(2 * 4 * 8, d=16, dtype=torch.float32)
    with pytest.raises(ValueError, match="block"):  # 16 does not divide 2*4 = 8
        da.sparse_pipeline(q16, k16, v16, 2, 4, 8, 0.5, (2, 4), block=16)
    with pytest.raises(ValueError, match="block"):  # 24 does not divide 32
        da.sparse_pipeline(q16, k16, v16, 2, 4, 8, 0.5, (4, 8), block=24)
    with pytest.raises(ValueError, match="window"):  # 3 does not tile 4 rows
        da.sparse_pipeline(q16, k16, v16, 2, 4, 8, 0.5, (3, 8))
    with pytest.raises(ValueError, match="mode"):
        da.select_blocks(torch.rand(1, 1, 4, 4), 0.5, "column")
