"""Graded questions of the looped_mlp assignment, each with one known-wrong answer.

Four questions: a SUBLEQ program run on the compiled looped MLP (q1), a ReLU gadget
checked on every input (q2), a weight count derived in SymPy (q3) and the word size
at which half precision breaks the machine (q4). The helpers turn a student's
program or circuit into a function of numbers that :func:`effteach.grading.check`
can compare with Python:

* :func:`run_on_machine` assembles a program, runs it on the interpreter (to find
  when it halts, with a clear error when it does not) and on the looped MLP of
  :func:`~effteach.looped_mlp.compiler.compile_machine`, and returns the values of
  the named cells as the MLP left them;
* :func:`on_machine` wraps a source builder ``f(x, y) -> str`` into ``(x, y) ->
  cell values``;
* :func:`pair_table` compiles a comparison gadget and evaluates the net on every
  pair of signed ``n_bits``-bit words; :func:`on_all_pairs` wraps a builder.

Book: notebooks/looped_mlp/assignment.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import sympy as sp
import torch

from effteach.grading import Question, register
from effteach.looped_mlp.asm import assemble, value_range
from effteach.looped_mlp.circuit import Circuit
from effteach.looped_mlp.compiler import compile_machine, is_zero, subtract_lookahead
from effteach.looped_mlp.reference import run
from effteach.looped_mlp.size import SYMBOLS

__all__ = [
    "MACHINE",
    "run_on_machine",
    "on_machine",
    "pair_table",
    "on_all_pairs",
]

#: the machine the programs of q1 run on: 16 cells of 8 bits, 32 instructions
MACHINE = {"n_mem": 16, "bits": 8, "n_instr": 32}


# ------------------------------------------------------------------- programs
def _cell_base(name: str) -> str:
    return name.split("+", 1)[0].strip()


def run_on_machine(
    source: str,
    outputs: Sequence[str],
    inputs: Mapping[str, int] | None = None,
    max_steps: int = 5000,
    n_mem: int = MACHINE["n_mem"],
    bits: int = MACHINE["bits"],
    n_instr: int = MACHINE["n_instr"],
) -> tuple[int, ...]:
    """Run a SUBLEQ program on the compiled looped MLP; return some cells' values.

    The program is assembled, run on the reference interpreter to learn how many
    steps it takes to halt, then its state is pushed through the fused5 loop body
    that many times plus once more. The values are read from the MLP's final
    state, which must equal the interpreter's and be a fixed point.

    Args:
        source: SUBLEQ assembly (syntax: :mod:`effteach.looped_mlp.asm`).
        outputs: names of the data cells to return (``"Q"``, or ``"V+2"``); a
            single string is one name.
        inputs: values written into named data cells before the run, overriding
            the data section (``{"X": 100, "Y": 7}``).
        max_steps: steps allowed before the program counts as not halting.
        n_mem: memory cells of the machine (default :data:`MACHINE`).
        bits: word size of the machine.
        n_instr: instruction slots of the machine.

    Returns:
        The value of each output cell, in order, as Python ints.

    Raises:
        AssemblyError: for a program that does not assemble (or does not fit).
        StepLimitError: if the program does not halt within ``max_steps`` steps.
        TypeError, ValueError: for outputs or inputs that are not data cells of the
            program, or input values beyond the word size.
        RuntimeError: if the MLP and the interpreter disagree (a library bug).

    Book: notebooks/looped_mlp/assignment.md, Q1.
    """
    if isinstance(outputs, str):
        outputs = (outputs,)
    if not isinstance(outputs, Sequence) or not outputs:
        raise TypeError(
            f"outputs: expected a non-empty sequence of cell names like ('Q', 'R'), "
            f"got {outputs!r}"
        )
    if inputs is not None and not isinstance(inputs, Mapping):
        raise TypeError(
            f"inputs: expected a dict cell name -> value, got {type(inputs).__name__}"
        )
    program = assemble(source, n_mem=n_mem, bits=bits, n_instr=n_instr)
    cells = ", ".join(sorted(program.symbols))
    for name in outputs:
        if not isinstance(name, str) or _cell_base(name) not in program.symbols:
            raise ValueError(
                f"outputs: the program has no data cell {name!r} (its cells: {cells})"
            )
    memory = program.memory.copy()
    lo, hi = value_range(program.bits)
    for name, value in (inputs or {}).items():
        if not isinstance(name, str) or name not in program.symbols:
            raise ValueError(
                f"inputs: the program has no data cell {name!r} (its cells: {cells})"
            )
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise TypeError(
                f"inputs: the value of {name!r} must be an int, got "
                f"{type(value).__name__}"
            )
        if not lo <= value <= hi:
            raise ValueError(
                f"inputs: {name}={value} does not fit in {program.bits}-bit two's "
                f"complement [{lo}, {hi}]"
            )
        memory[program.symbols[name]] = int(value)
    want = run(program, max_steps=max_steps, memory=memory)  # StepLimitError
    machine = compile_machine(n_mem, bits, n_instr)
    state = machine.encode(program, memory)[None]  # (1, state size) float64
    with torch.no_grad():
        for _ in range(want.steps):
            state = machine.step(state)
        again = machine.step(state)
    mem, pc, _ = machine.layout.decode(state.numpy())
    mem2, pc2, _ = machine.layout.decode(again.numpy())
    if not (np.array_equal(mem[0], want.memory[-1]) and pc[0] == want.pc[-1]):
        raise RuntimeError(
            "the looped MLP and the interpreter disagree on this program; this is "
            "a bug in effteach.looped_mlp, please report it with the program"
        )
    if not (np.array_equal(mem2[0], mem[0]) and pc2[0] == pc[0]):
        raise RuntimeError("the looped MLP's final state is not a fixed point")
    return tuple(program.cell(mem[0], name) for name in outputs)


def on_machine(
    source_fn: Callable[..., str],
    outputs: Sequence[str] = ("Q", "R"),
    **kwargs,
) -> Callable[..., tuple[int, ...]]:
    """Turn a source builder ``f(*args) -> str`` into ``(*args) -> cell values``.

    Args:
        source_fn: builds SUBLEQ source from the inputs, as the demos of
            :mod:`effteach.looped_mlp.programs` do.
        outputs: the cells to return (see :func:`run_on_machine`).
        **kwargs: passed to :func:`run_on_machine` (``max_steps``, sizes).

    Returns:
        A function running ``source_fn(*args)`` on the looped MLP.

    Raises:
        TypeError: if ``source_fn`` is not callable.

    Book: notebooks/looped_mlp/assignment.md, Q1.
    """
    if not callable(source_fn):
        raise TypeError(
            f"source_fn: expected a function returning SUBLEQ source, got "
            f"{type(source_fn).__name__}"
        )

    def answer(*args) -> tuple[int, ...]:
        return run_on_machine(source_fn(*args), outputs, **kwargs)

    answer.__name__ = f"on_machine({getattr(source_fn, '__name__', 'source_fn')})"
    return answer


def _divmod_ref(x: int, y: int) -> tuple[int, int]:
    return x // y, x % y


def _divmod_cases(n: int, seed: int) -> list[tuple[int, int]]:
    """Inputs with 0 <= x <= 127, 1 <= y <= 15 and quotients of at most 12.

    Case 0 is an exact multiple (``x == q y``, q >= 1) and case 1 has ``x < y``, so
    the three visible cases already meet both boundaries of the loop.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        y = int(rng.integers(1, 16))
        q_max = min(12, 127 // y)
        if i == 0:
            q, r = int(rng.integers(1, q_max + 1)), 0
        elif i == 1:
            y = max(y, 2)
            q, r = 0, int(rng.integers(1, y))
        else:
            r = int(rng.integers(0, y))
            q = int(rng.integers(0, min(12, (127 - r) // y) + 1))
        cases.append((q * y + r, y))
    return cases


def _divmod_source_wrong(x: int, y: int) -> str:
    """Stops one subtraction early when the remainder reaches Y (tests R - Y <= 0)."""
    return f"""\
        mov X, R        ; R = X
loop:   mov R, T        ; T = R - Y
        sub Y, T
        jlez T, done    ; R <= Y: stop (wrong when R == Y)
        sub Y, R        ; R -= Y
        add ONE, Q      ; Q += 1
        jmp loop
done:   halt
.data
X: {x}
Y: {y}
Q: 0
R: 0
T: 0
ONE: 1
"""


# ------------------------------------------------------------------- gadgets
def _word_bits(n_bits: int) -> np.ndarray:
    """Bits (least significant first) of every signed word, in value order.

    Returns float64 of shape (2**n_bits, n_bits); row ``i`` is the word
    ``i - 2**(n_bits - 1)``.
    """
    lo, hi = value_range(n_bits)
    codes = np.arange(lo, hi + 1) % (1 << n_bits)
    return ((codes[:, None] >> np.arange(n_bits)) & 1).astype(np.float64)


def _check_n_bits(n_bits) -> int:
    if isinstance(n_bits, bool) or not isinstance(n_bits, int | np.integer):
        raise TypeError(f"n_bits: expected an int, got {type(n_bits).__name__}")
    if not 1 <= n_bits <= 10:
        raise ValueError(f"n_bits: expected an int in [1, 10], got {n_bits}")
    return int(n_bits)


def pair_table(build: Callable[[int], Circuit], n_bits: int) -> np.ndarray:
    """Evaluate a two-word gadget on every pair of signed ``n_bits``-bit words.

    ``build(n_bits)`` must return a :class:`~effteach.looped_mlp.circuit.Circuit`
    with ``2 * n_bits`` inputs (the bits of x, then of y, least significant
    first, two's complement) and one output. The circuit is compiled and the net
    run on all ``4**n_bits`` input pairs at once.

    Args:
        build: the gadget builder.
        n_bits: the word size, in [1, 10].

    Returns:
        float64 array of shape (2**n_bits, 2**n_bits): entry ``[i, j]`` is the
        output for ``x = i - 2**(n_bits - 1)`` and ``y = j - 2**(n_bits - 1)``.

    Raises:
        TypeError: if ``build`` is not callable or does not return a Circuit.
        ValueError: for ``n_bits`` out of range, or a circuit with the wrong
            number of inputs or outputs.

    Book: notebooks/looped_mlp/assignment.md, Q2.
    """
    if not callable(build):
        raise TypeError(f"build: expected a function, got {type(build).__name__}")
    n_bits = _check_n_bits(n_bits)
    circuit = build(n_bits)
    if not isinstance(circuit, Circuit):
        raise TypeError(
            f"build: expected build({n_bits}) to return a Circuit, got "
            f"{type(circuit).__name__}"
        )
    if circuit.n_inputs != 2 * n_bits:
        raise ValueError(
            f"build: the circuit for n_bits={n_bits} has {circuit.n_inputs} inputs; "
            f"expected {2 * n_bits} (the bits of x, then the bits of y)"
        )
    if len(circuit.outputs) != 1:
        raise ValueError(
            f"build: the circuit has {len(circuit.outputs)} outputs; expected 1 "
            "(set circuit.outputs = [expr])"
        )
    words = _word_bits(n_bits)
    n = len(words)
    x = np.concatenate(  # (n * n, 2 n_bits): row i * n + j holds (x_i, y_j)
        [np.repeat(words, n, axis=0), np.tile(words, (n, 1))], axis=1
    )
    out = circuit.compile().forward(x)  # (n * n, 1)
    return out[:, 0].reshape(n, n)


def on_all_pairs(build: Callable[[int], Circuit]) -> Callable[[int], np.ndarray]:
    """Turn a gadget builder into ``n_bits -> pair_table(build, n_bits)``.

    Raises:
        TypeError: if ``build`` is not callable.

    Book: notebooks/looped_mlp/assignment.md, Q2.
    """
    if not callable(build):
        raise TypeError(f"build: expected a function, got {type(build).__name__}")

    def answer(n_bits: int) -> np.ndarray:
        return pair_table(build, n_bits)

    answer.__name__ = f"on_all_pairs({getattr(build, '__name__', 'build')})"
    return answer


def _leq_table(n_bits: int) -> np.ndarray:
    """``[x <= y]`` for every pair of signed words, indexed as in pair_table."""
    lo, hi = value_range(n_bits)
    v = np.arange(lo, hi + 1)
    return (v[:, None] <= v[None, :]).astype(np.float64)


def _leq_cases(n: int, seed: int) -> list[tuple[int]]:
    """Word sizes 2..8 in turn (every case is exhaustive over its pairs)."""
    return [(2 + (seed + i) % 7,) for i in range(n)]


def _leq_circuit_wrong(n_bits: int) -> Circuit:
    """SUBLEQ's own branch test: ``wrap(x - y) <= 0``; wrong when x - y overflows."""
    c = Circuit(2 * n_bits)
    xs = [c.input(t) for t in range(n_bits)]
    ys = [c.input(n_bits + t) for t in range(n_bits)]
    r = subtract_lookahead(c, ys, xs, "d")  # bits of wrap(x - y)
    c.outputs = [r[-1] + is_zero(c, ys, xs, "eq")]
    return c


# ------------------------------------------------------------------- sizes
def _read_weights() -> sp.Expr:
    """Non-zero weights of the readA and readB units of layer 2 of fused5.

    Each of the ``2 m N`` units reads its memory bit (1 weight) and the ``La``
    address bits, each the sum of the ``K`` fetch units of its field.
    """
    m, N, K, La = (SYMBOLS[k] for k in ("m", "N", "K", "La"))
    return 2 * m * N * (1 + La * K)


def _read_weights_wrong() -> sp.Expr:
    """Forgets the weight on the memory bit itself."""
    m, N, K, La = (SYMBOLS[k] for k in ("m", "N", "K", "La"))
    return 2 * m * N * La * K


# ------------------------------------------------------------------- precision
def _significand_bits(dtype: torch.dtype) -> int:
    """Significand bits, the implicit one included (bfloat16: 8, float16: 11)."""
    return 1 - round(math.log2(torch.finfo(dtype).eps))


def _first_inexact_bits() -> tuple[int, int]:
    """The first word size that is not exact in bfloat16 and in float16.

    The lookahead carries need every integer up to ``2**(N-1)`` exactly, and a
    float with ``p`` significand bits holds every integer up to ``2**p``: exact
    for ``N <= p + 1``, broken from ``N = p + 2``.
    """
    return tuple(_significand_bits(d) + 2 for d in (torch.bfloat16, torch.float16))


register(
    Question(
        qid="looped_mlp.q1",
        prompt="divmod_source(x, y): SUBLEQ leaving x // y in Q and x % y in R.",
        kind="function",
        reference=_divmod_ref,
        wrong=on_machine(_divmod_source_wrong),
        make_cases=_divmod_cases,
        rtol=0.0,
        atol=0.0,
    )
)

register(
    Question(
        qid="looped_mlp.q2",
        prompt="leq_circuit(n_bits): a ReLU circuit for [x <= y], signed words.",
        kind="function",
        reference=_leq_table,
        wrong=on_all_pairs(_leq_circuit_wrong),
        make_cases=_leq_cases,
        rtol=0.0,
        atol=1e-9,
    )
)

register(
    Question(
        qid="looped_mlp.q3",
        prompt="Non-zero weights of the two gated data reads of layer 2 of fused5.",
        kind="sympy",
        reference=_read_weights,
        wrong=_read_weights_wrong,
    )
)

register(
    Question(
        qid="looped_mlp.q4",
        prompt="First word size N not exact in (bfloat16, float16).",
        kind="value",
        reference=_first_inexact_bits,
        wrong=(9, 12),  # "the word must fit in the significand": N <= p
        rtol=0.0,
        atol=0.0,
    )
)
