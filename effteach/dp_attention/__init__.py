"""dp_attention: differentially private cross-attention, its error, and an audit.

Paper: Gu, Liang, Shi, Song, Zhou, "Differential Privacy of Cross-Attention with
    Provable Guarantee", arXiv 2407.14717 (v3: Ke, Liang, Shi, Song, Zhang,
    "Provable Differentially Private Computation of the Cross-Attention
    Mechanism").
Book: notebooks/dp_attention/lecture.md.
"""

from effteach.dp_attention.audit import (
    AuditResult,
    audit_samples,
    clopper_pearson,
    epsilon_lower_bound,
    normaliser_attack,
    worst_case_neighbours,
)
from effteach.dp_attention.experiments import (
    AUDIT_SETUP,
    ERROR_SETUP,
    MECHANISMS,
    audit_mechanism,
    error_against_degree,
    error_sweep,
    measure_error,
)
from effteach.dp_attention.features import (
    degree_for,
    feature_max,
    feature_norm_sq,
    feature_sup_norm,
    multi_indices,
    n_features,
    taylor_features,
    taylor_relative_error,
)
from effteach.dp_attention.mechanisms import (
    BrokenFlatDPAttention,
    DPTreeAttention,
    FlatDPAttention,
    check_keys_values,
)
from effteach.dp_attention.noise import (
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
from effteach.dp_attention.reference import (
    binary_mechanism_ref,
    poly_attention_ref,
    softmax_attention_ref,
)
from effteach.dp_attention.tree import DPTree, canonical_nodes, level_offsets
from effteach.lazy_import import lazy_attributes

_VIZ = ("EPSS", "NS", "sweeps", "dp_figure", "dp_panel")
__getattr__ = lazy_attributes(__name__, "viz", _VIZ)


__all__ = [
    "AuditResult",
    "audit_samples",
    "clopper_pearson",
    "epsilon_lower_bound",
    "normaliser_attack",
    "worst_case_neighbours",
    "degree_for",
    "feature_max",
    "feature_norm_sq",
    "feature_sup_norm",
    "multi_indices",
    "n_features",
    "taylor_features",
    "taylor_relative_error",
    "BrokenFlatDPAttention",
    "DPTreeAttention",
    "FlatDPAttention",
    "check_keys_values",
    "compose_advanced",
    "compose_basic",
    "compose_zcdp",
    "discrete_gaussian",
    "discrete_laplace",
    "discrete_laplace_var",
    "gaussian_delta",
    "gaussian_epsilon",
    "gaussian_sigma",
    "laplace_scale",
    "zcdp_rho",
    "zcdp_to_dp",
    "binary_mechanism_ref",
    "poly_attention_ref",
    "softmax_attention_ref",
    "DPTree",
    "canonical_nodes",
    "level_offsets",
    "AUDIT_SETUP",
    "ERROR_SETUP",
    "MECHANISMS",
    "audit_mechanism",
    "error_against_degree",
    "error_sweep",
    "measure_error",
    *_VIZ,
]
