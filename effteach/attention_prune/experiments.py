"""Experiments on the zoo's TinyGPT: the sparsity sweep and the convergence study.

``python -m effteach.attention_prune.experiments`` prunes W_Q and W_K of every head
of ``tinygpt_text`` with every method of :data:`~effteach.attention_prune.prune.METHODS`
at sparsities 30-90 %, measures the attention-matrix error on 8 held-out
sequences and the perplexity on the whole validation split, and writes
``results/cpu/attention_prune.json`` with its environment (a few minutes on 2 CPU
cores). The lecture re-runs one point and asserts it matches the file.

Book: notebooks/attention_prune/lecture.md, "Experiments" and "Convergence".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from effteach.attention_prune.objective import descend, qk_grad, qk_loss, qk_scores
from effteach.attention_prune.prune import (
    METHODS,
    attention_error,
    attention_inputs,
    calibration_tokens,
    heldout_perplexity,
    prune_model,
)
from effteach.checks import check_float, check_int, typed
from effteach.models.gpt import TinyGPT

__all__ = [
    "RESULTS_PATH",
    "SPARSITIES",
    "EVAL_SEED",
    "run_point",
    "sweep",
    "table",
    "smoothness",
    "convergence",
]

RESULTS_PATH = (Path(__file__).resolve().parents[2] / "results" / "cpu"
                / "attention_prune.json")
SPARSITIES = (0.3, 0.5, 0.7, 0.8, 0.9)
EVAL_SEED = 12345  # held-out training windows for the attention error


@typed
def run_point(model: TinyGPT, method: str, sparsity: float, seed: int = 0,
              max_windows: int | None = None) -> dict:
    """Prune with calibration ``seed``; measure attention error and perplexity.

    Returns:
        ``{"method", "sparsity", "seed", "attn_err", "ppl", "seconds"}``.

    Book: notebooks/attention_prune/lecture.md, "Experiments".
    """
    sparsity = check_float("sparsity", sparsity, low=0.0)
    t = time.perf_counter()
    pruned = prune_model(model, calibration_tokens(seed), method, sparsity, seed=seed)
    sec = time.perf_counter() - t
    return {"method": method, "sparsity": sparsity, "seed": seed,
            "attn_err": attention_error(model, pruned,
                                        calibration_tokens(EVAL_SEED)),
            "ppl": heldout_perplexity(pruned, max_windows=max_windows),
            "seconds": round(sec, 2)}


def sweep(model: TinyGPT, sparsities=SPARSITIES, methods=METHODS,
          seed: int = 0) -> list[dict]:
    """Every (method, sparsity) point plus the dense model (``sparsity`` 0)."""
    recs = [{"method": "dense", "sparsity": 0.0, "seed": seed, "attn_err": 0.0,
             "ppl": heldout_perplexity(model), "seconds": 0.0}]
    for s in sparsities:
        for m in methods:
            recs.append(run_point(model, m, s, seed))
            print(json.dumps(recs[-1]), flush=True)
    return recs


def table(records: list[dict], key: str) -> dict[str, dict[float, float]]:
    """``{method: {sparsity: value}}`` of ``key`` ("attn_err" or "ppl")."""
    if not isinstance(records, list | tuple) or not all(
            isinstance(r, dict) for r in records):
        raise TypeError("records: expected a list of result dicts (the 'records' "
                        "of the results file)")
    if key not in ("attn_err", "ppl"):
        raise ValueError(f"key: expected 'attn_err' or 'ppl', got {key!r}")
    out: dict[str, dict[float, float]] = {}
    for r in records:
        out.setdefault(r["method"], {})[float(r["sparsity"])] = float(r[key])
    return out


def _head_problem(model, layer, head, seed, n):
    from effteach.attention_prune.prune import _head, _rope

    x = attention_inputs(model, calibration_tokens(seed, n))[layer]
    wq, wk, _ = _head(model, layer, head)
    rope = _rope(model, x.shape[1])
    return x, wq, wk, rope, qk_scores(x, wq, wk, True, rope)


@typed
def smoothness(x, wq, wk, mq, mk, target, lam: float, rope=None,
               iters: int = 30, seed: int = 0) -> float:
    """Largest Hessian eigenvalue at (mq, mk): a local estimate of beta.

    Power iteration on finite differences of
    :func:`~effteach.attention_prune.objective.qk_grad`, an estimate of the
    gradient's Lipschitz constant beta.

    Book: notebooks/attention_prune/lecture.md, "Convergence".
    """
    from effteach.attention_prune.objective import _qk

    _qk(x, wq, wk, mq, mk, target, rope)
    lam = check_float("lam", lam, low=0.0)
    iters = check_int("iters", iters, 1)
    g = torch.Generator().manual_seed(check_int("seed", seed, 0))
    v = (torch.randn(mq.shape, generator=g, dtype=mq.dtype),
         torch.randn(mk.shape, generator=g, dtype=mk.dtype))
    g0 = qk_grad(x, wq, wk, mq, mk, target, lam, True, rope)
    eps, lam_max = 1e-5, 0.0
    for _ in range(iters):
        nv = float(sum((vi**2).sum() for vi in v)) ** 0.5
        v = tuple(vi / nv for vi in v)
        g1 = qk_grad(x, wq, wk, mq + eps * v[0], mk + eps * v[1], target, lam, True,
                     rope)
        hv = tuple((a - b) / eps for a, b in zip(g1, g0, strict=True))
        lam_max = float(sum((a * b).sum() for a, b in zip(hv, v, strict=True)))
        v = hv
    return abs(lam_max)


@typed
def convergence(model: TinyGPT, layer: int = 0, head: int = 0, lam: float = 1e-2,
                iters: int = 60, seed: int = 0, n: int = 4) -> dict:
    """GD on one head's relaxed masks, fixed step ``1/beta`` vs Armijo, vs the rate.

    Starts from a perturbed all-ones mask (all-ones is a minimiser of the attention
    term, so without the ridge nothing would move). ``beta`` is estimated at the
    start by :func:`smoothness`; the empirical PL constant ``mu`` is the smallest
    ``||g_t||^2 / (2 (L_t - L_best))`` along the fixed-step run; the theory's bound
    is ``L_best + (1 - mu/beta)^t (L_0 - L_best)``.

    Returns:
        ``{"beta", "mu", "fixed", "armijo", "bound", "l_best"}`` (lists per step).

    Paper: arXiv 2410.11261, Thm 4.1 (Lipschitz gradient + PL inequality give
        linear convergence; constants not available to us).
    Book: notebooks/attention_prune/lecture.md, "Convergence".
    """
    lam = check_float("lam", lam, low=0.0)
    iters = check_int("iters", iters, 1)
    check_int("layer", layer, 0, model.cfg.n_layers - 1)
    check_int("head", head, 0, model.cfg.n_heads - 1)
    x, wq, wk, rope, target = _head_problem(model, layer, head, seed, n)
    g = torch.Generator().manual_seed(seed)
    m0 = tuple(1 + 0.5 * torch.randn(w.shape, generator=g, dtype=w.dtype)
               for w in (wq, wk))

    def loss(mq, mk):
        return qk_loss(x, wq, wk, mq, mk, target, lam, True, rope)

    def grad(mq, mk):
        return qk_grad(x, wq, wk, mq, mk, target, lam, True, rope)

    beta = smoothness(x, wq, wk, *m0, target, lam, rope)
    fixed = descend(loss, grad, m0, iters, step=1.0 / beta)
    arm = descend(loss, grad, m0, iters, step="armijo")
    best = descend(loss, grad, arm.params, 2 * iters, step="armijo").losses[-1]
    best = min(best, min(fixed.losses), min(arm.losses))
    ratios = [gn**2 / (2 * (lt - best)) for lt, gn in
              zip(fixed.losses, fixed.grad_norms, strict=True) if lt - best > 1e-12]
    mu = min(ratios)
    gap0 = fixed.losses[0] - best
    bound = [best + (1 - mu / beta) ** t * gap0 for t in range(len(fixed.losses))]
    return {"beta": beta, "mu": mu, "l_best": best, "fixed": fixed.losses,
            "armijo": arm.losses, "bound": bound, "armijo_steps": arm.steps}


def _git_sha() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=False,
                              cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """CLI: run the sweep and write :data:`RESULTS_PATH` atomically."""
    from effteach import zoo
    from effteach.io import atomic_write_bytes

    ap = argparse.ArgumentParser(prog="python -m effteach.attention_prune.experiments")
    ap.add_argument("--out", default=str(RESULTS_PATH))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    t = time.perf_counter()
    model = zoo.load("tinygpt_text")
    recs = sweep(model)
    doc = {"slug": "attention_prune",
           "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "command": "python -m effteach.attention_prune.experiments",
           "env": {"torch": torch.__version__, "python": platform.python_version(),
                   "machine": platform.machine(), "threads": args.threads,
                   "effteach": _git_sha()},
           "method": {"model": "tinygpt_text", "calibration": "8 x 128 train ids, "
                      "seed 0", "attn_err": "mean ||A_p - A||_F over 3 layers x 4 "
                      "heads x 8 held-out train windows (seed 12345)",
                      "ppl": "whole validation split (558 windows of 128)"},
           "seconds": round(time.perf_counter() - t, 1),
           "records": recs}
    atomic_write_bytes(args.out, json.dumps(doc, indent=1).encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
