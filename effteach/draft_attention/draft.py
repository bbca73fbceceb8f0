"""DraftAttention: pool Q/K per frame, pick blocks from the draft map, attend sparsely.

The steps, for a clip of ``n_frames`` frames of ``height × width`` tokens laid out
frame-major (frame, row, column):

1. :func:`window_ids` assigns each token to its pooled window (a ``ph × pw`` tile of
   one frame; windows at a ragged frame edge are smaller);
2. :func:`pool_draft` averages Q and K over each window (one draft token per window);
3. :func:`draft_map` is the softmax attention map of the draft tokens;
4. :func:`select_blocks` keeps the largest entries of the draft map at a target
   sparsity, per head over the whole map (the paper's code) or per query row;
5. :func:`window_permutation` reorders tokens so each window is contiguous (and
   its inverse restores the order), so that a kept window pair is a dense block of
   a block-sparse kernel;
6. :func:`draft_attention` runs the whole pipeline; :class:`DraftConfig` adds dense
   warm-up steps and dense first layers; :func:`draft_rollout` samples the zoo's
   TinyVideoDiT with it.

Paper: Shen et al., "DraftAttention: Fast Video Diffusion via Low-Resolution
    Attention Guidance", arXiv 2505.14708, Sections 3.1-3.3.
Book: notebooks/draft_attention/lecture.md.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import torch

from effteach.checks import check_float, check_int, check_sequence, check_tensor

MASK_KINDS = ("draft", "random", "window")
MODES = ("head", "row")


def _acc(dtype: torch.dtype) -> torch.dtype:
    """Accumulation dtype: float32 at least, float64 for float64 inputs."""
    return torch.promote_types(dtype, torch.float32)


def _check_window(window) -> tuple[int, int]:
    window = check_sequence("window", window, length=2)
    return check_int("window[0]", window[0], 1), check_int("window[1]", window[1], 1)


def _check_layout(n_frames, height, width, window):
    n_frames = check_int("n_frames", n_frames, 1)
    height = check_int("height", height, 1)
    width = check_int("width", width, 1)
    ph, pw = _check_window(window)
    return n_frames, height, width, ph, pw


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")


def check_sparsity(sparsity) -> float:
    """Return ``sparsity`` as a float in [0, 1), else raise naming it."""
    s = check_float("sparsity", sparsity)
    if not 0.0 <= s < 1.0:
        raise ValueError(f"sparsity: expected a number in [0, 1), got {s:g}")
    return s


def window_ids(n_frames: int, height: int, width: int,
               window: tuple[int, int]) -> torch.Tensor:
    """Pooled-window index of every token of a frame-major clip.

    Windows are numbered frame by frame, row-major within a frame; with
    ``height % ph`` or ``width % pw`` non-zero the last row/column of windows is
    smaller (ragged).

    Args:
        n_frames: frames.
        height: token rows per frame.
        width: token columns per frame.
        window: ``(ph, pw)`` window size in tokens.

    Returns:
        Long tensor of shape ``(n_frames * height * width,)``.

    Paper: Section 3.1 (per-frame 2-D average pooling).
    Book: notebooks/draft_attention/lecture.md, "The method".
    """
    f, h, w, ph, pw = _check_layout(n_frames, height, width, window)
    nwr, nwc = math.ceil(h / ph), math.ceil(w / pw)
    r = torch.arange(h)[:, None] // ph
    c = torch.arange(w)[None, :] // pw
    per_frame = (r * nwc + c).flatten()
    return (torch.arange(f)[:, None] * (nwr * nwc) + per_frame[None]).flatten()


def n_windows(n_frames: int, height: int, width: int,
              window: tuple[int, int]) -> int:
    """Number of pooled windows (draft tokens) of a clip."""
    f, h, w, ph, pw = _check_layout(n_frames, height, width, window)
    return f * math.ceil(h / ph) * math.ceil(w / pw)


def window_permutation(n_frames: int, height: int, width: int,
                       window: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Permutation making each pooled window contiguous, and its inverse.

    ``x[..., perm, :]`` lists the tokens window by window (inside a window in their
    original order); ``y[..., inv, :]`` undoes it: ``x[..., perm, :][..., inv, :]``
    is ``x`` exactly.

    Returns:
        ``(perm, inv)``, long tensors of shape ``(n,)``.

    Paper: Section 3.3 (token reordering).
    Book: notebooks/draft_attention/lecture.md, "The method".
    """
    ids = window_ids(n_frames, height, width, window)
    perm = torch.argsort(ids, stable=True)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(len(perm))
    return perm, inv


def _check_qkv(q, k, v=False, names=("q", "k", "v")):
    nq, nk, nv = names
    check_tensor(nq, q, ndim=4, kind="float")
    check_tensor(nk, k, ndim=4, kind="float")
    if k.shape[:2] != q.shape[:2]:
        raise ValueError(
            f"{nk}: expected (batch, heads) {tuple(q.shape[:2])} as {nq}, got "
            f"{tuple(k.shape[:2])} (mismatched heads)")
    if k.shape[2:] != q.shape[2:]:
        raise ValueError(f"{nk}: expected shape {tuple(q.shape)} as {nq}, got "
                         f"{tuple(k.shape)}")
    if v is not False:
        check_tensor(nv, v, ndim=4, kind="float")
        if v.shape[:3] != q.shape[:3]:
            raise ValueError(f"{nv}: expected (batch, heads, n) "
                             f"{tuple(q.shape[:3])} as {nq}, got {tuple(v.shape[:3])}")


def pool_draft(x: torch.Tensor, n_frames: int, height: int, width: int,
               window: tuple[int, int]) -> torch.Tensor:
    """Average tokens over each pooled window: one draft token per window.

    Args:
        x: queries or keys, shape ``(batch, heads, n, d)`` with
            ``n = n_frames * height * width`` (frame-major).
        n_frames: frames.
        height: token rows per frame.
        width: token columns per frame.
        window: ``(ph, pw)``.

    Returns:
        ``(batch, heads, n_windows, d)``; a ragged window is averaged over its own
        (smaller) token count.

    Paper: Section 3.1, Eq. (2).
    Book: notebooks/draft_attention/lecture.md, "The method".
    """
    check_tensor("x", x, ndim=4, kind="float")
    ids = window_ids(n_frames, height, width, window).to(x.device)
    if x.shape[2] != len(ids):
        raise ValueError(f"x: expected n = n_frames*height*width = {len(ids)} "
                         f"tokens, got {x.shape[2]}")
    m = int(ids[-1]) + 1
    out = torch.zeros(*x.shape[:2], m, x.shape[3], dtype=_acc(x.dtype),
                      device=x.device)
    out.index_add_(2, ids, x.to(out.dtype))
    counts = torch.bincount(ids, minlength=m).to(out)
    return (out / counts[:, None]).to(x.dtype)


def draft_map(q_draft: torch.Tensor, k_draft: torch.Tensor,
              scale: float | None = None) -> torch.Tensor:
    """Softmax attention map of the draft tokens, ``(batch, heads, m, m)``, fp32+.

    Paper: Section 3.1, Eq. (3) (the code scales by ``1/sqrt(d)``).
    Book: notebooks/draft_attention/lecture.md, "The method".
    """
    _check_qkv(q_draft, k_draft, False, ("q_draft", "k_draft", ""))
    d = q_draft.shape[-1]
    scale = 1 / math.sqrt(d) if scale is None else check_float("scale", scale)
    a = _acc(q_draft.dtype)
    s = q_draft.to(a) @ k_draft.to(a).transpose(-1, -2) * scale
    return torch.softmax(s, dim=-1)


def select_blocks(dmap: torch.Tensor, sparsity: float, mode: str = "head",
                  keep_argmax: bool = True) -> torch.Tensor:
    """Boolean block mask keeping the largest draft-map entries.

    Args:
        dmap: draft map ``(batch, heads, m, m)``.
        sparsity: fraction of blocks to drop, in [0, 1).
        mode: ``"head"``: keep the top ``ceil((1 - s) m²)`` entries of each head's
            whole map (the paper's code); ``"row"``: the top ``ceil((1 - s) m)``
            of each row.
        keep_argmax: also keep each row's largest entry, so no query row is left
            without keys (our addition; the paper's percentile mask can empty a
            row).

    Returns:
        Bool tensor ``(batch, heads, m, m)``.

    Paper: Section 3.2 and the code's per-head percentile threshold.
    Book: notebooks/draft_attention/lecture.md, "The method".
    """
    check_tensor("dmap", dmap, ndim=4, kind="float")
    if dmap.shape[-1] != dmap.shape[-2]:
        raise ValueError(f"dmap: expected a square map, got {tuple(dmap.shape)}")
    s = check_sparsity(sparsity)
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    _check_bool("keep_argmax", keep_argmax)
    b, h, m, _ = dmap.shape
    if mode == "head":
        keep = max(1, math.ceil((1 - s) * m * m))
        flat = dmap.reshape(b, h, m * m)
        idx = flat.topk(keep, dim=-1).indices
        mask = torch.zeros_like(flat, dtype=torch.bool).scatter_(-1, idx, True)
        mask = mask.view(b, h, m, m)
    else:
        keep = max(1, math.ceil((1 - s) * m))
        idx = dmap.topk(keep, dim=-1).indices
        mask = torch.zeros_like(dmap, dtype=torch.bool).scatter_(-1, idx, True)
    if keep_argmax:
        mask.scatter_(-1, dmap.argmax(-1, keepdim=True), True)
    return mask


def baseline_blocks(shape: tuple[int, int, int], density_of: torch.Tensor,
                    kind: str, seed: int = 0) -> torch.Tensor:
    """A random or sliding-window block mask with the same kept count per head.

    Args:
        shape: ``(batch, heads, m)``.
        density_of: a mask ``(batch, heads, m, m)`` whose per-head kept count to
            match.
        kind: ``"random"`` (uniform blocks, each row's diagonal kept) or
            ``"window"`` (blocks nearest the diagonal, ``|i - j|`` ascending).
        seed: seed of ``"random"``.

    Book: notebooks/draft_attention/lecture.md, "Experiments".
    """
    if kind not in ("random", "window"):
        raise ValueError(f"kind: expected 'random' or 'window', got {kind!r}")
    shape = check_sequence("shape", shape, length=3)
    b, h, m = (check_int(f"shape[{i}]", x, 1) for i, x in enumerate(shape))
    check_tensor("density_of", density_of, shape=(b, h, m, m), kind="bool")
    counts = density_of.flatten(2).sum(-1)
    seed = check_int("seed", seed)
    g = torch.Generator().manual_seed(seed)
    eye = torch.eye(m, dtype=torch.bool)
    if kind == "random":
        score = torch.rand(b, h, m * m, generator=g)
        score = score + eye.flatten().float() * 2  # diagonal first
    else:
        i = torch.arange(m)
        score = -(i[:, None] - i[None, :]).abs().float().flatten()
        score = score + torch.rand(m * m, generator=g) * 1e-3  # break ties
        score = score.expand(b, h, m * m)
    order = score.argsort(-1, descending=True)
    rank = torch.empty_like(order)
    rank.scatter_(-1, order, torch.arange(m * m).expand(b, h, m * m).contiguous())
    return (rank < counts[..., None].cpu()).view(b, h, m, m).to(density_of.device)


def token_mask(block_mask: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Lift a window-level mask to tokens: ``mask[i, j] = block[ids[i], ids[j]]``."""
    check_tensor("block_mask", block_mask, ndim=4, kind="bool")
    check_tensor("ids", ids, ndim=1, kind="int")
    m = block_mask.shape[-1]
    if block_mask.shape[-2] != m:
        raise ValueError(f"block_mask: expected a square (m, m) mask, got "
                         f"{tuple(block_mask.shape)}")
    if int(ids.min()) < 0 or int(ids.max()) >= m:
        raise ValueError(f"ids: expected window ids in [0, {m}), got "
                         f"[{int(ids.min())}, {int(ids.max())}]")
    ids = ids.to(block_mask.device)
    return block_mask[:, :, ids][:, :, :, ids]


def masked_attention(q, k, v, mask: torch.Tensor,
                     scale: float | None = None) -> torch.Tensor:
    """Dense attention restricted to ``mask`` (token level, True = kept), fp32+ math.

    Rows with no kept key return zeros. The reference every sparse path must match.
    """
    _check_qkv(q, k, v)
    check_tensor("mask", mask, kind="bool")
    n = q.shape[2]
    if mask.shape[-2:] != (n, n) or mask.ndim > 4:
        raise ValueError(f"mask: expected shape (..., {n}, {n}) broadcastable to "
                         f"(batch, heads, n, n), got {tuple(mask.shape)}")
    d = q.shape[-1]
    scale = 1 / math.sqrt(d) if scale is None else check_float("scale", scale)
    a = _acc(q.dtype)
    s = (q.to(a) @ k.to(a).transpose(-1, -2)) * scale
    s = s.masked_fill(~mask, float("-inf"))
    p = torch.softmax(s, -1).nan_to_num(0.0)
    return (p @ v.to(a)).to(q.dtype)


@dataclasses.dataclass(frozen=True)
class DraftConfig:
    """Options of DraftAttention sampling.

    Attributes:
        sparsity: fraction of window pairs dropped, in [0, 1).
        window: ``(ph, pw)`` pooling window in tokens.
        mode: ``"head"`` (paper) or ``"row"`` top-k.
        kind: ``"draft"`` (the method), ``"random"`` or ``"window"`` baselines.
        dense_steps: the first sampling steps run dense attention (warm-up).
        dense_layers: the first transformer layers always run dense attention.
    """

    sparsity: float = 0.9
    window: tuple[int, int] = (2, 2)
    mode: str = "head"
    kind: str = "draft"
    dense_steps: int = 0
    dense_layers: int = 0

    def __post_init__(self):
        check_sparsity(self.sparsity)
        _check_window(self.window)
        if self.mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {self.mode!r}")
        if self.kind not in MASK_KINDS:
            raise ValueError(f"kind: expected one of {MASK_KINDS}, got {self.kind!r}")
        check_int("dense_steps", self.dense_steps, 0)
        check_int("dense_layers", self.dense_layers, 0)


def draft_attention(q, k, v, n_frames: int, height: int, width: int,
                    sparsity: float = 0.9, window: tuple[int, int] = (2, 2),
                    mode: str = "head", kind: str = "draft", seed: int = 0,
                    return_mask: bool = False):
    """The DraftAttention pipeline in plain PyTorch (any frame size, ragged too).

    Pool Q and K per window, build the draft map, select blocks (or a baseline mask
    of the same density), and attend over the kept window pairs only. Computed in
    the original token order with a token-level mask, which equals the
    reorder → block-sparse → restore path of :func:`sparse_pipeline` exactly.

    Returns:
        The output ``(batch, heads, n, d)``, and the block mask if ``return_mask``.

    Paper: Algorithm 1 (Sections 3.1-3.3).
    Book: notebooks/draft_attention/lecture.md, "The method".
    """
    _check_qkv(q, k, v)
    if kind not in MASK_KINDS:
        raise ValueError(f"kind: expected one of {MASK_KINDS}, got {kind!r}")
    seed = check_int("seed", seed)
    _check_bool("return_mask", return_mask)
    ids = window_ids(n_frames, height, width, window).to(q.device)
    if q.shape[2] != len(ids):
        raise ValueError(f"q: expected n = n_frames*height*width = {len(ids)} "
                         f"tokens, got {q.shape[2]}")
    dmap = draft_map(pool_draft(q, n_frames, height, width, window),
                     pool_draft(k, n_frames, height, width, window))
    bm = select_blocks(dmap, sparsity, mode)
    if kind != "draft":
        bm = baseline_blocks(tuple(bm.shape[:3]), bm, kind, seed)
    out = masked_attention(q, k, v, token_mask(bm, ids))
    return (out, bm) if return_mask else out


def kv_block_lists(block_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per query block, the kept key blocks: ``(idx, cnt)``.

    ``idx[..., i, :cnt[..., i]]`` are the kept key-block indices of row ``i`` in
    ascending order (int32; entries past ``cnt`` are unused); ``cnt`` int32.

    Book: notebooks/draft_attention/lecture.md, "A Triton kernel".
    """
    check_tensor("block_mask", block_mask, ndim=4, kind="bool")
    m = block_mask.shape[-1]
    cnt = block_mask.sum(-1).to(torch.int32)
    key = (~block_mask).to(torch.int32) * m + torch.arange(m, device=block_mask.device)
    idx = key.argsort(-1).to(torch.int32)
    width = max(1, int(cnt.max()))
    idx = idx[..., :width].contiguous()
    from effteach.kernels.draft_attention import _mark_checked

    _mark_checked(idx, cnt, m)  # in range by construction: no check at attention time
    return idx, cnt


@functools.lru_cache(maxsize=16)
def _device_perm(f, h, w, ph, pw, device):
    """The window permutation on ``device``, made once per layout (read only)."""
    return window_permutation(f, h, w, (ph, pw))[0].to(device, torch.int32)


def sparse_pipeline(q, k, v, n_frames: int, height: int, width: int,
                    sparsity: float = 0.9, window: tuple[int, int] = (8, 16),
                    mode: str = "head", block: int | None = None,
                    config: tuple[int, int, int, int] | None = None,
                    parts: dict | None = None):
    """DraftAttention with the Triton kernels: draft, mask, permute, attend, restore.

    Needs whole windows (``height % ph == width % pw == 0``) so that every window
    is a run of ``ph * pw`` tokens after the permutation; ``block`` (default the
    window's token count) must divide ``ph * pw``.

    Args:
        q: queries ``(batch, heads, n, d)``, frame-major.
        k: keys, as ``q``.
        v: values, as ``q``.
        n_frames: frames.
        height: token rows per frame.
        width: token columns per frame.
        sparsity: fraction of window pairs dropped, in [0, 1).
        window: ``(ph, pw)`` pooling window.
        mode: ``"head"`` or ``"row"`` (:func:`select_blocks`).
        block: kernel block size in tokens.
        config: kernel tiles, see :func:`effteach.kernels.draft_attention.
            block_sparse_attn`.
        parts: if a dict, filled with the intermediate tensors (for timing).

    Returns:
        The output in the original token order.

    Paper: Algorithm 1 with Section 3.3's reordering.
    Book: notebooks/draft_attention/lecture.md, "On a GPU".
    """
    from effteach.kernels.draft_attention import (
        _check_attn,
        _check_config,
        _launch_bsa,
    )
    from effteach.kernels.draft_attention import _launch_permute as permute

    _check_qkv(q, k, v)
    if v.shape != q.shape:
        raise ValueError(f"v: expected shape {tuple(q.shape)} as q for the kernel, "
                         f"got {tuple(v.shape)}")
    f, h, w, ph, pw = _check_layout(n_frames, height, width, window)
    if q.shape[2] != f * h * w:
        raise ValueError(f"q: expected n = n_frames*height*width = {f * h * w} "
                         f"tokens, got {q.shape[2]}")
    if h % ph or w % pw:
        raise ValueError(f"window: ({ph}, {pw}) must tile the {h}x{w} frame for "
                         "the kernel path (use draft_attention for ragged frames)")
    win = ph * pw
    block = win if block is None else check_int("block", block, 1)
    if win % block:
        raise ValueError(f"block: must divide the pooled window's {win} tokens, "
                         f"got {block}")
    if block < 16 or block & (block - 1):
        raise ValueError(f"block: expected a power of two >= 16 for the kernel, "
                         f"got {block}")
    config = _check_config(config, block)
    _check_attn(q, k, v)  # the kernel's own checks: dtype, d_head, device
    perm = _device_perm(f, h, w, ph, pw, str(q.device))
    qp, kp, vp = (permute(t, perm, False) for t in (q, k, v))
    # pooling is a mean over each contiguous run of win tokens once permuted
    b, nh, n, d = q.shape
    qd = qp.view(b, nh, n // win, win, d).float().mean(3)
    kd = kp.view(b, nh, n // win, win, d).float().mean(3)
    bm = select_blocks(draft_map(qd, kd), sparsity, mode)
    r = win // block
    if r > 1:
        bm = bm.repeat_interleave(r, 2).repeat_interleave(r, 3)
    idx, cnt = kv_block_lists(bm)
    op = _launch_bsa(qp, kp, vp, idx, cnt, block, config)
    if parts is not None:
        parts.update(perm=perm, qp=qp, kp=kp, vp=vp, idx=idx, cnt=cnt, op=op,
                     block_mask=bm)
    return permute(op, perm, True)
