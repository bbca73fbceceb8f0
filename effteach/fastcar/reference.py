"""Plain reference implementations of FastCar's pieces (the specs the fast paths meet).

* :func:`tas_ref`: the Temporal Attention Score of one decode step, the mean over
  heads of the scaled dot product of the current query with the aligned key, the
  key of the same position one frame (``tokens_per_frame`` positions) earlier.
* :func:`replay_mlp_ref`: the paper's replay rule written as the official code runs
  it, a *masked select after computing every row* (no time saved, exact semantics).
* :func:`drs_round_robin_ref`: Dynamic Resource Scheduling as a loop: compute rows
  are dealt to cores in turn.
* :func:`static_map_ref`: the baseline mapping, row ``b`` on core ``b mod P``.

Paper: FastCar (arXiv 2505.14709), TAS and Cache Attentive Replay; DRS.
Book: notebooks/fastcar/lecture.md, "The method".
"""

from __future__ import annotations

import math

import torch

from effteach.checks import check_float, check_int, check_tensor, typed

__all__ = ["tas_ref", "replay_mlp_ref", "drs_round_robin_ref", "static_map_ref"]


@typed
def tas_ref(q: torch.Tensor, k_cache: torch.Tensor, tokens_per_frame: int
            ) -> torch.Tensor:
    """TAS of the newest query against the key ``tokens_per_frame`` positions back.

    Args:
        q: the current token's query, shape (batch, n_heads, d_head).
        k_cache: keys of all positions so far *including* the current one, shape
            (batch, n_heads, n_past, d_head); the aligned key is
            ``k_cache[:, :, -1 - tokens_per_frame]``.
        tokens_per_frame: N, the frame length in tokens.

    Returns:
        (batch,) scores ``mean_m <q^m, k^m_{j-N}> / sqrt(d_head)``.

    Paper: FastCar (arXiv 2505.14709), Temporal Attention Score.
    Book: notebooks/fastcar/lecture.md, "The method".
    """
    check_tensor("q", q, ndim=3, kind="float")
    check_tensor("k_cache", k_cache, ndim=4, kind="float")
    n = check_int("tokens_per_frame", tokens_per_frame, low=1)
    b, h, d = q.shape
    if k_cache.shape[:2] != (b, h) or k_cache.shape[3] != d:
        raise ValueError(f"k_cache: expected (batch={b}, n_heads={h}, n_past, "
                         f"d_head={d}) to match q, got {tuple(k_cache.shape)} "
                         f"(q: {tuple(q.shape)})")
    if k_cache.shape[2] < n + 1:
        raise ValueError(f"k_cache: needs at least tokens_per_frame + 1 = {n + 1} "
                         f"positions, got {k_cache.shape[2]}")
    k_prev = k_cache[:, :, -1 - n]  # (batch, n_heads, d_head)
    return (q * k_prev).sum(-1).mean(-1) / math.sqrt(d)


@typed
def replay_mlp_ref(h: torch.Tensor, mlp, cached: torch.Tensor, tas: torch.Tensor,
                   tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Replay rule by masked select: every row computed, then cached where TAS >= tau.

    Args:
        h: normalised MLP inputs, shape (batch, d_model).
        mlp: the MLP module (a callable on (rows, d_model)).
        cached: the MLP outputs of the aligned positions, shape (batch, d_model).
        tas: (batch,) scores.
        tau: the threshold (``inf``: never replay).

    Returns:
        ``(y, replay)``: outputs (batch, d_model) and the (batch,) bool decisions.
    """
    check_tensor("h", h, ndim=2, kind="float")
    check_tensor("cached", cached, shape=tuple(h.shape), kind="float", shape_of="h")
    check_tensor("tas", tas, shape=(h.shape[0],), kind="float", shape_of="h")
    tau = check_float("tau", tau, finite=False)
    if not callable(mlp):
        raise TypeError(f"mlp: expected a callable module, got {type(mlp).__name__}")
    replay = tas >= tau
    y = torch.where(replay[:, None], cached, mlp(h))
    return y, replay


def _flags(name: str, compute) -> list[bool]:
    if isinstance(compute, torch.Tensor):
        check_tensor(name, compute, ndim=1, kind="bool", non_empty=False)
        return [bool(x) for x in compute.tolist()]
    if not isinstance(compute, (list, tuple)) or not all(
            isinstance(x, bool) for x in compute):
        raise TypeError(f"{name}: expected a list of bools or a bool tensor")
    return list(compute)


@typed
def drs_round_robin_ref(compute, n_cores: int) -> list[int]:
    """Core of each row under DRS: compute rows dealt round-robin, replayed rows -1.

    Args:
        compute: per-row flags, True where the row needs the MLP (the Index
            Register's bits).
        n_cores: P.

    Returns:
        The Mapping Registers: core id per row, ``-1`` for a discarded (replayed) row.
    """
    flags = _flags("compute", compute)
    p = check_int("n_cores", n_cores, low=1)
    out, nxt = [], 0
    for c in flags:
        if c:
            out.append(nxt)
            nxt = (nxt + 1) % p
        else:
            out.append(-1)
    return out


@typed
def static_map_ref(compute, n_cores: int) -> list[int]:
    """Static mapping: row ``b`` on core ``b mod P`` if it computes, else -1."""
    flags = _flags("compute", compute)
    p = check_int("n_cores", n_cores, low=1)
    return [b % p if c else -1 for b, c in enumerate(flags)]
