"""Structured pruning of a TinyGPT: calibrate, score, select, compensate, remove.

The pipeline of the paper (Sec. 3, Fig. 1), on the zoo's LLaMA-style TinyGPT:

1. :func:`calibrate`: run calibration tokens through the model and accumulate, per
   layer and in float64, the Gram matrix ``G = X^T X / N`` and the mean of the
   inputs of ``o_proj`` (the concatenated head outputs, D = d_model) and of
   ``down_proj`` (the SwiGLU activations, D = d_ff). We divide by the number of
   tokens N so that the penalty ``lam`` means the same for any calibration size
   (the paper sums; the ranking inside a layer does not change).
2. :func:`unit_scores`: one score per attention head and per MLP channel of every
   layer, larger = keep. ``"newton"`` is the paper's numerical score (closed form
   of Algorithm 1, head score = mean over the head's channels); the baselines are
   ``"magnitude"`` (row norm of W), ``"wanda"`` (structured Wanda
   ``|X_j| |W_j|``), ``"flap"`` (FLAP-like fluctuation ``Var(X_j) |W_j|^2``,
   standardised per layer and module) and ``"random"``.
3. :func:`select`: which units to remove for a target sparsity, the share of the
   blocks' projection parameters (q, k, v, o, gate, up, down) to remove.
   ``"global"``: one ranking over all layers, heads and channels, counting each
   unit's parameters (a head is 4 d_model d_head, a channel 3 d_model: our reading of
   the paper's Eq. 8, as FLAP does it); ``"literal"``: Eq. 8 as printed (head scores
   times ``4 D_h / 3``, threshold at the ``rho (L H + L D_int)``-th unit);
   ``"uniform"``: the same share in every layer, heads rounded, channels fill the
   rest. Every layer keeps at least one head and one channel.
4. :func:`compensate`: Theorem 3 for ``o_proj`` and ``down_proj``, computed as the
   least-squares refit of the kept rows, ``W_K = G_KK^{-1} G_{K:} W`` (identical,
   see :func:`effteach.newton_prune.reference.compensate_ref`).
5. :func:`prune_model`: all of it, then **physical removal**: q/k/v lose the output
   rows of the removed heads, o_proj the matching input columns; gate/up lose output
   rows, down_proj input columns. The result is a smaller TinyGPT that generates
   with its KV cache (fewer heads cached) and saves with :func:`save_pruned`.

The caller's model is never modified unless ``inplace=True``.

Paper: arXiv 2412.12441, Sec. 3.2-3.4, Eq. (8), Algorithm 1, Theorem 3.
Book: notebooks/newton_prune/lecture.md, "The method".
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from effteach.checks import check_float, check_int, check_tensor, typed
from effteach.io import atomic_write, atomic_write_text
from effteach.models.gpt import GPTConfig, TinyGPT
from effteach.models.layers import Attention, SwiGLU
from effteach.newton_prune.reference import newton_closed_form_ref

__all__ = [
    "METHODS",
    "ALLOCATIONS",
    "DEFAULT_ALLOCATION",
    "LayerStats",
    "Calibration",
    "Plan",
    "calibrate",
    "unit_scores",
    "select",
    "compensate",
    "prune_model",
    "block_params",
    "save_pruned",
    "load_pruned",
]

METHODS = ("newton", "magnitude", "wanda", "flap", "random")
ALLOCATIONS = ("global", "uniform", "literal")
#: The allocation each method uses unless told otherwise: the paper's and FLAP's
#: global ranking for their own scores; the same share per layer for the baselines,
#: whose scores are not comparable across layers.
DEFAULT_ALLOCATION = {"newton": "global", "flap": "global", "magnitude": "uniform",
                      "wanda": "uniform", "random": "uniform"}


@dataclasses.dataclass(frozen=True)
class LayerStats:
    """Calibration statistics of one layer (float64).

    Attributes:
        gram_o: ``X^T X / N`` of o_proj's inputs, (d_model, d_model).
        mean_o: mean of o_proj's inputs, (d_model,).
        gram_d: ``X^T X / N`` of down_proj's inputs, (d_ff, d_ff).
        mean_d: mean of down_proj's inputs, (d_ff,).
    """

    gram_o: torch.Tensor
    mean_o: torch.Tensor
    gram_d: torch.Tensor
    mean_d: torch.Tensor


@dataclasses.dataclass(frozen=True)
class Calibration:
    """Per-layer statistics of the calibration tokens, and how many there were."""

    layers: tuple[LayerStats, ...]
    n_tokens: int


def _check_model(model) -> TinyGPT:
    if not isinstance(model, TinyGPT):
        raise TypeError(f"model: expected a TinyGPT, got {type(model).__name__}")
    return model


@torch.no_grad()
@typed
def calibrate(model: TinyGPT, tokens: torch.Tensor, batch_size: int = 16
              ) -> Calibration:
    """Capture the inputs of every o_proj and down_proj on calibration tokens.

    Args:
        model: the dense TinyGPT (any of its linear layers may have been pruned).
        tokens: calibration windows, int64, shape (n_windows, n) with
            ``n <= model.cfg.n_ctx`` and ids in ``[0, vocab_size)``.
        batch_size: windows per forward pass, >= 1.

    Returns:
        A :class:`Calibration` with ``G = X^T X / N`` and the means, float64.

    Raises:
        TypeError, ValueError: naming ``tokens`` for a wrong dtype, rank, length or
            id range.

    Paper: arXiv 2412.12441, Sec. 4.1 (128 WikiText2 samples; here windows of the
        book's stdlib corpus).
    """
    _check_model(model)
    check_tensor("tokens", tokens, ndim=2, dtype=torch.long)
    if tokens.shape[1] > model.cfg.n_ctx:
        raise ValueError(f"tokens: windows of {tokens.shape[1]} exceed n_ctx="
                         f"{model.cfg.n_ctx}")
    if int(tokens.min()) < 0 or int(tokens.max()) >= model.cfg.vocab_size:
        raise ValueError(f"tokens: ids must lie in [0, {model.cfg.vocab_size})")
    batch_size = check_int("batch_size", batch_size, 1)
    sums: dict[tuple[int, str], list[torch.Tensor]] = {}

    def hook(key):
        def fn(_mod, args):
            x = args[0].reshape(-1, args[0].shape[-1]).double()
            if key not in sums:
                d = x.shape[1]
                sums[key] = [torch.zeros(d, d, dtype=torch.float64),
                             torch.zeros(d, dtype=torch.float64)]
            sums[key][0] += x.T @ x
            sums[key][1] += x.sum(0)
        return fn

    handles = []
    for i, layer in enumerate(model.layers):
        handles.append(layer.self_attn.o_proj.register_forward_pre_hook(hook((i, "o"))))
        handles.append(layer.mlp.down_proj.register_forward_pre_hook(hook((i, "d"))))
    try:
        for start in range(0, tokens.shape[0], batch_size):
            model(tokens[start:start + batch_size])
    finally:
        for h in handles:
            h.remove()
    n = tokens.numel()
    stats = tuple(
        LayerStats(sums[i, "o"][0] / n, sums[i, "o"][1] / n,
                   sums[i, "d"][0] / n, sums[i, "d"][1] / n)
        for i in range(len(model.layers)))
    return Calibration(stats, n)


def _check_calib(calib, model: TinyGPT) -> None:
    if not isinstance(calib, Calibration):
        raise TypeError(f"calib: expected a Calibration, got {type(calib).__name__}")
    if len(calib.layers) != len(model.layers):
        raise ValueError(f"calib: has {len(calib.layers)} layers, the model "
                         f"{len(model.layers)}")
    for i, (st, layer) in enumerate(zip(calib.layers, model.layers, strict=True)):
        d_o, d_d = layer.self_attn.o_proj.in_features, layer.mlp.down_proj.in_features
        if st.gram_o.shape != (d_o, d_o) or st.gram_d.shape != (d_d, d_d):
            raise ValueError(
                f"calib: layer {i} statistics have shapes {tuple(st.gram_o.shape)}, "
                f"{tuple(st.gram_d.shape)}; the model's inputs are {d_o} and {d_d} "
                "wide (calibrate the model you prune)")


def _w(linear: nn.Linear) -> torch.Tensor:
    """Weights in the paper's convention, (in, out) = ``weight.T``, float64."""
    return linear.weight.detach().double().T


def _heads(per_channel: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Head score = mean over the head's d_head channels (paper, Sec. 3.3)."""
    return per_channel.view(n_heads, -1).mean(dim=1)


def _standardise(s: torch.Tensor) -> torch.Tensor:
    std = s.std() if s.numel() > 1 else torch.tensor(1.0, dtype=s.dtype)
    return (s - s.mean()) / (std if std > 0 else 1.0)


def _damped(gram: torch.Tensor, damp: float) -> torch.Tensor:
    d = gram.shape[0]
    return gram + damp * gram.diagonal().mean().clamp_min(1e-12) * torch.eye(
        d, dtype=gram.dtype)


@torch.no_grad()
@typed
def unit_scores(
    model: TinyGPT,
    calib: Calibration,
    method: str,
    rho: float = 0.5,
    lam: float = 1.0,
    seed: int = 0,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Importance of every head and MLP channel, per layer; larger = keep.

    Args:
        model: the TinyGPT to score (dense: ``cfg.n_heads`` heads per layer).
        calib: its :func:`calibrate` statistics.
        method: one of :data:`METHODS`.
        rho: pruning ratio the Newton score is solved for, in [0, 1) (only
            ``"newton"`` reads it; the ranking inside a layer does not depend on it
            for rho > 0).
        lam: the Newton penalty weight, > 0.
        seed: for ``"random"``.

    Returns:
        ``(heads, channels)``: lists over layers of float64 tensors of shapes
        (n_heads,) and (d_ff,).

    Raises:
        ValueError: naming ``method`` if unknown, ``calib`` if it does not fit.

    Paper: arXiv 2412.12441, Sec. 3.2-3.3 (newton); Sun et al. 2024 (wanda); An et
        al., FLAP, AAAI 2024 (flap).
    """
    _check_model(model)
    _check_calib(calib, model)
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    rho = check_float("rho", rho, 0.0, 1.0)
    if rho >= 1:
        raise ValueError(f"rho: expected a sparsity in [0, 1), got {rho:g}")
    lam = check_float("lam", lam, 0.0, low_open=True)
    gen = torch.Generator().manual_seed(seed)
    heads, chans = [], []
    for st, layer in zip(calib.layers, model.layers, strict=True):
        attn, mlp = layer.self_attn, layer.mlp
        w_o, w_d = _w(attn.o_proj), _w(mlp.down_proj)
        if method == "newton":
            # rho = 0 makes every z exactly 1: solve for a small ratio instead, the
            # ranking is the same for every rho > 0
            r = max(rho, 1e-3)
            s_o = newton_closed_form_ref(_damped(st.gram_o, 1e-8), w_o, r, lam)
            s_d = newton_closed_form_ref(_damped(st.gram_d, 1e-8), w_d, r, lam)
        elif method == "magnitude":
            s_o, s_d = w_o.norm(dim=1), w_d.norm(dim=1)
        elif method == "wanda":
            s_o = st.gram_o.diagonal().clamp_min(0).sqrt() * w_o.norm(dim=1)
            s_d = st.gram_d.diagonal().clamp_min(0).sqrt() * w_d.norm(dim=1)
        elif method == "flap":
            var_o = (st.gram_o.diagonal() - st.mean_o**2).clamp_min(0)
            var_d = (st.gram_d.diagonal() - st.mean_d**2).clamp_min(0)
            s_o, s_d = var_o * w_o.pow(2).sum(1), var_d * w_d.pow(2).sum(1)
        else:
            s_o = torch.rand(w_o.shape[0], generator=gen, dtype=torch.float64)
            s_d = torch.rand(w_d.shape[0], generator=gen, dtype=torch.float64)
        h = _heads(s_o, attn.n_heads)
        if method == "flap":  # FLAP compares standardised scores across layers
            h, s_d = _standardise(h), _standardise(s_d)
        heads.append(h)
        chans.append(s_d)
    return heads, chans


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a selection keeps: sorted indices per layer, and the parameter counts.

    Attributes:
        keep_heads: per layer, int64 indices of the kept heads.
        keep_channels: per layer, int64 indices of the kept MLP channels.
        params_before: projection parameters of all blocks before pruning.
        params_after: the same after pruning.
    """

    keep_heads: tuple[torch.Tensor, ...]
    keep_channels: tuple[torch.Tensor, ...]
    params_before: int
    params_after: int

    @property
    def sparsity(self) -> float:
        """The share of the blocks' projection parameters removed."""
        return 1 - self.params_after / self.params_before


def _sizes(model: TinyGPT) -> tuple[int, int, int]:
    """(d_model, d_head, dense n_heads)."""
    cfg = model.cfg
    return cfg.d_model, cfg.d_model // cfg.n_heads, cfg.n_heads


@typed
def select(
    model: TinyGPT,
    heads: list[torch.Tensor],
    channels: list[torch.Tensor],
    sparsity: float,
    allocation: str = "global",
) -> Plan:
    """Choose the heads and channels to keep for a target sparsity.

    Args:
        model: the dense model the scores belong to.
        heads: per layer, head scores (n_heads,), larger = keep.
        channels: per layer, channel scores (d_ff,).
        sparsity: target share of block projection parameters to remove, [0, 1).
        allocation: ``"global"`` (parameter-weighted ranking over all layers),
            ``"uniform"`` (the same share per layer) or ``"literal"`` (Eq. 8 as
            printed: heads scaled by ``4 d_head / 3``, a share of *units* removed).

    Returns:
        A :class:`Plan`.

    Raises:
        ValueError: naming ``sparsity`` outside [0, 1), ``allocation`` if unknown,
            ``heads``/``channels`` of the wrong length or shape.

    Paper: arXiv 2412.12441, Eq. (8); An et al., FLAP (parameter-weighted global
        threshold).
    """
    _check_model(model)
    sparsity = check_float("sparsity", sparsity, 0.0, 1.0)
    if sparsity >= 1:
        raise ValueError(f"sparsity: expected a share in [0, 1), got {sparsity:g}")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation: expected one of {ALLOCATIONS}, got "
                         f"{allocation!r}")
    d_model, d_head, n_heads = _sizes(model)
    n_layers = len(model.layers)
    for name, scores, width in (("heads", heads, n_heads),
                                ("channels", channels, model.cfg.d_ff)):
        if len(scores) != n_layers:
            raise ValueError(f"{name}: expected {n_layers} layers, got {len(scores)}")
        for i, s in enumerate(scores):
            check_tensor(f"{name}[{i}]", s, shape=(width,), kind="float", finite=True)
    p_head, p_chan = 4 * d_model * d_head, 3 * d_model
    total = n_layers * (n_heads * p_head + model.cfg.d_ff * p_chan)
    target = sparsity * total
    drop_h = [set() for _ in range(n_layers)]
    drop_c = [set() for _ in range(n_layers)]

    def can_drop(kind: str, layer: int) -> bool:
        if kind == "h":
            return len(drop_h[layer]) < n_heads - 1
        return len(drop_c[layer]) < model.cfg.d_ff - 1

    if allocation == "uniform":
        per_layer = n_heads * p_head + model.cfg.d_ff * p_chan
        for i in range(n_layers):
            k = min(round(sparsity * n_heads), n_heads - 1)
            m = round((sparsity * per_layer - k * p_head) / p_chan)
            m = max(0, min(m, model.cfg.d_ff - 1))
            drop_h[i] = set(torch.argsort(heads[i])[:k].tolist())
            drop_c[i] = set(torch.argsort(channels[i])[:m].tolist())
    else:
        alpha = 4 * d_head / 3 if allocation == "literal" else 1.0
        units = [(float(alpha * s), "h", i, j) for i, hs in enumerate(heads)
                 for j, s in enumerate(hs)]
        units += [(float(s), "c", i, j) for i, cs in enumerate(channels)
                  for j, s in enumerate(cs)]
        units.sort(key=lambda u: (u[0], u[1], u[2], u[3]))
        if allocation == "literal":
            n_units = math.floor(sparsity * n_layers * (n_heads + model.cfg.d_ff))
            for _, kind, i, j in units:
                if n_units <= 0:
                    break
                if can_drop(kind, i):
                    (drop_h if kind == "h" else drop_c)[i].add(j)
                    n_units -= 1
        else:
            removed = 0
            for _, kind, i, j in units:
                p = p_head if kind == "h" else p_chan
                # stop where adding the unit would move us away from the target
                if abs(removed + p - target) >= abs(removed - target):
                    if kind == "h":
                        continue  # a head overshoots: a channel may still fit
                    break
                if can_drop(kind, i):
                    (drop_h if kind == "h" else drop_c)[i].add(j)
                    removed += p
    keep_h = tuple(torch.tensor(sorted(set(range(n_heads)) - drop_h[i]),
                                dtype=torch.long) for i in range(n_layers))
    keep_c = tuple(torch.tensor(sorted(set(range(model.cfg.d_ff)) - drop_c[i]),
                                dtype=torch.long) for i in range(n_layers))
    after = sum(len(h) * p_head + len(c) * p_chan
                for h, c in zip(keep_h, keep_c, strict=True))
    return Plan(keep_h, keep_c, total, after)


@typed
def compensate(gram: torch.Tensor, w: torch.Tensor, keep: torch.Tensor,
               damp: float = 1e-6) -> torch.Tensor:
    """Theorem 3 as a least-squares refit: the new kept rows ``G_KK^{-1} G_K: W``.

    Args:
        gram: ``X^T X`` (any positive scale), (D, D).
        w: weights in the paper's convention, (D, D').
        keep: int64 indices of the kept rows, shape (m,), 1 <= m <= D.
        damp: ``gamma`` of Remark 5, relative to the mean diagonal of ``G``
            (added to the whole ``G``, so this equals Theorem 3 with ``G + gamma
            I``), >= 0.

    Returns:
        The compensated kept rows, float64, shape (m, D').

    Paper: arXiv 2412.12441, Theorem 3, Remark 5.
    """
    check_tensor("gram", gram, ndim=2, kind="float", finite=True)
    d = gram.shape[0]
    if gram.shape != (d, d):
        raise ValueError(f"gram: expected a square matrix, got {tuple(gram.shape)}")
    check_tensor("w", w, shape=(d, None), kind="float", finite=True, shape_of="gram")
    check_tensor("keep", keep, ndim=1, kind="int")
    if int(keep.min()) < 0 or int(keep.max()) >= d or len(keep.unique()) != len(keep):
        raise ValueError(f"keep: expected distinct row indices in [0, {d})")
    damp = check_float("damp", damp, 0.0)
    g = _damped(gram.double(), damp) if damp > 0 else gram.double()
    k = keep.long()
    return torch.linalg.solve(g[k][:, k], g[k] @ w.double())


def _linear(weight: torch.Tensor, dtype: torch.dtype) -> nn.Linear:
    out_f, in_f = weight.shape
    lin = nn.Linear(in_f, out_f, bias=False)
    lin.weight = nn.Parameter(weight.to(dtype).contiguous())
    return lin


def _shrink_attention(attn: Attention, keep_heads: torch.Tensor,
                      new_o: torch.Tensor | None) -> Attention:
    """A smaller Attention holding the kept heads only (``new_o``: (d_in', out))."""
    d_head = attn.d_head
    rows = (keep_heads[:, None] * d_head + torch.arange(d_head)).flatten()
    d_model = attn.q_proj.in_features
    new = Attention(d_model, d_model // d_head)  # then narrowed: fewer heads
    new.n_heads, new.attn_fn = len(keep_heads), attn.attn_fn
    dt = attn.q_proj.weight.dtype
    for name in ("q_proj", "k_proj", "v_proj"):
        setattr(new, name, _linear(getattr(attn, name).weight.detach()[rows], dt))
    o = attn.o_proj.weight.detach()[:, rows] if new_o is None else new_o.T
    new.o_proj = _linear(o, dt)
    return new


def _shrink_mlp(mlp: SwiGLU, keep: torch.Tensor, new_down: torch.Tensor | None
                ) -> SwiGLU:
    d_model = mlp.gate_proj.in_features
    new = SwiGLU(d_model, len(keep))
    dt = mlp.gate_proj.weight.dtype
    new.gate_proj = _linear(mlp.gate_proj.weight.detach()[keep], dt)
    new.up_proj = _linear(mlp.up_proj.weight.detach()[keep], dt)
    down = mlp.down_proj.weight.detach()[:, keep] if new_down is None else new_down.T
    new.down_proj = _linear(down, dt)
    return new


@torch.no_grad()
@typed
def prune_model(
    model: TinyGPT,
    calib: Calibration,
    sparsity: float,
    method: str = "newton",
    compensation: bool = True,
    allocation: str | None = None,
    lam: float = 1.0,
    seed: int = 0,
    inplace: bool = False,
) -> tuple[TinyGPT, Plan]:
    """Prune heads and MLP channels, compensate, and remove them physically.

    Args:
        model: a dense TinyGPT.
        calib: :func:`calibrate` statistics of ``model``.
        sparsity: target share of block projection parameters to remove, [0, 1).
        method: the score, one of :data:`METHODS`.
        compensation: apply Theorem 3 to o_proj and down_proj (else only slice).
        allocation: one of :data:`ALLOCATIONS`; None takes
            :data:`DEFAULT_ALLOCATION` of the method.
        lam: the Newton penalty weight.
        seed: for ``method="random"``.
        inplace: modify ``model`` itself; by default a deep copy is pruned and the
            caller's model is left unchanged.

    Returns:
        ``(pruned, plan)``: the smaller model (eval mode) and what was kept.

    Raises:
        ValueError: naming ``sparsity`` outside [0, 1), an unknown ``method`` or
            ``allocation``, or a ``calib`` that does not fit ``model``.

    Paper: arXiv 2412.12441, Sec. 3, Fig. 1 ("internal computation alignment").
    """
    _check_model(model)
    _check_calib(calib, model)
    sparsity = check_float("sparsity", sparsity, 0.0, 1.0)
    if sparsity >= 1:
        raise ValueError(f"sparsity: expected a share in [0, 1), got {sparsity:g}")
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    allocation = DEFAULT_ALLOCATION[method] if allocation is None else allocation
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation: expected one of {ALLOCATIONS}, got "
                         f"{allocation!r}")
    for i, layer in enumerate(model.layers):
        if (layer.self_attn.n_heads != model.cfg.n_heads
                or layer.mlp.down_proj.in_features != model.cfg.d_ff):
            raise ValueError(f"model: layer {i} is already pruned; prune a dense model")
    heads, chans = unit_scores(model, calib, method, sparsity, lam, seed)
    plan = select(model, heads, chans, sparsity, allocation)
    out = model if inplace else copy.deepcopy(model)
    d_head = model.cfg.d_model // model.cfg.n_heads
    for i, (st, layer) in enumerate(zip(calib.layers, out.layers, strict=True)):
        kh, kc = plan.keep_heads[i], plan.keep_channels[i]
        rows = (kh[:, None] * d_head + torch.arange(d_head)).flatten()
        new_o = new_d = None
        if compensation:
            new_o = compensate(st.gram_o, _w(layer.self_attn.o_proj), rows)
            new_d = compensate(st.gram_d, _w(layer.mlp.down_proj), kc)
        out.replace("attn", i, _shrink_attention(layer.self_attn, kh, new_o))
        out.replace("mlp", i, _shrink_mlp(layer.mlp, kc, new_d))
    return out.eval(), plan


@typed
def block_params(model: TinyGPT) -> int:
    """Parameters of the blocks' projections (q, k, v, o, gate, up, down)."""
    _check_model(model)
    return sum(p.numel() for layer in model.layers
               for mod in (layer.self_attn, layer.mlp)
               for n, p in mod.named_parameters() if n.endswith("weight"))


def _shape_of(model: TinyGPT) -> dict:
    return {
        "config": dataclasses.asdict(model.cfg),
        "n_heads": [layer.self_attn.n_heads for layer in model.layers],
        "d_ff": [layer.mlp.down_proj.in_features for layer in model.layers],
    }


@typed
def save_pruned(model: TinyGPT, path: str | os.PathLike) -> Path:
    """Save a (pruned) TinyGPT: ``<path>`` (safetensors) and ``<path>.json`` (shape).

    Both files are written atomically. Returns the weights' path.
    """
    _check_model(model)
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"path: expected a .safetensors file name, got {path.name!r}")
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda p: save_file(state, p, metadata={"kind": "pruned"}))
    atomic_write_text(Path(str(path) + ".json"),
                      json.dumps(_shape_of(model), indent=1) + "\n")
    return path


@typed
def load_pruned(path: str | os.PathLike) -> TinyGPT:
    """Load a model written by :func:`save_pruned` (eval mode).

    Raises:
        FileNotFoundError: naming ``path`` if a file is missing.
    """
    path = Path(path)
    meta_path = Path(str(path) + ".json")
    for p in (path, meta_path):
        if not p.is_file():
            raise FileNotFoundError(f"path: no file {p}")
    meta = json.loads(meta_path.read_text())
    model = TinyGPT(GPTConfig(**meta["config"]))
    for i, (h, f) in enumerate(zip(meta["n_heads"], meta["d_ff"], strict=True)):
        layer = model.layers[i]
        model.replace("attn", i, _shrink_attention(
            layer.self_attn, torch.arange(h), None))
        model.replace("mlp", i, _shrink_mlp(layer.mlp, torch.arange(f), None))
    model.load_state_dict(load_file(str(path)))
    return model.eval()
