"""Offline, deterministic auto-checking for the assignments.

A question is registered once, with a reference answer, a way to generate seeded test
cases, a comparison, and one known-wrong answer (an off-by-one, a missing transpose)
that the tests use to prove the check can fail. Students and graders call the same
function::

    check(softmax_bwd, "foundations.q2")                   # visible: 3 cases
    check(softmax_bwd, "foundations.q2", cases=50, seed=7)  # hidden tests

On success :func:`check` prints one line and returns None, so a graded cell ends with
no output value (nbgrader's ``validate`` and ``autograde`` would otherwise try to read
a returned object as a partial-credit score and warn that it "cannot be converted to a
float"). On failure it raises :class:`CheckFailed` (an ``AssertionError``) whose
message says what went wrong: the case, the max error, the first mismatching entry. An
exception raised by the student's code becomes that feedback instead of a deep
traceback. Tools and tests that want the outcome as data call :func:`evaluate`, which
does the same check silently and returns a :class:`Report`.

A ``"kernel"`` question takes the student's ``@triton.jit`` function itself; the staff
wrapper registered with the question (``launch``) allocates the outputs, picks the
grid and launches it, in Triton's CPU interpreter on a laptop or compiled on a GPU
(:mod:`effteach.grading_triton`)::

    check(softmax_kernel, "foundations.q4")

Book: book/howto.md, "Teaching with the assignments".
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from effteach.checks import check_float, check_int, typed


class CheckFailed(AssertionError):
    """An answer did not pass its question's check; the message is the feedback.

    In a notebook the error shows as that one line, not as a traceback through this
    module: IPython prints what ``_render_traceback_`` returns. This also keeps the
    lines after the failing ``check(...)`` (nbgrader's hidden tests, in an
    autograded notebook) out of the traceback's context lines.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


@dataclasses.dataclass(frozen=True)
class Report:
    """Outcome of a passed check."""

    question_id: str
    cases: int
    max_error: float

    def __str__(self) -> str:
        return (
            f"{self.question_id}: passed {self.cases} case(s), "
            f"max error {self.max_error:.2e}"
        )


@dataclasses.dataclass(frozen=True)
class Question:
    """One graded question.

    Attributes:
        qid: ``"<slug>.qN"``.
        prompt: one line saying what is asked.
        kind: ``"function"`` (answer is called on each case), ``"value"`` (answer is
            compared with the reference as is), ``"sympy"`` (answer is a SymPy
            expression or a function returning one, compared symbolically) or
            ``"kernel"`` (answer is a ``@triton.jit`` kernel, run on each case by
            ``launch``; the reference is a plain PyTorch spec of the same case).
        reference: the correct answer (same kind as the student's).
        make_cases: ``(n_cases, seed) -> list of argument tuples``; unused for
            ``"value"`` questions.
        wrong: a known-wrong answer that the check must reject.
        rtol, atol: numerical tolerances for array comparisons.
        launch: ``"kernel"`` questions: the staff wrapper
            ``(kernel, *case_args) -> output(s)`` that allocates the outputs, picks
            the grid and launches the kernel (inputs arrive on the kernel's device).
        tolerance: ``(*case_args) -> (rtol, atol)`` for one case (say by dtype);
            None uses ``rtol`` and ``atol`` for every case.
        output_names: names of the outputs, used in feedback ("lse: max error").
        solution: a right answer where ``reference`` is not one the check takes:
            the staff kernel of a ``"kernel"`` question (required there).
    """

    qid: str
    prompt: str
    kind: str
    reference: Any
    wrong: Any
    make_cases: Callable[[int, int], list[tuple]] | None = None
    rtol: float = 1e-5
    atol: float = 1e-7
    launch: Callable[..., Any] | None = None
    tolerance: Callable[..., tuple[float, float]] | None = None
    output_names: tuple[str, ...] = ()
    solution: Any = None

    def __post_init__(self) -> None:
        self._check_fields()
        names = self.output_names
        if not isinstance(names, tuple | list) or not all(
            isinstance(n, str) for n in names
        ):
            raise TypeError(
                f"output_names: expected a tuple of str, got {names!r}"
            )
        object.__setattr__(self, "output_names", tuple(names))
        for name in ("launch", "tolerance"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(
                    f"{name}: expected a function or None, got {type(value).__name__}"
                )

    def _check_fields(self) -> None:
        for name in ("qid", "prompt", "kind"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(
                    f"{name}: expected a str, got {type(getattr(self, name)).__name__}"
                )
        if self.kind not in KINDS:
            raise ValueError(
                f"kind: expected one of {', '.join(map(repr, KINDS))}, got "
                f"{self.kind!r}"
            )
        check_float("rtol", self.rtol, 0.0)
        check_float("atol", self.atol, 0.0)
        if self.kind == "value":  # numbers to compare, or a function computing them
            for name in ("reference", "wrong"):
                _check_value(name, getattr(self, name))
        elif self.kind == "function":
            for name in ("reference", "wrong"):
                if not callable(getattr(self, name)):
                    raise TypeError(
                        f"{name}: expected a function for a function question, got "
                        f"{type(getattr(self, name)).__name__}"
                    )

    @property
    def slug(self) -> str:
        """The chapter slug, the part of the id before the dot."""
        return self.qid.split(".", 1)[0]


def _check_value(name: str, value: Any) -> None:
    """A value question's answer: finite numbers (an array, a tuple) or a function."""
    if callable(value):
        return
    try:
        arr = np.asarray(value)
    except ValueError:  # ragged: a tuple of outputs of different shapes
        for i, v in enumerate(value):
            _check_value(f"{name}[{i}]", v)
        return
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name}: expected numbers or a function, got {type(value).__name__}"
        )
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"{name}: expected finite numbers, got NaN or inf")


QUESTIONS: dict[str, Question] = {}
KINDS = ("function", "value", "sympy", "kernel")
_LOADED_SLUGS: set[str] = set()


def register(question: Question) -> Question:
    """Add a question to the registry (ids are unique).

    Raises:
        ValueError: if the id is malformed, already registered, or the kind unknown.
    """
    if "." not in question.qid or not question.qid.split(".", 1)[1].startswith("q"):
        raise ValueError(f"qid: expected '<slug>.qN', got {question.qid!r}")
    if question.qid in QUESTIONS:
        raise ValueError(f"qid: {question.qid!r} is already registered")
    if question.kind not in KINDS:
        raise ValueError(
            f"kind: expected one of {', '.join(map(repr, KINDS))}, got "
            f"{question.kind!r}"
        )
    if question.kind in ("function", "kernel") and question.make_cases is None:
        raise ValueError(
            f"make_cases: required for {question.kind} question {question.qid}"
        )
    if question.kind == "kernel" and not callable(question.launch):
        raise ValueError(f"launch: required for kernel question {question.qid}")
    if question.kind == "kernel" and question.solution is None:
        raise ValueError(f"solution: required for kernel question {question.qid}")
    QUESTIONS[question.qid] = question
    return question


def _load(slug: str) -> None:
    """Import ``effteach.<slug>.questions`` so that its questions register."""
    if slug in _LOADED_SLUGS:
        return
    import importlib

    try:
        importlib.import_module(f"effteach.{slug}.questions")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"effteach.{slug}", f"effteach.{slug}.questions"):
            raise
    _LOADED_SLUGS.add(slug)


@typed
def questions_for(slug: str) -> list[str]:
    """Return the ids of the questions registered for a chapter, in order."""
    _load(slug)
    return sorted(q for q in QUESTIONS if q.split(".", 1)[0] == slug)


@typed
def get(question_id: str) -> Question:
    """Return a registered question.

    Raises:
        KeyError: naming the unknown id and the known ids of its chapter.
        TypeError: naming ``question_id`` if it is not a str.
    """
    if "." not in question_id:
        raise KeyError(f"question_id: expected '<slug>.qN', got {question_id!r}")
    _load(question_id.split(".", 1)[0])
    if question_id not in QUESTIONS:
        known = ", ".join(questions_for(question_id.split(".", 1)[0])) or "none"
        raise KeyError(
            f"question_id: unknown question {question_id!r} (known: {known})"
        )
    return QUESTIONS[question_id]


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu()
        if x.dtype.is_floating_point:
            x = x.double()
        return x.numpy()
    return np.asarray(x)


def _describe_args(args: tuple) -> str:
    parts = []
    for a in args:
        if hasattr(a, "shape"):
            parts.append(
                f"{type(a).__name__}{tuple(a.shape)} {getattr(a, 'dtype', '')}"
            )
        else:
            parts.append(repr(a))
    return "(" + ", ".join(parts) + ")"


@typed
def compare_arrays(
    got: Any, want: Any, rtol: float, atol: float, where: str = ""
) -> float:
    """Compare two arrays (or tuples of arrays); return the max abs error.

    Raises:
        CheckFailed: on a shape mismatch, a non-finite value, or an error beyond
            ``atol + rtol * |want|``, naming the first mismatching index.
        TypeError, ValueError: naming the argument, for a ``want`` that is not
            numbers (the reference is the caller's) or a negative or NaN tolerance.
    """
    check_float("rtol", rtol, 0.0, finite=False)
    check_float("atol", atol, 0.0, finite=False)
    if want is None or isinstance(want, (str, bytes)):
        raise TypeError(f"want: expected numbers, got {type(want).__name__}")
    if isinstance(want, tuple | list):
        if not isinstance(got, tuple | list) or len(got) != len(want):
            n = len(got) if isinstance(got, tuple | list) else 1
            raise CheckFailed(f"{where}expected {len(want)} outputs, got {n}")
        return max(
            compare_arrays(g, w, rtol, atol, f"{where}output {i}: ")
            for i, (g, w) in enumerate(zip(got, want, strict=True))
        )
    g, w = _to_numpy(got), _to_numpy(want)
    if g.shape != w.shape:
        raise CheckFailed(f"{where}expected shape {w.shape}, got {g.shape}")
    if g.dtype == object:
        raise CheckFailed(f"{where}expected numbers, got {type(got).__name__}")
    g, w = g.astype(np.float64), w.astype(np.float64)
    if not np.all(np.isfinite(w)):  # a got like it could never pass
        raise ValueError("want: expected finite values (the reference), got NaN or inf")
    if not np.all(np.isfinite(g)):
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(g))[0])
        raise CheckFailed(f"{where}non-finite value {g[idx]} at index {idx}")
    err = np.abs(g - w)
    bad = err > atol + rtol * np.abs(w)
    max_err = float(err.max()) if err.size else 0.0
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CheckFailed(
            f"{where}max error {max_err:.3e}; first mismatch at index {idx}: "
            f"got {g[idx]:.6g}, expected {w[idx]:.6g} "
            f"({int(bad.sum())} of {bad.size} entries off)"
        )
    return max_err


def _call(answer: Callable, args: tuple, qid: str, case: int) -> Any:
    try:
        return answer(*args)
    except CheckFailed as exc:  # feedback already (a kernel launcher's)
        if getattr(exc, "case_context", False):  # about this case: say which
            raise CheckFailed(
                f"{qid}: case {case} {_describe_args(args)}: {exc}"
            ) from None
        raise
    except NotImplementedError:
        raise CheckFailed(
            f"{qid}: not implemented yet (your function raised NotImplementedError)"
        ) from None
    except Exception as exc:  # the student's error becomes feedback
        tb = traceback.extract_tb(exc.__traceback__)[-1]
        raise CheckFailed(
            f"{qid}: case {case} {_describe_args(args)}: your code raised "
            f"{type(exc).__name__}: {exc} (line {tb.lineno}: {tb.line})"
        ) from None


def _plain_symbols(expr):
    import sympy as sp

    return expr.subs({s: sp.Symbol(s.name) for s in expr.free_symbols})


def _check_sympy(answer: Any, q: Question) -> float:
    import sympy as sp

    if callable(answer) and not isinstance(answer, sp.Basic):
        answer = _call(answer, (), q.qid, 0)
    ref = q.reference() if callable(q.reference) else q.reference
    if answer is None:
        raise CheckFailed(f"{q.qid}: your answer is None; return a SymPy expression")
    try:
        got = sp.sympify(answer)
    except (sp.SympifyError, TypeError) as exc:
        raise CheckFailed(f"{q.qid}: not a SymPy expression: {exc}") from None
    # compare by symbol name: z0 declared real=True by the student is still z0
    got = _plain_symbols(got)
    ref = _plain_symbols(sp.sympify(ref))
    if isinstance(ref, sp.MatrixBase):
        if not isinstance(got, sp.MatrixBase) or got.shape != ref.shape:
            shape = getattr(got, "shape", "a scalar")
            raise CheckFailed(f"{q.qid}: expected a {ref.shape} Matrix, got {shape}")
        for i in range(ref.rows):
            for j in range(ref.cols):
                if sp.simplify(got[i, j] - ref[i, j]) != 0:
                    raise CheckFailed(
                        f"{q.qid}: entry ({i}, {j}) is {got[i, j]}, which is not "
                        f"equal to the expected {ref[i, j]}"
                    )
        return 0.0
    if sp.simplify(got - ref) != 0:
        raise CheckFailed(f"{q.qid}: {got} is not equal to the expected expression")
    return 0.0


@typed
def check(answer: Any, question_id: str, cases: int = 3, seed: int = 0) -> None:
    """Check an answer against its registered question; print one line of feedback.

    Returns None on purpose: the last expression of a graded cell must not leave an
    output value that nbgrader would try to read as a score. :func:`evaluate` returns
    the :class:`Report` instead of printing it.

    Args:
        answer: the student's function, value or SymPy expression.
        question_id: ``"<slug>.qN"``.
        cases: how many seeded cases to try (function questions).
        seed: the seed of the cases; hidden tests use other seeds.

    Raises:
        CheckFailed: with feedback (case, max error, first mismatch) on failure.
        KeyError: for an unknown question id.
        ValueError: if ``cases`` is not a positive int.
    """
    print(evaluate(answer, question_id, cases=cases, seed=seed))


@typed
def evaluate(answer: Any, question_id: str, cases: int = 3, seed: int = 0) -> Report:
    """Check an answer like :func:`check`, silently, and return the outcome.

    Args:
        answer: the student's function, value or SymPy expression.
        question_id: ``"<slug>.qN"``.
        cases: how many seeded cases to try (function questions).
        seed: the seed of the cases.

    Returns:
        A :class:`Report` (question id, cases passed, max error) when every case
        passes.

    Raises:
        CheckFailed: with feedback (case, max error, first mismatch) on failure.
        KeyError: for an unknown question id.
        ValueError: if ``cases`` is not a positive int.
    """
    q = get(question_id)
    cases, seed = check_int("cases", cases, 1), check_int("seed", seed, 0)
    if q.kind == "sympy":
        max_err, n = _check_sympy(answer, q), 1
    elif q.kind == "value":
        if callable(answer):
            answer = _call(answer, (), q.qid, 0)
        want = q.reference() if callable(q.reference) else q.reference
        if answer is None:
            raise CheckFailed(f"{q.qid}: your answer is None")
        max_err = compare_arrays(answer, want, q.rtol, q.atol, f"{q.qid}: ")
        n = 1
    else:
        if q.kind == "kernel":
            from effteach.grading_triton import kernel_launcher

            answer = kernel_launcher(answer, q.launch, q.qid)
        elif not callable(answer):
            raise CheckFailed(
                f"{q.qid}: expected your answer to be a function, got "
                f"{type(answer).__name__}"
            )
        max_err, n = 0.0, 0
        for i, args in enumerate(_cases(q, cases, seed)):
            got = _call(answer, args, q.qid, i)
            want = q.reference(*args)
            where = f"{q.qid}: case {i} {_describe_args(args)}: "
            rtol, atol = q.tolerance(*args) if q.tolerance else (q.rtol, q.atol)
            max_err = max(max_err, _compare(got, want, rtol, atol, where, q))
            n += 1
    return Report(q.qid, n, max_err)


def _compare(got: Any, want: Any, rtol: float, atol: float, where: str, q: Question):
    """compare_arrays, naming each output by ``q.output_names`` when it has them."""
    names = q.output_names
    if not names or not isinstance(want, tuple | list) or len(names) != len(want):
        return compare_arrays(got, want, rtol, atol, where)
    if not isinstance(got, tuple | list) or len(got) != len(want):
        n = len(got) if isinstance(got, tuple | list) else 1
        raise CheckFailed(f"{where}expected {len(want)} outputs, got {n}")
    return max(
        compare_arrays(g, w, rtol, atol, f"{where}{name}: ")
        for g, w, name in zip(got, want, names, strict=True)
    )


def _cases(q: Question, n: int, seed: int) -> Iterator[tuple]:
    yield from q.make_cases(n, seed)
