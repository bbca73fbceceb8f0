"""DraftAttention on the zoo's TinyVideoDiT: quality against sparsity.

Every attention layer of the model is replaced by :func:`draft_attention` (or a
baseline mask of the same density: random or sliding-window blocks); sampling uses
the same starting noise as the dense rollout, so the difference between the two
videos is the effect of the sparse attention alone. Measured per configuration:

* PSNR and SSIM of the generated frames against the dense rollout (same noise) and
  against the true clip, and the trajectory error of the moving object
  (:func:`effteach.models.training.score_rollouts`);
* per attention call, the relative output error against dense attention on the
  same ``q, k, v`` and the attention mass the mask drops (the quantity of the
  output-error bound).

``python -m effteach.draft_attention.experiments`` writes
``results/cpu/draft_attention.json`` (about a minute on 2 cores); the lecture and
the ledger read that file.

Paper: Section 4 (quality at 75-90 % sparsity against other sparse attentions).
Book: notebooks/draft_attention/lecture.md, "Experiments".
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from effteach.checks import check_int, check_sequence
from effteach.draft_attention.draft import (
    MASK_KINDS,
    DraftConfig,
    baseline_blocks,
    draft_map,
    pool_draft,
    select_blocks,
    token_mask,
    window_ids,
)

#: TinyVideoDiT's token layout: 8 frames of 4 x 4 patch tokens
LAYOUT = (8, 4, 4)
#: the pooling window (2 x 2 tokens: 4 windows a frame, 32 draft tokens)
WINDOW = (2, 2)
SPARSITIES = (0.5, 0.75, 0.9)
#: the protocol: test clips, DDIM steps (the zoo's), seed of the starting noise
PROTOCOL = {"n_clips": 16, "n_steps": 25, "seed": 0, "clip_seed": 999_983}
RESULTS = (Path(__file__).resolve().parents[2] / "results" / "cpu"
           / "draft_attention.json")


def attention_fn(config: DraftConfig, layer: int, state: dict,
                 layout: tuple[int, int, int] = LAYOUT):
    """An ``attn_fn`` for one layer of TinyVideoDiT running ``config``.

    Args:
        config: the sparse attention (sparsity, window, mode, kind, dense warm-up
            steps and dense first layers).
        layer: the layer's index (dense when ``layer < config.dense_layers``).
        state: shared with the sampler: ``state["step"]`` is the current DDIM
            step; per-call statistics are appended to ``state["calls"]`` (relative
            output error against dense attention, dropped attention mass,
            measured density) when it holds a list.
        layout: ``(n_frames, height, width)`` of the tokens.

    Paper: Algorithm 1; dense warm-up and dense first layers as in Section 4.1 and
        the code.
    Book: notebooks/draft_attention/lecture.md, "Experiments".
    """
    if not isinstance(config, DraftConfig):
        raise TypeError(f"config: expected a DraftConfig, got {type(config).__name__}")
    layer = check_int("layer", layer, 0)
    if not isinstance(state, dict):
        raise TypeError(f"state: expected a dict, got {type(state).__name__}")
    f, h, w = (check_int(f"layout[{i}]", x, 1)
               for i, x in enumerate(check_sequence("layout", layout, length=3)))
    ids = window_ids(f, h, w, config.window)

    def fn(q, k, v, causal=False):
        scale = 1 / math.sqrt(q.shape[-1])
        s = (q.float() @ k.float().transpose(-1, -2)) * scale
        p = torch.softmax(s, -1)
        dense = p @ v.float()
        if state.get("step", 0) < config.dense_steps or layer < config.dense_layers:
            return dense.to(q.dtype)
        dmap = draft_map(pool_draft(q, f, h, w, config.window),
                         pool_draft(k, f, h, w, config.window))
        bm = select_blocks(dmap, config.sparsity, config.mode)
        if config.kind != "draft":
            bm = baseline_blocks(tuple(bm.shape[:3]), bm, config.kind,
                                 seed=state.get("step", 0) * 131 + layer)
        mask = token_mask(bm, ids)
        ps = torch.softmax(s.masked_fill(~mask, float("-inf")), -1)
        out = ps @ v.float()
        calls = state.get("calls")
        if isinstance(calls, list):
            calls.append({
                "rel_err": float((out - dense).norm() / dense.norm()),
                "dropped_mass": float((p * ~mask).sum(-1).mean()),
                "density": float(bm.float().mean()),
                "step": state.get("step", 0), "layer": layer,
            })
        return out.to(q.dtype)

    return fn


@torch.no_grad()
def draft_rollout(model, clips, config: DraftConfig | None = None, seed: int = 0,
                  n_steps: int = 25, calls: list | None = None) -> torch.Tensor:
    """DDIM rollout of TinyVideoDiT with DraftAttention in every attention layer.

    ``config=None`` samples with dense attention. The starting noise depends on
    ``seed`` only, so rollouts of different configurations share it.

    Args:
        model: the zoo's ``TinyVideoDiT`` (``zoo.load("tinyvideodit")``).
        clips: :class:`~effteach.data.MovingShapes` (their first frames are the
            context).
        config: the sparse attention, or ``None`` for dense.
        seed: seed of the starting noise.
        n_steps: DDIM steps.
        calls: if a list, per-attention-call statistics are appended to it.

    Returns:
        Clips in [0, 1], shape of ``clips.video``.

    Paper: Section 4 (sampling with DraftAttention, dense warm-up steps).
    Book: notebooks/draft_attention/lecture.md, "Experiments".
    """
    from effteach.models import TinyVideoDiT
    from effteach.models.diffusion import Schedule, ddim_sample
    from effteach.models.training import N_CONTEXT

    if not isinstance(model, TinyVideoDiT):
        raise TypeError(f"model: expected a TinyVideoDiT, got {type(model).__name__}")
    if config is not None and not isinstance(config, DraftConfig):
        raise TypeError(f"config: expected a DraftConfig or None, got "
                        f"{type(config).__name__}")
    seed = check_int("seed", seed)
    n_steps = check_int("n_steps", n_steps, 1, 1000)
    if calls is not None and not isinstance(calls, list):
        raise TypeError(f"calls: expected a list or None, got {type(calls).__name__}")
    video = getattr(clips, "video", None)
    if not isinstance(video, torch.Tensor) or video.dim() != 5:
        raise TypeError("clips: expected MovingShapes clips with a 5-D .video")
    cfg = model.cfg
    layout = (cfg.n_frames, cfg.img_size // cfg.patch, cfg.img_size // cfg.patch)
    state: dict = {"step": -1, "calls": calls}
    if config is not None:
        for i, blk in enumerate(model.blocks):
            blk.attn.attn_fn = attention_fn(config, i, state, layout)
    x = video * 2 - 1  # the model works in [-1, 1]
    ctx = model.context_input(x)
    ab = Schedule().alphas_cumprod().float()

    def eps_fn(xt, t, _y):
        state["step"] += 1
        pred = model(xt, t, ctx)
        if cfg.prediction == "eps":
            return pred
        a_t = ab[t].view(-1, 1, 1, 1, 1)
        return (xt - a_t.sqrt() * pred) / (1 - a_t).sqrt()

    try:
        out = ddim_sample(eps_fn, tuple(x.shape), torch.zeros(len(x), dtype=torch.long),
                          Schedule(), n_steps=n_steps, seed=seed)
    finally:
        model.set_attention_fn(None)
    out[:, :N_CONTEXT] = x[:, :N_CONTEXT]
    return ((out + 1) / 2).clamp(0, 1)


def _versus_dense(pred, dense, n_context):
    from effteach.metrics import psnr, ssim

    a = pred[:, n_context:].flatten(0, 1)
    b = dense[:, n_context:].flatten(0, 1)
    return float(psnr(a, b, 1.0)), float(ssim(a, b, 1.0))


def quality_sweep(sparsities=SPARSITIES, kinds=MASK_KINDS, n_clips: int = 16,
                  n_steps: int = 25, seed: int = 0, dense_steps: int = 0) -> dict:
    """Dense and sparse rollouts with the same noise; quality and attention errors.

    Returns:
        ``{"dense": {...}, "records": [...]}``: per (kind, sparsity), the PSNR/SSIM
        against the dense rollout, the scores against the truth, and the mean
        relative attention-output error, dropped mass and density over calls.

    Book: notebooks/draft_attention/lecture.md, "Experiments".
    """
    from effteach import zoo
    from effteach.models.training import N_CONTEXT, score_rollouts, video_batch

    sparsities = [float(s) for s in check_sequence("sparsities", sparsities)]
    kinds = check_sequence("kinds", kinds)
    for kd in kinds:
        if kd not in MASK_KINDS:
            raise ValueError(f"kinds: expected items of {MASK_KINDS}, got {kd!r}")
    n_clips = check_int("n_clips", n_clips, 1)
    model = zoo.load("tinyvideodit")
    clips = video_batch(n_clips, seed=PROTOCOL["clip_seed"])
    dense = draft_rollout(model, clips, None, seed, n_steps)
    out = {"dense": score_rollouts(dense, clips), "records": []}
    for kind in kinds:
        for s in sparsities:
            calls: list = []
            cfg = DraftConfig(sparsity=s, window=WINDOW, kind=kind,
                              dense_steps=dense_steps)
            pred = draft_rollout(model, clips, cfg, seed, n_steps, calls)
            p, q = _versus_dense(pred, dense, N_CONTEXT)
            sc = score_rollouts(pred, clips)
            n = max(1, len(calls))
            out["records"].append({
                "kind": kind, "sparsity": s, "dense_steps": dense_steps,
                "psnr_vs_dense": p, "ssim_vs_dense": q,
                "psnr_vs_truth": sc["model_psnr"], "ssim_vs_truth": sc["model_ssim"],
                "trajectory_error_px": sc["model_trajectory_error_px"],
                "object_found": sc["model_object_found"],
                "attn_rel_err": sum(c["rel_err"] for c in calls) / n,
                "dropped_mass": sum(c["dropped_mass"] for c in calls) / n,
                "density": sum(c["density"] for c in calls) / n,
            })
    return out


def load_results(path: str | Path | None = None) -> dict:
    """Read ``results/cpu/draft_attention.json`` (made by this module's command)."""
    import json

    p = Path(path) if path is not None else RESULTS
    if not p.is_file():
        raise FileNotFoundError(f"{p}: run `python -m effteach.draft_attention."
                                "experiments` to make it")
    return json.loads(p.read_text())


def main(argv=None) -> int:
    """Command line: write the quality sweep to ``results/cpu/draft_attention.json``."""
    import json
    import time

    from effteach.io import atomic_write_text

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    data = {"protocol": {**PROTOCOL, "window": WINDOW, "layout": LAYOUT,
                         "sparsities": SPARSITIES, "model": "tinyvideodit"}}
    data["no_warmup"] = quality_sweep(dense_steps=0, **{
        k: PROTOCOL[k] for k in ("n_clips", "n_steps", "seed")})
    data["warmup_25pct"] = quality_sweep(dense_steps=6, kinds=("draft",), **{
        k: PROTOCOL[k] for k in ("n_clips", "n_steps", "seed")})
    data["seconds"] = time.perf_counter() - t0
    data["torch"] = torch.__version__
    a.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(a.out, json.dumps(data, indent=1) + "\n")
    print(json.dumps(data["no_warmup"]["records"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
