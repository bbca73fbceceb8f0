"""Video models: TinyVideoDiT (3-D attention diffusion) and TinyARVideo (VQ + AR).

* :class:`TinyVideoDiT` denoises a whole clip of ``n_frames`` frames whose tokens
  (frames × h × w patches) attend to each other with full 3-D attention; the first
  ``n_context`` frames are given clean as conditioning, so a sample is a *rollout*
  that continues the context. DraftAttention replaces this full attention by a
  sparse one.
* :class:`TinyARVideo` turns frames into discrete tokens with a k-means codebook of
  patches (:class:`PatchVQ`) and models the frame-major token sequence with a
  LLaMA-style decoder (:class:`~effteach.models.gpt.TinyGPT`) decoded with a KV cache.
  FastCar replays the MLP outputs of such a decoder.

Book: notebooks/zoo/models.md, "Video models".
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from effteach.checks import check_int, check_sizes, check_tensor, typed
from effteach.models.dit import DiTBlock, FinalLayer, patchify, unpatchify
from effteach.models.gpt import GPTConfig, TinyGPT
from effteach.models.layers import timestep_embedding


@typed
@dataclasses.dataclass(frozen=True)
class VideoDiTConfig:
    """Sizes of a TinyVideoDiT."""

    n_frames: int = 8
    img_size: int = 16
    patch: int = 4
    in_channels: int = 1
    n_context: int = 2
    d_model: int = 96
    depth: int = 4
    n_heads: int = 4
    mlp_ratio: float = 4.0
    # what the network outputs: "x0" (the clean clip) or "eps" (the noise). With
    # eps, the loss barely constrains the clean-clip estimate at high noise, where
    # a rollout must be decided from the context alone
    prediction: str = "x0"

    def __post_init__(self):
        check_sizes(self)


class TinyVideoDiT(nn.Module):
    """Context-conditioned video diffusion transformer with full 3-D attention.

    The input of each token is its noisy patch concatenated with the clean patch of
    the context frames (zeros for frames to predict); a learned frame embedding plus
    a learned spatial embedding give each token its (frame, row, col) position.

    Book: notebooks/zoo/models.md, "Video models".
    """

    @typed
    def __init__(self, cfg: VideoDiTConfig):
        super().__init__()
        if cfg.img_size % cfg.patch:
            raise ValueError(f"patch: must divide img_size={cfg.img_size}")
        if cfg.prediction not in ("x0", "eps"):
            raise ValueError(
                f"prediction: expected 'x0' or 'eps', got {cfg.prediction!r}"
            )
        if not 0 < cfg.n_context < cfg.n_frames:
            raise ValueError(f"n_context: expected 1..{cfg.n_frames - 1}")
        self.cfg = cfg
        d, p, c = cfg.d_model, cfg.patch, cfg.in_channels
        self.tokens_per_frame = (cfg.img_size // p) ** 2
        self.x_embedder = nn.Linear(2 * p * p * c, d)
        self.frame_embed = nn.Parameter(torch.randn(1, cfg.n_frames, 1, d) * 0.02)
        self.space_embed = nn.Parameter(
            torch.randn(1, 1, self.tokens_per_frame, d) * 0.02
        )
        self.t_embedder = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, d))
        self.blocks = nn.ModuleList(
            DiTBlock(d, cfg.n_heads, cfg.mlp_ratio) for _ in range(cfg.depth)
        )
        self.final_layer = FinalLayer(d, p, c)

    def context_input(self, video: torch.Tensor) -> torch.Tensor:
        """Clean context frames, zeros for the frames to predict (same shape)."""
        ctx = torch.zeros_like(video)
        ctx[:, : self.cfg.n_context] = video[:, : self.cfg.n_context]
        return ctx

    def forward(self, x: torch.Tensor, t: torch.Tensor, ctx: torch.Tensor):
        """The network's prediction (``cfg.prediction``) for a noisy clip ``x``.

        ``x`` has shape (batch, n_frames, C, H, W); the output has the same shape and
        is the clean clip (``"x0"``) or the noise (``"eps"``).

        Args:
            x: the noisy clip.
            t: diffusion steps, shape (batch,).
            ctx: :meth:`context_input` of the clean clip (only context frames used).
        """
        cfg = self.cfg
        want = (cfg.n_frames, cfg.in_channels, cfg.img_size, cfg.img_size)
        if x.dim() != 5 or tuple(x.shape[1:]) != want:
            raise ValueError(f"x: expected (batch, {want}), got {tuple(x.shape)}")
        if ctx.shape != x.shape:
            raise ValueError(
                f"ctx: expected shape {tuple(x.shape)}, got {tuple(ctx.shape)}"
            )
        b, f = x.shape[:2]
        frames = torch.cat((x, ctx), dim=2).flatten(0, 1)  # (b*f, 2C, H, W)
        h = self.x_embedder(patchify(frames, cfg.patch))  # (b*f, n_tok, d)
        h = (
            h.view(b, f, self.tokens_per_frame, -1)
            + self.frame_embed
            + self.space_embed
        )
        h = h.flatten(1, 2)  # (b, f * n_tok, d): every token attends to every token
        c = self.t_embedder(timestep_embedding(t, cfg.d_model))
        for blk in self.blocks:
            h = blk(h, c)
        out = self.final_layer(h, c).view(b * f, self.tokens_per_frame, -1)
        out = unpatchify(out, cfg.patch, cfg.in_channels, cfg.img_size, cfg.img_size)
        return out.view(b, f, *out.shape[1:])

    def module(self, kind: str, layer: int) -> nn.Module:
        """Return ``"attn"`` or ``"mlp"`` of block ``layer``."""
        if kind not in ("attn", "mlp"):
            raise ValueError(f"kind: expected 'attn' or 'mlp', got {kind!r}")
        if not 0 <= layer < self.cfg.depth:
            raise ValueError(f"layer: expected 0 <= layer < {self.cfg.depth}")
        return getattr(self.blocks[layer], kind)

    def replace(self, kind: str, layer: int, new: nn.Module) -> nn.Module:
        """Swap ``"attn"`` or ``"mlp"`` of a block for ``new``; return the old one."""
        old = self.module(kind, layer)
        setattr(self.blocks[layer], kind, new)
        return old

    def set_attention_fn(self, fn) -> None:
        """Use ``fn(q, k, v, causal)`` in every block instead of dense SDPA."""
        for blk in self.blocks:
            blk.attn.attn_fn = fn


class PatchVQ(nn.Module):
    """A k-means codebook of ``patch × patch`` frame patches (a VQ tokenizer).

    Args:
        n_codes: codebook size.
        patch: patch side in pixels.
        channels: image channels.
    """

    @typed
    def __init__(self, n_codes: int = 128, patch: int = 4, channels: int = 1):
        super().__init__()
        for name, v in (("n_codes", n_codes), ("patch", patch), ("channels", channels)):
            check_int(name, v, low=1)
        self.patch, self.channels = patch, channels
        self.register_buffer("codebook", torch.zeros(n_codes, patch * patch * channels))

    @torch.no_grad()
    def fit(self, frames: torch.Tensor, n_iter: int = 25, seed: int = 0) -> float:
        """Fit the codebook with k-means++ seeding and Lloyd steps; return the MSE.

        Args:
            frames: (n, C, H, W) training frames.
            n_iter: Lloyd iterations.
            seed: seed of the k-means++ choices.
        """
        x = patchify(frames, self.patch).reshape(-1, self.codebook.shape[1])
        g = torch.Generator().manual_seed(seed)
        k = self.codebook.shape[0]
        centers = [x[torch.randint(len(x), (1,), generator=g)].squeeze(0)]
        d2 = ((x - centers[0]) ** 2).sum(1)
        for _ in range(1, k):
            if float(d2.sum()) == 0:  # fewer distinct patches than codes
                idx = torch.randint(len(x), (1,), generator=g)
            else:
                idx = torch.multinomial(d2 / d2.sum(), 1, generator=g)
            centers.append(x[idx].squeeze(0))
            d2 = torch.minimum(d2, ((x - centers[-1]) ** 2).sum(1))
        cb = torch.stack(centers)
        for _ in range(n_iter):
            assign = torch.cdist(x, cb).argmin(1)
            sums = torch.zeros_like(cb).index_add_(0, assign, x)
            counts = torch.bincount(assign, minlength=k).clamp_min(1)[:, None]
            cb = torch.where(counts > 0, sums / counts, cb)
        self.codebook.copy_(cb)
        return float(((x - cb[torch.cdist(x, cb).argmin(1)]) ** 2).mean())

    @typed
    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """(n, C, H, W) frames -> (n, tokens_per_frame) code ids (long)."""
        check_tensor("frames", frames, shape=(None, self.channels, None, None),
                     kind="float", shape_of="(n, channels, H, W)")
        if frames.shape[2] % self.patch or frames.shape[3] % self.patch:
            raise ValueError(f"frames: H and W must be multiples of patch="
                             f"{self.patch}, got {tuple(frames.shape)}")
        x = patchify(frames, self.patch)
        return torch.cdist(x, self.codebook[None].expand(len(x), -1, -1)).argmin(-1)

    @typed
    def decode(self, codes: torch.Tensor, img_size: int) -> torch.Tensor:
        """(n, tokens_per_frame) code ids -> (n, C, img_size, img_size) frames."""
        check_int("img_size", img_size, low=1)
        if img_size % self.patch:
            raise ValueError(f"img_size: must be a multiple of patch={self.patch}, "
                             f"got {img_size}")
        tpf = (img_size // self.patch) ** 2
        check_tensor("codes", codes, shape=(None, tpf), kind="int",
                     shape_of="(n, (img_size // patch) ** 2)")
        n_codes = self.codebook.shape[0]
        if int(codes.min()) < 0 or int(codes.max()) >= n_codes:
            raise ValueError(f"codes: ids must lie in [0, {n_codes})")
        return unpatchify(
            self.codebook[codes], self.patch, self.channels, img_size, img_size
        )


@typed
@dataclasses.dataclass(frozen=True)
class ARVideoConfig:
    """Sizes of a TinyARVideo (tokenizer + decoder)."""

    n_frames: int = 8
    img_size: int = 16
    patch: int = 4
    n_codes: int = 128
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 344

    def __post_init__(self):
        check_sizes(self)

    @property
    def tokens_per_frame(self) -> int:
        """Patches per frame."""
        return (self.img_size // self.patch) ** 2


class TinyARVideo(nn.Module):
    """A VQ tokenizer plus a LLaMA-style decoder over frame-major token sequences.

    Book: notebooks/zoo/models.md, "Video models".
    """

    @typed
    def __init__(self, cfg: ARVideoConfig):
        super().__init__()
        self.cfg = cfg
        self.vq = PatchVQ(cfg.n_codes, cfg.patch, 1)
        self.gpt = TinyGPT(
            GPTConfig(
                vocab_size=cfg.n_codes,
                n_ctx=cfg.n_frames * cfg.tokens_per_frame,
                d_model=cfg.d_model,
                n_layers=cfg.n_layers,
                n_heads=cfg.n_heads,
                d_ff=cfg.d_ff,
            )
        )

    def tokenize(self, video: torch.Tensor) -> torch.Tensor:
        """(batch, n_frames, 1, H, W) -> (batch, n_frames * tokens_per_frame)."""
        b, f = video.shape[:2]
        return self.vq.encode(video.flatten(0, 1)).view(
            b, f * self.cfg.tokens_per_frame
        )

    def detokenize(self, tokens: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`tokenize` (up to the codebook's quantisation)."""
        b = tokens.shape[0]
        tpf = self.cfg.tokens_per_frame
        frames = self.vq.decode(tokens.view(-1, tpf), self.cfg.img_size)
        return frames.view(b, tokens.shape[1] // tpf, *frames.shape[1:])

    @torch.no_grad()
    def rollout(self, video: torch.Tensor, n_context: int) -> torch.Tensor:
        """Greedy KV-cached continuation of the first ``n_context`` frames."""
        if not 0 < n_context < self.cfg.n_frames:
            raise ValueError(f"n_context: expected 1..{self.cfg.n_frames - 1}")
        tokens = self.tokenize(video[:, :n_context])
        n_new = (self.cfg.n_frames - n_context) * self.cfg.tokens_per_frame
        return self.detokenize(self.gpt.generate(tokens, n_new))
