"""lazy_dit: learn which DiT modules may reuse the previous step, and skip them.

Paper: Shen et al., "LazyDiT: Lazy Learning for the Acceleration of Diffusion
    Transformers", AAAI 2025, arXiv 2412.12444.
Book: notebooks/lazy_dit/lecture.md.
"""

from effteach.lazy_dit.experiments import (
    DEFAULT_CONFIGS,
    RESULTS_PATH,
    compare,
    evaluate_policy,
    quality,
    similarity,
)
from effteach.lazy_dit.lazy import (
    MODULES,
    FullCompute,
    GatePolicy,
    LazyGates,
    Record,
    StaticSchedule,
    lazy_forward,
    lazy_sample,
    random_schedule,
    time_sampler,
)
from effteach.lazy_dit.macs import (
    DIT_XL_2_256,
    DIT_XL_2_512,
    DiTSpec,
    count_linear_macs,
    forward_macs,
    sampler_macs,
    spec_of,
)
from effteach.lazy_dit.reference import (
    cosine_ref,
    gate_score_ref,
    lazy_penalty_ref,
    lazy_ratio_ref,
    soft_mix_ref,
)
from effteach.lazy_dit.train import train_gates
from effteach.lazy_import import lazy_attributes

_VIZ = (
    "LazyRun",
    "lazy_run",
    "lazy_runs",
    "laziness_figure",
    "run_figure",
    "lazy_panel",
    "similarity_figure",
    "quality_compute_figure",
    "summarize_records",
)


__getattr__ = lazy_attributes(__name__, "viz", _VIZ)

__all__ = [
    "DEFAULT_CONFIGS",
    "RESULTS_PATH",
    "compare",
    "evaluate_policy",
    "quality",
    "similarity",
    "MODULES",
    "FullCompute",
    "GatePolicy",
    "LazyGates",
    "Record",
    "StaticSchedule",
    "lazy_forward",
    "lazy_sample",
    "random_schedule",
    "time_sampler",
    "DIT_XL_2_256",
    "DIT_XL_2_512",
    "DiTSpec",
    "count_linear_macs",
    "forward_macs",
    "sampler_macs",
    "spec_of",
    "cosine_ref",
    "gate_score_ref",
    "lazy_penalty_ref",
    "lazy_ratio_ref",
    "soft_mix_ref",
    "train_gates",
    *_VIZ,
]
