"""The chapter's measurements, small enough for the lecture (CPU, float64 unless said).

* :func:`logit_inputs`: seeded q, k, v whose largest logit ``|s <q_i, k_j>|`` is
  exactly a given bound B (so "bounded entries" is a dial).
* :func:`error_vs_logit`: output and gradient errors of polynomial attention (paper
  route) against exact attention, across B and degree, beside the theory bound.
* :func:`time_scaling` and :func:`loglog_slope`: best-of-k CPU wall time of
  fwd+bwd, polynomial vs exact, and the slope of log time against log n.
* :func:`memory_scaling`: peak live bytes and largest tensor of fwd+bwd against n.
* :func:`multilayer_errors`: per-layer gradient error of a whole m-layer model
  whose gradient uses the approximation everywhere.
* :func:`train_compare`: training with approximate vs exact gradients (beyond the
  paper).

Book: notebooks/poly_attention/lecture.md, "Experiments".
"""

from __future__ import annotations

import math
import time

import torch

from effteach.checks import check_float, check_int, check_sequence
from effteach.poly_attention.attention import poly_attention
from effteach.poly_attention.memory import track_memory
from effteach.poly_attention.model import PolyTransformer
from effteach.poly_attention.reference import attention_ref
from effteach.poly_attention.theory import output_error_bound, poly_rel_error

__all__ = [
    "logit_inputs",
    "rel_err",
    "error_vs_logit",
    "time_scaling",
    "loglog_slope",
    "memory_scaling",
    "multilayer_errors",
    "train_compare",
]


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """``|a - b|_F / |b|_F`` (0 when both are 0).

    Book: notebooks/poly_attention/lecture.md, "Experiments".
    """
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise TypeError("a, b: expected two tensors")
    if a.shape != b.shape:
        raise ValueError(f"b: expected shape {tuple(a.shape)} like a, got "
                         f"{tuple(b.shape)}")
    den = float(b.double().norm())
    num = float((a.double() - b.double()).norm())
    return 0.0 if num == 0 else num / den if den else math.inf


def logit_inputs(n_ctx: int, d_head: int, max_logit: float, n_heads: int = 2,
                 seed: int = 0, dtype: torch.dtype = torch.float64):
    """Seeded ``(q, k, v, grad_out)`` with the largest logit set to ``max_logit``.

    Shape (1, n_heads, n_ctx, d_head); the largest ``|<q_i, k_j>| / sqrt(d_head)``
    over causal pairs equals ``max_logit``.

    Book: notebooks/poly_attention/lecture.md, "Error against the logit bound".
    """
    n = check_int("n_ctx", n_ctx, 1)
    d = check_int("d_head", d_head, 1)
    b = check_float("max_logit", max_logit, 0.0, low_open=True)
    h = check_int("n_heads", n_heads, 1)
    seed = check_int("seed", seed, 0)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating torch.dtype, got {dtype!r}")
    gen = torch.Generator().manual_seed(seed)
    q, k, v, g = (torch.randn(1, h, n, d, generator=gen, dtype=torch.float64)
                  for _ in range(4))
    logits = (q @ k.transpose(-1, -2)).tril() / math.sqrt(d)
    c = math.sqrt(b / float(logits.abs().max()))
    return tuple(t.to(dtype) for t in (q * c, k * c, v, g))


def _grads(fn, q, k, v, g):
    qq, kk, vv = (t.clone().requires_grad_() for t in (q, k, v))
    out = fn(qq, kk, vv)
    out.backward(g)
    return out.detach(), qq.grad, kk.grad, vv.grad


def error_vs_logit(max_logits, degrees, n_ctx: int = 128, d_head: int = 4,
                   method: str = "taylor", seed: int = 0) -> list[dict]:
    """Errors of polynomial attention (causal, paper-route backward) vs exact.

    For every (B, g): ``out_err`` is ``|out~ - out|_inf / |v|_inf``, the quantity
    the theory bounds by ``2 eps/(1 - eps)``; ``grad_err`` the largest relative
    (Frobenius) error of dq, dk, dv; ``eps`` the exact sup of ``|P/e^t - 1|`` on
    ``[-B, B]`` and ``bound`` = ``output_error_bound(eps)``. The Chebyshev
    polynomial is fitted on ``[-1, 1]`` whatever B, so B > 1 leaves its interval.

    Book: notebooks/poly_attention/lecture.md, "Error against the logit bound".
    """
    bs = [check_float("max_logits", b, 0.0, low_open=True)
          for b in check_sequence("max_logits", max_logits)]
    gs = [check_int("degrees", g, 0, 20) for g in check_sequence("degrees", degrees)]
    rows = []
    for b in bs:
        q, k, v, g = logit_inputs(n_ctx, d_head, b, seed=seed)
        ex = _grads(lambda a, c, e: attention_ref(a, c, e, causal=True), q, k, v, g)
        for deg in gs:
            ap = _grads(lambda a, c, e, deg=deg: poly_attention(
                a, c, e, degree=deg, causal=True, method=method, bound=1.0,
                chunk=32), q, k, v, g)
            out_err = float((ap[0] - ex[0]).abs().max() / v.abs().max())
            grad_err = max(rel_err(x, y) for x, y in zip(ap[1:], ex[1:], strict=True))
            eps = poly_rel_error(deg, b, method, fit_bound=1.0
                                 if method == "chebyshev" else None)
            rows.append({"max_logit": b, "degree": deg, "out_err": out_err,
                         "grad_err": grad_err, "eps": eps,
                         "bound": output_error_bound(eps)})
    return rows


def _best_time(fn, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def time_scaling(ns, d_head: int = 8, n_heads: int = 2, degree: int = 2,
                 repeats: int = 3, include_exact: bool = True) -> list[dict]:
    """Best-of-``repeats`` seconds of causal fwd+bwd at each n, on one CPU thread.

    Book: notebooks/poly_attention/lecture.md, "Time: linear against quadratic".
    """
    ns = [check_int("ns", n, 2) for n in check_sequence("ns", ns)]
    d = check_int("d_head", d_head, 1)
    h = check_int("n_heads", n_heads, 1)
    deg = check_int("degree", degree, 0, 20)
    reps = check_int("repeats", repeats, 1)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows = []
    try:
        for n in ns:
            gen = torch.Generator().manual_seed(n)
            q, k, v, g = (torch.randn(1, h, n, d, generator=gen) * 0.5
                          for _ in range(4))
            for name in ("poly", "exact") if include_exact else ("poly",):
                def step(name=name, ins=(q, k, v, g)):
                    qq, kk, vv = (t.clone().requires_grad_() for t in ins[:3])
                    _call(qq, kk, vv, name, deg).backward(ins[3])
                step()  # warm-up
                rows.append({"impl": name, "n_ctx": n,
                             "seconds": _best_time(step, reps)})
    finally:
        torch.set_num_threads(threads)
    return rows


def _call(q, k, v, name, deg):
    if name == "poly":
        return poly_attention(q, k, v, degree=deg, causal=True)
    return attention_ref(q, k, v, causal=True)


def loglog_slope(rows: list[dict], impl: str) -> float:
    """Least-squares slope of log(seconds) against log(n_ctx) for one impl.

    Book: notebooks/poly_attention/lecture.md, "Time: linear against quadratic".
    """
    pts = [(math.log(r["n_ctx"]), math.log(r["seconds"])) for r in rows
           if r["impl"] == impl]
    if len(pts) < 2:
        raise ValueError(f"impl: fewer than two timings of {impl!r} in rows")
    mx = sum(x for x, _ in pts) / len(pts)
    my = sum(y for _, y in pts) / len(pts)
    return (sum((x - mx) * (y - my) for x, y in pts)
            / sum((x - mx) ** 2 for x, _ in pts))


def memory_scaling(ns, d_head: int = 4, degree: int = 2) -> list[dict]:
    """Peak live bytes and largest tensor of causal fwd+bwd, poly and exact.

    Book: notebooks/poly_attention/lecture.md, "Memory: linear in n".
    """
    ns = [check_int("ns", n, 2) for n in check_sequence("ns", ns)]
    d = check_int("d_head", d_head, 1)
    deg = check_int("degree", degree, 0, 20)
    rows = []
    for n in ns:
        gen = torch.Generator().manual_seed(n)
        q, k, v, g = (torch.randn(1, 2, n, d, generator=gen) for _ in range(4))
        for impl in ("poly", "exact"):
            def step(impl=impl, ins=(q, k, v, g)):
                qq, kk, vv = (t.clone().requires_grad_() for t in ins[:3])
                _call(qq, kk, vv, impl, deg).backward(ins[3])
            rep = track_memory(step)
            rows.append({"impl": impl, "n_ctx": n, "peak_bytes": rep.peak_bytes,
                         "largest_shape": rep.largest_shape})
    return rows


def multilayer_errors(ms=(1, 2, 4), n_ctx: int = 64, d_model: int = 8,
                      n_heads: int = 2, degree: int = 6, w_scale: float = 0.5,
                      batch: int = 2, seed: int = 0) -> list[dict]:
    """Per-layer gradient error of an m-layer model, approximate vs exact.

    The loss is ``sum(T_m * Y)`` for a fixed random Y (any loss: the paper's
    gradient starts from dL/dT_m). For each layer i: ``weights`` is the relative
    error of all its weight gradients together, ``hidden`` that of dL/dT_{i-1}
    (the gradient entering layer i from above, passed down to layer i - 1), and
    ``max_logit`` its largest logit.

    Book: notebooks/poly_attention/lecture.md, "Many layers".
    """
    ms = [check_int("ms", m, 1) for m in check_sequence("ms", ms)]
    rows = []
    for m in ms:
        model = PolyTransformer(d_model, n_heads, m, "exact", degree, w_scale, seed)
        gen = torch.Generator().manual_seed(seed + 1)
        x = torch.randn(batch, n_ctx, d_model, generator=gen, dtype=torch.float64)
        y = torch.randn(batch, n_ctx, d_model, generator=gen, dtype=torch.float64)
        grads = {}
        for attn in ("exact", "poly"):
            model.attn = attn
            model.zero_grad()
            keep: list = []
            (model(x, keep=keep) * y).sum().backward()
            grads[attn] = ([torch.cat([p.grad.flatten() for p in layer.values()])
                            for layer in model.layers], [t.grad for t in keep])
        logits = model.max_logits(x)
        for i in range(m):
            rows.append({"m": m, "layer": i + 1, "max_logit": logits[i],
                         "weights": rel_err(grads["poly"][0][i], grads["exact"][0][i]),
                         "hidden": rel_err(grads["poly"][1][i], grads["exact"][1][i])})
    return rows


def train_compare(steps: int = 60, n_ctx: int = 32, d_model: int = 8,
                  n_layers: int = 2, degree: int = 4, lr: float = 0.02,
                  seed: int = 0) -> dict[str, list[float]]:
    """Train with exact and with approximate attention; exact-attention losses.

    Returns the exact-attention loss of each run at every step (beyond the paper).

    Task: the target at position i is the causal running mean of ``x_j W*`` over
    j <= i (attention can express it), MSE loss, Adam, float64, one fixed batch
    stream. Both runs start from the same weights and see the same batches; the
    loss reported for the approximate run is evaluated with exact attention, so the
    two curves measure the same thing.

    Book: notebooks/poly_attention/lecture.md, "Training on approximate gradients".
    """
    steps = check_int("steps", steps, 1)
    lr = check_float("lr", lr, 0.0, low_open=True)
    gen = torch.Generator().manual_seed(seed)
    w_star = torch.randn(d_model, d_model, generator=gen, dtype=torch.float64) / 3
    batches = []
    for _ in range(steps):
        x = torch.randn(8, n_ctx, d_model, generator=gen, dtype=torch.float64)
        cnt = torch.arange(1, n_ctx + 1, dtype=torch.float64).view(1, -1, 1)
        batches.append((x, (x @ w_star).cumsum(1) / cnt))
    curves = {}
    for attn in ("exact", "poly"):
        model = PolyTransformer(d_model, 2, n_layers, attn, degree, 0.5, seed)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        losses = []
        for x, y in batches:
            model.attn = attn
            loss = ((model(x) - x - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if attn == "poly":
                model.attn = "exact"
                with torch.no_grad():
                    loss = ((model(x) - x - y) ** 2).mean()
            losses.append(float(loss.detach()))
        curves[attn] = losses
    return curves
