import numpy as np
import pytest

from effteach.dp_attention import DPTree, binary_mechanism_ref, canonical_nodes
from effteach.dp_attention.tree import level_offsets


@pytest.mark.parametrize("M", [2, 4, 8, 32])
def test_canonical_nodes_cover_exactly_the_prefix(M):
    offs = level_offsets(M)
    for b in range(M + 1):
        covered = []
        for node in canonical_nodes(b, M):
            lvl = max(i for i, o in enumerate(offs) if o <= node)
            j = node - offs[lvl]
            covered += range(j << lvl, (j + 1) << lvl)
        assert sorted(covered) == list(range(b))
        assert len(canonical_nodes(b, M)) <= len(offs) - 1 or b == M


def test_binary_mechanism_without_noise_is_the_cumsum():
    x = np.arange(8.0)
    zero = [np.zeros(8 >> lvl) for lvl in range(4)]
    np.testing.assert_allclose(binary_mechanism_ref(x, zero), np.cumsum(x))
    # one unit of noise on the root shows up only in the last prefix
    root = [z.copy() for z in zero]
    root[3][0] = 1.0
    assert (binary_mechanism_ref(x, root) - np.cumsum(x)).tolist() == [0] * 7 + [1]


def test_dptree_answers_weighted_distances():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (400, 3))
    w = rng.uniform(-1, 1, (400, 3))
    y = np.array([0.0, 0.5, 1.0])
    exact = (w * np.abs(y - x)).sum(axis=0)
    tree = DPTree(x, w, eps=1e6, x_max=1.0, w_max=1.0, n_leaves=16)
    got = tree.query(y)[0]
    # y = 0 and y = x_max are exact; inside, points in y's bucket cost <= 2 w width
    assert abs(got[0] - exact[0]) < 1e-3 and abs(got[2] - exact[2]) < 1e-3
    share = (np.abs(x[:, 1] - 0.5) < 1 / 16).sum()
    assert abs(got[1] - exact[1]) <= 2 * share / 16 + 1e-3


def test_dptree_noise_has_the_accounted_variance():
    x = np.zeros((10, 1))
    w = np.zeros((10, 1))
    tree = DPTree(x, w, eps=1.0, x_max=1.0, w_max=1.0, n_leaves=8, n_runs=4000)
    counts, moments = tree.release()
    var_c, var_m = tree.noise_var()
    assert abs(counts.var() / var_c - 1) < 0.05
    assert abs(moments.var() / var_m[0] - 1) < 0.05
    # sensitivity 2 (h + 1) per statistic, half the budget each: t = 4 (h+1) / eps
    assert abs(tree.t * tree.grid - 4 * 4 / 1.0) < 1e-3


def test_dptree_refuses_points_out_of_bounds():
    with pytest.raises(ValueError, match="^x"):
        DPTree(np.full((3, 1), 2.0), np.zeros((3, 1)), eps=1.0, x_max=1.0, w_max=1.0)
    with pytest.raises(ValueError, match="^n_leaves"):
        DPTree(np.zeros((3, 1)), np.zeros((3, 1)), eps=1.0, x_max=1.0, w_max=1.0,
               n_leaves=6)
