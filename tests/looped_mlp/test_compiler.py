"""The compiled machine: layout, bad input, and exactness against the interpreter.

The central claim: for every demo program and for random valid SUBLEQ states, the
looped MLP's state (memory, PC and the program itself) equals the interpreter's after
every step, in both bodies (``fused5`` and ``paper23``), with and without ``snap``.
"""

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from effteach.looped_mlp.asm import assemble, value_range
from effteach.looped_mlp.compiler import (
    PAPER_BUDGET,
    VARIANTS,
    Layout,
    LoopedMLP,
    compile_machine,
)
from effteach.looped_mlp.programs import (
    DEMOS,
    demo,
    demo_answer,
    random_programs,
    run_reference_batch,
)
from effteach.looped_mlp.reference import StepLimitError
from effteach.looped_mlp.reference import run as reference_run

SMALL = [(4, 3, 4), (2, 2, 2), (8, 5, 8), (4, 6, 16)]  # (n_mem, bits, n_instr)


def assert_matches_interpreter(machine, code, memory, pc, n_steps):
    """Run a batch on the MLP and the interpreter; every state must be equal."""
    lay = machine.layout
    states = torch.from_numpy(lay.encode_batch(code, memory, pc))
    with torch.no_grad():
        traj = machine.run_batch(states, n_steps)  # (n_steps + 1, batch, size)
    assert traj.shape == (n_steps + 1, len(pc), lay.size)
    got_m, got_p, got_c = lay.decode(traj.numpy())
    want_m, want_p = run_reference_batch(code, memory, pc, lay.bits, n_steps)
    np.testing.assert_array_equal(got_m, want_m)
    np.testing.assert_array_equal(got_p, want_p)
    np.testing.assert_array_equal(got_c, np.broadcast_to(code, got_c.shape))
    # exact: every coordinate is a bit, not just something that rounds to one
    assert set(np.unique(traj.numpy())) <= {0.0, 1.0}


# ---------------------------------------------------------------- compile_machine
@pytest.mark.parametrize(
    "kwargs, err, pattern",
    [
        ({"n_mem": 6}, ValueError, r"n_mem: expected a power of two in \[2, 256\]"),
        ({"n_mem": 1}, ValueError, "n_mem"),
        ({"n_mem": 512}, ValueError, "n_mem"),
        ({"n_mem": 4.0}, TypeError, "n_mem: expected an int, got float"),
        ({"bits": 1}, ValueError, r"bits: expected an int in \[2, 24\], got 1"),
        ({"bits": 25}, ValueError, "bits"),
        ({"bits": True}, TypeError, "bits"),
        ({"n_instr": 3}, ValueError, "n_instr: expected a power of two"),
        ({"n_instr": 512}, ValueError, "n_instr"),
        ({"variant": "paper"}, ValueError, r"variant: expected one of \('fused5'"),
        ({"snap": 1}, TypeError, "snap: expected a bool, got int"),
    ],
)
def test_compile_machine_rejects_bad_arguments(kwargs, err, pattern):
    args = {"n_mem": 4, "bits": 4, "n_instr": 4, **kwargs}
    with pytest.raises(err, match=pattern):
        compile_machine(**args)


def test_machines_are_cached_per_size_and_variant():
    a = compile_machine(4, 4, 4)
    assert compile_machine(4, 4, 4, "fused5", False) is a
    assert compile_machine(np.int64(4), 4, 4) is a
    assert compile_machine(4, 4, 4, "paper23") is not a
    assert compile_machine(4, 4, 4, snap=True) is not a


@pytest.mark.parametrize("snap", [False, True])
def test_depths_and_stages(snap):
    fused = compile_machine(8, 4, 8, "fused5", snap=snap)
    paper = compile_machine(8, 4, 8, "paper23", snap=snap)
    assert VARIANTS == ("fused5", "paper23")
    assert fused.net.depth == 5 + snap
    assert paper.net.depth == 23 + snap == sum(n for _, n in PAPER_BUDGET) + snap
    want = [st for st, n in PAPER_BUDGET for _ in range(n)]
    assert list(paper.net.stages) == ["snap"] * snap + want
    assert set(fused.net.stages) == {None}
    assert fused.with_snap == paper.with_snap == snap
    assert repr(fused).startswith(f"LoopedMLP(fused5, n_mem=8, bits=4, n_instr=8, "
                                  f"depth={5 + snap}")
    # a loop body maps the state to the state
    for m in (fused, paper):
        assert m.net.weights[0].shape[1] == m.layout.size
        assert m.net.readout.shape[0] == m.layout.size


# ---------------------------------------------------------------- Layout
@pytest.mark.parametrize("n_mem, bits, n_instr", [(2, 2, 2), (4, 3, 8), (16, 8, 32)])
def test_layout_indices_are_a_bijection(n_mem, bits, n_instr):
    lay = Layout(n_mem, bits, n_instr)
    la, lc = n_mem.bit_length() - 1, n_instr.bit_length() - 1
    assert (lay.la, lay.lc, lay.instr_bits) == (la, lc, 2 * la + lc)
    assert lay.size == n_mem * bits + n_instr * (2 * la + lc) + lc
    idx = [lay.mem(i, t) for i in range(n_mem) for t in range(bits)]
    idx += [lay.prog(k, f, j) for k in range(n_instr)
            for f, w in enumerate((la, la, lc)) for j in range(w)]
    idx += [lay.pc(j) for j in range(lc)]
    assert idx == list(range(lay.size))  # in order, no gaps, no overlaps
    names = lay.names()
    assert len(names) == lay.size == len(set(names))
    assert names[lay.mem(n_mem - 1, bits - 1)] == f"mem[{n_mem - 1}].{bits - 1}"
    assert names[lay.prog(1, 2, 0)] == "prog[1].c0" and names[-1] == f"pc.{lc - 1}"


@st.composite
def machine_states(draw, sizes=((2, 2, 2), (4, 3, 4), (8, 5, 8), (4, 8, 16))):
    n_mem, bits, n_instr = draw(st.sampled_from(sizes))
    lo, hi = value_range(bits)
    code = draw(st.lists(st.tuples(st.integers(0, n_mem - 1), st.integers(0, n_mem - 1),
                                   st.integers(0, n_instr - 1)),
                         min_size=n_instr, max_size=n_instr))
    mem = draw(st.lists(st.integers(lo, hi), min_size=n_mem, max_size=n_mem))
    pc = draw(st.integers(0, n_instr - 1))
    return Layout(n_mem, bits, n_instr), np.array(code), np.array(mem), pc


@settings(max_examples=60, deadline=None, derandomize=True)
@given(state=machine_states(), seed=st.integers(0, 1000))
def test_encode_decode_round_trip(state, seed):
    lay, code, mem, pc = state
    x = lay.encode(code, mem, pc)
    assert x.shape == (lay.size,) and set(np.unique(x)) <= {0.0, 1.0}
    got_m, got_p, got_c = lay.decode(x)
    np.testing.assert_array_equal(got_m, mem)
    assert got_p == pc
    np.testing.assert_array_equal(got_c, code)
    # decoding rounds: noise below one half changes nothing
    noise = np.random.default_rng(seed).uniform(-0.49, 0.49, x.shape)
    for got, want in zip(lay.decode(x + noise), (mem, pc, code), strict=True):
        np.testing.assert_array_equal(got, want)
    # the vectorised encoder agrees, and decode is batched over leading dims
    batch = lay.encode_batch(code[None], mem[None], np.array([pc]))
    np.testing.assert_array_equal(batch, x[None])
    m2, p2, c2 = lay.decode(np.stack([x, x])[None])
    assert m2.shape == (1, 2, lay.n_mem) and p2.shape == (1, 2)
    assert c2.shape == (1, 2, lay.n_instr, 3)


def test_decode_clips_and_cleans_non_finite_values():
    lay = Layout(2, 3, 2)
    x = lay.encode(np.array([[1, 0, 1], [0, 0, 0]]), np.array([3, -4]), 1)
    x[lay.mem(0, 0)] = 7.0  # clipped to 1
    x[lay.mem(0, 1)] = np.nan  # -> 0
    x[lay.mem(1, 0)] = np.inf  # -> 1
    x[lay.pc(0)] = -np.inf  # -> 0
    mem, pc, _ = lay.decode(x)
    np.testing.assert_array_equal(mem, [1, -3])
    assert pc == 0


# ---------------------------------------------------------------- bad input
def test_step_rejects_bad_states():
    m = compile_machine(4, 3, 4)
    size = m.layout.size
    with pytest.raises(TypeError, match="state: expected a floating-point"):
        m.step(np.zeros((1, size)))
    with pytest.raises(TypeError, match="state: expected a floating-point"):
        m.step(torch.zeros((1, size), dtype=torch.int64))
    with pytest.raises(ValueError, match=rf"state: expected shape \(batch, {size}\), "
                                         rf"got \({size},\)"):
        m.step(torch.zeros(size))
    with pytest.raises(ValueError, match=rf"got \(2, {size + 1}\)"):
        m.step(torch.zeros((2, size + 1)))
    out, hidden = m.step(torch.zeros((3, size), dtype=torch.float32), trace=True)
    assert out.dtype == torch.float32 and out.shape == (3, size)
    assert [h.shape[1] for h in hidden] == m.net.widths


def test_encode_rejects_programs_of_other_sizes_and_bad_state():
    m = compile_machine(4, 4, 4)
    p = assemble("halt\n.data\nX: 1", n_mem=4, bits=4, n_instr=4)
    assert m.encode(p).dtype == torch.float64
    for other in ({"n_mem": 8}, {"bits": 5}, {"n_instr": 8}):
        q = assemble("halt", **{"n_mem": 4, "bits": 4, "n_instr": 4, **other})
        with pytest.raises(ValueError, match="program: assembled for"):
            m.encode(q)
    with pytest.raises(ValueError, match=r"memory: expected shape \(4,\)"):
        m.encode(p, memory=np.zeros(5, dtype=np.int64))
    with pytest.raises(ValueError, match=r"memory: values must fit in 4-bit"):
        m.encode(p, memory=np.array([8, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"pc: expected an int in \[0, 4\), got 4"):
        m.encode(p, pc=4)
    with pytest.raises(TypeError, match="pc: expected an int"):
        m.encode(p, pc=1.0)
    x = m.encode(p, memory=np.array([-8, 7, 0, 1]), pc=3)
    mem, pc, _ = m.layout.decode(x.numpy())
    np.testing.assert_array_equal(mem, [-8, 7, 0, 1])
    assert pc == 3


def test_run_step_limit_and_strict_false():
    m = compile_machine(4, 4, 2)
    p = assemble("L: sub ONE, X\njmp L\n.data\nONE: 1\nX: 0", n_mem=4, bits=4,
                 n_instr=2)
    msg = r"max_steps: the looped MLP did not reach a fixed point within 20 steps \(pc"
    with pytest.raises(StepLimitError, match=msg):
        m.run(p, max_steps=20)
    with pytest.raises(ValueError, match="max_steps: expected an int >= 1"):
        m.run(p, max_steps=0)
    got = m.run(p, max_steps=20, strict=False)
    want = reference_run(p, max_steps=20, strict=False)
    assert not got.halted and got.steps == 20
    np.testing.assert_array_equal(got.memory, want.memory)
    np.testing.assert_array_equal(got.pc, want.pc)
    # a program that halts after exactly max_steps steps is not cut off
    q, _ = demo("add", 1, 2, n_mem=4, bits=4)
    k = reference_run(q).steps
    mq = compile_machine(4, 4, DEMOS["add"].n_instr)
    assert mq.run(q, max_steps=k).halted
    with pytest.raises(StepLimitError):
        mq.run(q, max_steps=k - 1)


# ---------------------------------------------------------------- exactness
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", sorted(DEMOS))
def test_every_demo_steps_like_the_interpreter(name, variant):
    """One batched step from every state of the interpreter's run gives the next.

    The outputs are compared as floats, bit for bit, so by induction looping the
    body from the first state reproduces the whole run; the halted state maps to
    itself. Default demo sizes (16 cells of 8 bits).
    """
    p, _ = demo(name)
    m = compile_machine(p.n_mem, p.bits, p.n_instr, variant)
    tr = reference_run(p)
    n = len(tr.pc)
    states = torch.from_numpy(m.layout.encode_batch(
        np.broadcast_to(p.code, (n, *p.code.shape)), tr.memory, tr.pc))
    with torch.no_grad():
        nxt = m.step(states)
    assert torch.equal(nxt[:-1], states[1:])
    assert torch.equal(nxt[-1], states[-1])


def _demo_run(name, variant):
    p, truth = demo(name, n_mem=8)  # every demo fits in 8 cells
    m = compile_machine(p.n_mem, p.bits, p.n_instr, variant)
    want = reference_run(p)
    got = m.run(p)
    assert got.halted and got.steps == want.steps
    np.testing.assert_array_equal(got.memory, want.memory)
    np.testing.assert_array_equal(got.pc, want.pc)
    assert demo_answer(name, p, got.memory[-1]) == truth


SLOW_LOOPS = {("fibonacci", "paper23"), ("sort", "paper23")}  # ~2 s each


@pytest.mark.parametrize(
    "name, variant",
    [
        pytest.param(n, v, marks=[pytest.mark.slow] if (n, v) in SLOW_LOOPS else [])
        for n in sorted(DEMOS) for v in VARIANTS
    ],
)
def test_every_demo_loops_to_its_answer(name, variant):
    """LoopedMLP.run, step by step from the program: the same trace and answer."""
    _demo_run(name, variant)


@pytest.mark.parametrize("snap", [False, True])
@pytest.mark.parametrize("variant", VARIANTS)
def test_halted_state_is_a_fixed_point(variant, snap):
    for name in ("add", "gcd"):
        p, _ = demo(name, n_mem=8, bits=8)
        m = compile_machine(p.n_mem, p.bits, p.n_instr, variant, snap=snap)
        tr = reference_run(p)
        x = m.encode(p, memory=tr.memory[-1], pc=int(tr.pc[-1]))[None]
        y = x
        for _ in range(3):  # bit for bit, again and again
            y = m.step(y)
            assert torch.equal(y, x)
        # while the state before it is not
        x0 = m.encode(p, memory=tr.memory[-2], pc=int(tr.pc[-2]))[None]
        assert not torch.equal(m.step(x0), x0)


@pytest.mark.parametrize(
    "n_mem, bits, n_instr, variant, snap",
    [(*size, v, False) for size in SMALL for v in VARIANTS]
    # snap only adds a clean-up layer in front: one size is enough
    + [(*SMALL[0], v, True) for v in VARIANTS],
)
def test_random_programs_match_the_interpreter(n_mem, bits, n_instr, variant, snap):
    """256 random valid states per machine (every field uniform), 24 steps each."""
    code, mem, pc = random_programs(256, n_mem, bits, n_instr, seed=n_instr + bits)
    m = compile_machine(n_mem, bits, n_instr, variant, snap=snap)
    assert_matches_interpreter(m, code, mem, pc, n_steps=24)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(state=machine_states(sizes=((4, 4, 8), (2, 3, 4))))
def test_any_state_steps_like_the_interpreter(state):
    lay, code, mem, pc = state
    for variant in VARIANTS:
        m = compile_machine(lay.n_mem, lay.bits, lay.n_instr, variant)
        assert_matches_interpreter(m, code[None], mem[None], np.array([pc]), 12)


def test_the_comparison_can_fail():
    m = compile_machine(4, 3, 4)
    net = m.net
    biases = list(net.biases)
    biases[-1] = biases[-1].copy()
    biases[-1][0] += 1.0  # one wrong bias in the last layer
    broken = LoopedMLP(m.layout, m.variant, m.with_snap,
                       dataclasses.replace(net, biases=tuple(biases)))
    code, mem, pc = random_programs(64, 4, 3, 4, seed=0)
    with pytest.raises(AssertionError):
        assert_matches_interpreter(broken, code, mem, pc, n_steps=4)
