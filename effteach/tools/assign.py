"""Write the solution and student notebooks of the assignments, and check them.

Usage (``effteach assign`` calls :func:`main`; ``make test`` runs the second line)::

    python -m effteach.tools.assign foundations [--out build/assignments] [--force]
    python -m effteach.tools.assign --all --force --out build/assignments

``notebooks/<slug>/assignment.md`` is the solution source (STYLE.md, section 8), read
from the repository checkout, or, from an installed wheel, from the package data of
``effteach.notebooks`` (:func:`sources_root`). For
each chapter this writes ``<out>/<slug>/solution.ipynb``, the source as a notebook with
its nbgrader cell metadata (usable as nbgrader's ``source/`` notebook), and
``<out>/<slug>/student.ipynb``, made by nbgrader's own preprocessors
(``ClearSolutions``, ``ClearHiddenTests``, ``ClearOutput``, after checking the
metadata with nbgrader's ``MetadataValidator``; no nbgrader database or server).
The nbgrader metadata stays in both.

An existing ``student.ipynb`` may already have been handed out or edited, so it is
never overwritten without ``--force``: the command then writes nothing at all and
says which file exists. Every file goes through a temporary file and ``os.replace``.

Exit codes:

* 0: written.
* 1: refused or failed: a ``student.ipynb`` exists and ``--force`` was not given
  (nothing written), or an assignment could not be converted (bad header, broken
  nbgrader metadata or solution regions).
* 2: bad arguments: no slug and no ``--all`` (or both), an unknown chapter, a chapter
  without ``assignment.md``, or no assignment at all with ``--all``.

The checks used by ``tests/notebooks/test_assignments.py`` live here too, each
returning a list of problems (empty when all is well), so a test can show that each
one fails on a bad notebook:

* :func:`check_solution_passes`: the solution runs without an error;
* :func:`check_student_fails_exactly_in_graded`: the student version fails in its
  auto-graded cells and nowhere else (a manually graded answer cell, nbgrader
  ``grade: true, solution: true``, is prose a teacher marks in formgrader: it does
  not fail and is not expected to);
* :func:`check_manual_cells`: every manually graded answer cell has points and a
  model answer between solution markers, and reaches the student as nbgrader's
  ``YOUR ANSWER HERE`` stub;
* :func:`check_wrong_answers_rejected`: the known-wrong answer registered for each
  question in :mod:`effteach.grading` is rejected;
* :func:`check_no_leaks`: nothing of the solution or the hidden tests is left in the
  student version (rule in :func:`secret_lines`).

Book: book/howto.md, "Teaching with the assignments".
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from effteach.tools.notebooks import (
    NOTEBOOKS_DIR,
    NotebookFormatError,
    OneLineParser,
    notebook_json,
    read_notebook,
    repo_root,
    write_text_atomic,
)

PROG = "effteach.tools.assign"
ASSIGNMENT = "assignment.md"
SOLUTION_NB = "solution.ipynb"
STUDENT_NB = "student.ipynb"
CELL_TIMEOUT_S = 300
#: nbgrader's default region delimiters; none of them may reach a student.
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
REGIONS = (
    ("BEGIN SOLUTION", "END SOLUTION"),
    ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS"),
)
#: A line of a solution or hidden-test region shorter than this (after stripping) is
#: too generic to count as a leak (``return x``, ``else:``, ``pass``).
MIN_SECRET_CHARS = 12
#: The errors a graded cell may fail with in the student version: a failed check.
EXPECTED_FAILURES = ("CheckFailed", "AssertionError", "NotImplementedError")
QID_RE = re.compile(r"""["']([A-Za-z0-9_]+\.q\d+)["']""")


class AssignmentError(Exception):
    """An assignment that cannot be turned into notebooks; the message says why."""


class NotebookExecutionError(RuntimeError):
    """A notebook run stopped at a cell: an error, a timeout or a dead kernel.

    Attributes:
        nb: the notebook as far as it ran (outputs included).
        cell_index: the index in ``nb.cells`` of the cell that stopped it, or None.
    """

    def __init__(self, message: str, nb: Any = None, cell_index: int | None = None):
        super().__init__(message)
        self.nb = nb
        self.cell_index = cell_index


# --------------------------------------------------------------------------- paths


def sources_root() -> Path:
    """Return the folder whose ``notebooks/`` holds the assignment sources.

    A repository checkout (or an editable install) first: :func:`repo_root`. From an
    installed wheel, where the notebooks ship as the package data of
    ``effteach.notebooks`` (``pyproject.toml``), the installed ``effteach`` package
    folder, found by the import system (``effteach.notebooks`` has no
    ``__init__.py``, so it is a namespace package: its search locations are the
    installed folders).

    Raises:
        FileNotFoundError: if neither a checkout nor the installed package has the
            notebooks.
    """
    try:
        return repo_root()
    except FileNotFoundError as exc:
        checkout_error = exc
    import importlib.util

    try:
        spec = importlib.util.find_spec("effteach.notebooks")
    except ModuleNotFoundError:
        spec = None
    for folder in (spec and spec.submodule_search_locations) or ():
        installed = Path(folder)
        if installed.name == NOTEBOOKS_DIR and any(installed.glob(f"*/{ASSIGNMENT}")):
            return installed.parent
    raise FileNotFoundError(
        f"{checkout_error}; and the installed effteach package has no notebooks "
        "(effteach.notebooks package data)"
    )


def assignment_slugs(root: Path | None = None) -> list[str]:
    """Return the slugs that have ``notebooks/<slug>/assignment.md``, sorted."""
    base = Path(root or sources_root()) / NOTEBOOKS_DIR
    return sorted(p.parent.name for p in base.glob(f"*/{ASSIGNMENT}"))


def assignment_path(slug: str, root: Path | None = None) -> Path:
    """Return ``notebooks/<slug>/assignment.md``.

    Raises:
        AssignmentError: for an unknown chapter, or one without an assignment.
    """
    root = Path(root or sources_root())
    base = root / NOTEBOOKS_DIR
    if not isinstance(slug, str) or not slug or not (base / slug).is_dir():
        known = ", ".join(assignment_slugs(root)) or "none"
        raise AssignmentError(
            f"slug: unknown chapter {slug!r} (chapters with an assignment: {known})"
        )
    path = base / slug / ASSIGNMENT
    if not path.is_file():
        raise AssignmentError(
            f"slug: chapter {slug!r} has no assignment; expected {path}"
        )
    return path


# ----------------------------------------------------------------------- building


def validate_nbgrader_metadata(nb: Any) -> None:
    """Validate the nbgrader cell metadata as nbgrader does (a copy is checked).

    Raises:
        AssignmentError: naming the problem (a graded cell without points, a
            duplicate grade_id, a missing key, a wrong schema version).
    """
    from nbgrader.nbgraderformat import (
        MetadataValidator,
        SchemaTooNewError,
        SchemaTooOldError,
        ValidationError,
    )

    try:
        MetadataValidator().validate_nb(copy.deepcopy(nb))
    except KeyError as exc:
        raise AssignmentError(f"nbgrader metadata: a cell lacks the key {exc}") from exc
    except (ValidationError, SchemaTooOldError, SchemaTooNewError) as exc:
        detail = getattr(exc, "message", None) or str(exc).splitlines()[0]
        raise AssignmentError(f"nbgrader metadata: {detail}") from exc


def make_student(solution_nb: Any) -> Any:
    """Return the student version of a solution notebook (the input is unchanged).

    Validates the nbgrader metadata (:func:`validate_nbgrader_metadata`), then runs
    nbgrader's ``ClearSolutions``, ``ClearHiddenTests`` and ``ClearOutput``
    preprocessors; the nbgrader cell metadata is kept.

    Raises:
        AssignmentError: when nbgrader rejects the metadata or a region.
    """
    from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions

    validate_nbgrader_metadata(solution_nb)
    nb = copy.deepcopy(solution_nb)
    resources: dict = {}
    quiet = logging.getLogger(f"{__name__}.nbgrader")  # nbgrader logs, then raises:
    quiet.addHandler(logging.NullHandler())  # the exception carries the message
    quiet.propagate = False
    for step in (ClearSolutions, ClearHiddenTests, ClearOutput):
        try:
            nb, resources = step(log=quiet).preprocess(nb, resources)
        except (RuntimeError, ValueError) as exc:
            raise AssignmentError(f"nbgrader {step.__name__}: {exc}") from exc
    return nb


def prepare(slug: str, root: Path | None = None) -> tuple[Any, Any]:
    """Return the solution and the student notebook of a chapter, in memory.

    Raises:
        AssignmentError: unknown slug, no assignment, a header jupytext cannot read,
            or metadata/regions nbgrader rejects; the message names the file.
    """
    src = assignment_path(slug, root)
    try:
        solution = read_notebook(src)
    except NotebookFormatError as exc:
        raise AssignmentError(str(exc)) from exc
    try:
        student = make_student(solution)
    except AssignmentError as exc:
        raise AssignmentError(f"{src}: {exc}") from exc
    return solution, student


def _exists_message(path: Path) -> str:
    return (
        f"{path} exists and may have been handed out; nothing written "
        "(use --force to overwrite it)"
    )


def build(
    slug: str,
    out: str | Path = "build/assignments",
    root: Path | None = None,
    force: bool = False,
) -> tuple[Path, Path]:
    """Write ``<out>/<slug>/solution.ipynb`` and ``<out>/<slug>/student.ipynb``.

    Args:
        slug: a chapter with ``notebooks/<slug>/assignment.md``.
        out: the output folder.
        root: the folder holding ``notebooks/``; :func:`sources_root` when None.
        force: overwrite an existing ``student.ipynb``.

    Returns:
        The paths of the solution and the student notebook.

    Raises:
        AssignmentError: see :func:`prepare` (nothing is written).
        FileExistsError: ``student.ipynb`` exists and ``force`` is False (nothing
            is written).
    """
    solution, student = prepare(slug, root)
    return _write(slug, solution, student, Path(out), force)


def _write(slug: str, solution: Any, student: Any, out: Path, force: bool):
    folder = out / slug
    sol_path, stu_path = folder / SOLUTION_NB, folder / STUDENT_NB
    if stu_path.exists() and not force:
        raise FileExistsError(_exists_message(stu_path))
    write_text_atomic(sol_path, notebook_json(solution))
    write_text_atomic(stu_path, notebook_json(student))
    return sol_path, stu_path


def read_ipynb(path: str | Path) -> Any:
    """Read an ``.ipynb`` file as an nbformat v4 notebook."""
    import nbformat

    return nbformat.read(str(path), as_version=4)


# ------------------------------------------------------------- notebook inspection


def _nbgrader(cell: Any) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def graded_cells(nb: Any) -> list[int]:
    """Return the indices in ``nb.cells`` of the cells with nbgrader ``grade: true``."""
    return [i for i, c in enumerate(nb.cells) if _nbgrader(c).get("grade") is True]


def autograded_cells(nb: Any) -> list[int]:
    """Return the indices of the auto-graded cells: graded code cells of tests.

    nbgrader's autograder tests are code cells with ``grade: true`` and
    ``solution: false``; their points are earned when the cell runs without error.
    """
    return [
        i
        for i in graded_cells(nb)
        if nb.cells[i].cell_type == "code"
        and not _nbgrader(nb.cells[i]).get("solution")
    ]


def manual_cells(nb: Any) -> list[int]:
    """Return the indices of the manually graded answer cells.

    Cells with ``grade: true`` and ``solution: true``: the student writes the answer
    (here always prose, a Markdown cell) and the teacher marks it in formgrader.
    """
    return [i for i in graded_cells(nb) if _nbgrader(nb.cells[i]).get("solution")]


def failing_cells(executed_nb: Any) -> list[int]:
    """Return the indices of the code cells that have an error output."""
    return [
        i
        for i, c in enumerate(executed_nb.cells)
        if c.cell_type == "code"
        and any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]


def question_ids(nb: Any) -> list[str]:
    """Return the question ids (``"<slug>.qN"``) named in the graded cells, in order."""
    found: list[str] = []
    for i in graded_cells(nb):
        for qid in QID_RE.findall(nb.cells[i].source):
            if qid not in found:
                found.append(qid)
    return found


def cell_label(nb: Any, index: int) -> str:
    """Name a cell for a message: its index and grade_id, or its first line."""
    cell = nb.cells[index]
    grade_id = _nbgrader(cell).get("grade_id")
    if grade_id:
        return f"cell {index} ({grade_id})"
    first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
    return f"cell {index} ({first.strip()[:40]!r})"


def _error_of(cell: Any) -> str:
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            return f"{o.get('ename')}: {str(o.get('evalue', ''))[:200]}"
    return "no error output"


def run_notebook(
    nb: Any,
    allow_errors: bool = False,
    timeout: int = CELL_TIMEOUT_S,
    cwd: str | Path | None = None,
    kernel_name: str | None = None,
) -> Any:
    """Execute a copy of a notebook with nbclient and return it with its outputs.

    Args:
        nb: an nbformat v4 notebook (not modified).
        allow_errors: if True, a failing cell records its error and the run goes on;
            if False, the first error stops the run.
        timeout: seconds allowed per cell.
        cwd: the kernel's working directory (default: the current directory).
        kernel_name: the kernel; default the notebook's kernelspec, else ``python3``.

    Returns:
        The executed copy.

    Raises:
        NotebookExecutionError: a cell failed (``allow_errors`` False), a cell timed
            out, or the kernel died; the message names the cell.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import (
        CellExecutionError,
        CellTimeoutError,
        DeadKernelError,
    )

    if not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError(
            f"timeout: expected a positive number of seconds, got {timeout!r}"
        )
    nb = copy.deepcopy(nb)
    kernel = kernel_name or nb.metadata.get("kernelspec", {}).get("name") or "python3"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(Path(cwd or Path.cwd()))}},
    )
    try:
        client.execute()
    except CellExecutionError as exc:
        failing = failing_cells(nb)
        idx = failing[0] if failing else None
        where = cell_label(nb, idx) if idx is not None else "a cell"
        raise NotebookExecutionError(
            f"{where} raised {exc.ename}: {str(exc.evalue)[:300]}", nb, idx
        ) from None
    except CellTimeoutError:
        raise NotebookExecutionError(
            f"a cell ran longer than {timeout} s (nbclient timeout)", nb
        ) from None
    except DeadKernelError as exc:
        raise NotebookExecutionError(f"the kernel died: {exc}", nb) from None
    return nb


# ------------------------------------------------------------------------ checks


def check_solution_passes(
    solution_nb: Any, cwd: str | Path | None = None, timeout: int = CELL_TIMEOUT_S
) -> list[str]:
    """Run the solution (errors not allowed); return the problems found.

    Returns:
        ``[]`` when every cell runs, else one line naming the failing cell.
    """
    try:
        run_notebook(solution_nb, allow_errors=False, timeout=timeout, cwd=cwd)
    except NotebookExecutionError as exc:
        return [f"the solution notebook fails: {exc}"]
    return []


def check_student_fails_exactly_in_graded(
    student_nb: Any,
    executed: Any = None,
    cwd: str | Path | None = None,
    timeout: int = CELL_TIMEOUT_S,
) -> list[str]:
    """Check that the student version fails in its graded cells and nowhere else.

    A graded cell must fail with a failed check (``CheckFailed``, ``AssertionError``
    or ``NotImplementedError``), not, say, a ``NameError`` from a broken notebook.
    Only the auto-graded cells (:func:`autograded_cells`) count: a manually graded
    answer cell is Markdown that nothing executes.

    Args:
        student_nb: the student notebook (its graded cells are read from it).
        executed: the same notebook already run with errors allowed; when None it is
            run here with nbclient.
        cwd: the kernel's working directory, when it is run here.
        timeout: seconds per cell, when it is run here.

    Returns:
        The problems found; ``[]`` when the failing cells are exactly the graded
        ones and there is at least one.
    """
    problems: list[str] = []
    graded = set(autograded_cells(student_nb))
    if not graded:
        problems.append(
            "the student notebook has no auto-graded cell (nbgrader grade: true, "
            "solution: false, a code cell)"
        )
    if executed is None:
        try:
            executed = run_notebook(
                student_nb, allow_errors=True, timeout=timeout, cwd=cwd
            )
        except NotebookExecutionError as exc:
            return problems + [f"the student notebook did not run to the end: {exc}"]
    failing = set(failing_cells(executed))
    for i in sorted(failing - graded):
        problems.append(
            f"{cell_label(executed, i)}: a non-graded cell fails in the student "
            f"version ({_error_of(executed.cells[i])}); only graded cells may fail"
        )
    for i in sorted(graded - failing):
        problems.append(
            f"{cell_label(executed, i)}: this graded cell passes in the student "
            "version; without the solution it must fail"
        )
    for i in sorted(graded & failing):
        error = _error_of(executed.cells[i])
        if error.split(":", 1)[0] not in EXPECTED_FAILURES:
            problems.append(
                f"{cell_label(executed, i)}: the graded cell fails with {error}; "
                f"expected a failed check ({', '.join(EXPECTED_FAILURES)})"
            )
    return problems


def _regions(source: str) -> tuple[list[str], list[str], list[str]]:
    """Split a cell's lines into (inside a region, outside every region, problems)."""
    inside: list[str] = []
    outside: list[str] = []
    problems: list[str] = []
    end: str | None = None
    for line in source.splitlines():
        if end is None:
            begin = next((b for b, _ in REGIONS if b in line), None)
            if begin is not None:
                end = dict(REGIONS)[begin]
            else:
                outside.append(line)
        elif end in line:
            end = None
        else:
            inside.append(line)
    if end is not None:
        problems.append(f"no '{end}' after its BEGIN line")
    return inside, outside, problems


def secret_lines(solution_nb: Any) -> list[str]:
    """Return the lines of the solution that must not reach a student.

    The rule: a line inside a ``BEGIN/END SOLUTION`` or ``BEGIN/END HIDDEN TESTS``
    region, stripped, counts when it is at least ``MIN_SECRET_CHARS`` (12)
    characters long, is not a comment (``#...``), and does not also occur as text
    anywhere outside the regions of the solution notebook (a line the student is
    given anyway is no leak).

    Raises:
        AssignmentError: for a region without its END line.
    """
    inside: list[str] = []
    public: list[str] = []
    for i, cell in enumerate(solution_nb.cells):
        cell_inside, cell_outside, problems = _regions(cell.source)
        if problems:
            raise AssignmentError(f"cell {i}: {problems[0]}")
        inside += cell_inside
        public += cell_outside
    public_text = "\n".join(public)
    secrets: list[str] = []
    for line in inside:
        s = line.strip()
        if len(s) < MIN_SECRET_CHARS or s.startswith("#") or s in public_text:
            continue
        if s not in secrets:
            secrets.append(s)
    return secrets


def check_no_leaks(solution_nb: Any, student_nb: Any) -> list[str]:
    """Check that no solution or hidden-test text is in the student notebook.

    Looks for nbgrader's region markers (``BEGIN SOLUTION`` and so on) in every
    cell, for outputs left in code cells, and for each of :func:`secret_lines` as a
    substring of any student cell.

    Returns:
        The problems found, each naming the student cell; ``[]`` when clean.
    """
    problems: list[str] = []
    try:
        secrets = secret_lines(solution_nb)
    except AssignmentError as exc:
        return [f"the solution notebook is malformed: {exc}"]
    for i, cell in enumerate(student_nb.cells):
        label = cell_label(student_nb, i)
        for marker in MARKERS:
            if marker in cell.source:
                problems.append(f"{label}: contains the marker {marker!r}")
        if cell.cell_type == "code" and cell.get("outputs"):
            problems.append(f"{label}: has outputs (they may show the solution)")
        for secret in secrets:
            if secret in cell.source:
                problems.append(
                    f"{label}: leaks a solution/hidden-test line: {secret!r}"
                )
    return problems


def check_manual_cells(solution_nb: Any, student_nb: Any) -> list[str]:
    """Check the manually graded answer cells of an assignment.

    In the solution, each manual cell (:func:`manual_cells`) must have positive
    points and a model answer between ``BEGIN SOLUTION`` and ``END SOLUTION``
    lines (the teacher sees it in formgrader; ``ClearSolutions`` removes it). In the
    student version the cell with the same ``grade_id`` must hold nbgrader's stub
    ``YOUR ANSWER HERE`` and no line of the model answer.

    Returns:
        The problems found, each naming the cell; ``[]`` when all is well (also when
        there is no manual cell).
    """
    problems: list[str] = []
    student = {
        _nbgrader(c).get("grade_id"): c for c in student_nb.cells if _nbgrader(c)
    }
    for i in manual_cells(solution_nb):
        cell, meta = solution_nb.cells[i], _nbgrader(solution_nb.cells[i])
        label = cell_label(solution_nb, i)
        points = meta.get("points")
        if not isinstance(points, int | float) or points <= 0:
            problems.append(f"{label}: a manually graded cell needs points > 0")
        inside, _, region_problems = _regions(cell.source)
        answer = [ln.strip() for ln in inside if ln.strip()]
        if region_problems or not answer or "BEGIN SOLUTION" not in cell.source:
            problems.append(
                f"{label}: no model answer between BEGIN SOLUTION and END SOLUTION"
            )
        twin = student.get(meta.get("grade_id"))
        if twin is None:
            problems.append(f"{label}: missing from the student version")
            continue
        if "YOUR ANSWER HERE" not in twin.source:
            problems.append(f"{label}: the student version lacks 'YOUR ANSWER HERE'")
        leaked = [
            ln for ln in answer if len(ln) >= MIN_SECRET_CHARS and ln in twin.source
        ]
        if leaked:
            problems.append(
                f"{label}: the student version shows the model answer: {leaked[0]!r}"
            )
    return problems


def check_wrong_answer_rejected(question_id: str, grading: Any = None) -> list[str]:
    """Check that ``check(<registered wrong answer>, question_id)`` raises CheckFailed.

    Args:
        question_id: ``"<slug>.qN"``.
        grading: the grading module (default :mod:`effteach.grading`, imported
            here); anything with ``QUESTIONS``, ``check`` and ``CheckFailed``.

    Returns:
        ``[]`` when the wrong answer is rejected, else one line starting with the id.
    """
    if grading is None:
        import effteach.grading as grading
    question = grading.QUESTIONS.get(question_id)
    if question is None:
        return [f"{question_id}: not registered in the grading registry"]
    wrong = getattr(question, "wrong", None)
    if wrong is None:
        return [f"{question_id}: no known-wrong answer registered (Question.wrong)"]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            grading.check(wrong, question_id)
    except grading.CheckFailed:
        return []
    except Exception as exc:  # any other error is itself the finding
        return [
            f"{question_id}: check() of the wrong answer raised "
            f"{type(exc).__name__} instead of CheckFailed: {exc}"
        ]
    return [
        f"{question_id}: check() accepted the registered wrong answer, so this "
        "check cannot fail"
    ]


def check_questions_registered(
    slug: str, referenced: Iterable[str] | None = None, grading: Any = None
) -> list[str]:
    """Check that a chapter has registered questions, among them all it uses.

    Args:
        slug: the chapter.
        referenced: question ids the notebook's graded cells use
            (:func:`question_ids`).
        grading: the grading module (default :mod:`effteach.grading`); anything
            with ``questions_for``.

    Returns:
        The problems found, each starting with a question id or the slug.
    """
    if grading is None:
        import effteach.grading as grading
    qids = list(grading.questions_for(slug))
    problems: list[str] = []
    if not qids:
        problems.append(
            f"{slug}: no questions registered (effteach/{slug}/questions.py should "
            "register each question with a wrong answer)"
        )
    for qid in referenced or ():
        if qid not in qids:
            problems.append(f"{qid}: a graded cell checks it, but it is not registered")
    return problems


def check_wrong_answers_rejected(
    slug: str, referenced: Iterable[str] | None = None, grading: Any = None
) -> list[str]:
    """Check a chapter's questions: registered, and each rejects its wrong answer.

    Runs :func:`check_questions_registered`, then
    :func:`check_wrong_answer_rejected` for every registered question.

    Args:
        slug: the chapter.
        referenced: question ids the notebook's graded cells use
            (:func:`question_ids`); each must be registered.
        grading: the grading module (default :mod:`effteach.grading`, imported
            here); anything with ``questions_for``, ``QUESTIONS``, ``check`` and
            ``CheckFailed``.

    Returns:
        The problems found, each starting with a question id or the slug.
    """
    if grading is None:
        import effteach.grading as grading
    problems = check_questions_registered(slug, referenced, grading)
    for qid in grading.questions_for(slug):
        problems += check_wrong_answer_rejected(qid, grading)
    return problems


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Command line: write the assignments; see the module docstring for exit codes."""
    ap = OneLineParser(prog=PROG, description=__doc__.split("\n")[0])
    ap.add_argument("slug", nargs="?", help="a chapter with an assignment")
    ap.add_argument("--all", action="store_true", help="every chapter's assignment")
    ap.add_argument("--out", default="build/assignments", help="output folder")
    ap.add_argument(
        "--force", action="store_true", help="overwrite an existing student.ipynb"
    )
    ap.add_argument(
        "--root",
        default=None,
        help="folder holding notebooks/ (default: this checkout, else the installed "
        "package)",
    )
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return, not exit
        return exc.code if isinstance(exc.code, int) else 2

    def fail(code: int, message: str) -> int:
        print(f"{PROG}: {message}", file=sys.stderr)
        return code

    if args.all == bool(args.slug):
        return fail(2, "give one chapter slug or --all (not both)")
    try:
        root = Path(args.root) if args.root else sources_root()
    except FileNotFoundError as exc:
        return fail(2, str(exc))
    slugs = assignment_slugs(root) if args.all else [args.slug]
    if not slugs:
        return fail(2, f"no {NOTEBOOKS_DIR}/*/{ASSIGNMENT} under {root}")
    try:
        for slug in slugs:
            assignment_path(slug, root)
    except AssignmentError as exc:
        return fail(2, str(exc))
    try:
        prepared = {slug: prepare(slug, root) for slug in slugs}  # nothing written yet
    except AssignmentError as exc:
        return fail(1, str(exc))
    out = Path(args.out)
    existing = [out / s / STUDENT_NB for s in slugs if (out / s / STUDENT_NB).exists()]
    if existing and not args.force:
        for path in existing:
            print(f"{PROG}: {_exists_message(path)}", file=sys.stderr)
        return 1
    for slug, (solution, student) in prepared.items():
        for path in _write(slug, solution, student, out, force=True):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
