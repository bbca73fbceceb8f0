"""Headless tests of the looped_mlp figures: the static run figure and the live panel.

They check data, never pixels: frames and slider steps, the PC highlight of every
frame against the reference interpreter, the activations against the loop body, and
that moving the panel's controls redraws its figure.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from effteach.looped_mlp import (
    compile_machine,
    debugger_panel,
    demo,
    run,
    run_figure,
)
from effteach.looped_mlp.viz import record_run, step_figure

N_DYNAMIC = 4  # traces 1..4 before the heatmaps: pc bar, memory, interpreter


@pytest.fixture(scope="module")
def multiply():
    program, _ = demo("multiply", 3, 2)  # a loop and a branch, 19 steps
    return program, run(program)


def _pc_bar(data):
    (bar,) = [tr for tr in data if tr.name == "pc"]
    return int(bar.y[0])


def _memory(data):
    (bars,) = [tr for tr in data if tr.name == "memory (MLP)"]
    return list(bars.y)


def test_run_figure_has_one_frame_and_one_slider_step_per_step(multiply):
    program, ref = multiply
    fig = run_figure(program)
    names = [fr.name for fr in fig.frames]
    assert names == [str(t) for t in range(ref.steps + 1)]
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == names
    assert all(s.method == "animate" and list(s.args[0]) == [s.label] for s in steps)
    buttons = [b.label for b in fig.layout.updatemenus[0].buttons]
    assert len(buttons) == 2 and "play" in buttons[0] and "pause" in buttons[1]


def test_frame_t_highlights_the_interpreters_pc_and_memory(multiply):
    program, ref = multiply
    fig = run_figure(program)
    for fr in fig.frames:
        t = int(fr.name)
        assert _pc_bar(fr.data) == ref.pc[t], f"frame {t}"
        assert _memory(fr.data) == ref.memory[t].tolist(), f"frame {t}"
        assert f"pc = {ref.pc[t]}" in fr.layout.title.text
    # the frames replace exactly the dynamic traces (listing stays)
    depth = compile_machine(program.n_mem, program.bits, program.n_instr).net.depth
    assert list(fig.frames[0].traces) == list(range(1, N_DYNAMIC + depth))
    assert fig.data[0].name == "listing" and len(fig.data) == N_DYNAMIC + depth


def test_heatmaps_are_the_loop_bodys_activations(multiply):
    program, ref = multiply
    mach = compile_machine(program.n_mem, program.bits, program.n_instr)
    fig = run_figure(program, mach)
    t = 5
    state = mach.encode(program, memory=ref.memory[t], pc=int(ref.pc[t]))[None]
    _, hidden = mach.step(state, trace=True)
    heat = [tr for tr in fig.frames[t].data if tr.type == "heatmap"]
    assert len(heat) == mach.net.depth
    for layer, (tr, h) in enumerate(zip(heat, hidden, strict=True)):
        want = h[0].numpy()[mach.net.computed[layer]]
        np.testing.assert_array_equal(np.asarray(tr.z)[0], want)
    # carried=True shows every unit of every layer
    fig_all = run_figure(program, mach, max_frames=2, carried=True)
    widths = [np.asarray(tr.z).shape[1] for tr in fig_all.data if tr.type == "heatmap"]
    assert widths == mach.net.widths


def test_long_runs_are_decimated_and_the_page_stays_small():
    program, _ = demo("gcd")
    ref = run(program)
    fig = run_figure(program, max_frames=7)
    names = [int(fr.name) for fr in fig.frames]
    assert len(names) == 7 and names[0] == 0 and names[-1] == ref.steps
    assert names == sorted(names)
    for fr in fig.frames:
        assert _pc_bar(fr.data) == ref.pc[int(fr.name)]
    full = run_figure(program)  # 57 frames
    assert len(full.frames) == ref.steps + 1
    assert len(full.to_json()) < 1_000_000  # bytes of the page's figure JSON


def test_paper23_figure_marks_layers_that_only_carry():
    program, _ = demo("add")
    mach = compile_machine(program.n_mem, program.bits, program.n_instr, "paper23")
    fig = run_figure(program, mach, max_frames=2)
    heat = [tr for tr in fig.data if tr.type == "heatmap"]
    assert len(heat) == 23
    idle = [i for i, c in enumerate(mach.net.computed) if not c.any()]
    assert idle  # the "next pc" stage has spare layers
    for i in idle:
        assert "only carries" in heat[i].customdata[0][0]
    ticks = fig.layout.yaxis3.ticktext
    assert ticks[0] == "L1 read instruction" and ticks[-1] == "L23 branch"


def test_record_run_replays_looped_mlp_run():
    program, _ = demo("multiply", 5, 3, bits=12)
    mach = compile_machine(program.n_mem, program.bits, program.n_instr)
    for dtype, noise in (("float64", 0.0), ("float64", 0.1), ("bfloat16", 0.0)):
        want = mach.run(program, max_steps=200, dtype=getattr(torch, dtype),
                        noise=noise, strict=False)
        got = record_run(program, mach, dtype, noise, max_steps=200)
        assert got.halted == want.halted, (dtype, noise)
        np.testing.assert_array_equal(got.pc, want.pc)
        np.testing.assert_array_equal(got.memory, want.memory)
        assert all(len(h) == got.steps + 1 for h in got.hidden)


def test_a_wrong_run_is_shown_as_wrong():
    # bf16 holds integers exactly only up to 256; with 10-bit words the carry sums
    # of negative numbers (high bits set) reach 2**9 and break it
    program, _ = demo("multiply", -7, 5, bits=10)
    fig = run_figure(program, dtype="bfloat16", max_frames=200, max_steps=60)
    titles = [fr.layout.title.text for fr in fig.frames]
    ref = run(program)
    assert "agrees with the interpreter" in titles[0]
    assert any("DIFFERS from the interpreter" in t for t in titles)
    rec = record_run(program, dtype="bfloat16", max_steps=60)
    assert not (rec.steps == ref.steps and np.array_equal(rec.memory[-1],
                                                           ref.memory[-1]))


def test_debugger_panel_redraws_when_the_step_changes(multiply):
    program, ref = multiply
    panel = debugger_panel(program)
    assert _pc_bar(panel.figure.data) == ref.pc[0]
    assert panel.step.max == ref.steps and panel.play.max == ref.steps
    for t in (3, 7, ref.steps):
        panel.step.value = t
        assert _pc_bar(panel.figure.data) == ref.pc[t]
        assert _memory(panel.figure.data) == ref.memory[t].tolist()
        assert panel.figure.layout.title.text.startswith(f"step {t}/")
    panel.play.value = 4  # the play button drives the slider
    assert panel.step.value == 4 and _pc_bar(panel.figure.data) == ref.pc[4]
    # the panel draws the same figure as the static builder
    same = step_figure(record_run(program), 4)
    assert panel.figure.to_plotly_json()["data"] == same.to_plotly_json()["data"]


def test_debugger_panel_dtype_noise_and_snap_controls(multiply):
    program, ref = multiply
    panel = debugger_panel(program)
    panel.step.value = ref.steps
    panel.snap.value = True
    assert "halted" in panel.figure.layout.title.text
    assert len([tr for tr in panel.figure.data if tr.type == "heatmap"]) == 6
    panel.noise.value = 0.1  # the snap layer absorbs it
    assert "agrees with" in panel.figure.layout.title.text
    assert panel.step.max == ref.steps
    panel.dtype.value = "float32"
    assert "agrees with" in panel.figure.layout.title.text


def test_debugger_panel_in_the_book_shows_no_dead_controls(multiply, monkeypatch):
    program, ref = multiply
    monkeypatch.setenv("EFFTEACH_BOOK", "1")
    panel = debugger_panel(program)
    # the play button is linked to the step slider in Python only: in the book the
    # panel shows its figure (no sliders, no buttons) and the live note instead
    assert panel.book and panel.launch == "debugger_panel(program, machine)"
    assert set(panel.controls) == {"step", "dtype", "noise", "snap", "play"}
    assert not panel.figure.layout.sliders and not panel.figure.layout.updatemenus
    panel.step.value = 3  # still drives the figure, as a lecture cell may do
    assert _pc_bar(panel.figure.data) == ref.pc[3]
    assert panel.children[-1].outputs == ()


def test_bad_input_names_the_argument(multiply):
    program, _ = multiply
    with pytest.raises(TypeError, match="program"):
        run_figure("subleq Z, Z")
    with pytest.raises(TypeError, match="program"):
        debugger_panel(None)
    with pytest.raises(ValueError, match="machine"):
        run_figure(program, compile_machine(program.n_mem, program.bits, 32))
    with pytest.raises(TypeError, match="machine"):
        run_figure(program, machine="fused5")
    with pytest.raises(ValueError, match="max_frames"):
        run_figure(program, max_frames=1)
    with pytest.raises(ValueError, match="dtype"):
        run_figure(program, dtype="int8")
    with pytest.raises(ValueError, match="noise"):
        run_figure(program, noise=-0.1)
    with pytest.raises(ValueError, match="max_steps"):
        record_run(program, max_steps=0)
    with pytest.raises(TypeError, match="carried"):
        run_figure(program, carried="yes")
    with pytest.raises(ValueError, match="dtypes"):
        debugger_panel(program, dtypes=())
    with pytest.raises(TypeError, match="rec"):
        step_figure(program, 0)


def test_figure_json_round_trips(multiply):
    program, _ = multiply
    fig = run_figure(program, max_frames=3)
    data = json.loads(fig.to_json())
    assert len(data["frames"]) == 3 and data["layout"]["sliders"][0]["steps"]


def test_throughput_figure_from_a_results_file():
    from effteach.looped_mlp.viz import throughput_figure

    def rec(device, dtype, bits, batch, rate, exact):
        return {"device": device, "dtype": dtype, "variant": "fused5", "n_mem": 16,
                "bits": bits, "n_instr": 32, "batch": batch, "steps": 20,
                "seconds": 1.0, "program_steps_per_s": rate, "exact": exact}

    result = {
        "slug": "looped_mlp", "created": "2026-01-02T03:04:05",
        "env": {"gpu": "NVIDIA H200"},
        "records": [
            rec("cuda", "float32", 8, 64, 1e5, True),
            rec("cuda", "float32", 8, 1, 2e3, True),
            rec("cuda", "float32+tf32", 16, 64, 3e5, False),
            rec("cpu", "float64", 8, 64, 5e3, True),
        ],
    }
    fig = throughput_figure(result)
    assert len(fig.data) == 3 and "H200" in fig.layout.title.text
    (fp32,) = [tr for tr in fig.data if tr.name.startswith("cuda float32 (")]
    assert list(fp32.x) == [1, 64] and list(fp32.y) == [2e3, 1e5]  # sorted by batch
    (tf32,) = [tr for tr in fig.data if "tf32" in tr.name]
    assert list(tf32.marker.symbol) == ["x"]  # a wrong run is marked
    with pytest.raises(ValueError, match="result"):
        throughput_figure({"records": []})
    with pytest.raises(ValueError, match="result"):
        throughput_figure({"records": [{"device": "cuda"}]})
