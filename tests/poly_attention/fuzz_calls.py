"""Example calls of the poly_attention API for the bad-input fuzz harness.

Cheap functions get a real example call; the measurement drivers (timing, training,
memory sweeps) and classes are opted out with a reason.
"""

from __future__ import annotations

import torch
from fuzz_support import Call

import effteach.poly_attention as pa


def _t(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64) * 0.5


def calls() -> dict:
    """name -> () -> Call (a valid call the harness perturbs)."""
    from effteach.kernels import poly_attention as kp

    P = "effteach.poly_attention."  # noqa: N806
    K = "effteach.kernels.poly_attention."  # noqa: N806
    q16 = _t(1, 2, 20, 16, seed=3).float()
    u = _t(2, 20, 24, seed=4).float()
    q, k, v = _t(1, 2, 8, 3, seed=0), _t(1, 2, 8, 3, seed=1), _t(1, 2, 8, 3, seed=2)
    return {
        P + "feature_rank": lambda: Call(pa.feature_rank, (4, 2)),
        P + "tensor_rank": lambda: Call(pa.tensor_rank, (4, 2)),
        P + "paper_rank_bound": lambda: Call(pa.paper_rank_bound, (4, 2)),
        P + "monomial_exponents": lambda: Call(pa.monomial_exponents, (3, 2)),
        P + "exp_poly_coeffs": lambda: Call(pa.exp_poly_coeffs, (4, "chebyshev", 1.0)),
        P + "taylor_error_bound": lambda: Call(pa.taylor_error_bound, (4, 1.0)),
        P + "degree_for": lambda: Call(pa.degree_for, (1e-4, 1.0)),
        P + "output_error_bound": lambda: Call(pa.output_error_bound, (0.1,)),
        P + "paper_degree": lambda: Call(pa.paper_degree, (1e-4, 1.0)),
        P + "poly_rel_error": lambda: Call(pa.poly_rel_error, (4, 1.0)),
        P + "poly_features": lambda: Call(pa.poly_features, (q, 2, 0.5)),
        P + "feature_pair": lambda: Call(pa.feature_pair, (q, k, 2)),
        P + "lowrank_apply": lambda: Call(pa.lowrank_apply, (q, k, v)),
        P + "poly_attention": lambda: Call(pa.poly_attention, (q, k, v)),
        P + "attention_ref": lambda: Call(pa.attention_ref, (q, k, v)),
        P + "poly_attention_ref": lambda: Call(pa.poly_attention_ref, (q, k, v)),
        P + "attention_grads_ref": lambda: Call(pa.attention_grads_ref,
                                                (q, k, v, v.clone())),
        P + "logit_inputs": lambda: Call(pa.logit_inputs, (8, 3, 1.0)),
        P + "rel_err": lambda: Call(pa.rel_err, (q, k)),
        K + "taylor2_rank": lambda: Call(kp.taylor2_rank, (16,)),
        K + "taylor2_features": lambda: Call(kp.taylor2_features, (q16[0, 0], 0.25)),
        K + "chunk_causal_attention": lambda: Call(
            kp.chunk_causal_attention, (u.abs(), u.flip(1).abs(), q16[0, :, :, :5])),
        K + "poly_attention_triton": lambda: Call(kp.poly_attention_triton,
                                                  (q16, q16.flip(2), q16, 2, 0.25)),
    }


_WHY = "a measurement driver (loops over sizes, trains or times); its inputs are " \
       "checked by the functions it calls, tested in tests/poly_attention"
OPT_OUT = {
    "effteach.poly_attention." + n: _WHY
    for n in ("error_vs_logit", "time_scaling", "memory_scaling", "multilayer_errors",
              "train_compare", "loglog_slope", "track_memory")
}
OPT_OUT.update({
    "effteach.poly_attention.MemoryReport": "a frozen result record (no checks)",
    "effteach.poly_attention.PolyAttentionFunction": "an autograd.Function, called "
    "through poly_attention, which checks every argument",
    "effteach.poly_attention.PolyTransformer": "an nn.Module; its arguments are "
    "checked in __init__ (tested in tests/poly_attention)",
})
