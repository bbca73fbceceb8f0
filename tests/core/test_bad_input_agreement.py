"""Reference and fast path refuse the same inputs; the harness catches a lost check.

Pairs: the looped_mlp reference interpreter and the compiled MLP (same messages,
word for word: they share their checks), the foundations attention reference and
the Triton FlashAttention kernel (interpreter mode; same exception class, same
argument named, same message for the options they share).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re

import numpy as np
import pytest
import torch
from fuzz_support import Call, fuzz

import effteach  # noqa: F401  (TRITON_INTERPRET before the kernel import)
from effteach import looped_mlp as lm


def _outcome(fn):
    try:
        fn()
    except Exception as err:  # compared below
        return type(err).__name__, str(err)
    return "ok", ""


# ------------------------------------------------------------------ looped_mlp
@functools.cache
def _pair():
    program = lm.assemble("sub A, B\nhalt\n.data\nA: 1\nB: 3", n_mem=4, bits=4,
                          n_instr=4)
    return program, lm.compile_machine(4, 4, 4)


BAD_MEMORY = {
    "float (truncation)": np.array([1.5, 5.7, 0.0, 0.0]),
    "integral floats": np.array([1.0, 3.0, 0.0, 0.0]),
    "nan": np.array([np.nan, 1, 0, 0]),
    "inf": np.array([np.inf, 1, 0, 0]),
    "bools": np.array([True, False, True, False]),
    "beyond the word": np.array([8, 0, 0, 0]),
    "below the word": np.array([-9, 0, 0, 0]),
    "wrong shape": np.array([1, 2, 3], dtype=np.int64),
    "2-D": np.zeros((2, 4), dtype=np.int64),
    "a string": "1234",
}


@pytest.mark.parametrize("case", list(BAD_MEMORY))
def test_memory_refused_alike_by_reference_and_mlp(case):
    program, machine = _pair()
    memory = BAD_MEMORY[case]
    ref = _outcome(lambda: lm.run(program, memory=memory))
    mlp = _outcome(lambda: machine.encode(program, memory=memory))
    assert ref[0] in ("TypeError", "ValueError") and ref[1].startswith("memory: ")
    assert ref == mlp


@pytest.mark.parametrize("max_steps", [2.5, 2.0, True, "3", None, 0, -4, math.nan])
def test_max_steps_refused_alike(max_steps):
    program, machine = _pair()
    ref = _outcome(lambda: lm.run(program, max_steps=max_steps))
    mlp = _outcome(lambda: machine.run(program, max_steps=max_steps))
    assert ref[0] in ("TypeError", "ValueError") and ref[1].startswith("max_steps: ")
    assert ref == mlp


@pytest.mark.parametrize("program", ["sub A, B", None, 3])
def test_non_programs_refused_alike(program):
    _, machine = _pair()
    ref = _outcome(lambda: lm.run(program))
    mlp = _outcome(lambda: machine.run(program))
    assert ref[0] == "TypeError" and ref[1].startswith("program: ") and ref == mlp


@pytest.mark.parametrize(
    "field, index, value, message",
    [
        ("code", (0, 0), 20, "address a = 20, out of range [0, 4)"),
        ("code", (0, 1), -1, "address b = -1, out of range [0, 4)"),
        ("code", (0, 2), 40, "jump target c = 40, out of range [0, 4)"),
    ],
)
def test_program_validates_itself(field, index, value, message):
    program, _ = _pair()
    code = program.code.copy()
    code[index] = value
    with pytest.raises(ValueError,
                       match="^" + re.escape(f"code: instruction 0 has {message}")):
        dataclasses.replace(program, code=code)


def test_program_refuses_float_memory_and_odd_sizes():
    program, _ = _pair()
    with pytest.raises(TypeError, match=r"^memory: expected integers .* 1\.5 at"):
        dataclasses.replace(program, memory=np.array([1.5, 0, 0, 0]))
    with pytest.raises(ValueError, match=r"^memory: expected n_mem .* got 3"):
        dataclasses.replace(program, memory=np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"^code: expected n_instr .* got 3"):
        dataclasses.replace(program, code=program.code[:3],
                            lines=program.lines[:3])


# ------------------------------------------------------------------ kernels
def _qkv():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(1, 2, 16, 16, generator=g) for _ in range(3)]


@pytest.mark.interpreter
@pytest.mark.parametrize(
    "change, named, same_message",
    [
        ({"q": 3}, "q", True),
        ({"v": "long"}, "v", False),
        ({"causal": "yes"}, "causal", True),
        ({"causal": 1}, "causal", True),
        ({"scale": math.nan}, "scale", True),
        ({"scale": -1.0}, "scale", True),
        ({"scale": math.inf}, "scale", True),
        ({"scale": "x"}, "scale", True),
    ],
)
def test_attention_reference_and_kernel_refuse_alike(change, named, same_message):
    from effteach.foundations import attention_ref
    from effteach.kernels.pebble_io import flash_attn_fwd

    q, k, v = _qkv()
    args = {"q": q, "k": k, "v": v, "causal": False, "scale": None}
    args.update(change)
    if isinstance(args["v"], str):  # "long": an integer tensor
        args["v"] = v.long()
    ref = _outcome(lambda: attention_ref(**args))
    fast = _outcome(lambda: flash_attn_fwd(**args))
    assert ref[0] == fast[0] and ref[0] in ("TypeError", "ValueError")
    assert ref[1].startswith(f"{named}: ") and fast[1].startswith(f"{named}: ")
    if same_message:
        assert ref[1] == fast[1]


# ------------------------------------------------------------------ mutation
def _run_without_checks(program, max_steps=10_000, memory=None, strict=True):
    """lm.run as it was before issue 21: memory cast with np.asarray(..., int64)."""
    mem = program.memory.copy() if memory is None else np.asarray(memory, np.int64)
    pc, mems = 0, [mem]
    for _ in range(int(max_steps)):
        new_mem, pc2 = lm.step(program.code, mem, pc, program.bits)
        if pc2 == pc and np.array_equal(new_mem, mem):
            break
        mem, pc = new_mem, pc2
        mems.append(mem)
    return lm.Trace(np.stack(mems), np.zeros(len(mems), np.int64), True)


def test_harness_catches_a_removed_argument_check():
    program, _ = _pair()

    def make(fn):
        return lambda: Call(fn, (program,), {"max_steps": 20,
                                             "memory": np.array([1, 3, 0, 0])})

    assert fuzz(make(lm.run)) == []  # the real one passes
    failures = fuzz(make(_run_without_checks))
    found = {(f.param, f.kind) for f in failures}
    # float memory truncated, NaN, a float max_steps: all caught, by name
    assert ("memory", "float-dtype") in found
    assert ("max_steps", "float-for-int") in found
    assert any(f.problem == "accepted silently" for f in failures)
