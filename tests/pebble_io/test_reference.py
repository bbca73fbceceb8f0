"""The numpy references: against finite differences, masks, and bad input."""

import numpy as np
import pytest

from effteach.pebble_io.reference import (
    allowed_mask,
    attention_bwd_ref,
    attention_lse_ref,
    attention_ref,
    check_qkv,
    probabilities_ref,
)


def _qkv(n=7, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((n, d)) for _ in range(4))


def test_attention_matches_the_definition():
    q, k, v, _ = _qkv()
    s = q @ k.T / np.sqrt(3)
    p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(attention_ref(q, k, v), p @ v, rtol=1e-13)
    np.testing.assert_allclose(probabilities_ref(q, k), p, rtol=1e-13)
    np.testing.assert_allclose(attention_lse_ref(q, k), np.log(np.exp(s).sum(1)),
                               rtol=1e-13)
    np.testing.assert_allclose(attention_ref(q, k, v),  # scale 1/sqrt(d) by default
                               attention_ref(q * 3**-0.25, k * 3**-0.25, v, scale=1.0),
                               rtol=1e-12)


@pytest.mark.parametrize("causal", [False, True])
def test_gradients_match_finite_differences(causal):
    q, k, v, do = _qkv(n=5, d=3, seed=1)
    rng = np.random.default_rng(2)
    mask = rng.random((5, 5)) < 0.6
    np.fill_diagonal(mask, True)
    grads = attention_bwd_ref(q, k, v, do, causal=causal, mask=mask)

    def loss(qq, kk, vv):
        return float((attention_ref(qq, kk, vv, causal=causal, mask=mask) * do).sum())

    eps = 1e-6
    for which, g in enumerate(grads):
        args = [q, k, v]
        fd = np.zeros_like(g)
        for idx in np.ndindex(g.shape):
            plus = [a.copy() for a in args]
            minus = [a.copy() for a in args]
            plus[which][idx] += eps
            minus[which][idx] -= eps
            fd[idx] = (loss(*plus) - loss(*minus)) / (2 * eps)
        np.testing.assert_allclose(g, fd, atol=1e-8)


def test_masks_and_causal():
    q, k, v, _ = _qkv(n=6, d=2)
    p = probabilities_ref(q, k, causal=True)
    assert np.all(p[np.triu_indices(6, 1)] == 0)
    np.testing.assert_allclose(p.sum(axis=1), 1)
    mask = np.eye(6, dtype=bool)
    np.testing.assert_allclose(attention_ref(q, k, v, mask=mask), v)  # sees itself
    both = allowed_mask(6, True, np.ones((6, 6), bool))
    np.testing.assert_array_equal(both, np.tri(6, dtype=bool))
    assert allowed_mask(6) is None


def test_bad_inputs_name_the_argument():
    q, k, v, do = _qkv()
    with pytest.raises(TypeError, match="q: expected a numpy array"):
        attention_ref(q.tolist(), k, v)
    with pytest.raises(TypeError, match="k: expected dtype float64"):
        attention_ref(q, k.astype(np.int64), v)
    with pytest.raises(ValueError, match="q: expected a 2-D array"):
        attention_ref(q[None], k, v)
    with pytest.raises(ValueError, match=r"v: expected shape \(7, 3\)"):
        attention_ref(q, k, v[:5])
    with pytest.raises(ValueError, match=r"do: expected shape"):
        attention_bwd_ref(q, k, v, do[:, :2])
    bad = q.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="q: expected finite"):
        check_qkv(bad, k, v)
    with pytest.raises(ValueError, match="positive sizes"):
        check_qkv(q[:0], k[:0], v[:0])
    with pytest.raises(TypeError, match="mask: expected a boolean"):
        attention_ref(q, k, v, mask=np.ones((7, 7)))
    with pytest.raises(ValueError, match=r"mask: expected shape \(n_ctx, n_ctx\)"):
        attention_ref(q, k, v, mask=np.ones((7, 6), bool))
    with pytest.raises(ValueError, match="row 0 has none"):
        attention_ref(q, k, v, mask=~np.eye(7, dtype=bool) & np.tri(7, k=-1,
                                                                   dtype=bool))
    with pytest.raises(TypeError, match="causal"):
        attention_ref(q, k, v, causal=1)
    out = check_qkv(q.astype(np.float32), k, v)
    assert out[0].dtype == np.float64
