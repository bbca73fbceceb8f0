"""Source listings for notebooks: folded, highlighted, optionally without the checks.

:func:`effteach.show_source` shows the library's own code rather than a copy. A
listing is folded by default: an HTML ``<details>`` block whose summary is the
signature and the first paragraph of the docstring, with the rest (docstring and
body) one click away, so a long function costs one line of the page until a reader
asks for it. With ``checks=False`` the argument validation at the top of a function
body (``if ...: raise ...`` guards and ``_check*(...)`` calls, found with :mod:`ast`)
is replaced by one comment saying how many lines were left out.

Highlighting is pygments with inline styles: the same in JupyterLab and in the book,
with no stylesheet and no network.

Book: book/howto.md, "Reading the rendered book".
"""

from __future__ import annotations

import ast
import html
import inspect
import re
import textwrap
from dataclasses import dataclass

from effteach.checks import typed

#: The pygments style of listings (the book theme's light style, else pygments').
STYLES = ("a11y-high-contrast-light", "default")
#: CSS class of the ``<details>`` block (the browser test knows folded outputs by it).
FOLD_CLASS = "effteach-source"


@typed
@dataclass(frozen=True)
class Listing:
    """The parts of one object's source.

    Attributes:
        name: the object's qualified name.
        header: decorators and signature (``def f(...):``), or a class/module line.
        summary: the first paragraph of the docstring ("" if none).
        body: everything after the header: docstring and code, checks omitted if
            asked.
        omitted: how many source lines of argument checks were left out.
    """

    name: str
    header: str
    summary: str
    body: str
    omitted: int = 0

    @property
    def text(self) -> str:
        """The whole listing as plain text."""
        return self.header + self.body


def _is_check_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return name.startswith(("_check", "check_"))


def _is_guard(stmt: ast.stmt) -> bool:
    """``if ...: [...] raise ...`` (elif chains too), or a ``_check*(...)`` call."""
    if isinstance(stmt, ast.If):
        if not stmt.body or not isinstance(stmt.body[-1], ast.Raise):
            return False
        return all(_is_guard(s) for s in stmt.orelse)
    if isinstance(stmt, ast.Expr):
        return _is_check_call(stmt.value)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
        return stmt.value is not None and _is_check_call(stmt.value)
    return False


def _function_node(src: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    tree = ast.parse(src)
    if tree.body and isinstance(tree.body[0], (ast.FunctionDef, ast.AsyncFunctionDef)):
        return tree.body[0]
    return None


def _drop_checks(lines: list[str], fn: ast.FunctionDef | ast.AsyncFunctionDef,
                 name: str) -> tuple[list[str], int]:
    """Replace the leading guard statements of ``fn`` by one comment line.

    Leading means: after the docstring, before the first statement that is neither a
    guard nor an import (imports are kept). Blank and comment lines between two
    guards go with them. A body made only of checks is left as it is.
    """
    body = list(fn.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(
            getattr(body[0], "value", None), ast.Constant) and isinstance(
            body[0].value.value, str):
        body = body[1:]  # the docstring
    guards, rest = [], 0
    for stmt in body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        if not _is_guard(stmt):
            break
        guards.append(stmt)
    rest = len([s for s in body if not isinstance(s, (ast.Import, ast.ImportFrom))])
    if not guards or len(guards) == rest:
        return lines, 0
    drop: set[int] = set()  # 0-based line indices
    for a, b in zip(guards, guards[1:] + [None], strict=True):
        end = a.end_lineno or a.lineno
        drop.update(range(a.lineno - 1, end))
        if b is not None:  # blank or comment lines up to the next guard
            between = range(end, b.lineno - 1)
            if all(not lines[i].strip() or lines[i].lstrip().startswith("#")
                   for i in between):
                drop.update(between)
    first = guards[0].lineno - 1
    indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
    n = len(drop)
    if n < 2:  # a comment in place of one line saves nothing
        return lines, 0
    note = (f"{indent}# ... {n} line{'s' if n != 1 else ''} of argument checks "
            f"omitted (show_source({name}) shows them)\n")
    kept = [ln if i != first else note for i, ln in enumerate(lines)
            if i == first or i not in drop]
    return kept, n


def listing(obj: object, checks: bool = True) -> Listing:
    """Split the source of ``obj`` into header, docstring summary and body.

    Args:
        obj: a function, method, class or module with Python source.
        checks: False to leave out the argument checks at the top of a function's
            body (functions and methods only).

    Returns:
        A :class:`Listing`.

    Raises:
        TypeError: if ``obj`` has no Python source, ``checks`` is not a bool, or
            ``checks=False`` is asked for something that is not a function.
    """
    if not isinstance(checks, bool):
        raise TypeError(f"checks: expected True or False, got {checks!r}")
    try:
        src = inspect.getsource(obj)
    except (TypeError, OSError) as exc:
        raise TypeError(
            f"obj: expected a function, class or module with Python source, got "
            f"{obj!r}"
        ) from exc
    src = textwrap.dedent(src)
    if not src.endswith("\n"):
        src += "\n"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", repr(obj))
    doc = inspect.getdoc(obj) or ""
    summary = doc.strip().split("\n\n")[0].strip() if doc.strip() else ""
    lines = src.splitlines(keepends=True)
    omitted = 0
    if inspect.ismodule(obj):
        if not checks:
            raise TypeError(f"checks: checks=False needs a function, got module {name}")
        return Listing(name, f"# module {obj.__name__}\n", summary, src)
    fn = _function_node(src)
    if fn is None:
        if not checks:
            raise TypeError(f"checks: checks=False needs a function or method, got "
                            f"{type(obj).__name__} {name}")
        tree = ast.parse(src)
        node = tree.body[0]
        start = node.body[0].lineno if getattr(node, "body", None) else 1
        return Listing(name, "".join(lines[: start - 1]), summary,
                       "".join(lines[start - 1:]))
    if not checks:
        lines, omitted = _drop_checks(lines, fn, name.split(".")[-1])
    start = fn.body[0].lineno  # the first body statement (docstring or code)
    return Listing(name, "".join(lines[: start - 1]), summary,
                   "".join(lines[start - 1:]), omitted)


def _style() -> str:
    from pygments.styles import get_style_by_name
    from pygments.util import ClassNotFound

    for style in STYLES:
        try:
            get_style_by_name(style)
            return style
        except ClassNotFound:
            continue
    return "default"  # pragma: no cover - pygments always has it


@typed
def highlight_html(code: str) -> str:
    """Python ``code`` as highlighted HTML with inline styles (no stylesheet)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer

    fmt = HtmlFormatter(noclasses=True, style=_style(), nobackground=True,
                        prestyles="margin:0;overflow-x:auto;line-height:125%")
    return highlight(code, PythonLexer(), fmt)


@typed
def listing_bundle(item: Listing, folded: bool = True) -> dict[str, str]:
    """A display bundle: ``<details>`` HTML (folded unless asked) and plain text."""
    n_body = item.body.count("\n")
    omitted = (f", {item.omitted} lines of checks left out" if item.omitted else "")
    doc = re.sub(r"``(.+?)``", r"<code>\1</code>", html.escape(item.summary))
    summary = (f'<div style="margin:.2em 0 0 1.2em;color:#555;font-size:.9em;'
               f'white-space:pre-wrap">{doc}</div>' if item.summary else "")
    body = highlight_html(item.body) if item.body.strip() else ""
    out = (
        f'<details class="{FOLD_CLASS} tex2jax_ignore mathjax_ignore"'
        f'{"" if folded else " open"} style="margin:.3em 0;border:1px solid #e0e0e0;'
        f'border-radius:4px;padding:.3em .5em">'
        f'<summary style="cursor:pointer"><span style="color:#555;font-size:.85em">'
        f"source of <code>{html.escape(item.name)}</code> (click to show "
        f"{n_body} more lines{omitted})</span>"
        f"{highlight_html(item.header)}{summary}</summary>"
        f"{body}</details>"
    )
    return {"text/html": out, "text/plain": item.text}
