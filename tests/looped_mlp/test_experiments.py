"""Exactness, precision and noise experiments (effteach.looped_mlp.experiments)."""

import dataclasses

import numpy as np
import pytest
import torch

from effteach.looped_mlp.compiler import VARIANTS, LoopedMLP, compile_machine
from effteach.looped_mlp.experiments import (
    compare_with_interpreter,
    first_failing_bits,
    noise_sweep,
    precision_sweep,
    random_states,
    throughput,
)
from effteach.looped_mlp.programs import demo
from effteach.looped_mlp.reference import run as reference_run


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("n_mem, bits, n_instr", [(4, 4, 8), (8, 6, 16)])
def test_compare_with_interpreter_on_random_programs(n_mem, bits, n_instr, variant):
    m = compile_machine(n_mem, bits, n_instr, variant)
    res = compare_with_interpreter(m, n_programs=200, n_steps=16, seed=7)
    assert res == {"programs": 200, "steps": 16, "all_equal": True,
                   "wrong_programs": 0, "first_wrong_step": None}


def test_compare_with_interpreter_reports_a_broken_machine():
    m = compile_machine(4, 4, 8)
    biases = [b.copy() for b in m.net.biases]
    biases[-1][-1] -= 1.0  # the last unit of the last layer never fires
    broken = LoopedMLP(m.layout, m.variant, m.with_snap,
                       dataclasses.replace(m.net, biases=tuple(biases)))
    res = compare_with_interpreter(broken, n_programs=100, n_steps=6, seed=0)
    assert not res["all_equal"]
    assert 0 < res["wrong_programs"] <= 100 and res["first_wrong_step"] >= 1


def test_random_states_encode_the_random_programs():
    m = compile_machine(4, 3, 4)
    states, code, mem, pc = random_states(m, 5, seed=2)
    assert states.shape == (5, m.layout.size) and states.dtype == torch.float64
    for i in range(5):
        np.testing.assert_array_equal(states[i].numpy(),
                                      m.layout.encode(code[i], mem[i], int(pc[i])))


@pytest.mark.parametrize("dtype", ["int8", torch.int32, "float8"])
def test_unknown_dtypes_are_rejected(dtype):
    with pytest.raises(ValueError, match="dtype: expected one of"):
        compare_with_interpreter(compile_machine(4, 3, 4), 2, 2, dtype=dtype)


# ---------------------------------------------------------------- precision
def test_precision_thresholds():
    """A word of N bits needs integers up to 2**(N-1) inside the subtractor.

    bf16 has 8 significant bits (exact to 256: N <= 9), fp16 has 11 (N <= 12),
    float32 24.
    """
    sweep = precision_sweep(
        dtypes=("bfloat16", "float16", "float32"), bits_list=(9, 10, 12, 13, 16),
        n_mem=4, n_instr=4, n_programs=32, n_steps=8,
    )
    assert sweep == {
        "bfloat16": {9: True, 10: False, 12: False, 13: False, 16: False},
        "float16": {9: True, 10: True, 12: True, 13: False, 16: False},
        "float32": {9: True, 10: True, 12: True, 13: True, 16: True},
    }
    assert first_failing_bits(sweep["bfloat16"]) == 10
    assert first_failing_bits(sweep["float16"]) == 13
    assert first_failing_bits(sweep["float32"]) is None


@pytest.mark.parametrize(
    "dtype, exact_bits, broken_bits",
    [("bfloat16", 9, 10), (torch.float16, 12, 13), ("float32", 16, None)],
)
def test_precision_thresholds_of_the_paper_body(dtype, exact_bits, broken_bits):
    exact = compile_machine(4, exact_bits, 4, "paper23")
    assert compare_with_interpreter(exact, 32, 8, dtype)["all_equal"]
    if broken_bits is not None:
        broken = compile_machine(4, broken_bits, 4, "paper23")
        assert not compare_with_interpreter(broken, 32, 8, dtype)["all_equal"]


def test_first_failing_bits():
    assert first_failing_bits({12: False, 8: True, 10: False, 9: True}) == 10
    assert first_failing_bits({8: True}) is None
    assert first_failing_bits({}) is None


def test_throughput_checks_its_result():
    m = compile_machine(4, 12, 4)
    res = throughput(m, batch=16, n_steps=4)
    assert res["exact"] and res["batch"] == 16 and res["steps"] == 4
    assert res["dtype"] == "float64" and res["device"] == "cpu"
    assert res["program_steps_per_s"] == pytest.approx(64 / res["seconds"])
    assert not throughput(m, batch=16, n_steps=4, dtype="bfloat16")["exact"]


# ---------------------------------------------------------------- noise
@pytest.mark.parametrize("variant", VARIANTS)
def test_snap_survives_noise_that_breaks_the_plain_body(variant):
    p, _ = demo("add", 3, 4, n_mem=4, bits=4)
    sweep = noise_sweep(p, sigmas=(0.0, 0.1), trials=4, variant=variant)
    assert sweep == {False: {0.0: 1.0, 0.1: 0.0}, True: {0.0: 1.0, 0.1: 1.0}}


def test_noisy_run_with_snap_follows_the_interpreter():
    p, _ = demo("multiply", 3, 4, n_mem=8, bits=6)
    want = reference_run(p)
    m = compile_machine(p.n_mem, p.bits, p.n_instr, snap=True)
    for seed in range(2):
        got = m.run(p, noise=0.1, seed=seed)
        np.testing.assert_array_equal(got.memory, want.memory)
        np.testing.assert_array_equal(got.pc, want.pc)
    plain = compile_machine(p.n_mem, p.bits, p.n_instr, snap=False)
    got = plain.run(p, max_steps=want.steps + 5, noise=0.1, seed=0, strict=False)
    assert len(got.pc) != len(want.pc) or not np.array_equal(got.memory, want.memory)
