import math

import numpy as np
import pytest

from effteach.dp_attention import (
    compose_advanced,
    compose_basic,
    compose_zcdp,
    discrete_gaussian,
    discrete_laplace,
    discrete_laplace_var,
    gaussian_delta,
    gaussian_epsilon,
    gaussian_sigma,
    laplace_scale,
    zcdp_rho,
    zcdp_to_dp,
)


@pytest.mark.parametrize("t", [0.7, 3.0, 40.0])
def test_discrete_laplace_pmf(t):
    z = discrete_laplace(t, 200_000, np.random.default_rng(0))
    assert z.dtype == np.int64
    assert abs(z.mean()) < 5 * math.sqrt(discrete_laplace_var(t) / z.size)
    assert abs(z.var() / discrete_laplace_var(t) - 1) < 0.03
    # P(0) = (1 - p) / (1 + p), p = exp(-1/t)
    p = math.exp(-1 / t)
    assert abs((z == 0).mean() - (1 - p) / (1 + p)) < 0.005


@pytest.mark.parametrize("sigma", [0.6, 2.5, 30.0])
def test_discrete_gaussian_pmf(sigma):
    z = discrete_gaussian(sigma, 200_000, np.random.default_rng(1))
    ks = np.arange(-int(10 * sigma) - 5, int(10 * sigma) + 6)
    pmf = np.exp(-(ks**2) / (2 * sigma**2))
    pmf /= pmf.sum()
    assert z.dtype == np.int64
    assert abs(z.var() - (pmf * ks**2).sum()) < 0.03 * sigma**2 + 0.01
    assert abs((z == 0).mean() - pmf[ks == 0][0]) < 0.005


def test_zcdp_calibration_round_trips():
    for eps, delta in [(0.5, 1e-6), (1.0, 1e-5), (4.0, 1e-3)]:
        rho = zcdp_rho(eps, delta)
        assert abs(zcdp_to_dp(rho, delta) - eps) < 1e-12
        assert abs(gaussian_sigma(2.0, eps, delta) - 2.0 / math.sqrt(2 * rho)) < 1e-12
        # the tight profile of the same sigma is never worse than the conversion
        assert gaussian_epsilon(delta, 1 / math.sqrt(1 / (2 * rho))) <= eps


def test_gaussian_profile_inverse():
    mu = 0.7
    e = gaussian_epsilon(1e-5, mu)
    assert abs(gaussian_delta(e, mu) - 1e-5) < 1e-9


def test_composition():
    assert compose_basic([0.1, 0.2], [1e-6, 2e-6]) == pytest.approx((0.3, 3e-6))
    assert compose_zcdp([0.1, 0.2]) == pytest.approx(0.3)
    eps, delta = compose_advanced(0.01, 0.0, 1000, 1e-6)
    assert eps < 1000 * 0.01 and delta == pytest.approx(1e-6)  # beats basic here
    assert laplace_scale(2.0, 0.5) == 4.0


@pytest.mark.parametrize(("eps", "delta", "name"), [
    (0.0, 1e-5, "eps"), (-1.0, 1e-5, "eps"), (math.inf, 1e-5, "eps"),
    (1.0, 1.0, "delta"), (1.0, -0.1, "delta"), (1.0, 0.0, "delta"),
])
def test_bad_budgets_are_refused_by_name(eps, delta, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        gaussian_sigma(1.0, eps, delta)
