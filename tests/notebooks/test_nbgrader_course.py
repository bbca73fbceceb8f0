"""The teacher's path of book/howto.md, run with nbgrader on the foundations chapter.

A course folder in a temporary directory: ``effteach.tools.assign`` writes the
solution notebook, which becomes nbgrader's ``source/``; then ``generate_assignment``,
``release_assignment``, three students ``fetch_assignment`` and ``submit``,
``collect``, ``autograde``, a manual grade for the prose answer (what formgrader
stores), ``generate_feedback``. The students: one hands in the solution (full marks),
one the untouched notebook (0), one pastes the known-wrong answer registered in
:mod:`effteach.grading` for Q2 (partial), one the registered wrong Triton kernel of
Q4 (partial: the kernel runs in the CPU interpreter inside nbgrader's kernel). Scores
are read from the gradebook. The feedback is generated twice: with nbgrader's
defaults it shows the hidden tests; with the how-to's settings it does not. A second,
shorter walk takes pebble_io's kernel question (Q5) through autograde the same way.
"""

from __future__ import annotations

import html
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from effteach import grading
from effteach.tools import assign
from effteach.tools.notebooks import repo_root

SLUG = "foundations"
#: student -> the question whose registered wrong answer they paste (None: none)
STUDENTS = {"solution": None, "untouched": None, "wrong_q2": "q2", "wrong_q4": "q4"}
#: the kernel question of pebble_io, walked with two students
KERNEL_SLUG, KERNEL_Q = "pebble_io", "q5"
HOWTO = repo_root() / "book" / "howto.md"
#: the feedback settings of the how-to (checked to be there verbatim)
FEEDBACK_CONFIG = """\
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

c.GenerateFeedback.preprocessors = [
    GetGrades,
    CSSHTMLHeaderPreprocessor,
    ClearHiddenTests,
]
c.Execute.extra_arguments = ["--InteractiveShell.xmode=Minimal"]
"""


def nbgrader(cwd: Path, *args: str) -> str:
    """Run an nbgrader command as the how-to does; return its log (stderr)."""
    bindir = Path(sys.executable).parent
    proc = subprocess.run(
        [str(bindir / "nbgrader"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        # as in an activated environment: nbgrader runs `alembic` from the PATH
        env={**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"},
    )
    assert proc.returncode == 0, f"nbgrader {' '.join(args)}:\n{proc.stderr[-3000:]}"
    return proc.stderr + proc.stdout


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def paste_wrong(nb, slug: str, qn: str) -> None:
    """Put the wrong answer registered for ``<slug>.<qn>`` in its answer cell.

    A ``@triton.jit`` kernel keeps its Python function in ``.fn``; its source, with
    the decorator, is what a student would have typed.
    """
    wrong = grading.get(f"{slug}.{qn}").wrong
    fn = getattr(wrong, "fn", wrong)
    cell = next(c for c in nb.cells if _meta(c).get("grade_id") == f"{slug}-{qn}")
    name = re.search(r"def (\w+)\(", cell.source).group(1)
    cell.source = inspect.getsource(fn).replace(f"def {fn.__name__}(", f"def {name}(")


def answer_as(path: Path, solution, who: str, wrong: str | None, slug: str) -> None:
    """Fill a fetched student notebook as the student ``who`` would."""
    if who == "untouched":
        return
    nb = nbformat.read(path, as_version=4)
    answers = {  # what a student types: the model answers, without the markers
        _meta(c)["grade_id"]: "\n".join(
            ln for ln in c.source.splitlines() if "SOLUTION" not in ln
        )
        for c in solution.cells
        if _meta(c).get("solution")
    }
    for cell in nb.cells:
        if _meta(cell).get("grade_id") in answers:
            cell.source = answers[_meta(cell)["grade_id"]]
    if wrong:  # the registered wrong answer, pasted in as source
        paste_wrong(nb, slug, wrong)
    nbformat.write(nb, path)


def hidden_lines(solution) -> list[str]:
    """The lines of the hidden-test regions (long enough to identify)."""
    lines: list[str] = []
    for cell in solution.cells:
        inside = False
        for ln in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in ln or "END HIDDEN TESTS" in ln:
                inside = "BEGIN" in ln
            elif inside and len(ln.strip()) >= 12:
                lines.append(ln.strip())
    return lines


def page_text(path: Path) -> str:
    """The feedback HTML as text (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text()))


def test_howto_holds_the_feedback_settings():
    text = HOWTO.read_text()
    assert FEEDBACK_CONFIG in text, "book/howto.md lost the feedback settings"
    for command in (
        "nbgrader generate_assignment",
        "nbgrader release_assignment",
        "nbgrader collect",
        "nbgrader autograde",
        "nbgrader generate_feedback",
    ):
        assert command in text


def walk(tmp_path: Path, slug: str, students: dict[str, str | None]):
    """The teacher's and the students' steps up to autograde.

    Returns:
        ``(course, solution, base_config, autograde_log)``.
    """
    # the teacher: a course folder with nbgrader_config.py, the solution as source/
    assert assign.main([slug, "--out", str(tmp_path / "assignments")]) == 0
    course, exchange = tmp_path / "course", tmp_path / "exchange"
    (course / "source" / slug).mkdir(parents=True)
    exchange.mkdir(mode=0o777)
    shutil.copy(
        tmp_path / "assignments" / slug / assign.SOLUTION_NB,
        course / "source" / slug / f"{slug}.ipynb",
    )
    solution = nbformat.read(course / "source" / slug / f"{slug}.ipynb", 4)
    config = course / "nbgrader_config.py"
    config.write_text(
        "c = get_config()  # noqa: F821\n"
        'c.CourseDirectory.course_id = "effteach"\n'
        f"c.Exchange.root = {str(exchange)!r}\n"
    )
    nbgrader(course, "generate_assignment", slug)
    nbgrader(course, "release_assignment", slug)

    # the students: fetch, answer, submit (--student: one OS user plays them all)
    for who, wrong in students.items():
        home = tmp_path / "students" / who
        home.mkdir(parents=True)
        exchange_opts = ["--course=effteach", f"--Exchange.root={exchange}"]
        nbgrader(home, "fetch_assignment", slug, *exchange_opts)
        answer_as(home / slug / f"{slug}.ipynb", solution, who, wrong, slug)
        nbgrader(home, "submit", slug, f"--student={who}", *exchange_opts)

    nbgrader(course, "collect", slug)
    base = config.read_text()
    config.write_text(base + FEEDBACK_CONFIG)  # Execute: tracebacks of one line
    log = nbgrader(course, "autograde", slug)
    return course, solution, base, log


def auto_points(solution) -> float:
    """The points of the auto-graded cells."""
    return sum(
        _meta(c).get("points", 0)
        for c in solution.cells
        if _meta(c).get("grade") and not _meta(c).get("solution")
    )


def points_of(solution, grade_id: str) -> float:
    """The points of the cell ``grade_id``."""
    cells = [c for c in solution.cells if _meta(c).get("grade_id") == grade_id]
    assert len(cells) == 1, grade_id
    return _meta(cells[0])["points"]


@pytest.mark.slow
def test_course_walk_grades_four_students(tmp_path):
    course, solution, base, log = walk(tmp_path, SLUG, STUDENTS)
    config = course / "nbgrader_config.py"

    # the expected warnings: each cell with hidden tests, once per student
    changed = re.findall(r"Attribute 'checksum' for cell (\S+) has changed", log)
    with_hidden = [
        _meta(c)["grade_id"] for c in solution.cells if "HIDDEN TESTS" in c.source
    ]
    assert with_hidden and sorted(changed) == sorted(with_hidden * len(STUDENTS))

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {}
        for who in STUDENTS:
            sub = gb.find_submission(SLUG, who)
            scores[who] = (sub.code_score, sub.max_code_score, sub.written_score)
        auto = auto_points(solution)
        assert scores["solution"] == (auto, auto, 0.0)
        assert scores["untouched"] == (0.0, auto, 0.0)
        for who, qn in STUDENTS.items():  # each wrong answer loses its question
            if qn:
                lost = points_of(solution, f"{SLUG}-{qn}-tests")
                assert scores[who] == (auto - lost, auto, 0.0), who
                assert 0 < auto - lost < auto
        # the prose answer waits for the teacher (formgrader); the untouched one
        # is left at 0 by nbgrader itself
        manual = [
            _meta(c)["grade_id"]
            for c in solution.cells
            if _meta(c).get("grade") and _meta(c).get("solution")
        ]
        assert manual
        assert gb.find_submission(SLUG, "solution").needs_manual_grade
        assert not gb.find_submission(SLUG, "untouched").needs_manual_grade
        for gid in manual:  # what formgrader stores when the teacher marks it
            grade = gb.find_grade(gid, SLUG, SLUG, "solution")
            grade.manual_score = grade.max_score
            grade.needs_manual_grade = False  # as formgrader's grade API does
        gb.db.commit()
        full = gb.find_submission(SLUG, "solution")
        assert full.score == full.max_score and not full.needs_manual_grade
        print(
            f"scores (auto of {auto}): {scores}; solution after manual grading: "
            f"{full.score}/{full.max_score}"
        )

    # feedback: nbgrader's default shows the hidden tests ...
    hidden = hidden_lines(solution)
    assert hidden
    config.write_text(base)
    nbgrader(course, "generate_feedback", SLUG, "--student=wrong_q2")
    page = course / "feedback" / "wrong_q2" / SLUG / f"{SLUG}.html"
    assert any(line in page_text(page) for line in hidden)
    # ... and the how-to's settings hide them, for every student
    config.write_text(base + FEEDBACK_CONFIG)
    nbgrader(course, "generate_feedback", SLUG, "--force")
    for who in STUDENTS:
        text = page_text(course / "feedback" / who / SLUG / f"{SLUG}.html")
        shown = [line for line in hidden if line in text]
        assert not shown and "HIDDEN TESTS" not in text, (who, shown)
        assert f"{SLUG}-q1-tests" in text  # the page is a real feedback page
    wrong = page_text(course / "feedback" / "wrong_q2" / SLUG / f"{SLUG}.html")
    assert f"CheckFailed: {SLUG}.q2: case 0" in wrong  # the feedback line
    kernel = page_text(course / "feedback" / "wrong_q4" / SLUG / f"{SLUG}.html")
    assert f"CheckFailed: {SLUG}.q4: case 0" in kernel  # the wrong kernel's line


@pytest.mark.slow
def test_kernel_question_walk_pebble_io(tmp_path):
    """pebble_io's Triton kernel through autograde: solution full, wrong kernel not."""
    wrong = f"wrong_{KERNEL_Q}"
    students = {"solution": None, wrong: KERNEL_Q}
    course, solution, _, log = walk(tmp_path, KERNEL_SLUG, students)
    from nbgrader.api import Gradebook

    auto = auto_points(solution)
    lost = points_of(solution, f"{KERNEL_SLUG}-{KERNEL_Q}-tests")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {
            who: gb.find_submission(KERNEL_SLUG, who).code_score for who in students
        }
    print(f"{KERNEL_SLUG} scores (auto of {auto}): {scores}")
    assert scores == {"solution": auto, wrong: auto - lost}
    assert 0 < auto - lost < auto
    nbgrader(course, "generate_feedback", KERNEL_SLUG, f"--student={wrong}")
    text = page_text(course / "feedback" / wrong / KERNEL_SLUG / f"{KERNEL_SLUG}.html")
    assert f"CheckFailed: {KERNEL_SLUG}.{KERNEL_Q}: case 0" in text
    assert "o: max error" in text  # the accumulator is off, the feedback says where
