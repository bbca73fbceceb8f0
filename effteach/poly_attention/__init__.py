"""poly_attention: attention and its whole gradient through a low-rank polynomial.

Paper: Liang, Sha, Shi, Song, Zhou, "Multi-Layer Transformers Gradient Can be
    Approximated in Almost Linear Time", arXiv 2408.13233.
Book: notebooks/poly_attention/lecture.md.
"""

from effteach.poly_attention.attention import (
    BACKWARDS,
    PolyAttentionFunction,
    lowrank_apply,
    poly_attention,
)
from effteach.poly_attention.experiments import (
    error_vs_logit,
    logit_inputs,
    loglog_slope,
    memory_scaling,
    multilayer_errors,
    rel_err,
    time_scaling,
    train_compare,
)
from effteach.poly_attention.features import (
    METHODS,
    exp_poly_coeffs,
    feature_pair,
    feature_rank,
    monomial_exponents,
    paper_rank_bound,
    poly_features,
    tensor_rank,
)
from effteach.poly_attention.memory import MemoryReport, track_memory
from effteach.poly_attention.model import ATTNS, PolyTransformer
from effteach.poly_attention.reference import (
    attention_grads_ref,
    attention_ref,
    poly_attention_ref,
)
from effteach.poly_attention.theory import (
    degree_for,
    output_error_bound,
    paper_degree,
    poly_rel_error,
    taylor_error_bound,
)

__all__ = [
    "BACKWARDS",
    "PolyAttentionFunction",
    "lowrank_apply",
    "poly_attention",
    "error_vs_logit",
    "logit_inputs",
    "loglog_slope",
    "memory_scaling",
    "multilayer_errors",
    "rel_err",
    "time_scaling",
    "train_compare",
    "METHODS",
    "exp_poly_coeffs",
    "feature_pair",
    "feature_rank",
    "monomial_exponents",
    "paper_rank_bound",
    "poly_features",
    "tensor_rank",
    "MemoryReport",
    "track_memory",
    "ATTNS",
    "PolyTransformer",
    "attention_grads_ref",
    "attention_ref",
    "poly_attention_ref",
    "degree_for",
    "output_error_bound",
    "paper_degree",
    "poly_rel_error",
    "taylor_error_bound",
]
