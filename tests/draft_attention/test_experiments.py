"""DraftAttention inside TinyVideoDiT sampling, and the committed quality sweep."""

from __future__ import annotations

import pytest
import torch

import effteach.draft_attention as da
from effteach import zoo
from effteach.models.training import video_batch


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return zoo.load("tinyvideodit")


@pytest.fixture(scope="module")
def clips():
    return video_batch(2, seed=3)


def test_zero_sparsity_and_full_warmup_equal_dense(model, clips):
    dense = da.draft_rollout(model, clips, None, seed=1, n_steps=3)
    zero = da.draft_rollout(model, clips, da.DraftConfig(0.0), seed=1, n_steps=3)
    warm = da.draft_rollout(model, clips, da.DraftConfig(0.9, dense_steps=3), 1, 3)
    layers = da.draft_rollout(model, clips, da.DraftConfig(0.9, dense_layers=4), 1, 3)
    for other in (zero, warm, layers):
        assert float((other - dense).abs().max()) < 1e-5
    assert all(b.attn.attn_fn is None for b in model.blocks)  # restored


def test_sparse_rollout_records_its_calls(model, clips):
    calls: list = []
    dense = da.draft_rollout(model, clips, None, seed=1, n_steps=3)
    out = da.draft_rollout(model, clips, da.DraftConfig(0.75, dense_layers=1), 1, 3,
                           calls)
    assert len(calls) == 3 * 3  # 3 steps x 3 sparse layers
    assert {c["layer"] for c in calls} == {1, 2, 3}
    assert all(0.25 <= c["density"] < 0.3 for c in calls)  # 256 of 1024 + argmaxes
    assert all(0 < c["dropped_mass"] < 1 and c["rel_err"] > 0 for c in calls)
    assert float((out - dense).abs().max()) > 1e-4  # the mask does something
    # same noise: the context frames are the given ones in both
    assert torch.equal(out[:, :2], dense[:, :2])


def test_committed_sweep_has_every_configuration():
    res = da.load_results()
    recs = res["no_warmup"]["records"]
    assert {(r["kind"], r["sparsity"]) for r in recs} == {
        (k, s) for k in da.MASK_KINDS for s in (0.5, 0.75, 0.9)}
    for r in recs:  # the baselines keep as many blocks as the draft mask
        d = next(x for x in recs if x["kind"] == "draft"
                 and x["sparsity"] == r["sparsity"])
        assert abs(r["density"] - d["density"]) < 1e-3  # same count per call


def test_bad_rollout_arguments(model, clips):
    with pytest.raises(TypeError, match="config"):
        da.draft_rollout(model, clips, {"sparsity": 0.5})
    with pytest.raises(TypeError, match="model"):
        da.draft_rollout(None, clips)
    with pytest.raises(TypeError, match="clips"):
        da.draft_rollout(model, torch.zeros(3))
    with pytest.raises(ValueError, match="kinds"):
        da.quality_sweep(kinds=("draft", "diagonal"))
