"""Example calls of the fastcar API for the bad-input fuzz harness."""

from __future__ import annotations

import functools

import torch
from fuzz_support import Call

P = "effteach.fastcar."


def C(fn, *args, **kwargs):
    """A valid call ``fn(*args, **kwargs)``."""
    return Call(fn, args, kwargs)


@functools.cache
def _model():
    from effteach.models import ARVideoConfig, TinyARVideo

    torch.manual_seed(0)
    return TinyARVideo(ARVideoConfig(n_frames=3, img_size=8, patch=4, n_codes=8,
                                     d_model=16, n_layers=1, n_heads=2, d_ff=24))


@functools.cache
def _result():
    import effteach.fastcar as fc

    return fc.replay_decode(_model(), torch.zeros(1, 4, dtype=torch.long), 3)


def _trace(tmp=[]):  # noqa: B006 - one temp file per process
    import tempfile
    from pathlib import Path

    import effteach.fastcar as fc

    if not tmp:
        tmp.append(Path(tempfile.mkdtemp()) / "t.npz")
        fc.save_trace(tmp[0], _result())
    return tmp[0]


def calls() -> dict:
    """``"module.name" -> () -> Call`` for every public callable of the chapter."""
    import effteach.fastcar as fc

    g = torch.Generator().manual_seed(0)
    q = torch.randn(2, 2, 4, generator=g)
    k = torch.randn(2, 2, 5, 4, generator=g)
    h = torch.randn(3, 16, generator=g)
    layer = _model().gpt.layers[0]
    return {
        P + "tas_ref": lambda: C(fc.tas_ref, q, k, 2),
        P + "replay_mlp_ref": lambda: C(fc.replay_mlp_ref, h, layer.mlp, h.clone(),
                                        torch.zeros(3), 0.5),
        P + "drs_round_robin_ref": lambda: C(fc.drs_round_robin_ref,
                                             [True, False, True], 2),
        P + "static_map_ref": lambda: C(fc.static_map_ref, [True, False, True], 2),
        P + "replay_decode": lambda: C(fc.replay_decode, _model(),
                                       torch.zeros(1, 4, dtype=torch.long), 2,
                                       tau=0.0),
        P + "calibrate_tau": lambda: C(fc.calibrate_tau, torch.randn(3, 1, 2), 0.5),
        P + "open_loop_ratio": lambda: C(fc.open_loop_ratio, torch.randn(3, 1, 2),
                                         0.0),
        P + "mlp_rows": lambda: C(fc.mlp_rows, layer, h, torch.tensor(
            [True, False, True]), h.clone()),
        P + "save_trace": lambda: C(fc.save_trace, _trace(), _result()),
        P + "load_trace": lambda: C(fc.load_trace, _trace()),
    }


OPT_OUT = {
    P + "DecodeResult": "result record of replay_decode, output only",
}
