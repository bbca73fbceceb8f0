"""effteach.tools.notebooks (.md -> .ipynb) and the pytest plugin's time budgets."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import nbformat
import pytest

from effteach import pytest_plugin as plugin
from effteach.pytest_plugin import NotebookTiming
from effteach.tools import notebooks
from effteach.tools.notebooks import NotebookFormatError, read_notebook

pytest_plugins = ["pytester"]

HEADER = textwrap.dedent(
    """\
    ---
    jupytext:
      text_representation:
        extension: .md
        format_name: myst
    kernelspec:
      name: python3
      display_name: Python 3
    ---
    """
)
BODY = "\n# A notebook\n\n```{code-cell} ipython3\nx = 1 + 1\n```\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture()
def root(tmp_path) -> Path:
    write(tmp_path / "notebooks" / "alpha" / "lecture.md", HEADER + BODY)
    write(tmp_path / "notebooks" / "alpha" / "assignment.md", HEADER + BODY)
    write(tmp_path / "notebooks" / "beta" / "lecture.md", HEADER + BODY)
    return tmp_path


# ------------------------------------------------------------------ read_notebook


def test_read_notebook_reads_myst(root):
    nb = read_notebook(root / "notebooks" / "alpha" / "lecture.md")
    assert [c.cell_type for c in nb.cells] == ["markdown", "code"]
    assert nb.cells[1].source == "x = 1 + 1"
    again = read_notebook(root / "notebooks" / "alpha" / "lecture.md")
    assert [c.id for c in nb.cells] == [c.id for c in again.cells]  # deterministic


@pytest.mark.parametrize(
    "header, found",
    [
        (HEADER.replace("    extension: .md\n", ""), "extension=None"),  # the pitfall
        (HEADER.replace("    format_name: myst\n", ""), "format_name=None"),
        ("", "extension=None, format_name=None"),
        (HEADER.replace("format_name: myst", "format_name: markdown"), "'markdown'"),
    ],
    ids=["no-extension", "no-format", "no-header", "wrong-format"],
)
def test_read_notebook_rejects_a_bad_header(tmp_path, header, found):
    path = write(tmp_path / "x.md", header + BODY)
    with pytest.raises(NotebookFormatError) as exc:
        read_notebook(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: not a MyST notebook")
    assert "extension: .md" in msg and "format_name: myst" in msg and found in msg


def test_read_notebook_rejects_no_code_cells(tmp_path):
    path = write(tmp_path / "x.md", HEADER + "\n# Only prose\n")
    with pytest.raises(NotebookFormatError, match="jupytext found no code cell"):
        read_notebook(path)
    with pytest.raises(FileNotFoundError, match="path: no such notebook"):
        read_notebook(tmp_path / "missing.md")


def test_notebook_paths(root):
    names = [
        p.relative_to(root).as_posix() for p in notebooks.notebook_paths(root=root)
    ]
    assert names == [
        "notebooks/alpha/assignment.md",
        "notebooks/alpha/lecture.md",
        "notebooks/beta/lecture.md",
    ]
    only = notebooks.notebook_paths(["beta"], root=root)
    assert [p.parent.name for p in only] == ["beta"]
    with pytest.raises(notebooks.UnknownSlugError, match="'gamma'.*alpha, beta"):
        notebooks.notebook_paths(["gamma"], root=root)


def test_repo_root_holds_notebooks():
    assert (notebooks.repo_root() / "notebooks").is_dir()


# ------------------------------------------------------------------------- main


def test_main_converts_and_skips_unchanged(root, tmp_path, capsys):
    out = tmp_path / "build" / "ipynb"
    args = ["--out", str(out), "--root", str(root)]
    assert notebooks.main(args) == 0
    assert "3 written, 0 unchanged" in capsys.readouterr().out
    target = out / "alpha" / "lecture.ipynb"
    nb = nbformat.read(target, as_version=4)
    assert nb.cells[1].source == "x = 1 + 1"
    nbformat.validate(nb)
    stamp = target.stat().st_mtime_ns
    os.utime(target, ns=(stamp - 10**9, stamp - 10**9))  # so a rewrite would show
    stamp = target.stat().st_mtime_ns

    assert notebooks.main(args) == 0
    assert "0 written, 3 unchanged" in capsys.readouterr().out
    assert target.stat().st_mtime_ns == stamp  # not rewritten

    src = root / "notebooks" / "alpha" / "lecture.md"
    src.write_text(src.read_text().replace("1 + 1", "2 + 2"))
    assert notebooks.main([*args, "alpha"]) == 0
    assert "1 written, 1 unchanged" in capsys.readouterr().out
    assert "2 + 2" in target.read_text()
    leftovers = [p.name for p in out.rglob("*") if p.is_file()]
    assert sorted(leftovers) == ["assignment.ipynb", "lecture.ipynb", "lecture.ipynb"]


def test_main_removes_stale_notebooks(root, tmp_path, capsys):
    out = tmp_path / "out"
    assert notebooks.main(["--out", str(out), "--root", str(root)]) == 0
    (root / "notebooks" / "beta" / "lecture.md").unlink()
    assert notebooks.main(["--out", str(out), "--root", str(root)]) == 0
    assert "1 removed" in capsys.readouterr().out
    assert not (out / "beta" / "lecture.ipynb").exists()


def test_main_unknown_slug_exits_2(root, tmp_path, capsys):
    out = tmp_path / "out"
    assert notebooks.main(["--out", str(out), "--root", str(root), "gamma"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "unknown chapter 'gamma'" in err and "alpha, beta" in err
    assert not out.exists()
    assert notebooks.main(["--bogus"]) == 2


def test_main_bad_header_exits_1(root, tmp_path, capsys):
    write(root / "notebooks" / "beta" / "lecture.md", BODY)
    assert notebooks.main(["--out", str(tmp_path / "o"), "--root", str(root)]) == 1
    assert "not a MyST notebook" in capsys.readouterr().err


def test_write_text_atomic_leaves_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "a" / "f.txt"
    assert notebooks.write_text_atomic(target, "one") is True
    assert notebooks.write_text_atomic(target, "one") is False

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        notebooks.write_text_atomic(target, "two")
    assert target.read_text() == "one"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]


# --------------------------------------------------------- plugin: pure functions


def test_budgets_defaults_and_overrides():
    assert plugin.budgets({}) == {"lecture": 90.0, "assignment": 60.0}
    env = {"EFFTEACH_BUDGET_LECTURE": "0.5", "EFFTEACH_BUDGET_ASSIGNMENT": " "}
    assert plugin.budgets(env) == {"lecture": 0.5, "assignment": 60.0}
    for bad in ("abc", "0", "-1", "nan", "inf"):
        with pytest.raises(ValueError, match="EFFTEACH_BUDGET_ASSIGNMENT: expected"):
            plugin.budgets({"EFFTEACH_BUDGET_ASSIGNMENT": bad})


def test_notebook_kind():
    assert plugin.notebook_kind("build/ipynb/x/lecture.ipynb") == "lecture"
    assert plugin.notebook_kind("build/ipynb/x/assignment.ipynb") == "assignment"
    assert plugin.notebook_kind("build/assignments/x/student.ipynb") == "assignment"
    assert plugin.notebook_kind("somewhere/extra.ipynb") == "lecture"


def test_summarize_flags_over_budget_and_failed_notebooks():
    timings = {
        "b/lecture.ipynb": NotebookTiming(cells=19, seconds=90.5),
        "a/assignment.ipynb": NotebookTiming(cells=7, seconds=59.9),
        "c/lecture.ipynb": NotebookTiming(
            cells=3, seconds=1.0, failed_cells=["Cell 2"]
        ),
    }
    rows = plugin.summarize(timings, {"lecture": 90.0, "assignment": 60.0})
    assert [(r.notebook, r.status) for r in rows] == [
        ("a/assignment.ipynb", "ok"),
        ("b/lecture.ipynb", "over budget"),
        ("c/lecture.ipynb", "failed"),
    ]
    assert [r.notebook for r in plugin.over_budget(rows)] == ["b/lecture.ipynb"]
    table = plugin.format_table(rows).splitlines()
    assert table[0].split() == [
        "notebook",
        "kind",
        "cells",
        "seconds",
        "budget",
        "status",
    ]
    assert table[2].split() == [
        "b/lecture.ipynb",
        "lecture",
        "19",
        "90.5",
        "90",
        "over",
        "budget",
    ]
    msg = plugin.budget_message(rows[1])
    assert "b/lecture.ipynb ran 90.5 s" in msg and "90 s allowed for a lecture" in msg
    slow_and_broken = {"l.ipynb": NotebookTiming(2, 5.0, ["Cell 0"])}
    [row] = plugin.summarize(slow_and_broken, {"lecture": 1.0, "assignment": 1.0})
    assert row.status == "failed, over budget"


# ------------------------------------------------------- plugin: a real pytest run


def _tiny_notebook(pytester, name: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell("import time\ntime.sleep(0.05)"),
        nbformat.v4.new_code_cell("assert 1 + 1 == 2"),
    ]
    path = pytester.path / "nbs" / "demo" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


MARKS_TEST = """
import os

import pytest


@pytest.mark.gpu
def test_needs_gpu():
    import torch

    assert torch.cuda.is_available()


@pytest.mark.interpreter
@pytest.mark.slow
@pytest.mark.browser
def test_markers_registered_and_interpreter_set():
    assert os.environ.get("TRITON_INTERPRET") == "1"  # by the plugin's import effteach
"""


@pytest.mark.slow
def test_over_budget_notebook_fails_the_run(pytester, monkeypatch):
    """One subprocess run (a kernel start is slow): budgets, table, JSON, markers."""
    import torch

    if torch.cuda.is_available():  # pragma: no cover - CPU CI
        pytest.skip("the GPU skip and the interpreter flag only show without a GPU")
    _tiny_notebook(pytester, "lecture.ipynb")
    _tiny_notebook(pytester, "assignment.ipynb")
    pytester.makepyfile(test_marks=MARKS_TEST)
    monkeypatch.setenv("EFFTEACH_BUDGET_LECTURE", "0.001")
    monkeypatch.delenv("EFFTEACH_BUDGET_ASSIGNMENT", raising=False)
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    result = pytester.runpytest_subprocess(
        "nbs",
        "test_marks.py",
        "--nbval-lax",
        "--nbval-current-env",
        "--strict-markers",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == 1, result.stdout.str()
    result.assert_outcomes(passed=5, skipped=1)  # every cell passed: the budget fails
    result.stdout.fnmatch_lines(
        [
            "*notebook times (effteach)*",
            "notebook*kind*cells*seconds*budget*status",
            "nbs/demo/assignment.ipynb*assignment*2*60*ok",
            "nbs/demo/lecture.ipynb*lecture*2*0.001*over budget",
            "FAILED notebook over its time budget: nbs/demo/lecture.ipynb ran *",
        ]
    )
    assert "assignment.ipynb ran" not in result.stdout.str()
    data = json.loads((pytester.path / "build" / "notebook_times.json").read_text())
    rows = {r["notebook"]: r for r in data["notebooks"]}
    assert rows["nbs/demo/lecture.ipynb"]["status"] == "over budget"
    assert rows["nbs/demo/lecture.ipynb"]["seconds"] > 0.04
    assert rows["nbs/demo/assignment.ipynb"]["status"] == "ok"
    assert rows["nbs/demo/assignment.ipynb"]["cells"] == 2
    assert data["budgets_s"] == {"lecture": 0.001, "assignment": 60.0}
    assert not list((pytester.path / "build").glob(".*"))  # no temp file left


def test_no_tests_still_exits_5(pytester):
    pytester.makepyfile(test_nothing="x = 1")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert not (pytester.path / "build").exists()  # no notebooks, no timing file


def test_bad_budget_override_is_a_usage_error(pytester, monkeypatch):
    monkeypatch.setenv("EFFTEACH_BUDGET_LECTURE", "soon")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*EFFTEACH_BUDGET_LECTURE: expected a positive*"])
