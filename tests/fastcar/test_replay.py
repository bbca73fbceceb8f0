"""Replay decoding: exactness at tau = inf, TAS index arithmetic, real skipping."""

import math

import numpy as np
import pytest
import torch

from effteach import zoo
from effteach.fastcar import (
    calibrate_tau,
    load_trace,
    open_loop_ratio,
    replay_decode,
    save_trace,
    tas_ref,
)
from effteach.models.layers import apply_rope
from effteach.models.training import VIDEO_TEST_SEED, video_batch


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = zoo.load("tinyarvideo").eval()
    tokens = model.tokenize(video_batch(6, VIDEO_TEST_SEED).video)
    n = model.cfg.tokens_per_frame
    return model, tokens[:, : 2 * n], n


def test_tau_inf_reproduces_dense_generate_exactly(setup):
    model, prompt, n = setup
    dense = model.gpt.generate(prompt, 3 * n)
    res = replay_decode(model, prompt, 3 * n)
    assert torch.equal(res.tokens, dense)
    assert res.replay_ratio == 0.0 and not bool(res.replay.any())


def test_sampling_shares_noise(setup):
    model, prompt, n = setup
    a = replay_decode(model, prompt, n, temperature=1.0, seed=3)
    b = replay_decode(model, prompt, n, temperature=1.0, seed=3)
    c = replay_decode(model, prompt, n, temperature=1.0, seed=4)
    assert torch.equal(a.tokens, b.tokens) and not torch.equal(a.tokens, c.tokens)


@pytest.mark.parametrize("variant", ["paper", "code"])
def test_tas_matches_reference_on_first_layer(setup, variant):
    model, prompt, n = setup
    res = replay_decode(model, prompt, 2, variant=variant)
    seq = res.tokens  # prompt + 2 tokens; the first decode step feeds token n_prompt
    gpt = model.gpt
    attn = gpt.layers[0].self_attn
    x = gpt.layers[0].input_layernorm(gpt.embed_tokens(seq[:, :-1]))
    rope = (gpt.rope_cos[: x.shape[1]], gpt.rope_sin[: x.shape[1]])
    q_pre = attn._heads(attn.q_proj(x))
    k = apply_rope(attn._heads(attn.k_proj(x)), *rope)
    q = apply_rope(q_pre, *rope) if variant == "paper" else q_pre
    want = tas_ref(q[:, :, -1], k, n)
    torch.testing.assert_close(res.tas[0, 0], want, rtol=1e-5, atol=1e-5)


def test_tas_ref_reads_the_aligned_key():
    q = torch.zeros(1, 2, 4)
    q[..., 0] = 1.0
    k = torch.zeros(1, 2, 10, 4)
    k[:, :, 10 - 1 - 3, 0] = 4.0  # the key 3 positions before the current one
    assert float(tas_ref(q, k, 3)) == pytest.approx(4.0 / 2.0)
    assert float(tas_ref(q, k, 2)) == 0.0


def test_replay_ratio_monotone_in_tau(setup):
    model, prompt, n = setup
    dense = replay_decode(model, prompt, 3 * n)
    taus = [math.inf, 1.0, 0.0, -1.0, -2.0, -math.inf]
    open_loop = [open_loop_ratio(dense.tas, t) for t in taus]
    assert open_loop == sorted(open_loop)
    closed = [replay_decode(model, prompt, 3 * n, tau=t).replay_ratio for t in taus]
    assert closed == sorted(closed)
    assert closed[0] == 0.0 and closed[-1] == 1.0


def test_one_step_replay_never_replays_a_slot_twice_in_a_row(setup):
    model, prompt, n = setup
    res = replay_decode(model, prompt, 4 * n, tau=-math.inf, max_chain=1)
    rep = res.replay.numpy()
    assert not (rep[n:] & rep[:-n]).any()
    assert 0.4 < res.replay_ratio < 0.6


def test_gather_runs_only_the_computed_rows(setup):
    model, prompt, n = setup
    seen = []
    layer = model.gpt.layers[1]
    hook = layer.mlp.register_forward_hook(
        lambda m, i, o: seen.append(i[0].shape[0]))
    try:
        res = replay_decode(model, prompt, n, tau=-1.0, mlp_mode="gather")
        computed = (~res.replay[:, 1]).sum(-1).tolist()
        assert seen[1:] == [c for c in computed if c > 0]  # [0] is the prefill
        seen.clear()
        replay_decode(model, prompt, n, tau=-1.0, mlp_mode="masked")
        assert all(s == prompt.shape[0] for s in seen[1:])
    finally:
        hook.remove()


def test_gather_and_masked_agree(setup):
    model, prompt, n = setup
    a = replay_decode(model, prompt, n, tau=-1.0, mlp_mode="gather", force=None)
    b = replay_decode(model, prompt, n, tau=-1.0, mlp_mode="masked")
    torch.testing.assert_close(a.logits, b.logits, rtol=1e-4, atol=1e-4)


def test_calibration_hits_target(setup):
    model, prompt, n = setup
    dense = replay_decode(model, prompt, 3 * n)
    for target in (0.2, 0.5, 0.8):
        for per_layer in (False, True):
            taus = calibrate_tau(dense.tas, target, per_layer=per_layer)
            groups = ([dense.tas[:, li].flatten() for li in range(3)] if per_layer
                      else [dense.tas.flatten()])
            for li, (vals, tau) in enumerate(zip(groups, taus, strict=False)):
                # no recorded value as threshold gets closer to the target ...
                shares = [float((vals >= u).float().mean()) for u in vals.unique()]
                got = float((vals >= tau).float().mean())
                assert abs(got - target) <= min(abs(s - target) for s in shares) + 1e-9
                # ... and that is within half the largest group of tied scores
                ties = int(torch.unique(vals, return_counts=True)[1].max())
                bound = max(0.02, ties / vals.numel() / 2)
                assert abs(got - target) <= bound, (li, got)
            assert abs(open_loop_ratio(dense.tas, taus) - target) < 0.05
    assert calibrate_tau(dense.tas, 0.0) == [math.inf] * 3


def test_trace_round_trip(setup, tmp_path):
    model, prompt, n = setup
    res = replay_decode(model, prompt, n, tau=-1.0)
    path = save_trace(tmp_path / "t.npz", res)
    tr = load_trace(path)
    assert np.array_equal(tr["replay"], res.replay.numpy())
    assert int(tr["tokens_per_frame"]) == n


def test_streaming_window_changes_attention_only_when_short(setup):
    model, prompt, n = setup
    full = replay_decode(model, prompt, n)
    wide = replay_decode(model, prompt, n, window=10_000)
    assert torch.equal(full.tokens, wide.tokens)
    narrow = replay_decode(model, prompt, n, window=4, sink=1)
    assert not torch.allclose(full.logits, narrow.logits)


@pytest.mark.parametrize("kwargs, match", [
    ({"variant": "pre"}, "variant"),
    ({"tau": [0.0, 1.0]}, "tau"),
    ({"mlp_mode": "mask"}, "mlp_mode"),
    ({"max_chain": 0}, "max_chain"),
    ({"n_new": 10_000}, "n_new"),
    ({"window": 0}, "window"),
])
def test_bad_input_names_the_argument(setup, kwargs, match):
    model, prompt, n = setup
    args = {"n_new": 4, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        replay_decode(model, prompt, **args)
    with pytest.raises(ValueError, match="prompt"):
        replay_decode(model, prompt[:, : n - 1], 4)
