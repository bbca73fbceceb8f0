"""Lazy gates on a TinyDiT, a forward pass that really skips modules, and a sampler.

A *policy* decides, at sampling step ``k``, for layer ``l`` and module ``attn`` or
``mlp``, which samples of the batch compute the module; the others reuse the
module's output from step ``k - 1`` (its *cache*). Skipped rows are not computed:
the module runs on the kept rows only (``F(z[keep])``) and the result is spliced
into the cached tensor. Step 0 always computes (the cache is empty).

Policies: :class:`FullCompute`; :class:`GatePolicy` (LazyDiT's learned gates,
thresholded at 0.5); :class:`StaticSchedule` (a fixed (step, layer, module) mask:
random skipping at a given ratio, or any hand-made schedule).

Paper: LazyDiT (arXiv 2412.12444), Sec. 4; the official code's polarity (see
    :mod:`effteach.lazy_dit.reference`).
Book: notebooks/lazy_dit/lecture.md, "The method".
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from effteach.checks import check_float, check_int, check_labels, check_tensor, typed
from effteach.models.diffusion import Schedule, ddim_timesteps
from effteach.models.dit import TinyDiT, modulate, patchify, unpatchify

__all__ = [
    "MODULES",
    "LazyGates",
    "FullCompute",
    "GatePolicy",
    "StaticSchedule",
    "random_schedule",
    "Record",
    "lazy_forward",
    "lazy_sample",
]

#: the two gated modules of every block, in order
MODULES = ("attn", "mlp")
THRESHOLD = 0.5


class LazyGates(nn.Module):
    """One linear gate per (sampling step, layer, module).

    ``kind="input"`` (LazyDiT): ``g = sigmoid(sum_tokens z . w[k, l, m])``, no bias,
    weights initialised to zero (``g = 0.5``: compute), as in the official code.
    ``kind="bias"``: ``g = sigmoid(b[k, l, m])``, an input-independent learned
    schedule (Learning-to-Cache-like), the ablation of the input dependence.

    Args:
        n_steps: sampling steps the gates are trained for (gates are tied to one
            schedule).
        depth: DiT layers.
        d_model: DiT width.
        kind: ``"input"`` or ``"bias"``.
    """

    @typed
    def __init__(self, n_steps: int, depth: int, d_model: int, kind: str = "input"):
        super().__init__()
        if kind not in ("input", "bias"):
            raise ValueError(f"kind: expected 'input' or 'bias', got {kind!r}")
        for name, v in (("n_steps", n_steps), ("depth", depth), ("d_model", d_model)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name}: expected a positive int, got {v!r}")
        self.kind = kind
        self.n_steps, self.depth, self.d_model = n_steps, depth, d_model
        self.weight = nn.Parameter(torch.zeros(n_steps, depth, 2, d_model))
        self.bias = nn.Parameter(torch.zeros(n_steps, depth, 2))
        # the unused half is frozen, so each kind has exactly its own parameters
        (self.bias if kind == "input" else self.weight).requires_grad_(False)

    @typed
    def score(self, k: int, layer: int, m: int, z: torch.Tensor) -> torch.Tensor:
        """Compute weight ``g`` (batch,) of step ``k``, ``layer``, module ``m``.

        Args:
            k: sampling step index.
            layer: DiT layer.
            m: 0 for attention, 1 for the MLP.
            z: the module's modulated input, shape (batch, n_ctx, d_model).
        """
        if not 0 <= k < self.n_steps:
            raise ValueError(f"k: expected a step index in [0, {self.n_steps})")
        if not 0 <= layer < self.depth:
            raise ValueError(f"layer: expected [0, {self.depth}), got {layer}")
        if m not in (0, 1):
            raise ValueError(f"m: expected 0 (attention) or 1 (MLP), got {m}")
        check_tensor("z", z, shape=(None, None, self.d_model), dtype=self.weight.dtype,
                     shape_of="(batch, n_ctx, d_model)")
        if self.kind == "bias":
            return torch.sigmoid(self.bias[k, layer, m]).expand(z.shape[0])
        return torch.sigmoid((z @ self.weight[k, layer, m]).sum(dim=-1))


@runtime_checkable
class Policy(Protocol):
    """What :func:`lazy_sample` asks a policy: which rows compute a module."""

    def keep(self, k, layer, m, z, model) -> torch.Tensor:
        """Bool mask (batch,): rows of ``z`` that compute module ``m`` of ``layer``."""


class FullCompute:
    """Compute every module at every step."""

    def keep(self, k, layer, m, z, model) -> torch.Tensor:  # noqa: D102
        return torch.ones(z.shape[0], dtype=torch.bool)


@typed
@dataclasses.dataclass
class GatePolicy:
    """LazyDiT at inference: compute where ``g >= 0.5``, reuse the cache elsewhere."""

    gates: LazyGates
    threshold: float = THRESHOLD

    def keep(self, k, layer, m, z, model) -> torch.Tensor:  # noqa: D102
        return self.gates.score(k, layer, m, z) >= self.threshold


@typed
@dataclasses.dataclass
class StaticSchedule:
    """A fixed mask ``compute[k, layer, m]`` shared by every sample."""

    compute: torch.Tensor  # bool (n_steps, depth, 2)

    def __post_init__(self):
        check_tensor("compute", self.compute, shape=(None, None, 2),
                     shape_of="(n_steps, depth, modules)")

    def keep(self, k, layer, m, z, model) -> torch.Tensor:  # noqa: D102
        return torch.full((z.shape[0],), bool(self.compute[k, layer, m]))


@typed
def random_schedule(
    n_steps: int, depth: int, ratio: float, seed: int = 0
) -> StaticSchedule:
    """Random static skipping: a :class:`StaticSchedule`.

    It skips ``round(ratio * n_steps * 2 depth)`` module calls chosen uniformly
    among steps 1.. (step 0 always computes), so the laziness is ``ratio``.
    """
    check_int("n_steps", n_steps, low=1)
    check_int("depth", depth, low=1)
    if not 0 <= ratio <= 1:
        raise ValueError(f"ratio: expected a share in [0, 1], got {ratio}")
    slots = (n_steps - 1) * depth * 2
    n_skip = round(ratio * n_steps * depth * 2)
    if n_skip > slots:
        raise ValueError(
            f"ratio: {ratio} skips {n_skip} calls but only {slots} can be skipped "
            "(step 0 always computes)"
        )
    g = torch.Generator().manual_seed(seed)
    compute = torch.ones(n_steps, depth, 2, dtype=torch.bool)
    flat = compute[1:].view(-1)
    flat[torch.randperm(slots, generator=g)[:n_skip]] = False
    return StaticSchedule(compute)


@typed
@dataclasses.dataclass
class Record:
    """What a lazy run computed.

    The rows computed per (step, layer, module), and optionally the outputs and
    inputs of every module (for the similarity study).
    """

    computed: torch.Tensor  # long (n_steps, depth, 2): rows computed
    rows: int  # rows per call (the batch, CFG halves included)
    outputs: list | None = None  # [k][layer][m] module output (batch, n_ctx, d)
    inputs: list | None = None  # [k][layer][m] modulated input z

    @property
    def laziness(self) -> float:
        """Share of module calls (rows) that were skipped."""
        return 1.0 - float(self.computed.sum()) / (self.computed.numel() * self.rows)


@typed
def lazy_forward(
    model: TinyDiT,
    x: torch.Tensor,
    t: torch.Tensor,
    y: torch.Tensor,
    cache: list,
    decide: Callable,
):
    """One DiT forward where ``decide`` chooses, per module, what to compute.

    Same computation as ``TinyDiT.forward`` (the block's own submodules), except
    that the output of ``attn``/``mlp`` of layer ``l`` is
    ``decide(l, m, z, module, cached)``, which returns that output; ``cache[l][m]``
    is then replaced by it.

    Returns:
        The predicted noise, shape like ``x``.
    """
    cfg = model.cfg
    check_tensor("x", x, kind="float",
                 shape=(None, cfg.in_channels, cfg.img_size, cfg.img_size),
                 shape_of="(batch, model.cfg.in_channels, img_size, img_size)")
    check_tensor("t", t, kind="int", shape=(len(x),), shape_of="x's batch")
    check_labels("y", y, cfg.n_classes + 1, len(x))  # the null class included
    if len(cache) != cfg.depth or not all(
        isinstance(c, list) and len(c) == 2 for c in cache
    ):
        raise ValueError(
            f"cache: expected {cfg.depth} lists [attn, mlp] (one per layer)"
        )
    c = model.condition(t, y)
    h = model.x_embedder(patchify(x, cfg.patch)) + model.pos_embed
    for layer, blk in enumerate(model.blocks):
        sh1, sc1, g1, sh2, sc2, g2 = blk.adaLN_modulation(c).chunk(6, dim=-1)
        parts = (
            (blk.norm1, blk.attn, sh1, sc1, g1),
            (blk.norm2, blk.mlp, sh2, sc2, g2),
        )
        for m, (norm, module, sh, sc, gate) in enumerate(parts):
            z = modulate(norm(h), sh, sc)
            out = decide(layer, m, z, module, cache[layer][m])
            cache[layer][m] = out
            h = h + gate[:, None] * out
    out = model.final_layer(h, c)
    return unpatchify(out, cfg.patch, cfg.in_channels, cfg.img_size, cfg.img_size)


@torch.no_grad()
@typed
def lazy_sample(
    model: TinyDiT,
    labels: torch.Tensor,
    n_steps: int,
    policy: Policy | None = None,
    cfg_scale: float = 2.0,
    seed: int = 0,
    noise: torch.Tensor | None = None,
    keep_tensors: bool = False,
) -> tuple[torch.Tensor, Record]:
    """DDIM (eta = 0) sampling with classifier-free guidance and module skipping.

    The batch is ``[cond; uncond]`` (CFG); each half decides for itself, so a
    module can be computed for some rows and reused for others.

    Args:
        model: a TinyDiT (eps prediction), e.g. ``zoo.load("tinydit_digits")``.
        labels: class labels, int64, shape (n,).
        n_steps: DDIM steps.
        policy: :class:`FullCompute` (default), :class:`GatePolicy` or
            :class:`StaticSchedule`.
        cfg_scale: guidance weight (1: no unconditional half).
        seed: seed of the starting noise.
        noise: the starting noise itself, shape (n, C, H, W).
        keep_tensors: record every module's input and output (memory!).

    Returns:
        ``(samples, record)``: samples in model space ([-1, 1]), and the
        :class:`Record` of what was computed.
    """
    policy = policy or FullCompute()
    cfg = model.cfg
    check_labels("labels", labels, cfg.n_classes)
    check_int("n_steps", n_steps, low=1)
    check_float("cfg_scale", cfg_scale)
    sched = Schedule()
    ts = ddim_timesteps(n_steps, sched)
    ab = sched.alphas_cumprod()
    shape = (len(labels), cfg.in_channels, cfg.img_size, cfg.img_size)
    if noise is None:
        x = torch.randn(shape, generator=torch.Generator().manual_seed(seed))
    else:
        if tuple(noise.shape) != shape:
            raise ValueError(f"noise: expected shape {shape}, got {tuple(noise.shape)}")
        x = noise.clone()
    guided = cfg_scale != 1.0
    yy = torch.cat([labels, torch.full_like(labels, model.null_class)]) if guided \
        else labels
    rows = len(yy)
    cache = [[None, None] for _ in range(cfg.depth)]
    computed = torch.zeros(n_steps, cfg.depth, 2, dtype=torch.long)
    outs = [] if keep_tensors else None
    ins = [] if keep_tensors else None
    for k, t in enumerate(ts):
        step_out = [[None, None] for _ in range(cfg.depth)]
        step_in = [[None, None] for _ in range(cfg.depth)]

        def decide(layer, m, z, module, cached, k=k, step_out=step_out,
                   step_in=step_in):
            if cached is None:
                keep = torch.ones(z.shape[0], dtype=torch.bool)
            else:
                keep = policy.keep(k, layer, m, z, model)
            n_keep = int(keep.sum())
            computed[k, layer, m] = n_keep
            if n_keep == z.shape[0]:
                out = module(z)
            elif n_keep == 0:
                out = cached
            else:  # compute the kept rows only, splice them into the cache
                out = cached.clone()
                out[keep] = module(z[keep])
            if keep_tensors:
                step_out[layer][m], step_in[layer][m] = out, z
            return out

        xin = torch.cat([x, x]) if guided else x
        tt = torch.full((rows,), t, dtype=torch.long)
        eps = lazy_forward(model, xin, tt, yy, cache, decide)
        if guided:
            eps_c, eps_u = eps.chunk(2)
            eps = eps_u + cfg_scale * (eps_c - eps_u)
        a_t = ab[t].float()
        a_prev = ab[ts[k + 1]].float() if k + 1 < len(ts) else torch.tensor(1.0)
        x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
        if keep_tensors:
            outs.append(step_out)
            ins.append(step_in)
    return x, Record(computed, rows, outs, ins)


@typed
def time_sampler(
    model: TinyDiT,
    labels: torch.Tensor,
    n_steps: int,
    policy: Policy | None = None,
    repeats: int = 3,
    **kw,
) -> float:
    """Median wall time (s) of :func:`lazy_sample` over ``repeats`` runs.

    Raises:
        TypeError, ValueError: naming ``repeats`` unless it is an int >= 1.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats: expected an int >= 1, got {repeats!r}")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        lazy_sample(model, labels, n_steps, policy, **kw)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]
