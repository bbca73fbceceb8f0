"""LazyDiT experiments on the zoo's TinyDiT: similarity, and lazy vs. baselines.

``python -m effteach.lazy_dit.experiments`` runs the comparison the chapter plots
(several penalties, gate kinds and seeds; about 10 minutes on 2 CPU cores) and
writes ``results/cpu/lazy_dit.json``.

Book: notebooks/lazy_dit/lecture.md, "Experiments".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import time
from pathlib import Path

import torch

from effteach.checks import check_labels, check_tensor, typed
from effteach.lazy_dit.lazy import (
    FullCompute,
    GatePolicy,
    Policy,
    StaticSchedule,
    lazy_sample,
    random_schedule,
)
from effteach.lazy_dit.macs import sampler_macs, spec_of
from effteach.lazy_dit.reference import cosine_ref
from effteach.lazy_dit.train import train_gates
from effteach.models.dit import TinyDiT

__all__ = ["similarity", "quality", "evaluate_policy", "compare", "main",
           "RESULTS_PATH", "DEFAULT_CONFIGS"]

RESULTS_PATH = Path(__file__).resolve().parents[2] / "results" / "cpu" / "lazy_dit.json"
#: (gate kind, training variant, rho) of the committed comparison
DEFAULT_CONFIGS = (
    ("input", "all", 1e-5),
    ("input", "all", 3e-5),
    ("input", "all", 1e-4),
    ("input", "alternate", 1e-3),
    ("bias", "all", 3e-5),
)


@torch.no_grad()
@typed
def similarity(
    model: TinyDiT, labels: torch.Tensor, n_steps: int, seed: int = 0
) -> dict:
    """Consecutive-step similarity of every module's output in a full DDIM run.

    Returns:
        ``cos`` (n_steps - 1, depth, 2): mean over samples of
        ``cos(Y_k, Y_{k-1})``; ``bound_holds``: whether Lemma A's
        ``cos >= 1 - |dY|^2 / (2 |Y| |Y'|)`` held for every sample and module;
        ``lipschitz`` (n_steps - 1, depth, 2): mean ``|dY| / |dZ|``.
    """
    _, rec = lazy_sample(model, labels, n_steps, FullCompute(), seed=seed,
                         keep_tensors=True)
    depth = model.cfg.depth
    cos = torch.zeros(n_steps - 1, depth, 2, dtype=torch.float64)
    lip = torch.zeros_like(cos)
    holds = True
    for k in range(1, n_steps):
        for layer in range(depth):
            for m in range(2):
                y1, y0 = rec.outputs[k][layer][m], rec.outputs[k - 1][layer][m]
                z1, z0 = rec.inputs[k][layer][m], rec.inputs[k - 1][layer][m]
                c = cosine_ref(y1, y0)
                n1 = y1.flatten(1).double().norm(dim=1)
                n0 = y0.flatten(1).double().norm(dim=1)
                dy = (y1 - y0).flatten(1).double().norm(dim=1)
                dz = (z1 - z0).flatten(1).double().norm(dim=1)
                holds &= bool((c >= 1 - dy**2 / (2 * n1 * n0) - 1e-12).all())
                cos[k - 1, layer, m] = c.mean()
                lip[k - 1, layer, m] = (dy / dz).mean()
    return {"cos": cos, "bound_holds": holds, "lipschitz": lip}


@torch.no_grad()
@typed
def quality(samples: torch.Tensor, labels: torch.Tensor, reference: torch.Tensor):
    """Class accuracy and FD (digit classifier) and paired RMSE to ``reference``.

    Args:
        samples: digits in model space, float (n, 1, 8, 8), n >= 2 (FD needs a
            covariance), finite.
        labels: their classes, int64 (n,) in [0, 10).
        reference: the full sampler's digits from the same noise, shape of
            ``samples``.
    """
    from effteach.models.training import digit_quality

    check_tensor("samples", samples, shape=(None, 1, 8, 8), kind="float", finite=True)
    if len(samples) < 2:
        raise ValueError(f"samples: expected n >= 2 digits (FD), got {len(samples)}")
    check_labels("labels", labels, 10, len(samples))
    check_tensor("reference", reference, shape=samples.shape, kind="float",
                 finite=True, shape_of="samples")

    q = digit_quality(samples.clamp(-1, 1), labels)
    q["rmse_to_full"] = float(((samples - reference) ** 2).mean().sqrt())
    return q


@typed
def evaluate_policy(
    model: TinyDiT,
    labels: torch.Tensor,
    n_steps: int,
    policy: Policy,
    seed: int,
    reference: torch.Tensor,
    gates: bool,
) -> dict:
    """Sample with ``policy``; return laziness, MACs per image, quality, seconds."""
    check_tensor("reference", reference, kind="float", ndim=4)
    if len(reference) != len(labels):
        raise ValueError(f"reference: expected {len(labels)} samples (one per "
                         f"label in labels), got {len(reference)}")
    t0 = time.perf_counter()
    x, rec = lazy_sample(model, labels, n_steps, policy, seed=seed)
    seconds = time.perf_counter() - t0
    macs = sampler_macs(spec_of(model), n_steps, rec.computed.double() / rec.rows,
                        gates=gates)
    return {"laziness": rec.laziness, "macs_per_image": macs, "seconds": seconds,
            **quality(x, labels, reference)}


def compare(
    model,
    n_steps: int = 20,
    configs=DEFAULT_CONFIGS,
    seeds=(0, 1, 2),
    per_class: int = 50,
    iters: int = 300,
    progress: bool = True,
) -> list[dict]:
    """Lazy gates against DDIM with fewer steps and random skipping, at equal MACs.

    For every config and seed: train gates (seeded), sample ``per_class`` digits
    per class from the same noise with the full sampler, the lazy one, DDIM with
    ``round(n_steps * (1 - laziness))`` steps, and random static skipping of the
    same share of module calls. Returns one record per (config, seed, method).
    """
    labels = torch.arange(10).repeat_interleave(per_class)
    rows = []
    for kind, variant, rho in configs:
        for seed in seeds:
            full, _ = lazy_sample(model, labels, n_steps, FullCompute(), seed=seed)
            gates, _ = train_gates(model, n_steps, rho, iters=iters, kind=kind,
                                   variant=variant, seed=seed, progress=progress)
            base = {"kind": kind, "variant": variant, "rho": rho, "seed": seed,
                    "n_steps": n_steps}
            lazy = evaluate_policy(model, labels, n_steps, GatePolicy(gates), seed,
                                   full, gates=True)
            rows.append({**base, "method": "lazy", **lazy})
            gamma = lazy["laziness"]
            fewer = max(1, round(n_steps * (1 - gamma)))
            # DDIM with fewer steps from the same starting noise
            x, rec = lazy_sample(model, labels, fewer, FullCompute(), seed=seed)
            rows.append({**base, "method": "ddim_fewer_steps", "ddim_steps": fewer,
                         "laziness": 1 - fewer / n_steps,
                         "macs_per_image": sampler_macs(spec_of(model), fewer),
                         **quality(x, labels, full)})
            pol = random_schedule(n_steps, model.cfg.depth, gamma, seed=seed)
            rows.append({**base, "method": "random_skip",
                         **evaluate_policy(model, labels, n_steps, pol, seed, full,
                                           gates=False)})
            rows.append({**base, "method": "full", "laziness": 0.0,
                         "macs_per_image": sampler_macs(spec_of(model), n_steps),
                         **quality(full, labels, full)})
    return rows


def static_from_gates(gates, model, labels, n_steps, seed=0) -> StaticSchedule:
    """The (step, layer, module) schedule a bias-only gate set implies."""
    if gates.kind != "bias":
        raise ValueError("gates: only bias-only gates define a static schedule")
    return StaticSchedule(torch.sigmoid(gates.bias) >= 0.5)


def main(argv: list[str] | None = None) -> int:
    """``python -m effteach.lazy_dit.experiments [--out PATH] [--quick]``."""
    from effteach import zoo
    from effteach.io import atomic_write_text

    ap = argparse.ArgumentParser(prog="python -m effteach.lazy_dit.experiments")
    ap.add_argument("--out", type=Path, default=RESULTS_PATH)
    ap.add_argument("--quick", action="store_true", help="one config, one seed")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    # one thread: these matrices are small, and a second thread only spins when
    # another process shares the two cores
    torch.set_num_threads(1)
    model = zoo.load("tinydit_digits")
    t0 = time.perf_counter()
    if args.quick:
        rows = compare(model, configs=DEFAULT_CONFIGS[1:2], seeds=(0,), per_class=5,
                       iters=10)
    else:
        rows = compare(model)
    import triton

    data = {
        "slug": "lazy_dit",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python -m effteach.lazy_dit.experiments",
        "env": {"torch": torch.__version__, "triton": triton.__version__,
                "python": platform.python_version(), "machine": platform.machine(),
                "threads": torch.get_num_threads(),
                "seconds": round(time.perf_counter() - t0, 1)},
        "records": rows,
    }
    atomic_write_text(args.out, json.dumps(data, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
