"""Graded questions of the draft_attention assignment, each with one known-wrong answer.

Four questions: pooling and per-head top-k block selection (q1, implementation), the
window permutation and its inverse on ragged frames (q2, implementation), the cost
of the draft map relative to full attention derived in SymPy (q3), and the output
error bound evaluated on a real attention call of TinyVideoDiT (q4, numeric).

Book: notebooks/draft_attention/assignment.md.
"""

from __future__ import annotations

import functools
import math

import sympy as sp
import torch

from effteach.draft_attention.draft import (
    draft_map,
    pool_draft,
    select_blocks,
    token_mask,
    window_ids,
    window_permutation,
)
from effteach.grading import Question, register

__all__ = ["SYMBOLS", "Q4_SETUP", "q4_call"]

#: the symbols of q3: tokens n, head dim d, window height and width
SYMBOLS = {"n": sp.Symbol("n", positive=True), "d": sp.Symbol("d", positive=True),
           "ph": sp.Symbol("p_h", positive=True), "pw": sp.Symbol("p_w", positive=True)}

#: q4: the attention call captured (layer, DDIM step), the sparsity, the window
Q4_SETUP = {"layer": 2, "step": 12, "sparsity": 0.9, "window": (2, 2), "clip_seed": 5}


# ----------------------------------------------------------------------- q1
def _blocks_ref(q, k, n_frames, height, width, window, sparsity):
    dm = draft_map(pool_draft(q, n_frames, height, width, window),
                   pool_draft(k, n_frames, height, width, window))
    return select_blocks(dm, sparsity, "head")


def _blocks_wrong(q, k, n_frames, height, width, window, sparsity):
    """Keeps the top ``(1 - s) m`` of each row instead of the top of the whole map."""
    dm = draft_map(pool_draft(q, n_frames, height, width, window),
                   pool_draft(k, n_frames, height, width, window))
    return select_blocks(dm, sparsity, "row")


def _blocks_cases(n: int, seed: int) -> list[tuple]:
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for i in range(n):
        f = 1 + (i + seed) % 3
        h = 2 + (3 * i + seed) % 5
        w = 2 + (5 * i + seed) % 5
        win = (1 + i % 2, 1 + (i // 2) % 3)
        if i == 0:
            h, w, win = 4, 4, (2, 2)
        heads = 1 + i % 3
        q = torch.randn(1, heads, f * h * w, 8, generator=gen, dtype=torch.float64)
        # a per-frame offset: the draft map is not uniform
        off = torch.randn(1, heads, f, 1, 8, generator=gen, dtype=torch.float64)
        q = (q.view(1, heads, f, h * w, 8) + 2 * off).view(1, heads, -1, 8)
        k = torch.randn(1, heads, f * h * w, 8, generator=gen, dtype=torch.float64)
        cases.append((q, k, f, h, w, win, (0.5, 0.75, 0.9)[i % 3]))
    return cases


# ----------------------------------------------------------------------- q2
def _order_ref(n_frames, height, width, window):
    return window_permutation(n_frames, height, width, window)


def _order_wrong(n_frames, height, width, window):
    """Walks the windows of a frame column by column (not row-major)."""
    ph, pw = window
    r = torch.arange(height)[:, None] // ph
    c = torch.arange(width)[None, :] // pw
    nwr = math.ceil(height / ph)
    per = (c * nwr + r).flatten()
    ids = (torch.arange(n_frames)[:, None] * per.max().add(1) + per).flatten()
    perm = torch.argsort(ids, stable=True)
    inv = torch.empty_like(perm)
    inv[perm] = torch.arange(len(perm))
    return perm, inv


def _order_cases(n: int, seed: int) -> list[tuple]:
    gen = torch.Generator().manual_seed(seed)
    cases = [(2, 4, 4, (2, 2)), (1, 5, 7, (2, 3))]  # whole windows, then ragged
    while len(cases) < n:
        f, h, w, ph, pw = (int(x) for x in torch.randint(1, 8, (5,), generator=gen))
        cases.append((f, h, w, (min(ph, 4), min(pw, 4))))
    return cases[:n]


# ----------------------------------------------------------------------- q3
def _draft_cost_ratio() -> sp.Expr:
    """Multiply-adds of the draft logits over those of the full logits."""
    n, d, ph, pw = (SYMBOLS[s] for s in ("n", "d", "ph", "pw"))
    g = n / (ph * pw)
    return sp.simplify(g**2 * d / (n**2 * d))


def _draft_cost_wrong() -> sp.Expr:
    """Counts one power of the window size too few (g d n instead of g² d)."""
    ph, pw = SYMBOLS["ph"], SYMBOLS["pw"]
    return 1 / (ph * pw)


# ----------------------------------------------------------------------- q4
@functools.lru_cache(maxsize=1)
def _captured() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    from effteach import zoo
    from effteach.draft_attention.experiments import draft_rollout
    from effteach.models.training import video_batch

    model = zoo.load("tinyvideodit")
    got = {}
    blk = model.blocks[Q4_SETUP["layer"]].attn
    state = {"step": -1}

    def grab(q, k, v, causal=False):
        state["step"] += 1
        if state["step"] == Q4_SETUP["step"]:
            got["qkv"] = (q.clone(), k.clone(), v.clone())
        return torch.nn.functional.scaled_dot_product_attention(q, k, v)

    clips = video_batch(1, seed=Q4_SETUP["clip_seed"])
    blk.attn_fn = grab
    try:
        draft_rollout(model, clips, None, seed=0, n_steps=25)
    finally:
        model.set_attention_fn(None)
    return tuple(t.double() for t in got["qkv"])


def q4_call() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q4's ``(q, k, v)``: one attention call of TinyVideoDiT, float64 copies.

    The call of layer ``Q4_SETUP["layer"]`` at DDIM step ``Q4_SETUP["step"]`` of the
    dense rollout of one clip; shapes ``(1, 4, 128, 16)``.

    Book: notebooks/draft_attention/assignment.md, Q4.
    """
    return tuple(t.clone() for t in _captured())


def _bound(factor: float) -> torch.Tensor:
    q, k, v = q4_call()
    win, s = Q4_SETUP["window"], Q4_SETUP["sparsity"]
    bm = _blocks_ref(q, k, 8, 4, 4, win, s)
    mask = token_mask(bm, window_ids(8, 4, 4, win))
    p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), -1)
    dropped = (p * ~mask).sum(-1)  # (1, heads, n)
    vmax = v.norm(dim=-1).amax(-1, keepdim=True)  # per head
    return (factor * dropped * vmax)[0]


def _bound_ref() -> torch.Tensor:
    """Per head and query: ``2 m max_j |v_j|`` (shape ``(heads, n)``)."""
    return _bound(2.0)


def _bound_wrong() -> torch.Tensor:
    """Forgets the renormalisation term: ``m max_j |v_j|``."""
    return _bound(1.0)


register(Question(
    qid="draft_attention.q1",
    prompt="draft_blocks(q, k, n_frames, height, width, window, sparsity): pool per "
    "window, draft map, per-head top-k blocks plus each row's argmax.",
    kind="function", reference=_blocks_ref, wrong=_blocks_wrong,
    make_cases=_blocks_cases, rtol=0, atol=0))

register(Question(
    qid="draft_attention.q2",
    prompt="window_order(n_frames, height, width, window) -> (perm, inv): tokens "
    "window by window, ragged edges too, and the inverse.",
    kind="function", reference=_order_ref, wrong=_order_wrong,
    make_cases=_order_cases, rtol=0, atol=0))

register(Question(
    qid="draft_attention.q3",
    prompt="Cost of the draft logits over the full logits, in n, d, p_h, p_w.",
    kind="sympy", reference=_draft_cost_ratio, wrong=_draft_cost_wrong))

register(Question(
    qid="draft_attention.q4",
    prompt="The output-error bound 2 m max|v| of every query of q4_call() at 90% "
    "sparsity, shape (heads, n).",
    kind="value", reference=_bound_ref, wrong=_bound_wrong, rtol=1e-9, atol=1e-12))
