"""DDPM training loss and the DDIM sampler, for any noise-prediction model.

The model is called as ``model(x_t, t, y)`` and predicts the noise ``eps`` added at
step ``t`` (integers in ``[0, n_train_steps)``). Classifier-free guidance mixes the
conditional prediction with the unconditional one (label ``null_class``).

Paper: Ho et al. 2020 (DDPM), Song et al. 2021 (DDIM), Ho & Salimans 2022 (CFG).
Book: notebooks/zoo/models.md, "TinyDiT".
"""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A linear-beta DDPM noise schedule of ``n_train_steps`` steps."""

    n_train_steps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02

    def alphas_cumprod(self, device=None) -> torch.Tensor:
        """``ᾱ_t = Π_{s≤t} (1 − β_s)`` for t = 0 … n_train_steps − 1 (float64)."""
        betas = torch.linspace(
            self.beta_start, self.beta_end, self.n_train_steps, dtype=torch.float64
        )
        return torch.cumprod(1 - betas, 0).to(device)


def ddpm_loss(
    model,
    x0: torch.Tensor,
    y: torch.Tensor,
    schedule: Schedule,
    generator: torch.Generator,
    null_class: int | None = None,
    p_uncond: float = 0.1,
) -> torch.Tensor:
    """Mean squared error of the predicted noise at uniformly drawn steps.

    With ``null_class`` set, a fraction ``p_uncond`` of labels is replaced by it, so
    that the same model learns the unconditional prediction CFG needs.
    """
    b = x0.shape[0]
    t = torch.randint(0, schedule.n_train_steps, (b,), generator=generator)
    eps = torch.randn(x0.shape, generator=generator)
    ab = schedule.alphas_cumprod()[t].float().view(b, *[1] * (x0.dim() - 1))
    xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    if null_class is not None and p_uncond > 0:
        drop = torch.rand(b, generator=generator) < p_uncond
        y = torch.where(drop, torch.full_like(y, null_class), y)
    return ((model(xt, t, y) - eps) ** 2).mean()


def ddim_timesteps(n_steps: int, schedule: Schedule) -> list[int]:
    """The ``n_steps`` training steps DDIM visits, from noisy to clean."""
    if not 1 <= n_steps <= schedule.n_train_steps:
        raise ValueError(
            f"n_steps: expected 1..{schedule.n_train_steps}, got {n_steps}"
        )
    stride = schedule.n_train_steps // n_steps
    return list(range(schedule.n_train_steps - 1, -1, -stride))[:n_steps]


@torch.no_grad()
def ddim_sample(
    model,
    shape: tuple[int, ...],
    y: torch.Tensor,
    schedule: Schedule,
    n_steps: int = 50,
    cfg_scale: float = 1.0,
    null_class: int | None = None,
    seed: int = 0,
    noise: torch.Tensor | None = None,
    callback=None,
) -> torch.Tensor:
    """Deterministic DDIM (η = 0) sampling with optional classifier-free guidance.

    Args:
        model: ``model(x_t, t, y) -> eps``.
        shape: shape of the samples, e.g. (n, 1, 8, 8).
        y: class labels, shape (n,).
        schedule: the training schedule.
        n_steps: number of DDIM steps.
        cfg_scale: guidance weight w: ``eps_u + w (eps_c − eps_u)``; 1 = no guidance.
        null_class: the unconditional label (required if ``cfg_scale != 1``).
        seed: seed of the starting noise (ignored if ``noise`` is given).
        noise: the starting noise ``x_T`` itself.
        callback: called as ``callback(i, t, x)`` after each step.

    Returns:
        The samples ``x_0``, shape ``shape``.
    """
    if cfg_scale != 1.0 and null_class is None:
        raise ValueError("null_class: required when cfg_scale != 1")
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g) if noise is None else noise.clone()
    ab = schedule.alphas_cumprod()
    ts = ddim_timesteps(n_steps, schedule)
    for i, t in enumerate(ts):
        tt = torch.full((shape[0],), t, dtype=torch.long)
        if cfg_scale == 1.0:
            eps = model(x, tt, y)
        else:
            both = model(
                torch.cat([x, x]),
                torch.cat([tt, tt]),
                torch.cat([y, torch.full_like(y, null_class)]),
            )
            eps_c, eps_u = both.chunk(2)
            eps = eps_u + cfg_scale * (eps_c - eps_u)
        a_t = ab[t].float()
        a_prev = ab[ts[i + 1]].float() if i + 1 < len(ts) else torch.tensor(1.0)
        x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
        if callback is not None:
            callback(i, t, x)
    return x
