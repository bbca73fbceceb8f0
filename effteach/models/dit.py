"""TinyDiT: a class-conditional diffusion transformer with adaLN-Zero blocks.

Faithful to DiT's layout (Peebles & Xie 2023): patchify, learned position embedding,
timestep + class embedding summed into a conditioning vector ``c``, blocks whose
LayerNorms are modulated by ``adaLN_modulation(c)`` (shift, scale, gate for attention
and for the MLP, initialised to zero so each block starts as the identity), and a
modulated final layer. Each block's ``attn`` and ``mlp`` are separate modules that
chapters can wrap (LazyDiT skips them and reuses the previous step's output).

Book: notebooks/zoo/models.md, "TinyDiT".
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from effteach.checks import check_sizes, typed
from effteach.models.layers import Attention, timestep_embedding


@typed
@dataclasses.dataclass(frozen=True)
class DiTConfig:
    """Sizes of a TinyDiT."""

    img_size: int = 8
    patch: int = 2
    in_channels: int = 1
    d_model: int = 128
    depth: int = 4
    n_heads: int = 4
    mlp_ratio: float = 4.0
    n_classes: int = 10  # label n_classes is the "null" class used by CFG

    def __post_init__(self):
        check_sizes(self)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor):
    """``x * (1 + scale) + shift`` with per-sample shift/scale (batch, d_model)."""
    return x * (1 + scale[:, None]) + shift[:, None]


class Mlp(nn.Module):
    """DiT's MLP: ``fc2(gelu(fc1(x)))``."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.act = nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(d_ff, d_model)

    def forward(self, x):  # noqa: D102
        return self.fc2(self.act(self.fc1(x)))


class DiTBlock(nn.Module):
    """adaLN-Zero block: ``x + gate_msa * attn(modulate(norm1(x)))``, then the MLP."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(d_model, n_heads, bias=True)
        self.norm2 = nn.LayerNorm(d_model, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(d_model, int(d_model * mlp_ratio))
        self.adaLN_modulation = nn.Sequential(
            nn.SiLU(), nn.Linear(d_model, 6 * d_model)
        )
        nn.init.zeros_(self.adaLN_modulation[1].weight)
        nn.init.zeros_(self.adaLN_modulation[1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:  # noqa: D102
        sh1, sc1, g1, sh2, sc2, g2 = self.adaLN_modulation(c).chunk(6, dim=-1)
        x = x + g1[:, None] * self.attn(modulate(self.norm1(x), sh1, sc1))
        return x + g2[:, None] * self.mlp(modulate(self.norm2(x), sh2, sc2))


class FinalLayer(nn.Module):
    """Modulated LayerNorm and a zero-initialised linear map back to patches."""

    def __init__(self, d_model: int, patch: int, out_channels: int):
        super().__init__()
        self.norm_final = nn.LayerNorm(d_model, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(d_model, patch * patch * out_channels)
        self.adaLN_modulation = nn.Sequential(
            nn.SiLU(), nn.Linear(d_model, 2 * d_model)
        )
        for lin in (self.linear, self.adaLN_modulation[1]):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x, c):  # noqa: D102
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(batch, C, H, W) -> (batch, (H/p)(W/p), p*p*C), row-major over patches."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def unpatchify(x: torch.Tensor, p: int, c: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`patchify`."""
    b = x.shape[0]
    x = x.view(b, h // p, w // p, p, p, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, h, w)


class TinyDiT(nn.Module):
    """Class-conditional DiT predicting the noise of a DDPM.

    Args:
        cfg: the sizes.

    Book: notebooks/zoo/models.md, "TinyDiT".
    """

    @typed
    def __init__(self, cfg: DiTConfig):
        super().__init__()
        if cfg.img_size % cfg.patch:
            raise ValueError(
                f"patch: must divide img_size={cfg.img_size}, got {cfg.patch}"
            )
        self.cfg = cfg
        n_tokens = (cfg.img_size // cfg.patch) ** 2
        d = cfg.d_model
        self.x_embedder = nn.Linear(cfg.patch * cfg.patch * cfg.in_channels, d)
        self.pos_embed = nn.Parameter(torch.randn(1, n_tokens, d) * 0.02)
        self.t_embedder = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.y_embedder = nn.Embedding(cfg.n_classes + 1, d)  # + the null class
        self.blocks = nn.ModuleList(
            DiTBlock(d, cfg.n_heads, cfg.mlp_ratio) for _ in range(cfg.depth)
        )
        self.final_layer = FinalLayer(d, cfg.patch, cfg.in_channels)

    @property
    def null_class(self) -> int:
        """The label of the unconditional prediction (classifier-free guidance)."""
        return self.cfg.n_classes

    def condition(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The conditioning vector ``c`` (batch, d_model) from steps and labels."""
        return self.t_embedder(
            timestep_embedding(t, self.cfg.d_model)
        ) + self.y_embedder(y)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor
    ) -> torch.Tensor:
        """Predicted noise for images ``x`` (batch, C, H, W) at steps ``t`` (batch,)."""
        cfg = self.cfg
        want = (cfg.in_channels, cfg.img_size, cfg.img_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != want:
            raise ValueError(f"x: expected shape (batch, {want}), got {tuple(x.shape)}")
        if int(y.max()) > cfg.n_classes or int(y.min()) < 0:
            raise ValueError(f"y: labels must lie in [0, {cfg.n_classes}] (null class)")
        c = self.condition(t, y)
        h = self.x_embedder(patchify(x, cfg.patch)) + self.pos_embed
        for blk in self.blocks:
            h = blk(h, c)
        out = self.final_layer(h, c)
        return unpatchify(out, cfg.patch, cfg.in_channels, cfg.img_size, cfg.img_size)

    def module(self, kind: str, layer: int) -> nn.Module:
        """Return ``"attn"`` or ``"mlp"`` of block ``layer``."""
        if kind not in ("attn", "mlp"):
            raise ValueError(f"kind: expected 'attn' or 'mlp', got {kind!r}")
        if not 0 <= layer < self.cfg.depth:
            raise ValueError(
                f"layer: expected 0 <= layer < {self.cfg.depth}, got {layer}"
            )
        return getattr(self.blocks[layer], kind)

    def replace(self, kind: str, layer: int, new: nn.Module) -> nn.Module:
        """Swap ``"attn"`` or ``"mlp"`` of a block for ``new``; return the old one."""
        old = self.module(kind, layer)
        setattr(self.blocks[layer], kind, new)
        return old
