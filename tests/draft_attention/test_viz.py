"""Headless tests of the draft_attention figures and panels (data, never pixels)."""

from __future__ import annotations

import torch

from effteach.draft_attention import load_results, select_blocks
from effteach.draft_attention.viz import (
    draft_figure,
    draft_panel,
    frames_figure,
    frames_panel,
    gpu_figure,
    quality_figure,
)


def _qk():
    g = torch.Generator().manual_seed(0)
    return tuple(torch.randn(1, 2, 32, 8, generator=g) for _ in range(2))


def test_draft_figure_slider_shows_each_sparsity():
    q, k = _qk()
    fig = draft_figure(q, k, (2, 4, 4), (2, 2), (0.5, 0.9), head=1)
    assert len(fig.data) == 8 and len(fig.layout.sliders[0].steps) == 2
    kept50 = torch.tensor(fig.data[1].z).sum()
    kept90 = torch.tensor(fig.data[5].z).sum()
    assert kept50 > kept90
    reordered = torch.tensor(fig.data[7].z)  # 90 %: whole 4 x 4 token blocks
    blocks = torch.tensor(fig.data[5].z).repeat_interleave(4, 0).repeat_interleave(4, 1)
    assert torch.equal(reordered, blocks)
    steps = fig.layout.sliders[0].steps
    assert steps[1].args[0]["visible"] == [False] * 4 + [True] * 4


def test_draft_panel_redraws_on_the_slider():
    q, k = _qk()
    box = draft_panel(q, k, (2, 4, 4), (2, 2))
    before = torch.tensor(box.figure.data[1].z).sum()
    box.sparsity.value = 0.9
    after = torch.tensor(box.figure.data[1].z).sum()
    assert after < before
    dm = torch.tensor(box.figure.data[0].z)[None, None]
    assert torch.equal(torch.tensor(box.figure.data[1].z).bool(),
                       select_blocks(dm, 0.9)[0, 0])


def test_frames_figure_and_panel():
    vid = {s: {"dense": torch.rand(4, 3, 3), "draft": torch.rand(4, 3, 3)}
           for s in (0.5, 0.9)}
    fig = frames_figure(vid, n_context=2)
    assert len(fig.data) == 2 * 2 * 2 and len(fig.layout.sliders[0].steps) == 2
    box = frames_panel(vid, 2)
    box.sparsity.value = 0.9
    assert torch.allclose(torch.tensor(box.figure.data[0].z), vid[0.9]["dense"][2])


def test_quality_and_gpu_figures():
    fig = quality_figure(load_results())
    assert len(fig.data) == 8  # 3 kinds + warm-up, PSNR and SSIM
    fake = {"env": {"gpu": "H200"}, "records": [
        {"n": 32768, "dtype": dt, "ms": {"sdpa_cudnn": 2.0, "triton_0.9": 0.3}}
        for dt in ("float16", "bfloat16")]}
    g = gpu_figure(fake)
    assert len(g.layout.sliders[0].steps) == 2 and len(g.data) == 16
