"""fastcar: replay the MLP across frames in AR video decoding (Cache Attentive Replay).

Paper: Shen et al., "FastCar: Cache Attentive Replay for Fast Auto-Regressive Video
    Generation on the Edge", arXiv 2505.14709 (ICLR 2026).
Book: notebooks/fastcar/lecture.md.
"""

from effteach.fastcar.reference import (
    drs_round_robin_ref,
    replay_mlp_ref,
    static_map_ref,
    tas_ref,
)
from effteach.fastcar.replay import (
    DecodeResult,
    calibrate_tau,
    load_trace,
    mlp_rows,
    open_loop_ratio,
    replay_decode,
    save_trace,
)

__all__ = [
    "tas_ref",
    "replay_mlp_ref",
    "drs_round_robin_ref",
    "static_map_ref",
    "DecodeResult",
    "replay_decode",
    "calibrate_tau",
    "open_loop_ratio",
    "save_trace",
    "load_trace",
    "mlp_rows",
]
