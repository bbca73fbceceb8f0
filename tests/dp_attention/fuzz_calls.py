"""Example calls of the dp_attention API for the bad-input fuzz harness."""

from __future__ import annotations

import numpy as np
from fuzz_support import Call

P = "effteach.dp_attention."


def _kv(n=6, d=2, d_v=1, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, d)), rng.uniform(-1, 1, (n, d_v))


def _q(m=3, d=2):
    return np.random.default_rng(5).uniform(0, 1, (m, d))


def _flat(cls=None):
    from effteach.dp_attention import FlatDPAttention

    K, V = _kv()
    return (cls or FlatDPAttention)(K, V, eps=1.0, delta=1e-5, degree=2, R=1.0,
                                    R_w=1.0)


def _tree():
    from effteach.dp_attention import DPTreeAttention

    K, V = _kv()
    return DPTreeAttention(K, V, eps=1.0, degree=1, R=1.0, R_w=1.0, n_leaves=2)


def _dptree():
    from effteach.dp_attention import DPTree

    rng = np.random.default_rng(0)
    return DPTree(rng.uniform(0, 1, (5, 2)), rng.uniform(-1, 1, (5, 2)), eps=1.0,
                  x_max=1.0, w_max=1.0, n_leaves=4)


def calls() -> dict:
    """``"module.name" -> () -> Call`` for every public callable of the chapter."""
    import effteach.dp_attention as dp

    rng = np.random.default_rng(0)
    K, V = _kv()
    scores = (lambda: rng.normal(0, 1, 40), lambda: rng.normal(0.5, 1, 40))
    return {
        P + "AuditResult": lambda: Call(dp.AuditResult, (0.1, 0.2, 1.0, 1e-5, 0.3,
                                                         0.2, 1.0, 100, 0.05)),
        P + "audit_samples": lambda: Call(
            dp.audit_samples, (rng.normal(0, 1, (40, 3)), rng.normal(0, 1, (40, 3))),
            {"claimed_eps": 1.0, "delta": 1e-5}),
        P + "clopper_pearson": lambda: Call(dp.clopper_pearson, (3, 10, 0.05)),
        P + "epsilon_lower_bound": lambda: Call(
            dp.epsilon_lower_bound, (scores[0](), scores[1]()),
            {"claimed_eps": 1.0, "delta": 1e-5}),
        P + "normaliser_attack": lambda: Call(
            dp.normaliser_attack, (rng.uniform(-1, 1, (2, 5)), _q(5), 1, 6)),
        P + "worst_case_neighbours": lambda: Call(dp.worst_case_neighbours,
                                                  (4, 2, 1, 1.0, 1.0, 0, "value")),
        P + "degree_for": lambda: Call(dp.degree_for, (1.0, 1e-3)),
        P + "feature_max": lambda: Call(dp.feature_max, (2, 2, 1.0)),
        P + "feature_norm_sq": lambda: Call(dp.feature_norm_sq, (0.5, 2)),
        P + "feature_sup_norm": lambda: Call(dp.feature_sup_norm, (2, 2, 1.0)),
        P + "multi_indices": lambda: Call(dp.multi_indices, (2, 2)),
        P + "n_features": lambda: Call(dp.n_features, (2, 2)),
        P + "taylor_features": lambda: Call(dp.taylor_features, (_q(), 2)),
        P + "taylor_relative_error": lambda: Call(dp.taylor_relative_error, (0.5, 2)),
        P + "FlatDPAttention": lambda: Call(dp.FlatDPAttention, _kv(), {
            "eps": 1.0, "delta": 1e-5, "degree": 2, "R": 1.0, "R_w": 1.0,
            "clip": False, "grid": 2.0**-16, "n_runs": 2, "seed": 0}),
        P + "FlatDPAttention.query": lambda: Call(_flat().query, (_q(),)),
        P + "FlatDPAttention.error_bound": lambda: Call(_flat().error_bound, (_q(),)),
        P + "BrokenFlatDPAttention": lambda: Call(dp.BrokenFlatDPAttention, _kv(), {
            "eps": 1.0, "delta": 1e-5, "degree": 2, "R": 1.0, "R_w": 1.0}),
        P + "DPTreeAttention": lambda: Call(dp.DPTreeAttention, _kv(), {
            "eps": 1.0, "degree": 1, "R": 1.0, "R_w": 1.0, "denominator": "private",
            "n_leaves": 2, "clip": False, "grid": 2.0**-16, "n_runs": 2, "seed": 0}),
        P + "DPTreeAttention.query": lambda: Call(_tree().query, (_q(),)),
        P + "DPTreeAttention.denominator_at": lambda: Call(_tree().denominator_at,
                                                           (_q(),)),
        P + "DPTreeAttention.error_bound": lambda: Call(_tree().error_bound, (_q(),)),
        P + "check_keys_values": lambda: Call(dp.check_keys_values,
                                              (K, V, 1.0, 1.0, False)),
        P + "compose_advanced": lambda: Call(dp.compose_advanced, (0.1, 1e-6, 10,
                                                                   1e-5)),
        P + "compose_basic": lambda: Call(dp.compose_basic, ([0.1, 0.2],
                                                             [1e-6, 1e-6])),
        P + "compose_zcdp": lambda: Call(dp.compose_zcdp, ([0.1, 0.2],)),
        P + "discrete_gaussian": lambda: Call(dp.discrete_gaussian,
                                              (2.5, 4, np.random.default_rng(0))),
        P + "discrete_laplace": lambda: Call(dp.discrete_laplace,
                                             (2.5, (2, 3), np.random.default_rng(0))),
        P + "discrete_laplace_var": lambda: Call(dp.discrete_laplace_var, (2.5,)),
        P + "gaussian_delta": lambda: Call(dp.gaussian_delta, (1.0, 0.5)),
        P + "gaussian_epsilon": lambda: Call(dp.gaussian_epsilon, (1e-5, 0.5)),
        P + "gaussian_sigma": lambda: Call(dp.gaussian_sigma, (1.0, 1.0, 1e-5)),
        P + "laplace_scale": lambda: Call(dp.laplace_scale, (1.0, 0.5)),
        P + "zcdp_rho": lambda: Call(dp.zcdp_rho, (1.0, 1e-5)),
        P + "zcdp_to_dp": lambda: Call(dp.zcdp_to_dp, (0.02, 1e-5)),
        P + "binary_mechanism_ref": lambda: Call(
            dp.binary_mechanism_ref, (np.arange(4.0), [np.zeros(4), np.zeros(2),
                                                       np.zeros(1)])),
        P + "poly_attention_ref": lambda: Call(dp.poly_attention_ref,
                                               (_q(), K, V, 2)),
        P + "softmax_attention_ref": lambda: Call(dp.softmax_attention_ref,
                                                  (_q(), K, V)),
        P + "DPTree": lambda: Call(dp.DPTree, (rng.uniform(0, 1, (5, 2)),
                                               rng.uniform(-1, 1, (5, 2))), {
            "eps": 1.0, "x_max": 1.0, "w_max": 1.0, "n_leaves": 4,
            "grid": 2.0**-16, "n_runs": 1, "seed": 0}),
        P + "DPTree.query": lambda: Call(_dptree().query, (np.array([0.2, 0.7]),)),
        P + "canonical_nodes": lambda: Call(dp.canonical_nodes, (3, 4)),
        P + "level_offsets": lambda: Call(dp.level_offsets, (8,)),
        P + "measure_error": lambda: Call(dp.measure_error, ("flat", 20, 1.0, 2, 0)),
        P + "error_sweep": lambda: Call(dp.error_sweep, ("flat", [20], [1.0], 2, 0)),
        P + "audit_mechanism": lambda: Call(dp.audit_mechanism,
                                            ("flat", 1.0, 40, 0, 0.05)),
        P + "error_against_degree": lambda: Call(dp.error_against_degree,
                                                 ([1], 20, 1.0, 2, 0)),
        P + "sweeps": lambda: Call(dp.sweeps, (2, 40)),
        P + "dp_figure": lambda: Call(dp.dp_figure, (1.0, 10_000, 2, 40)),
        P + "dp_panel": lambda: Call(dp.dp_panel, (True,)),
    }
