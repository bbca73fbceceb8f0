"""The reference SUBLEQ interpreter: what the looped MLP must reproduce exactly.

State: ``memory`` (int64 array of ``bits``-bit two's-complement values) and ``pc``.
One step executes ``code[pc] = (a, b, c)``::

    mem[b] = wrap(mem[b] - mem[a])          # modulo 2**bits, two's complement
    pc = c if mem[b] <= 0 else (pc + 1) % n_instr

The machine has halted when a step leaves the state unchanged (``halt`` is
``subleq Z, Z, self``, a fixed point).

Paper: Liang et al. 2024 (arXiv 2410.09375), Sec. 3.
Book: notebooks/looped_mlp/lecture.md, "The machine".
"""

from __future__ import annotations

import dataclasses

import numpy as np

from effteach.looped_mlp.asm import Program

__all__ = ["StepLimitError", "Trace", "wrap", "step", "run"]


class StepLimitError(RuntimeError):
    """The program did not halt within the step limit."""


def wrap(value, bits: int):
    """Reduce integers to ``bits``-bit two's complement (numpy arrays or ints)."""
    half = 1 << (bits - 1)
    return ((np.asarray(value, dtype=np.int64) + half) % (1 << bits)) - half


def step(code: np.ndarray, memory: np.ndarray, pc: int, bits: int):
    """Execute one instruction; return the new ``(memory, pc)`` (inputs unchanged)."""
    a, b, c = (int(v) for v in code[pc])
    mem = memory.copy()
    mem[b] = wrap(mem[b] - mem[a], bits)
    pc = c if mem[b] <= 0 else (pc + 1) % len(code)
    return mem, pc


@dataclasses.dataclass(frozen=True)
class Trace:
    """States of a run: ``memory[t]``, ``pc[t]`` for t = 0 .. steps.

    ``memory[-1], pc[-1]`` is the halted state (a fixed point) if ``halted``.
    """

    memory: np.ndarray  # (steps + 1, n_mem) int64
    pc: np.ndarray  # (steps + 1,) int64
    halted: bool

    @property
    def steps(self) -> int:
        """Instructions executed until the fixed point (or the limit)."""
        return len(self.pc) - 1


def run(
    program: Program, max_steps: int = 10_000, memory: np.ndarray | None = None,
    strict: bool = True,
) -> Trace:
    """Run ``program`` from pc 0 until it halts.

    Args:
        program: an assembled :class:`~effteach.looped_mlp.asm.Program`.
        max_steps: the step limit, >= 1.
        memory: initial memory instead of ``program.memory`` (same shape).
        strict: raise :class:`StepLimitError` at the limit; else return the
            trace so far with ``halted=False``.

    Raises:
        StepLimitError: if the program has not halted after ``max_steps`` steps.
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)):
        raise TypeError(f"max_steps: expected an int, got {type(max_steps).__name__}")
    if max_steps < 1:
        raise ValueError(f"max_steps: expected >= 1, got {max_steps}")
    mem = program.memory.copy() if memory is None else np.asarray(memory, np.int64)
    if mem.shape != program.memory.shape:
        raise ValueError(
            f"memory: expected shape {program.memory.shape}, got {mem.shape}"
        )
    lo, hi = -(2 ** (program.bits - 1)), 2 ** (program.bits - 1) - 1
    if mem.min() < lo or mem.max() > hi:
        raise ValueError(
            f"memory: values must fit in {program.bits}-bit two's complement "
            f"[{lo}, {hi}]"
        )
    mems, pcs = [mem], [0]
    pc = 0
    for t in range(max_steps + 1):  # step max_steps + 1 only tests the fixed point
        new_mem, new_pc = step(program.code, mem, pc, program.bits)
        if new_pc == pc and np.array_equal(new_mem, mem):
            return Trace(np.stack(mems), np.array(pcs), True)
        if t == max_steps:
            break
        mem, pc = new_mem, new_pc
        mems.append(mem)
        pcs.append(pc)
    if strict:
        raise StepLimitError(
            f"max_steps: the program did not halt within {max_steps} steps "
            f"(pc = {pc}, line {program.lines[pc]}); raise max_steps or check "
            "that every path reaches 'halt'"
        )
    return Trace(np.stack(mems), np.array(pcs), False)
