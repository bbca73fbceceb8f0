"""The attention-matrix pruning loss, its closed-form gradient, and descent on it.

Rules this module keeps:

* ``x`` is calibration input, (n_ctx, d) or (batch, n_ctx, d); losses average over
  the batch. The merged form prunes a (d, d) weight ``w`` standing for
  ``W_Q W_K^T`` with a real-valued mask ``m`` of the same shape; the separate form
  prunes ``wq, wk`` (d, d_head) with masks ``mq, mk`` (and optional RoPE), which is
  what removes stored parameters.
* The gradient is the closed form ``W o (X^T P X) + lambda M`` with
  ``P = F o C - rowsum(F o C) F``, ``C = F - A``: the softmax Jacobian
  ``diag(f) - f f^T`` applied to each error row. Causal masking needs no special
  case: masked entries of ``F`` are exactly 0 and drop out of ``P``.
* :func:`descend` runs gradient descent with a fixed step or with Armijo
  backtracking and records loss, gradient norm and step at every iteration.
* Bad input raises ``TypeError``/``ValueError`` naming the argument: mismatched
  shapes, ``lam < 0``, a non-positive step, ``sparsity`` outside [0, 1).

Paper: Liang et al., arXiv 2410.11261, Sec. 3 (loss, causal variant), Sec. 4
    (closed-form gradient, Lipschitz gradient, PL inequality), Alg. 1 (gradient
    descent for the pruning mask). The exact normalisation and constants are our
    reconstruction (the full text was not available).
Book: notebooks/attention_prune/lecture.md, "The method" and "Derivations".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from effteach.checks import check_float, check_int, check_tensor

__all__ = [
    "attention_matrix",
    "error_projection",
    "attention_loss",
    "attention_grad",
    "qk_scores",
    "qk_loss",
    "qk_grad",
    "Trace",
    "descend",
    "binarize",
]


def _x3(x) -> torch.Tensor:
    check_tensor("x", x, kind="float", finite=True)
    if x.dim() not in (2, 3):
        raise ValueError(
            f"x: expected shape (n_ctx, d) or (batch, n_ctx, d), got {tuple(x.shape)}"
        )
    return x if x.dim() == 3 else x[None]


def check_bool(name: str, value) -> bool:
    """Refuse anything but a Python bool for ``name``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__}")
    return value


def _lam(lam) -> float:
    return check_float("lam", lam, low=0.0)


def attention_matrix(logits: torch.Tensor, causal: bool) -> torch.Tensor:
    """Row softmax of ``logits`` (..., n, n); causal: zero above the diagonal.

    Paper: arXiv 2410.11261, Sec. 3, ``Softmax(X W X^T) = D^-1 exp(X W X^T)``.
    Book: notebooks/attention_prune/lecture.md, "The method".
    """
    check_tensor("logits", logits, kind="float", min_ndim=2)
    check_bool("causal", causal)
    n = logits.shape[-1]
    if logits.shape[-2] != n:
        raise ValueError(
            f"logits: expected square last dims, got {tuple(logits.shape)}"
        )
    if causal:
        keep = torch.ones(n, n, dtype=torch.bool, device=logits.device).tril()
        logits = logits.masked_fill(~keep, float("-inf"))
    return torch.softmax(logits, dim=-1)


def error_projection(f: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``P``: each error row ``c_j`` mapped by the softmax Jacobian at ``f_j``.

    ``p_j = (diag(f_j) - f_j f_j^T) c_j = f_j o c_j - <f_j, c_j> f_j``.

    Args:
        f: attention rows (..., n, n).
        c: errors, same shape.

    Paper: arXiv 2410.11261, Sec. 4 (closed-form gradient).
    Book: notebooks/attention_prune/lecture.md, "Derivations".
    """
    check_tensor("f", f, kind="float", min_ndim=1)
    check_tensor("c", c, kind="float", shape=f.shape, shape_of="f")
    fc = f * c
    return fc - fc.sum(-1, keepdim=True) * f


def _merged(x, w, m, target):
    xb = _x3(x)
    d = xb.shape[-1]
    check_tensor("w", w, shape=(d, d), shape_of="x", kind="float")
    check_tensor("m", m, shape=(d, d), shape_of="w", kind="float")
    b, n = xb.shape[:2]
    check_tensor("target", target, kind="float")
    tb = target if target.dim() == 3 else target[None]
    if tuple(tb.shape) != (b, n, n):
        raise ValueError(
            f"target: expected shape {(n, n) if x.dim() == 2 else (b, n, n)} "
            f"(from x), got {tuple(target.shape)}"
        )
    return xb, tb


def attention_loss(x, w, m, target, lam: float = 0.0, causal: bool = False) -> float:
    """``L(M) = 1/2 mean_b ||softmax(X(M o W)X^T) - A||_F^2 + lam/2 ||M||_F^2``.

    Args:
        x: calibration input (n, d) or (batch, n, d).
        w: weight (d, d) (``W_Q W_K^T``).
        m: mask (d, d), real-valued.
        target: attention matrix to approximate, (n, n) or (batch, n, n).
        lam: ridge weight >= 0.
        causal: causal attention.

    Returns:
        The loss as a float.

    Paper: arXiv 2410.11261, Sec. 3 (Definition of the loss).
    Book: notebooks/attention_prune/lecture.md, "The method".
    """
    xb, tb = _merged(x, w, m, target)
    lam = _lam(lam)
    f = attention_matrix(xb @ (m * w) @ xb.transpose(-1, -2), causal)
    return float(0.5 * ((f - tb) ** 2).sum() / xb.shape[0] + 0.5 * lam * (m**2).sum())


def attention_grad(x, w, m, target, lam: float = 0.0,
                   causal: bool = False) -> torch.Tensor:
    """Closed-form gradient ``W o mean_b(X_b^T P_b X_b) + lam M``, shape (d, d).

    Args: as :func:`attention_loss`.

    Paper: arXiv 2410.11261, Sec. 4 (closed-form gradient of the loss).
    Book: notebooks/attention_prune/lecture.md, "Derivations".
    """
    xb, tb = _merged(x, w, m, target)
    lam = _lam(lam)
    f = attention_matrix(xb @ (m * w) @ xb.transpose(-1, -2), causal)
    p = error_projection(f, f - tb)
    xtpx = (xb.transpose(-1, -2) @ p @ xb).mean(0)  # (d, d)
    return w * xtpx + lam * m


# ---------------------------------------------------------------------------------
# Separate masks on W_Q and W_K (what a real model stores), with optional RoPE
# ---------------------------------------------------------------------------------


def _rope(rope, n, d_head):
    if rope is None:
        return None
    if not isinstance(rope, tuple) or len(rope) != 2:
        raise TypeError("rope: expected None or a (cos, sin) tuple")
    for name, t in zip(("rope[0]", "rope[1]"), rope, strict=True):
        check_tensor(name, t, shape=(n, d_head // 2), kind="float", shape_of="x, wq")
    return rope


def _rot(t, rope, inverse=False):
    from effteach.models.layers import apply_rope

    if rope is None:
        return t
    cos, sin = rope
    return apply_rope(t, cos, -sin if inverse else sin)


def _qk(x, wq, wk, mq, mk, target, rope, need_target: bool = True):
    xb = _x3(x)
    b, n, d = xb.shape
    check_tensor("wq", wq, ndim=2, kind="float", finite=True)
    if wq.shape[0] != d:
        raise ValueError(f"wq: expected {d} rows (from x), got shape {tuple(wq.shape)}")
    for name, t in (("wk", wk), ("mq", mq), ("mk", mk)):
        check_tensor(name, t, shape=tuple(wq.shape), shape_of="wq", kind="float",
                     finite=True)
    if target is not None or need_target:
        check_tensor("target", target, shape=(b, n, n), shape_of="x", kind="float",
                     finite=True)
    if rope is not None and wq.shape[1] % 2:
        raise ValueError(f"wq: RoPE needs an even d_head, got {wq.shape[1]}")
    return xb, _rope(rope, n, wq.shape[1])


def _forward(xb, wq, wk, mq, mk, causal, rope):
    qr = _rot(xb @ (mq * wq), rope)
    kr = _rot(xb @ (mk * wk), rope)
    f = attention_matrix(qr @ kr.transpose(-1, -2) / wq.shape[1] ** 0.5, causal)
    return f, qr, kr


def qk_scores(x, wq, wk, causal: bool = True, rope=None) -> torch.Tensor:
    """Attention matrices of one head, ``softmax(rope(XWq) rope(XWk)^T/sqrt(d_h))``.

    Args:
        x: (batch, n, d) or (n, d).
        wq: (d, d_head).
        wk: (d, d_head).
        causal: causal mask.
        rope: optional ``(cos, sin)`` tables (n, d_head // 2).

    Returns:
        (batch, n, n).

    Book: notebooks/attention_prune/lecture.md, "The method".
    """
    xb, rope = _qk(x, wq, wk, wq, wk, None, rope, need_target=False)
    check_bool("causal", causal)
    ones = torch.ones_like(wq)
    return _forward(xb, wq, wk, ones, ones, causal, rope)[0]


def qk_loss(x, wq, wk, mq, mk, target, lam: float = 0.0, causal: bool = True,
            rope=None) -> float:
    """Separate-mask loss ``1/2 mean_b ||F - A||^2 + lam/2 (||Mq||^2 + ||Mk||^2)``.

    Paper: arXiv 2410.11261, overview figure (masks on W_Q and W_K).
    Book: notebooks/attention_prune/lecture.md, "The method".
    """
    xb, rope = _qk(x, wq, wk, mq, mk, target, rope)
    lam = _lam(lam)
    f = _forward(xb, wq, wk, mq, mk, causal, rope)[0]
    ridge = (mq**2).sum() + (mk**2).sum()
    return float(0.5 * ((f - target) ** 2).sum() / xb.shape[0] + 0.5 * lam * ridge)


def qk_grad(x, wq, wk, mq, mk, target, lam: float = 0.0, causal: bool = True,
            rope=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form gradients of :func:`qk_loss` in ``mq`` and ``mk``.

    With ``G = P / sqrt(d_h)`` (the logit gradient), ``dQ = R^-1(G K_r)``,
    ``dK = R^-1(G^T Q_r)`` (``R`` the RoPE rotation, orthogonal per position):
    ``grad_Mq = Wq o mean_b X^T dQ + lam Mq`` and the same for K (note ``G^T``).

    Paper: arXiv 2410.11261, Sec. 4 (our extension to separate masks and RoPE).
    Book: notebooks/attention_prune/lecture.md, "Derivations".
    """
    xb, rope = _qk(x, wq, wk, mq, mk, target, rope)
    lam = _lam(lam)
    f, qr, kr = _forward(xb, wq, wk, mq, mk, causal, rope)
    g = error_projection(f, f - target) / wq.shape[1] ** 0.5
    dq = _rot(g @ kr, rope, inverse=True)
    dk = _rot(g.transpose(-1, -2) @ qr, rope, inverse=True)
    xt = xb.transpose(-1, -2)
    gq = wq * (xt @ dq).mean(0) + lam * mq
    gk = wk * (xt @ dk).mean(0) + lam * mk
    return gq, gk


# ---------------------------------------------------------------------------------
# Gradient descent: fixed step or Armijo backtracking
# ---------------------------------------------------------------------------------


@dataclass
class Trace:
    """What :func:`descend` records: one entry per iterate (``losses[0]`` at m0)."""

    params: tuple[torch.Tensor, ...]
    losses: list[float] = field(default_factory=list)
    grad_norms: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    evals: int = 0

    @property
    def diverged(self) -> bool:
        """True if the loss ended above where it started, or is not finite."""
        last = self.losses[-1]
        return not (last == last and last < float("inf")) or last > self.losses[0]


def descend(loss_fn: Callable, grad_fn: Callable, params, iters: int,
            step: float | str = "armijo", step0: float = 1.0, shrink: float = 0.5,
            c: float = 1e-4, max_backtracks: int = 40) -> Trace:
    """Gradient descent on ``loss_fn(*params)`` with ``grad_fn(*params)``.

    Args:
        loss_fn: params -> float.
        grad_fn: params -> tensor or tuple of tensors (one per param).
        params: a tensor or a tuple of tensors (the start, e.g. all-ones masks).
        iters: number of steps >= 0.
        step: a fixed step size > 0, or ``"armijo"``: try ``2 t_prev`` (``step0``
            first), halve (``shrink``) until ``L(m - t g) <= L(m) - c t ||g||^2``.
        step0: Armijo's first trial step.
        shrink: Armijo's backtracking factor, in (0, 1).
        c: Armijo's sufficient-decrease constant.
        max_backtracks: most halvings per step.

    Returns:
        A :class:`Trace` (final params, losses, gradient norms, steps).

    Paper: arXiv 2410.11261, Alg. 1 (gradient descent for the pruning mask; fixed
        step ``eta <= 1/beta`` in the theory). Armijo (1966) is our addition.
    Book: notebooks/attention_prune/lecture.md, "Convergence".
    """
    if not callable(loss_fn):
        raise TypeError("loss_fn: expected a callable")
    if not callable(grad_fn):
        raise TypeError("grad_fn: expected a callable")
    if not isinstance(params, torch.Tensor | tuple | list):
        raise TypeError("params: expected a tensor or a tuple of tensors, got "
                        f"{type(params).__name__}")
    single = isinstance(params, torch.Tensor)
    ps = (params,) if single else tuple(params)
    if not ps:
        raise ValueError("params: expected at least one tensor")
    for i, p in enumerate(ps):
        check_tensor(f"params[{i}]", p, kind="float", finite=True)
    iters = check_int("iters", iters, 0)
    armijo = isinstance(step, str)
    if armijo and step != "armijo":
        raise ValueError(f"step: expected a number > 0 or 'armijo', got {step!r}")
    if not armijo:
        step = check_float("step", step, low=0.0, low_open=True)
    step0 = check_float("step0", step0, low=0.0, low_open=True)
    shrink = check_float("shrink", shrink, low=0.0, low_open=True)
    if shrink >= 1:
        raise ValueError(f"shrink: expected a number in (0, 1), got {shrink}")
    c = check_float("c", c, low=0.0, low_open=True)
    max_backtracks = check_int("max_backtracks", max_backtracks, 1)

    def grads(q):
        g = grad_fn(*q)
        return (g,) if isinstance(g, torch.Tensor) else tuple(g)

    ps = tuple(p.clone() for p in ps)
    tr = Trace(params=ps)
    loss = float(loss_fn(*ps))
    t_prev = step0
    for _ in range(iters + 1):
        g = grads(ps)
        gn2 = float(sum((gi**2).sum() for gi in g))
        tr.losses.append(loss)
        tr.grad_norms.append(gn2**0.5)
        if len(tr.losses) > iters or not (loss == loss and loss < float("inf")):
            break
        if armijo:
            t = 2.0 * t_prev if tr.steps else step0
            for _ in range(max_backtracks):
                trial = tuple(p - t * gi for p, gi in zip(ps, g, strict=True))
                new = float(loss_fn(*trial))
                tr.evals += 1
                if new <= loss - c * t * gn2:
                    break
                t *= shrink
            else:  # no decrease found: stay (a stationary point for this precision)
                trial, new, t = ps, loss, 0.0
            t_prev = max(t, 1e-12)
        else:
            t = step
            trial = tuple(p - t * gi for p, gi in zip(ps, g, strict=True))
            new = float(loss_fn(*trial))
            tr.evals += 1
        ps, loss = trial, new
        tr.steps.append(t)
    tr.params = ps
    return tr


def binarize(score: torch.Tensor, sparsity: float, dim: int | None = None
             ) -> torch.Tensor:
    """0/1 mask keeping the largest ``score`` entries, pruning a ``sparsity`` share.

    Args:
        score: saliency, any shape (e.g. ``|M o W|`` for a descended mask).
        sparsity: share of entries set to 0, in [0, 1).
        dim: compare within slices along this dim (e.g. each output column, as
            Wanda does) or over the whole tensor (None).

    Returns:
        A float mask of ``score``'s shape and dtype; ties broken by position.

    Paper: arXiv 2410.11261 (the binarisation rule is not confirmed; ours).
    Book: notebooks/attention_prune/lecture.md, "The method".
    """
    check_tensor("score", score, kind="float", finite=True, min_ndim=1)
    sparsity = check_float("sparsity", sparsity, low=0.0)
    if sparsity >= 1:
        raise ValueError(f"sparsity: expected a number in [0, 1), got {sparsity:g}")
    if dim is not None:
        dim = check_int("dim", dim, -score.dim(), score.dim() - 1)
    if dim is None:
        flat = score.flatten()
        n_prune = int(round(sparsity * flat.numel()))
        mask = torch.ones_like(flat)
        if n_prune:
            mask[torch.argsort(flat, stable=True)[:n_prune]] = 0
        return mask.view_as(score)
    moved = score.movedim(dim, -1)
    n_prune = int(round(sparsity * moved.shape[-1]))
    mask = torch.ones_like(moved)
    if n_prune:
        idx = torch.argsort(moved, dim=-1, stable=True)[..., :n_prune]
        mask.scatter_(-1, idx, 0.0)
    return mask.movedim(-1, dim).contiguous()
