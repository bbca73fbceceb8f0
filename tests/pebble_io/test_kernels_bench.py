"""The kernels benchmark runs end to end on the CPU and computes its ratios right."""

from __future__ import annotations

import pytest
import torch

from effteach.bench import BENCH_SLUGS
from effteach.kernels import bench


def test_ratio_is_baseline_over_ours():
    r = bench.ratios({"tuned": 2.0, "sdpa_flash": 3.0, "teaching": 1.0}, "tuned",
                     ("sdpa_flash", "teaching", "absent"))
    assert r == {"tuned_vs_sdpa_flash": 1.5, "tuned_vs_teaching": 0.5}
    with pytest.raises(ValueError, match="ms: expected a positive time"):
        bench.ratios({"tuned": 0.0}, "tuned", ("x",))


def test_the_grid_covers_the_issue_shapes():
    assert "kernels" in BENCH_SLUGS
    shapes = {s[:4] for s in bench.DENSE_SHAPES}
    assert (1, 2, 4097, 64) in shapes  # small batch x heads, ragged n
    assert {s[3] for s in bench.DENSE_SHAPES} == {64, 128}
    assert {s[4] for s in bench.DENSE_SHAPES} == {False, True}
    assert min(s[2] for s in bench.DENSE_SHAPES) <= 1024
    assert max(s[2] for s in bench.DENSE_SHAPES) >= 131072


@pytest.mark.interpreter
def test_smoke_run_in_the_interpreter():
    recs = bench.smoke()
    dense = [r for r in recs if r["kind"] == "dense"]
    assert len(dense) == 2 and all(not r["errors"] for r in dense)
    for r in dense:
        assert set(r["ratios_fwd"]) == {"tuned_vs_sdpa_math", "tuned_vs_teaching"}
        assert all(v > 0 for v in r["ms"].values())
    (dec,) = [r for r in recs if r["kind"] == "decode"]
    assert dec["n_q"] < dec["n_k"] and dec["max_abs_err_vs_sdpa"] < 1e-5
    (abl,) = [r for r in recs if r["kind"] == "ablation"]
    steps = {name for name, *_ in bench.ABLATION_STEPS}
    assert {k.rsplit("_", 1)[0] for k in abl["ms"]} == steps | {"teaching"}
    assert all(v > 0 for v in abl["ms"].values())
    (lau,) = [r for r in recs if r["kind"] == "launch"]
    assert lau["same_output"] and set(lau["host_us"]) == set(lau["ms"])
    assert all(v > 0 for v in (*lau["ms"].values(), *lau["host_us"].values()))


@pytest.mark.interpreter
def test_the_bench_checks_every_switch_against_float64(monkeypatch):
    monkeypatch.setattr(bench, "DEV", "cpu")  # the interpreter's device
    recs = bench.correctness(((1, 2, 9, 21, 16, True, (17,)),), (torch.float32,))
    assert len(recs) == len(bench.CHECK_FLAGS)
    for r in recs:
        assert r["ok"] and max(r["rel_err_vs_float64"].values()) < 1e-5
