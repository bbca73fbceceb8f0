r"""Verifiable economics problems: generator, canonical answers and verifier.

Every category draws integer parameters from a seeded generator, renders a text
problem, and computes the canonical answer from a closed form whose derivation is
checked with SymPy in :func:`derive_formulas` (and in the tests).  Answers are
written as ``\boxed{...}`` with exact fractions, a set of 1-indexed strategy
profiles such as ``{(1,2),(2,1)}``, ``none``, or a pair ``(p, q)``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from effteach.checks import check_int

__all__ = [
    "CATEGORIES",
    "HELD_OUT",
    "TRAIN_CATEGORIES",
    "Problem",
    "generate",
    "generate_set",
    "parse_answer",
    "grade",
    "pure_nash",
    "mixed_nash_2x2",
    "dominant_strategy",
    "derive_formulas",
]

TRAIN_CATEGORIES = (
    "pure_nash", "dominant", "mixed_nash", "cournot", "bertrand",
    "cobb_douglas",
)
HELD_OUT = ("stackelberg", "first_price", "trigger")
CATEGORIES = TRAIN_CATEGORIES + HELD_OUT


@dataclass(frozen=True)
class Problem:
    """One problem: its text, parameters, canonical answer and worked solution."""

    category: str
    difficulty: int
    params: dict
    prompt: str
    answer: str
    solution: str


def _check_matrix(name, value):
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - ragged input
        raise TypeError(f"{name}: expected a 2-D numeric array") from exc
    if arr.dtype == object or arr.dtype == bool or not np.issubdtype(
            arr.dtype, np.number):
        raise TypeError(f"{name}: expected a 2-D numeric array, got {arr.dtype}")
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise ValueError(f"{name}: expected a non-empty 2-D array, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: entries must be finite")
    return arr


def pure_nash(A, B) -> list[tuple[int, int]]:
    """All pure Nash equilibria ``(i, j)`` (0-indexed) of the bimatrix game (A, B).

    A profile is an equilibrium when ``A[i, j]`` is a maximum of column ``j`` of A
    and ``B[i, j]`` a maximum of row ``i`` of B (weak best responses).
    """
    A = _check_matrix("A", A)
    B = _check_matrix("B", B)
    if A.shape != B.shape:
        raise ValueError(f"B: shape {B.shape} differs from A's {A.shape}")
    return [(i, j) for i, j in itertools.product(*map(range, A.shape))
            if A[i, j] >= A[:, j].max() and B[i, j] >= B[i, :].max()]


def dominant_strategy(A) -> int | None:
    """The row player's strictly dominant strategy (0-indexed), or ``None``."""
    A = _check_matrix("A", A)
    for i in range(A.shape[0]):
        others = np.delete(A, i, axis=0)
        if others.size == 0 or np.all(A[i] > others):
            return i
    return None


def mixed_nash_2x2(A, B) -> tuple[Fraction, Fraction]:
    """The fully mixed equilibrium ``(p, q)`` of a 2x2 game.

    ``p`` is the row player's probability of row 1 (it makes the column player
    indifferent); ``q`` the column player's probability of column 1.

    Raises:
        ValueError: naming ``A``/``B`` if the game is not 2x2 or has no fully
            mixed equilibrium with both probabilities strictly inside (0, 1).
    """
    A = _check_matrix("A", A)
    B = _check_matrix("B", B)
    if A.shape != (2, 2) or B.shape != (2, 2):
        raise ValueError(f"A: expected 2x2 games, got {A.shape} and {B.shape}")
    a = [[Fraction(int(x)) if float(x).is_integer() else Fraction(float(x))
          for x in row] for row in A]
    b = [[Fraction(int(x)) if float(x).is_integer() else Fraction(float(x))
          for x in row] for row in B]
    # column indifference: p*b11 + (1-p)*b21 = p*b12 + (1-p)*b22
    den_p = b[0][0] - b[1][0] - b[0][1] + b[1][1]
    den_q = a[0][0] - a[0][1] - a[1][0] + a[1][1]
    if den_p == 0 or den_q == 0:
        raise ValueError("A: game has no unique fully mixed equilibrium")
    p = (b[1][1] - b[1][0]) / den_p
    q = (a[1][1] - a[0][1]) / den_q
    if not (0 < p < 1 and 0 < q < 1):
        raise ValueError("A: game has no fully mixed equilibrium in (0, 1)")
    return p, q


def derive_formulas() -> dict:
    """Derive every closed form used by the generator with SymPy.

    Returns a dict of SymPy expressions: Cournot per-firm quantity, Bertrand
    (differentiated) price, Stackelberg leader quantity, Cobb-Douglas demand for x,
    first-price equilibrium bid, grim-trigger discount threshold.
    """
    import sympy as sp

    a, b, c, d, m, al, px, py, v, n, q, p, x = sp.symbols(
        "a b c d m alpha p_x p_y v n q p x", positive=True)
    T, R, P, dl = sp.symbols("T R P delta", positive=True)
    out = {}
    # Cournot: symmetric FOC of (a - b(q + (n-1) q_o) - c) q, then q_o = q
    qo = sp.Symbol("q_o", positive=True)
    foc = sp.diff((a - b * (q + (n - 1) * qo) - c) * q, q).subs(qo, q)
    out["cournot"] = sp.solve(sp.Eq(foc, 0), q)[0]
    # Bertrand differentiated: demand a - p_i + d p_j, cost c, symmetric
    pj = sp.Symbol("p_j", positive=True)
    foc = sp.diff((p - c) * (a - p + d * pj), p).subs(pj, p)
    out["bertrand"] = sp.solve(sp.Eq(foc, 0), p)[0]
    # Stackelberg: follower best response, then leader optimum
    ql, qf = sp.symbols("q_l q_f", positive=True)
    br = sp.solve(sp.diff((a - b * (ql + qf) - c) * qf, qf), qf)[0]
    out["stackelberg"] = sp.solve(
        sp.diff((a - b * (ql + br) - c) * ql, ql), ql)[0]
    # Cobb-Douglas: maximise alpha log x + (1-alpha) log y on the budget line
    y = (m - px * x) / py
    out["cobb_douglas"] = sp.solve(
        sp.diff(al * sp.log(x) + (1 - al) * sp.log(y), x), x)[0]
    # first price, n bidders, values U[0,1]: b(v) = k v; best response to others
    k, bid = sp.symbols("k bid", positive=True)
    # P(win with bid) = (bid/k)^(n-1); maximise (v - bid) * (bid/k)^(n-1)
    best = sp.solve(sp.diff((v - bid) * (bid / k) ** (n - 1), bid), bid)[0]
    out["first_price"] = sp.simplify(best)
    # grim trigger: R/(1-d) >= T + d P/(1-d)
    out["trigger"] = sp.solve(sp.Eq(R / (1 - dl), T + dl * P / (1 - dl)), dl)[0]
    return out


def _fmt(x: Fraction) -> str:
    x = Fraction(x)
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def _game_text(A, B):
    rows = []
    for i in range(A.shape[0]):
        cells = ", ".join(f"({A[i, j]},{B[i, j]})" for j in range(A.shape[1]))
        rows.append(f"  row {i + 1}: {cells}")
    return "\n".join(rows)


def _gen_one(category, rng, difficulty):
    size = 2 if difficulty == 1 else 3
    hi = 5 + 5 * difficulty
    if category in ("pure_nash", "dominant"):
        A = rng.integers(0, hi, (size, size))
        B = rng.integers(0, hi, (size, size))
        head = (f"Two players play a {size}x{size} game. Entries are (row payoff, "
                f"column payoff):\n{_game_text(A, B)}\n")
        params = {"A": A.tolist(), "B": B.tolist()}
        if category == "pure_nash":
            eq = pure_nash(A, B)
            ans = ("none" if not eq else
                   "{" + ",".join(f"({i + 1},{j + 1})" for i, j in eq) + "}")
            q = "List all pure-strategy Nash equilibria as (row,column) pairs."
            sol = (f"Check each cell for mutual best responses; equilibria: {ans}.")
        else:
            d = dominant_strategy(A)
            ans = "none" if d is None else str(d + 1)
            q = "Which row is strictly dominant for the row player (or none)?"
            sol = f"Compare rows entry by entry; strictly dominant row: {ans}."
        return params, head + q, ans, sol
    if category == "mixed_nash":
        while True:
            A = rng.integers(0, hi, (2, 2))
            B = rng.integers(0, hi, (2, 2))
            if pure_nash(A, B):
                continue
            try:
                p, q = mixed_nash_2x2(A, B)
            except ValueError:
                continue
            break
        ans = f"({_fmt(p)},{_fmt(q)})"
        text = (f"Two players play a 2x2 game. Entries are (row payoff, column "
                f"payoff):\n{_game_text(A, B)}\nGive the mixed equilibrium "
                "(p,q): p = P(row 1), q = P(column 1).")
        sol = ("p makes the column player indifferent, q the row player: "
               f"(p,q) = {ans}.")
        return {"A": A.tolist(), "B": B.tolist()}, text, ans, sol
    if category == "cournot":
        n = int(rng.integers(2, 2 + 2 * difficulty))
        b = int(rng.integers(1, 4))
        c = int(rng.integers(1, 10))
        a = c + int(rng.integers(5, 20 * difficulty))
        ans = Fraction(a - c, b * (n + 1))
        text = (f"{n} identical firms compete in quantities. Inverse demand is "
                f"P = {a} - {b}Q and each firm's marginal cost is {c}. What is each "
                "firm's equilibrium quantity?")
        sol = f"q* = (a - c) / (b (n + 1)) = {a - c}/{b * (n + 1)} = {_fmt(ans)}."
        return {"a": a, "b": b, "c": c, "n": n}, text, _fmt(ans), sol
    if category == "bertrand":
        c = int(rng.integers(1, 10))
        a = int(rng.integers(10, 10 + 20 * difficulty))
        d = Fraction(int(rng.integers(1, 4)), 4)
        ans = Fraction(a + c) / (2 - d)
        text = (f"Two firms set prices. Firm i sells q_i = {a} - p_i + {_fmt(d)} "
                f"p_j at marginal cost {c}. What is the symmetric equilibrium "
                "price?")
        sol = f"p* = (a + c) / (2 - d) = {a + c}/({_fmt(2 - d)}) = {_fmt(ans)}."
        return {"a": a, "c": c, "d": _fmt(d)}, text, _fmt(ans), sol
    if category == "cobb_douglas":
        den = int(rng.integers(2, 3 + 2 * difficulty))
        num = int(rng.integers(1, den))
        al = Fraction(num, den)
        m = int(rng.integers(10, 50 * difficulty))
        px = int(rng.integers(1, 10))
        py = int(rng.integers(1, 10))
        ans = al * m / px
        text = (f"A consumer has utility U = x^({_fmt(al)}) y^({_fmt(1 - al)}), "
                f"income {m}, prices p_x = {px}, p_y = {py}. How much x does she "
                "buy?")
        sol = f"x* = alpha m / p_x = {_fmt(al)}*{m}/{px} = {_fmt(ans)}."
        return ({"alpha": _fmt(al), "m": m, "px": px, "py": py}, text, _fmt(ans),
                sol)
    if category == "stackelberg":
        b = int(rng.integers(1, 4))
        c = int(rng.integers(1, 10))
        a = c + int(rng.integers(5, 20 * difficulty))
        ans = Fraction(a - c, 2 * b)
        text = (f"A leader firm chooses quantity first, then a follower. Inverse "
                f"demand is P = {a} - {b}Q, both have marginal cost {c}. What is "
                "the leader's quantity?")
        sol = f"q_L = (a - c) / (2b) = {a - c}/{2 * b} = {_fmt(ans)}."
        return {"a": a, "b": b, "c": c}, text, _fmt(ans), sol
    if category == "first_price":
        n = int(rng.integers(2, 2 + 3 * difficulty))
        vbar = int(rng.integers(10, 50 * difficulty))
        v = int(rng.integers(1, vbar + 1))
        ans = Fraction(n - 1, n) * v
        text = (f"{n} bidders have private values uniform on [0, {vbar}] in a "
                f"first-price sealed-bid auction. What does a bidder with value {v} "
                "bid in the symmetric equilibrium?")
        sol = f"b(v) = (n - 1) v / n = {n - 1}*{v}/{n} = {_fmt(ans)}."
        return {"n": n, "vbar": vbar, "v": v}, text, _fmt(ans), sol
    if category == "trigger":
        P = int(rng.integers(0, 5))
        R = P + int(rng.integers(1, 5 * difficulty))
        T = R + int(rng.integers(1, 5 * difficulty))
        S = int(rng.integers(-5, P)) if P > -5 else P - 1
        ans = Fraction(T - R, T - P)
        text = (f"A prisoner's dilemma has payoffs T={T}, R={R}, P={P}, S={S}. It "
                "is repeated forever with discount factor delta. What is the "
                "smallest delta for which grim trigger sustains cooperation?")
        sol = f"delta* = (T - R) / (T - P) = {T - R}/{T - P} = {_fmt(ans)}."
        return {"T": T, "R": R, "P": P, "S": S}, text, _fmt(ans), sol
    raise ValueError(f"category: unknown category {category!r}; "
                     f"expected one of {CATEGORIES}")


INSTRUCTION = "Answer with \\boxed{...}."


def generate(category: str, seed: int = 0, difficulty: int = 1) -> Problem:
    """Generate one problem of ``category`` (see :data:`CATEGORIES`).

    Raises:
        ValueError: naming ``category`` if unknown, ``difficulty`` if not 1..3.
    """
    if not isinstance(category, str):
        raise TypeError(f"category: expected a str, got {type(category).__name__}")
    if category not in CATEGORIES:
        raise ValueError(f"category: unknown category {category!r}; "
                         f"expected one of {CATEGORIES}")
    seed = check_int("seed", seed, low=0)
    difficulty = check_int("difficulty", difficulty, low=1, high=3)
    rng = np.random.default_rng([seed, CATEGORIES.index(category), difficulty])
    params, text, ans, sol = _gen_one(category, rng, difficulty)
    return Problem(category, difficulty, params, text + " " + INSTRUCTION, ans, sol)


def generate_set(categories, n_per: int, seed: int = 0,
                 difficulty: int = 1) -> list[Problem]:
    """``n_per`` problems of each category, seeds ``seed*10**6 + k``."""
    if isinstance(categories, str) or not isinstance(
            categories, (list, tuple)) or not all(
            isinstance(c, str) for c in categories):
        raise TypeError("categories: expected a sequence of category names")
    n_per = check_int("n_per", n_per, low=1)
    seed = check_int("seed", seed, low=0)
    return [generate(c, seed * 10**6 + k, difficulty)
            for c in categories for k in range(n_per)]


_NUM = r"-?\d+(?:\s*/\s*\d+)?(?:\.\d+)?"


def _num(s: str) -> Fraction | None:
    s = s.replace(" ", "")
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def parse_answer(text) -> str | None:
    r"""Canonical form of the first ``\boxed{...}`` answer in ``text``, or None.

    Numbers become reduced fractions, profile sets are sorted, ``none`` stays
    ``none``.  Anything else returns None (never raises on a string).
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected a str, got {type(text).__name__}")
    m = re.search(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}", text)
    if m is None:
        return None
    body = m.group(1).strip()
    if body.lower() in ("none", "{}", "[]", "no"):
        return "none"
    pairs = re.findall(r"\(\s*(" + _NUM + r")\s*,\s*(" + _NUM + r")\s*\)", body)
    if pairs and body.startswith("{"):
        try:
            ps = sorted({(int(a), int(b)) for a, b in pairs})
        except ValueError:
            return None
        return "{" + ",".join(f"({a},{b})" for a, b in ps) + "}"
    if pairs and len(pairs) == 1:
        a, b = (_num(x) for x in pairs[0])
        if a is None or b is None:
            return None
        return f"({_fmt(a)},{_fmt(b)})"
    x = _num(body)
    return None if x is None else _fmt(x)


def grade(problem: Problem, text) -> str:
    """``'parse'`` (no answer found), ``'exact'``, ``'partial'`` or ``'wrong'``.

    Partial credit: a profile set that overlaps the gold set, a mixed pair with one
    coordinate right, a number within 5% of the gold value.
    """
    if not isinstance(problem, Problem):
        raise TypeError("problem: expected a Problem")
    got = parse_answer(text)
    if got is None:
        return "parse"
    gold = problem.answer
    if got == gold:
        return "exact"
    if gold.startswith("{") and got.startswith("{"):
        g = set(re.findall(r"\(\d+,\d+\)", gold))
        h = set(re.findall(r"\(\d+,\d+\)", got))
        return "partial" if g & h else "wrong"
    if gold.startswith("(") and got.startswith("("):
        g = gold[1:-1].split(",")
        h = got[1:-1].split(",")
        return "partial" if g[0] == h[0] or g[1] == h[1] else "wrong"
    gv, hv = _num(gold), _num(got)
    if gv is not None and hv is not None and abs(hv - gv) <= abs(gv) / 20:
        return "partial"
    return "wrong"
