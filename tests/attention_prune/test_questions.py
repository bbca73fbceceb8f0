"""The attention_prune assignment: references pass, wrong answers fail."""

from __future__ import annotations

import pytest
import sympy as sp
import torch

from effteach.attention_prune import attention_grad, attention_loss_ref
from effteach.attention_prune.questions import (
    SYMBOLS,
    _armijo_cases,
    _mask_cases,
    softmax_row,
)
from effteach.grading import QUESTIONS, CheckFailed, check, questions_for
from effteach.tools.assign import check_wrong_answer_rejected

QIDS = ["attention_prune.q1", "attention_prune.q2", "attention_prune.q3",
        "attention_prune.q4"]


def test_questions_are_registered_in_order():
    assert questions_for("attention_prune") == QIDS


@pytest.mark.parametrize("qid", QIDS[:3])
def test_reference_passes_and_wrong_answer_is_rejected(qid):
    q = QUESTIONS[qid]
    check(q.reference, qid, cases=6, seed=1)
    assert check_wrong_answer_rejected(qid) == []


def test_jacobian_form_of_q1_is_accepted():
    z, a = SYMBOLS["z"], SYMBOLS["a"]
    f = softmax_row(z)
    check(lambda: (sp.diag(*f) - f * f.T) * (f - sp.Matrix(a)), QIDS[0])
    with pytest.raises(CheckFailed):
        check(lambda: -(sp.diag(*f) - f * f.T) * (f - sp.Matrix(a)), QIDS[0])


def test_q2_cases_agree_with_autograd():
    for x, w, m, t, lam, causal in _mask_cases(4, 0):
        mm = m.clone().requires_grad_()
        (auto,) = torch.autograd.grad(attention_loss_ref(x, w, mm, t, lam, causal), mm)
        torch.testing.assert_close(attention_grad(x, w, m, t, lam, causal), auto)


def test_q3_cases_need_backtracking():
    steps = [QUESTIONS[QIDS[2]].reference(*c) for c in _armijo_cases(6, 0)]
    assert any(s < c[-1] for s, c in zip(steps, _armijo_cases(6, 0), strict=True))
