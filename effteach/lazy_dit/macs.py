"""MAC accounting of a DiT sampler with skipped modules (the paper's convention).

The paper reports TMACs as THOP counts them: multiply-accumulates of ``nn.Linear``
layers only, per image, without the CFG doubling, and without the attention
products ``QK^T`` and ``AV``. Per forward of one image with ``N`` tokens, width
``D``, ``L`` layers, MLP ratio ``r``, patch ``p``, ``C_in``/``C_out`` channels and a
``F``-dimensional timestep frequency embedding:

* attention projections ``4 N D^2`` and MLP ``2 r N D^2`` per layer (the modules a
  lazy sampler may skip);
* adaLN ``6 D^2`` per layer; patch embedding ``N p^2 C_in D``; final layer
  ``2 D^2 + N D p^2 C_out``; timestep MLP ``F D + D^2``;
* a lazy gate ``N D`` per (layer, module) where gates are evaluated.

Paper: LazyDiT (arXiv 2412.12444), Table 3 (TMACs of DiT-XL/2).
Book: notebooks/lazy_dit/lecture.md, "Accounting".
"""

from __future__ import annotations

import contextlib
import dataclasses

import torch
from torch import nn

from effteach.checks import check_float, check_int, check_tensor, typed
from effteach.models.dit import TinyDiT

__all__ = ["DiTSpec", "DIT_XL_2_256", "DIT_XL_2_512", "forward_macs", "sampler_macs",
           "count_linear_macs", "spec_of"]


@typed
@dataclasses.dataclass(frozen=True)
class DiTSpec:
    """The sizes the MAC count depends on (positive ints, ``mlp_ratio > 0``)."""

    n_tokens: int
    d_model: int
    depth: int
    patch: int
    in_channels: int
    out_channels: int
    mlp_ratio: float = 4.0
    freq_dim: int = 256

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if f.name == "mlp_ratio":
                check_float(f.name, self.mlp_ratio, low=0, low_open=True)
            else:
                check_int(f.name, getattr(self, f.name), low=1)


#: DiT-XL/2 on 256x256 images (32x32x4 latents, learned sigma: 8 output channels)
DIT_XL_2_256 = DiTSpec(256, 1152, 28, 2, 4, 8)
#: DiT-XL/2 on 512x512 images
DIT_XL_2_512 = DiTSpec(1024, 1152, 28, 2, 4, 8)


@typed
def spec_of(model: TinyDiT) -> DiTSpec:
    """The :class:`DiTSpec` of a TinyDiT.

    Its timestep embedding has ``d_model`` frequencies; it predicts the noise only.
    """
    c = model.cfg
    return DiTSpec((c.img_size // c.patch) ** 2, c.d_model, c.depth, c.patch,
                   c.in_channels, c.in_channels, c.mlp_ratio, c.d_model)


@typed
def forward_macs(spec: DiTSpec) -> dict[str, float]:
    """MACs of one forward of one image, by part."""
    n, d = spec.n_tokens, spec.d_model
    return {
        "attn": 4 * n * d * d,  # per layer: q, k, v, o projections
        "mlp": 2 * spec.mlp_ratio * n * d * d,  # per layer: fc1, fc2
        "gate": n * d,  # per (layer, module) gate evaluation
        "fixed": spec.depth * 6 * d * d  # adaLN
        + n * spec.patch**2 * spec.in_channels * d  # patch embedding
        + 2 * d * d + n * d * spec.patch**2 * spec.out_channels  # final layer
        + spec.freq_dim * d + d * d,  # timestep MLP
    }


@typed
def sampler_macs(
    spec: DiTSpec,
    n_steps: int,
    computed: torch.Tensor | None = None,
    laziness: float = 0.0,
    gates: bool = False,
) -> float:
    """MACs per image of a sampler run.

    Args:
        spec: the DiT sizes.
        n_steps: sampling steps.
        computed: share of rows computed per (step, layer, module), shape
            (n_steps, depth, 2), e.g. ``record.computed / record.rows``; if None,
            every module is computed except a share ``laziness`` spread evenly.
        laziness: used without ``computed``.
        gates: count a gate evaluation for every (step >= 1, layer, module).
    """
    check_int("n_steps", n_steps, low=1)
    f = forward_macs(spec)
    if computed is None:
        check_float("laziness", laziness, low=0, high=1)
        kept = (1 - laziness) * n_steps * spec.depth
        module = kept * (f["attn"] + f["mlp"])
    else:
        check_tensor("computed", computed, shape=(n_steps, spec.depth, 2),
                     shape_of="n_steps, spec.depth", finite=True)
        c = computed.double()
        module = float(c[..., 0].sum()) * f["attn"] + float(c[..., 1].sum()) * f["mlp"]
    gate = (n_steps - 1) * spec.depth * 2 * f["gate"] if gates else 0.0
    return n_steps * f["fixed"] + module + gate


@typed
def count_linear_macs(model: nn.Module) -> contextlib.AbstractContextManager:
    """Count the MACs every ``nn.Linear`` of ``model`` really performs.

    Usage: ``with count_linear_macs(model) as box: ...``; then ``box["macs"]``.
    """
    return _count_linear_macs(model)  # model checked now, not at ``with``


@contextlib.contextmanager
def _count_linear_macs(model: nn.Module):
    box = {"macs": 0}

    def hook(mod, inp, _out):
        x = inp[0]
        box["macs"] += x.numel() // x.shape[-1] * mod.in_features * mod.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.Linear)]
    try:
        yield box
    finally:
        for h in handles:
            h.remove()
