"""Experiments on the looped MLP.

Exactness against the interpreter, precision, noise, and batched throughput.

Book: notebooks/looped_mlp/lecture.md, "Experiments".
"""

from __future__ import annotations

import time

import numpy as np
import torch

from effteach.looped_mlp.compiler import LoopedMLP, compile_machine
from effteach.looped_mlp.programs import random_programs, run_reference_batch

__all__ = [
    "random_states",
    "compare_with_interpreter",
    "precision_sweep",
    "first_failing_bits",
    "noise_sweep",
    "throughput",
]

_DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def _dtype(dtype) -> torch.dtype:
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype: expected one of {sorted(_DTYPES)}, got {dtype!r}")
        return _DTYPES[dtype]
    if dtype not in _DTYPES.values():
        raise ValueError(f"dtype: expected one of {sorted(_DTYPES)}, got {dtype!r}")
    return dtype


def random_states(machine: LoopedMLP, n: int, seed: int = 0):
    """``n`` random machine states: (float64 state batch, code, memory, pc)."""
    lay = machine.layout
    code, mem, pc = random_programs(n, lay.n_mem, lay.bits, lay.n_instr, seed)
    return torch.from_numpy(lay.encode_batch(code, mem, pc)), code, mem, pc


def compare_with_interpreter(
    machine: LoopedMLP,
    n_programs: int = 200,
    n_steps: int = 20,
    dtype="float64",
    seed: int = 0,
    device: str = "cpu",
) -> dict:
    """Run random programs on the MLP and on the interpreter; compare every state.

    Returns:
        ``{"programs", "steps", "all_equal", "wrong_programs", "first_wrong_step"}``:
        ``wrong_programs`` counts programs whose state differs at some step;
        ``first_wrong_step`` is the earliest step with a difference (None if none).
    """
    dt = _dtype(dtype)
    states, code, mem, pc = random_states(machine, n_programs, seed)
    with torch.no_grad():
        traj = machine.run_batch(states.to(device=device, dtype=dt), n_steps)
    m, p, c = machine.layout.decode(traj.double().cpu().numpy())
    rm, rp = run_reference_batch(code, mem, pc, machine.layout.bits, n_steps)
    wrong = (m != rm).any(-1) | (p != rp) | (c != code[None]).any((-1, -2))  # (T, n)
    steps_wrong = np.flatnonzero(wrong.any(1))
    return {
        "programs": n_programs,
        "steps": n_steps,
        "all_equal": not wrong.any(),
        "wrong_programs": int(wrong.any(0).sum()),
        "first_wrong_step": int(steps_wrong[0]) if len(steps_wrong) else None,
    }


def precision_sweep(
    dtypes=("float64", "float32", "bfloat16", "float16"),
    bits_list=(6, 8, 9, 10, 12, 13, 14, 16, 24),
    n_mem: int = 8,
    n_instr: int = 16,
    n_programs: int = 32,
    n_steps: int = 8,
    seed: int = 0,
) -> dict[str, dict[int, bool]]:
    """Which (dtype, word size) pairs run random programs exactly.

    Returns:
        ``{dtype: {bits: exact}}``.
    """
    out: dict[str, dict[int, bool]] = {}
    for name in dtypes:
        out[str(name)] = {}
        for bits in bits_list:
            mach = compile_machine(n_mem, bits, n_instr)
            res = compare_with_interpreter(mach, n_programs, n_steps, name, seed)
            out[str(name)][int(bits)] = res["all_equal"]
    return out


def first_failing_bits(sweep: dict[int, bool]) -> int | None:
    """The smallest word size that is not exact in one dtype's sweep (or None)."""
    bad = [b for b, ok in sorted(sweep.items()) if not ok]
    return bad[0] if bad else None


def noise_sweep(
    program,
    sigmas=(0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3),
    trials: int = 5,
    variant: str = "fused5",
    max_steps: int = 2000,
) -> dict[bool, dict[float, float]]:
    """Share of runs that end in the interpreter's final state, under noise.

    Gaussian noise of standard deviation sigma is added to every state coordinate
    before every step, with and without the snap (clean-up) layer.

    Returns:
        ``{snap: {sigma: fraction of correct runs}}``.
    """
    from effteach.looped_mlp.reference import run as reference_run

    want = reference_run(program, max_steps=max_steps)
    out: dict[bool, dict[float, float]] = {}
    for with_snap in (False, True):
        mach = compile_machine(program.n_mem, program.bits, program.n_instr, variant,
                               snap=with_snap)
        out[with_snap] = {}
        for sigma in sigmas:
            ok = 0
            for trial in range(trials):
                tr = mach.run(program, max_steps=want.steps + 5, noise=sigma,
                              seed=trial, strict=False)
                ok += bool(np.array_equal(tr.memory[-1], want.memory[-1])
                           and tr.pc[-1] == want.pc[-1])
            out[with_snap][float(sigma)] = ok / trials
    return out


def throughput(
    machine: LoopedMLP,
    batch: int,
    n_steps: int,
    dtype="float64",
    device: str = "cpu",
    seed: int = 0,
) -> dict:
    """Program-steps per second of a batched run of random programs.

    The run is checked against the interpreter afterwards (``exact``), so a fast
    but wrong configuration (TF32, bf16) shows up as such.
    """
    dt = _dtype(dtype)
    states, code, mem, pc = random_states(machine, batch, seed)
    x = states.to(device=device, dtype=dt)
    with torch.no_grad():
        machine.step(x)  # warm-up: weights to the device, kernels chosen
        if device != "cpu":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        y = x
        for _ in range(n_steps):
            y = machine.step(y)
        if device != "cpu":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
    m, p, _ = machine.layout.decode(y.double().cpu().numpy())
    rm, rp = run_reference_batch(code, mem, pc, machine.layout.bits, n_steps)
    exact = bool(np.array_equal(m, rm[-1]) and np.array_equal(p, rp[-1]))
    return {
        "batch": batch,
        "steps": n_steps,
        "seconds": seconds,
        "program_steps_per_s": batch * n_steps / seconds,
        "exact": exact,
        "dtype": str(dt).replace("torch.", ""),
        "device": device,
    }
