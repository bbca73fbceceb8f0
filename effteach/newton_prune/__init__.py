"""newton_prune: structured pruning with Newton scores and Theorem-3 compensation.

Calibrate on text, score heads and MLP channels (the paper's numerical score and
four baselines), select them globally or per layer, compensate the remaining weights
(Theorem 3 = least squares) and remove the pruned structures physically.

Paper: Shen et al., "Numerical Pruning for Efficient Autoregressive Models", AAAI
    2025, arXiv 2412.12441.
Book: notebooks/newton_prune/lecture.md.
"""

from effteach.lazy_import import lazy_attributes
from effteach.newton_prune.experiments import (
    N_CALIB,
    RESULTS_PATH,
    SPARSITIES,
    calibration_tokens,
    efficiency,
    heldout_perplexity,
    run_point,
    summarize,
    sweep,
)
from effteach.newton_prune.prune import (
    ALLOCATIONS,
    DEFAULT_ALLOCATION,
    METHODS,
    Calibration,
    LayerStats,
    Plan,
    block_params,
    calibrate,
    compensate,
    load_pruned,
    prune_model,
    save_pruned,
    select,
    unit_scores,
)
from effteach.newton_prune.reference import (
    compensate_ref,
    lemma1_sides,
    lstsq_refit_ref,
    newton_closed_form_ref,
    newton_hessian_ref,
    newton_iterate_ref,
    wanda_channel_ref,
)

_VIZ = ("ppl_figure", "ppl_panel", "kept_map_figure", "kept_panel")

__getattr__ = lazy_attributes(__name__, "viz", _VIZ)

__all__ = [
    "N_CALIB",
    "RESULTS_PATH",
    "SPARSITIES",
    "calibration_tokens",
    "efficiency",
    "heldout_perplexity",
    "run_point",
    "summarize",
    "sweep",
    "ALLOCATIONS",
    "DEFAULT_ALLOCATION",
    "METHODS",
    "Calibration",
    "LayerStats",
    "Plan",
    "block_params",
    "calibrate",
    "compensate",
    "load_pruned",
    "prune_model",
    "save_pruned",
    "select",
    "unit_scores",
    "compensate_ref",
    "lemma1_sides",
    "lstsq_refit_ref",
    "newton_closed_form_ref",
    "newton_hessian_ref",
    "newton_iterate_ref",
    "wanda_channel_ref",
    *_VIZ,
]
