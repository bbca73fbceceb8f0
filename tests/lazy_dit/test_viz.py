"""Headless tests of the lazy_dit figures: the rho slider, the live panel, the results.

They check data, never pixels: what each slider step shows, that the heatmaps are the
sampler's own record of what it computed, that the sample grid holds the four
samplers' digits, and that moving the panel's controls redraws its figure.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import effteach.lazy_dit as lazy_dit
from effteach import zoo
from effteach.lazy_dit import (
    FullCompute,
    GatePolicy,
    LazyGates,
    lazy_sample,
)
from effteach.lazy_dit.viz import (
    METRICS,
    SAMPLERS,
    LazyRun,
    laziness_figure,
    lazy_panel,
    lazy_run,
    lazy_runs,
    quality_compute_figure,
    run_figure,
    similarity_figure,
    summarize_records,
)

N_STEPS = 5


@pytest.fixture(scope="module")
def dit():
    torch.manual_seed(0)
    return zoo.load("tinydit_digits")


def _gates(scale: float, seed: int = 0) -> LazyGates:
    """Gates with random weights: larger ``scale``, more decisive (and lazier)."""
    g = LazyGates(N_STEPS, 4, 64)
    with torch.no_grad():
        g.weight.copy_(torch.randn(g.weight.shape,
                                   generator=torch.Generator().manual_seed(seed)))
        g.weight.mul_(scale)
    return g


@pytest.fixture(scope="module")
def runs(dit):
    torch.set_num_threads(1)
    return lazy_runs(dit, {1e-5: _gates(0.0), 1e-4: _gates(0.02)}, per_class=1)


def test_zero_gates_compute_everything_and_equal_the_full_sampler(runs):
    zero = runs[0]
    assert zero.rho == 1e-5 and zero.laziness == 0.0
    assert zero.ddim_steps == N_STEPS and (zero.computed == 1).all()
    for key in SAMPLERS:
        np.testing.assert_array_equal(zero.samples[key], zero.samples["full"])
        assert zero.rmse[key] == 0.0


def test_a_run_is_the_lazy_samplers_own_record(dit, runs):
    run = runs[1]
    assert 0.1 < run.laziness < 0.9
    labels = torch.arange(10)
    x, rec = lazy_sample(dit, labels, N_STEPS, GatePolicy(run.gates))
    np.testing.assert_array_equal(run.computed * rec.rows, rec.computed.numpy())
    assert run.laziness == pytest.approx(rec.laziness)
    assert (run.computed[0] == 1).all()  # step 0 has no cache: always computed
    np.testing.assert_allclose(run.samples["lazy"], x.clamp(-1, 1)[:, 0].numpy())
    full, _ = lazy_sample(dit, labels, N_STEPS, FullCompute())
    assert run.rmse["lazy"] == pytest.approx(float(((x - full) ** 2).mean().sqrt()))
    assert run.ddim_steps == round(N_STEPS * (1 - run.laziness))
    assert run.labels.tolist() == list(range(10))


def test_laziness_figure_slider_shows_one_run_per_step(runs):
    fig = laziness_figure(runs, active=1)
    assert len(fig.data) == 3 * len(runs)
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["1e-05", "0.0001"]
    assert fig.layout.sliders[0].active == 1
    for i, (step, run) in enumerate(zip(steps, runs, strict=True)):
        visible = step.args[0]["visible"]
        assert visible == [j // 3 == i for j in range(len(fig.data))]
        assert f"laziness {run.laziness:.0%}" in step.args[1]["title.text"]
        assert step.args[1]["yaxis3.ticktext"][2] == f"DDIM, {run.ddim_steps} steps"
        attn, mlp, grid = fig.data[3 * i : 3 * i + 3]
        np.testing.assert_allclose(attn.z, 1 - run.computed[:, :, 0].T, atol=1e-4)
        np.testing.assert_allclose(mlp.z, 1 - run.computed[:, :, 1].T, atol=1e-4)
        assert (attn.xaxis, mlp.xaxis, grid.xaxis) == ("x", "x2", "x3")
    # the initial state is the active run's
    assert [tr.visible for tr in fig.data] == [False] * 3 + [True] * 3
    assert fig.layout.title.text == steps[1].args[1]["title.text"]
    assert "rho = 0.0001" in fig.layout.title.text


def test_samples_grid_rows_are_the_four_samplers(runs):
    run = runs[1]
    fig = run_figure(run, columns=3)
    grid = np.array(fig.data[2].z, dtype=float)  # None -> nan: the gaps
    size = 8
    assert grid.shape == (4 * size + 3 * 2, 3 * size + 2 * 2)
    for r, key in enumerate(SAMPLERS):
        for c in range(3):
            block = grid[r * 10 : r * 10 + size, c * 10 : c * 10 + size]
            np.testing.assert_allclose(block, run.samples[key][c], atol=5e-4)
    assert np.isnan(grid[size : size + 2]).all()  # the gap between two samplers
    assert list(fig.layout.yaxis3.ticktext) == [
        "full DDIM", f"LazyDiT ({run.laziness:.0%} lazy)",
        f"DDIM, {run.ddim_steps} steps", "random skip",
    ]


def test_panel_redraws_when_rho_or_threshold_move(dit, runs):
    box = lazy_panel(dit, runs)
    assert set(box.runs) == {(1e-5, 0.5), (1e-4, 0.5)}
    box.rho.value = 1e-4
    assert box.figure.layout.title.text.startswith("rho = 0.0001: laziness")
    assert box.figure.data[0].z == run_figure(runs[1]).data[0].z  # the stored run
    box.threshold.value = 0.6  # a stricter gate: computes less, lazier
    stricter = box.runs[(1e-4, 0.6)]
    assert stricter.laziness > runs[1].laziness
    np.testing.assert_allclose(box.figure.data[0].z,
                               1 - stricter.computed[:, :, 0].T, atol=1e-4)
    np.testing.assert_array_equal(stricter.samples["full"], runs[1].samples["full"])
    box.rho.value = 1e-5
    assert (1e-5, 0.6) in box.runs and f"{box.runs[(1e-5, 0.6)].laziness:.0%}" in (
        box.figure.layout.title.text
    )


def test_panel_in_the_book_is_figure_and_note(dit, runs, monkeypatch):
    monkeypatch.setenv("EFFTEACH_BOOK", "1")
    box = lazy_panel(dit, runs)
    assert box.book and box.launch == "lazy_panel(model, runs)"
    assert set(box.controls) == {"rho", "threshold"}
    assert not box.figure.layout.sliders and not box.figure.layout.updatemenus
    assert box.children[-1].outputs == ()
    box.rho.value = 1e-4
    assert box.figure.data[0].z == run_figure(runs[1]).data[0].z


def _records():
    rows = []
    for seed in (0, 1, 2):
        base = {"kind": "input", "variant": "all", "rho": 3e-5, "seed": seed,
                "n_steps": 20}
        for method, macs, fd in (("lazy", 60e6, 90 + seed), ("full", 100e6, 95.0),
                                 ("random_skip", 61e6, 120 + 2 * seed)):
            rows.append({**base, "method": method, "laziness": 1 - macs / 100e6,
                         "macs_per_image": macs, "fd_to_test": fd,
                         "rmse_to_full": 0.01 * (seed + 1), "class_accuracy": 0.99})
        rows.append({**base, "method": "ddim_fewer_steps", "ddim_steps": 12 + seed,
                     "laziness": 0.4, "macs_per_image": 58e6 + seed * 1e6,
                     "fd_to_test": 100.0, "rmse_to_full": 0.05,
                     "class_accuracy": 0.98})
    # the full sampler repeats under a second config: counted once per seed
    rows += [{**r, "rho": 1e-4} for r in rows if r["method"] == "full"]
    return rows


def test_summary_means_and_stds_over_seeds():
    summary = {s["group"]: s for s in summarize_records(_records())}
    lazy = summary["LazyDiT (input gate, all steps)"]
    assert lazy["n_seeds"] == 3 and lazy["fd_to_test_mean"] == pytest.approx(91)
    assert lazy["fd_to_test_std"] == pytest.approx(1.0)
    assert summary["full DDIM"]["n_seeds"] == 3
    assert summary["DDIM, fewer steps"]["ddim_steps"] == [12, 13, 14]
    assert summary["random skip"]["fd_to_test_std"] == pytest.approx(2.0)


def test_quality_compute_figure_has_a_metric_slider():
    fig = quality_compute_figure({"records": _records(), "created": "2026-11-29"})
    n_groups = 4
    assert len(fig.data) == n_groups * len(METRICS)
    steps = fig.layout.sliders[0].steps
    assert [s.label for s in steps] == ["FD", "paired RMSE", "accuracy"]
    for i, (step, metric) in enumerate(zip(steps, METRICS, strict=True)):
        assert step.args[0]["visible"] == [
            j // n_groups == i for j in range(len(fig.data))
        ]
        assert METRICS[metric][0] in step.args[1]["yaxis.title.text"]
    lazy = fig.data[0]
    assert lazy.name.startswith("LazyDiT") and lazy.x == (60.0,)
    assert lazy.y == (91.0,) and lazy.error_y.array == (1.0,)
    rmse = [tr for tr in fig.data[n_groups : 2 * n_groups] if tr.name == "random skip"]
    assert rmse[0].y == (pytest.approx(0.02),)
    assert "2026-11-29" in fig.layout.title.text


def test_similarity_figure_draws_both_modules_and_kappa():
    cos = torch.rand(4, 3, 2, dtype=torch.float64) * 0.1 + 0.9
    fig = similarity_figure(cos, kappa=[-0.6, -0.5, -0.4, -0.3, -0.2])
    attn, mlp, kappa = fig.data
    np.testing.assert_allclose(attn.z, cos[:, :, 0].T.numpy(), atol=1e-5)
    np.testing.assert_allclose(mlp.z, cos[:, :, 1].T.numpy(), atol=1e-5)
    assert list(attn.x) == [1, 2, 3, 4] and kappa.y == (0.6, 0.5, 0.4, 0.3, 0.2)
    assert attn.zmin == math.floor(float(cos.min()) * 100) / 100
    assert len(similarity_figure(cos).data) == 2


def test_viz_names_load_lazily_from_the_package():
    assert lazy_dit.laziness_figure is laziness_figure
    assert lazy_dit.LazyRun is LazyRun
    assert "lazy_panel" in lazy_dit.__all__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lazy_dit.nope  # noqa: B018


def test_bad_inputs_name_the_argument(dit, runs):
    with pytest.raises(ValueError, match="runs"):
        laziness_figure([])
    with pytest.raises(ValueError, match="columns"):
        laziness_figure(runs, columns=11)
    with pytest.raises(TypeError, match="gates"):
        lazy_run(dit, "not gates", 1e-5)
    with pytest.raises(ValueError, match="gates"):
        lazy_run(dit, LazyGates(N_STEPS, 2, 64), 1e-5)
    with pytest.raises(ValueError, match="threshold"):
        lazy_run(dit, _gates(0.0), 1e-5, threshold=1.0)
    with pytest.raises(ValueError, match="per_class"):
        lazy_run(dit, _gates(0.0), 1e-5, per_class=0)
    with pytest.raises(ValueError, match="gate_sets"):
        lazy_runs(dit, {})
    with pytest.raises(ValueError, match="gate_sets"):
        lazy_runs(dit, {1e-5: _gates(0.0), 1e-4: LazyGates(3, 4, 64)})
    with pytest.raises(ValueError, match="metrics"):
        quality_compute_figure({"records": _records()}, metrics=("fid",))
    with pytest.raises(ValueError, match="records"):
        summarize_records([{"method": "lazy"}])
    with pytest.raises(ValueError, match="cos"):
        similarity_figure(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="kappa"):
        similarity_figure(torch.zeros(3, 4, 2), kappa=[1.0])
    with pytest.raises(ValueError, match="thresholds"):
        lazy_panel(dit, runs, thresholds=(0.6, 0.7, 0.05))
