"""foundations.q4: the row-softmax Triton kernel question, graded in the interpreter.

Every typical bug of :data:`SOFTMAX_BUGS` is rejected, with the feedback recorded
here (the closing note of the kernel-assignment issue quotes these); the staff kernel
and the lecture's own kernel pass the hidden seeds.
"""

from __future__ import annotations

import pytest
import torch

from effteach.foundations.questions import (
    SOFTMAX_BUGS,
    _softmax_cases,
    _softmax_kernel_ref,
    _softmax_kernel_zero_other,
    launch_softmax,
)
from effteach.grading import QUESTIONS, CheckFailed, check, evaluate, get
from effteach.kernels.foundations import _softmax_fwd_kernel

pytestmark = pytest.mark.interpreter
QID = "foundations.q4"

#: bug -> the start of the feedback a student gets from the visible check
FEEDBACK = {
    "masked load with other=0.0 instead of -inf": "foundations.q4: case 0 (Tensor(3, "
    "37) torch.float32): max error 5.054e-02; first mismatch at index (0, 0)",
    "off-by-one tail mask (offs <= n_cols)": "foundations.q4: case 0 (Tensor(3, 37) "
    "torch.float32): your kernel wrote 1 element(s) past the end of out: a store "
    "mask lets out-of-range lanes through",
    "no max subtraction (exp overflows)": "foundations.q4: case 2 (Tensor(4, 64) "
    "torch.float16): non-finite value nan at index (0, 0)",
    "row stride ignored (row * n_cols)": "foundations.q4: case 0 (Tensor(3, 37) "
    "torch.float32): non-finite value nan at index (1, 0)",
    "store without the mask": "foundations.q4: case 0 (Tensor(3, 37) torch.float32): "
    "your kernel wrote 27 element(s) past the end of out",
}


def test_registered_as_a_kernel_question_with_the_first_bug_as_wrong():
    q = get(QID)
    assert q.kind == "kernel" and q.launch is launch_softmax
    assert q.wrong is _softmax_kernel_zero_other
    assert next(iter(SOFTMAX_BUGS.values())) is q.wrong
    assert q.solution is _softmax_kernel_ref
    assert set(FEEDBACK) == set(SOFTMAX_BUGS)


@pytest.mark.parametrize("bug", list(SOFTMAX_BUGS))
def test_each_typical_bug_is_rejected_by_the_visible_check(bug):
    with pytest.raises(CheckFailed) as exc:
        check(SOFTMAX_BUGS[bug], QID)
    assert str(exc.value).startswith(FEEDBACK[bug]), str(exc.value)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("kernel", [_softmax_kernel_ref, _softmax_fwd_kernel],
                         ids=["staff", "lecture"])
@pytest.mark.parametrize("seed", [0, 2025])
def test_right_kernels_pass_the_hidden_cases(kernel, seed):
    report = evaluate(kernel, QID, cases=24, seed=seed)
    assert report.cases == 24 and report.max_error < 1e-3


def test_cases_are_ragged_one_row_large_logits_and_both_dtypes():
    cases = [x for (x,) in _softmax_cases(24, 2025)]
    shapes = [tuple(x.shape) for x in cases]
    assert shapes[:3] == [(3, 37), (1, 5), (4, 64)]
    assert any(c & (c - 1) for _, c in shapes)  # n_cols not a power of two
    assert any(r == 1 for r, _ in shapes)
    assert {x.dtype for x in cases} == {torch.float32, torch.float16}
    assert float(cases[2].float().min()) > 88.0  # exp overflows without the shift


def test_launch_pads_rows_with_nan_and_passes_the_stride():
    x = torch.randn(2, 3)
    out = launch_softmax(_softmax_kernel_ref, x)
    torch.testing.assert_close(out, torch.softmax(x, -1))
    assert QUESTIONS[QID].tolerance(x.half()) > QUESTIONS[QID].tolerance(x)
