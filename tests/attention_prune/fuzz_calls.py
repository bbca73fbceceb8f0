"""Example calls of the attention_prune API for the bad-input fuzz harness.

One small valid call per public function; the harness swaps one argument at a time
for a bad value. Model-level calls use a tiny TinyGPT (random weights) except where
the function reads the text corpus (perplexity, ``run_point``): there the zoo's
``tinygpt_text`` with one validation window and the cheapest method.
"""

from __future__ import annotations

import functools

import torch
from fuzz_support import Call

P = "effteach.attention_prune."


def C(fn, *args, **kwargs) -> Call:  # noqa: N802  (as tests/core/fuzz_registry.py)
    """A valid call ``fn(*args, **kwargs)``."""
    return Call(fn, args, kwargs)


def _t(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def _attn(b=2, n=5, seed=1):
    from effteach.attention_prune import attention_matrix

    return attention_matrix(_t(b, n, n, seed=seed), True)


@functools.cache
def _tiny():
    from effteach.models import GPTConfig, TinyGPT

    torch.manual_seed(0)
    return TinyGPT(GPTConfig(vocab_size=8, n_ctx=8, d_model=8, n_layers=1, n_heads=2,
                             d_ff=8)).eval()


@functools.cache
def _text_model():
    from effteach import zoo

    return zoo.load("tinygpt_text")


def _tokens():
    return torch.randint(0, 8, (2, 6), generator=torch.Generator().manual_seed(0))


def _records():
    return [{"method": "dense", "sparsity": 0.0, "attn_err": 0.0, "ppl": 5.0},
            {"method": "wanda", "sparsity": 0.5, "attn_err": 1.0, "ppl": 6.0}]


def _quad():
    def loss(m):
        return float((m**2).sum())

    def grad(m):
        return 2 * m

    return loss, grad


def calls() -> dict:
    """``"module.name" -> () -> Call`` for every public callable of the chapter."""
    import effteach.attention_prune as ap

    x, w, m = _t(2, 5, 4), _t(4, 4, seed=2), torch.ones(4, 4, dtype=torch.float64)
    wq, wk = _t(4, 2, seed=3), _t(4, 2, seed=4)
    ones = torch.ones(4, 2, dtype=torch.float64)
    return {
        P + "attention_matrix": lambda: C(ap.attention_matrix, _t(2, 5, 5), True),
        P + "error_projection": lambda: C(ap.error_projection, _attn(),
                                             _t(2, 5, 5, seed=5)),
        P + "attention_loss": lambda: C(ap.attention_loss, x, w, m, _attn(), 0.1,
                                           True),
        P + "attention_grad": lambda: C(ap.attention_grad, x, w, m, _attn(), 0.1,
                                           False),
        P + "qk_scores": lambda: C(ap.qk_scores, x, wq, wk, True),
        P + "qk_loss": lambda: C(ap.qk_loss, x, wq, wk, ones, ones, _attn(), 0.1,
                                    True),
        P + "qk_grad": lambda: C(ap.qk_grad, x, wq, wk, ones, ones, _attn(), 0.1,
                                    True),
        P + "descend": lambda: C(ap.descend, *_quad(), torch.ones(3, 2), 3,
                                    step=0.1),
        P + "binarize": lambda: C(ap.binarize, _t(4, 4), 0.5, dim=0),
        P + "calibration_tokens": lambda: C(ap.calibration_tokens, 0, n=2),
        P + "attention_inputs": lambda: C(ap.attention_inputs, _tiny(), _tokens()),
        P + "prune_head": lambda: C(ap.prune_head, "gd_mask", x, wq, wk, 0.5,
                                       None, 0.01, 2, 0),
        P + "prune_model": lambda: C(ap.prune_model, _tiny(), _tokens(), "wanda",
                                        0.5, 0.01, 2, 0),
        P + "attention_error": lambda: C(ap.attention_error, _tiny(), _tiny(),
                                            _tokens()),
        P + "heldout_perplexity": lambda: C(ap.heldout_perplexity, _text_model(),
                                               max_windows=1),
        P + "run_point": lambda: C(ap.run_point, _text_model(), "magnitude", 0.5, 0,
                                      max_windows=1),
        P + "table": lambda: C(ap.table, _records(), "ppl"),
        P + "smoothness": lambda: C(ap.smoothness, x, wq, wk, ones, ones, _attn(),
                                       0.1, None, 2, 0),
        P + "convergence": lambda: C(ap.convergence, _text_model(), 0, 0, 0.01, 2,
                                        0, 1),
        P + "attention_loss_ref": lambda: C(ap.attention_loss_ref, x, w, m, _attn(),
                                               0.1, True),
        P + "qk_loss_ref": lambda: C(ap.qk_loss_ref, x, wq, wk, ones, ones, _attn(),
                                        0.1, True),
        P + "softmax_jacobian_ref": lambda: C(ap.softmax_jacobian_ref,
                                                 torch.softmax(_t(5), -1)),
        P + "softmax_ref": lambda: C(ap.softmax_ref, _t(2, 5, 5), True),
    }


OPT_OUT = {
    P + "Trace": "result record of descend, output only",
    P + "sweep": "the whole committed experiment (150 s); its model, sparsities "
    "and methods are fuzzed through run_point and prune_model",
}
