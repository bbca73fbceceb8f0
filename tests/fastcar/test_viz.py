"""Figures headless: trace counts, slider steps, the live panel following controls."""

import numpy as np
import torch

from effteach import zoo
from effteach.fastcar import calibrate_tau, replay_decode
from effteach.fastcar.viz import (
    OPS,
    crossover_figure,
    fpga_figure,
    fpga_panel,
    gantt_figure,
    random_pattern,
    replay_figure,
)
from effteach.models.training import VIDEO_TEST_SEED, video_batch


def test_replay_figure_has_one_step_per_run():
    model = zoo.load("tinyarvideo").eval()
    tok = model.tokenize(video_batch(2, VIDEO_TEST_SEED).video)
    prompt, n_new = tok[:, :32], 32
    dense = replay_decode(model, prompt, n_new)
    runs = {f"{t:.0%}": replay_decode(model, prompt, n_new,
                                      tau=calibrate_tau(dense.tas, t))
            for t in (0.2, 0.8)}
    fig = replay_figure(model, dense, runs)
    assert len(fig.data) == 4 and len(fig.layout.sliders[0].steps) == 2
    assert [t.visible for t in fig.data] == [True, True, False, False]
    heat = np.asarray(fig.data[2].z)
    assert heat.shape[0] == model.cfg.n_layers and heat.max() <= 1


def test_fpga_figure_slider_and_titles():
    fig = fpga_figure(batch=8, ratios=(0.0, 0.5))
    steps = fig.layout.sliders[0].steps
    assert len(steps) == 4 and len(fig.data) == 4 * len(OPS)
    assert all("cycles" in s.args[1]["title"] for s in steps)


def test_gantt_and_panel_follow_controls():
    fig = gantt_figure(batch=4, ratio=1.0)
    mlp_bars = [t for t in fig.data if t.name in ("gate_up", "down")]
    assert all(len(t.x) == 0 for t in mlp_bars)  # full replay: no MLP
    box = fpga_panel()
    before = box.figure.layout.title.text
    box.controls["scheduler"].value = "static"
    assert box.figure.layout.title.text.startswith("static") and before != (
        box.figure.layout.title.text)
    assert random_pattern(10, 0.3).sum() == 3


def test_crossover_figure_with_gpu_curves():
    fig = crossover_figure([1, 2], [3.0, 2.0], {"dense": ([1, 2], [5.0, 3.0])})
    assert len(fig.data) == 2 and fig.data[1].xaxis == "x2"
    torch.manual_seed(0)
