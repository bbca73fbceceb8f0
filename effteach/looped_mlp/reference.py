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

from effteach.checks import typed
from effteach.looped_mlp.asm import Program, _check_int, check_words

__all__ = ["StepLimitError", "Trace", "wrap", "step", "run"]


class StepLimitError(RuntimeError):
    """The program did not halt within the step limit."""


def wrap(value, bits: int):
    """Reduce integers to ``bits``-bit two's complement (numpy arrays or ints).

    Raises:
        TypeError: naming ``value`` for floats (nothing is truncated) or non-numbers.
        ValueError: naming ``bits`` outside [1, 62].
    """
    bits = _check_int("bits", bits, 1, 62)
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"value: expected integers, got {type(value).__name__}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu" or arr.dtype == bool:
        raise TypeError(f"value: expected integers, got dtype {arr.dtype}")
    half = 1 << (bits - 1)
    return ((arr.astype(np.int64) + half) % (1 << bits)) - half


def _step(code: np.ndarray, memory: np.ndarray, pc: int, bits: int):
    a, b, c = (int(v) for v in code[pc])
    mem = memory.copy()
    mem[b] = ((mem[b] - mem[a] + (1 << (bits - 1))) % (1 << bits)) - (1 << (bits - 1))
    pc = c if mem[b] <= 0 else (pc + 1) % len(code)
    return mem, pc


def step(code: np.ndarray, memory: np.ndarray, pc: int, bits: int):
    """Execute one instruction; return the new ``(memory, pc)`` (inputs unchanged).

    Args:
        code: int array (n_instr, 3) of ``(a, b, c)``, addresses and targets in
            range (as in a :class:`~effteach.looped_mlp.asm.Program`).
        memory: integer words (n_mem,) of ``bits`` bits.
        pc: the instruction to execute, in [0, n_instr).
        bits: the word size, in [2, 32].

    Raises:
        TypeError, ValueError: naming the argument, for anything else.
    """
    bits = _check_int("bits", bits, 2, 32)
    mem = check_words("memory", memory, bits)
    if isinstance(code, (str, bytes)) or code is None:
        raise TypeError(f"code: expected an integer array, got {type(code).__name__}")
    code = np.asarray(code)
    if code.dtype.kind not in "iu" or code.dtype == bool:
        raise TypeError(f"code: expected an integer array, got dtype {code.dtype}")
    if code.ndim != 2 or code.shape[1] != 3 or not len(code):
        raise ValueError(f"code: expected shape (n_instr, 3), got {code.shape}")
    pc = _check_int("pc", pc, 0, len(code) - 1)
    a, b, c = (int(v) for v in code[pc])
    if not (0 <= a < len(mem) and 0 <= b < len(mem) and 0 <= c < len(code)):
        raise ValueError(
            f"code: instruction {pc} = ({a}, {b}, {c}) is out of range for a memory "
            f"of {len(mem)} cells and {len(code)} instructions"
        )
    return _step(code, mem, pc, bits)


def check_run_args(program, max_steps, strict) -> None:
    """The argument checks shared by :func:`run` and ``LoopedMLP.run``.

    Raises:
        TypeError, ValueError: naming ``program``, ``max_steps`` or ``strict``.
    """
    if not isinstance(program, Program):
        raise TypeError(
            f"program: expected a Program (see assemble), got {type(program).__name__}"
        )
    if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)):
        raise TypeError(
            f"max_steps: expected an int >= 1, got {type(max_steps).__name__} "
            f"{max_steps!r}"
        )
    if max_steps < 1:
        raise ValueError(f"max_steps: expected an int >= 1, got {max_steps}")
    if not isinstance(strict, bool):
        raise TypeError(f"strict: expected a bool, got {type(strict).__name__}")


@typed
@dataclasses.dataclass(frozen=True)
class Trace:
    """States of a run: ``memory[t]``, ``pc[t]`` for t = 0 .. steps.

    ``memory[-1], pc[-1]`` is the halted state (a fixed point) if ``halted``.

    Raises:
        TypeError, ValueError: naming the field, unless ``memory`` is an integer
            array (steps + 1, n_mem) and ``pc`` an integer array (steps + 1,).
    """

    memory: np.ndarray  # (steps + 1, n_mem) int64
    pc: np.ndarray  # (steps + 1,) int64
    halted: bool

    def __post_init__(self):
        for name, arr, ndim in (("memory", self.memory, 2), ("pc", self.pc, 1)):
            if arr.dtype.kind not in "iu":
                raise TypeError(f"{name}: expected an integer array, got {arr.dtype}")
            if arr.ndim != ndim or not len(arr):
                raise ValueError(
                    f"{name}: expected a non-empty {ndim}-D array, got shape "
                    f"{arr.shape}"
                )
        if len(self.pc) != len(self.memory):
            raise ValueError(
                f"pc: expected one entry per row of memory ({len(self.memory)}), got "
                f"{len(self.pc)}"
            )

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
        memory: initial memory instead of ``program.memory``: integer words of
            the same shape that fit in ``program.bits`` bits (floats, NaN
            included, are refused, never truncated).
        strict: raise :class:`StepLimitError` at the limit; else return the
            trace so far with ``halted=False``.

    Raises:
        StepLimitError: if the program has not halted after ``max_steps`` steps.
        TypeError, ValueError: naming the argument, for a non-Program, a
            ``max_steps`` that is not an int >= 1, or a bad ``memory``
            (:func:`~effteach.looped_mlp.asm.check_words`).
    """
    check_run_args(program, max_steps, strict)
    if memory is None:
        mem = program.memory.copy()
    else:
        mem = check_words("memory", memory, program.bits, program.memory.shape)
    mems, pcs = [mem], [0]
    pc = 0
    for t in range(max_steps + 1):  # step max_steps + 1 only tests the fixed point
        new_mem, new_pc = _step(program.code, mem, pc, program.bits)
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
