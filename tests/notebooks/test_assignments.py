"""The assignments: solution passes, student fails only where graded, no leaks.

Every chapter with ``notebooks/<slug>/assignment.md`` is covered automatically, plus
the toy fixture under ``tests/notebooks/fixtures/`` (its own tiny grading, so the
tools are tested without :mod:`effteach.grading`). The second half shows that each
check fails on a bad notebook or a bad grader. Run one question with
``pytest tests/notebooks -k foundations.q2``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
from collections import namedtuple
from pathlib import Path

import nbformat
import pytest

from effteach.tools import assign
from effteach.tools.assign import (
    autograded_cells,
    check_manual_cells,
    check_no_leaks,
    check_questions_registered,
    check_solution_passes,
    check_student_fails_exactly_in_graded,
    check_wrong_answer_rejected,
    check_wrong_answers_rejected,
    failing_cells,
    graded_cells,
    manual_cells,
    question_ids,
    secret_lines,
)
from effteach.tools.notebooks import repo_root

REPO = repo_root()
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REAL_SLUGS = assign.assignment_slugs(REPO)
FIXTURE_SLUGS = assign.assignment_slugs(FIXTURES)
#: (root, slug) of every assignment under test; ids: "foundations", "fixture-toy"
CHAPTERS = [(REPO, s) for s in REAL_SLUGS] + [(FIXTURES, s) for s in FIXTURE_SLUGS]
CHAPTER_IDS = [s for s in REAL_SLUGS] + [f"fixture-{s}" for s in FIXTURE_SLUGS]

# ------------------------------------------------------- the toy fixture's grading

ToyQuestion = namedtuple("ToyQuestion", "reference wrong cases")


class FakeGrading:
    """The part of :mod:`effteach.grading` the checks use, for toy questions."""

    class CheckFailed(AssertionError):
        pass

    def __init__(self, questions: dict, accept_everything: bool = False):
        self.QUESTIONS = questions
        self.accept_everything = accept_everything

    def questions_for(self, slug: str) -> list[str]:
        return sorted(q for q in self.QUESTIONS if q.split(".", 1)[0] == slug)

    def check(self, answer, question_id, cases=3, seed=0):
        if self.accept_everything:  # a broken grader
            return None
        q = self.QUESTIONS[question_id]
        for x in q.cases:
            if answer(x) != q.reference(x):
                raise self.CheckFailed(f"{question_id}: wrong for {x!r}")
        return None


def toy_questions() -> dict:
    """The toy fixture's questions, each with an off-by-one style wrong answer."""
    return {
        "toy.q1": ToyQuestion(
            lambda n: n * (n + 1) // 2, lambda n: n * (n - 1) // 2, [0, 1, 7, 10]
        ),
        "toy.q2": ToyQuestion(lambda s: s[::-1], lambda s: s, ["", "ab", "kv cache"]),
    }


def grading_for(root: Path):
    """The registry a chapter's questions live in: real, or the toy fixture's."""
    return FakeGrading(toy_questions()) if root == FIXTURES else None


# --------------------------------------------------------------------- fixtures


@dataclasses.dataclass
class Built:
    slug: str
    root: Path
    solution_path: Path
    student_path: Path

    @property
    def solution(self):
        return assign.read_ipynb(self.solution_path)

    @property
    def student(self):
        return assign.read_ipynb(self.student_path)

    @property
    def cwd(self) -> Path:  # the kernel runs where the source notebook lives
        return self.root / "notebooks" / self.slug


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> dict[tuple[Path, str], Built]:
    """Build every assignment once per session with the command line tool."""
    out: dict[tuple[Path, str], Built] = {}
    for n, root in enumerate((REPO, FIXTURES)):
        dest = tmp_path_factory.mktemp(f"assignments{n}")
        if not assign.assignment_slugs(root):
            continue
        rc = assign.main(["--all", "--out", str(dest), "--root", str(root)])
        assert rc == 0, f"effteach.tools.assign --all failed for {root}"
        for slug in assign.assignment_slugs(root):
            out[root, slug] = Built(
                slug,
                root,
                dest / slug / assign.SOLUTION_NB,
                dest / slug / assign.STUDENT_NB,
            )
    return out


@pytest.fixture()
def toy(built) -> Built:
    return built[FIXTURES, "toy"]


def all_question_ids() -> list[tuple[Path, str]]:
    """(root, question id) for every registered question of every assignment."""
    import effteach.grading

    found = []
    for root, slug in CHAPTERS:
        grading = grading_for(root) or effteach.grading
        found += [(root, qid) for qid in grading.questions_for(slug)]
    return found


QUESTION_CASES = all_question_ids()

# ------------------------------------------------- the four checks, every chapter


def test_at_least_one_real_assignment():
    assert REAL_SLUGS, f"no notebooks/*/assignment.md under {REPO}"
    assert FIXTURE_SLUGS == ["toy"], f"fixture missing under {FIXTURES}"


@pytest.mark.slow
@pytest.mark.parametrize("root, slug", CHAPTERS, ids=CHAPTER_IDS)
def test_solution_passes(built, root, slug):
    b = built[root, slug]
    problems = check_solution_passes(b.solution, cwd=b.cwd)
    assert not problems, f"{slug}: " + "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("root, slug", CHAPTERS, ids=CHAPTER_IDS)
def test_student_fails_exactly_in_graded_cells(built, root, slug):
    b = built[root, slug]
    problems = check_student_fails_exactly_in_graded(b.student, cwd=b.cwd)
    assert not problems, f"{slug}: " + "\n".join(problems)


@pytest.mark.parametrize("root, slug", CHAPTERS, ids=CHAPTER_IDS)
def test_questions_are_registered(built, root, slug):
    b = built[root, slug]
    referenced = question_ids(b.solution)
    assert referenced, f"{slug}: no graded cell names a question id '<slug>.qN'"
    problems = check_questions_registered(slug, referenced, grading_for(root))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "root, qid", QUESTION_CASES, ids=[q for _, q in QUESTION_CASES]
)
def test_wrong_answer_rejected(root, qid):
    problems = check_wrong_answer_rejected(qid, grading_for(root))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("root, slug", CHAPTERS, ids=CHAPTER_IDS)
def test_no_leaks(built, root, slug):
    b = built[root, slug]
    problems = check_no_leaks(b.solution, b.student)
    assert not problems, f"{slug}: " + "\n".join(problems)
    assert secret_lines(b.solution), f"{slug}: no solution line to protect?"


@pytest.mark.parametrize("root, slug", CHAPTERS, ids=CHAPTER_IDS)
def test_manual_answer_cells(built, root, slug):
    b = built[root, slug]
    problems = check_manual_cells(b.solution, b.student)
    assert not problems, f"{slug}: " + "\n".join(problems)
    for i in manual_cells(b.solution):  # prose, marked by hand in formgrader
        assert b.solution.cells[i].cell_type == "markdown"
        assert b.student.cells[i].source.strip() == "YOUR ANSWER HERE"


@pytest.mark.parametrize("root, slug", CHAPTERS, ids=CHAPTER_IDS)
def test_notebooks_keep_nbgrader_metadata(built, root, slug):
    from nbgrader.nbgraderformat import MetadataValidator

    b = built[root, slug]
    for nb in (b.solution, b.student):
        MetadataValidator().validate_nb(nb)  # what nbgrader itself checks
        assert graded_cells(nb) == graded_cells(b.solution)
    sol = json.dumps(b.solution)
    assert "BEGIN SOLUTION" in sol and "BEGIN HIDDEN TESTS" in sol
    assert "raise NotImplementedError()" in "".join(c.source for c in b.student.cells)


# ------------------------------------------------------- each check can fail


def _replace(nb, old: str, new: str):
    nb = copy.deepcopy(nb)
    hits = [c for c in nb.cells if old in c.source]
    assert len(hits) == 1, f"{old!r} should be in exactly one cell"
    hits[0].source = hits[0].source.replace(old, new)
    return nb


@pytest.mark.slow
def test_buggy_solution_is_reported(toy):
    buggy = _replace(toy.solution, "sum(range(n + 1))", "sum(range(n))")
    problems = check_solution_passes(buggy, cwd=toy.cwd)
    assert len(problems) == 1
    assert "toy-q1-tests" in problems[0] and "CheckFailed" in problems[0]


@pytest.mark.slow
def test_student_with_failing_ungraded_cell_is_reported(toy):
    broken = _replace(toy.student, 'print("done")', 'raise ValueError("boom")')
    problems = check_student_fails_exactly_in_graded(broken, cwd=toy.cwd)
    assert len(problems) == 1, problems
    assert "non-graded cell fails" in problems[0] and "ValueError: boom" in problems[0]


@pytest.mark.slow
def test_student_with_passing_graded_cell_is_reported(toy):
    # a student version that still holds the Q2 solution: its graded cell passes
    student = toy.student
    q2 = next(i for i, c in enumerate(student.cells) if "def reverse" in c.source)
    student.cells[q2] = copy.deepcopy(toy.solution.cells[q2])
    problems = check_student_fails_exactly_in_graded(student, cwd=toy.cwd)
    assert len(problems) == 1, problems
    assert "toy-q2-tests" in problems[0] and "graded cell passes" in problems[0]


def _executed(nb, errors: dict[int, str]):
    """A notebook as if run: cell index -> "Ename" error output."""
    nb = copy.deepcopy(nb)
    for i, ename in errors.items():
        nb.cells[i].outputs = [
            nbformat.v4.new_output("error", ename=ename, evalue="x", traceback=[])
        ]
    return nb


def test_graded_cell_failing_for_the_wrong_reason_is_reported(toy):
    graded = autograded_cells(toy.student)
    assert len(graded) == 2 and len(manual_cells(toy.student)) == 1
    ok = _executed(toy.student, {i: "CheckFailed" for i in graded})
    assert failing_cells(ok) == graded
    assert check_student_fails_exactly_in_graded(toy.student, executed=ok) == []
    errors = {graded[0]: "NameError", graded[1]: "CheckFailed"}
    problems = check_student_fails_exactly_in_graded(
        toy.student, executed=_executed(toy.student, errors)
    )
    assert len(problems) == 1 and "NameError" in problems[0], problems


def test_student_without_graded_cells_is_reported(toy):
    student = toy.student
    for cell in student.cells:
        cell.metadata.pop("nbgrader", None)
    problems = check_student_fails_exactly_in_graded(
        student, executed=_executed(student, {})
    )
    assert problems == [
        "the student notebook has no auto-graded cell (nbgrader grade: true, "
        "solution: false, a code cell)"
    ]


def test_leaked_solution_line_is_reported(toy):
    leaked = _replace(
        toy.student,
        "def reverse(s: str) -> str:",
        'def reverse(s: str) -> str:\n    # hint: return "".join(reversed(s))',
    )
    problems = check_no_leaks(toy.solution, leaked)
    assert len(problems) == 1, problems
    assert "toy-q2" in problems[0] and 'return "".join(reversed(s))' in problems[0]


def test_leaked_hidden_test_and_markers_are_reported(toy):
    problems = check_no_leaks(toy.solution, toy.solution)  # solution as student
    text = "\n".join(problems)
    for marker in assign.MARKERS:
        assert repr(marker) in text
    assert "assert triangle(100) == 5050" in text  # a hidden test line
    assert "total = sum(range(n + 1))" in text  # a solution line


def test_student_outputs_are_reported(toy):
    student = _executed(toy.student, {autograded_cells(toy.student)[0]: "CheckFailed"})
    problems = check_no_leaks(toy.solution, student)
    assert len(problems) == 1 and "has outputs" in problems[0]


def _manual(nb):
    """The toy's manual answer cell (index, cell) in a copy of ``nb``."""
    nb = copy.deepcopy(nb)
    (i,) = manual_cells(nb)
    return nb, nb.cells[i]


def test_manual_cell_problems_are_reported(toy):
    answer = "A palindrome reads the same from both ends, so reversing it changes"
    assert check_manual_cells(toy.solution, toy.student) == []
    leaked, cell = _manual(toy.student)
    cell.source = "YOUR ANSWER HERE\n\n" + answer + " nothing."
    problems = check_manual_cells(toy.solution, leaked)
    assert len(problems) == 1 and "shows the model answer" in problems[0], problems
    no_stub, cell = _manual(toy.student)
    cell.source = "Write here."
    problems = check_manual_cells(toy.solution, no_stub)
    assert len(problems) == 1 and "lacks 'YOUR ANSWER HERE'" in problems[0]
    no_points, cell = _manual(toy.solution)
    cell.metadata.nbgrader.points = 0
    problems = check_manual_cells(no_points, toy.student)
    assert len(problems) == 1 and "toy-q3-explain" in problems[0]
    assert "points > 0" in problems[0]
    no_answer, cell = _manual(toy.solution)
    cell.source = answer  # no solution markers: nothing for ClearSolutions to mark
    problems = check_manual_cells(no_answer, toy.student)
    assert len(problems) == 1 and "no model answer" in problems[0]
    dropped, cell = _manual(toy.student)
    dropped.cells.remove(cell)
    problems = check_manual_cells(toy.solution, dropped)
    assert len(problems) == 1 and "missing from the student version" in problems[0]


def test_secret_line_rule():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "def f(x):\n"
            "    y = helper_function(x)\n"  # public: also outside the region
            "    ### BEGIN SOLUTION\n"
            "    # a comment line is no leak\n"
            "    return x\n"  # too short to identify the solution
            "    y = helper_function(x)\n"
            "    return secret_formula(x) + 1\n"
            "    ### END SOLUTION\n"
        )
    ]
    assert secret_lines(nb) == ["return secret_formula(x) + 1"]
    nb.cells[0].source = nb.cells[0].source.replace("    ### END SOLUTION\n", "")
    with pytest.raises(assign.AssignmentError, match="no 'END SOLUTION'"):
        secret_lines(nb)
    assert "malformed" in check_no_leaks(nb, nb)[0]


def test_grader_accepting_the_wrong_answer_is_reported():
    lenient = FakeGrading(toy_questions(), accept_everything=True)
    problems = check_wrong_answers_rejected("toy", ["toy.q1", "toy.q2"], lenient)
    assert len(problems) == 2
    assert problems[0].startswith("toy.q1: check() accepted the registered wrong")
    strict = FakeGrading(toy_questions())
    assert check_wrong_answers_rejected("toy", ["toy.q1", "toy.q2"], strict) == []


def test_grader_errors_and_missing_questions_are_reported():
    questions = toy_questions()
    questions["toy.q1"] = questions["toy.q1"]._replace(wrong=None)
    questions["toy.q2"] = questions["toy.q2"]._replace(wrong=lambda s: 1 / 0)
    problems = check_wrong_answers_rejected(
        "toy", ["toy.q1", "toy.q3"], FakeGrading(questions)
    )
    assert problems == [
        "toy.q3: a graded cell checks it, but it is not registered",
        "toy.q1: no known-wrong answer registered (Question.wrong)",
        "toy.q2: check() of the wrong answer raised ZeroDivisionError instead of "
        "CheckFailed: division by zero",
    ]
    empty = check_wrong_answers_rejected("toy", [], FakeGrading({}))
    assert len(empty) == 1 and empty[0].startswith("toy: no questions registered")


@pytest.mark.skipif(not REAL_SLUGS, reason="no real assignment yet")
def test_real_grader_accepting_a_wrong_answer_is_reported(monkeypatch):
    import effteach.grading as grading

    slug = REAL_SLUGS[0]
    qid = grading.questions_for(slug)[0]
    q = grading.QUESTIONS[qid]
    assert check_wrong_answer_rejected(qid) == []
    monkeypatch.setitem(
        grading.QUESTIONS, qid, dataclasses.replace(q, wrong=q.reference)
    )
    problems = check_wrong_answers_rejected(slug)
    assert [p.split(":")[0] for p in problems] == [qid]
    assert "accepted the registered wrong answer" in problems[0]


# ------------------------------------------------------------ the assign command


@pytest.fixture()
def toy_root(tmp_path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(FIXTURES / "notebooks", root / "notebooks")
    return root


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_assign_writes_solution_and_student(toy_root, tmp_path, capsys):
    out = tmp_path / "out"
    assert assign.main(["toy", "--out", str(out), "--root", str(toy_root)]) == 0
    assert _files(out) == ["toy/solution.ipynb", "toy/student.ipynb"]  # no temp files
    assert capsys.readouterr().out.count("wrote ") == 2
    student = assign.read_ipynb(out / "toy" / "student.ipynb")
    assert graded_cells(student) and "BEGIN SOLUTION" not in json.dumps(student)


def test_assign_refuses_to_overwrite_student_without_force(toy_root, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["toy", "--out", str(out), "--root", str(toy_root)]
    assert assign.main(args) == 0
    student = out / "toy" / "student.ipynb"
    solution = out / "toy" / "solution.ipynb"
    student.write_text("handed out, then edited by the teacher\n")
    solution.write_text("old solution\n")
    capsys.readouterr()
    assert assign.main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(student) in err and "--force" in err and "exists" in err
    assert student.read_text() == "handed out, then edited by the teacher\n"
    assert solution.read_text() == "old solution\n"  # nothing written at all
    assert assign.main([*args, "--force"]) == 0
    assert "raise NotImplementedError()" in student.read_text()
    assert _files(out) == ["toy/solution.ipynb", "toy/student.ipynb"]


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("### END SOLUTION\n", "", "no end solution statement found"),
        ("### END HIDDEN TESTS\n", "", "No end hidden tests statement found"),
        (
            "locked: true, points: 1,",
            "locked: true,",
            "'toy-q1-tests' does not have points",
        ),
        ("grade_id: toy-q1,", "grade_id: toy-setup,", "Duplicate grade id: toy-setup"),
        ("schema_version: 3,\n", "schema_version: 2,\n", "Outdated schema version: 2"),
    ],
    ids=["no-end-solution", "no-end-hidden", "no-points", "duplicate-id", "old-schema"],
)
def test_assign_all_writes_nothing_when_one_chapter_is_broken(
    toy_root, tmp_path, capsys, old, new, message
):
    bad = toy_root / "notebooks" / "broken"
    bad.mkdir()
    text = (toy_root / "notebooks" / "toy" / "assignment.md").read_text()
    assert old in text
    (bad / "assignment.md").write_text(text.replace(old, new, 1))
    out = tmp_path / "out"
    assert assign.main(["--all", "--out", str(out), "--root", str(toy_root)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "broken/assignment.md" in err and message in err
    assert not out.exists()  # toy is fine, but nothing at all was written


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "unknown chapter 'nope'"),
        (["empty"], "has no assignment"),
        ([], "give one chapter slug or --all"),
        (["toy", "--all"], "give one chapter slug or --all"),
        (["toy", "--bogus"], "unrecognized arguments"),
    ],
)
def test_assign_bad_arguments_exit_2(toy_root, tmp_path, capsys, args, message):
    (toy_root / "notebooks" / "empty").mkdir()
    out = tmp_path / "out"
    assert assign.main([*args, "--out", str(out), "--root", str(toy_root)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err
    assert not out.exists()


def test_assign_bad_header_exits_1(toy_root, tmp_path, capsys):
    path = toy_root / "notebooks" / "toy" / "assignment.md"
    path.write_text(path.read_text().replace("    extension: .md\n", ""))
    assert (
        assign.main(["toy", "--out", str(tmp_path / "o"), "--root", str(toy_root)]) == 1
    )
    assert "extension: .md" in capsys.readouterr().err


@pytest.mark.skipif(not REAL_SLUGS, reason="no real assignment yet")
def test_effteach_assign_command(tmp_path, capsys):
    from effteach import cli

    slug = REAL_SLUGS[0]
    assert cli.main(["assign", slug, "--out", str(tmp_path)]) == 0
    assert _files(tmp_path) == [f"{slug}/solution.ipynb", f"{slug}/student.ipynb"]
    assert cli.main(["assign", slug, "--out", str(tmp_path)]) == 1
    assert "--force" in capsys.readouterr().err
