import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import effteach
from effteach import bench, device
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


def test_show_source_rejects_non_code():
    with pytest.raises(TypeError, match="obj: expected a function"):
        effteach.show_source(3)


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
    with pytest.raises(ValueError, match="temperatures: every value must be > 0"):
        temperature_figure(temperatures=(1.0, 0.0))


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
    assert len(fig.data) == 6  # (triton, torch) x 3 dtypes
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
