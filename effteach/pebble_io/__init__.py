"""pebble_io: the I/O complexity of attention in the red-blue pebble game.

A two-level-memory simulator that only allows legal pebble moves
(:class:`TwoLevelMemory`), attention schedules played on it (standard,
FlashAttention-1/2 forward, FlashAttention-2 backward in two variants, Saha & Ye's
square tiling forward and backward; causal and block-sparse), the exact closed form
of every count, a tile optimizer under the exact working set, the bounds and their
SymPy derivations, and the measurements of the chapter.

Paper: Li, Liang, Shi, Song, Zhou (v2 adds Yue, Zhang), "On Fine-Grained I/O
    Complexity of Attention Backward Passes", arXiv 2410.09397. Its full text was not
    available to us: statements tagged [T] come from reviews and summaries, [C] from
    primary papers we read (Saha & Ye 2024, FlashAttention), [R] are derived here.
Book: notebooks/pebble_io/lecture.md.
"""

from effteach.lazy_import import lazy_attributes
from effteach.pebble_io.bounds import (
    backward_bound,
    forward_bound,
    hong_kung_bound,
    lower_bound,
    regime,
    sparse_bound,
    trivial_floor,
)
from effteach.pebble_io.counts import (
    fa1_fwd_io,
    fa2_bwd_io,
    fa2_bwd_residency,
    fa2_bwd_two_pass_io,
    fa2_bwd_two_pass_residency,
    fa2_fwd_io,
    fa_fwd_residency,
    square_bwd_io,
    square_bwd_residency,
    square_fwd_io,
    square_fwd_residency,
    standard_bwd_io,
    standard_bwd_residency,
    standard_fwd_io,
    standard_fwd_residency,
    tile_sizes,
    tile_visibility,
)
from effteach.pebble_io.experiments import (
    cache_grid,
    closed_form_curve,
    crossover_point,
    io_curve,
    loglog_slope,
    measure_regimes,
    random_qkv,
)
from effteach.pebble_io.memory import (
    REGISTERS,
    CapacityError,
    Event,
    IOCounts,
    PebbleError,
    ResidencyError,
    Tile,
    TwoLevelMemory,
)
from effteach.pebble_io.reference import (
    allowed_mask,
    attention_bwd_ref,
    attention_lse_ref,
    attention_ref,
    check_qkv,
    probabilities_ref,
)
from effteach.pebble_io.schedules import (
    SCHEDULES,
    ScheduleResult,
    fa1_forward,
    fa2_backward,
    fa2_backward_two_pass,
    fa2_forward,
    run_schedule,
    square_backward,
    square_forward,
    standard_backward,
    standard_forward,
)
from effteach.pebble_io.tiles import (
    SCHEDULE_NAMES,
    best_tiles,
    dao_tiles,
    dao_tiles_report,
    min_sram,
    residency,
    schedule_io,
)

_VIZ = ("regime_figure", "regime_panel", "pebble_figure", "pebble_panel",
        "pebble_trace", "preset_sram", "gpu_figure", "ablation_figure",
        "roofline_figure")


__getattr__ = lazy_attributes(__name__, "viz", _VIZ)


__all__ = [
    # simulator
    "REGISTERS",
    "CapacityError",
    "Event",
    "IOCounts",
    "PebbleError",
    "ResidencyError",
    "Tile",
    "TwoLevelMemory",
    # references
    "allowed_mask",
    "attention_bwd_ref",
    "attention_lse_ref",
    "attention_ref",
    "check_qkv",
    "probabilities_ref",
    # schedules
    "SCHEDULES",
    "ScheduleResult",
    "fa1_forward",
    "fa2_backward",
    "fa2_backward_two_pass",
    "fa2_forward",
    "run_schedule",
    "square_backward",
    "square_forward",
    "standard_backward",
    "standard_forward",
    # closed forms
    "fa1_fwd_io",
    "fa2_bwd_io",
    "fa2_bwd_residency",
    "fa2_bwd_two_pass_io",
    "fa2_bwd_two_pass_residency",
    "fa2_fwd_io",
    "fa_fwd_residency",
    "square_bwd_io",
    "square_bwd_residency",
    "square_fwd_io",
    "square_fwd_residency",
    "standard_bwd_io",
    "standard_bwd_residency",
    "standard_fwd_io",
    "standard_fwd_residency",
    "tile_sizes",
    "tile_visibility",
    # tiles
    "SCHEDULE_NAMES",
    "best_tiles",
    "dao_tiles",
    "dao_tiles_report",
    "min_sram",
    "residency",
    "schedule_io",
    # bounds
    "backward_bound",
    "forward_bound",
    "hong_kung_bound",
    "lower_bound",
    "regime",
    "sparse_bound",
    "trivial_floor",
    # experiments
    "cache_grid",
    "closed_form_curve",
    "crossover_point",
    "io_curve",
    "loglog_slope",
    "measure_regimes",
    "random_qkv",
    # figures (lazy)
    "regime_figure",
    "regime_panel",
    "pebble_figure",
    "pebble_panel",
    "pebble_trace",
    "preset_sram",
    "gpu_figure",
    "ablation_figure",
    "roofline_figure",
]
