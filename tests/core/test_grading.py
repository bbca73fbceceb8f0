import pytest
import sympy as sp
import torch

from effteach import grading
from effteach.grading import CheckFailed, Question, check, compare_arrays, evaluate


@pytest.mark.parametrize("qid", grading.questions_for("foundations"))
def test_reference_passes_and_wrong_answer_is_rejected(qid):
    q = grading.get(qid)
    right = q.reference if q.solution is None else q.solution  # a kernel's staff one
    assert evaluate(right, qid, cases=10).cases >= 1
    with pytest.raises(CheckFailed, match=qid):
        check(q.wrong, qid, cases=10)


def test_feedback_names_case_error_and_first_mismatch():
    def off_by_one(p, dp):
        return p * (dp - (p * dp).sum(-1, keepdim=True)) + 1

    with pytest.raises(CheckFailed) as exc:
        check(off_by_one, "foundations.q2")
    msg = str(exc.value)
    assert msg.startswith("foundations.q2: case 0")
    assert "max error" in msg and "first mismatch at index (0, 0)" in msg


def test_student_exception_becomes_feedback():
    def crashes(p, dp):
        return p @ dp  # shape error for non-square inputs

    with pytest.raises(CheckFailed, match=r"your code raised RuntimeError"):
        check(crashes, "foundations.q2")

    def todo(p, dp):
        raise NotImplementedError()

    with pytest.raises(CheckFailed, match="not implemented yet"):
        check(todo, "foundations.q2")


def test_wrong_shape_and_nan_are_reported():
    with pytest.raises(CheckFailed, match="expected shape"):
        check(lambda p, dp: p.T, "foundations.q2")
    with pytest.raises(CheckFailed, match="non-finite"):
        check(lambda p, dp: p * float("nan"), "foundations.q2")


def test_checks_are_deterministic(capsys):
    q = grading.get("foundations.q2")
    a = [tuple(t.clone() for t in c) for c in q.make_cases(5, seed=3)]
    b = q.make_cases(5, seed=3)
    for x, y in zip(a, b, strict=True):
        for s, t in zip(x, y, strict=True):
            assert torch.equal(s, t)
    assert str(evaluate(q.reference, q.qid, cases=5, seed=3)) == str(
        evaluate(q.reference, q.qid, cases=5, seed=3)
    )


def test_sympy_question_compares_by_symbol_name():
    z = sp.Matrix(
        sp.symbols("z0:3", real=True)
    )  # assumptions differ from the reference
    p = z.applyfunc(sp.exp) / sum(sp.exp(zi) for zi in z)
    check(p.jacobian(z), "foundations.q1")
    with pytest.raises(CheckFailed, match="expected a \\(3, 3\\) Matrix"):
        check(sp.Matrix([1, 2]), "foundations.q1")


def test_unknown_question_and_bad_registration():
    with pytest.raises(KeyError, match="unknown question 'foundations.q99'"):
        check(lambda: 0, "foundations.q99")
    with pytest.raises(ValueError, match="qid: expected"):
        grading.register(Question("nodot", "", "value", 1, 2))
    with pytest.raises(ValueError, match="already registered"):
        grading.register(grading.get("foundations.q3"))
    with pytest.raises(ValueError, match="cases: expected an int >= 1"):
        check(grading.get("foundations.q2").reference, "foundations.q2", cases=0)


def test_compare_arrays_tuple_outputs():
    a = torch.ones(2)
    assert compare_arrays((a, a), (a, a), 1e-6, 1e-6) == 0.0
    with pytest.raises(CheckFailed, match="expected 2 outputs, got 1"):
        compare_arrays((a,), (a, a), 1e-6, 1e-6)


def test_check_prints_one_line_and_returns_none(capsys):
    # a graded cell must end with no output value: nbgrader reads one as a score
    q = grading.get("foundations.q2")
    assert check(q.reference, q.qid) is None
    out = capsys.readouterr().out
    assert out == str(evaluate(q.reference, q.qid)) + "\n"
    assert out.startswith("foundations.q2: passed 3 case(s), max error ")
    assert capsys.readouterr().out == ""  # evaluate itself prints nothing


def test_check_failure_shows_one_line_in_a_kernel():
    # IPython renders CheckFailed as its message only: no source context lines
    # (they would show a graded cell's hidden tests in nbgrader's feedback)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.user_ns["check"] = check
    tb = []
    shell._showtraceback = lambda etype, evalue, stb: tb.extend(stb)
    shell.run_cell('check(lambda p, dp: p, "foundations.q2")\nsecret = "hidden"')
    assert len(tb) == 1 and tb[0].startswith("CheckFailed: foundations.q2: case 0")
    assert "hidden" not in tb[0]
