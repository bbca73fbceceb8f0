"""Plain reference implementations of DraftAttention's steps (loops, float64).

The exact semantics every fast path is tested against:

* :func:`pool_ref`: the mean of each ``ph × pw`` window of each frame, windows in
  (frame, window row, window column) order; ragged edge windows average their own
  tokens;
* :func:`permutation_ref`: tokens listed window by window, inside a window row by
  row: the order of Algorithm 1 (frame, patch row, patch column, in-patch row,
  in-patch column); ``inv[perm[i]] = i``;
* :func:`select_ref`: per head, the ``ceil((1 - s) m²)`` largest draft-map entries
  (``mode="head"``) or each row's ``ceil((1 - s) m)`` largest (``"row"``), plus each
  row's largest entry; ties broken by the lower flat index;
* :func:`block_sparse_ref`: attention of each query over the keys of the kept key
  blocks of its query block only, renormalised over them.

Paper: Shen et al., arXiv 2505.14708, Sections 3.1-3.3 and Algorithm 1.
Book: notebooks/draft_attention/lecture.md, "The method".
"""

from __future__ import annotations

import math

import torch


def pool_ref(x: torch.Tensor, n_frames: int, height: int, width: int,
             window: tuple[int, int]) -> torch.Tensor:
    """Window means of ``x`` ``(batch, heads, n, d)``, by loops, in float64."""
    ph, pw = window
    b, h, n, d = x.shape
    grid = x.double().view(b, h, n_frames, height, width, d)
    out = []
    for f in range(n_frames):
        for r0 in range(0, height, ph):
            for c0 in range(0, width, pw):
                out.append(grid[:, :, f, r0:r0 + ph, c0:c0 + pw].mean((2, 3)))
    return torch.stack(out, 2)


def permutation_ref(n_frames: int, height: int, width: int,
                    window: tuple[int, int]) -> tuple[list[int], list[int]]:
    """``(perm, inv)`` as Python lists: Algorithm 1's order, by loops."""
    ph, pw = window
    perm = []
    for f in range(n_frames):
        for r0 in range(0, height, ph):
            for c0 in range(0, width, pw):
                for r in range(r0, min(r0 + ph, height)):
                    for c in range(c0, min(c0 + pw, width)):
                        perm.append(f * height * width + r * width + c)
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return perm, inv


def select_ref(dmap: torch.Tensor, sparsity: float, mode: str = "head"
               ) -> torch.Tensor:
    """Top-k block mask by sorting, head by head (ties: lower flat index first)."""
    b, h, m, _ = dmap.shape
    out = torch.zeros(b, h, m, m, dtype=torch.bool)
    for i in range(b):
        for j in range(h):
            a = dmap[i, j].double()
            if mode == "head":
                keep = max(1, math.ceil((1 - sparsity) * m * m))
                flat = a.flatten().tolist()
                order = sorted(range(m * m), key=lambda t: (-flat[t], t))
                for t in order[:keep]:
                    out[i, j, t // m, t % m] = True
            else:
                keep = max(1, math.ceil((1 - sparsity) * m))
                for r in range(m):
                    row = a[r].tolist()
                    for t in sorted(range(m), key=lambda c: (-row[c], c))[:keep]:
                        out[i, j, r, t] = True
            for r in range(m):
                out[i, j, r, int(a[r].argmax())] = True
    return out


def block_sparse_ref(q, k, v, block_mask: torch.Tensor, block: int) -> torch.Tensor:
    """Block-sparse attention by loops over query blocks, float64.

    ``block_mask[b, h, i, j]`` keeps key block ``j`` for query block ``i``; the last
    block may be short (``n`` not a multiple of ``block``). Rows without a kept
    block are zero.
    """
    b, h, n, d = q.shape
    out = torch.zeros(b, h, n, d, dtype=torch.float64)
    scale = 1 / math.sqrt(d)
    for i in range(b):
        for j in range(h):
            for qb in range(math.ceil(n / block)):
                rows = slice(qb * block, min(n, (qb + 1) * block))
                cols = [c for kb in range(block_mask.shape[-1])
                        if bool(block_mask[i, j, qb, kb])
                        for c in range(kb * block, min(n, (kb + 1) * block))]
                if not cols:
                    continue
                s = q[i, j, rows].double() @ k[i, j, cols].double().T * scale
                out[i, j, rows] = torch.softmax(s, -1) @ v[i, j, cols].double()
    return out


def output_error_bound(p: torch.Tensor, keep: torch.Tensor, v: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per query row: ``(|o - ô|, 2 m max_j |v_j|)`` for dropped mass ``m``.

    ``p``: attention probabilities ``(rows, keys)``; ``keep``: the kept keys (bool,
    same shape, at least one per row); ``v``: values ``(keys, d)``. ``ô`` is the
    attention renormalised over the kept keys.
    """
    p, v = p.double(), v.double()
    o = p @ v
    pk = p * keep
    o_hat = (pk / pk.sum(-1, keepdim=True)) @ v
    dropped = 1 - pk.sum(-1)
    return (o - o_hat).norm(dim=-1), 2 * dropped * v.norm(dim=-1).max()
