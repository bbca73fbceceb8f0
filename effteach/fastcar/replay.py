"""KV-cached decoding of TinyARVideo with FastCar's Cache Attentive Replay.

Rules of :func:`replay_decode` (one decode step of a batch of ``B`` rows decoding in
lockstep, at position ``p``, frame slot ``i = p mod N``, ``N = tokens_per_frame``):

* attention runs for every row as usual (KV cache appended); optionally with a
  StreamingLLM mask (``sink`` first positions plus the last ``window``);
* TAS per row and layer is the mean over heads of ``q · k[p - N] / sqrt(d_head)``,
  with ``q`` after RoPE (``variant="paper"``: the logit the attention itself uses) or
  before RoPE (``variant="code"``: what the official code caches); the key is always
  the post-RoPE key from the cache;
* a row replays when ``TAS >= tau_l`` (and, with ``max_chain=k``, when its slot has
  replayed fewer than ``k`` frames in a row): its MLP output is the one stored for
  slot ``i`` of that layer; the other rows are *gathered*, run through the MLP as one
  smaller batch and *scattered* back (``mlp_mode="gather"``). ``"masked"`` computes
  every row and then selects, as the official code does (same outputs, no savings);
* the slot stores the output actually used (chained replay).

``tau = inf`` never replays and runs exactly the model's own ops: it reproduces
:meth:`TinyGPT.generate` bit for bit (tested). Prefill of the prompt is dense.
Sampling (``temperature > 0``) uses Gumbel noise drawn up front from ``seed``, so two
runs with the same seed share their sampling noise.

Paper: FastCar (arXiv 2505.14709), Sec. 3 (TAS, Cache Attentive Replay).
Book: notebooks/fastcar/lecture.md, "The method".
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from effteach.checks import check_float, check_int, check_tensor, typed
from effteach.io import atomic_write
from effteach.models.layers import apply_rope

__all__ = [
    "DecodeResult",
    "replay_decode",
    "calibrate_tau",
    "open_loop_ratio",
    "save_trace",
    "load_trace",
    "mlp_rows",
]

VARIANTS = ("paper", "code")
MLP_MODES = ("gather", "masked")


@dataclasses.dataclass
class DecodeResult:
    """What one decode run produced and decided.

    Attributes:
        tokens: (B, n_prompt + n_new) long, prompt included.
        logits: (n_new, B, vocab) float32: the logits each new token was chosen from.
        tas: (n_steps, L, B) float32 TAS of every decode forward pass.
        replay: (n_steps, L, B) bool, True where the MLP output was replayed.
        delta: (n_steps, L, B) float32 norm of fresh MLP output minus the slot's
            cached one (NaN where replayed): the change TAS should predict.
        ref_norm: (n_steps, L, B) float32 norm of the slot's cached output.
        positions: (n_steps,) long, the sequence position of each step.
        seconds: wall time of the decode loop; mlp_seconds: of its MLP parts.
        tokens_per_frame: N.
    """

    tokens: torch.Tensor
    logits: torch.Tensor
    tas: torch.Tensor
    replay: torch.Tensor
    delta: torch.Tensor
    ref_norm: torch.Tensor
    positions: torch.Tensor
    seconds: float
    mlp_seconds: float
    tokens_per_frame: int

    @property
    def replay_ratio(self) -> float:
        """Share of (step, layer, row) MLP calls replayed."""
        return float(self.replay.float().mean()) if self.replay.numel() else 0.0

    def layer_ratio(self) -> torch.Tensor:
        """(L,) replay ratio per layer."""
        return self.replay.float().mean(dim=(0, 2))


def _taus(tau, n_layers: int) -> list[float]:
    if isinstance(tau, (int, float)) and not isinstance(tau, bool):
        return [check_float("tau", tau, finite=False)] * n_layers
    if not isinstance(tau, (list, tuple)):
        raise TypeError("tau: expected a float or a sequence of floats (one per layer)")
    if len(tau) != n_layers:
        raise ValueError(f"tau: expected {n_layers} per-layer values, got {len(tau)}")
    return [check_float(f"tau[{i}]", t, finite=False) for i, t in enumerate(tau)]


@typed
def mlp_rows(layer, h: torch.Tensor, replay: torch.Tensor, cached: torch.Tensor,
             mode: str = "gather") -> torch.Tensor:
    """MLP outputs of rows ``h`` (B, d): fresh where not ``replay``, else ``cached``.

    ``"gather"`` runs the MLP only on the computed rows (index_select, GEMM,
    index_copy); ``"masked"`` runs it on every row and selects afterwards.
    """
    if not hasattr(layer, "mlp") or not hasattr(layer, "post_attention_layernorm"):
        raise TypeError("layer: expected a decoder layer with .mlp and "
                        ".post_attention_layernorm")
    check_tensor("h", h, ndim=2, kind="float")
    check_tensor("replay", replay, shape=(h.shape[0],), kind="bool", shape_of="h")
    check_tensor("cached", cached, shape=tuple(h.shape), kind="float", shape_of="h")
    if mode not in MLP_MODES:
        raise ValueError(f"mode: expected one of {MLP_MODES}, got {mode!r}")
    norm, mlp = layer.post_attention_layernorm, layer.mlp
    if mode == "masked":
        return torch.where(replay[:, None], cached, mlp(norm(h)))
    if not bool(replay.any()):
        return mlp(norm(h))
    idx = (~replay).nonzero().squeeze(1)
    y = cached.clone()
    if idx.numel():
        y.index_copy_(0, idx, mlp(norm(h.index_select(0, idx))))
    return y


def _attend(attn, xn, rope, past, window, sink):
    """The model's attention on one new position; also returns pre/post-RoPE q."""
    q_pre = attn._heads(attn.q_proj(xn))
    k, v = attn._heads(attn.k_proj(xn)), attn._heads(attn.v_proj(xn))
    q, k = apply_rope(q_pre, *rope), apply_rope(k, *rope)
    k = torch.cat((past[0], k), dim=-2)
    v = torch.cat((past[1], v), dim=-2)
    n_k = k.shape[-2]
    mask = torch.ones(1, n_k, dtype=torch.bool, device=xn.device)
    if window is None:
        mask = mask.tril(n_k - 1)  # exactly the model's own decode mask
    else:
        pos = torch.arange(n_k, device=xn.device)
        mask = ((pos < sink) | (pos >= n_k - window))[None]
    o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    b, _, n, _ = o.shape
    return attn.o_proj(o.transpose(1, 2).reshape(b, n, -1)), q_pre, q, (k, v)


@torch.no_grad()
@typed
def replay_decode(
    model,
    prompt: torch.Tensor,
    n_new: int,
    tau: float | Sequence[float] = math.inf,
    variant: str = "paper",
    max_chain: int | None = None,
    mlp_mode: str = "gather",
    temperature: float = 0.0,
    seed: int = 0,
    force: torch.Tensor | None = None,
    window: int | None = None,
    sink: int = 0,
    random_ratio: float | None = None,
) -> DecodeResult:
    """Continue ``prompt`` by ``n_new`` tokens with TAS-gated MLP replay.

    Args:
        model: a :class:`~effteach.models.video.TinyARVideo`.
        prompt: (B, n_prompt) token ids, at least one frame (``n_prompt >= N``).
        n_new: tokens to generate.
        tau: threshold, one float or one per layer; ``inf`` is dense decoding.
        variant: ``"paper"`` (post-RoPE q) or ``"code"`` (pre-RoPE q).
        max_chain: at most this many consecutive replays per slot (``None``:
            unbounded, the official code; ``1``: one-step replay).
        mlp_mode: ``"gather"`` (real skipping) or ``"masked"`` (compute all, select).
        temperature: 0 for greedy; otherwise Gumbel-max sampling with shared noise.
        seed: seed of the sampling noise.
        force: optional (B, n_new) tokens fed instead of the sampled ones (teacher
            forcing); the logits are still recorded.
        window: StreamingLLM baseline: attend to the last ``window`` positions ...
        sink: ... plus the first ``sink`` positions (decode steps only).
        random_ratio: baseline: replay each (row, layer) with this probability
            instead of by TAS (seeded by ``seed``).

    Returns:
        A :class:`DecodeResult`.

    Paper: FastCar (arXiv 2505.14709), Sec. 3.
    Book: notebooks/fastcar/lecture.md, "The method".
    """
    if not hasattr(model, "gpt") or not hasattr(model, "cfg"):
        raise TypeError(f"model: expected a TinyARVideo, got {type(model).__name__}")
    gpt, n = model.gpt, model.cfg.tokens_per_frame
    cfg = gpt.cfg
    check_tensor("prompt", prompt, ndim=2, dtype=torch.long)
    b, n_prompt = prompt.shape
    if n_prompt < n:
        raise ValueError(f"prompt: needs at least one frame ({n} tokens), "
                         f"got {n_prompt}")
    if int(prompt.min()) < 0 or int(prompt.max()) >= cfg.vocab_size:
        raise ValueError(f"prompt: ids must lie in [0, {cfg.vocab_size})")
    n_new = check_int("n_new", n_new, low=1, high=cfg.n_ctx - n_prompt)
    taus = _taus(tau, cfg.n_layers)
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    if mlp_mode not in MLP_MODES:
        raise ValueError(f"mlp_mode: expected one of {MLP_MODES}, got {mlp_mode!r}")
    if max_chain is not None:
        check_int("max_chain", max_chain, low=1)
    temperature = check_float("temperature", temperature, low=0)
    if force is not None:
        check_tensor("force", force, shape=(b, n_new), dtype=torch.long)
        if int(force.min()) < 0 or int(force.max()) >= cfg.vocab_size:
            raise ValueError(f"force: ids must lie in [0, {cfg.vocab_size})")
    if window is not None:
        check_int("window", window, low=1)
    sink = check_int("sink", sink, low=0)
    if random_ratio is not None:
        random_ratio = check_float("random_ratio", random_ratio, low=0, high=1)
    coin = torch.Generator().manual_seed(seed + 1)

    gen = torch.Generator().manual_seed(seed)
    noise = -torch.log(-torch.log(
        torch.rand(n_new, b, cfg.vocab_size, generator=gen).clamp(1e-20, 1 - 1e-7)))
    n_layers, d = cfg.n_layers, cfg.d_model
    slots = torch.zeros(n_layers, b, n, d)  # MLP output used per layer and slot
    age = torch.zeros(n_layers, b, n, dtype=torch.long)  # consecutive replays
    cache = gpt.new_cache()
    t0 = time.perf_counter()
    # prefill: the model's own ops, keeping the MLP outputs of the last frame
    rope = (gpt.rope_cos[:n_prompt], gpt.rope_sin[:n_prompt])
    x = gpt.embed_tokens(prompt)
    for li, layer in enumerate(gpt.layers):
        x = x + layer.self_attn(layer.input_layernorm(x), causal=True, rope=rope,
                                cache=cache, layer=li)
        y = layer.mlp(layer.post_attention_layernorm(x))
        last = y[:, n_prompt - n:]  # positions p with slot p mod N
        slots[li, :, torch.arange(n_prompt - n, n_prompt) % n] = last
        x = x + y
    logits = gpt.lm_head(gpt.norm(x))[:, -1]

    n_steps = n_new - 1
    tas_t = torch.full((n_steps, n_layers, b), math.nan)
    rep_t = torch.zeros(n_steps, n_layers, b, dtype=torch.bool)
    delta_t = torch.full((n_steps, n_layers, b), math.nan)
    norm_t = torch.zeros(n_steps, n_layers, b)
    out, all_logits, mlp_s = [prompt], [], 0.0
    for s in range(n_new):
        all_logits.append(logits.float())
        if force is not None:
            nxt = force[:, s : s + 1]
        elif temperature > 0:
            nxt = (logits / temperature + noise[s]).argmax(-1, keepdim=True)
        else:
            nxt = logits.argmax(-1, keepdim=True)
        out.append(nxt)
        if s == n_steps:
            break
        p = n_prompt + s
        slot = p % n
        rope = (gpt.rope_cos[p : p + 1], gpt.rope_sin[p : p + 1])
        x = gpt.embed_tokens(nxt)
        for li, layer in enumerate(gpt.layers):
            attn = layer.self_attn
            o, q_pre, q, kv = _attend(attn, layer.input_layernorm(x), rope,
                                      cache.layers[li], window, sink)
            cache.layers[li] = kv
            h = (x + o)[:, 0]  # (B, d)
            qq = (q if variant == "paper" else q_pre)[:, :, 0]
            tas = (qq * kv[0][:, :, -1 - n]).sum(-1).mean(-1) / math.sqrt(attn.d_head)
            replay = tas >= taus[li]
            if random_ratio is not None:
                replay = torch.rand(b, generator=coin) < random_ratio
            if max_chain is not None:
                replay &= age[li, :, slot] < max_chain
            cached = slots[li, :, slot]
            t1 = time.perf_counter()
            y = mlp_rows(layer, h, replay, cached, mlp_mode)
            mlp_s += time.perf_counter() - t1
            fresh = ~replay
            delta_t[s, li, fresh] = (y[fresh] - cached[fresh]).norm(dim=-1)
            norm_t[s, li] = cached.norm(dim=-1)
            slots[li, :, slot] = y
            age[li, :, slot] = torch.where(replay, age[li, :, slot] + 1, 0)
            tas_t[s, li], rep_t[s, li] = tas, replay
            x = (h + y)[:, None]
        logits = gpt.lm_head(gpt.norm(x))[:, -1]
    seconds = time.perf_counter() - t0
    return DecodeResult(
        tokens=torch.cat(out, dim=1), logits=torch.stack(all_logits), tas=tas_t,
        replay=rep_t, delta=delta_t, ref_norm=norm_t,
        positions=torch.arange(n_prompt, n_prompt + n_steps), seconds=seconds,
        mlp_seconds=mlp_s, tokens_per_frame=n)


@typed
def open_loop_ratio(tas: torch.Tensor, tau: float | Sequence[float]) -> float:
    """Share of recorded TAS values (n_steps, L, B) at or above ``tau`` (per layer)."""
    check_tensor("tas", tas, ndim=3, kind="float")
    taus = torch.tensor(_taus(tau, tas.shape[1]), dtype=tas.dtype)
    return float((tas >= taus[None, :, None]).float().mean())


@typed
def calibrate_tau(tas: torch.Tensor, target: float, per_layer: bool = False
                  ) -> list[float]:
    """Thresholds that replay a ``target`` share of the recorded TAS values.

    Args:
        tas: (n_steps, L, B) scores of a dense run (``tau = inf``).
        target: the replay ratio wanted, in [0, 1].
        per_layer: one quantile per layer (each layer replays ``target``) instead of
            one uniform threshold (the paper's choice).

    Returns:
        L thresholds (``inf`` for a target of 0).
    """
    check_tensor("tas", tas, ndim=3, kind="float", finite=True)
    target = check_float("target", target, low=0, high=1)
    n_layers = tas.shape[1]
    if target == 0:
        return [math.inf] * n_layers
    if per_layer:
        return [_closest_threshold(tas[:, li].flatten(), target)
                for li in range(n_layers)]
    return [_closest_threshold(tas.flatten(), target)] * n_layers


def _closest_threshold(values: torch.Tensor, target: float) -> float:
    """The recorded value whose ``>=`` share is closest to ``target``.

    A quantile can land inside a group of tied scores (rows that start a frame
    share their TAS), and ``>=`` then replays the whole group; choosing among the
    achievable shares instead keeps the error to half the largest tie group.
    Ties between two candidates go to the higher threshold (fewer replays).
    """
    uniq, counts = torch.unique(values, sorted=True, return_counts=True)
    at_or_above = counts.flip(0).cumsum(0).flip(0).double() / values.numel()
    best = int(torch.argmin((at_or_above - target).abs().flip(0)))
    return float(uniq[len(uniq) - 1 - best])


@typed
def save_trace(path: str | Path, result: DecodeResult) -> Path:
    """Write the TAS/replay trace of ``result`` as ``.npz`` (atomic) for fpga_sim."""
    if not isinstance(result, DecodeResult):
        raise TypeError("result: expected a DecodeResult")
    path = Path(path)

    def write(tmp):
        with open(tmp, "wb") as fh:
            np.savez(fh, tas=result.tas.numpy(), replay=result.replay.numpy(),
                     positions=result.positions.numpy(),
                     tokens_per_frame=np.int64(result.tokens_per_frame))

    atomic_write(path, write)
    return path


@typed
def load_trace(path: str | Path) -> dict[str, np.ndarray]:
    """Read a trace written by :func:`save_trace`."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no trace file at {path}")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
