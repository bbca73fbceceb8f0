"""Demo programs for the looped MLP, random programs, and a batched interpreter.

Each demo is SUBLEQ source built from its inputs, with the Python function it must
agree with: ``add``, ``multiply`` (repeated addition), ``fibonacci``, ``sort``
(a compare-exchange network over an array) and ``gcd`` (Euclid by subtraction).

Book: notebooks/looped_mlp/lecture.md, "Programs".
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from effteach.checks import typed
from effteach.looped_mlp.asm import Program, assemble, check_words, value_range

__all__ = [
    "Demo",
    "DEMOS",
    "demo",
    "add_source",
    "multiply_source",
    "fibonacci_source",
    "sort_source",
    "gcd_source",
    "random_programs",
    "run_reference_batch",
]


def add_source(x: int, y: int) -> str:
    """``S = X + Y``."""
    return f"""\
        add X, S        ; S += X
        add Y, S        ; S += Y
        halt
.data
X: {x}
Y: {y}
S: 0
"""


def multiply_source(x: int, y: int) -> str:
    """``P = X * Y`` for ``Y >= 0`` by repeated addition (``Y`` counts down)."""
    return f"""\
loop:   jlez Y, done    ; while Y > 0:
        add X, P        ;   P += X
        sub ONE, Y      ;   Y -= 1
        jmp loop
done:   halt
.data
X: {x}
Y: {y}
P: 0
ONE: 1
"""


def fibonacci_source(n: int) -> str:
    """``F = fib(n)`` (fib(0) = 0, fib(1) = 1) by iteration."""
    return f"""\
loop:   jlez N, done    ; while N > 0:
        mov G, T        ;   T = G
        add F, T        ;   T = F + G
        mov G, F        ;   F = G
        mov T, G        ;   G = T
        sub ONE, N      ;   N -= 1
        jmp loop
done:   halt
.data
N: {n}
F: 0
G: 1
T: 0
ONE: 1
"""


def sort_source(values: list[int]) -> str:
    """Sort ``V`` ascending in place with an odd-even transposition network.

    It compares by subtraction, so it is right while any two values differ by less
    than ``2**(bits - 1)`` (a wrapped difference has the wrong sign).
    """
    n = len(values)
    lines = []
    k = 0
    for rnd in range(n):
        for i in range(rnd % 2, n - 1, 2):
            # compare-exchange V+i, V+i+1: T = V[i] - V[i+1]; if T > 0, swap by
            # V[i] -= T and V[i+1] += T (10 instructions)
            lines += [
                f"        mov V+{i}, T      ; T = V[{i}] - V[{i + 1}]",
                f"        sub V+{i + 1}, T",
                f"        jlez T, next{k}   ; in order already",
                f"        sub T, V+{i}      ; V[{i}] = V[{i + 1}]",
                f"        add T, V+{i + 1}  ; V[{i + 1}] = old V[{i}]",
                f"next{k}:",
            ]
            k += 1
    lines.append("        halt")
    data = " ".join(str(v) for v in values)
    return "\n".join(lines) + f"\n.data\nV: {data}\nT: 0\n"


def gcd_source(x: int, y: int) -> str:
    """``A = gcd(X, Y)`` for positive inputs, by repeated subtraction."""
    return f"""\
loop:   mov A, T        ; T = A - B
        sub B, T
        jlez T, ble     ; A <= B ?
        sub B, A        ; A -= B
        jmp loop
ble:    mov B, T        ; T = B - A
        sub A, T
        jlez T, done    ; B <= A too: A == B
        sub A, B        ; B -= A
        jmp loop
done:   halt
.data
A: {x}
B: {y}
T: 0
"""


@dataclasses.dataclass(frozen=True)
class Demo:
    """A demo program: its source builder, the cell holding the answer, the truth."""

    name: str
    source: Callable[..., str]
    result: str  # data name (or name+k) of the answer; "V" for the sorted array
    truth: Callable[..., object]
    default_args: tuple
    n_instr: int


DEMOS: dict[str, Demo] = {
    d.name: d
    for d in (
        Demo("add", add_source, "S", lambda x, y: x + y, (17, 25), 8),
        Demo("multiply", multiply_source, "P", lambda x, y: x * y, (7, 9), 16),
        Demo("fibonacci", fibonacci_source, "F",
             lambda n: _fib(n), (10,), 32),
        Demo("sort", sort_source, "V", lambda v: sorted(v), ([9, -4, 5, 0],), 64),
        Demo("gcd", gcd_source, "A", math.gcd, (84, 36), 32),
    )
}


def _fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def demo(name: str, *args, n_mem: int = 16, bits: int = 8) -> tuple[Program, object]:
    """Assemble demo ``name`` for ``args`` (default: its example).

    Returns the program and the answer Python computes.

    Raises:
        ValueError: for an unknown demo name.
    """
    if name not in DEMOS:
        raise ValueError(f"name: expected one of {sorted(DEMOS)}, got {name!r}")
    d = DEMOS[name]
    args = args or d.default_args
    program = assemble(d.source(*args), n_mem=n_mem, bits=bits, n_instr=d.n_instr)
    return program, d.truth(*args)


@typed
def demo_answer(name: str, program: Program, memory: np.ndarray):
    """Read demo ``name``'s answer from a final memory.

    Raises:
        TypeError, ValueError: naming the argument, for an unknown demo, a
            non-Program, or a memory that is not the program's words (shape, dtype
            and range, as :func:`~effteach.looped_mlp.asm.check_words`).
    """
    if name not in DEMOS:
        raise ValueError(f"name: expected one of {sorted(DEMOS)}, got {name!r}")
    d = DEMOS[name]
    memory = check_words("memory", memory, program.bits, program.memory.shape)
    if name == "sort":
        start = program.symbols["V"]
        n = program.symbols["T"] - start
        return [int(v) for v in memory[start : start + n]]
    return program.cell(memory, d.result)


def random_programs(
    n: int, n_mem: int, bits: int, n_instr: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random valid machine states: code, memory and a PC.

    Every field is uniform over its range (addresses in ``[0, n_mem)``, targets in
    ``[0, n_instr)``, values over the whole two's-complement range), so random
    programs exercise every gadget, overflow and the ``a == b`` case.

    Returns:
        ``code`` int64 (n, n_instr, 3), ``memory`` int64 (n, n_mem), ``pc`` (n,).
    """
    rng = np.random.default_rng(seed)
    lo, hi = value_range(bits)
    code = np.stack(
        [
            rng.integers(0, n_mem, (n, n_instr)),
            rng.integers(0, n_mem, (n, n_instr)),
            rng.integers(0, n_instr, (n, n_instr)),
        ],
        axis=-1,
    )
    memory = rng.integers(lo, hi + 1, (n, n_mem))
    pc = rng.integers(0, n_instr, n)
    return code, memory, pc


def run_reference_batch(
    code: np.ndarray, memory: np.ndarray, pc: np.ndarray, bits: int, n_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """The reference semantics, vectorised over a batch, for ``n_steps`` steps.

    Returns:
        ``memory`` (n_steps + 1, n, n_mem) and ``pc`` (n_steps + 1, n): every state.
    """
    n, n_instr = code.shape[:2]
    half = 1 << (bits - 1)
    rows = np.arange(n)
    mem = memory.astype(np.int64).copy()
    pcs = pc.astype(np.int64).copy()
    out_m, out_p = [mem.copy()], [pcs.copy()]
    for _ in range(n_steps):
        a, b, c = (code[rows, pcs, f] for f in range(3))
        new = ((mem[rows, b] - mem[rows, a] + half) % (1 << bits)) - half
        mem[rows, b] = new
        pcs = np.where(new <= 0, c, (pcs + 1) % n_instr)
        out_m.append(mem.copy())
        out_p.append(pcs.copy())
    return np.stack(out_m), np.stack(out_p)
