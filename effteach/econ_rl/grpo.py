"""GRPO's pieces in NumPy: group-normalised advantages and the clipped objective."""

from __future__ import annotations

import numpy as np

from effteach.checks import check_float, check_int

__all__ = ["group_advantages", "grpo_objective", "k3_kl", "signal_probability"]


def _vec(name, x, ndim=None):
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name}: expected a numeric array") from exc
    if raw.dtype.kind not in "biuf":  # strings, objects, complex: never coerced
        raise TypeError(f"{name}: expected a real numeric array, got dtype {raw.dtype}")
    a = raw.astype(float)
    if a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected a non-empty finite array")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim}-D, got shape {a.shape}")
    return a


def group_advantages(rewards, eps: float = 1e-6) -> np.ndarray:
    """``(r - mean(r)) / (std(r) + eps)`` over the last axis (one group per row).

    The advantages of a group sum to zero; a group whose rewards are all equal gets
    zero advantages (no learning signal).
    """
    r = _vec("rewards", rewards)
    eps = check_float("eps", eps, low=0.0)
    mu = r.mean(axis=-1, keepdims=True)
    sd = r.std(axis=-1, keepdims=True)
    return (r - mu) / (sd + eps)


def signal_probability(p, group_size: int):
    """Chance that a group of ``group_size`` binary rewards is not all equal.

    Each sample succeeds independently with probability ``p``; only a group with at
    least one success and one failure has non-zero advantages, so this is the share
    of prompts that give GRPO any gradient: ``1 - (1 - p)^G - p^G``.
    """
    a = _vec("p", p)
    if np.any((a < 0) | (a > 1)):
        raise ValueError("p: expected success probabilities in [0, 1]")
    g = check_int("group_size", group_size, low=1)
    out = 1.0 - (1.0 - a) ** g - a**g
    return float(out) if np.ndim(p) == 0 else out


def k3_kl(logp, logp_ref) -> np.ndarray:
    """Per-sample k3 estimate ``exp(d) - d - 1`` with ``d = logp_ref - logp``."""
    lp = _vec("logp", logp)
    lr = _vec("logp_ref", logp_ref)
    if lp.shape != lr.shape:
        raise ValueError(f"logp_ref: shape {lr.shape} differs from {lp.shape}")
    d = lr - lp
    return np.expm1(d) - d


def grpo_objective(logp, logp_old, logp_ref, advantages, clip: float = 0.2,
                   beta: float = 0.04) -> float:
    """Sequence-level GRPO objective (to maximise) for one group.

    ``mean_i min(w_i A_i, clip(w_i, 1-clip, 1+clip) A_i) - beta * mean_i KL_i`` with
    ``w_i = exp(logp_i - logp_old_i)`` and the k3 KL to the reference.
    """
    lp = _vec("logp", logp, 1)
    lo = _vec("logp_old", logp_old, 1)
    adv = _vec("advantages", advantages, 1)
    for nm, a in (("logp_old", lo), ("advantages", adv)):
        if a.shape != lp.shape:
            raise ValueError(f"{nm}: shape {a.shape} differs from {lp.shape}")
    clip = check_float("clip", clip, low=0.0, high=1.0)
    beta = check_float("beta", beta, low=0.0)
    w = np.exp(lp - lo)
    surr = np.minimum(w * adv, np.clip(w, 1 - clip, 1 + clip) * adv)
    return float(surr.mean() - beta * k3_kl(lp, logp_ref).mean())
