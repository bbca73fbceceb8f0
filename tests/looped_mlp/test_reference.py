"""The reference SUBLEQ interpreter (effteach.looped_mlp.reference)."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effteach.looped_mlp.asm import assemble, value_range
from effteach.looped_mlp.reference import StepLimitError, Trace, run, step, wrap

COUNT = """\
loop:   sub ONE, N      ; N -= 1
        jlez N, done
        jmp loop
done:   halt
.data
N: 3
ONE: 1
"""


def test_wrap_is_twos_complement():
    assert int(wrap(127, 8)) == 127 and int(wrap(128, 8)) == -128
    assert int(wrap(-129, 8)) == 127 and int(wrap(256, 8)) == 0
    np.testing.assert_array_equal(wrap(np.arange(-5, 5), 2), [-1, 0, 1, -2, -1, 0, 1,
                                                              -2, -1, 0])
    lo, hi = value_range(6)
    v = np.arange(lo, hi + 1)
    np.testing.assert_array_equal(wrap(v, 6), v)  # in range: unchanged


def test_step_semantics():
    code = np.array([[0, 1, 3], [1, 0, 0], [0, 0, 2], [2, 2, 0]])
    mem = np.array([2, 5, 0], dtype=np.int64)
    new, pc = step(code, mem, 0, bits=4)  # mem[1] = 5 - 2 = 3 > 0: next
    np.testing.assert_array_equal(new, [2, 3, 0])
    assert pc == 1
    np.testing.assert_array_equal(mem, [2, 5, 0])  # the input is not changed
    new, pc = step(code, np.array([2, 2, 0]), 0, bits=4)  # 0 <= 0: jump to 3
    assert pc == 3 and new[1] == 0
    new, pc = step(code, np.array([3, -7, 0]), 0, bits=4)  # -10 wraps to 6 > 0
    assert new[1] == 6 and pc == 1
    new, pc = step(code, np.array([1, 7, 5]), 3, bits=4)  # a == b: cell becomes 0
    assert new[2] == 0 and pc == 0
    code[3] = (0, 1, 3)  # the last instruction falls through to instruction 0
    new, pc = step(code, np.array([1, 7, 5]), 3, bits=4)
    assert new[1] == 6 and pc == 0


def test_run_counts_down_and_halts_at_a_fixed_point():
    p = assemble(COUNT, n_mem=4, bits=4, n_instr=8)
    tr = run(p)
    assert isinstance(tr, Trace) and tr.halted
    assert p.cell(tr.memory[-1], "N") == 0
    assert tr.memory.shape == (tr.steps + 1, 4) and tr.pc.shape == (tr.steps + 1,)
    # sub, jlez, jmp, sub, jlez, jmp, sub, jlez (-> done) = 8 steps
    assert tr.steps == 8 and tr.pc[-1] == p.labels["done"]
    np.testing.assert_array_equal([p.cell(m, "N") for m in tr.memory],
                                  [3, 2, 2, 2, 1, 1, 1, 0, 0])
    mem, pc = step(p.code, tr.memory[-1], int(tr.pc[-1]), p.bits)
    assert pc == tr.pc[-1] and np.array_equal(mem, tr.memory[-1])  # fixed point
    for t in range(tr.steps):  # and no earlier state is one
        mem, pc = step(p.code, tr.memory[t], int(tr.pc[t]), p.bits)
        assert pc == tr.pc[t + 1] and np.array_equal(mem, tr.memory[t + 1])


def test_run_from_other_memory_and_a_halt_at_once():
    p = assemble(COUNT, n_mem=4, bits=4, n_instr=8)
    tr = run(p, memory=np.array([1, 1, 0, 0]))
    assert tr.halted and tr.steps == 2  # sub, jlez
    np.testing.assert_array_equal(p.memory, [3, 1, 0, 0])  # the program is unchanged
    h = run(assemble("halt", n_mem=2, n_instr=2))
    assert h.halted and h.steps == 0 and h.memory.shape == (1, 2)


def test_step_limit_is_exact():
    p = assemble(COUNT, n_mem=4, bits=4, n_instr=8)
    assert run(p, max_steps=8).steps == 8  # halts after exactly max_steps steps
    with pytest.raises(StepLimitError):
        run(p, max_steps=7)


def test_a_program_that_never_halts():
    p = assemble("L: sub ONE, X\njmp L\n.data\nONE: 1\nX: 0", n_mem=4, bits=4,
                 n_instr=2)  # X counts down forever
    with pytest.raises(StepLimitError) as info:
        run(p, max_steps=50)
    msg = str(info.value)
    assert msg.startswith("max_steps: the program did not halt within 50 steps")
    assert "(pc = 0, line 1)" in msg  # 50 steps: back at the sub of line 1
    assert isinstance(info.value, RuntimeError)
    tr = run(p, max_steps=50, strict=False)
    assert not tr.halted and tr.steps == 50 and len(tr.memory) == 51


@pytest.mark.parametrize(
    "kwargs, err, pattern",
    [
        ({"max_steps": 0}, ValueError, "max_steps: expected an int >= 1, got 0"),
        ({"max_steps": 2.0}, TypeError, "max_steps: expected an int"),
        ({"max_steps": True}, TypeError, "max_steps"),
        ({"memory": np.zeros(3, np.int64)}, ValueError,
         r"memory: expected shape \(4,\)"),
        ({"memory": np.array([8, 0, 0, 0])}, ValueError, r"4-bit .*\[-8, 7\]"),
        ({"memory": np.array([0, -9, 0, 0])}, ValueError, "memory: values must fit"),
    ],
)
def test_run_bad_input(kwargs, err, pattern):
    p = assemble(COUNT, n_mem=4, bits=4, n_instr=8)
    with pytest.raises(err, match=pattern):
        run(p, **kwargs)


# ---------------------------------------------------------------- property
@st.composite
def machines(draw):
    """Random code, memory and bits for a plain-Python re-implementation."""
    bits = draw(st.integers(2, 8))
    n_mem, n_instr = draw(st.sampled_from([2, 4, 8])), draw(st.sampled_from([2, 4, 8]))
    lo, hi = value_range(bits)
    code = draw(st.lists(st.tuples(st.integers(0, n_mem - 1),
                                   st.integers(0, n_mem - 1),
                                   st.integers(0, n_instr - 1)),
                         min_size=n_instr, max_size=n_instr))
    mem = draw(st.lists(st.integers(lo, hi), min_size=n_mem, max_size=n_mem))
    return bits, code, mem


@settings(max_examples=100, deadline=None, derandomize=True)
@given(machine=machines())
def test_run_matches_a_plain_python_machine(machine):
    bits, code, mem = machine
    p = assemble("halt", n_mem=len(mem), bits=bits, n_instr=len(code))
    p = dataclasses.replace(p, code=np.array(code), memory=np.array(mem))
    tr = run(p, max_steps=30, strict=False)
    m, pc = list(mem), 0
    for t in range(tr.steps):
        a, b, c = code[pc]
        v = (m[b] - m[a]) % 2**bits  # wrap by hand: unsigned, then signed
        m[b] = v - 2**bits if v >= 2 ** (bits - 1) else v
        pc = c if m[b] <= 0 else (pc + 1) % len(code)
        assert list(tr.memory[t + 1]) == m and tr.pc[t + 1] == pc
    if tr.halted:  # the last state is a fixed point of the machine
        a, b, c = code[pc]
        assert m[a] == 0 and m[b] <= 0 and c == pc
