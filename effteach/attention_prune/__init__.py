"""attention_prune: prune W_Q/W_K so that the softmax attention matrix stays close.

The non-linear objective (the attention matrix's Frobenius error plus a ridge on
the relaxed mask), its closed-form gradient, gradient descent with a fixed step or
Armijo backtracking, binarisation, the baselines (magnitude, Wanda, random, a
least-squares refit on the linear objective) and the experiments on the zoo's
TinyGPT.

Paper: Liang, Long, Shi, Song, Zhou, "Beyond Linear Approximations: A Novel Pruning
    Approach for Attention Matrix", ICLR 2025, arXiv 2410.11261.
Book: notebooks/attention_prune/lecture.md.
"""

from effteach.attention_prune.experiments import (
    EVAL_SEED,
    RESULTS_PATH,
    SPARSITIES,
    convergence,
    run_point,
    smoothness,
    sweep,
    table,
)
from effteach.attention_prune.objective import (
    Trace,
    attention_grad,
    attention_loss,
    attention_matrix,
    binarize,
    descend,
    error_projection,
    qk_grad,
    qk_loss,
    qk_scores,
)
from effteach.attention_prune.prune import (
    GD_ITERS,
    GD_LAM,
    METHODS,
    N_CALIB,
    attention_error,
    attention_inputs,
    calibration_tokens,
    heldout_perplexity,
    prune_head,
    prune_model,
)
from effteach.attention_prune.reference import (
    attention_loss_ref,
    qk_loss_ref,
    softmax_jacobian_ref,
    softmax_ref,
)

__all__ = [
    "EVAL_SEED", "RESULTS_PATH", "SPARSITIES", "convergence", "run_point",
    "smoothness", "sweep", "table",
    "Trace", "attention_grad", "attention_loss", "attention_matrix", "binarize",
    "descend", "error_projection", "qk_grad", "qk_loss", "qk_scores",
    "GD_ITERS", "GD_LAM", "METHODS", "N_CALIB", "attention_error",
    "attention_inputs", "calibration_tokens", "heldout_perplexity", "prune_head",
    "prune_model",
    "attention_loss_ref", "qk_loss_ref", "softmax_jacobian_ref", "softmax_ref",
]
