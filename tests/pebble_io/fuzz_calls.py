"""Example calls of the kernels benchmark for the bad-input fuzz harness."""

from __future__ import annotations

from fuzz_support import Call


def calls() -> dict:
    """name -> () -> Call (a valid call the harness perturbs)."""
    from effteach.kernels import bench

    return {
        "effteach.kernels.bench.ratios": lambda: Call(
            bench.ratios, ({"tuned": 2.0, "sdpa_flash": 3.0}, "tuned",
                           ("sdpa_flash",))),
    }


OPT_OUT = {
    "effteach.kernels.bench.run": "a measurement driver on a GPU (its shapes are "
    "module constants); smoke-tested in tests/pebble_io/test_kernels_bench.py",
    "effteach.kernels.bench.smoke": "no arguments: the CPU run of the benchmark",
    "effteach.kernels.bench.ceilings": "a GPU measurement (a matmul and a copy; an "
    "empty dict on a CPU) whose one argument is the matmul's dtype",
    "effteach.kernels.bench.correctness": "a measurement driver on a GPU (its cases "
    "are module constants); tested in tests/pebble_io/test_kernels_bench.py",
}
