"""Pruning one head and the model: every method, the sparsity reached, bad input."""

from __future__ import annotations

import functools

import pytest
import torch

from effteach.attention_prune import (
    METHODS,
    attention_error,
    attention_inputs,
    prune_head,
    prune_model,
    qk_scores,
    table,
)
from effteach.models import GPTConfig, TinyGPT


@functools.cache
def _tiny():
    torch.manual_seed(0)
    return TinyGPT(GPTConfig(vocab_size=8, n_ctx=8, d_model=8, n_layers=1, n_heads=2,
                             d_ff=8)).eval()


def _tokens():
    return torch.randint(0, 8, (3, 8), generator=torch.Generator().manual_seed(0))


def _head():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 6, 8, generator=g, dtype=torch.float64)
    wq = torch.randn(8, 4, generator=g, dtype=torch.float64)
    wk = torch.randn(8, 4, generator=g, dtype=torch.float64)
    return x, wq, wk


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.75])
def test_every_method_reaches_the_sparsity_on_the_support(method, sparsity):
    x, wq, wk = _head()
    pq, pk = prune_head(method, x, wq, wk, sparsity, iters=5)
    for p in (pq, pk):
        assert p.shape == wq.shape
        assert abs(float((p == 0).double().mean()) - sparsity) < 1e-9


def test_gd_refit_is_closer_than_its_wanda_support():
    x, wq, wk = _head()
    target = qk_scores(x, wq, wk, True)

    def err(p):
        return float((qk_scores(x, *p, True) - target).norm())

    assert err(prune_head("gd_refit", x, wq, wk, 0.5, iters=30)) < err(
        prune_head("wanda", x, wq, wk, 0.5))


def test_prune_model_changes_only_qk_and_is_measured():
    model = _tiny()
    pruned = prune_model(model, _tokens(), "magnitude", 0.5)
    a = pruned.layers[0].self_attn
    assert float((a.q_proj.weight == 0).float().mean()) == pytest.approx(0.5)
    torch.testing.assert_close(a.v_proj.weight, model.layers[0].self_attn.v_proj.weight)
    assert attention_error(model, model, _tokens()) == 0.0
    assert attention_error(model, pruned, _tokens()) > 0.0
    assert attention_inputs(model, _tokens())[0].dtype == torch.float64


@pytest.mark.parametrize("s", [-0.1, 1.0, 1.2, float("nan")])
def test_sparsity_outside_0_1_is_refused(s):
    x, wq, wk = _head()
    with pytest.raises((ValueError, TypeError), match="sparsity"):  # NaN: TypeError
        prune_head("wanda", x, wq, wk, s)
    with pytest.raises((ValueError, TypeError), match="sparsity"):
        prune_model(_tiny(), _tokens(), "wanda", s)


def test_negative_lambda_and_mismatched_shapes_are_refused():
    x, wq, wk = _head()
    with pytest.raises(ValueError, match="lam"):
        prune_head("gd_mask", x, wq, wk, 0.5, lam=-1e-3)
    with pytest.raises(ValueError, match="wk"):
        prune_head("gd_mask", x, wq, wk[:, :2], 0.5)
    with pytest.raises(ValueError, match="wq"):
        prune_head("gd_mask", x, wq[:5], wk, 0.5)
    with pytest.raises(ValueError, match="method"):
        prune_head("sparsegpt", x, wq, wk, 0.5)
    with pytest.raises(ValueError, match="tokens"):
        attention_inputs(_tiny(), torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(TypeError, match="model"):
        prune_model("tinygpt", _tokens(), "wanda", 0.5)


def test_table_groups_records_and_refuses_unknown_keys():
    recs = [{"method": "wanda", "sparsity": 0.5, "attn_err": 1.0, "ppl": 6.0},
            {"method": "wanda", "sparsity": 0.9, "attn_err": 2.0, "ppl": 9.0}]
    assert table(recs, "ppl") == {"wanda": {0.5: 6.0, 0.9: 9.0}}
    with pytest.raises(ValueError, match="key"):
        table(recs, "loss")
    with pytest.raises(TypeError, match="records"):
        table("abc", "ppl")
