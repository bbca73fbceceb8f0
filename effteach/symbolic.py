r"""SymPy helpers: assert an identity, compare a formula with an implementation, show.

Every derivation in the book ends in one of the first two calls, so a wrong formula
or a wrong implementation stops the notebook with a readable message::

    assert_identity(sp.exp(a) * sp.exp(b), sp.exp(a + b), "exp is a homomorphism")
    assert_matches(expr, [x, y], impl, samples={"x": (-2, 2), "y": (0.1, 3)})

A symbolic result the reader should see goes through :func:`show`, which typesets it
(LaTeX, drawn by MathJax in the book and by JupyterLab), never as a raw ``repr``::

    show(sp.factor(gap), label=r"\langle u, v\rangle - (L - 2\,\mathrm{Ham})")
    show({"large": f_large, "small": f_small})   # one aligned line per entry

Book: notebooks/foundations/lecture.md, "Derivations".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import sympy as sp

from effteach.checks import check_float, check_int, typed


class IdentityError(AssertionError):
    """A symbolic identity or a numerical comparison did not hold."""


def _symbolic(name: str, value) -> None:
    """Refuse what is no SymPy expression, Matrix or number (None, a str, ...)."""
    if value is None or isinstance(value, (str, bytes)) or not isinstance(
            value, (sp.Basic, sp.MatrixBase, int, float, np.number)):
        raise TypeError(
            f"{name}: expected a SymPy expression, Matrix or number, got "
            f"{type(value).__name__}"
        )


@typed
def assert_identity(lhs, rhs, name: str = "identity") -> None:
    """Assert that ``lhs == rhs`` symbolically (works for scalars and matrices).

    Args:
        lhs: a SymPy expression or Matrix.
        rhs: a SymPy expression or Matrix of the same shape.
        name: what the identity is, used in the failure message.

    Raises:
        IdentityError: naming the identity and the non-zero simplified difference
            (for matrices, the first entry that differs).
        TypeError: naming ``lhs`` or ``rhs`` if it is not symbolic.
    """
    _symbolic("lhs", lhs)
    _symbolic("rhs", rhs)
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    if isinstance(lhs, sp.MatrixBase) or isinstance(rhs, sp.MatrixBase):
        if getattr(lhs, "shape", None) != getattr(rhs, "shape", None):
            raise IdentityError(
                f"{name}: shapes differ: {getattr(lhs, 'shape', 'scalar')} vs "
                f"{getattr(rhs, 'shape', 'scalar')}"
            )
        for i in range(lhs.rows):
            for j in range(lhs.cols):
                diff = sp.simplify(lhs[i, j] - rhs[i, j])
                if diff != 0:
                    raise IdentityError(
                        f"{name}: entry ({i}, {j}) differs; lhs - rhs simplifies to "
                        f"{diff}"
                    )
        return
    diff = sp.simplify(lhs - rhs)
    if diff != 0:
        raise IdentityError(f"{name}: lhs - rhs simplifies to {diff}, not 0")


@typed
def assert_matches(
    expr,
    symbols: Sequence[sp.Symbol],
    impl: Callable[..., object],
    samples: Mapping[str, tuple[float, float]],
    n: int = 64,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    seed: int = 0,
) -> float:
    """Compare a lambdified expression with an implementation over sampled inputs.

    Args:
        expr: a SymPy expression (or Matrix) in ``symbols``.
        symbols: the free symbols, in the order ``impl`` takes them.
        impl: the implementation; called as ``impl(*values)`` with floats.
        samples: for each symbol name, the ``(low, high)`` range to draw from.
        n: how many points to draw.
        rtol: relative tolerance of the comparison.
        atol: absolute tolerance of the comparison.
        seed: seed of the sampled points.

    Returns:
        The largest absolute difference seen.

    Raises:
        ValueError: if a symbol has no sample range, ``expr`` has a free symbol
            not in ``symbols``, or a tolerance is negative.
        TypeError: naming the argument, for a non-symbolic ``expr`` or wrong types.
        IdentityError: at the first point where the two disagree, naming it.
    """
    _symbolic("expr", expr)
    free = sorted(str(s) for s in sp.sympify(expr).free_symbols - set(symbols))
    if free:
        raise ValueError(f"symbols: expr has free symbol(s) {free} not in symbols")
    check_float("rtol", rtol, 0.0)
    check_float("atol", atol, 0.0)
    seed = check_int("seed", seed, 0)
    missing = [str(s) for s in symbols if str(s) not in samples]
    if missing:
        raise ValueError(f"samples: no (low, high) range for symbol(s) {missing}")
    f = sp.lambdify(list(symbols), expr, modules="numpy")
    rng = np.random.default_rng(seed)
    worst = 0.0
    for _ in range(n):
        point = [float(rng.uniform(*samples[str(s)])) for s in symbols]
        want = np.asarray(f(*point), dtype=np.float64)
        got = impl(*point)
        if hasattr(got, "detach"):
            got = got.detach().cpu().double().numpy()
        got = np.asarray(got, dtype=np.float64)
        if got.shape != want.shape:
            raise IdentityError(
                f"impl returned shape {got.shape}, the formula gives {want.shape}"
            )
        err = np.abs(got - want)
        worst = max(worst, float(err.max(initial=0.0)))
        if np.any(err > atol + rtol * np.abs(want)):
            at = ", ".join(f"{s}={v:.6g}" for s, v in zip(symbols, point, strict=True))
            raise IdentityError(
                f"formula and implementation disagree at {at}: formula {want}, "
                f"implementation {got} (max error {err.max():.3e})"
            )
    return worst


def _tex(obj: Any, what: str) -> str:
    if isinstance(obj, str):
        return rf"\text{{{obj}}}"
    try:
        return sp.latex(sp.sympify(obj))
    except (sp.SympifyError, TypeError, AttributeError) as exc:
        raise TypeError(
            f"{what}: expected a SymPy expression, Matrix or number, got "
            f"{type(obj).__name__}"
        ) from exc


def to_latex(obj: Any, label: str | None = None) -> str:
    """LaTeX for a SymPy result: an expression, a Matrix, a dict or a list of them.

    Args:
        obj: an expression or Matrix; a dict (one aligned row ``key = value`` per
            entry; string keys are set as text, others typeset); or a list/tuple
            (typeset as a list).
        label: LaTeX put in front as ``label = ...`` (for a dict, ``label:``).

    Returns:
        LaTeX without delimiters.

    Raises:
        TypeError: naming the entry that is not symbolic, or a non-str label.
    """
    if obj is None or isinstance(obj, (str, bytes)):  # text is no SymPy result
        raise TypeError(
            f"obj: expected a SymPy expression, Matrix, dict or list, got "
            f"{type(obj).__name__}"
        )
    if label is not None and not isinstance(label, str):
        raise TypeError(f"label: expected LaTeX as a str, got {type(label).__name__}")
    if isinstance(obj, Mapping):
        if not obj:
            raise TypeError("obj: expected a non-empty dict of SymPy results")
        rows = [f"{_tex(k, 'obj key')} &= {_tex(v, f'obj[{k!r}]')}"
                for k, v in obj.items()]
        table = r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"
        return table if label is None else rf"{label}:\quad {table}"
    if isinstance(obj, (list, tuple)):
        body = r"\left[" + r",\ ".join(
            _tex(v, f"obj[{i}]") for i, v in enumerate(obj)) + r"\right]"
    else:
        body = _tex(obj, "obj")
    return body if label is None else f"{label} = {body}"


def _plain(obj: Any, label: str | None) -> str:
    if isinstance(obj, Mapping):
        text = "\n".join(f"{k} = {sp.sstr(v)}" for k, v in obj.items())
    else:
        text = sp.sstr(list(obj) if isinstance(obj, tuple) else obj)
    return text if label is None else f"{label} = {text}"


def show(obj: Any, label: str | None = None) -> None:
    """Display a symbolic result typeset (``display(Math(...))``), with a text fallback.

    Args:
        obj: a SymPy expression, Matrix, a dict or a list/tuple of them
            (:func:`to_latex`).
        label: LaTeX shown as ``label = ...``.

    Raises:
        TypeError: if ``obj`` (or an entry) is not symbolic, or ``label`` not a str.
    """
    tex = to_latex(obj, label)
    bundle = {"text/latex": f"$\\displaystyle {tex}$", "text/plain": _plain(obj, label)}
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - outside IPython
        print(bundle["text/plain"])
        return
    display(bundle, raw=True)


#: What SymPy's ``str`` looks like in text: powers, products of names, SymPy function
#: calls, a parenthesis divided by a name (``(d + n)/n``).
SYMPY_TEXT_RE = re.compile(
    r"\*\*\d|\b(?:sqrt|exp|log|Max|Min|Piecewise|Rational|Abs)\("
    r"|(?:\b[A-Za-z_]\w*|\b\d+)\*[A-Za-z_(]|\)/[A-Za-z(]"
)


def raw_sympy_outputs(nb: Any) -> list[tuple[int, str]]:
    """Find outputs of an executed notebook that print SymPy as text, not math.

    Looks at stream output and at results whose only form is ``text/plain`` (a result
    with ``text/latex`` is typeset); :func:`show` output is never reported.

    Args:
        nb: an executed notebook (``nbformat`` node or plain dict).

    Returns:
        ``(1-based code-cell number, offending line)`` for each such line.
    """
    if not isinstance(nb, Mapping) or not isinstance(nb.get("cells"), list):
        raise TypeError(
            f"nb: expected a notebook (a dict with a 'cells' list), got "
            f"{type(nb).__name__}"
        )
    found = []
    number = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        number += 1
        for out in cell.get("outputs", []):
            if out["output_type"] == "stream":
                text = out["text"]
            elif out["output_type"] in ("execute_result", "display_data") and set(
                    out.get("data", {})) == {"text/plain"}:
                text = out["data"]["text/plain"]
            else:
                continue
            text = "".join(text) if isinstance(text, list) else text
            found += [(number, line) for line in text.splitlines()
                      if SYMPY_TEXT_RE.search(line)]
    return found
