import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import effteach
from effteach import bench, device, viz
from effteach.foundations import (
    softmax_gpu_figure,
    temperature_figure,
    temperature_panel,
)
from effteach.viz import slider_figure


def test_interpreter_is_on_without_gpu():
    if not device.HAS_GPU:
        assert os.environ["TRITON_INTERPRET"] == "1"
        assert device.INTERPRETER and device.DEVICE.type == "cpu"
        assert torch.bfloat16 not in device.kernel_dtypes()


def test_setup_seeds_and_prints_one_banner_line(capsys):
    effteach.setup(seed=3)
    a = (torch.rand(3), np.random.rand(3))
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("effteach 0.1 | device=")
    effteach.setup(seed=3, quiet=True)
    assert torch.equal(a[0], torch.rand(3)) and np.array_equal(a[1], np.random.rand(3))
    with pytest.raises(ValueError, match="seed: expected a non-negative int"):
        effteach.setup(seed=-1)


def _strip_tags(markup: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", markup))


def test_show_source_is_folded_with_signature_and_docstring(monkeypatch):
    import inspect

    import IPython.display

    from effteach.lazy_dit.train import train_gates

    shown = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda x, raw=False: shown.append((x, raw)))
    effteach.show_source(train_gates)
    ((bundle, raw),) = shown
    assert raw and set(bundle) == {"text/html", "text/plain"}
    assert bundle["text/plain"] == inspect.getsource(train_gates)
    page = bundle["text/html"]
    assert page.startswith('<details class="effteach-source') and " open" not in (
        page[: page.index(">")])
    summary = page[page.index("<summary"): page.index("</summary>")]
    text = _strip_tags(summary)
    first_doc = inspect.getdoc(train_gates).split("\n\n")[0].replace("``", "")
    assert "def train_gates(" in text and first_doc in text
    assert "for p in model.parameters():" not in text  # the body is in the fold
    fold = _strip_tags(page[page.index("</summary>"):])
    assert "for p in model.parameters():" in fold
    assert "color" in page and "<span" in page  # highlighted, inline styles
    shown.clear()
    effteach.show_source(train_gates, folded=False)
    assert " open" in shown[0][0]["text/html"][: shown[0][0]["text/html"].index(">")]


def test_show_source_can_leave_out_argument_checks():
    from effteach import source
    from effteach.lazy_dit.train import train_gates

    full = source.listing(train_gates).text.splitlines()
    short = source.listing(train_gates, checks=False)
    lines = short.text.splitlines()
    assert short.omitted >= 2 and len(lines) == len(full) - short.omitted + 1
    (note,) = [ln for ln in lines if "argument checks omitted" in ln]
    assert f"# ... {short.omitted} lines of argument checks omitted" in note
    assert "variant: expected" in "\n".join(full)
    assert "variant: expected" not in short.text  # a guard's message is gone
    kept = iter(full)  # every other line is still there, in order
    assert all(any(ln == k for k in kept) for ln in lines if ln != note)
    assert "for p in model.parameters():" in short.text
    assert short.summary and short.summary in short.text  # the docstring stays
    # a function whose leading statements are no checks is shown unchanged
    assert source.listing(effteach.banner, checks=False).omitted == 0
    assert source.listing(effteach.banner, checks=False).text == source.listing(
        effteach.banner).text


def test_show_source_rejects_bad_input():
    from effteach.lazy_dit.train import train_gates

    with pytest.raises(TypeError, match="obj: expected a function"):
        effteach.show_source(3)
    with pytest.raises(TypeError, match="checks"):
        effteach.show_source(train_gates, checks="no")
    with pytest.raises(TypeError, match="checks: checks=False needs a function"):
        effteach.show_source(bench, checks=False)


def test_temperature_figure_slider_and_panel():
    fig = temperature_figure(temperatures=(0.5, 1.0, 2.0), active=1)
    assert len(fig.data) == 3 and len(fig.layout.sliders[0].steps) == 3
    assert [t.visible for t in fig.data] == [False, True, False]
    assert fig.layout.sliders[0].steps[2].args[0]["visible"] == [False, False, True]
    # the bars are probabilities of softmax(z / T)
    assert abs(sum(fig.data[1].y) - 1) < 1e-12
    panel = temperature_panel()
    first = max(panel.figure.data[0].y)
    panel.children[0].value = 8.0  # the slider
    assert max(panel.figure.data[0].y) < first
    assert panel.launch == "temperature_panel()"
    with pytest.raises(ValueError, match=r"temperatures\[1\]: expected a number > 0"):
        temperature_figure(temperatures=(1.0, 0.0))


def _bars(n: int, title: str = ""):
    import plotly.graph_objects as go

    return go.Figure(go.Bar(y=list(range(n))), layout={"title": title or f"n = {n}"})


def _shown(monkeypatch, obj) -> list:
    """What displaying ``obj`` at the end of a cell publishes, one item per output."""
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda x, raw=False: shown.append((x, raw)))
    obj._ipython_display_()
    return shown


@pytest.mark.parametrize("value, want", [("1", True), ("yes", True), ("", False),
                                         ("0", False), (None, False)])
def test_book_mode_follows_the_environment(monkeypatch, value, want):
    if value is None:
        monkeypatch.delenv(viz.BOOK_ENV, raising=False)
    else:
        monkeypatch.setenv(viz.BOOK_ENV, value)
    assert viz.book_mode() is want


def test_book_build_tells_the_kernel_it_is_the_book():
    from effteach.tools import book

    assert book.KERNEL_ENV == {viz.BOOK_ENV: "1"}


def test_panel_is_live_outside_the_book(monkeypatch):
    import ipywidgets as widgets

    monkeypatch.delenv(viz.BOOK_ENV, raising=False)
    n = widgets.IntSlider(value=3, min=1, max=9, description="n")
    box = viz.panel(_bars, launch="bars_panel()", n=n)
    assert not box.book and box.children[0] is n
    (shown, raw), = _shown(monkeypatch, box)
    assert raw and shown["application/vnd.jupyter.widget-view+json"]["model_id"]
    out = box.children[-1].outputs[0]["data"]["application/vnd.plotly.v1+json"]
    assert out["layout"]["title"]["text"] == "n = 3"
    n.value = 7  # the kernel redraws the Output
    out = box.children[-1].outputs[0]["data"]["application/vnd.plotly.v1+json"]
    assert out["layout"]["title"]["text"] == "n = 7" and len(box.figure.data[0].y) == 7


def test_panel_in_the_book_shows_figure_and_live_note(monkeypatch):
    import ipywidgets as widgets
    import plotly.graph_objects as go

    monkeypatch.setenv(viz.BOOK_ENV, "1")
    n = widgets.IntSlider(value=3, min=1, max=9, description="n")
    t = widgets.Text(value="a < b", description="title")
    box = viz.panel(_bars, launch="bars_panel(n=3)", n=n, title=t)
    assert box.book and box.children[-1].outputs == ()  # no figure in widget state
    n.value = 5  # the controls still drive .figure (a lecture may set them)
    shown = _shown(monkeypatch, box)
    assert len(shown) == 2
    fig, note = shown[0][0], shown[1][0]
    # the plain figure, not a widget: no ipywidgets view is published
    assert isinstance(fig, go.Figure) and len(fig.data[0].y) == 5
    assert set(note) == {"text/html", "text/plain"} and shown[1][1]
    html = note["text/html"]
    assert html.startswith(f'<div class="{viz.LIVE_CLASS}"')
    assert viz.LIVE_MARK in html and "<code>bars_panel(n=3)</code>" in html
    assert "n = 5; title = a &lt; b" in html  # the state shown, escaped
    assert "widget" not in html and "<input" not in html
    assert note["text/plain"].startswith(viz.LIVE_MARK)
    assert note["text/plain"].endswith("run bars_panel(n=3)")
    # forced live despite the environment
    assert not viz.panel(_bars, book=False, n=3).book


def test_panel_drops_one_step_sliders_and_checks_its_arguments(monkeypatch):
    monkeypatch.setenv(viz.BOOK_ENV, "1")
    one = viz.panel(lambda: slider_figure(lambda v: [viz.go.Bar(y=[v])], [1], "v"))
    assert not one.figure.layout.sliders  # a one-step slider cannot change anything
    two = viz.panel(lambda: slider_figure(lambda v: [viz.go.Bar(y=[v])], [1, 2], "v"))
    assert len(two.figure.layout.sliders[0].steps) == 2
    note = viz.live_note(None)
    assert "run this cell" in note["text/html"] and "<pre" not in note["text/html"]
    with pytest.raises(TypeError, match="builder: expected a callable"):
        viz.panel("not a builder")
    with pytest.raises(TypeError, match="launch: expected the launch code as a str"):
        viz.panel(_bars, launch=3, n=2)


def test_slider_figure_rejects_bad_input():
    import plotly.graph_objects as go

    with pytest.raises(ValueError, match="values: expected at least one"):
        slider_figure(lambda v: [go.Bar()], [], "v")
    with pytest.raises(ValueError, match="traces_at: returned 2 traces"):
        slider_figure(lambda v: [go.Bar()] * v, [1, 2], "v")


def test_gpu_results_file_is_complete_and_plots():
    data = bench.load_results("foundations")
    for key in ("gpu", "torch", "triton", "driver", "effteach"):
        assert data["env"][key]
    assert "H200" in data["env"]["gpu"] and data["created"].startswith("20")
    assert data["method"]["l2_flush"] is True
    fig = softmax_gpu_figure(data)
    assert len(fig.data) == 9  # (triton, torch, copy) x 3 dtypes
    assert {t.name.split()[0] for t in fig.data} == {"triton", "torch", "copy"}
    # the copy ceiling is timed in the same run, next to every softmax record
    assert all("ratio_vs_copy" in r for r in data["records"])
    with pytest.raises(FileNotFoundError, match="python -m effteach.bench nope"):
        bench.load_results("nope")


def test_write_json_atomic_leaves_no_temp(tmp_path):
    bench.write_json_atomic(tmp_path / "x.json", {"a": 1})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1}
    with pytest.raises(TypeError):
        bench.write_json_atomic(tmp_path / "x.json", {"a": object()})
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1}  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_bench_without_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("has a GPU")
    assert bench.main(["foundations"]) == 2
    assert bench.main(["nope"]) == 2


def _cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "effteach.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_doctor_works():
    r = _cli("doctor")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "triton kernel     ok" in r.stdout or "triton kernel" in r.stdout


@pytest.mark.parametrize(
    "args, msg",
    [
        (("frobnicate",), "invalid choice"),
        (("assign", "nope"), "unknown chapter 'nope'"),
        (("assign",), "give one chapter slug or --all"),
        (("bench", "nope"), "no benchmark for 'nope'"),
        (("train", "nope"), "unknown model 'nope'"),
        (("train", "tinygpt_copy", "--device", "cuda"), "trains on the CPU only"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args, msg):
    r = _cli(*args)
    assert r.returncode == 2
    assert msg in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_time_on_the_cpu_is_the_faster_of_two_wall_times():
    calls = []

    def slow_then_fast():
        calls.append(1)
        if len(calls) == 1:
            import time

            time.sleep(0.05)

    ms = bench.time_on("cpu", {"f": slow_then_fast})
    assert len(calls) == 2 and 0 <= ms["f"] < 40
    with pytest.raises(ValueError, match="device"):
        bench.time_on("tpu", {"f": slow_then_fast})
    with pytest.raises(ValueError, match="fns"):
        bench.time_on("cpu", {})
