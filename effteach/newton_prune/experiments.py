"""Pruning experiments on the zoo's TinyGPT: the sweep and the speed/memory runs.

``python -m effteach.newton_prune.experiments`` prunes ``tinygpt_text`` with every
method, with and without compensation, at sparsities 10-60 % and three calibration
seeds, measures held-out perplexity on the whole validation split of the stdlib
corpus, then measures the physically pruned models (parameters, file size, peak
memory, generation tokens/s) against the dense one, and writes
``results/cpu/newton_prune.json`` (about 10 minutes on 2 CPU cores).

Protocol (fixed here, re-used by the lecture and the assignment):

* calibration: :data:`N_CALIB` windows of 128 characters drawn from the training
  split with the calibration seed (:func:`calibration_tokens`);
* evaluation: :func:`heldout_perplexity`, every non-overlapping 128-window of the
  validation split (71,424 predicted characters), exactly as the zoo's metrics.

Book: notebooks/newton_prune/lecture.md, "Experiments".
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from effteach.checks import check_int, typed
from effteach.models.gpt import TinyGPT
from effteach.newton_prune.prune import (
    METHODS,
    block_params,
    calibrate,
    prune_model,
    save_pruned,
)

__all__ = [
    "RESULTS_PATH",
    "N_CALIB",
    "SPARSITIES",
    "calibration_tokens",
    "heldout_perplexity",
    "run_point",
    "efficiency",
    "sweep",
    "summarize",
]

RESULTS_PATH = (Path(__file__).resolve().parents[2] / "results" / "cpu"
                / "newton_prune.json")
MODEL = "tinygpt_text"
SEQ = 128
#: calibration windows of SEQ characters (8,192 tokens)
N_CALIB = 64
SPARSITIES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
SEEDS = (0, 1, 2)
#: the (method, allocation) rows of the sweep; None = the method's default
CONFIGS = tuple((m, None) for m in METHODS) + (("newton", "uniform"),
                                               ("newton", "literal"))
#: the generation benchmark: batch, prompt length, new tokens, repeats
GEN = {"batch": 32, "prompt": 32, "n_new": 96, "repeats": 5}


@typed
def calibration_tokens(seed: int = 0, n: int = N_CALIB) -> torch.Tensor:
    """``n`` random windows of 128 ids from the corpus' training split.

    Returns:
        int64, shape (n, 128).
    """
    from effteach.data import text_splits

    n = check_int("n", n, 1)
    train = text_splits(SEQ).train
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(train) - SEQ, (n,), generator=g)
    return torch.stack([train[s:s + SEQ] for s in starts.tolist()])


@torch.no_grad()
@typed
def heldout_perplexity(model: TinyGPT, max_windows: int | None = None) -> float:
    """Perplexity on the validation split (windows of 128, each id scored once).

    Args:
        model: a (pruned) TinyGPT of the text corpus.
        max_windows: score only the first windows (None: all 558).
    """
    from effteach.data import eval_batches, text_splits

    if not isinstance(model, TinyGPT):
        raise TypeError(f"model: expected a TinyGPT, got {type(model).__name__}")
    if max_windows is not None:
        max_windows = check_int("max_windows", max_windows, 1)
    val = text_splits(SEQ).val
    if max_windows is not None:
        val = val[: max_windows * SEQ + 1]
    nll, n = 0.0, 0
    for x, y in eval_batches(val, 64, SEQ):
        logits = model(x)
        nll += float(F.cross_entropy(logits.flatten(0, 1).double(), y.flatten(),
                                     reduction="sum"))
        n += y.numel()
    return math.exp(nll / n)


@typed
def run_point(model: TinyGPT, sparsity: float, method: str, compensation: bool,
              allocation: str | None = None, seed: int = 0,
              max_windows: int | None = None) -> dict:
    """One point of the sweep: calibrate with ``seed``, prune, measure perplexity.

    Returns:
        A record: method, allocation, compensation, seed, target and actual
        sparsity, heads kept per layer, perplexity.
    """
    calib = calibrate(model, calibration_tokens(seed))
    pruned, plan = prune_model(model, calib, sparsity, method, compensation,
                               allocation, seed=seed)
    from effteach.newton_prune.prune import DEFAULT_ALLOCATION

    return {
        "method": method,
        "allocation": allocation or DEFAULT_ALLOCATION[method],
        "compensation": compensation,
        "seed": seed,
        "sparsity": sparsity,
        "actual_sparsity": plan.sparsity,
        "heads_kept": [len(h) for h in plan.keep_heads],
        "channels_kept": [len(c) for c in plan.keep_channels],
        "ppl": heldout_perplexity(model=pruned, max_windows=max_windows),
    }


_CHILD = """
import json, sys, torch
torch.set_num_threads(1)
from effteach.newton_prune.prune import load_pruned
model = load_pruned(sys.argv[1])
b, p, n = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
prompt = torch.randint(0, model.cfg.vocab_size, (b, p),
                       generator=torch.Generator().manual_seed(0))
model.generate(prompt[:1, :4], 2)  # warm up the code paths


def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])


before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the high-water mark VmHWM to the current RSS
model.generate(prompt, n)
print(json.dumps({"before_kib": before, "after_kib": status("VmHWM")}))
"""


def _peak_kib(path: Path, batch: int, prompt: int, n_new: int) -> int:
    """Growth of the peak resident memory (VmHWM) of a fresh process in generation."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(batch), str(prompt), str(n_new)],
        capture_output=True, text=True, check=True)
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    return rec["after_kib"] - rec["before_kib"]


@torch.no_grad()
@typed
def efficiency(model: TinyGPT, batch: int = 32, prompt: int = 32, n_new: int = 96,
               repeats: int = 5, peak_memory: bool = True) -> dict:
    """Measure a (pruned) model: parameters, file size, peak memory, tokens/s.

    Args:
        model: the model (its matrices as they are: pruned ones are smaller).
        batch: rows generated at once, >= 1.
        prompt: prompt length (random ids), in [1, n_ctx).
        n_new: new tokens per row (greedy), prompt + n_new <= n_ctx.
        repeats: timed runs; the median is reported.
        peak_memory: also measure the growth of the peak resident memory of a
            fresh process during one generation (Linux ``VmHWM``, reset through
            ``/proc/self/clear_refs``; a few seconds).

    Returns:
        ``params``, ``block_params``, ``file_bytes`` (safetensors), ``kv_cache_bytes``
        (after generation), ``tokens_per_s`` (new tokens, all rows), ``seconds``
        (the timed runs), and ``peak_rss_kib`` if asked.
    """
    if not isinstance(model, TinyGPT):
        raise TypeError(f"model: expected a TinyGPT, got {type(model).__name__}")
    batch = check_int("batch", batch, 1)
    prompt = check_int("prompt", prompt, 1, model.cfg.n_ctx - 1)
    n_new = check_int("n_new", n_new, 1, model.cfg.n_ctx - prompt)
    repeats = check_int("repeats", repeats, 1)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.cfg.vocab_size, (batch, prompt), generator=gen)
    model.generate(ids[:1, :4], 2)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.generate(ids, n_new)
        times.append(time.perf_counter() - t0)
    cache = model.new_cache()
    model(ids, cache)
    kv = sum(t.numel() * t.element_size() for kv_ in cache.layers for t in kv_)
    kv = kv * (prompt + n_new) // prompt  # the cache grows linearly with length
    with tempfile.TemporaryDirectory() as tmp:
        path = save_pruned(model, Path(tmp) / "model.safetensors")
        rec = {
            "params": sum(p.numel() for p in model.parameters()),
            "block_params": block_params(model),
            "file_bytes": path.stat().st_size,
            "kv_cache_bytes": kv,
            "tokens_per_s": batch * n_new / statistics.median(times),
            "seconds": times,
        }
        if peak_memory:
            rec["peak_rss_kib"] = _peak_kib(path, batch, prompt, n_new)
    return rec


def sweep(model: TinyGPT, sparsities=SPARSITIES, seeds=SEEDS, configs=CONFIGS,
          progress: bool = True) -> list[dict]:
    """Every (config, compensation, sparsity, seed) point, plus the dense model."""
    rows = [{"method": "dense", "allocation": None, "compensation": False,
             "seed": None, "sparsity": 0.0, "actual_sparsity": 0.0,
             "ppl": heldout_perplexity(model)}]
    for seed in seeds:
        for method, alloc in configs:
            for comp in (False, True):
                for s in sparsities:
                    rows.append(run_point(model, s, method, comp, alloc, seed))
                    if progress:
                        r = rows[-1]
                        print(f"seed {seed} {method:9s} {r['allocation']:8s} "
                              f"comp={comp!s:5s} {s:.1f}: ppl {r['ppl']:.3f}",
                              flush=True)
    return rows


@typed
def summarize(records: list) -> dict:
    """Mean perplexity over seeds: ``{(method, allocation, comp): {sparsity: ppl}}``.

    The keys are strings ``"method/allocation/comp"`` (comp is ``comp`` or
    ``plain``); the dense model is ``"dense"`` with sparsity 0.
    """
    acc: dict[str, dict[float, list[float]]] = {}
    for r in records:
        if not isinstance(r, dict) or "ppl" not in r or "method" not in r:
            raise ValueError("records: expected the records of a sweep (dicts with "
                             "'method' and 'ppl')")
        key = ("dense" if r["method"] == "dense" else
               f"{r['method']}/{r['allocation']}/"
               f"{'comp' if r['compensation'] else 'plain'}")
        acc.setdefault(key, {}).setdefault(float(r["sparsity"]), []).append(r["ppl"])
    return {k: {s: statistics.fmean(v) for s, v in sorted(d.items())}
            for k, d in acc.items()}


def main(argv: list[str] | None = None) -> int:
    """``python -m effteach.newton_prune.experiments [--out PATH] [--quick]``."""
    from effteach import zoo
    from effteach.io import atomic_write_text

    ap = argparse.ArgumentParser(prog="python -m effteach.newton_prune.experiments")
    ap.add_argument("--out", type=Path, default=RESULTS_PATH)
    ap.add_argument("--quick", action="store_true", help="two points, one seed")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = zoo.load(MODEL)
    t0 = time.perf_counter()
    if args.quick:
        rows = sweep(model, (0.3,), (0,), (("newton", None), ("wanda", None)))
    else:
        rows = sweep(model)
    t_sweep = time.perf_counter() - t0
    # speed and memory: dense, and Newton + compensation at two sparsities; the
    # model is run on one thread, the setting of a shared 2-core machine
    torch.set_num_threads(1)
    gen = {**_gen(), "repeats": 1} if args.quick else _gen()
    eff = [{"sparsity": 0.0, **efficiency(model, **gen)}]
    calib = calibrate(model, calibration_tokens(0))
    for s in ((0.3, 0.5) if not args.quick else (0.5,)):
        pruned, plan = prune_model(model, calib, s, "newton", True)
        eff.append({"sparsity": s, "actual_sparsity": plan.sparsity,
                    "heads_kept": [len(h) for h in plan.keep_heads],
                    "channels_kept": [len(c) for c in plan.keep_channels],
                    **efficiency(pruned, **gen)})
    result = {
        "slug": "newton_prune",
        "command": "python -m effteach.newton_prune.experiments"
        + (" --quick" if args.quick else ""),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "env": {"torch": torch.__version__, "python": platform.python_version(),
                "machine": platform.machine(), "threads_sweep": 2,
                "threads_efficiency": 1, "seconds": time.perf_counter() - t0,
                "seconds_sweep": t_sweep, "maxrss_kib_parent":
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss},
        "protocol": {"model": MODEL, "n_calib_windows": N_CALIB, "seq_len": SEQ,
                     "eval": "whole validation split, windows of 128",
                     "lam": 1.0, "damp": 1e-6, "generation": GEN},
        "records": rows,
        "efficiency": eff,
    }
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out} ({time.perf_counter() - t0:.0f} s)")
    return 0


def _gen() -> dict:
    return {k: GEN[k] for k in ("batch", "prompt", "n_new", "repeats")}


if __name__ == "__main__":
    sys.exit(main())
