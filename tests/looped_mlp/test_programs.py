"""Demo programs, random programs and the batched interpreter (programs.py)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effteach.looped_mlp.asm import value_range
from effteach.looped_mlp.programs import (
    DEMOS,
    demo,
    demo_answer,
    random_programs,
    run_reference_batch,
)
from effteach.looped_mlp.reference import run, step


def answer(name, *args, **sizes):
    p, truth = demo(name, *args, **sizes)
    tr = run(p)
    assert tr.halted
    return demo_answer(name, p, tr.memory[-1]), truth


# ---------------------------------------------------------------- demos
def test_demo_registry():
    assert sorted(DEMOS) == ["add", "fibonacci", "gcd", "multiply", "sort"]
    for name, d in DEMOS.items():
        assert d.name == name
        p, truth = demo(name)
        assert p.n_instr == d.n_instr and p.n_used <= d.n_instr
        assert (p.n_mem, p.bits) == (16, 8)
        assert truth == d.truth(*d.default_args)
    assert demo("add")[1] == 42 and demo("multiply")[1] == 63
    assert demo("fibonacci")[1] == 55 and demo("gcd")[1] == 12
    assert demo("sort")[1] == [-4, 0, 5, 9]


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_default_demos_compute_their_answer(name):
    got, truth = answer(name)
    assert got == truth


def test_demo_sizes_and_bad_name():
    p, _ = demo("add", 1, 2, n_mem=4, bits=4)
    assert (p.n_mem, p.bits) == (4, 4)
    with pytest.raises(ValueError, match=r"name: expected one of \['add', "):
        demo("divide")


BITS = 8
LO, HI = value_range(BITS)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(x=st.integers(LO, HI), y=st.integers(LO, HI))
def test_add_demo(x, y):
    if LO <= x + y <= HI:  # beyond that the machine wraps, Python does not
        assert answer("add", x, y) == (x + y, x + y)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(x=st.integers(-12, 12), y=st.integers(0, 10))
def test_multiply_demo(x, y):
    assert answer("multiply", x, y) == (x * y, x * y)


@pytest.mark.parametrize("n", range(0, 12))  # fib(11) = 89 is the last below 128
def test_fibonacci_demo(n):
    got, truth = answer("fibonacci", n)
    assert got == truth


@settings(max_examples=25, deadline=None, derandomize=True)
@given(x=st.integers(1, 60), y=st.integers(1, 60))
def test_gcd_demo(x, y):
    assert answer("gcd", x, y) == (math.gcd(x, y), math.gcd(x, y))


@settings(max_examples=40, deadline=None, derandomize=True)
@given(v=st.lists(st.integers(-63, 63), min_size=1, max_size=4))
def test_sort_demo(v):
    assert answer("sort", v) == (sorted(v), sorted(v))


def test_sort_demo_is_wrong_when_a_difference_wraps():
    # the documented limit: 100 - (-100) = 200 wraps to -56, "already in order"
    got, truth = answer("sort", [100, -100])
    assert truth == [-100, 100] and got == [100, -100]


# ---------------------------------------------------------------- random programs
def test_random_programs_cover_every_field():
    n, n_mem, bits, n_instr = 2000, 4, 3, 8
    code, mem, pc = random_programs(n, n_mem, bits, n_instr, seed=3)
    assert code.shape == (n, n_instr, 3)
    assert mem.shape == (n, n_mem) and pc.shape == (n,)
    lo, hi = value_range(bits)
    assert set(np.unique(code[..., :2])) == set(range(n_mem))
    assert set(np.unique(code[..., 2])) == set(range(n_instr))
    assert set(np.unique(mem)) == set(range(lo, hi + 1))  # both ends included
    assert set(np.unique(pc)) == set(range(n_instr))
    assert (code[..., 0] == code[..., 1]).any()  # the a == b case occurs


def test_random_programs_are_seeded():
    a = random_programs(5, 8, 6, 16, seed=1)
    b = random_programs(5, 8, 6, 16, seed=1)
    c = random_programs(5, 8, 6, 16, seed=2)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[1], c[1])


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    sizes=st.sampled_from([(2, 2, 2), (4, 3, 4), (8, 6, 16), (4, 12, 8)]),
    seed=st.integers(0, 10_000),
)
def test_batched_interpreter_matches_step(sizes, seed):
    n_mem, bits, n_instr = sizes
    code, mem, pc = random_programs(6, n_mem, bits, n_instr, seed=seed)
    mem0, pc0 = mem.copy(), pc.copy()
    bm, bp = run_reference_batch(code, mem, pc, bits, n_steps=10)
    assert bm.shape == (11, 6, n_mem) and bp.shape == (11, 6)
    np.testing.assert_array_equal(mem, mem0)  # inputs unchanged
    np.testing.assert_array_equal(pc, pc0)
    for i in range(6):
        m, p = mem[i], int(pc[i])
        for t in range(11):
            np.testing.assert_array_equal(bm[t, i], m)
            assert bp[t, i] == p
            m, p = step(code[i], m, p, bits)
