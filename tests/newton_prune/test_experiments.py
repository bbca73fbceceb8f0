"""The sweep's protocol and the committed results file, re-checked where cheap."""

from __future__ import annotations

import json

import pytest
import torch

from effteach import zoo
from effteach.newton_prune import (
    RESULTS_PATH,
    calibration_tokens,
    efficiency,
    heldout_perplexity,
    run_point,
    summarize,
)
from effteach.newton_prune.experiments import main


@pytest.fixture(scope="module")
def gpt():
    return zoo.load("tinygpt_text")


@pytest.fixture(scope="module")
def result():
    return json.loads(RESULTS_PATH.read_text())


def test_dense_perplexity_is_the_zoo_metric(gpt, result):
    want = zoo.read_json("tinygpt_text", "metrics")["val_perplexity"]
    dense = next(r for r in result["records"] if r["method"] == "dense")["ppl"]
    assert abs(dense - want) < 1e-4 * want
    assert abs(heldout_perplexity(gpt, max_windows=8) - 5.0) < 1.5


def test_calibration_windows_are_seeded():
    a, b = calibration_tokens(3, n=5), calibration_tokens(3, n=5)
    assert torch.equal(a, b) and a.shape == (5, 128) and a.dtype == torch.long
    assert not torch.equal(a, calibration_tokens(4, n=5))


def test_a_committed_point_is_reproduced(gpt, result):
    live = run_point(gpt, 0.5, "wanda", True, seed=1)
    stored = next(r for r in result["records"] if r["method"] == "wanda"
                  and r["seed"] == 1 and r["compensation"] and r["sparsity"] == 0.5)
    assert abs(live["ppl"] - stored["ppl"]) < 1e-4 * stored["ppl"]
    assert live["channels_kept"] == stored["channels_kept"]


def test_results_cover_the_grid(result):
    mean = summarize(result["records"])
    assert len(result["records"]) == 1 + 3 * 7 * 2 * 6
    assert all(len(v) == 6 for k, v in mean.items() if k != "dense")
    assert {e["sparsity"] for e in result["efficiency"]} == {0.0, 0.3, 0.5}


def test_efficiency_counts_are_exact(gpt):
    rec = efficiency(gpt, batch=2, prompt=8, n_new=4, repeats=1, peak_memory=False)
    assert rec["params"] == sum(p.numel() for p in gpt.parameters())
    # 3 layers x (k, v) x batch 2 x 4 heads x 12 positions x 32 x 4 bytes
    assert rec["kv_cache_bytes"] == 3 * 2 * 2 * 4 * 12 * 32 * 4
    assert rec["tokens_per_s"] > 0 and rec["file_bytes"] > 4 * rec["params"]


def test_bad_arguments_are_refused(gpt):
    with pytest.raises(ValueError, match="max_windows"):
        heldout_perplexity(gpt, max_windows=0)
    with pytest.raises(ValueError, match="n_new"):
        efficiency(gpt, prompt=100, n_new=100, peak_memory=False)
    with pytest.raises(ValueError, match="records"):
        summarize([{"x": 1}])


@pytest.mark.slow
def test_quick_cli_writes_a_results_file(tmp_path):
    out = tmp_path / "np.json"
    assert main(["--quick", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["command"].endswith("--quick") and len(res["records"]) == 5
    assert res["efficiency"][1]["peak_rss_kib"] < res["efficiency"][0]["peak_rss_kib"]
