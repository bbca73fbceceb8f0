"""Build the HTML book offline: stage, execute the lectures once, add widget JS, build.

Usage (``make book`` runs the first line)::

    python -m effteach.tools.book --out build/book
    python -m effteach.tools.book --out build/book --force   # re-execute every lecture

Steps:

1. **Check and stage.** Every lecture in ``book/_toc.yml`` must exist, and
   ``book/chapters.md`` must mark exactly those chapters "landed". Then ``book/`` is
   mirrored into ``<out>/`` (only files whose content changed are rewritten, so
   Sphinx's incremental build stays incremental).
2. **Assignments**: a toc entry ``notebooks/<slug>/assignment`` is not executed;
   it becomes the *student* version of ``notebooks/<slug>/assignment.md`` (nbgrader's
   ``ClearSolutions``, ``ClearHiddenTests`` and ``ClearOutput``, as
   ``effteach assign`` makes it) with a note on top that links two downloads staged
   beside it: ``<slug>_assignment.ipynb`` and its MyST text ``<slug>_assignment.md``
   (:func:`stage_assignment`).
3. **Execute** every lecture that ``book/_toc.yml`` lists as
   ``notebooks/<slug>/<name>``: the MyST source ``notebooks/<slug>/<name>.md`` is read
   with jupytext and run once with nbclient (kernel ``python3``, 300 s per cell, widget
   state stored, ``EFFTEACH_BOOK=1`` in the kernel's environment so that
   :func:`effteach.viz.panel` shows figure + "Live in JupyterLab" note). The
   kernel's working directory is the **source notebook's folder**,
   ``notebooks/<slug>/``, the same as in JupyterLab, so a relative path in a lecture
   means the same thing in both. The executed copy goes to
   ``<out>/notebooks/<slug>/<name>.ipynb``; beside it, ``<name>.hash.json`` records a
   SHA-256 of the inputs: the lecture text, the library code it can reach (the shared
   ``effteach/*.py`` modules, ``effteach/<slug>/``, every ``effteach.<sub>`` package or
   kernel module the lecture imports, ``results/gpu/<slug>.json``) and the versions of
   the main packages. An unchanged digest skips execution; ``--force`` re-runs all.
   A failing cell stops the build and names the notebook and the cell. Plotly
   figures shown inside ``Output`` widgets get an HTML version
   (:func:`effteach.book.embed_widget_figures`) so the static page can draw them.
4. **Widget JS**: ``npm pack @jupyter-widgets/html-manager@1.0.15 requirejs@2.3.8`` in a
   temporary folder; ``embed-amd.js``, ``require.js`` and the manager's icon fonts go
   to ``<out>/assets/`` (``html_static_path``). Never committed. Without npm, one
   line says that widget outputs will not be drawn, and the build goes on.
5. **Build** with ``jupyter-book build --warningiserror --keep-going <out>`` (the
   executable next to this Python), so an output the book cannot render fails.
   Skipped when a digest of the staged tree, of :mod:`effteach.book` and of the
   Sphinx stack's versions matches the last successful build (``--force`` builds).
6. **Print** the absolute path of ``<out>/_build/html/index.html``.

Exit codes: 0 built, 1 failed (a cell, the build, a missing lecture), 2 bad arguments.

Book: book/howto.md, "Reading the rendered book".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from effteach.book import WIDGET_ASSET_DIR, embed_widget_figures
from effteach.io import atomic_write_bytes

PROG = "effteach.tools.book"
WIDGET_PACKAGES = ("@jupyter-widgets/html-manager@1.0.15", "requirejs@2.3.8")
#: (tarball name prefix, member inside the tarball, file name in <out>/assets/)
WIDGET_FILES = (
    ("jupyter-widgets-html-manager-", "package/dist/embed-amd.js", "embed-amd.js"),
    ("requirejs-", "package/require.js", "require.js"),
)
#: The html-manager's icon fonts, served where effteach-widgets.js points its modules.
WIDGET_FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".eot", ".svg")
WIDGET_FONT_DIR = f"{WIDGET_ASSET_DIR}/html-manager/dist"
#: Where the controls' icon font is looked up too (a Play button asks for it at the
#: root of the widget folder: webpack's public path of @jupyter-widgets/controls).
WIDGET_FONT_DIRS = (WIDGET_FONT_DIR, WIDGET_ASSET_DIR)
KERNEL_NAME = "python3"
#: Set in the executing kernel's environment: effteach.viz.panel then shows a panel's
#: figure and a "Live in JupyterLab" note instead of controls that need Python
#: (``effteach.viz.BOOK_ENV``). Part of the execution digest.
KERNEL_ENV = {"EFFTEACH_BOOK": "1"}
CELL_TIMEOUT_S = 300
#: Top-level modules that no lecture runs; changing them does not re-execute.
NOT_LECTURE_INPUTS = {"book.py", "cli.py", "pytest_plugin.py"}
#: Package versions that go into the execution digest.
DIGEST_PACKAGES = ("torch", "triton", "numpy", "sympy", "plotly", "ipywidgets")
#: Subfolders of <out> that staging neither copies from book/ nor deletes.
KEEP_IN_OUT = {"_build", "assets", "notebooks", "screenshots"}
MANIFEST = ".staged.json"
NOTEBOOK_RE = re.compile(r"^notebooks/(?P<slug>\w+)/(?P<name>[\w\-]+)$")
IMPORT_RE = re.compile(r"\beffteach\.(?P<mod>\w+)(?:\.(?P<sub>\w+))?")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SLUG_CELL_RE = re.compile(r"^`(?P<slug>[a-z0-9_]+)`$")


class BookError(Exception):
    """A failure that stops the build; the message is the one line to print."""


class UsageError(BookError):
    """Bad command-line arguments (exit code 2)."""


# --------------------------------------------------------------------------- helpers


def _say(msg: str) -> None:
    print(f"[book] {msg}", flush=True)


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _default_root() -> Path:
    repo = Path(__file__).resolve().parents[2]
    return repo if (repo / "book" / "_toc.yml").is_file() else Path.cwd()


# --------------------------------------------------------------------------- the toc


def toc_files(toc: dict) -> list[str]:
    """Return every ``file:`` entry of a jb-book ``_toc.yml``, root first, in order.

    Args:
        toc: the parsed ``_toc.yml``.

    Returns:
        Document paths without suffix, e.g.
        ``["intro", "notebooks/foundations/lecture"]``.
    """
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                found.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    if isinstance(toc.get("root"), str):
        found.append(toc["root"])
    walk({k: v for k, v in toc.items() if k != "root"})
    return found


def toc_lectures(toc: dict) -> list[tuple[str, str]]:
    """Return ``(slug, name)`` for each ``notebooks/<slug>/<name>`` entry of the toc."""
    out = []
    for entry in toc_files(toc):
        match = NOTEBOOK_RE.match(entry.removesuffix(".ipynb").removesuffix(".md"))
        if match:
            out.append((match["slug"], match["name"]))
    return out


def chapter_status(chapters_md: str) -> dict[str, str]:
    """Parse the tables of ``book/chapters.md``: ``{slug: "landed" | "planned"}``.

    A row counts when one cell is exactly a backticked slug and the last cell is
    ``landed`` or ``planned``.
    """
    status = {}
    for line in chapters_md.splitlines():
        line = line.strip()
        if not (line.startswith("|") and line.endswith("|")):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        slugs = [m["slug"] for c in cells if (m := SLUG_CELL_RE.match(c))]
        if slugs and cells[-1] in {"landed", "planned"}:
            status[slugs[0]] = cells[-1]
    return status


def check_chapter_page(book_dir: Path, lectures: list[tuple[str, str]]) -> None:
    """Check that ``chapters.md`` marks exactly the chapters in the toc as landed.

    Raises:
        BookError: naming the slug and the file to change.
    """
    page = book_dir / "chapters.md"
    if not page.is_file():
        return
    status = chapter_status(page.read_text(encoding="utf-8"))
    # chapters are the notebooks/<slug>/lecture pages; other notebooks (an
    # appendix such as notebooks/zoo/models) are pages of the book, not chapters
    in_toc = {slug for slug, name in lectures if name == "lecture"}
    for slug in sorted(in_toc):
        if status.get(slug) != "landed":
            raise BookError(
                f"book/chapters.md: chapter {slug!r} is in book/_toc.yml but its row "
                f"says {status.get(slug, 'nothing')!r}; mark it 'landed' and link it "
                f"with {{doc}}`notebooks/{slug}/lecture`"
            )
    for slug, value in sorted(status.items()):
        if value == "landed" and slug not in in_toc:
            raise BookError(
                f"book/chapters.md: chapter {slug!r} is marked 'landed' but is not in "
                "book/_toc.yml; add it to its part there or mark it 'planned'"
            )


# --------------------------------------------------------------------------- staging


def _files_under(folder: Path, skip_top: Iterable[str] = ()) -> Iterator[Path]:
    skip = set(skip_top)
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if rel.parts[0] in skip or any(p.startswith(".") for p in rel.parts):
            continue
        if any(p in {"__pycache__", ".ipynb_checkpoints"} for p in rel.parts):
            continue
        if path.is_file():
            yield path


def sync_file(src: Path, dst: Path) -> bool:
    """Copy ``src`` to ``dst`` atomically unless the contents already match.

    Returns:
        True if ``dst`` was (re)written.
    """
    data = src.read_bytes()
    if dst.is_file() and dst.stat().st_size == len(data) and dst.read_bytes() == data:
        return False
    atomic_write_bytes(dst, data)
    return True


def stage_book(book_dir: Path, out: Path, lectures: list[tuple[str, str]],
               root: Path) -> int:
    """Mirror ``book/`` (and images next to the lectures) into ``out``.

    Files staged by an earlier run whose source is gone are removed (the list lives in
    ``<out>/.staged.json``); ``_build``, ``assets``, executed notebooks and
    screenshots are left alone.

    Returns:
        The number of files written.
    """
    staged: dict[str, Path] = {}
    for src in _files_under(book_dir, skip_top=KEEP_IN_OUT):
        staged[src.relative_to(book_dir).as_posix()] = src
    for slug, _ in lectures:
        folder = root / "notebooks" / slug
        for src in _files_under(folder):
            if src.suffix.lower() in {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}:
                staged[f"notebooks/{slug}/{src.relative_to(folder).as_posix()}"] = src
    written = sum(sync_file(src, out / rel) for rel, src in staged.items())
    manifest = out / MANIFEST
    previous = json.loads(manifest.read_text()) if manifest.is_file() else []
    for rel in sorted(set(previous) - set(staged)):
        (out / rel).unlink(missing_ok=True)
    atomic_write_bytes(manifest, json.dumps(sorted(staged), indent=1).encode())
    (out / "assets").mkdir(parents=True, exist_ok=True)  # html_static_path must exist
    return written


# --------------------------------------------------------------------------- execution


def lecture_inputs(root: Path, slug: str, text: str) -> list[Path]:
    """Return the files whose content decides a lecture's outputs.

    Args:
        root: the repository root.
        slug: the chapter slug.
        text: the lecture's MyST source.

    Returns:
        Existing files, sorted: shared ``effteach/*.py`` modules, the chapter's
        package, packages and kernel modules the lecture imports, ``fpga_sim/`` if it
        is imported, checkpoints named in the text, and ``results/{gpu,cpu}/<mod>.json``
        of each of those packages. For the ledger page (slug ``claims``) the sources
        of ``effteach/claims/`` count as its text: their checks reach every chapter.
    """
    pkg = root / "effteach"
    files = {p for p in pkg.glob("*.py") if p.name not in NOT_LECTURE_INPUTS}
    if slug == "claims":  # the ledger page runs the checks of every chapter
        text += "".join(p.read_text(encoding="utf-8")
                        for p in sorted((pkg / "claims").glob("*.py")))
    modules = {slug}
    kernels = {slug}
    for match in IMPORT_RE.finditer(text):
        if match["mod"] == "kernels" and match["sub"]:
            kernels.add(match["sub"])
        elif match["mod"] == "fpga_sim":
            files.update((root / "fpga_sim").rglob("*.py"))
        else:
            modules.add(match["mod"])
    for mod in modules - {"tools", "kernels", "fpga_sim"}:
        if (pkg / mod).is_dir():
            files.update((pkg / mod).rglob("*.py"))
    files.update(p for k in kernels if (p := root / "kernels" / f"{k}.py").is_file())
    for ckpt in (pkg / "checkpoints").glob("*"):
        if ckpt.is_file() and ckpt.stem in text:
            files.add(ckpt)
    files.update(root / "results" / kind / f"{mod}.json"
                 for mod in modules for kind in ("gpu", "cpu"))
    return sorted(p for p in files if p.is_file() and "__pycache__" not in p.parts)


def inputs_digest(root: Path, source: Path, slug: str) -> tuple[str, list[str]]:
    """SHA-256 over a lecture, the code it reaches and the main package versions.

    Returns:
        ``(hex digest, list of input paths relative to root)``.
    """
    from importlib.metadata import PackageNotFoundError, version

    text = source.read_text(encoding="utf-8")
    inputs = [source] + [p for p in lecture_inputs(root, slug, text) if p != source]
    h = hashlib.sha256()
    for path in inputs:
        h.update(_rel(path, root).encode() + b"\0" + path.read_bytes() + b"\0")
    for dist in DIGEST_PACKAGES:
        try:
            h.update(f"{dist}=={version(dist)}\0".encode())
        except PackageNotFoundError:
            h.update(f"{dist}==none\0".encode())
    h.update(sys.version.encode())
    h.update(json.dumps(KERNEL_ENV, sort_keys=True).encode())
    return h.hexdigest(), [_rel(p, root) for p in inputs]


def _failing_cell(nb: object) -> tuple[int, str] | None:
    """Return (1-based code-cell number, first source line) of the erroring cell."""
    number = 0
    for cell in nb.cells:  # type: ignore[attr-defined]
        if cell.cell_type != "code":
            continue
        number += 1
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                return number, first.strip()
    return None


def prepare_for_book(target: Path) -> bool:
    """Re-apply the book's post-processing to an executed notebook, if it changed.

    Today that is :func:`effteach.book.embed_widget_figures`. Runs on every build
    (the executed copy may predate a change to it) and rewrites the file only when
    the result differs, so Sphinx re-reads the page only then.

    Returns:
        True if the file was rewritten.
    """
    import nbformat

    text = target.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    embed_widget_figures(nb)
    new = nbformat.writes(nb)
    if new == text:
        return False
    atomic_write_bytes(target, new.encode("utf-8"))
    return True


def execute_lecture(root: Path, out: Path, slug: str, name: str, force: bool) -> float:
    """Execute one lecture into ``<out>/notebooks/<slug>/<name>.ipynb`` if needed.

    Args:
        root: the repository root.
        out: the staged book folder.
        slug: the chapter slug.
        name: the notebook name (``lecture``).
        force: re-execute even when the inputs are unchanged.

    Returns:
        Execution wall time in seconds (0.0 when skipped).

    Raises:
        BookError: the source is missing or a cell failed.
    """
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import (
        CellExecutionError,
        CellTimeoutError,
        DeadKernelError,
    )

    source = root / "notebooks" / slug / f"{name}.md"
    label = _rel(source, root)
    if not source.is_file():
        raise BookError(
            f"book/_toc.yml lists notebooks/{slug}/{name} but {label} does not exist"
        )
    target = out / "notebooks" / slug / f"{name}.ipynb"
    stamp = target.with_name(f"{name}.hash.json")
    digest, inputs = inputs_digest(root, source, slug)
    if not force and target.is_file() and stamp.is_file():
        try:
            recorded = json.loads(stamp.read_text())
        except json.JSONDecodeError:
            recorded = {}
        if recorded.get("sha256") == digest:
            _say(f"{label}: unchanged, not re-executed (last run took "
                 f"{recorded.get('seconds', 0):.1f} s)")
            prepare_for_book(target)
            return 0.0

    nb = jupytext.read(source, fmt="md:myst")
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(source.parent)}},
        store_widget_state=True,
    )
    _say(f"{label}: executing ...")
    start = time.perf_counter()
    try:
        client.execute(env={**os.environ, **KERNEL_ENV})
    except CellExecutionError as err:
        where = _failing_cell(nb)
        cell = f"code cell {where[0]} (`{where[1]}`)" if where else "a cell"
        text = ANSI_RE.sub("", str(err)).strip()
        last = text.splitlines()[-1] if text else repr(err)
        raise BookError(f"{label}: {cell} failed: {last}") from err
    except CellTimeoutError as err:
        raise BookError(f"{label}: a cell ran longer than {CELL_TIMEOUT_S} s") from err
    except DeadKernelError as err:
        raise BookError(f"{label}: the kernel died ({err})") from err
    seconds = time.perf_counter() - start
    atomic_write_bytes(target, nbformat.writes(nb).encode("utf-8"))
    prepare_for_book(target)  # the same text a later, skipping run will produce
    record = {"source": label, "sha256": digest, "seconds": round(seconds, 2),
              "cwd": _rel(source.parent, root), "inputs": inputs}
    atomic_write_bytes(stamp, (json.dumps(record, indent=1) + "\n").encode())
    _say(f"{label}: executed in {seconds:.1f} s")
    return seconds


# ------------------------------------------------------------------------ assignments

#: The toc name of a chapter's assignment page (``notebooks/<slug>/assignment``).
ASSIGNMENT_NAME = "assignment"

_ASSIGNMENT_NOTE = """\
:::{{note}}
**This is the student version** of the chapter's graded assignment: the questions and
the code to complete, with no solutions and no hidden tests. Work on it in JupyterLab
(`make lab`): download {{download}}`the notebook <{stem}.ipynb>` or
{{download}}`its MyST text <{stem}.md>` (opens as a notebook through jupytext), or make
your own copy with `effteach assign {slug}`. The chapter it belongs to:
{{doc}}`lecture`. Every graded cell calls `check(...)`, which runs the visible tests
offline and prints one line when an answer passes; written answers are graded by
hand. Teachers: {{doc}}`/howto`, "Teaching with the assignments", walks through a
whole nbgrader course.
:::
"""


def _write_if_changed(dst: Path, data: bytes) -> bool:
    if dst.is_file() and dst.read_bytes() == data:
        return False
    atomic_write_bytes(dst, data)
    return True


def stage_assignment(root: Path, out: Path, slug: str) -> int:
    """Stage the student version of a chapter's assignment as a page and downloads.

    Writes ``<out>/notebooks/<slug>/assignment.ipynb`` (the page: the student
    notebook with a note linking the downloads), ``<slug>_assignment.ipynb`` (the
    student notebook as handed out) and ``<slug>_assignment.md`` (the same as a MyST
    text notebook). Only files whose content changed are rewritten.

    Args:
        root: the repository root.
        out: the staged book folder.
        slug: a chapter with ``notebooks/<slug>/assignment.md``.

    Returns:
        The number of files written.

    Raises:
        BookError: the assignment is missing or nbgrader rejects it.
    """
    import copy

    import jupytext
    import nbformat

    from effteach.tools.assign import AssignmentError, prepare
    from effteach.tools.notebooks import notebook_json

    try:
        _solution, student = prepare(slug, root)
    except AssignmentError as err:
        raise BookError(f"notebooks/{slug}/assignment.md: {err}") from err
    stem = f"{slug}_assignment"
    page = copy.deepcopy(student)
    # never executed, so no kernel filled this in; the page's code needs its lexer
    page.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    note = nbformat.v4.new_markdown_cell(_ASSIGNMENT_NOTE.format(stem=stem, slug=slug))
    note.id = "effteach-assignment-note"  # fixed, so an unchanged page is not rewritten
    note.metadata["tags"] = ["effteach-assignment-note"]
    first_heading = next(
        (i for i, c in enumerate(page.cells)
         if c.cell_type == "markdown" and c.source.lstrip().startswith("# ")),
        None,
    )
    page.cells.insert(0 if first_heading is None else first_heading + 1, note)
    folder = out / "notebooks" / slug
    files = {
        folder / f"{ASSIGNMENT_NAME}.ipynb": notebook_json(page),
        folder / f"{stem}.ipynb": notebook_json(student),
        folder / f"{stem}.md": jupytext.writes(student, fmt="md:myst"),
    }
    return sum(_write_if_changed(p, t.encode("utf-8")) for p, t in files.items())


# --------------------------------------------------------------------------- widgets


def _extract_widget_files(tmp: Path, assets: Path) -> str | None:
    """Copy the wanted members of the packed tarballs; return an error or None."""
    for prefix, member, fname in WIDGET_FILES:
        tarballs = sorted(tmp.glob(f"{prefix}*.tgz"))
        if not tarballs:
            return f"npm pack wrote no {prefix}*.tgz"
        with tarfile.open(tarballs[0]) as tar:
            try:
                fh = tar.extractfile(member)
            except KeyError:
                fh = None
            if fh is None:
                return f"{tarballs[0].name} has no {member}"
            atomic_write_bytes(assets / fname, fh.read())
            if fname != "embed-amd.js":
                continue
            for info in tar.getmembers():  # icon fonts next to embed-amd.js
                name = info.name
                if (info.isfile() and name.startswith("package/dist/")
                        and "/" not in name.removeprefix("package/dist/")
                        and name.endswith(WIDGET_FONT_SUFFIXES)):
                    data = tar.extractfile(info).read()  # type: ignore[union-attr]
                    for folder in WIDGET_FONT_DIRS:
                        atomic_write_bytes(assets / folder / Path(name).name, data)
    return None


def fetch_widget_js(assets: Path) -> bool:
    """Put ``embed-amd.js``, ``require.js`` and the widget fonts into ``assets``.

    The files come from ``npm pack`` of the pinned packages, in a temporary folder.

    Returns:
        True if the files are there afterwards; False (after printing one line)
        when npm is missing or fails: the book still builds, without drawn widgets.
    """
    wanted = [assets / fname for _, _, fname in WIDGET_FILES]
    fonts = [assets / folder for folder in WIDGET_FONT_DIRS]
    if all(p.is_file() and p.stat().st_size > 0 for p in wanted) and all(
        f.is_dir() and any(x.suffix in WIDGET_FONT_SUFFIXES for x in f.iterdir())
        for f in fonts
    ):
        return True
    fallback = "widget outputs will not be drawn in the book (everything else will)"
    npm = shutil.which("npm")
    if npm is None:
        _say(f"npm not found: {fallback} (no require.js/embed-amd.js in {assets})")
        return False
    with tempfile.TemporaryDirectory(prefix="effteach-npm-") as tmp:
        try:
            proc = subprocess.run(
                [npm, "pack", "--ignore-scripts", *WIDGET_PACKAGES],
                cwd=tmp, capture_output=True, text=True, timeout=300, check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            _say(f"npm pack failed ({err}): {fallback}")
            return False
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            _say(f"npm pack failed ({tail}): {fallback}")
            return False
        error = _extract_widget_files(Path(tmp), assets)
        if error:
            _say(f"{error}: {fallback}")
            return False
    _say(f"widget JS from npm: {', '.join(WIDGET_PACKAGES)} -> {assets}")
    return True


# --------------------------------------------------------------------------- build


def jupyter_book_executable() -> Path:
    """Return the ``jupyter-book`` next to this Python (the venv's), or on PATH.

    Raises:
        BookError: if neither exists.
    """
    here = Path(sys.executable).parent / "jupyter-book"
    if here.is_file():
        return here
    found = shutil.which("jupyter-book")
    if found:
        return Path(found)
    raise BookError(f"jupyter-book not found next to {sys.executable} or on PATH; "
                    "install the book extra: pip install -e '.[book]'")


def run_jupyter_book(out: Path) -> float:
    """Run ``jupyter-book build --warningiserror --keep-going <out>``.

    Returns:
        Wall time in seconds.

    Raises:
        BookError: if the build fails.
    """
    cmd = [str(jupyter_book_executable()), "build", "--warningiserror", "--keep-going",
           str(out)]
    _say("$ " + " ".join(cmd))
    start = time.perf_counter()
    proc = subprocess.run(cmd, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise BookError(f"jupyter-book build failed (exit {proc.returncode}) after "
                        f"{seconds:.1f} s; the warnings above say where")
    _say(f"jupyter-book build: {seconds:.1f} s")
    return seconds


#: Distributions whose versions decide the HTML (with effteach.book's own source).
BUILD_PACKAGES = ("jupyter-book", "sphinx", "myst-nb", "myst-parser",
                  "sphinx-book-theme", "sphinxcontrib-bibtex", "sphinx-proof",
                  "sphinx-exercise", "sphinx-mathjax-offline", "plotly")
BUILD_STAMP = ".effteach-build.json"


def site_digest(out: Path) -> str:
    """SHA-256 over everything the HTML is made from.

    That is every file of the staged tree except ``_build/`` and ``screenshots/``
    (pages, executed notebooks, assets), the source of :mod:`effteach.book` and the
    versions of the Sphinx stack.
    """
    from importlib.metadata import PackageNotFoundError, version

    import effteach.book

    h = hashlib.sha256()
    for path in _files_under(out, skip_top={"_build", "screenshots"}):
        h.update(path.relative_to(out).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    h.update(Path(effteach.book.__file__).read_bytes())
    for dist in BUILD_PACKAGES:
        try:
            h.update(f"{dist}=={version(dist)}\0".encode())
        except PackageNotFoundError:
            h.update(f"{dist}==none\0".encode())
    return h.hexdigest()


def html_is_current(out: Path, digest: str) -> bool:
    """True when the last successful build recorded ``digest`` and its HTML exists."""
    stamp = out / "_build" / BUILD_STAMP
    if not (out / "_build" / "html" / "index.html").is_file() or not stamp.is_file():
        return False
    try:
        return json.loads(stamp.read_text()).get("sha256") == digest
    except json.JSONDecodeError:
        return False


# --------------------------------------------------------------------------- main


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog=f"python -m {PROG}",
        description="Execute the lectures once and build the HTML book offline.",
    )
    ap.add_argument("--out", default="build/book", type=Path,
                    help="staging and build folder (default: build/book)")
    ap.add_argument("--root", default=None, type=Path,
                    help="repository root holding book/ and notebooks/ "
                         "(default: this checkout)")
    ap.add_argument("--force", action="store_true",
                    help="re-execute every lecture and rebuild the HTML even if "
                         "nothing changed")
    return ap.parse_args(argv)


def _check_paths(root: Path, out: Path) -> None:
    if not (root / "book" / "_toc.yml").is_file():
        raise UsageError(f"--root: {root} has no book/_toc.yml")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} exists and is not a folder")
    book_dir = (root / "book").resolve()
    if out == root.resolve() or out == book_dir or book_dir in out.parents:
        raise UsageError(f"--out: {out} must not be the repository root or in book/")
    if out in root.resolve().parents:
        raise UsageError(f"--out: {out} contains the repository; pick a build folder")


def build(root: Path, out: Path, force: bool = False) -> Path:
    """Stage, execute, fetch widget JS and build; return the path of index.html.

    Args:
        root: repository root (holds ``book/`` and ``notebooks/``).
        out: staging and build folder, e.g. ``build/book``.
        force: re-execute every lecture.

    Raises:
        UsageError: bad ``root`` or ``out``.
        BookError: anything that stops the build.
    """
    import yaml

    root, out = root.resolve(), out.resolve()
    _check_paths(root, out)
    book_dir = root / "book"
    try:
        toc = yaml.safe_load((book_dir / "_toc.yml").read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise BookError(f"book/_toc.yml: not valid YAML ({err})") from err
    if not isinstance(toc, dict):
        raise BookError("book/_toc.yml: expected a mapping with 'format' and 'root'")
    lectures = toc_lectures(toc)
    check_chapter_page(book_dir, lectures)
    for slug, name in lectures:  # fail before any slow step
        if not (root / "notebooks" / slug / f"{name}.md").is_file():
            raise BookError(f"book/_toc.yml lists notebooks/{slug}/{name} but "
                            f"notebooks/{slug}/{name}.md does not exist")

    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    written = stage_book(book_dir, out, lectures, root)
    _say(f"staged book/ into {out} ({written} file(s) changed)")
    executed = [execute_lecture(root, out, s, n, force)
                for s, n in lectures if n != ASSIGNMENT_NAME]
    pages = sum(stage_assignment(root, out, s)
                for s, n in lectures if n == ASSIGNMENT_NAME)
    _say(f"assignment pages: {sum(n == ASSIGNMENT_NAME for _, n in lectures)} "
         f"student version(s) staged ({pages} file(s) changed)")
    fetch_widget_js(out / "assets")
    digest = site_digest(out)
    index = out / "_build" / "html" / "index.html"
    if not force and html_is_current(out, digest):
        _say("HTML is up to date with its sources; jupyter-book not run")
    else:
        (out / "_build" / BUILD_STAMP).unlink(missing_ok=True)
        run_jupyter_book(out)
        if not index.is_file():
            raise BookError(f"the build finished but {index} is missing")
        atomic_write_bytes(out / "_build" / BUILD_STAMP,
                           json.dumps({"sha256": digest}).encode())
    _say(f"done in {time.perf_counter() - t0:.1f} s "
         f"({sum(1 for s in executed if s)} lecture(s) executed, "
         f"{sum(executed):.1f} s in kernels)")
    return index


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code (0, 1 or 2)."""
    args = _parse(argv)
    root = (args.root or _default_root()).resolve()
    try:
        index = build(root, args.out.expanduser().resolve(), force=args.force)
    except UsageError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except BookError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    print(index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
