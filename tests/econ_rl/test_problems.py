"""Generator and verifier: agreement with nashpy and SymPy, parsing, bad input."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

import effteach.econ_rl as er

nashpy = pytest.importorskip("nashpy")
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _nashpy_pure(A, B):
    """Pure equilibria found by nashpy's vertex enumeration + support enumeration."""
    g = nashpy.Game(A, B)
    out = set()
    for s, t in g.support_enumeration(non_degenerate=False):
        if np.isclose(s.max(), 1) and np.isclose(t.max(), 1):
            out.add((int(s.argmax()), int(t.argmax())))
    return out


def test_pure_nash_agrees_with_nashpy_on_random_games():
    """2000 random 2x2/3x3 generic games: identical pure-equilibrium sets."""
    rng = np.random.default_rng(0)
    n = 0
    for k in range(2000):
        m = 2 + k % 2
        # distinct payoffs: generic games, where support enumeration is complete
        A = rng.permutation(m * m).reshape(m, m)
        B = rng.permutation(m * m).reshape(m, m)
        assert set(er.pure_nash(A, B)) == _nashpy_pure(A, B)
        n += 1
    assert n == 2000


def test_mixed_2x2_agrees_with_nashpy():
    """Every generated mixed_nash problem: nashpy finds the same (p, q)."""
    for seed in range(1000):
        prob = er.generate("mixed_nash", seed, 1 + seed % 3)
        A, B = np.array(prob.params["A"]), np.array(prob.params["B"])
        p, q = er.mixed_nash_2x2(A, B)
        eqs = list(nashpy.Game(A, B).support_enumeration(non_degenerate=False))
        assert len(eqs) == 1
        s, t = eqs[0]
        assert s[0] == pytest.approx(float(p)) and t[0] == pytest.approx(float(q))


def test_generated_pure_answers_match_nashpy():
    for seed in range(300):
        prob = er.generate("pure_nash", seed, 1 + seed % 3)
        A, B = np.array(prob.params["A"]), np.array(prob.params["B"])
        mine = set(er.pure_nash(A, B))
        # ties make support enumeration incomplete: check best-response directly
        for i, j in mine:
            assert A[i, j] == A[:, j].max() and B[i, j] == B[i, :].max()
        if len(np.unique(A)) == A.size and len(np.unique(B)) == B.size:
            assert mine == _nashpy_pure(A, B)


def test_dominant_strategy_by_brute_force():
    rng = np.random.default_rng(1)
    for _ in range(2000):
        A = rng.integers(0, 6, (3, 3))
        d = er.dominant_strategy(A)
        dom = [i for i in range(3)
               if all((A[i] > A[k]).all() for k in range(3) if k != i)]
        assert d == (dom[0] if dom else None)


def test_sympy_formulas_match_generator():
    f = er.derive_formulas()
    for cat, key in [("cournot", "cournot"), ("bertrand", "bertrand"),
                     ("cobb_douglas", "cobb_douglas"),
                     ("stackelberg", "stackelberg"),
                     ("first_price", "first_price"), ("trigger", "trigger")]:
        for seed in range(50):
            prob = er.generate(cat, seed, 1 + seed % 3)
            p = prob.params
            subs = {"a": p.get("a"), "b": p.get("b"), "c": p.get("c"),
                    "n": p.get("n"), "d": p.get("d"), "m": p.get("m"),
                    "alpha": p.get("alpha"), "p_x": p.get("px"), "v": p.get("v"),
                    "T": p.get("T"), "R": p.get("R"), "P": p.get("P")}
            expr = f[key]
            val = expr.subs({s: sp.Rational(subs[s.name]) for s in expr.free_symbols})
            assert Fraction(str(sp.nsimplify(val))) == Fraction(prob.answer), (
                cat, seed)


def test_every_category_exact_answer_scores_exact():
    for cat in er.CATEGORIES:
        for seed in range(20):
            prob = er.generate(cat, seed, 2)
            assert er.grade(prob, f"so \\boxed{{{prob.answer}}}") == "exact"


def test_parse_and_partial():
    prob = er.generate("cournot", 3)
    gold = Fraction(prob.answer)
    assert er.grade(prob, f"\\boxed{{{float(gold):.6f}}}") in ("exact", "partial")
    assert er.grade(prob, "\\boxed{123456}") == "wrong"
    assert er.grade(prob, "no box here") == "parse"
    assert er.parse_answer("\\boxed{{(2,1), (1,2)}}") == "{(1,2),(2,1)}"
    assert er.parse_answer("\\boxed{ 4 / 6 }") == "2/3"
    assert er.parse_answer("\\boxed{1/0}") is None


def test_deterministic_and_held_out():
    assert er.generate("trigger", 5) == er.generate("trigger", 5)
    assert not set(er.HELD_OUT) & set(er.TRAIN_CATEGORIES)


def test_bad_input_named():
    with pytest.raises(ValueError, match="category"):
        er.generate("auction_xyz")
    with pytest.raises(ValueError, match="difficulty"):
        er.generate("cournot", 0, 7)
    with pytest.raises(ValueError, match="B"):
        er.pure_nash(np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="A"):
        er.mixed_nash_2x2([[2, 1], [1, 0]], [[1, 0], [0, 1]])  # row 1 dominant
