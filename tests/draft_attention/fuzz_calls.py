"""Example calls of the draft_attention API for the bad-input fuzz harness."""

from __future__ import annotations

import functools

import torch
from fuzz_support import Call

P = "effteach.draft_attention."
K = "effteach.kernels.draft_attention."


def C(fn, *args, **kwargs):
    """A valid call ``fn(*args, **kwargs)``."""
    return Call(fn, args, kwargs)


def _qkv(n=16, d=16):
    g = torch.Generator().manual_seed(0)
    return tuple(torch.randn(1, 2, n, d, generator=g) for _ in range(3))


def _bm(m=4):
    bm = torch.eye(m, dtype=torch.bool).expand(1, 2, m, m).clone()
    return bm


@functools.cache
def _model():
    from effteach import zoo

    return zoo.load("tinyvideodit")


@functools.cache
def _clips():
    from effteach.models.training import video_batch

    return video_batch(1, seed=0)


def calls() -> dict:
    """``"module.name" -> () -> Call`` for every public callable of the chapter."""
    import effteach.draft_attention as da
    from effteach.kernels import draft_attention as kd

    q, k, v = _qkv()
    qd = q[:, :, :4]
    return {
        P + "DraftConfig": lambda: C(da.DraftConfig, 0.5, (2, 2)),
        P + "check_sparsity": lambda: C(da.check_sparsity, 0.5),
        P + "window_ids": lambda: C(da.window_ids, 1, 4, 4, (2, 2)),
        P + "n_windows": lambda: C(da.n_windows, 1, 4, 4, (2, 2)),
        P + "window_permutation": lambda: C(da.window_permutation, 1, 4, 4, (2, 2)),
        P + "pool_draft": lambda: C(da.pool_draft, q, 1, 4, 4, (2, 2)),
        P + "draft_map": lambda: C(da.draft_map, qd, qd),
        P + "select_blocks": lambda: C(da.select_blocks,
                                       torch.rand(1, 2, 4, 4), 0.5),
        P + "baseline_blocks": lambda: C(da.baseline_blocks, (1, 2, 4), _bm(),
                                         "random"),
        P + "token_mask": lambda: C(da.token_mask, _bm(),
                                    torch.arange(16) // 4),
        P + "masked_attention": lambda: C(
            da.masked_attention, q, k, v,
            torch.ones(1, 2, 16, 16, dtype=torch.bool)),
        P + "draft_attention": lambda: C(da.draft_attention, q, k, v, 1, 4, 4,
                                         0.5, (2, 2)),
        P + "kv_block_lists": lambda: C(da.kv_block_lists, _bm()),
        P + "sparse_pipeline": lambda: C(da.sparse_pipeline, q, k, v, 1, 4, 4, 0.5,
                                         (4, 4), block=16,
                                         config=(16, 16, 1, 1)),
        K + "block_sparse_attn": lambda: C(
            kd.block_sparse_attn, q, k, v, *da.kv_block_lists(_bm(1)), 16,
            (16, 16, 1, 1)),
        P + "attention_fn": lambda: C(da.attention_fn, da.DraftConfig(0.5), 0, {},
                                      (2, 4, 4)),
        P + "draft_rollout": lambda: C(da.draft_rollout, _model(), _clips(),
                                       da.DraftConfig(0.5), 0, 1),
        P + "load_results": lambda: C(da.load_results),
        K + "gather_rows": lambda: C(kd.gather_rows, q, torch.arange(16)),
        K + "scatter_rows": lambda: C(kd.scatter_rows, q, torch.arange(16)),
    }




OPT_OUT = {
    P + "quality_sweep": "the whole experiment (30 s); its parts are fuzzed "
    "through draft_rollout and attention_fn",
}
