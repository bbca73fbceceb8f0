"""Grading Triton kernels that students write: in the interpreter, or on a GPU.

A kernel question (``kind="kernel"`` in :mod:`effteach.grading`) takes the student's
``@triton.jit`` function. :func:`kernel_launcher` turns it into a plain function of a
case's tensors: the staff wrapper of the question allocates the outputs, picks the
grid and launches the kernel. On a laptop the kernel runs in Triton's CPU interpreter
(``TRITON_INTERPRET=1``, which ``import effteach`` sets before any kernel is
defined); on a CUDA machine a kernel defined without the interpreter runs compiled.
Whatever goes wrong in the student's kernel (it raises, it does not compile, a shape
does not broadcast, it was defined before the interpreter was switched on) becomes a
one-line :class:`~effteach.grading.CheckFailed` naming the line of the kernel, never a
crash of the grader.

The wrappers guard their outputs (:func:`guarded_empty`, :func:`check_guard`): a
store whose mask lets a padded lane through writes past the end of the output, which
the interpreter would not notice by itself.

On a GPU, :func:`compare_speed` times a passing kernel against the library's
baseline (``torch.softmax``, SDPA) on one shape registered with
:func:`register_speed`; without one it prints what the staff solution measured on
the GPU of ``results/gpu/<slug>.json`` (:func:`staff_record`).

Book: book/howto.md, "Teaching with the assignments".
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from effteach.checks import check_int, check_sequence, typed
from effteach.grading import CheckFailed, evaluate, get

__all__ = [
    "SpeedTest",
    "check_guard",
    "compare_speed",
    "explain",
    "guarded_empty",
    "kernel_device",
    "kernel_launcher",
    "kernel_mode",
    "register_speed",
    "staff_record",
]

#: the value a guard region holds; exact in float16, bfloat16 and float32
GUARD_VALUE = -4096.0
#: guard elements after each output
GUARD = 64
#: the committed GPU results (as :data:`effteach.bench.RESULTS_DIR`)
RESULTS_DIR = Path(__file__).resolve().parent.parent / "results" / "gpu"

NOT_INTERPRETED = (
    "{qid}: {name} was compiled for a GPU, but this machine has none: "
    "TRITON_INTERPRET was not 1 when @triton.jit ran. Run the first cell "
    "(import effteach, which switches Triton to its CPU interpreter) before the "
    "cell that defines the kernel: restart the kernel and run the cells in order "
    "(or export TRITON_INTERPRET=1 before starting Jupyter)."
)


def _jit_classes() -> tuple[type, type]:
    from triton.runtime.interpreter import InterpretedFunction
    from triton.runtime.jit import JITFunction

    return InterpretedFunction, JITFunction


def _name(kernel: Any) -> str:
    fn = getattr(kernel, "fn", kernel)
    return getattr(fn, "__name__", type(kernel).__name__)


def _check_kernel(kernel: Any) -> None:
    """Refuse, naming ``kernel``, anything that is not a ``@triton.jit`` kernel."""
    if isinstance(kernel, _jit_classes()):
        return
    got = (f"the plain Python function {_name(kernel)} (keep the @triton.jit line "
           "above its def)") if callable(kernel) else type(kernel).__name__
    raise TypeError(f"kernel: expected a @triton.jit kernel, got {got}")


@typed
def kernel_mode(kernel: Any, qid: str = "kernel") -> str:
    """Say how a ``@triton.jit`` kernel will run here: interpreter or compiled.

    Args:
        kernel: what ``@triton.jit`` returned.
        qid: the question id that starts each message.

    Returns:
        ``"interpreter"`` (runs on CPU tensors) or ``"compiled"`` (CUDA tensors).

    Raises:
        CheckFailed: if ``kernel`` is not a ``@triton.jit`` kernel, or was compiled
            for a GPU on a machine without one (TRITON_INTERPRET was set too late).
    """
    interpreted, jitted = _jit_classes()
    if isinstance(kernel, interpreted):
        return "interpreter"
    if isinstance(kernel, jitted):
        if torch.cuda.is_available():
            return "compiled"
        raise CheckFailed(NOT_INTERPRETED.format(qid=qid, name=_name(kernel)))
    if callable(kernel):
        raise CheckFailed(
            f"{qid}: expected a @triton.jit kernel, got the plain Python function "
            f"{_name(kernel)}: keep the @triton.jit line above its def"
        )
    raise CheckFailed(
        f"{qid}: expected a @triton.jit kernel, got {type(kernel).__name__}"
    )


@typed
def kernel_device(kernel: Any, qid: str = "kernel") -> torch.device:
    """The device a kernel's tensors must live on: the CPU for the interpreter.

    Raises:
        CheckFailed: as :func:`kernel_mode`.
    """
    mode = kernel_mode(kernel, qid)
    return torch.device("cpu" if mode == "interpreter" else "cuda")


@typed
def guarded_empty(
    shape: Sequence[int], dtype: torch.dtype, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """An output tensor followed in memory by ``GUARD`` elements of ``GUARD_VALUE``.

    Args:
        shape: the output's shape.
        dtype: its dtype.
        device: where it lives.

    Returns:
        ``(buffer, out)``: the whole flat buffer, and ``out``, a contiguous view of
        its first elements with the given shape (filled with ``GUARD_VALUE`` too).

    Raises:
        ValueError: for a negative size, or a device torch does not know.
        TypeError: naming the argument of a wrong type (a size that is no int).
    """
    sizes = check_sequence("shape", shape, non_empty=False)
    if any(check_int(f"shape[{i}]", s) < 0 for i, s in enumerate(sizes)):
        raise ValueError(f"shape: expected sizes >= 0, got {tuple(sizes)}")
    shape = tuple(int(s) for s in sizes)
    try:
        device = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device: {err}") from None
    numel = 1
    for s in shape:
        numel *= s
    buf = torch.full((numel + GUARD,), GUARD_VALUE, dtype=dtype, device=device)
    return buf, buf[:numel].view(shape)


@typed
def check_guard(buffer: torch.Tensor, out: torch.Tensor, name: str) -> None:
    """Raise when a kernel wrote into the guard after ``out`` (a leaky store mask).

    Args:
        buffer: the buffer of :func:`guarded_empty`.
        out: its output view.
        name: the output's name in the message.

    Raises:
        CheckFailed: naming how many guard elements changed.
        ValueError: if ``buffer`` is not a flat buffer of :func:`guarded_empty` or
            ``out`` not the view of its first elements.
    """
    if buffer.ndim != 1 or buffer.numel() < GUARD:
        raise ValueError(
            f"buffer: expected the flat buffer of guarded_empty (1-D, at least "
            f"{GUARD} elements), got shape {tuple(buffer.shape)}"
        )
    first = buffer.numel() - GUARD
    if (out.numel() != first or out.dtype != buffer.dtype
            or out.device != buffer.device
            or (first and out.data_ptr() != buffer.data_ptr())):
        raise ValueError(
            f"out: expected the view of the first {first} elements of buffer "
            f"({buffer.dtype}), got {out.numel()} elements ({out.dtype})"
            f"{'' if out.data_ptr() == buffer.data_ptr() else ', not a view of it'}"
        )
    tail = buffer[out.numel():]
    changed = int((tail != GUARD_VALUE).sum())
    if changed:
        raise CheckFailed(
            f"your kernel wrote {changed} element(s) past the end of {name}: a store "
            "mask lets out-of-range lanes through"
        )


def _kernel_frame(exc: BaseException, kernel: Any) -> traceback.FrameSummary | None:
    """The innermost frame of the traceback chain that is in the kernel's source."""
    fn = getattr(kernel, "fn", None)
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    found = None
    seen: set[int] = set()
    first = code.co_firstlineno
    last = max((ln for _, _, ln in code.co_lines() if ln), default=first)
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for frame in traceback.extract_tb(exc.__traceback__):
            inside = first <= (frame.lineno or 0) <= last
            if frame.filename == code.co_filename and inside:
                found = frame
        exc = exc.__cause__ or exc.__context__
    return found


def _root(exc: BaseException) -> BaseException:
    """The student's own exception under Triton's InterpreterError wrapper."""
    from triton.runtime.errors import InterpreterError

    while isinstance(exc, InterpreterError) and exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def _one_line(text: str, limit: int = 240) -> str:
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _in_case(message: str) -> CheckFailed:
    """Feedback about one case: :func:`effteach.grading.evaluate` prefixes the case."""
    failed = CheckFailed(message)
    failed.case_context = True
    return failed


@typed
def explain(exc: BaseException, kernel: Any, qid: str) -> CheckFailed:
    """Turn an error raised while launching a student's kernel into one-line feedback.

    Args:
        exc: what the launch raised.
        kernel: the student's kernel.
        qid: the question id.

    Returns:
        The :class:`CheckFailed` to raise (not raised here). Its message starts with
        the question id, or, for an error of one case, it has ``case_context`` set
        and :func:`effteach.grading.evaluate` adds the id and the case.

    Raises:
        TypeError: naming the argument, if ``exc`` is no exception, ``kernel`` no
            ``@triton.jit`` kernel or ``qid`` no str.
    """
    _check_kernel(kernel)
    if isinstance(exc, CheckFailed):
        return exc if getattr(exc, "case_context", False) else _in_case(str(exc))
    root = _root(exc)
    if isinstance(root, NotImplementedError):
        return CheckFailed(
            f"{qid}: not implemented yet (your kernel raised NotImplementedError)"
        )
    from triton.compiler.errors import CompilationError

    frame = _kernel_frame(exc, kernel)
    at = f" (line {frame.lineno}: {frame.line})" if frame and frame.line else ""
    if isinstance(root, CompilationError):
        if "NotImplementedError" in str(root):
            return CheckFailed(
                f"{qid}: not implemented yet (your kernel raises NotImplementedError)"
            )
        return _in_case(f"your kernel does not compile: {_one_line(root)}{at}")
    message = _one_line(root) or type(root).__name__
    if not frame:  # raised by the launch itself: the kernel's signature or grid
        return _in_case(
            f"launching your kernel raised {type(root).__name__}: {message} (keep "
            "the signature of the skeleton)"
        )
    return _in_case(f"your kernel raised {type(root).__name__}: {message}{at}")


def _to(x: Any, device: torch.device) -> Any:
    return x.to(device) if isinstance(x, torch.Tensor) else x


def _to_cpu(out: Any) -> Any:
    if isinstance(out, tuple | list):
        return type(out)(_to_cpu(o) for o in out)
    return out.detach().cpu() if isinstance(out, torch.Tensor) else out


@typed
def kernel_launcher(
    kernel: Any, launch: Callable[..., Any], qid: str = "kernel"
) -> Callable[..., Any]:
    """A plain function of a case's arguments that runs the student's kernel.

    Args:
        kernel: the student's ``@triton.jit`` function.
        launch: the staff wrapper ``(kernel, *args) -> output(s)``; it receives the
            tensors on the kernel's device (:func:`kernel_device`).
        qid: the question id that starts every message.

    Returns:
        ``run(*args)``: moves tensor arguments to the kernel's device, launches, and
        returns the outputs on the CPU; any error in the kernel is raised as a
        one-line :class:`CheckFailed` (:func:`explain`).

    Raises:
        CheckFailed: at once, when ``kernel`` is not a kernel that can run here
            (:func:`kernel_mode`).
        TypeError: if ``launch`` is not callable.
    """
    device = kernel_device(kernel, qid)

    def run(*args: Any) -> Any:
        moved = tuple(_to(a, device) for a in args)
        try:
            with np.errstate(all="ignore"):  # overflow, 0/0: the check reports them
                out = launch(kernel, *moved)
            if device.type == "cuda":
                torch.cuda.synchronize()
        except Exception as exc:  # the student's error becomes feedback
            raise explain(exc, kernel, qid) from None
        return _to_cpu(out)

    run.__name__ = _name(kernel)
    return run


# ----------------------------------------------------------------- speed on a GPU


@typed
@dataclasses.dataclass(frozen=True)
class SpeedTest:
    """The GPU timing of a kernel question: one shape, one baseline, one record.

    Attributes:
        label: the shape in words, e.g. ``"fp16, 8192 x 4096"``.
        make_inputs: ``() -> tuple`` of the inputs, on the GPU.
        launch: ``(kernel, *inputs) -> output(s)``, the staff wrapper at GPU tiles.
        baseline: ``(*inputs) -> output(s)``, what the kernel is compared with.
        baseline_name: e.g. ``"torch.softmax"``.
        slug: the chapter whose ``results/gpu/<slug>.json`` holds the staff run.
        record: the fields a record of that file must match (the same shape).
        ratio_key: the record's field with the staff kernel's speed ratio.
    """

    label: str
    make_inputs: Callable[[], tuple]
    launch: Callable[..., Any]
    baseline: Callable[..., Any]
    baseline_name: str
    slug: str
    record: dict[str, Any]
    ratio_key: str


SPEED_TESTS: dict[str, SpeedTest] = {}


def register_speed(question_id: str, speed: SpeedTest) -> SpeedTest:
    """Attach a GPU timing to a registered kernel question.

    Raises:
        KeyError: for an unknown question id.
        ValueError: if the question is not a kernel question.
        TypeError: if ``speed`` is not a :class:`SpeedTest`.
    """
    if not isinstance(speed, SpeedTest):
        raise TypeError(f"speed: expected a SpeedTest, got {type(speed).__name__}")
    q = get(question_id)
    if q.kind != "kernel":
        raise ValueError(
            f"question_id: {question_id} is a {q.kind!r} question, not a kernel one"
        )
    SPEED_TESTS[question_id] = speed
    return speed


@typed
def staff_record(
    slug: str, match: dict[str, Any], results_dir: str | Path | None = None
) -> tuple[dict | None, str]:
    """Find the record of ``results/gpu/<slug>.json`` whose fields equal ``match``.

    Args:
        slug: the chapter.
        match: field -> value, e.g. ``{"impl": "triton", "n_cols": 4096}``.
        results_dir: the folder of the result files (default ``results/gpu``).

    Returns:
        ``(record, gpu)`` with the GPU's name; ``(None, reason)`` when the file is
        missing or has no such record (the reason says what the file has).
    """
    path = Path(results_dir or RESULTS_DIR) / f"{slug}.json"
    if not path.is_file():
        return None, f"no {path.name} in {path.parent}"
    data = json.loads(path.read_text())
    records = data.get("records", [])
    for rec in records:
        if all(rec.get(k) == v for k, v in match.items()):
            return rec, str(data.get("env", {}).get("gpu", "an unnamed GPU"))
    keys = sorted({k for r in records for k in r if k in match})
    seen = sorted({tuple(str(r.get(k)) for k in keys) for r in records})[:8]
    return None, (
        f"{path.name} has no record with {match}; it has {len(records)} records, "
        f"{', '.join(keys)} in {seen}"
    )


def _staff_line(speed: SpeedTest) -> str:
    rec, gpu = staff_record(speed.slug, speed.record)
    if rec is None:
        return f"Staff solution: {gpu}."
    return (
        f"Staff solution on an {gpu} (results/gpu/{speed.slug}.json, "
        f"{speed.label}): {rec[speed.ratio_key]:.2f}x {speed.baseline_name} "
        f"({speed.baseline_name} time / kernel time; above 1 is faster)."
    )


@typed
def compare_speed(kernel: Any, question_id: str) -> dict[str, float] | None:
    """Time a kernel against its question's baseline on a GPU; print the ratio.

    Without CUDA (or for a kernel defined in the interpreter) nothing is timed: the
    function prints what the staff solution measured, from ``results/gpu/``. On a
    GPU the kernel must first pass the question's visible check (else the reason is
    printed and nothing is timed); then both are timed with
    :func:`effteach.bench.time_interleaved`.

    Args:
        kernel: the student's ``@triton.jit`` kernel.
        question_id: a kernel question with a registered :class:`SpeedTest`.

    Returns:
        ``{"kernel_ms", "baseline_ms", "ratio"}`` when timed, else None.

    Raises:
        KeyError: for a question without a registered timing.
        TypeError: if ``kernel`` is not a ``@triton.jit`` kernel.
    """
    _check_kernel(kernel)
    q = get(question_id)
    if question_id not in SPEED_TESTS:
        raise KeyError(f"question_id: no GPU timing registered for {question_id!r}")
    speed = SPEED_TESTS[question_id]
    interpreted, _ = _jit_classes()
    if not torch.cuda.is_available() or isinstance(kernel, interpreted):
        why = "no CUDA GPU here" if not torch.cuda.is_available() else (
            "this kernel runs in the Triton interpreter"
        )
        print(f"Not timed: {why}. {_staff_line(speed)}")
        return None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            evaluate(kernel, q.qid)
    except CheckFailed as exc:
        print(f"Not timed: your kernel does not pass yet. {exc}")
        return None
    from effteach.bench import time_interleaved

    inputs = speed.make_inputs()
    ms = time_interleaved(
        {
            "kernel": lambda: speed.launch(kernel, *inputs),
            "baseline": lambda: speed.baseline(*inputs),
        }
    )
    ratio = ms["baseline"] / ms["kernel"]
    print(
        f"{speed.label}: your kernel {ms['kernel']:.4f} ms, {speed.baseline_name} "
        f"{ms['baseline']:.4f} ms: {ratio:.2f}x ({speed.baseline_name} time / your "
        f"time; above 1 is faster). {_staff_line(speed)}"
    )
    return {"kernel_ms": ms["kernel"], "baseline_ms": ms["baseline"], "ratio": ratio}
