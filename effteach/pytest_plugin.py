"""The effteach pytest plugin: markers, the GPU skip, per-notebook time budgets.

Registered as a ``pytest11`` entry point, so every pytest run in this environment loads
it (``pytest tests/`` and ``pytest build/ipynb --nbval-lax`` alike).

* **Import order.** This module imports :mod:`effteach` first thing, which runs
  :mod:`effteach.device`: without a GPU it sets ``TRITON_INTERPRET=1`` before any test
  module imports a kernel (Triton reads the flag when ``@triton.jit`` runs).
* **Markers.** ``interpreter`` (Triton on the CPU), ``gpu`` (skipped when
  ``torch.cuda.is_available()`` is False), ``slow`` (larger CPU cases) and ``browser``
  (drives Chromium).
* **Notebook budgets.** For every notebook collected by nbval (``--nbval`` or
  ``--nbval-lax``) the plugin sums the *call* durations of its cells (imports
  included; the kernel start is not a cell) and, at the end, prints a table: notebook,
  kind, cells, seconds, budget, status. A notebook over its budget (lecture 90 s,
  assignment 60 s; ``EFFTEACH_BUDGET_LECTURE`` / ``EFFTEACH_BUDGET_ASSIGNMENT``
  override them, in seconds) fails the session: the exit status becomes 1 and a line
  names the notebook. The table is also written, atomically, to
  ``<rootdir>/build/notebook_times.json`` (or ``--effteach-times PATH``).
  An exit status that is already non-zero (failures, or 5 for "no tests ran") is
  never changed.

The budget arithmetic is in pure functions (:func:`budgets`, :func:`notebook_kind`,
:func:`summarize`, :func:`over_budget`, :func:`format_table`) so it is tested without
running a notebook.

Book: book/howto.md, "Running the tests".
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

import effteach  # noqa: F401  (first: sets TRITON_INTERPRET before kernel modules)

MARKERS = {
    "interpreter": "Triton kernel run on the CPU (TRITON_INTERPRET=1): fp32/fp16, "
    "tiny shapes",
    "gpu": "needs a CUDA GPU; skipped when torch.cuda.is_available() is False",
    "slow": "larger CPU cases (part of make test; deselect with -m 'not slow')",
    "browser": "drives a real browser (Chromium via Playwright) on the built book",
    "retrain": "retrains a zoo model from scratch (minutes each); skipped unless "
    "EFFTEACH_RETRAIN=1, so not part of make test or CI",
}
DEFAULT_BUDGETS_S = {"lecture": 90.0, "assignment": 60.0}
BUDGET_ENV = {
    "lecture": "EFFTEACH_BUDGET_LECTURE",
    "assignment": "EFFTEACH_BUDGET_ASSIGNMENT",
}
#: Notebook file stems and the budget they fall under; any other stem: "lecture".
KIND_BY_STEM = {
    "lecture": "lecture",
    "assignment": "assignment",
    "solution": "assignment",
    "student": "assignment",
}
TIMES_FILE = Path("build") / "notebook_times.json"


@dataclass
class NotebookTiming:
    """What the plugin measured for one notebook."""

    cells: int = 0
    seconds: float = 0.0
    failed_cells: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    """One line of the timing table."""

    notebook: str
    kind: str
    cells: int
    seconds: float
    budget: float
    status: str  # "ok", "failed", "over budget", "failed, over budget"

    @property
    def over(self) -> bool:
        """True when the notebook took longer than its budget."""
        return self.seconds > self.budget


# ---------------------------------------------------------------- pure functions


def budgets(environ: Mapping[str, str] | None = None) -> dict[str, float]:
    """Return the time budget in seconds per notebook kind.

    Args:
        environ: the environment to read overrides from (default ``os.environ``).

    Returns:
        ``{"lecture": 90.0, "assignment": 60.0}``, with any override applied.

    Raises:
        ValueError: naming the variable, if an override is not a positive number.
    """
    environ = os.environ if environ is None else environ
    out = dict(DEFAULT_BUDGETS_S)
    for kind, var in BUDGET_ENV.items():
        raw = environ.get(var)
        if raw is None or raw.strip() == "":
            continue
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        if not value > 0 or value == float("inf"):
            raise ValueError(
                f"{var}: expected a positive number of seconds, got {raw!r}"
            )
        out[kind] = value
    return out


def notebook_kind(path: str | os.PathLike) -> str:
    """Return ``"lecture"`` or ``"assignment"`` from a notebook's file name."""
    return KIND_BY_STEM.get(Path(path).stem, "lecture")


def summarize(
    timings: Mapping[str, NotebookTiming], budget_s: Mapping[str, float]
) -> list[Row]:
    """Turn per-notebook timings into table rows, sorted by notebook.

    Args:
        timings: notebook path -> what was measured.
        budget_s: seconds per kind, from :func:`budgets`.

    Returns:
        One :class:`Row` per notebook.
    """
    rows = []
    for name in sorted(timings):
        t = timings[name]
        kind = notebook_kind(name)
        budget = float(budget_s[kind])
        flags = []
        if t.failed_cells:
            flags.append("failed")
        if t.seconds > budget:
            flags.append("over budget")
        rows.append(
            Row(
                notebook=name,
                kind=kind,
                cells=t.cells,
                seconds=round(t.seconds, 3),
                budget=budget,
                status=", ".join(flags) or "ok",
            )
        )
    return rows


def over_budget(rows: list[Row]) -> list[Row]:
    """Return the rows whose notebook took longer than its budget."""
    return [r for r in rows if r.over]


def format_table(rows: list[Row]) -> str:
    """Format rows as a plain-text table (header, one line per notebook)."""
    header = ("notebook", "kind", "cells", "seconds", "budget", "status")
    body = [
        (
            r.notebook,
            r.kind,
            str(r.cells),
            f"{r.seconds:.1f}",
            f"{r.budget:g}",
            r.status,
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(6)]
    right = {2, 3, 4}  # numbers line up on the right

    def fmt(line) -> str:
        cells = [
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(line, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    return "\n".join([fmt(header), *(fmt(line) for line in body)])


def budget_message(row: Row) -> str:
    """The line that says why the session failed for one notebook."""
    return (
        f"notebook over its time budget: {row.notebook} ran {row.seconds:.1f} s, "
        f"more than the {row.budget:g} s allowed for a {row.kind}"
    )


# ----------------------------------------------------------------------- hooks

_TIMINGS = pytest.StashKey[dict]()
_ROWS = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--effteach-times``: where the notebook timing JSON goes."""
    parser.getgroup("effteach").addoption(
        "--effteach-times",
        default=None,
        metavar="PATH",
        help=f"write the notebook timing table here (default <rootdir>/{TIMES_FILE})",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers; read the budgets (a bad override is a usage error)."""
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    try:
        budgets()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[_TIMINGS] = {}


def _is_nbval_cell(item: pytest.Item) -> bool:
    try:
        from nbval.plugin import IPyNbFile
    except ImportError:  # pragma: no cover - nbval is a dev dependency
        return False
    return isinstance(item.parent, IPyNbFile)


def _notebook_name(item: pytest.Item) -> str:
    path = Path(item.parent.path)
    try:
        return str(path.relative_to(item.config.rootpath))
    except ValueError:
        return str(path)


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Skip ``gpu`` tests without CUDA, ``retrain`` tests unless asked for."""
    import os

    import torch

    if os.environ.get("EFFTEACH_RETRAIN") != "1":
        skip_retrain = pytest.mark.skip(reason="set EFFTEACH_RETRAIN=1 to retrain")
        for item in items:
            if item.get_closest_marker("retrain") is not None:
                item.add_marker(skip_retrain)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(
        reason="needs a CUDA GPU (torch.cuda.is_available() is False)"
    )
    for item in items:
        if item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Count the code cells of each notebook that will run."""
    timings = session.config.stash.setdefault(_TIMINGS, {})
    for item in session.items:
        if _is_nbval_cell(item):
            timings.setdefault(_notebook_name(item), NotebookTiming()).cells += 1


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Add each nbval cell's call duration to its notebook's total."""
    report = yield
    if call.when == "call" and _is_nbval_cell(item):
        timings = item.config.stash.setdefault(_TIMINGS, {})
        t = timings.setdefault(_notebook_name(item), NotebookTiming())
        t.seconds += report.duration
        if report.failed:
            t.failed_cells.append(item.name)
    return report


def _times_path(config: pytest.Config) -> Path:
    opt = config.getoption("effteach_times", default=None)
    return Path(opt) if opt else config.rootpath / TIMES_FILE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Compute the table, write the JSON; an over-budget notebook fails the run."""
    timings = session.config.stash.get(_TIMINGS, {})
    if not timings:
        return
    budget_s = budgets()
    rows = summarize(timings, budget_s)
    session.config.stash[_ROWS] = rows
    from effteach.tools.notebooks import write_text_atomic

    data = {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "budgets_s": budget_s,
        "what": "sum of nbval cell call durations per notebook (kernel start excluded)",
        "notebooks": [asdict(r) for r in rows],
    }
    write_text_atomic(_times_path(session.config), json.dumps(data, indent=1) + "\n")
    if over_budget(rows) and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config):
    """Print the notebook timing table and name any notebook over its budget."""
    rows = config.stash.get(_ROWS, None)
    if not rows:
        return
    tr = terminalreporter
    tr.write_sep("=", "notebook times (effteach)")
    for line in format_table(rows).splitlines():
        tr.write_line(line)
    tr.write_line(f"(timings written to {_times_path(config)})")
    for row in over_budget(rows):
        tr.write_line(f"FAILED {budget_message(row)}", red=True, bold=True)
