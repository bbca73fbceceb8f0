"""Train LazyDiT's gates with the DiT frozen: output matching plus a laziness penalty.

One iteration, as in the official code (our reading, described, not copied):

1. draw clean digits ``x0`` and labels (10 % replaced by the null class, for CFG);
2. draw a sampling step index ``k >= 1`` (``variant="all"``: any; ``"alternate"``:
   only every other one, the official code's choice, which caps laziness at 50 %);
3. noise ``x0`` to the previous DDIM time ``tau[k-1]``, run the frozen model there
   (this fills the cache) and take the DDIM step to ``x_k``;
4. at ``tau[k]`` run the model fully (the target) and with soft gates, where each
   module outputs ``g F(z) + (1 - g) cache``;
5. loss = ``mean (lazy - full)^2 + rho * mean_batch sum_modules g``; only the gates
   learn.

Paper: LazyDiT (arXiv 2412.12444), Sec. 4.2 (the paper writes the diffusion loss;
    the code matches the frozen model's output, which we follow).
Book: notebooks/lazy_dit/lecture.md, "Training the gates".
"""

from __future__ import annotations

import torch

from effteach.checks import check_float, check_int, typed
from effteach.lazy_dit.lazy import LazyGates, lazy_forward
from effteach.models.diffusion import Schedule, ddim_timesteps
from effteach.models.dit import TinyDiT

__all__ = ["train_gates"]


@typed
def train_gates(
    model: TinyDiT,
    n_steps: int,
    rho: float,
    iters: int = 300,
    batch: int = 128,
    lr: float = 5e-3,
    kind: str = "input",
    variant: str = "all",
    seed: int = 0,
    progress: bool = True,
) -> tuple[LazyGates, list[float]]:
    """Train gates for an ``n_steps`` DDIM schedule; the DiT stays frozen.

    Args:
        model: the frozen TinyDiT (e.g. ``zoo.load("tinydit_digits")``).
        n_steps: the sampling schedule the gates are for.
        rho: laziness penalty weight, >= 0 (larger: lazier).
        iters: optimiser steps.
        batch: training images per step.
        lr: Adam learning rate.
        kind: ``"input"`` (LazyDiT) or ``"bias"`` (input-independent schedule).
        variant: ``"all"`` steps or ``"alternate"`` (official code: odd pairs).
        seed: seed of the data, steps, noise and label dropout.
        progress: show a tqdm bar.

    Returns:
        ``(gates, loss_log)``.

    Paper: LazyDiT Sec. 4.2-4.3. Book: notebooks/lazy_dit/lecture.md.
    """
    from tqdm.auto import tqdm

    from effteach.data import load_digits_tensors

    if variant not in ("all", "alternate"):
        raise ValueError(f"variant: expected 'all' or 'alternate', got {variant!r}")
    check_float("rho", rho, low=0)
    if n_steps < 2:
        raise ValueError(
            f"n_steps: expected >= 2 (step 0 is never lazy), got {n_steps}"
        )
    check_int("iters", iters, low=0)
    check_int("batch", batch, low=1)
    check_float("lr", lr, low=0, low_open=True)
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    cfg = model.cfg
    gates = LazyGates(n_steps, cfg.depth, cfg.d_model, kind)
    opt = torch.optim.Adam([p for p in gates.parameters() if p.requires_grad], lr=lr)
    data, labels = load_digits_tensors("train")
    sched = Schedule()
    ts = ddim_timesteps(n_steps, sched)
    ab = sched.alphas_cumprod().float()
    g = torch.Generator().manual_seed(seed)
    steps = list(range(1, n_steps)) if variant == "all" else list(range(1, n_steps, 2))
    log = []
    for _ in tqdm(range(iters), desc=f"gates rho={rho:g}", disable=not progress,
                  mininterval=2.0):
        idx = torch.randint(len(data), (batch,), generator=g)
        x0, y = data[idx], labels[idx].clone()
        y[torch.rand(batch, generator=g) < 0.1] = model.null_class
        k = steps[int(torch.randint(len(steps), (1,), generator=g))]
        t_prev, t_k = ts[k - 1], ts[k]
        eps = torch.randn(x0.shape, generator=g)
        x_prev = ab[t_prev].sqrt() * x0 + (1 - ab[t_prev]).sqrt() * eps
        cache = [[None, None] for _ in range(cfg.depth)]

        def full(layer, m, z, module, cached):
            return module(z)

        with torch.no_grad():
            tt = torch.full((batch,), t_prev, dtype=torch.long)
            e_prev = lazy_forward(model, x_prev, tt, y, cache, full)
            x0_hat = (x_prev - (1 - ab[t_prev]).sqrt() * e_prev) / ab[t_prev].sqrt()
            x_k = ab[t_k].sqrt() * x0_hat + (1 - ab[t_k]).sqrt() * e_prev
            tk = torch.full((batch,), t_k, dtype=torch.long)
            fresh_cache = [[None, None] for _ in range(cfg.depth)]
            target = lazy_forward(model, x_k, tk, y, fresh_cache, full)
        scores = []

        def soft(layer, m, z, module, cached, k=k, scores=scores):
            gk = gates.score(k, layer, m, z)
            scores.append(gk)
            gb = gk[:, None, None]
            return gb * module(z) + (1 - gb) * cached

        pred = lazy_forward(model, x_k, tk, y, cache, soft)
        penalty = rho * torch.stack(scores, dim=1).sum(dim=1).mean()
        loss = ((pred - target) ** 2).mean() + penalty
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        log.append(float(loss.detach()))
    gates.requires_grad_(False)
    return gates, log
