"""Rewards never raise on text; GRPO advantages and objective."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import effteach.econ_rl as er

PROB = er.generate("cournot", 0)


def test_recon_reward_levels():
    good = f"reasoning</think> \\boxed{{{PROB.answer}}}"
    assert er.recon_reward(PROB, good) == 5.0
    assert er.recon_reward(PROB, "\\boxed{1}</think>") == -4.0
    assert er.recon_reward(PROB, "no think") == -4.0
    assert er.recon_reward(PROB, "x</think> no box") == -5.0
    assert er.recon_reward(PROB, "x</think> \\boxed{99999}") == -3.0
    assert er.recon_reward(PROB, f"\\boxed{{{PROB.answer}}}",
                           require_think=False) == 5.0
    assert er.binary_reward(PROB, f"\\boxed{{{PROB.answer}}}") == 1.0
    assert er.binary_reward(PROB, "garbage") == 0.0


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_rewards_never_raise(text):
    assert er.recon_reward(PROB, text) in er.RECON_REWARDS.values()
    assert er.binary_reward(PROB, text) in (0.0, 1.0)
    assert er.recon_reward(PROB, "\\boxed{" + text + "}", require_think=False) in (
        er.RECON_REWARDS.values())


def test_advantages_sum_to_zero_sympy():
    r = sp.symbols("r1:5", real=True)
    mu = sum(r) / 4
    assert sp.simplify(sum(ri - mu for ri in r)) == 0
    adv = er.group_advantages(np.random.default_rng(0).normal(size=(5, 8)))
    assert np.allclose(adv.sum(-1), 0)
    assert np.allclose(er.group_advantages([1, 1, 1]), 0)


def test_grpo_gradient_toy_group_sympy():
    """At w = 1 the gradient of the clipped surrogate is mean_i A_i grad logp_i."""
    th = sp.symbols("theta0:3", real=True)
    A = [sp.Rational(1), sp.Rational(-1, 2), sp.Rational(-1, 2)]
    # softmax policy over 3 outputs, one sample of each
    Z = sum(sp.exp(t) for t in th)
    logp = [t - sp.log(Z) for t in th]
    surr = sum(sp.exp(lp - lp.subs({t: 0 for t in th})) * a
               for lp, a in zip(logp, A, strict=True)) / 3
    point = {t: 0 for t in th}
    g = [sp.diff(surr, t).subs(point) for t in th]
    reinforce = [sum(a * sp.diff(lp, t)
                     for lp, a in zip(logp, A, strict=True)).subs(point) / 3
                 for t in th]
    assert [sp.simplify(x - y) for x, y in zip(g, reinforce, strict=True)] == [0, 0, 0]
    # numeric: objective at w=1 with zero KL is mean advantage = 0
    lp = np.log(np.full(3, 1 / 3))
    assert er.grpo_objective(lp, lp, lp, np.array(A, float)) == pytest.approx(0)
    # clipping: ratio 2 with positive advantage counts as 1.2
    val = er.grpo_objective(np.log([2.0]), [0.0], np.log([2.0]), [1.0], beta=0.0)
    assert val == pytest.approx(1.2)


def test_kl_nonnegative():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=100), rng.normal(size=100)
    assert (er.k3_kl(a, b) >= 0).all()


def test_signal_probability_matches_sympy_and_simulation():
    p = sp.Symbol("p", positive=True)
    formula = 1 - (1 - p) ** 4 - p**4
    # the four-sample case, enumerated: groups with 1, 2 or 3 successes
    enum = sum(sp.binomial(4, k) * p**k * (1 - p) ** (4 - k) for k in (1, 2, 3))
    assert sp.expand(formula - enum) == 0
    assert er.signal_probability(0.25, 4) == pytest.approx(float(formula.subs(p, 0.25)))
    rng = np.random.default_rng(0)
    wins = rng.random((200_000, 8)) < 0.1
    mixed = (wins.any(1) & ~wins.all(1)).mean()
    assert er.signal_probability(0.1, 8) == pytest.approx(mixed, abs=3e-3)
    grid = er.signal_probability(np.array([0.0, 0.5, 1.0]), 8)
    assert np.allclose(grid, [0.0, 1 - 2 * 0.5**8, 0.0])
    with pytest.raises(ValueError, match="p:"):
        er.signal_probability(1.5, 8)
    with pytest.raises(ValueError, match="group_size"):
        er.signal_probability(0.5, 0)
