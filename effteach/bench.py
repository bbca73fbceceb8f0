"""GPU benchmark harness: ``python -m effteach.bench <slug>``.

Each chapter with GPU work has a ``bench.py`` module exposing ``run(harness)``; it
times its kernels against the real baseline *in the same run* and returns records.
The harness times with ``triton.testing.do_bench`` (which flushes the L2 cache
before every repetition), interleaves the contenders round by round so that clock or
thermal drift hits all of them alike, takes the median, and writes
``results/gpu/<slug>.json`` atomically with the environment (GPU, driver, torch,
triton, cuDNN, date, git commit).

Book: book/howto.md, "GPU results".
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import torch

#: chapters with a benchmark module ``effteach.<slug>.bench`` (``kernels``: every
#: attention kernel of the book against SDPA, :mod:`effteach.kernels.bench`)
BENCH_SLUGS = ("draft_attention", "fastcar", "foundations", "kernels", "looped_mlp",
               "pebble_io", "poly_attention")

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results" / "gpu"


def environment() -> dict[str, str]:
    """Describe the machine a measurement was taken on."""
    import triton

    env = {
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "torch": torch.__version__,
        "triton": triton.__version__,
        "cuda": str(torch.version.cuda),
        "cudnn": str(torch.backends.cudnn.version()),
        "python": platform.python_version(),
        "effteach": _git_sha(),
    }
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        env["driver"] = out.stdout.strip().splitlines()[0] if out.stdout else "unknown"
    except (OSError, subprocess.SubprocessError):
        env["driver"] = "unknown"
    return env


def _git_sha() -> str:
    if os.environ.get("EFFTEACH_GIT_SHA"):  # the device copy of the tree has no .git
        return os.environ["EFFTEACH_GIT_SHA"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def time_interleaved(
    fns: dict[str, Callable[[], object]], rounds: int = 5, rep_ms: int = 50
) -> dict[str, float]:
    """Median milliseconds of each function, timed in interleaved rounds.

    Args:
        fns: name -> zero-argument callable (the work to time).
        rounds: rounds; in each, every function is timed once with ``do_bench``.
        rep_ms: ``do_bench``'s target time per measurement.

    Returns:
        name -> median over rounds of ``do_bench``'s median, in milliseconds.
    """
    from triton.testing import do_bench

    if not fns:
        raise ValueError("fns: expected at least one function to time")
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(
                float(do_bench(fn, warmup=10, rep=rep_ms, return_mode="median"))
            )
    return {k: statistics.median(v) for k, v in times.items()}


def time_on(device: str, fns: dict[str, Callable[[], object]], rounds: int = 3,
            rep_ms: int = 25) -> dict[str, float]:
    """Milliseconds per function: :func:`time_interleaved` on a GPU, else wall time.

    Args:
        device: ``"cuda"`` or ``"cpu"``; on the CPU (the benchmarks' smoke runs, where
            the Triton interpreter takes seconds a call) each function runs twice and
            the faster wall time counts.
        fns: name -> zero-argument callable.
        rounds: rounds of :func:`time_interleaved` (GPU only).
        rep_ms: its target time per measurement (GPU only).

    Returns:
        name -> milliseconds.
    """
    if device not in ("cuda", "cpu"):
        raise ValueError(f"device: expected 'cuda' or 'cpu', got {device!r}")
    if device == "cuda":
        return time_interleaved(fns, rounds=rounds, rep_ms=rep_ms)
    if not fns:
        raise ValueError("fns: expected at least one function to time")
    import time

    out = {}
    for name, fn in fns.items():
        best = float("inf")
        for _ in range(2):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        out[name] = 1e3 * best
    return out


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to ``path`` atomically (a temp file in the same folder, renamed)."""
    from effteach.io import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=1) + "\n")


def load_results(slug: str, results_dir: Path | None = None) -> dict:
    """Read ``results/gpu/<slug>.json``.

    Raises:
        FileNotFoundError: naming the file and the command that makes it.
    """
    path = Path(results_dir or RESULTS_DIR) / f"{slug}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no GPU results; run `python -m effteach.bench {slug}` on a GPU"
        )
    return json.loads(path.read_text())


def run_bench(slug: str, out_dir: Path | None = None, quick: bool = False) -> Path:
    """Run a chapter's benchmark on the GPU and write its results file.

    Args:
        slug: a chapter with a benchmark (see :data:`BENCH_SLUGS`).
        out_dir: folder for ``<slug>.json``; ``results/gpu`` by default.
        quick: fewer sizes and rounds (a smoke run).

    Returns:
        The path written.

    Raises:
        ValueError: unknown slug. RuntimeError: no CUDA GPU.
    """
    if slug not in BENCH_SLUGS:
        raise ValueError(
            f"slug: no benchmark for {slug!r}; known: {', '.join(BENCH_SLUGS)}"
        )
    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA GPU: benchmarks run on a GPU machine only")
    mod = importlib.import_module(f"effteach.{slug}.bench")
    records, method = mod.run(quick=quick)
    checks = method.pop("correctness", None)  # kernel-vs-reference errors, if any
    data = {
        "slug": slug,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "env": environment(),
        "method": {
            "timer": "triton.testing.do_bench",
            "stat": "median of round medians",
            "l2_flush": True,
            "interleaved": True,
            **method,
        },
        "records": records,
    }
    if checks is not None:
        data["correctness"] = checks
    path = Path(out_dir or RESULTS_DIR) / f"{slug}.json"
    write_json_atomic(path, data)
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m effteach.bench <slug> [--out DIR] [--quick]``."""
    ap = argparse.ArgumentParser(
        prog="effteach bench", description=__doc__.split("\n")[0]
    )
    ap.add_argument("slug")
    ap.add_argument("--out", type=Path, default=None, help="folder for <slug>.json")
    ap.add_argument("--quick", action="store_true", help="a short smoke run")
    args = ap.parse_args(argv)
    try:
        path = run_bench(args.slug, args.out, args.quick)
    except (ValueError, RuntimeError) as exc:
        print(f"effteach bench: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
