"""The looped_mlp assignment: references pass, wrong answers fail, helpers say why."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from effteach.grading import QUESTIONS, CheckFailed, check, questions_for
from effteach.looped_mlp import AssemblyError, Circuit, StepLimitError, compile_machine
from effteach.looped_mlp.programs import gcd_source, multiply_source
from effteach.looped_mlp.questions import (
    MACHINE,
    _divmod_cases,
    on_all_pairs,
    on_machine,
    pair_table,
    run_on_machine,
)
from effteach.looped_mlp.size import SYMBOLS, evaluate, fused5_weights
from effteach.tools.assign import check_wrong_answer_rejected

QIDS = ["looped_mlp.q1", "looped_mlp.q2", "looped_mlp.q3", "looped_mlp.q4"]

DIVMOD = """\
        mov X, R        ; R = X
loop:   mov Y, T        ; T = Y - R
        sub R, T
        jlez T, take    ; R >= Y: subtract once more
        halt
take:   sub Y, R        ; R -= Y
        add ONE, Q      ; Q += 1
        jmp loop
.data
X: {x}
Y: {y}
Q: 0
R: 0
T: 0
ONE: 1
"""


def divmod_source(x: int, y: int) -> str:
    return DIVMOD.format(x=x, y=y)


def leq_circuit(n_bits: int) -> Circuit:
    """[x <= y] for signed words: step(y - x) with the sign bit weighing -2^(n-1)."""
    c = Circuit(2 * n_bits)
    x = [c.input(t) for t in range(n_bits)]
    y = [c.input(n_bits + t) for t in range(n_bits)]
    weight = [2.0**t for t in range(n_bits - 1)] + [-(2.0 ** (n_bits - 1))]
    d = sum(weight[t] * (y[t] - x[t]) for t in range(n_bits))
    c.outputs = [c.relu(d + 1, "u") - c.relu(d, "v")]
    return c


def test_questions_are_registered():
    assert questions_for("looped_mlp") == QIDS
    for qid in QIDS:
        assert QUESTIONS[qid].wrong is not None


@pytest.mark.parametrize("qid", QIDS)
def test_wrong_answer_rejected(qid):
    assert check_wrong_answer_rejected(qid) == []


# ----------------------------------------------------------------------- q1


def test_q1_reference_program_passes_on_the_machine():
    answer = on_machine(divmod_source)
    check(answer, "looped_mlp.q1")
    check(answer, "looped_mlp.q1", cases=6, seed=2024)
    assert answer(127, 127) == (1, 0) and answer(0, 5) == (0, 0)


def test_q1_wrong_answer_fails_on_an_exact_multiple():
    with pytest.raises(CheckFailed, match=r"case 0 .*got 5, expected 6"):
        check(QUESTIONS["looped_mlp.q1"].wrong, "looped_mlp.q1")


@pytest.mark.parametrize("seed", range(20))
def test_q1_cases_meet_both_boundaries_and_stay_small(seed):
    cases = _divmod_cases(5, seed)
    (x0, y0), (x1, y1) = cases[:2]
    assert x0 % y0 == 0 and x0 >= y0  # exact multiple: the off-by-one shows
    assert x1 < y1  # no subtraction at all
    for x, y in cases:
        assert 0 <= x <= 127 and 1 <= y <= 15 and x // y <= 12


def test_q1_precomputed_answer_is_caught_by_overriding_the_inputs():
    def cheat(x: int, y: int) -> str:
        return f"halt\n.data\nX: {x}\nY: {y}\nQ: {x // y}\nR: {x % y}\n"

    check(on_machine(cheat), "looped_mlp.q1")  # the seeded cases cannot tell...
    got = run_on_machine(cheat(1, 1), ("Q", "R"), inputs={"X": 100, "Y": 7})
    assert got != (14, 2)  # ...the hidden test that rewrites X and Y can
    ok = run_on_machine(divmod_source(1, 1), ("Q", "R"), inputs={"X": 100, "Y": 7})
    assert ok == (14, 2)


@pytest.mark.parametrize(
    "source, outputs, want",
    [(multiply_source(7, 9), "P", (63,)), (gcd_source(84, 36), ["A", "B"], (12, 12))],
)
def test_run_on_machine_runs_demos(source, outputs, want):
    assert run_on_machine(source, outputs) == want


def test_run_on_machine_reads_array_cells_and_other_sizes():
    src = "add V, V+1\nhalt\n.data\nV: 3 4\n"
    assert run_on_machine(src, ["V", "V+1"], n_mem=4, bits=6, n_instr=4) == (3, 7)


def test_student_errors_become_feedback():
    def loops_forever(x: int, y: int) -> str:
        return "loop: sub ONE, Q\njmp loop\n.data\nQ: 0\nR: 0\nONE: 1\n"

    with pytest.raises(CheckFailed, match="StepLimitError: max_steps"):
        check(on_machine(loops_forever), "looped_mlp.q1")

    def too_long(x: int, y: int) -> str:
        return "mov A, B\n" * 9 + ".data\nA: 1\nB: 0\nQ: 0\nR: 0\n"

    with pytest.raises(CheckFailed, match="more than n_instr=32"):
        check(on_machine(too_long), "looped_mlp.q1")

    def todo(x: int, y: int) -> str:
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not implemented yet"):
        check(on_machine(todo), "looped_mlp.q1")


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"outputs": ()}, TypeError, "outputs: expected a non-empty sequence"),
        ({"outputs": 3}, TypeError, "outputs: expected a non-empty sequence"),
        ({"outputs": ["Q", "S"]}, ValueError, "outputs: the program has no data cell"),
        ({"inputs": [("X", 1)]}, TypeError, "inputs: expected a dict"),
        ({"inputs": {"W": 1}}, ValueError, "inputs: the program has no data cell 'W'"),
        ({"inputs": {"X": 1.5}}, TypeError, "inputs: the value of 'X' must be an int"),
        ({"inputs": {"X": 128}}, ValueError, r"X=128 does not fit in 8-bit"),
        ({"max_steps": 3}, StepLimitError, "did not halt within 3 steps"),
        ({"n_mem": 12}, ValueError, "n_mem: expected a power of two"),
    ],
)
def test_run_on_machine_bad_input(kwargs, error, message):
    args = {"outputs": ("Q", "R"), **kwargs}
    with pytest.raises(error, match=message):
        run_on_machine(divmod_source(20, 3), **args)


def test_run_on_machine_bad_source():
    with pytest.raises(TypeError, match="source: expected a str"):
        run_on_machine(None, "Q")
    with pytest.raises(AssemblyError, match="line 1: unknown instruction"):
        run_on_machine("jump Q\n.data\nQ: 0\n", "Q")
    with pytest.raises(TypeError, match="source_fn: expected a function"):
        on_machine("not a function")


def test_machine_is_the_documented_one():
    assert MACHINE == {"n_mem": 16, "bits": 8, "n_instr": 32}
    assert compile_machine(**MACHINE).net.depth == 5


# ----------------------------------------------------------------------- q2


def test_q2_reference_circuit_passes_exhaustively():
    check(on_all_pairs(leq_circuit), "looped_mlp.q2")
    check(on_all_pairs(leq_circuit), "looped_mlp.q2", cases=7, seed=3)
    table = pair_table(leq_circuit, 8)
    assert np.array_equal(table, np.triu(np.ones((256, 256))))
    assert leq_circuit(5).compile().depth == 1


def test_q2_wrong_answer_fails_only_where_the_subtraction_wraps():
    wrong = QUESTIONS["looped_mlp.q2"].wrong
    with pytest.raises(CheckFailed, match=r"case 0 \(2\).*index \(0, 3\)"):
        check(wrong, "looped_mlp.q2")
    n = 4
    v = np.arange(-(2 ** (n - 1)), 2 ** (n - 1))
    diff = v[:, None] - v[None, :]
    overflow = (diff > 2 ** (n - 1) - 1) | (diff < -(2 ** (n - 1)))
    bad = wrong(n) != (v[:, None] <= v[None, :])
    assert bad.any() and np.array_equal(bad, overflow)


def test_q2_off_by_one_strict_comparison_is_rejected():
    def less(n_bits: int) -> Circuit:  # [x < y] = [y - x >= 1]: wrong on x == y
        c = Circuit(2 * n_bits)
        weight = [2.0**t for t in range(n_bits - 1)] + [-(2.0 ** (n_bits - 1))]
        d = sum(weight[t] * (c.input(n_bits + t) - c.input(t)) for t in range(n_bits))
        c.outputs = [c.relu(d, "a") - c.relu(d - 1, "b")]
        return c

    with pytest.raises(CheckFailed, match=r"index \(0, 0\): got 0, expected 1"):
        check(on_all_pairs(less), "looped_mlp.q2")


def test_pair_table_index_convention():
    def value_of_x(n_bits: int) -> Circuit:  # the output is x itself
        c = Circuit(2 * n_bits)
        weight = [2.0**t for t in range(n_bits - 1)] + [-(2.0 ** (n_bits - 1))]
        c.outputs = [sum(weight[t] * c.input(t) for t in range(n_bits))]
        return c

    table = pair_table(value_of_x, 3)
    assert table.shape == (8, 8)
    assert np.array_equal(table, np.repeat(np.arange(-4, 4)[:, None], 8, axis=1))


def _no_output(n_bits):
    c = Circuit(2 * n_bits)
    c.outputs = []
    return c


def _two_outputs(n_bits):
    c = leq_circuit(n_bits)
    c.outputs = c.outputs * 2
    return c


@pytest.mark.parametrize(
    "build, n_bits, error, message",
    [
        ("leq", 3, TypeError, "build: expected a function"),
        (lambda n: None, 3, TypeError, r"expected build\(3\) to return a Circuit"),
        (lambda n: leq_circuit(n + 1), 3, ValueError, "has 8 inputs; expected 6"),
        (_no_output, 3, ValueError, "has 0 outputs; expected 1"),
        (_two_outputs, 3, ValueError, "has 2 outputs; expected 1"),
        (leq_circuit, 0, ValueError, r"n_bits: expected an int in \[1, 10\]"),
        (leq_circuit, 11, ValueError, r"n_bits: expected an int in \[1, 10\]"),
        (leq_circuit, 2.0, TypeError, "n_bits: expected an int"),
    ],
)
def test_pair_table_bad_input(build, n_bits, error, message):
    with pytest.raises(error, match=message):
        pair_table(build, n_bits)


def test_on_all_pairs_bad_input():
    with pytest.raises(TypeError, match="build: expected a function"):
        on_all_pairs(42)


# ----------------------------------------------------------------------- q3


def _read_nonzeros(n_mem: int, bits: int, n_instr: int) -> int:
    net = compile_machine(n_mem, bits, n_instr).net
    rows = [
        r
        for r, name in enumerate(net.unit_names[1])
        if name.startswith(("readA[", "readB["))
    ]
    assert len(rows) == 2 * n_mem * bits
    return int(np.count_nonzero(net.weights[1][rows]))


@pytest.mark.parametrize("sizes", [(2, 2, 2), (4, 3, 8), (8, 4, 16), (16, 8, 32)])
def test_q3_reference_counts_the_built_matrices(sizes):
    ref = QUESTIONS["looped_mlp.q3"].reference()
    assert evaluate(ref, *sizes) == _read_nonzeros(*sizes)
    wrong = QUESTIONS["looped_mlp.q3"].wrong()
    assert evaluate(wrong, *sizes) != _read_nonzeros(*sizes)


def test_q3_reference_is_the_read_term_of_the_size_formula():
    m, N, K, La = (SYMBOLS[k] for k in ("m", "N", "K", "La"))
    ref = QUESTIONS["looped_mlp.q3"].reference()
    check(ref, "looped_mlp.q3")
    layer2 = sp.expand(fused5_weights()[1])
    rest = sp.expand(layer2 - ref)
    assert sp.Poly(layer2, m, N, K, La).coeff_monomial(m * N * K * La) == 2
    assert sp.Poly(rest, m, N, K, La).coeff_monomial(m * N * K * La) == 0
    # the same expression with plain symbols of the same names also passes
    m, N, K, La = sp.symbols("m N K L_a")
    plain = 2 * m * N * (1 + La * K)
    check(plain, "looped_mlp.q3")


# ----------------------------------------------------------------------- q4


def test_q4_reference_follows_the_significand():
    q = QUESTIONS["looped_mlp.q4"]
    assert q.reference() == (10, 13)
    check((10, 13), "looped_mlp.q4")
    with pytest.raises(CheckFailed, match="got 9, expected 10"):
        check(q.wrong, "looped_mlp.q4")


@pytest.mark.slow
def test_q4_reference_matches_the_measured_sweep():
    from effteach.looped_mlp.experiments import first_failing_bits, precision_sweep

    sweep = precision_sweep(
        dtypes=("bfloat16", "float16"),
        bits_list=(8, 9, 10, 12, 13),
        n_mem=8,
        n_instr=16,
        n_programs=16,
        n_steps=8,
    )
    measured = tuple(first_failing_bits(sweep[d]) for d in ("bfloat16", "float16"))
    assert measured == QUESTIONS["looped_mlp.q4"].reference()
