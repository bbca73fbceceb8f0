"""TinyGPT: a LLaMA-style decoder (RMSNorm, RoPE, SwiGLU, KV cache), a few 100k params.

Module names match LLaMA's (``layers[i].self_attn.q_proj``, ``layers[i].mlp.gate_proj``,
``input_layernorm``, ``post_attention_layernorm``), so pruning and caching chapters
can follow their papers' code line by line.

Book: notebooks/zoo/models.md, "TinyGPT".
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from effteach.checks import check_float, check_int, check_sizes, check_tensor, typed
from effteach.models.layers import Attention, KVCache, RMSNorm, SwiGLU, rope_tables


@typed
@dataclasses.dataclass(frozen=True)
class GPTConfig:
    """Sizes of a TinyGPT."""

    vocab_size: int = 98
    n_ctx: int = 128
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 344
    rope_base: float = 10000.0

    def __post_init__(self):
        check_sizes(self)


class DecoderLayer(nn.Module):
    """Pre-norm block: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.d_model)
        self.self_attn = Attention(cfg.d_model, cfg.n_heads)
        self.post_attention_layernorm = RMSNorm(cfg.d_model)
        self.mlp = SwiGLU(cfg.d_model, cfg.d_ff)

    def forward(self, x, rope, cache=None, layer=0):  # noqa: D102
        x = x + self.self_attn(
            self.input_layernorm(x), causal=True, rope=rope, cache=cache, layer=layer
        )
        return x + self.mlp(self.post_attention_layernorm(x))


class TinyGPT(nn.Module):
    """A small causal language model.

    Args:
        cfg: the sizes.

    Book: notebooks/zoo/models.md, "TinyGPT".
    """

    @typed
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.d_model)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        cos, sin = rope_tables(cfg.n_ctx, cfg.d_model // cfg.n_heads, cfg.rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(_init)

    def forward(self, tokens: torch.Tensor, cache: KVCache | None = None):
        """Next-token logits, shape (batch, n, vocab_size), for tokens (batch, n).

        With a ``cache``, ``tokens`` are the new positions after the cached ones.
        """
        if tokens.dtype != torch.long or tokens.dim() != 2:
            raise TypeError(
                f"tokens: expected a long tensor (batch, n), got {tokens.dtype} "
                f"{tuple(tokens.shape)}"
            )
        start = cache.n_past if cache is not None else 0
        end = start + tokens.shape[1]
        if end > self.cfg.n_ctx:
            raise ValueError(
                f"tokens: positions up to {end} exceed n_ctx={self.cfg.n_ctx}"
            )
        if int(tokens.max()) >= self.cfg.vocab_size or int(tokens.min()) < 0:
            raise ValueError(f"tokens: ids must lie in [0, {self.cfg.vocab_size})")
        rope = (self.rope_cos[start:end], self.rope_sin[start:end])
        x = self.embed_tokens(tokens)
        for i, layer in enumerate(self.layers):
            x = layer(x, rope, cache, i)
        return self.lm_head(self.norm(x))

    def new_cache(self) -> KVCache:
        """An empty KV cache for :meth:`forward` and :meth:`generate`."""
        return KVCache(self.cfg.n_layers)

    @torch.no_grad()
    @typed
    def generate(
        self, prompt: torch.Tensor, n_new: int, temperature: float = 0.0, seed: int = 0
    ) -> torch.Tensor:
        """Extend ``prompt`` (batch, n) by ``n_new`` tokens with a KV cache.

        ``temperature=0`` is greedy; otherwise tokens are sampled with a seeded
        generator.
        """
        check_tensor("prompt", prompt, ndim=2, dtype=torch.long)
        if int(prompt.max()) >= self.cfg.vocab_size or int(prompt.min()) < 0:
            raise ValueError(f"prompt: ids must lie in [0, {self.cfg.vocab_size})")
        if prompt.shape[1] > self.cfg.n_ctx:
            raise ValueError(f"prompt: {prompt.shape[1]} tokens exceed "
                             f"n_ctx={self.cfg.n_ctx}")
        check_int("n_new", n_new, low=0)
        check_float("temperature", temperature, low=0)
        g = torch.Generator(device=prompt.device).manual_seed(seed)
        cache = self.new_cache()
        logits = self(prompt, cache)[:, -1]
        out = [prompt]
        for _ in range(n_new):
            if temperature > 0:
                probs = torch.softmax(logits / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=g)
            else:
                nxt = logits.argmax(-1, keepdim=True)
            out.append(nxt)
            if cache.n_past >= self.cfg.n_ctx:
                break
            logits = self(nxt, cache)[:, -1]
        return torch.cat(out, dim=1)

    # hooks: the chapters read and replace these modules
    def module(self, kind: str, layer: int) -> nn.Module:
        """Return ``"attn"`` or ``"mlp"`` of a layer."""
        _check_kind(kind, layer, self.cfg.n_layers)
        blk = self.layers[layer]
        return blk.self_attn if kind == "attn" else blk.mlp

    def replace(self, kind: str, layer: int, new: nn.Module) -> nn.Module:
        """Swap ``"attn"`` or ``"mlp"`` of a layer for ``new``; return the old one."""
        old = self.module(kind, layer)
        setattr(self.layers[layer], "self_attn" if kind == "attn" else "mlp", new)
        return old


def _check_kind(kind: str, layer: int, n_layers: int) -> None:
    if kind not in ("attn", "mlp"):
        raise ValueError(f"kind: expected 'attn' or 'mlp', got {kind!r}")
    if not 0 <= layer < n_layers:
        raise ValueError(f"layer: expected 0 <= layer < {n_layers}, got {layer}")


def _init(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Embedding):
        nn.init.normal_(m.weight, std=0.02)
