"""Graded questions of the lazy_dit assignment, each with one known-wrong answer.

Four questions: a lazy module call with the hard skip (q1), Lemma A's gap between
the cosine and its distance bound derived in SymPy (q2), the paper's MAC count of a
lazy DiT sampler from the model's sizes (q3), and an experiment on the zoo's TinyDiT:
how much the sample moves when one whole sampling step is skipped (q4). The hidden
test of q3 uses :func:`library_macs_disabled`, so an answer must count the MACs
itself rather than call :func:`~effteach.lazy_dit.macs.sampler_macs`.

Book: notebooks/lazy_dit/assignment.md.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import sympy as sp
import torch
from torch import nn

from effteach.grading import Question, register
from effteach.lazy_dit import macs
from effteach.lazy_dit.lazy import FullCompute, StaticSchedule, lazy_sample
from effteach.lazy_dit.macs import DIT_XL_2_256, DiTSpec
from effteach.lazy_dit.reference import gate_score_ref

__all__ = ["SYMBOLS", "SKIP_EXPERIMENT", "library_macs_disabled", "q4_labels"]

#: the symbols of q2: the Frobenius norms of U and V, and their inner product
SYMBOLS = {
    "nU": sp.Symbol("n_U", positive=True),
    "nV": sp.Symbol("n_V", positive=True),
    "p": sp.Symbol("p", real=True),
}

#: the protocol of q4: DDIM steps, images per digit, seed of the starting noise
SKIP_EXPERIMENT = {"n_steps": 10, "per_class": 2, "seed": 0}


# ----------------------------------------------------------------------- q1
def _lazy_call_ref(
    z: torch.Tensor, w: torch.Tensor, module, cached: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gate ``g``, then ``module`` on the rows with ``g >= 0.5``, cache elsewhere."""
    g = gate_score_ref(z, w)
    keep = g >= 0.5
    out = cached.clone()
    if bool(keep.any()):
        out[keep] = module(z[keep])
    return g, out


def _lazy_call_wrong(z, w, module, cached):
    """Averages the per-token scores instead of summing them (the keep is right)."""
    g = torch.sigmoid((z @ w).mean(dim=-1))
    keep = g >= 0.5
    out = cached.clone()
    if bool(keep.any()):
        out[keep] = module(z[keep])
    return g, out


class _MLP(nn.Sequential):
    """A DiT-style MLP (d -> 2d -> d, GELU-tanh), float64, with a one-line repr."""

    def __init__(self, d: int, gen: torch.Generator):
        super().__init__(
            nn.Linear(d, 2 * d, dtype=torch.float64),
            nn.GELU(approximate="tanh"),
            nn.Linear(2 * d, d, dtype=torch.float64),
        )
        self.d = d
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.3)
        self.requires_grad_(False)

    def __repr__(self) -> str:  # the feedback names a case in one line
        return f"MLP({self.d} -> {2 * self.d} -> {self.d})"


def _exact_tie_case(batch: int, n_ctx: int, d: int, gen: torch.Generator):
    """Integer-valued z and w (exact sums); sample 0 has a token sum of exactly 0."""
    z = torch.randint(-2, 3, (batch, n_ctx, d), generator=gen).double()
    w = torch.randint(-1, 2, (d,), generator=gen).double()
    w[0] = 1.0  # at least one non-zero weight
    logit = float((z[0] @ w).sum())
    z[0, 0, 0] -= logit  # moves sample 0's summed score to exactly 0: g = 0.5
    return z, w


def _lazy_call_cases(n: int, seed: int) -> list[tuple]:
    """Seeded cases of q1, the ties first.

    Case 0 is the zero-initialised gate (every ``g`` is exactly 0.5); case 1 has an
    exact tie in one sample among integer-valued scores; then random gates on both
    sides of the threshold.
    """
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for i in range(n):
        batch = 3 + (seed + i) % 4
        n_ctx = 2 + (3 * i + seed) % 7
        d = 4 + (5 * i + seed) % 9
        if i == 0:
            z = torch.randn(batch, n_ctx, d, generator=gen, dtype=torch.float64)
            w = torch.zeros(d, dtype=torch.float64)
        elif i == 1:
            z, w = _exact_tie_case(batch, n_ctx, d, gen)
        else:
            z = torch.randn(batch, n_ctx, d, generator=gen, dtype=torch.float64)
            z = z + torch.randn(batch, 1, d, generator=gen, dtype=torch.float64)
            w = torch.randn(d, generator=gen, dtype=torch.float64) / (n_ctx * d) ** 0.5
            logits = (z @ w).sum(dim=-1)
            if bool((logits >= 0).all()) or bool((logits < 0).all()):
                z[0] = -z[0]  # some samples compute, some skip
        cached = torch.randn(batch, n_ctx, d, generator=gen, dtype=torch.float64)
        cases.append((z, w, _MLP(d, gen), cached))
    return cases


# ----------------------------------------------------------------------- q2
def _cosine_gap() -> sp.Expr:
    """``cos(U, V) - (1 - |U - V|^2 / (2 |U| |V|))`` in the norms only."""
    nU, nV = SYMBOLS["nU"], SYMBOLS["nV"]
    return (nU - nV) ** 2 / (2 * nU * nV)


def _cosine_gap_wrong() -> sp.Expr:
    """Expands ``|U - V|^2`` as ``|U|^2 + |V|^2 + 2 <U, V>``: a sign error."""
    nU, nV, p = SYMBOLS["nU"], SYMBOLS["nV"], SYMBOLS["p"]
    return (nU - nV) ** 2 / (2 * nU * nV) + 2 * p / (nU * nV)


# ----------------------------------------------------------------------- q3
def _dit_macs(
    spec: DiTSpec, n_steps: int, laziness: float, gates: bool, attn_products=False
) -> float:
    """MACs per image of a lazy sampler, counted from the sizes (THOP convention).

    With ``attn_products`` it also counts ``QK^T`` and ``AV`` (the wrong answer).
    """
    n, d, depth = spec.n_tokens, spec.d_model, spec.depth
    attn = 4 * n * d * d + (2 * n * n * d if attn_products else 0)
    mlp = 2 * spec.mlp_ratio * n * d * d
    per_step = (
        depth * 6 * d * d  # adaLN: Linear(D, 6D) on the condition vector
        + n * spec.patch**2 * spec.in_channels * d  # patch embedding
        + 2 * d * d  # final adaLN: Linear(D, 2D)
        + n * d * spec.patch**2 * spec.out_channels  # final projection
        + spec.freq_dim * d
        + d * d  # timestep MLP
    )
    computed = (1 - laziness) * n_steps * depth  # calls of each module
    gate = (n_steps - 1) * depth * 2 * n * d if gates else 0
    return n_steps * per_step + computed * (attn + mlp) + gate


def _dit_macs_wrong(spec: DiTSpec, n_steps: int, laziness: float, gates: bool):
    """Also counts the attention products ``QK^T`` and ``AV`` (2 N^2 D per call)."""
    return _dit_macs(spec, n_steps, laziness, gates, attn_products=True)


def _dit_macs_cases(n: int, seed: int) -> list[tuple]:
    """Seeded cases of q3, the paper's model first.

    Case 0 is DDIM-50 on DiT-XL/2 at 256^2, case 1 LazyDiT-50 at 50 %; then DiTs of
    random sizes, step counts and laziness, with and without gates.
    """
    gen = torch.Generator().manual_seed(seed)

    def pick(options):
        return options[int(torch.randint(len(options), (1,), generator=gen))]

    cases = []
    for i in range(n):
        if i == 0:
            cases.append((DIT_XL_2_256, 50, 0.0, False))
            continue
        if i == 1:
            cases.append((DIT_XL_2_256, 50, 0.5, True))
            continue
        patch, c_in = pick((1, 2, 4)), pick((1, 3, 4))
        spec = DiTSpec(
            n_tokens=pick((16, 64, 256, 1024)),
            d_model=pick((64, 384, 768, 1152)),
            depth=int(torch.randint(1, 29, (1,), generator=gen)),
            patch=patch,
            in_channels=c_in,
            out_channels=c_in * pick((1, 2)),
            mlp_ratio=pick((2.0, 4.0)),
            freq_dim=pick((64, 256)),
        )
        n_steps = int(torch.randint(2, 51, (1,), generator=gen))
        laziness = pick((0.0, 0.1, 0.2, 0.3, 0.4, 0.5))
        cases.append((spec, n_steps, laziness, pick((False, True))))
    return cases


@contextlib.contextmanager
def library_macs_disabled() -> Iterator[None]:
    """Make :mod:`effteach.lazy_dit.macs`' counters raise for the duration.

    The hidden test of q3 runs the answer inside this block: ``forward_macs`` and
    ``sampler_macs`` looked up on :mod:`effteach.lazy_dit.macs` or on the package
    (and ``sampler_macs`` itself, which calls ``forward_macs``) raise
    ``RuntimeError``, so an answer that only calls them fails with a clear message.

    Book: notebooks/lazy_dit/assignment.md, Q3.
    """

    def off(*_args, **_kw):
        raise RuntimeError(
            "forward_macs and sampler_macs are switched off in this test: count "
            "the MACs from the fields of spec"
        )

    import effteach.lazy_dit as package

    names = ("forward_macs", "sampler_macs")
    saved = [
        (owner, name, getattr(owner, name))
        for owner in (macs, package)
        for name in names
        if hasattr(owner, name)
    ]
    for owner, name, _ in saved:
        setattr(owner, name, off)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


# ----------------------------------------------------------------------- q4
def q4_labels() -> torch.Tensor:
    """The labels of q4: ``SKIP_EXPERIMENT["per_class"]`` of each digit, 0..9, 0..9.

    Book: notebooks/lazy_dit/assignment.md, Q4.
    """
    return torch.arange(10).repeat(SKIP_EXPERIMENT["per_class"])


def _skip_rmse(modules: tuple[int, ...]) -> torch.Tensor:
    """RMSE to the full sample when the given modules of one whole step are skipped."""
    from effteach import zoo

    n_steps, seed = SKIP_EXPERIMENT["n_steps"], SKIP_EXPERIMENT["seed"]
    model = zoo.load("tinydit_digits")
    labels = q4_labels()
    full, _ = lazy_sample(model, labels, n_steps, FullCompute(), seed=seed)
    out = torch.zeros(n_steps - 1, dtype=torch.float64)
    for k in range(1, n_steps):
        compute = torch.ones(n_steps, model.cfg.depth, 2, dtype=torch.bool)
        for m in modules:
            compute[k, :, m] = False
        x, _ = lazy_sample(model, labels, n_steps, StaticSchedule(compute), seed=seed)
        out[k - 1] = ((x - full) ** 2).double().mean().sqrt()
    return out


@functools.lru_cache(maxsize=1)
def _skip_one_step_cached() -> torch.Tensor:
    return _skip_rmse((0, 1))


def _skip_one_step() -> torch.Tensor:
    """Entry ``k - 1``: RMSE to the full sample when all of step ``k`` is reused."""
    return _skip_one_step_cached().clone()


def _skip_one_step_wrong() -> torch.Tensor:
    """Skips only the attention modules of step ``k`` (``compute[k, :, 0]``)."""
    return _skip_rmse((0,))


register(
    Question(
        qid="lazy_dit.q1",
        prompt="lazy_call(z, w, module, cached) -> (g, out): the gate and the hard "
        "skip, computing the kept rows only.",
        kind="function",
        reference=_lazy_call_ref,
        wrong=_lazy_call_wrong,
        make_cases=_lazy_call_cases,
        rtol=1e-9,
        atol=1e-12,
    )
)

register(
    Question(
        qid="lazy_dit.q2",
        prompt="Lemma A: cos(U, V) - (1 - |U - V|^2 / (2 |U| |V|)) in the norms.",
        kind="sympy",
        reference=_cosine_gap,
        wrong=_cosine_gap_wrong,
    )
)

register(
    Question(
        qid="lazy_dit.q3",
        prompt="dit_macs(spec, n_steps, laziness, gates): MACs per image of a lazy "
        "DiT sampler, Linear layers only.",
        kind="function",
        reference=_dit_macs,
        wrong=_dit_macs_wrong,
        make_cases=_dit_macs_cases,
        rtol=1e-9,
        atol=0.0,
    )
)

register(
    Question(
        qid="lazy_dit.q4",
        prompt="RMSE to the full 10-step sample when step k = 1..9 is skipped whole.",
        kind="value",
        reference=_skip_one_step,
        wrong=_skip_one_step_wrong,
        rtol=1e-3,
        atol=1e-6,
    )
)
