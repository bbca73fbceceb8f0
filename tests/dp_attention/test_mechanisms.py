"""The mechanisms: bounds, budgets, accuracy, noise drawn once, and no leak."""

import inspect
import math

import numpy as np
import pytest

from effteach.dp_attention import (
    BrokenFlatDPAttention,
    DPTree,
    DPTreeAttention,
    FlatDPAttention,
    poly_attention_ref,
    worst_case_neighbours,
)

KW = {"degree": 2, "R": 1.0, "R_w": 1.0}


def _data(n=30, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, 2)), rng.uniform(-1, 1, (n, 2))


def _q():
    return np.random.default_rng(9).uniform(0, 1, (5, 2))


MAKERS = {
    "flat": lambda K, V, seed: FlatDPAttention(K, V, eps=1.0, delta=1e-5, seed=seed,
                                               **KW),
    "broken": lambda K, V, seed: BrokenFlatDPAttention(K, V, eps=1.0, delta=1e-5,
                                                       seed=seed, **KW),
    "tree": lambda K, V, seed: DPTreeAttention(K, V, eps=1.0, n_leaves=4, seed=seed,
                                               **KW),
    "paper": lambda K, V, seed: DPTreeAttention(K, V, eps=1.0, n_leaves=4, seed=seed,
                                                denominator="exact", **KW),
}


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("name", MAKERS)
def test_out_of_bound_inputs_are_refused_or_clipped(name):
    K, V = _data()
    K_bad, V_bad = K.copy(), V.copy()
    K_bad[3, 1], V_bad[4, 0] = 1.5, -2.0
    with pytest.raises(ValueError, match=r"^K: expected entries in \[0, 1\]"):
        MAKERS[name](K_bad, V, 0)
    with pytest.raises(ValueError, match=r"^V: expected entries in \[-1, 1\]"):
        MAKERS[name](K, V_bad, 0)
    K_neg = K.copy()
    K_neg[0, 0] = -0.1  # the paper's keys are non-negative
    with pytest.raises(ValueError, match="^K"):
        MAKERS[name](K_neg, V, 0)
    with pytest.raises(ValueError, match="^Q"):
        MAKERS[name](K, V, 0).query(_q() + 1.0)


def test_explicit_clipping_is_clipping():
    K, V = _data()
    K_bad, V_bad = K.copy(), V.copy()
    K_bad[3, 1], V_bad[4, 0] = 1.5, -2.0
    a = FlatDPAttention(K_bad, V_bad, eps=1.0, delta=1e-5, clip=True, **KW)
    b = FlatDPAttention(np.clip(K_bad, 0, 1), np.clip(V_bad, -1, 1), eps=1.0,
                        delta=1e-5, **KW)
    np.testing.assert_array_equal(a.release(), b.release())


@pytest.mark.parametrize(("eps", "delta", "name"), [
    (0.0, 1e-5, "eps"), (-0.5, 1e-5, "eps"), (1.0, 1.0, "delta"),
    (1.0, 1.5, "delta"), (1.0, -1e-9, "delta"), (1.0, 0.0, "delta"),
])
def test_bad_budgets_are_refused(eps, delta, name):
    K, V = _data()
    with pytest.raises(ValueError, match=f"^{name}"):
        FlatDPAttention(K, V, eps=eps, delta=delta, **KW)
    if name == "eps":
        with pytest.raises(ValueError, match="^eps"):
            DPTreeAttention(K, V, eps=eps, **KW)


# ------------------------------------------------------------------ accuracy
@pytest.mark.parametrize("name", ["flat", "tree"])
def test_large_eps_recovers_polynomial_attention(name):
    K, V = _data(200)
    Q = _q()
    kw = {**KW, "eps": 1e7, "seed": 0}
    m = (FlatDPAttention(K, V, delta=1e-5, **kw) if name == "flat"
         else DPTreeAttention(K, V, **kw))
    np.testing.assert_allclose(m.query(Q), poly_attention_ref(Q, K, V, 2), atol=1e-3)


def test_noise_is_drawn_once_and_queries_are_post_processing():
    K, V = _data()
    m = FlatDPAttention(K, V, eps=1.0, delta=1e-5, **KW)
    a, b = m.query(_q()), m.query(_q())
    np.testing.assert_array_equal(a, b)
    rel = m.release()
    fq = np.random.default_rng(0)  # any query is a function of the release alone
    from effteach.dp_attention import taylor_features

    Q = fq.uniform(0, 1, (4, 2))
    out = taylor_features(Q, 2) @ rel
    np.testing.assert_allclose(m.query(Q), out[:, :-1] / np.maximum(out[:, -1:], 30))


def test_batched_runs_match_single_builds_in_distribution():
    K, V = _data()
    many = FlatDPAttention(K, V, eps=1.0, delta=1e-5, n_runs=3000, **KW).release()
    one = FlatDPAttention(K, V, eps=1.0, delta=1e-5, **KW)
    assert many.shape == (3000, *one.release().shape)
    assert abs(many.std(axis=0).mean() / one.noise_std() - 1) < 0.05


def test_flat_sensitivity_is_attained_and_never_exceeded():
    m = FlatDPAttention(*_data(), eps=1.0, delta=1e-5, **KW)
    rng = np.random.default_rng(0)
    from effteach.dp_attention import taylor_features

    def contrib(k, v):
        return np.outer(taylor_features(k[None], 2)[0], np.append(v, 1.0))

    worst = 0.0
    for _ in range(2000):
        k1, k2 = rng.uniform(0, 1, (2, 2))
        v1, v2 = rng.choice([-1.0, 1.0], (2, 2))
        worst = max(worst, np.linalg.norm(contrib(k1, v1) - contrib(k2, v2)))
    assert worst <= m.l2_sensitivity()
    assert worst > 0.6 * m.l2_sensitivity()  # the bound is not vacuous
    broken = BrokenFlatDPAttention(*_data(), eps=1.0, delta=1e-5, **KW)
    assert broken.l2_sensitivity() < worst  # the broken one is really wrong


# ------------------------------------------------------------------ no leak
def _leaves(value, prefix=""):
    """Flatten an output into (path, float array) leaves."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{prefix}[{k}]")
    elif isinstance(value, (tuple, list)):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{prefix}[{i}]")
    elif isinstance(value, DPTree):
        yield from _public_outputs(value, prefix + ".")
    elif isinstance(value, (np.ndarray, float, int, np.floating, np.integer)):
        yield prefix, np.asarray(value, dtype=float)
    elif isinstance(value, str):
        yield prefix, np.array([float(hash(value) % 1000003)])


def _public_outputs(obj, prefix=""):
    """Every public method's output (called with a public query) and attribute."""
    for name in sorted(dir(obj)):
        if name.startswith("_"):
            continue
        attr = getattr(obj, name)
        if callable(attr):
            params = inspect.signature(attr).parameters
            if "Q" in params:
                attr = attr(_q())
            elif "y" in params:
                attr = attr(np.zeros(obj.n_trees))
            elif not params:
                attr = attr()
            else:
                raise AssertionError(f"{prefix}{name}: no public argument known")
        yield from _leaves(attr, f"{prefix}{name}")


def leaks(make) -> list[str]:
    """Outputs that do not change with the seed but do change with one record.

    Such an output is an un-noised statistic of the private rows.
    """
    K, V, K2, V2 = worst_case_neighbours(40, 2, 2, 1.0, 1.0, seed=0, change="key")
    a = dict(_public_outputs(make(K, V, 1)))
    b = dict(_public_outputs(make(K, V, 2)))
    c = dict(_public_outputs(make(K2, V2, 1)))
    assert a.keys() == b.keys() == c.keys() and len(a) > 5
    out = []
    for path in a:
        same_seed_free = np.array_equal(a[path], b[path])  # no noise in it
        moved = not np.array_equal(a[path], c[path])  # depends on the record
        if same_seed_free and moved:
            out.append(path)
    return out


@pytest.mark.parametrize("name", ["flat", "broken", "tree"])
def test_no_public_output_is_an_unnoised_statistic(name):
    assert leaks(MAKERS[name]) == []


def test_the_leak_test_catches_the_papers_exact_normaliser():
    assert leaks(MAKERS["paper"]) == ["denominator_at"]


def test_privacy_reports_the_claim():
    K, V = _data()
    p = FlatDPAttention(K, V, eps=0.7, delta=1e-6, **KW).privacy()
    assert abs(p["eps"] - 0.7) < 1e-12 and p["delta"] == 1e-6
    t = DPTreeAttention(K, V, eps=0.7, **KW)
    assert t.privacy()["eps"] == 0.7 and math.isclose(t.eps_tree * 6 * 3, 0.7)
