"""FastCar's experiments at small scale: replay ratio, speed and quality on TinyARVideo.

Every comparison decodes the same clips from the same two context frames, greedily
(the zero-noise case of "identical sampling noise"), so a difference between two
rollouts is caused by the method, not by sampling. Quality is measured against the
dense rollout (PSNR, SSIM, token agreement, per-frame PSNR = drift) and against the
ground truth (trajectory error of the moving object, the zoo's metric).

Paper: FastCar (arXiv 2505.14709), Sec. 4 (quality vs replay ratio, sparse attention).
Book: notebooks/fastcar/lecture.md, "Experiments".
"""

from __future__ import annotations

import math

import sympy as sp
import torch

from effteach.checks import check_int, typed
from effteach.fastcar.replay import DecodeResult, calibrate_tau, replay_decode

__all__ = [
    "PAPER_ROWS",
    "load_setup",
    "rollout_video",
    "compare",
    "timed",
    "interleaved_speedup",
    "mlp_share",
    "saved_fraction",
    "implied_mlp_share",
    "systolic_cycles",
]

#: The paper's FPGA latency rows [secondary source, to be checked against the PDF]:
#: (label, replay ratio, latency in s); dense is 689.7 s.
PAPER_ROWS = [("dense", 0.0, 689.7), ("replay 20%", 0.2, 556.8),
              ("replay 50%", 0.5, 475.3), ("replay 80%", 0.8, 390.7)]


@typed
def load_setup(n_clips: int = 16, seed: int = 999_983):
    """The zoo's TinyARVideo, ``n_clips`` test clips and their 2-frame prompts.

    Returns:
        ``(model, clips, prompt, n_new)``.
    """
    from effteach import zoo
    from effteach.models.training import N_CONTEXT, video_batch

    check_int("n_clips", n_clips, low=1)
    model = zoo.load("tinyarvideo").eval()
    clips = video_batch(n_clips, seed)
    n = model.cfg.tokens_per_frame
    with torch.no_grad():
        tokens = model.tokenize(clips.video)
    n_new = (model.cfg.n_frames - N_CONTEXT) * n
    return model, clips, tokens[:, : N_CONTEXT * n], n_new


def rollout_video(model, result: DecodeResult) -> torch.Tensor:
    """Decoded frames (B, n_frames, 1, H, W) of a decode result."""
    with torch.no_grad():
        return model.detokenize(result.tokens)


def compare(model, clips, dense: DecodeResult, other: DecodeResult) -> dict:
    """Quality of ``other`` against the dense rollout and against the ground truth."""
    from effteach.metrics import ssim
    from effteach.models.training import N_CONTEXT, score_rollouts

    a, b = rollout_video(model, dense), rollout_video(model, other)
    pa, pb = a[:, N_CONTEXT:], b[:, N_CONTEXT:]
    n_prompt = dense.tokens.shape[1] - dense.logits.shape[0]
    same = (dense.tokens[:, n_prompt:] == other.tokens[:, n_prompt:]).float()
    mse = ((pa - pb) ** 2).mean(dim=(0, 2, 3, 4))  # per predicted frame
    per_frame = [float(10 * torch.log10(1 / m)) if m > 0 else math.inf for m in mse]
    truth = score_rollouts(b, clips)
    return {
        "replay_ratio": other.replay_ratio,
        "token_agreement": float(same.mean()),
        # pooled over all predicted frames (a mean of per-frame PSNRs is inf as soon
        # as one frame is identical)
        "psnr_vs_dense": float(10 * torch.log10(1 / mse.mean())) if mse.mean() > 0
        else math.inf,
        "ssim_vs_dense": float(ssim(pa.flatten(0, 1).clamp(0, 1),
                                    pb.flatten(0, 1).clamp(0, 1), 1.0)),
        "psnr_per_frame": per_frame,
        "trajectory_error_px": truth["model_trajectory_error_px"],
        "psnr_vs_truth": truth["model_psnr"],
        "object_found": truth["model_object_found"],
    }


def timed(model, prompt, n_new: int, repeats: int = 2, **kwargs) -> DecodeResult:
    """Best-of-``repeats`` decode (the result of the fastest run)."""
    check_int("repeats", repeats, low=1)
    best = None
    for _ in range(repeats):
        r = replay_decode(model, prompt, n_new, **kwargs)
        if best is None or r.seconds < best.seconds:
            best = r
    return best


def interleaved_speedup(model, prompt, n_new: int, repeats: int = 3, **kwargs):
    """Dense and variant decodes timed alternately, best of ``repeats`` each.

    Alternating the two runs exposes both to the same load on a shared machine.

    Returns:
        ``(speedup, mlp_speedup, result)``: dense / variant wall time and MLP time,
        and the variant's fastest :class:`DecodeResult`.
    """
    check_int("repeats", repeats, low=1)
    best_d = best_v = None
    for _ in range(repeats):
        d = replay_decode(model, prompt, n_new)
        v = replay_decode(model, prompt, n_new, **kwargs)
        best_d = d if best_d is None or d.seconds < best_d.seconds else best_d
        best_v = v if best_v is None or v.seconds < best_v.seconds else best_v
    return (best_d.seconds / best_v.seconds, best_d.mlp_seconds / best_v.mlp_seconds
            if best_v.mlp_seconds else math.inf, best_v)


def calibrated(dense: DecodeResult, target: float, per_layer: bool = False):
    """Thresholds for ``target`` from the dense run's TAS (a thin alias)."""
    return calibrate_tau(dense.tas, target, per_layer=per_layer)


# ------------------------------------------------------------------ SymPy
def mlp_share(d=None, d_ff=None, ctx=None):
    """MLP share of a decoder layer's decode MACs per token (SymPy expression).

    Projections 4 d^2, SwiGLU 3 d d_ff, attention over ``ctx`` cached tokens
    2 ctx d (scores and weighted sum). Symbols when arguments are ``None``.
    """
    d = sp.Symbol("d", positive=True) if d is None else sp.sympify(d)
    f = sp.Symbol("d_ff", positive=True) if d_ff is None else sp.sympify(d_ff)
    c = sp.Symbol("L", nonnegative=True) if ctx is None else sp.sympify(ctx)
    return 3 * d * f / (4 * d**2 + 3 * d * f + 2 * c * d)


def saved_fraction(rho=None, n_frames=None, share=None):
    """Share of decode MACs saved at replay ratio rho over frames 2..T.

    ``rho (T - 1) / T * f``: the first frame never replays.
    """
    r = sp.Symbol("rho", nonnegative=True) if rho is None else sp.nsimplify(rho)
    t = sp.Symbol("T", positive=True) if n_frames is None else sp.sympify(n_frames)
    f = sp.Symbol("f", positive=True) if share is None else sp.nsimplify(share)
    return r * (t - 1) / t * f


def implied_mlp_share(speedup, rho, n_frames: int = 8):
    """The MLP time share f that Amdahl's law needs for ``speedup`` at ``rho``.

    Solves ``speedup = 1 / (1 - rho (T-1)/T f)`` for f (exact rational).
    """
    f = sp.Symbol("f", positive=True)
    eq = sp.Eq(sp.nsimplify(speedup),
               1 / (1 - saved_fraction(sp.nsimplify(rho), n_frames, f)))
    (sol,) = sp.solve(eq, f)
    return sol


def systolic_cycles(m=None, k=None, n=None, rows=None, cols=None):
    """Output-stationary fold count times per-fold cycles (SCALE-Sim 3.0 rule)."""
    m_, k_, n_ = (sp.Symbol(s, positive=True, integer=True) if v is None
                  else sp.Integer(v) for s, v in (("m", m), ("k", k), ("n", n)))
    r_, c_ = (sp.Symbol(s, positive=True, integer=True) if v is None
              else sp.Integer(v) for s, v in (("R", rows), ("C", cols)))
    return sp.ceiling(m_ / r_) * sp.ceiling(n_ / c_) * (r_ + c_ + k_ - 2)
