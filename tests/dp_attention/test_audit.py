"""The audit: seeded, CI-sized. Correct mechanisms pass, broken ones are caught."""

import math

import numpy as np
import pytest
from scipy import stats

from effteach.dp_attention import (
    AuditResult,
    audit_mechanism,
    clopper_pearson,
    epsilon_lower_bound,
    gaussian_epsilon,
)


def test_clopper_pearson_is_the_beta_quantile_interval():
    lo, hi = clopper_pearson(7, 50, 0.05)
    assert lo == pytest.approx(stats.beta.ppf(0.025, 7, 44))
    assert hi == pytest.approx(stats.beta.ppf(0.975, 8, 43))
    assert clopper_pearson(0, 10)[0] == 0.0 and clopper_pearson(10, 10)[1] == 1.0


@pytest.mark.parametrize("name", ["flat", "tree"])
@pytest.mark.parametrize("eps", [0.5, 1.0, 2.0])
def test_correct_mechanisms_stay_below_their_claim(name, eps):
    r = audit_mechanism(name, eps, n_runs=20_000 if name == "flat" else 4000, seed=3)
    assert isinstance(r, AuditResult) and not r.flagged
    assert r.eps_lower <= eps


@pytest.mark.parametrize("eps", [0.5, 1.0, 2.0])
def test_the_broken_mechanism_is_caught(eps):
    r = audit_mechanism("broken", eps, n_runs=20_000, seed=3)
    assert r.flagged and r.eps_lower > eps


def test_the_papers_exact_normaliser_is_caught():
    r = audit_mechanism("paper", 1.0, n_runs=400, seed=3)
    assert r.flagged and r.tpr == 1.0 and r.fpr == 0.0
    # with TPR = 1 and FPR = 0 the bound is set by the sample size alone
    n = r.n_test
    lo, hi = (0.025) ** (1 / n), 1 - (0.025) ** (1 / n)
    assert r.eps_lower == pytest.approx(math.log(lo / hi), rel=1e-6)


def test_the_bound_is_valid_for_a_known_gaussian():
    # two Gaussians with shift mu: the true eps(delta) is known exactly
    mu, delta = 1.5, 1e-5
    true_eps = gaussian_epsilon(delta, mu)
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(20):
        r = epsilon_lower_bound(rng.normal(mu, 1, 4000), rng.normal(0, 1, 4000),
                                claimed_eps=true_eps, delta=delta)
        hits += r.flagged
        assert r.eps_point > 0.5  # the test has power
    assert hits <= 2  # a 95% bound exceeds the truth rarely


def test_identical_distributions_give_no_evidence():
    rng = np.random.default_rng(1)
    r = epsilon_lower_bound(rng.normal(0, 1, 2000), rng.normal(0, 1, 2000),
                            claimed_eps=0.1, delta=0.0)
    assert r.eps_lower < 0.1 and not r.flagged
