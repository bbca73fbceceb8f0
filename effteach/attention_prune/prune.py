"""Pruning W_Q and W_K of the zoo's TinyGPT: the paper's GD mask and the baselines.

Protocol (fixed here, re-used by the sweep, the lecture and the assignment):

* calibration: :data:`N_CALIB` = 8 windows of 128 characters from the training
  split (the paper calibrates on 8 C4 sentences); each layer's attention input
  ``x`` (after its RMSNorm) is collected from the *dense* model (one-shot);
* every head of every layer is pruned separately: its query and key slices
  ``wq, wk`` (d_model, d_head), math convention ``q = x wq``, each to the same
  unstructured ``sparsity``; values, outputs and MLPs are untouched;
* methods (:data:`METHODS`): ``magnitude`` (|W| per matrix), ``wanda``
  (|W_ij| ||x_i|| within each output column), ``random``, ``ls_refit`` (Wanda's
  mask, kept weights refit by least squares on ``x w``: the linear objective that
  SparseGPT/OBS solve, here exactly), ``gd_mask`` (the paper: gradient descent
  with Armijo steps on the relaxed masks from all-ones, then keep the largest
  ``|M o W|``), ``gd_refit`` (ours: Wanda's support, then gradient descent on the
  attention loss over the kept entries, i.e. a real-valued mask on that support).

Paper: Liang et al., arXiv 2410.11261, Sec. 6.2-6.3 (Llama 3.2-1B, 8 C4 calibration
    sentences, attention error and perplexity against SparseGPT and Wanda).
Book: notebooks/attention_prune/lecture.md, "Experiments".
"""

from __future__ import annotations

import copy
import math

import torch

from effteach.attention_prune.objective import (
    binarize,
    descend,
    qk_grad,
    qk_loss,
    qk_scores,
)
from effteach.checks import check_float, check_int, check_tensor, typed
from effteach.models.gpt import TinyGPT

__all__ = [
    "METHODS",
    "N_CALIB",
    "SEQ",
    "GD_LAM",
    "GD_ITERS",
    "calibration_tokens",
    "attention_inputs",
    "prune_head",
    "prune_model",
    "attention_error",
    "heldout_perplexity",
]

METHODS = ("magnitude", "wanda", "random", "ls_refit", "gd_mask", "gd_refit")
N_CALIB = 8
SEQ = 128
GD_LAM = 1e-3  # ridge weight of the relaxed masks (per calibration sequence)
GD_ITERS = 40


def _check_model(model) -> TinyGPT:
    if not isinstance(model, TinyGPT):
        raise TypeError(f"model: expected a TinyGPT, got {type(model).__name__}")
    return model


def calibration_tokens(seed: int = 0, n: int = N_CALIB) -> torch.Tensor:
    """``n`` random windows of 128 ids from the training split, int64 (n, 128).

    Book: notebooks/attention_prune/lecture.md, "Experiments".
    """
    from effteach.data import text_splits

    seed = check_int("seed", seed, 0)
    n = check_int("n", n, 1)
    train = text_splits(SEQ).train
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(train) - SEQ, (n,), generator=g)
    return torch.stack([train[s:s + SEQ] for s in starts.tolist()])


@torch.no_grad()
def attention_inputs(model: TinyGPT, tokens: torch.Tensor) -> list[torch.Tensor]:
    """Each layer's attention input (after RMSNorm), float64 (batch, n, d_model).

    Book: notebooks/attention_prune/lecture.md, "Experiments".
    """
    model = _check_model(model)
    check_tensor("tokens", tokens, ndim=2, kind="int")
    if tokens.shape[1] > model.cfg.n_ctx:
        raise ValueError(f"tokens: at most {model.cfg.n_ctx} positions, got "
                         f"{tokens.shape[1]}")
    got: list[torch.Tensor] = []
    hooks = [layer.self_attn.register_forward_pre_hook(
        lambda _m, args: got.append(args[0].detach().double()))
        for layer in model.layers]
    try:
        model(tokens)
    finally:
        for h in hooks:
            h.remove()
    return got


def _head(model, layer, head):
    attn = model.layers[layer].self_attn
    sl = slice(head * attn.d_head, (head + 1) * attn.d_head)
    wq = attn.q_proj.weight[sl].detach().double().T.contiguous()
    wk = attn.k_proj.weight[sl].detach().double().T.contiguous()
    return wq, wk, sl


def _rope(model, n):
    return (model.rope_cos[:n].double(), model.rope_sin[:n].double())


def _ls_refit(x, w, mask, damp=1e-2):
    """Least-squares refit of each output column of ``w`` on its kept rows."""
    xf = x.reshape(-1, x.shape[-1])
    h = xf.T @ xf
    h = h + damp * h.diagonal().mean() * torch.eye(h.shape[0], dtype=h.dtype)
    target = h @ w  # X^T X w
    out = torch.zeros_like(w)
    for j in range(w.shape[1]):
        s = mask[:, j].bool()
        if s.any():
            out[s, j] = torch.linalg.solve(h[s][:, s], target[s, j])
    return out


@typed
def prune_head(method: str, x: torch.Tensor, wq: torch.Tensor, wk: torch.Tensor,
               sparsity: float, rope=None, lam: float = GD_LAM,
               iters: int = GD_ITERS, seed: int = 0
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Prune one head's ``wq, wk`` (d, d_head) to ``sparsity`` by ``method``.

    Args:
        method: one of :data:`METHODS`.
        x: calibration input (batch, n, d), float64.
        wq: (d, d_head).
        wk: (d, d_head).
        sparsity: in [0, 1).
        rope: ``(cos, sin)`` tables (n, d_head // 2) or None.
        lam: ridge weight of the relaxed masks (``gd_mask``), >= 0.
        iters: gradient steps (``gd_mask``, ``gd_refit``), >= 0.
        seed: seed of ``random``.

    Returns:
        The pruned ``(wq, wk)``, zeros where pruned.

    Paper: arXiv 2410.11261, Alg. 1 (``gd_mask``); Sec. 6 baselines.
    Book: notebooks/attention_prune/lecture.md, "Experiments".
    """
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    sparsity = check_float("sparsity", sparsity, low=0.0)
    if sparsity >= 1:
        raise ValueError(f"sparsity: expected a number in [0, 1), got {sparsity:g}")
    lam = check_float("lam", lam, low=0.0)
    iters = check_int("iters", iters, 0)
    seed = check_int("seed", seed, 0)
    check_tensor("x", x, ndim=3, kind="float")
    target = qk_scores(x, wq, wk, causal=True, rope=rope)  # checks the shapes
    norms = x.reshape(-1, x.shape[-1]).norm(dim=0)[:, None]  # ||x_i||, (d, 1)
    if method == "magnitude":
        return tuple(w * binarize(w.abs(), sparsity) for w in (wq, wk))
    if method == "random":
        g = torch.Generator().manual_seed(seed)
        return tuple(w * binarize(torch.rand(w.shape, generator=g, dtype=w.dtype),
                                  sparsity) for w in (wq, wk))
    masks = [binarize(w.abs() * norms, sparsity, dim=0) for w in (wq, wk)]
    if method == "wanda":
        return tuple(w * m for w, m in zip((wq, wk), masks, strict=True))
    if method == "ls_refit":
        return tuple(_ls_refit(x, w, m) for w, m in zip((wq, wk), masks, strict=True))
    if method == "gd_mask":
        tr = descend(lambda mq, mk: qk_loss(x, wq, wk, mq, mk, target, lam, True, rope),
                     lambda mq, mk: qk_grad(x, wq, wk, mq, mk, target, lam, True, rope),
                     (torch.ones_like(wq), torch.ones_like(wk)), iters)
        return tuple(w * binarize((m * w).abs(), sparsity)
                     for w, m in zip((wq, wk), tr.params, strict=True))
    # gd_refit: descend on the kept entries only (gradient masked to the support)
    sq, sk = masks

    def grad(mq, mk):
        gq, gk = qk_grad(x, wq, wk, mq, mk, target, 0.0, True, rope)
        return gq * sq, gk * sk

    tr = descend(lambda mq, mk: qk_loss(x, wq, wk, mq, mk, target, 0.0, True, rope),
                 grad, (sq.clone(), sk.clone()), iters)
    return tuple(w * m for w, m in zip((wq, wk), tr.params, strict=True))


@typed
def prune_model(model: TinyGPT, tokens: torch.Tensor, method: str, sparsity: float,
                lam: float = GD_LAM, iters: int = GD_ITERS, seed: int = 0
                ) -> TinyGPT:
    """A copy of ``model`` with every head's W_Q and W_K pruned by ``method``.

    Args:
        model: the zoo's TinyGPT.
        tokens: calibration ids (batch, n).
        method: as :func:`prune_head`.
        sparsity: as :func:`prune_head`.
        lam: as :func:`prune_head`.
        iters: as :func:`prune_head`.
        seed: as :func:`prune_head`.

    Book: notebooks/attention_prune/lecture.md, "Experiments".
    """
    xs = attention_inputs(model, tokens)
    out = copy.deepcopy(model)
    rope = _rope(model, tokens.shape[1])
    for li, x in enumerate(xs):
        attn = out.layers[li].self_attn
        for h in range(attn.n_heads):
            wq, wk, sl = _head(model, li, h)
            nq, nk = prune_head(method, x, wq, wk, sparsity, rope, lam, iters,
                                seed + 1000 * li + h)
            with torch.no_grad():
                attn.q_proj.weight[sl] = nq.T.to(attn.q_proj.weight.dtype)
                attn.k_proj.weight[sl] = nk.T.to(attn.k_proj.weight.dtype)
    return out


@torch.no_grad()
@typed
def attention_error(dense: TinyGPT, pruned: TinyGPT, tokens: torch.Tensor) -> float:
    """Mean over layers, heads and sequences of ``||A_pruned - A_dense||_F``.

    Each model's attention matrices are computed on its own layer inputs, so the
    error includes what earlier pruned layers changed.

    Book: notebooks/attention_prune/lecture.md, "Experiments".
    """
    xd, xp = attention_inputs(dense, tokens), attention_inputs(pruned, tokens)
    rope = _rope(dense, tokens.shape[1])
    errs = []
    for li in range(len(xd)):
        for h in range(dense.cfg.n_heads):
            wq, wk, _ = _head(dense, li, h)
            pq, pk, _ = _head(pruned, li, h)
            a = qk_scores(xd[li], wq, wk, True, rope)
            b = qk_scores(xp[li], pq, pk, True, rope)
            errs.append((a - b).flatten(1).norm(dim=1))
    return float(torch.cat(errs).mean())


@torch.no_grad()
@typed
def heldout_perplexity(model: TinyGPT, max_windows: int | None = None) -> float:
    """Perplexity on the validation split's non-overlapping 128-windows.

    Uses :func:`effteach.metrics.perplexity` on all scored ids at once.

    Book: notebooks/attention_prune/lecture.md, "Experiments".
    """
    from effteach.data import eval_batches, text_splits
    from effteach.metrics import perplexity

    _check_model(model)
    val = text_splits(SEQ).val
    if max_windows is not None:
        val = val[: check_int("max_windows", max_windows, 1) * SEQ + 1]
    nll, n = 0.0, 0
    for x, y in eval_batches(val, 64, SEQ):
        logits = model(x)
        k = y.numel()
        nll += math.log(perplexity(logits, y)) * k
        n += k
    return math.exp(nll / n)


