"""Example calls of the newton_prune API for the bad-input fuzz harness."""

from __future__ import annotations

import functools

import torch
from fuzz_support import Call

P = "effteach.newton_prune."


def C(fn, *args, **kwargs) -> Call:  # noqa: N802  (as tests/core/fuzz_registry.py)
    """A valid call ``fn(*args, **kwargs)``."""
    return Call(fn, args, kwargs)


def _t(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def _gram(d=4, seed=0):
    x = _t(3 * d, d, seed=seed)
    return x.T @ x


@functools.cache
def _tiny():
    from effteach.models import GPTConfig, TinyGPT

    torch.manual_seed(0)
    return TinyGPT(GPTConfig(vocab_size=8, n_ctx=8, d_model=8, n_layers=1, n_heads=2,
                             d_ff=8)).eval()


def _tokens():
    return torch.randint(0, 8, (3, 8), generator=torch.Generator().manual_seed(0))


@functools.cache
def _calib():
    from effteach.newton_prune import calibrate

    return calibrate(_tiny(), _tokens())


def _scores():
    from effteach.newton_prune import unit_scores

    return unit_scores(_tiny(), _calib(), "wanda", 0.5)


def _result():
    base = {"allocation": "uniform", "seed": 0, "actual_sparsity": 0.3,
            "heads_kept": [1], "channels_kept": [4]}
    rows = [{"method": "dense", "allocation": None, "compensation": False,
             "seed": None, "sparsity": 0.0, "ppl": 5.0}]
    for m in ("newton", "magnitude", "wanda", "flap", "random"):
        for comp in (False, True):
            for s in (0.3, 0.5):
                rows.append({**base, "method": m, "compensation": comp, "sparsity": s,
                             "allocation": "global" if m in ("newton", "flap")
                             else "uniform", "ppl": 6.0 + s + (not comp)})
    return {"records": rows}


def calls() -> dict:
    """``"module.name" -> () -> Call`` for every public callable of the chapter."""
    import effteach.newton_prune as npr

    return {
        P + "calibration_tokens": lambda: C(npr.calibration_tokens, 0, n=2),
        P + "heldout_perplexity": lambda: C(npr.heldout_perplexity,
                                               _text_model(), max_windows=1),
        P + "run_point": lambda: C(npr.run_point, _text_model(), 0.3, "wanda",
                                      True, None, 0, max_windows=1),
        P + "efficiency": lambda: C(npr.efficiency, _tiny(), batch=1, prompt=2,
                                       n_new=2, repeats=1, peak_memory=False),
        P + "summarize": lambda: C(npr.summarize, _result()["records"]),
        P + "calibrate": lambda: C(npr.calibrate, _tiny(), _tokens(), batch_size=2),
        P + "unit_scores": lambda: C(npr.unit_scores, _tiny(), _calib(), "newton",
                                        0.5, 1.0, 0),
        P + "select": lambda: C(npr.select, _tiny(), *_scores(), 0.5, "global"),
        P + "compensate": lambda: C(npr.compensate, _gram(), _t(4, 3),
                                       torch.tensor([0, 2]), 1e-6),
        P + "prune_model": lambda: C(npr.prune_model, _tiny(), _calib(), 0.5,
                                        "newton", True, None, 1.0, 0, False),
        P + "block_params": lambda: C(npr.block_params, _tiny()),
        P + "compensate_ref": lambda: C(npr.compensate_ref, _gram(), _t(4, 3),
                                           torch.tensor([1])),
        P + "lstsq_refit_ref": lambda: C(npr.lstsq_refit_ref, _t(12, 4), _t(4, 3),
                                            torch.tensor([0, 3])),
        P + "newton_closed_form_ref": lambda: C(npr.newton_closed_form_ref,
                                                   _gram(), _t(4, 3), 0.5, 1.0),
        P + "newton_hessian_ref": lambda: C(npr.newton_hessian_ref, _gram(),
                                               _t(4, 3)),
        P + "newton_iterate_ref": lambda: C(npr.newton_iterate_ref, _gram(),
                                               _t(4, 3), 0.5, 1.0, 2, None),
        P + "wanda_channel_ref": lambda: C(npr.wanda_channel_ref, _gram(),
                                              _t(4, 3)),
        P + "lemma1_sides": lambda: C(npr.lemma1_sides, _t(5, 4), _t(4),
                                         torch.tensor([1.0, 0.0, 1.0, 1.0])),
        P + "ppl_figure": lambda: C(npr.ppl_figure, _result(), None, True, 0.5),
        P + "ppl_panel": lambda: C(npr.ppl_panel, _result(), (0,)),
        P + "kept_map_figure": lambda: C(npr.kept_map_figure, _tiny(), _calib(),
                                            "wanda", None, (0.2, 0.5), 1),
        P + "kept_panel": lambda: C(npr.kept_panel, _tiny(), _calib()),
    }


@functools.cache
def _text_model():
    from effteach import zoo

    return zoo.load("tinygpt_text")


OPT_OUT = {
    P + "sweep": "the whole multi-seed sweep (minutes); its parts run_point, "
    "calibrate and prune_model are fuzzed",
    P + "LayerStats": "result record of calibrate, output only",
    P + "Calibration": "result record of calibrate, output only",
    P + "Plan": "result record of select, output only",
    P + "save_pruned": "writes files; tests/newton_prune/test_prune.py checks its "
    "path argument and round trip",
    P + "load_pruned": "reads files written by save_pruned; round trip tested in "
    "tests/newton_prune/test_prune.py",
}
