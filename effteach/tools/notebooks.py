"""Convert the MyST text notebooks to ``.ipynb`` for nbval and the assignment tools.

Usage (``make test`` runs the first line)::

    python -m effteach.tools.notebooks --out build/ipynb            # every chapter
    python -m effteach.tools.notebooks --out build/ipynb foundations

Every ``notebooks/<slug>/<name>.md`` becomes ``<out>/<slug>/<name>.ipynb``, read with
jupytext in-process (the jupytext command costs about 1.5 s a file). Cell ids are
derived from the cell's position and text, so converting an unchanged notebook gives
the same bytes: such files are not rewritten (their modification time stays), and
every file that is written goes through a temporary file and ``os.replace``, so nbval
never sees half a notebook. When every chapter is converted, ``.ipynb`` files in
``<out>/<slug>/`` whose source is gone are removed, so nbval does not run stale copies.

A notebook's header must name both the extension and the format (STYLE.md, section 4):
without ``extension: .md`` jupytext reads the file as plain Markdown with no code
cells, and nbval would then collect nothing. :func:`read_notebook` refuses such files.

Exit codes: 0 converted (or unchanged), 1 a notebook could not be read, 2 bad arguments
(an unknown chapter slug).

Book: book/howto.md, "Running the notebooks".
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from effteach.io import atomic_write_text

PROG = "effteach.tools.notebooks"
NOTEBOOKS_DIR = "notebooks"
HEADER_HINT = (
    "the header must contain 'jupytext: text_representation: "
    "{extension: .md, format_name: myst}'"
)


class NotebookFormatError(ValueError):
    """A notebook file that jupytext would not read as a MyST notebook."""


class UnknownSlugError(ValueError):
    """A chapter slug with no ``notebooks/<slug>/`` folder of notebooks."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit code 2."""

    def error(self, message: str):  # noqa: D102
        self.exit(2, f"{self.prog}: {message}\n")


def repo_root() -> Path:
    """Return the repository root: the folder that holds ``notebooks/``.

    The package's parent folder when it has ``notebooks/`` (a source checkout or an
    editable install), otherwise the current directory when it has one.

    Raises:
        FileNotFoundError: if neither place has a ``notebooks/`` folder.
    """
    here = Path(__file__).resolve().parents[2]
    for candidate in (here, Path.cwd()):
        if (candidate / NOTEBOOKS_DIR).is_dir():
            return candidate
    raise FileNotFoundError(
        f"no {NOTEBOOKS_DIR}/ folder in {here} or {Path.cwd()}; run from the "
        "repository root"
    )


def chapter_slugs(root: Path | None = None) -> list[str]:
    """Return the slugs of ``notebooks/<slug>/`` folders that hold ``.md`` files."""
    base = Path(root or repo_root()) / NOTEBOOKS_DIR
    if not base.is_dir():
        return []
    return sorted(d.name for d in base.iterdir() if d.is_dir() and any(d.glob("*.md")))


def notebook_paths(
    slugs: Iterable[str] | None = None, root: Path | None = None
) -> list[Path]:
    """Return the MyST notebooks ``notebooks/<slug>/*.md``, sorted.

    Args:
        slugs: chapter slugs to include; None for every chapter.
        root: the repository root; :func:`repo_root` when None.

    Returns:
        Absolute paths, sorted by slug, then name.

    Raises:
        UnknownSlugError: for a slug without a ``notebooks/<slug>/`` folder of
            ``.md`` files, naming the known slugs.
    """
    root = Path(root or repo_root()).resolve()
    known = chapter_slugs(root)
    if slugs is None:
        chosen = known
    else:
        chosen = list(dict.fromkeys(slugs))  # keep order, drop repeats
        for slug in chosen:
            if slug not in known:
                choices = ", ".join(known) or f"none under {root / NOTEBOOKS_DIR}"
                raise UnknownSlugError(
                    f"slug: unknown chapter {slug!r}; expected one of: {choices}"
                )
    base = root / NOTEBOOKS_DIR
    return [p for slug in chosen for p in sorted((base / slug).glob("*.md"))]


def _front_matter(text: str) -> dict | None:
    """Return the YAML front matter of a Markdown file, or None if it has none."""
    import yaml

    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            try:
                data = yaml.safe_load("\n".join(lines[1:i]))
            except yaml.YAMLError:
                return None
            return data if isinstance(data, dict) else None
    return None


def _stable_ids(nb, path: Path) -> None:
    """Give every cell an id derived from its position and text (deterministic)."""
    for i, cell in enumerate(nb.cells):
        digest = hashlib.sha1(f"{path.stem}:{i}:{cell.source}".encode()).hexdigest()
        cell["id"] = digest[:12]


def read_notebook(path: str | os.PathLike):
    """Read a MyST Markdown notebook with jupytext.

    Args:
        path: a ``.md`` file with the jupytext MyST header.

    Returns:
        An ``nbformat`` v4 notebook (no outputs), with deterministic cell ids.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        NotebookFormatError: if the header lacks ``extension: .md`` or
            ``format_name: myst``, or jupytext finds no code cell.
    """
    import jupytext

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no such notebook file: {path}")
    text = path.read_text(encoding="utf-8")
    header = _front_matter(text) or {}
    rep = (header.get("jupytext") or {}).get("text_representation") or {}
    if not isinstance(rep, dict):
        rep = {}
    found = {k: rep.get(k) for k in ("extension", "format_name")}
    if found != {"extension": ".md", "format_name": "myst"}:
        raise NotebookFormatError(
            f"{path}: not a MyST notebook: {HEADER_HINT} (found extension="
            f"{found['extension']!r}, format_name={found['format_name']!r}); "
            "without it jupytext reads the file as plain Markdown with no code cells"
        )
    nb = jupytext.read(path)
    if not any(c.cell_type == "code" for c in nb.cells):
        raise NotebookFormatError(
            f"{path}: jupytext found no code cell; code cells are "
            "'```{code-cell} ipython3' blocks, and " + HEADER_HINT
        )
    _stable_ids(nb, path)
    return nb


def notebook_json(nb) -> str:
    """Return the ``.ipynb`` text of a notebook (jupytext's ipynb writer)."""
    import jupytext

    return jupytext.writes(nb, fmt="ipynb")


def write_text_atomic(path: str | os.PathLike, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that text.

    The text goes to a temporary file in the same folder, which is then renamed over
    ``path`` (``os.replace``), so readers see the old file or the new one, never half.

    Args:
        path: the file to write; missing parent folders are created.
        text: the full new content.

    Returns:
        True if the file was written, False if it was unchanged.
    """
    path = Path(path)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    atomic_write_text(path, text)
    return True


def convert(
    out: str | os.PathLike,
    slugs: Iterable[str] | None = None,
    root: Path | None = None,
) -> dict[str, list[Path]]:
    """Convert notebooks to ``<out>/<slug>/<name>.ipynb``.

    Args:
        out: the output folder, e.g. ``build/ipynb``.
        slugs: chapters to convert; None for all (then stale ``.ipynb`` files in
            ``<out>/<slug>/`` are removed too).
        root: the repository root; :func:`repo_root` when None.

    Returns:
        ``{"written": [...], "unchanged": [...], "removed": [...]}`` output paths.

    Raises:
        UnknownSlugError: for an unknown slug (nothing is written).
        NotebookFormatError: for a notebook jupytext cannot read as MyST.
    """
    root = Path(root or repo_root()).resolve()
    out = Path(out)
    paths = notebook_paths(slugs, root)
    done: dict[str, list[Path]] = {"written": [], "unchanged": [], "removed": []}
    targets = set()
    for src in paths:
        target = out / src.parent.name / f"{src.stem}.ipynb"
        targets.add(target.resolve())
        changed = write_text_atomic(target, notebook_json(read_notebook(src)))
        done["written" if changed else "unchanged"].append(target)
    if slugs is None and out.is_dir():
        for stale in sorted(out.glob("*/*.ipynb")):
            if stale.resolve() not in targets:
                stale.unlink()
                done["removed"].append(stale)
    return done


def main(argv: list[str] | None = None) -> int:
    """Command line: convert notebooks; see the module docstring for exit codes."""
    ap = OneLineParser(prog=PROG, description=__doc__.split("\n")[0])
    ap.add_argument("slugs", nargs="*", metavar="slug", help="chapters (default: all)")
    ap.add_argument("--out", default="build/ipynb", help="output folder")
    ap.add_argument("--root", default=None, help="repository root (default: this one)")
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): return, not exit
        return exc.code if isinstance(exc.code, int) else 2
    try:
        root = Path(args.root) if args.root else repo_root()
        done = convert(args.out, args.slugs or None, root)
    except (UnknownSlugError, FileNotFoundError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except NotebookFormatError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    for status in ("written", "removed"):
        for p in done[status]:
            print(f"{status:9} {p}")
    print(
        f"{PROG}: {len(done['written'])} written, {len(done['unchanged'])} unchanged, "
        f"{len(done['removed'])} removed"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
