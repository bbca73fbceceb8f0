"""The chapter's figures, headless: data, sliders and frames, and the live panels."""

import re

import numpy as np
import pytest

from effteach.pebble_io import (
    fa2_fwd_io,
    forward_bound,
    pebble_figure,
    pebble_panel,
    pebble_trace,
    preset_sram,
    regime_figure,
    regime_panel,
)
from effteach.pebble_io.viz import REGIME_TRACES


def test_preset_sram_counts_words():
    assert preset_sram("toy (4 KiB)", "float32") == 1024
    assert preset_sram("H200 (228 KiB smem/SM)", "bfloat16") == 228 * 512


@pytest.mark.parametrize("bad", [{"device": "tpu"}, {"dtype": "int8"}])
def test_preset_sram_rejects_unknown(bad):
    args = {"device": "toy (4 KiB)", "dtype": "float32", **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        preset_sram(**args)


def test_regime_figure_has_one_step_per_d_and_marks_d2_and_nd():
    fig = regime_figure(n_ctx=64, d_heads=(8, 16), per_octave=1, active=1)
    assert len(fig.data) == 2 * REGIME_TRACES
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["8", "16"]
    assert steps[1].args[0]["visible"][REGIME_TRACES:] == [True] * REGIME_TRACES
    shown = [t for t in fig.data if t.visible]
    by_name = {t.name: t for t in shown}
    assert by_name["M = d²"].x == (256, 256)
    assert by_name["M = nd"].x == (1024, 1024)
    assert by_name["device M"].x == (1024, 1024)  # toy preset, float32
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    theta = by_name["Θ-bound, constant 1 (Saha & Ye [C])"]
    np.testing.assert_allclose(theta.y, forward_bound(64, 16, np.array(theta.x)))


def test_regime_figure_backward_names_backward_schedules():
    fig = regime_figure(n_ctx=64, d_heads=(8,), backward=True, per_octave=1)
    names = [t.name for t in fig.data]
    assert "fa2_bwd" in names and "square_bwd" in names and "fa2_fwd" not in names


def test_regime_panel_redraws_on_a_control():
    box = regime_panel(n_ctx=64, d_head=8)
    assert box.figure.data[0].name == "standard_fwd"
    box.children[2].value = True  # the backward checkbox
    assert box.figure.data[0].name == "standard_bwd"
    box.children[1].value = 16
    marks = {t.name: t.x for t in box.figure.data}
    assert marks["M = d²"] == (256, 256)


def test_pebble_trace_counts_match_the_closed_form():
    rec = pebble_trace("fa2_fwd", n_ctx=16, d_head=4, sram=128, block_m=4, block_n=4)
    want = fa2_fwd_io(16, 4, block_m=4, block_n=4)
    last = rec["frames"][-1]
    assert (last["loads"], last["stores"]) == (want.loads, want.stores)
    # the first move loads the first query tile, which is then resident
    first = rec["frames"][0]
    assert first["text"] == "load Q[0:4, 0:4]"
    assert first["resident"]["Q"][:4].all() and not first["resident"]["Q"][4:].any()
    # a score block is shown exactly when it is allocated next to a K tile
    assert any(f["score"][:4, 4:8].all() for f in rec["frames"])
    assert all(f["words"] <= 128 for f in rec["frames"])


def test_pebble_figure_frames_and_slider():
    fig = pebble_figure("fa2_fwd", n_ctx=16, d_head=4, sram=128, step=2,
                        block_m=4, block_n=4)
    rec = pebble_trace("fa2_fwd", n_ctx=16, d_head=4, sram=128, block_m=4,
                       block_n=4)
    assert len(fig.frames) == len(rec["frames"])
    assert len(fig.layout.sliders[0].steps) == len(fig.frames)
    assert len(fig.data) == len(rec["tensors"]) + 1
    assert "step 3/" in fig.layout.title.text
    with pytest.raises(ValueError, match="step"):
        pebble_figure("fa2_fwd", n_ctx=16, d_head=4, step=10_000)


def test_pebble_figure_rejects_unknown_schedule():
    with pytest.raises(ValueError, match="schedule"):
        pebble_figure("fa3_fwd")


def test_pebble_panel_has_one_step_control_and_switches_schedule(monkeypatch):
    monkeypatch.delenv("EFFTEACH_BOOK", raising=False)  # live, as in JupyterLab
    box = pebble_panel(n_ctx=16, d_head=4)
    assert not box.book and box.children[-1].outputs  # the figure is in the Output
    # the figure's own slider is the only step control: one step per frame,
    # labelled like the title (1-based), starting at the first frame
    assert set(box.controls) == {"schedule", "sram"}
    steps = box.figure.layout.sliders[0].steps
    assert len(steps) == len(box.figure.frames) and steps[0].label == "1"
    assert f"step 1/{len(steps)}:" in box.figure.layout.title.text
    assert all(list(s.args[0]) == [str(i)] for i, s in enumerate(steps))
    box.schedule.value = "square_fwd"
    assert box.figure.layout.title.text.startswith("square_fwd")
    box.schedule.value = "fa2_fwd"

    def final_loads():
        title = box.figure.frames[-1].layout.title.text
        return int(re.search(r"loads (\d+)", title)[1])

    small = final_loads()
    box.sram.value = box.sram.max  # bigger tiles fit: fewer loads, fewer frames
    assert final_loads() < small
    assert len(box.figure.layout.sliders[0].steps) == len(box.figure.frames)


def test_pebble_and_regime_panels_in_the_book_show_figure_and_note(monkeypatch):
    monkeypatch.setenv("EFFTEACH_BOOK", "1")
    box = regime_panel(n_ctx=64, d_head=8)
    assert box.book and box.launch == "regime_panel(n_ctx=64, d_head=8)"
    # one d: its one-step slider would be a dead control, so it is dropped
    assert not box.figure.layout.sliders
    assert box.children[-1].outputs == ()  # no figure in the widget state
    pb = pebble_panel(n_ctx=16, d_head=4)
    assert pb.launch == "pebble_panel('fa2_fwd', n_ctx=16, d_head=4)"
    assert len(pb.figure.layout.sliders[0].steps) == len(pb.figure.frames) > 1


def _fake_result():
    recs = [{"impl": impl, "pass": ps, "dtype": "bfloat16", "d_head": 64,
             "n_ctx": n, "causal": False, "batch": 1, "n_heads": 8, "ms": 1.0,
             "tflops": t * n / 1024, "ratio_vs_sdpa_flash": 1.0,
             "ratio_vs_sdpa_cudnn": 1.0}
            for impl, t in (("triton", 100), ("sdpa_flash", 120))
            for ps in ("fwd", "bwd") for n in (1024, 4096)]
    return {"slug": "pebble_io", "created": "2026-11-29T12:00:00",
            "env": {"gpu": "NVIDIA H200"}, "records": recs}


def test_gpu_figure_one_step_per_configuration():
    from effteach.pebble_io import gpu_figure

    fig = gpu_figure(_fake_result())
    assert [s.label for s in fig.layout.sliders[0].steps] == [
        "fwd bfloat16 d=64", "bwd bfloat16 d=64"]
    assert len(fig.data) == 2 * 4
    assert fig.data[0].name == "triton" and fig.data[0].x == (1024, 4096)
    assert fig.data[0].y == (100.0, 400.0)
    assert fig.data[2].x == ()  # cuDNN not in the file: an empty trace
    assert "H200" in fig.layout.title.text
    with pytest.raises(ValueError, match="records"):
        gpu_figure({"records": []})


def _kernels_result():
    from effteach.bench import load_results

    return load_results("kernels")


def test_ablation_figure_keeps_the_steps_in_order_and_computes_tflops():
    from effteach.pebble_io import ablation_figure

    res = _kernels_result()
    fig = ablation_figure(res)
    abl = [r for r in res["records"] if r["kind"] == "ablation"]
    assert len(fig.data) == len(abl)  # one bar series per shape
    order = list(fig.layout.xaxis.categoryarray)
    assert order[0] == "teaching kernel" and order[-1] == "SDPA cuDNN"
    r, bars = abl[0], fig.data[0]
    fl = 4 * r["batch"] * r["heads"] * r["n_q"] * r["n_k"] * r["d"] / (
        2 if r["causal"] else 1)
    i = list(bars.x).index("teaching kernel")
    assert abs(bars.y[i] - fl / r["ms"]["teaching_fwd"] / 1e9) < 1e-6


def test_roofline_figure_roof_is_the_measured_ceilings():
    from effteach.pebble_io import roofline_figure

    res = _kernels_result()
    (ceil,) = [r for r in res["records"] if r["kind"] == "ceilings"]
    roof = roofline_figure(res).data[0]
    x, y = np.asarray(roof.x), np.asarray(roof.y)
    assert np.allclose(y, np.minimum(ceil["matmul_tflops"], ceil["copy_tb_per_s"] * x))
    pts = roofline_figure(res).data[1:]
    assert all(max(t.y) <= ceil["matmul_tflops"] * 1.05 for t in pts)  # under the roof


def test_kernel_figures_refuse_a_file_without_their_records():
    from effteach.pebble_io import ablation_figure, roofline_figure

    with pytest.raises(ValueError, match="result: expected records of kind"):
        ablation_figure({"records": [{"kind": "dense"}]})
    with pytest.raises(TypeError, match="result: expected the parsed kernels.json"):
        roofline_figure([])
