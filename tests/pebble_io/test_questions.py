"""The pebble_io assignment: references pass, wrong answers fail, helpers say why."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import sympy as sp
import torch

from effteach.grading import QUESTIONS, CheckFailed, check, questions_for
from effteach.pebble_io import (
    TwoLevelMemory,
    attention_ref,
    fa2_forward,
    run_schedule,
    schedules,
)
from effteach.pebble_io.counts import fa2_fwd_io
from effteach.pebble_io.questions import (
    _fa2_cases,
    _fa2_schedule_ref,
    _fa2_schedule_wrong,
    _online_update_cases,
    _online_update_ref,
    library_schedules_disabled,
    on_memory,
    online_attention,
)
from effteach.pebble_io.symbolic import branch_ratio, crossover, symbols
from effteach.tools.assign import check_wrong_answer_rejected

QIDS = ["pebble_io.q1", "pebble_io.q2", "pebble_io.q3", "pebble_io.q4",
        "pebble_io.q5"]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_questions_are_registered():
    assert questions_for("pebble_io") == QIDS
    for qid in QIDS:
        assert QUESTIONS[qid].wrong is not None


@pytest.mark.parametrize("qid", QIDS)
def test_wrong_answer_rejected(qid):
    assert check_wrong_answer_rejected(qid) == []


# ----------------------------------------------------------------------- q1


def update_base2(m, lsum, acc, s, v):
    """An independent answer, in the kernel's base 2."""
    log2e = 1 / math.log(2)
    m_new = torch.maximum(m, s.amax(dim=1))
    alpha = torch.exp2((m - m_new) * log2e)
    p = torch.exp2((s - m_new[:, None]) * log2e)
    return m_new, alpha * lsum + p.sum(1), alpha[:, None] * acc + p @ v


def test_q1_independent_answer_passes():
    check(update_base2, "pebble_io.q1")
    check(update_base2, "pebble_io.q1", cases=30, seed=2025)


def test_q1_forgetting_the_rescale_fails_on_case_1():
    with pytest.raises(CheckFailed, match=r"pebble_io.q1: case 1 .*output 2"):
        check(QUESTIONS["pebble_io.q1"].wrong, "pebble_io.q1")


def test_q1_no_max_shift_is_rejected():
    def no_shift(m, lsum, acc, s, v):  # right in exact arithmetic, but m' is required
        return torch.maximum(m, s.amax(1)), lsum + s.exp().sum(1), acc + s.exp() @ v

    with pytest.raises(CheckFailed, match="pebble_io.q1: case"):
        check(no_shift, "pebble_io.q1")


@pytest.mark.parametrize("seed", range(10))
def test_q1_cases_start_at_minus_inf_then_rescale(seed):
    cases = _online_update_cases(4, seed)
    m, lsum, acc, _, _ = cases[0]
    assert torch.isinf(m).all() and (lsum == 0).all() and (acc == 0).all()
    m, _, _, s, _ = cases[1]
    assert (s.amax(1) > m).all()


@pytest.mark.parametrize("block_n", [1, 3, 7, 11])
def test_online_attention_matches_the_reference(block_n):
    g = torch.Generator().manual_seed(block_n)
    q, k, v = (torch.randn(11, 5, generator=g, dtype=torch.float64) for _ in range(3))
    want = attention_ref(q.numpy(), k.numpy(), v.numpy())
    got = online_attention(_online_update_ref, q, k, v, block_n)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    bad = online_attention(QUESTIONS["pebble_io.q1"].wrong, q, k, v, block_n)
    assert block_n == 11 or not np.allclose(bad.numpy(), want)


# ----------------------------------------------------------------------- q2


def test_q2_reference_schedule_passes_and_counts_match():
    check(on_memory(_fa2_schedule_ref), "pebble_io.q2")
    with library_schedules_disabled():
        check(on_memory(_fa2_schedule_ref), "pebble_io.q2", cases=20, seed=7)


def test_q2_reloading_q_fails_on_the_counts_only():
    message = r"case 0 .*output 2: .*got 512, expected 320"
    with pytest.raises(CheckFailed, match=message):
        check(on_memory(_fa2_schedule_wrong), "pebble_io.q2")
    q, k, v, bm, bn = _fa2_cases(1, 0)[0]
    o, lse, _ = on_memory(_fa2_schedule_wrong)(q, k, v, bm, bn)
    np.testing.assert_allclose(o, attention_ref(q, k, v), rtol=1e-12)


def test_q2_forgetting_to_free_runs_out_of_fast_memory():
    def leaky(mem, n, d, bm, bn):
        for r0 in range(0, n, bm):
            mem.load("Q", slice(r0, min(r0 + bm, n)))
            for c0 in range(0, n, bn):
                mem.load("K", slice(c0, min(c0 + bn, n)))

    with pytest.raises(CheckFailed, match="CapacityError|your code raised"):
        check(on_memory(leaky), "pebble_io.q2")


def test_q2_peeking_at_slow_memory_is_refused():
    def peek(mem, n, d, bm, bn):
        q = mem.result("Q")
        raise AssertionError(f"should not get here {q.shape}")

    with pytest.raises(CheckFailed, match="mem.result is switched off"):
        check(on_memory(peek), "pebble_io.q2")


def test_q2_calling_the_library_fails_only_when_switched_off():
    def lean(mem, n, d, bm, bn):  # cannot even get q: the library is the only way
        res = fa2_forward(n * d * 8, np.eye(n, d), np.eye(n, d), np.eye(n, d), bm, bn)
        raise AssertionError(res.counts)

    with library_schedules_disabled():
        with pytest.raises(CheckFailed, match="switched off"):
            check(on_memory(lean), "pebble_io.q2")
        with pytest.raises(RuntimeError, match="switched off"):
            run_schedule("fa2_fwd", 10_000, *(np.ones((4, 2)),) * 3)
        with pytest.raises(RuntimeError, match="switched off"):
            schedules.fa1_forward(10_000, *(np.ones((4, 2)),) * 3)


def test_q2_library_is_restored_after_an_error():
    import effteach.pebble_io as package

    saved = (schedules.fa2_forward, package.fa2_forward, dict(schedules.SCHEDULES))
    with pytest.raises(KeyError), library_schedules_disabled():
        raise KeyError("boom")
    assert schedules.fa2_forward is saved[0] and package.fa2_forward is saved[1]
    assert schedules.SCHEDULES == saved[2]
    res = fa2_forward(10_000, *(np.ones((4, 2)),) * 3, block_m=2, block_n=2)
    assert res.counts == fa2_fwd_io(4, 2, 2, 2)


def test_on_memory_runs_in_exactly_the_working_set_and_matches_the_library():
    q, k, v, bm, bn = _fa2_cases(2, 3)[1]
    o, lse, io = on_memory(_fa2_schedule_ref)(q, k, v, bm, bn)
    lib = fa2_forward(TwoLevelMemory(10_000), q, k, v, block_m=bm, block_n=bn)
    np.testing.assert_allclose(o, lib["o"], rtol=1e-12)
    np.testing.assert_allclose(lse, lib["lse"], rtol=1e-12)
    assert tuple(io) == (lib.loads, lib.stores)
    with pytest.raises(TypeError, match="schedule: expected a function"):
        on_memory("fa2")


@pytest.mark.parametrize("seed", range(5))
def test_q2_cases_include_ragged_tiles(seed):
    cases = _fa2_cases(6, seed)
    assert cases[0][0].shape[0] % cases[0][3] == 0
    n = cases[1][0].shape[0]
    assert n % cases[1][3] and n % cases[1][4]
    for q, _, _, bm, bn in cases:
        assert 1 <= bm <= q.shape[0] and 1 <= bn <= q.shape[0]


# ----------------------------------------------------------------------- q3


def test_q3_reference_is_the_library_crossover():
    reference = QUESTIONS["pebble_io.q3"].reference()
    assert crossover() == [reference]
    n, d, M = symbols()
    assert sp.simplify(branch_ratio().subs(M, reference)) == 1
    check(sp.Symbol("d") ** 2, "pebble_io.q3")  # plain symbols of the same name


def test_q3_forward_only_crossover_also_d_squared_but_sqrt_is_rejected():
    n, d, M = symbols()
    assert crossover(backward=False) == [d**2]
    with pytest.raises(CheckFailed, match="not equal"):
        check(d, "pebble_io.q3")


# ----------------------------------------------------------------------- q4


def test_q4_reference_below_d_squared():
    ratio = QUESTIONS["pebble_io.q4"].reference()
    assert 0.3 < ratio < 1.0
    check(ratio, "pebble_io.q4")
    with pytest.raises(CheckFailed, match="expected"):
        check(ratio * 1.1, "pebble_io.q4")


# ----------------------------------------------------------------------- q5
#: bug -> the start of the feedback a student gets from the visible check
Q5_FEEDBACK = {
    "no rescale of the accumulator": "pebble_io.q5: case 0 (Tensor(1, 2, 37, 16) "
    "torch.float32, Tensor(1, 2, 37, 16) torch.float32, Tensor(1, 2, 37, 16) "
    "torch.float32, False): o: max error 8.908e-01",
    "mask applied after the max": "pebble_io.q5: case 2 (Tensor(1, 1, 21, 16) "
    "torch.float32, Tensor(1, 1, 21, 16) torch.float32, Tensor(1, 1, 21, 16) "
    "torch.float32, True): o: non-finite value nan",
    "off-by-one tail mask (offs_n <= n_ctx)": "pebble_io.q5: case 0 (Tensor(1, 2, "
    "37, 16) torch.float32, Tensor(1, 2, 37, 16) torch.float32, Tensor(1, 2, 37, 16) "
    "torch.float32, False): o: max error 1.805e-02",
    "off-by-one causal mask (j < i)": "pebble_io.q5: case 1 (Tensor(1, 1, 37, 16) "
    "torch.float16, Tensor(1, 1, 37, 16) torch.float16, Tensor(1, 1, 37, 16) "
    "torch.float16, True): o: non-finite value nan",
    "lse in the wrong base (log2, not ln)": "pebble_io.q5: case 0 (Tensor(1, 2, 37, "
    "16) torch.float32, Tensor(1, 2, 37, 16) torch.float32, Tensor(1, 2, 37, 16) "
    "torch.float32, False): lse: max error 2.306e+00",
}


@pytest.mark.interpreter
def test_q5_registered_as_a_kernel_question_with_no_rescale_as_wrong():
    from effteach.pebble_io.questions import (
        ATTENTION_BUGS,
        _attn_kernel_no_rescale,
        _attn_kernel_ref,
        launch_attention,
    )

    q = QUESTIONS["pebble_io.q5"]
    assert q.kind == "kernel" and q.launch is launch_attention
    assert q.wrong is _attn_kernel_no_rescale is next(iter(ATTENTION_BUGS.values()))
    assert q.solution is _attn_kernel_ref and q.output_names == ("o", "lse")
    assert set(Q5_FEEDBACK) == set(ATTENTION_BUGS)


@pytest.mark.interpreter
@pytest.mark.parametrize("bug", list(Q5_FEEDBACK))
def test_q5_each_typical_bug_is_rejected_by_the_visible_check(bug):
    from effteach.pebble_io.questions import ATTENTION_BUGS

    with pytest.raises(CheckFailed) as exc:
        check(ATTENTION_BUGS[bug], "pebble_io.q5")
    assert str(exc.value).startswith(Q5_FEEDBACK[bug]), str(exc.value)


@pytest.mark.interpreter
def test_q5_mask_after_max_needs_the_large_score_case():
    """Exact in theory: only the case with large masked scores catches it."""
    from effteach.grading import evaluate
    from effteach.pebble_io.questions import ATTENTION_BUGS, _attention_cases

    bug = ATTENTION_BUGS["mask applied after the max"]
    q = QUESTIONS["pebble_io.q5"]
    for i in (0, 1):
        args = _attention_cases(2, 0)[i]
        o, lse = q.launch(bug, *args)
        want_o, want_lse = q.reference(*args)
        rtol, atol = q.tolerance(*args)
        np.testing.assert_allclose(o.double().numpy(), want_o, rtol=rtol, atol=atol)
    with pytest.raises(CheckFailed, match="case 2"):
        evaluate(bug, "pebble_io.q5")


@pytest.mark.interpreter
@pytest.mark.parametrize("seed", [0, 2025])
def test_q5_staff_kernel_passes_the_hidden_cases(seed):
    from effteach.grading import evaluate
    from effteach.pebble_io.questions import _attn_kernel_ref

    report = evaluate(_attn_kernel_ref, "pebble_io.q5", cases=16, seed=seed)
    assert report.cases == 16 and report.max_error < 2e-3


@pytest.mark.interpreter
def test_q5_lecture_kernel_is_right_but_for_the_base_of_lse():
    """kernels/pebble_io.py keeps lse in base 2: o passes, lse is off by log2 e."""
    from effteach.kernels.pebble_io import _attn_fwd_kernel

    with pytest.raises(CheckFailed, match=r"case 0 .*\): lse: max error") as exc:
        check(_attn_fwd_kernel, "pebble_io.q5")
    got, want = (float(x) for x in
                 re.search(r"got (\S+), expected (\S+) ", str(exc.value)).groups())
    assert got / want == pytest.approx(1 / math.log(2), rel=1e-4)


@pytest.mark.interpreter
def test_q5_cases_cover_ragged_n_causal_and_dtypes():
    from effteach.pebble_io.questions import _attention_cases

    cases = _attention_cases(16, 2025)
    ns = [c[0].shape[2] for c in cases]
    assert ns[:5] == [37, 37, 21, 1, 5]
    assert {c[3] for c in cases} == {True, False}
    assert {c[0].dtype for c in cases} == {torch.float32, torch.float16}
    assert any(c[0].shape[1] == 2 for c in cases)  # several heads
