"""Batched throughput of the looped MLP on a GPU and on its host's CPU.

Run with ``python -m effteach.bench looped_mlp``; writes
``results/gpu/looped_mlp.json``. Every timed run executes random programs and is
checked against the vectorised interpreter afterwards (``exact``), so a fast but
wrong setting (TF32 at a word size it cannot hold) is recorded as wrong.

Book: notebooks/looped_mlp/lecture.md, "On a GPU".
"""

from __future__ import annotations

import os

import torch

from effteach.looped_mlp.compiler import compile_machine
from effteach.looped_mlp.experiments import throughput


def run(quick: bool = False) -> tuple[list[dict], dict]:
    """Time batched execution on CUDA (fp32 without TF32, fp64) and on the CPU."""
    from tqdm import tqdm

    machines = [(16, 8, 32)] if quick else [(16, 8, 32), (16, 16, 64)]
    gpu_batches = [64, 4096] if quick else [1, 64, 1024, 4096, 16384, 65536]
    cpu_batches = [64] if quick else [1, 64, 1024, 4096]
    n_steps = 5 if quick else 20
    records = []
    old_tf32 = torch.backends.cuda.matmul.allow_tf32
    try:
        for n_mem, bits, n_instr in machines:
            mach = compile_machine(n_mem, bits, n_instr)
            configs = [("cuda", "float32", False, b) for b in gpu_batches]
            configs += [("cuda", "float64", False, b) for b in gpu_batches]
            configs += [("cuda", "float32", True, b) for b in gpu_batches[-2:]]
            configs += [("cpu", "float32", False, b) for b in cpu_batches]
            configs += [("cpu", "float64", False, b) for b in cpu_batches]
            for device, dtype, tf32, batch in tqdm(configs, desc=f"bits={bits}"):
                torch.backends.cuda.matmul.allow_tf32 = tf32
                res = throughput(mach, batch, n_steps, dtype, device, seed=batch)
                res.update(
                    {
                        "dtype": dtype + ("+tf32" if tf32 else ""),
                        "variant": mach.variant,
                        "n_mem": n_mem,
                        "bits": bits,
                        "n_instr": n_instr,
                        "state_size": mach.layout.size,
                        "depth": mach.net.depth,
                        "widths": mach.net.widths,
                    }
                )
                records.append(res)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old_tf32
    return records, {
        "timer": "time.perf_counter around n_steps dense steps, cuda synchronized, "
        "after one warm-up step",
        "program_steps_per_s": "batch * steps / seconds",
        "exact": "final memory and pc equal the vectorised interpreter's",
        "l2_flush": False,
        "interleaved": False,
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
