import math
import os
from pathlib import Path

import nbformat
import pytest
import sympy as sp

from effteach.symbolic import (
    IdentityError,
    assert_identity,
    assert_matches,
    raw_sympy_outputs,
    show,
    to_latex,
)

x, y = sp.symbols("x y", real=True)


def test_assert_identity_passes_and_fails_readably():
    assert_identity(sp.exp(x) * sp.exp(y), sp.exp(x + y))
    with pytest.raises(IdentityError, match=r"double angle: lhs - rhs simplifies to"):
        assert_identity(sp.sin(2 * x), sp.sin(x) * sp.cos(x), "double angle")


def test_assert_identity_matrices():
    m = sp.Matrix([[x, 1], [0, y]])
    assert_identity(m * sp.eye(2), m)
    with pytest.raises(IdentityError, match=r"entry \(0, 1\) differs"):
        assert_identity(m, sp.Matrix([[x, 2], [0, y]]))
    with pytest.raises(IdentityError, match="shapes differ"):
        assert_identity(m, sp.eye(3))


def test_assert_matches_implementation():
    worst = assert_matches(
        sp.sin(x) * y,
        [x, y],
        lambda a, b: math.sin(a) * b,
        samples={"x": (-3, 3), "y": (0, 2)},
    )
    assert worst < 1e-12
    with pytest.raises(IdentityError, match="disagree at x="):
        assert_matches(
            sp.sin(x), [x], lambda a: math.sin(a) + 1e-3, samples={"x": (-3, 3)}
        )
    with pytest.raises(ValueError, match=r"samples: no \(low, high\) range.*'y'"):
        assert_matches(x + y, [x, y], lambda a, b: a + b, samples={"x": (0, 1)})


def _displayed(monkeypatch, *args, **kwargs):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display",
                        lambda obj, raw=False: shown.append((obj, raw)))
    assert show(*args, **kwargs) is None  # nothing left for the cell to print
    ((bundle, raw),) = shown
    assert raw and set(bundle) == {"text/latex", "text/plain"}
    return bundle


def test_show_typesets_expressions_with_a_label(monkeypatch):
    d, m = sp.symbols("d M", positive=True)
    bundle = _displayed(monkeypatch, d / sp.sqrt(m), label=r"\mathrm{ratio}")
    want = r"$\displaystyle \mathrm{ratio} = \frac{d}{\sqrt{M}}$"
    assert bundle["text/latex"] == want
    assert bundle["text/plain"] == "\\mathrm{ratio} = d/sqrt(M)"
    bundle = _displayed(monkeypatch, [d**2])
    assert bundle["text/latex"] == r"$\displaystyle \left[d^{2}\right]$"
    assert to_latex(sp.Matrix([[d, 1]])) == sp.latex(sp.Matrix([[d, 1]]))


def test_show_typesets_a_dict_as_aligned_rows(monkeypatch):
    d, n = sp.symbols("d n", positive=True)
    bundle = _displayed(monkeypatch, {"large": (d + n) / n, "small": 1 + d / n})
    tex = bundle["text/latex"]
    assert tex.startswith(r"$\displaystyle \begin{aligned}")
    assert r"\text{large} &= \frac{d + n}{n} \\ \text{small} &=" in tex
    assert bundle["text/plain"].splitlines()[0] == "large = (d + n)/n"
    assert to_latex({d: n}, label="f").startswith(r"f:\quad \begin{aligned}d &= n")


def test_show_rejects_what_is_not_symbolic():
    with pytest.raises(TypeError, match="obj: expected a SymPy expression"):
        to_latex(object())
    with pytest.raises(TypeError, match=r"obj\['b'\]: expected a SymPy expression"):
        to_latex({"a": x, "b": object()})
    with pytest.raises(TypeError, match="label: expected LaTeX as a str"):
        to_latex(x, label=3)
    with pytest.raises(TypeError, match="non-empty dict"):
        to_latex({})


def _nb(*outputs):
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = list(outputs)
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("t"), cell])


def test_raw_sympy_outputs_flags_printed_sympy_only():
    d, n, m = sp.symbols("d n M", positive=True)
    printed = f"ratio: {d / sp.sqrt(m)}   crossover: {[d**2]}\n"
    as_dict = str({"large": (d + n) / n}) + "\n"
    stream = nbformat.v4.new_output("stream", name="stdout", text=printed)
    plain = nbformat.v4.new_output("execute_result", {"text/plain": as_dict},
                                   execution_count=1)
    assert raw_sympy_outputs(_nb(stream)) == [(1, printed.strip())]
    assert raw_sympy_outputs(_nb(plain)) == [(1, as_dict.strip())]
    for expr in (2 * d * n + 1, sp.sqrt(2) / 2, (d + n) / n):
        text = nbformat.v4.new_output("stream", name="stdout", text=f"{expr}\n")
        assert raw_sympy_outputs(_nb(text)), expr
    typeset = nbformat.v4.new_output(
        "display_data", {"text/latex": "$x$", "text/plain": str(d**2)})
    numbers = nbformat.v4.new_output(
        "stream", name="stdout", text="loads 4608, 2.5 GB/s, results/gpu/x.json\n")
    assert raw_sympy_outputs(_nb(typeset, numbers)) == []


def _built_notebooks() -> list[Path]:
    html = os.environ.get("EFFTEACH_BOOK_HTML")
    root = Path(__file__).resolve().parents[2]
    book = Path(html).parent.parent if html else root / "build" / "book"
    return sorted((book / "notebooks").glob("*/lecture.ipynb"))


@pytest.mark.parametrize("path", _built_notebooks() or [None],
                         ids=lambda p: p.parent.name if p else "not-built")
def test_built_lectures_typeset_every_symbolic_result(path):
    if path is None:
        pytest.skip("the book is not built (make book)")
    nb = nbformat.read(path, as_version=4)
    assert raw_sympy_outputs(nb) == [], f"{path}: show SymPy with symbolic.show"
