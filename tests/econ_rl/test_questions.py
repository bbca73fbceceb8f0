"""The econ_rl assignment: references pass, known-wrong answers are rejected."""

import pytest

import effteach.econ_rl.questions  # noqa: F401 - registers the questions
from effteach.grading import QUESTIONS, CheckFailed, evaluate, questions_for

QIDS = ["econ_rl.q1", "econ_rl.q2", "econ_rl.q3"]


def test_registered():
    assert questions_for("econ_rl") == QIDS


@pytest.mark.parametrize("qid", QIDS)
def test_reference_passes_wrong_fails(qid):
    q = QUESTIONS[qid]
    evaluate(q.reference, qid, cases=8, seed=3)
    with pytest.raises(CheckFailed):
        evaluate(q.wrong, qid, cases=8, seed=3)


def test_verifier_never_raises_on_garbage():
    q = QUESTIONS["econ_rl.q1"]
    for text in ["", "\\boxed{", "\\boxed{}", "\\boxed{(1,2)}", "\\boxed{none}"]:
        assert q.reference(5, 1, 1, text) == 0.0
