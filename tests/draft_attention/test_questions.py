"""The draft_attention assignment: references pass, wrong answers fail."""

from __future__ import annotations

import pytest

from effteach.grading import CheckFailed, check, get, questions_for


@pytest.mark.parametrize("qid", ["draft_attention.q1", "draft_attention.q2",
                                 "draft_attention.q3", "draft_attention.q4"])
def test_reference_passes_and_wrong_fails(qid):
    import effteach.draft_attention.questions  # noqa: F401  (registers)

    q = get(qid)
    check(q.reference, qid, cases=6, seed=11) if q.kind == "function" else \
        check(q.reference, qid)
    with pytest.raises(CheckFailed):
        check(q.wrong, qid, cases=6, seed=11) if q.kind == "function" else \
            check(q.wrong, qid)
    assert qid in questions_for("draft_attention")
