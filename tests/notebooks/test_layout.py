"""The repository layout and the rules every notebook follows (STYLE.md, sections 1, 4).

Each rule is a small function returning the problems it finds, tested once on a bad
example (so it can fail) and then applied to every package and notebook.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

from effteach.tools.notebooks import NotebookFormatError, read_notebook, repo_root

REPO = repo_root()
NOT_CHAPTERS = {"tools", "checkpoints"}
NOTEBOOKS = sorted((REPO / "notebooks").rglob("*.md"))
LECTURES = [p for p in NOTEBOOKS if p.name == "lecture.md"]


def _id(path: Path) -> str:
    return str(path.relative_to(REPO / "notebooks").with_suffix(""))


# ---------------------------------------------------------------------- packages


def chapter_packages(root: Path) -> list[str]:
    """``effteach.<name>`` for every ``effteach/<name>/__init__.py`` (not tools...)."""
    return sorted(
        f"effteach.{p.parent.name}"
        for p in (root / "effteach").glob("*/__init__.py")
        if p.parent.name not in NOT_CHAPTERS
    )


def listed_packages(root: Path) -> list[str]:
    data = tomllib.loads((root / "pyproject.toml").read_text())
    return list(data["tool"]["setuptools"]["packages"])


def unlisted_packages(root: Path) -> list[str]:
    """Packages a wheel built from ``root`` would miss."""
    listed = listed_packages(root)
    wanted = chapter_packages(root) + [
        f"effteach.{top}"  # top-level folders installed inside the effteach namespace
        for top in ("kernels", "fpga_sim")
        if (root / top / "__init__.py").is_file()
    ]
    return [p for p in wanted if p not in listed]


def test_every_chapter_package_is_listed_in_pyproject():
    missing = unlisted_packages(REPO)
    assert not missing, (
        f"pyproject.toml [tool.setuptools] packages lacks {missing}: a wheel would "
        "ship without them"
    )


def test_package_rule_can_fail(tmp_path):
    for name in ("effteach/new_chapter", "effteach/tools", "kernels"):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools]\npackages = ["effteach", "effteach.tools"]\n'
    )
    assert unlisted_packages(tmp_path) == ["effteach.new_chapter", "effteach.kernels"]


# ------------------------------------------------------------- notebook rules

FORBIDDEN_IN_CODE = [
    (re.compile(r"^\s*[!%]{1,2}\s*(pip|conda|mamba)\b", re.M), "installs packages"),
    (re.compile(r"\bpip\s+install\b"), "installs packages"),
    (re.compile(r"https?://"), "has a URL (nothing is downloaded at run time)"),
    (
        re.compile(r"(?<![\w.])(/work/|/tmp/|/home/|/root/|/Users/|[A-Za-z]:\\\\)"),
        "has an absolute path",
    ),
    (re.compile(r"TRITON_INTERPRET"), "sets TRITON_INTERPRET (effteach.device does)"),
]
LEAVES_OPEN = re.compile(r"^#{1,6}\s+what the paper leaves open\b", re.I | re.M)
#: ruff's line length (pyproject.toml); at 1280 px the book's code column shows ~90
#: columns, so a longer line scrolls sideways (the browser test measures it too).
MAX_CODE_COLUMNS = 88


def code_cell_problems(nb) -> list[str]:
    """Problems in a notebook's code cells (no installs, URLs, paths, Triton flag)."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    problems = []
    if not code or "effteach.setup()" not in code[0].source:
        problems.append(
            "the first code cell must run `import effteach; effteach.setup()`"
        )
    for n, cell in enumerate(code):
        seen = set()
        for pattern, what in FORBIDDEN_IN_CODE:
            m = pattern.search(cell.source)
            if m and what not in seen:
                seen.add(what)
                problems.append(f"code cell {n} {what}: {m.group(0).strip()!r}")
        for i, line in enumerate(cell.source.splitlines(), 1):
            if len(line) > MAX_CODE_COLUMNS:
                problems.append(
                    f"code cell {n} line {i} has {len(line)} columns "
                    f"(> {MAX_CODE_COLUMNS}): {line.strip()[:40]!r}"
                )
    return problems


def defined_names(source: str) -> list[str]:
    """Module-level ``def``/``class`` names of a cell (IPython syntax allowed)."""
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))
    names = []

    def visit(nodes):
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.append(node.name)  # its body is local: not visited
            else:
                for block in ("body", "orelse", "finalbody", "handlers"):
                    visit(getattr(node, block, []) or [])

    visit(tree.body)
    return names


def redefined_exports(nb, exported: set[str]) -> list[str]:
    """Names a notebook's code cells define with def/class that the chapter exports."""
    return sorted(
        {
            name
            for cell in nb.cells
            if cell.cell_type == "code"
            for name in defined_names(cell.source)
            if name in exported
        }
    )


def test_at_least_one_notebook():
    assert NOTEBOOKS and LECTURES, f"no notebooks/<slug>/lecture.md under {REPO}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_notebook_header_and_code_cells(path):
    try:
        nb = read_notebook(path)  # header with extension + format, >= 1 code cell
    except NotebookFormatError as exc:
        pytest.fail(str(exc))
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{path}: the header needs kernelspec: {{name: python3, ...}}"
    )
    problems = code_cell_problems(nb)
    assert not problems, f"{_id(path)}: " + "; ".join(problems)


@pytest.mark.parametrize("path", LECTURES, ids=_id)
def test_lecture_has_what_the_paper_leaves_open(path):
    text = "\n".join(
        c.source for c in read_notebook(path).cells if c.cell_type == "markdown"
    )
    assert LEAVES_OPEN.search(text), (
        f"{_id(path)}: no '## What the paper leaves open' section"
    )


@pytest.mark.parametrize("path", LECTURES, ids=_id)
def test_lecture_does_not_redefine_library_names(path):
    slug = path.parent.name
    try:
        package = importlib.import_module(f"effteach.{slug}")
    except ModuleNotFoundError as exc:
        if exc.name != f"effteach.{slug}":
            raise
        pytest.skip(f"no package effteach.{slug}")
    exported = set(getattr(package, "__all__", []))
    clash = redefined_exports(read_notebook(path), exported)
    assert not clash, (
        f"{_id(path)} redefines {clash}, exported by effteach.{slug}: show the "
        "library's version with effteach.show_source instead of a copy"
    )


def test_no_ipynb_is_tracked_in_notebooks():
    try:
        out = subprocess.run(
            ["git", "ls-files", "--", "notebooks"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    tracked = [f for f in out if f.endswith(".ipynb")]
    assert not tracked, (
        f".ipynb files are generated into build/, not committed: {tracked}"
    )


# ------------------------------------------------------ the rules can fail


def _nb(*cells: tuple[str, str]):
    import nbformat

    nb = nbformat.v4.new_notebook()
    for kind, src in cells:
        maker = (
            nbformat.v4.new_code_cell
            if kind == "code"
            else nbformat.v4.new_markdown_cell
        )
        nb.cells.append(maker(src))
    return nb


def test_code_cell_rules_can_fail():
    bad = _nb(
        ("markdown", "Set TRITON_INTERPRET=1 yourself? No: see https://example.org"),
        ("code", "import torch"),
        ("code", "!pip install flash-attn\n%pip install x"),
        ("code", 'url = "https://example.org/data.bin"'),
        ("code", 'open("/work/main/results/gpu/x.json")'),
        ("code", 'import os; os.environ["TRITON_INTERPRET"] = "1"'),
        ("code", "x = " + "1 + " * 22 + "1"),
    )
    problems = code_cell_problems(bad)
    assert len(problems) == 6, problems
    assert "line 1 has 93 columns" in problems[5]
    assert "first code cell" in problems[0]
    assert "installs packages" in problems[1] and "has a URL" in problems[2]
    assert "absolute path" in problems[3] and "TRITON_INTERPRET" in problems[4]
    good = _nb(("code", "import effteach; effteach.setup()"), ("code", "x = 1  # /2"))
    assert code_cell_problems(good) == []


def test_redefinition_rule_can_fail():
    nb = _nb(
        (
            "code",
            "%matplotlib inline\ndef softmax_ref(x):\n    def attention_ref(): ...",
        ),
        ("code", "if True:\n    class Helper: ...\nclass attention_ref: ..."),
    )
    assert defined_names(nb.cells[0].source) == ["softmax_ref"]
    assert redefined_exports(nb, {"softmax_ref", "attention_ref", "Helper"}) == [
        "Helper",
        "attention_ref",
        "softmax_ref",
    ]


def test_leaves_open_rule_can_fail():
    assert LEAVES_OPEN.search("## What the paper leaves OPEN\n")
    assert not LEAVES_OPEN.search("We discuss what the paper leaves open below.")
