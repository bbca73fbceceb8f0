"""Calibration, scores, selection and physical removal on TinyGPTs.

A tiny random TinyGPT covers the shapes and the error paths; the zoo's trained one
covers the real sizes (slicing = masking, save/load/generate, parameter counts).
"""

from __future__ import annotations

import copy

import pytest
import torch

from effteach import zoo
from effteach.models import GPTConfig, TinyGPT
from effteach.newton_prune import (
    ALLOCATIONS,
    METHODS,
    block_params,
    calibrate,
    compensate,
    load_pruned,
    prune_model,
    save_pruned,
    select,
    unit_scores,
)
from effteach.newton_prune.reference import compensate_ref


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return TinyGPT(GPTConfig(vocab_size=11, n_ctx=16, d_model=16, n_layers=2,
                             n_heads=4, d_ff=24)).eval()


@pytest.fixture(scope="module")
def tiny_tokens():
    return torch.randint(0, 11, (12, 16), generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def tiny_calib(tiny, tiny_tokens):
    return calibrate(tiny, tiny_tokens, batch_size=5)


@pytest.fixture(scope="module")
def gpt():
    return zoo.load("tinygpt_text")


@pytest.fixture(scope="module")
def gpt_calib(gpt):
    from effteach.newton_prune import calibration_tokens

    return calibrate(gpt, calibration_tokens(0, n=16))


def test_calibration_is_the_gram_of_the_hooked_inputs(tiny, tiny_tokens, tiny_calib):
    seen = {}

    def grab(_mod, args):
        seen["x"] = args[0].reshape(-1, 24).double()  # returns None: input unchanged

    h = tiny.layers[1].mlp.down_proj.register_forward_pre_hook(grab)
    with torch.no_grad():
        tiny(tiny_tokens)
    h.remove()
    x = seen["x"]
    st = tiny_calib.layers[1]
    torch.testing.assert_close(st.gram_d, x.T @ x / len(x))
    torch.testing.assert_close(st.mean_d, x.mean(0))
    assert tiny_calib.n_tokens == 12 * 16 and st.gram_o.shape == (16, 16)


@pytest.mark.parametrize("method", METHODS)
def test_scores_have_one_entry_per_unit(tiny, tiny_calib, method):
    heads, chans = unit_scores(tiny, tiny_calib, method, 0.5)
    assert [h.shape for h in heads] == [(4,), (4,)]
    assert [c.shape for c in chans] == [(24,), (24,)]
    assert all(torch.isfinite(t).all() for t in heads + chans)


@pytest.mark.parametrize("allocation", ALLOCATIONS)
@pytest.mark.parametrize("sparsity", [0.0, 0.2, 0.5, 0.9])
def test_selection_keeps_a_head_and_a_channel_per_layer(tiny, tiny_calib, allocation,
                                                        sparsity):
    heads, chans = unit_scores(tiny, tiny_calib, "wanda", 0.5)
    plan = select(tiny, heads, chans, sparsity, allocation)
    assert all(len(h) >= 1 for h in plan.keep_heads)
    assert all(len(c) >= 1 for c in plan.keep_channels)
    if allocation != "literal" and sparsity < 0.9:  # parameter shares are met
        assert abs(plan.sparsity - sparsity) < 0.06
    if sparsity == 0.0:
        assert plan.params_after == plan.params_before


def test_literal_rule_removes_no_head_and_too_few_parameters(gpt, gpt_calib):
    heads, chans = unit_scores(gpt, gpt_calib, "newton", 0.5)
    plan = select(gpt, heads, chans, 0.5, "literal")
    assert [len(h) for h in plan.keep_heads] == [4, 4, 4]
    assert plan.sparsity < 0.35
    glob = select(gpt, heads, chans, 0.5, "global")
    assert abs(glob.sparsity - 0.5) < 0.01 and sum(len(h) for h in glob.keep_heads) < 12


def test_sliced_model_equals_masked_model(gpt, gpt_calib):
    small, plan = prune_model(gpt, gpt_calib, 0.4, "wanda", compensation=False)
    masked = copy.deepcopy(gpt)
    d_head = 32
    with torch.no_grad():
        for layer, kh, kc in zip(masked.layers, plan.keep_heads, plan.keep_channels,
                                 strict=True):
            keep_cols = (kh[:, None] * d_head + torch.arange(d_head)).flatten()
            drop = torch.ones(128, dtype=torch.bool)
            drop[keep_cols] = False
            layer.self_attn.o_proj.weight[:, drop] = 0
            drop_c = torch.ones(256, dtype=torch.bool)
            drop_c[kc] = False
            layer.mlp.down_proj.weight[:, drop_c] = 0
        x = torch.randint(0, 97, (2, 40), generator=torch.Generator().manual_seed(3))
        torch.testing.assert_close(small(x), masked(x), rtol=1e-4, atol=1e-4)
    assert block_params(small) == plan.params_after


def test_compensated_weights_are_theorem_3(gpt, gpt_calib):
    small, plan = prune_model(gpt, gpt_calib, 0.3, "newton", compensation=True)
    st = gpt_calib.layers[2]
    w = gpt.layers[2].mlp.down_proj.weight.detach().double().T
    kc = plan.keep_channels[2]
    pruned = torch.tensor([i for i in range(256) if i not in set(kc.tolist())])
    g = st.gram_d + 1e-6 * st.gram_d.diagonal().mean() * torch.eye(256,
                                                                   dtype=torch.float64)
    want = compensate_ref(g, w, pruned)[kc]
    got = small.layers[2].mlp.down_proj.weight.detach().double().T
    torch.testing.assert_close(got, want.float().double(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(compensate(st.gram_d, w, kc), want, rtol=1e-9,
                               atol=1e-10)


def test_pruning_never_mutates_the_caller_unless_inplace(tiny, tiny_calib):
    model = copy.deepcopy(tiny)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out, _ = prune_model(model, tiny_calib, 0.5, "newton")
    assert out is not model
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    out2, _ = prune_model(model, tiny_calib, 0.5, "newton", inplace=True)
    assert out2 is model and block_params(model) < sum(v.numel() for k, v in
                                                       before.items() if "proj" in k)


def test_save_load_generate_round_trip(gpt, gpt_calib, tmp_path):
    small, _ = prune_model(gpt, gpt_calib, 0.5, "newton")
    path = save_pruned(small, tmp_path / "small.safetensors")
    again = load_pruned(path)
    prompt = torch.randint(0, 97, (2, 10), generator=torch.Generator().manual_seed(0))
    assert torch.equal(small.generate(prompt, 12), again.generate(prompt, 12))
    assert path.stat().st_size < 0.6 * (zoo.CHECKPOINT_DIR
                                        / "tinygpt_text.safetensors").stat().st_size
    assert [layer.self_attn.n_heads for layer in again.layers] == [
        layer.self_attn.n_heads for layer in small.layers]


@pytest.mark.parametrize("sparsity", [-0.1, 1.0, 1.2])
def test_sparsity_outside_range_is_refused(tiny, tiny_calib, sparsity):
    with pytest.raises(ValueError, match="sparsity"):
        prune_model(tiny, tiny_calib, sparsity)


def test_unknown_method_or_allocation_is_refused(tiny, tiny_calib):
    with pytest.raises(ValueError, match="method"):
        prune_model(tiny, tiny_calib, 0.5, "obs")
    with pytest.raises(ValueError, match="allocation"):
        prune_model(tiny, tiny_calib, 0.5, "newton", allocation="per-head")


def test_calibration_of_the_wrong_shape_is_refused(tiny, gpt_calib):
    with pytest.raises(ValueError, match="tokens"):
        calibrate(tiny, torch.zeros(2, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="tokens"):
        calibrate(tiny, torch.zeros(2, 17, dtype=torch.long))  # > n_ctx
    with pytest.raises(TypeError, match="tokens"):
        calibrate(tiny, torch.zeros(2, 8))
    with pytest.raises(ValueError, match="calib"):
        prune_model(tiny, gpt_calib, 0.5)  # statistics of another model


def test_pruning_a_pruned_model_is_refused(tiny, tiny_calib):
    small, _ = prune_model(tiny, tiny_calib, 0.5)
    with pytest.raises(ValueError, match="model|calib"):
        prune_model(small, tiny_calib, 0.3)
