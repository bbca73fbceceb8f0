"""Graded questions of the fastcar assignment, each with one known-wrong answer.

q1 TAS against the aligned key (index arithmetic j - N with the current token already
in the cache); q2 MLP replay with real row skipping and the paper's ``>=``; q3 DRS
round-robin mapping; q4 the saved share of decode MACs at replay ratio rho (SymPy);
q5 the MLP time share Amdahl's law needs for the paper's 20 % row.

Book: notebooks/fastcar/assignment.md.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp
import torch
import torch.nn.functional as F

from effteach.fastcar.experiments import (
    PAPER_ROWS,
    implied_mlp_share,
    mlp_share,
    saved_fraction,
)
from effteach.fastcar.reference import drs_round_robin_ref, tas_ref
from effteach.grading import Question, register

__all__ = ["SYMBOLS"]

#: the symbols of q4
SYMBOLS = {name: sp.Symbol(name, positive=True) for name in ("d", "d_ff", "L", "rho",
                                                             "T")}


# ----------------------------------------------------------------------- q1
def _tas_wrong(q, k_cache, tokens_per_frame):
    """Forgets that the current token is already in the cache (offset -N)."""
    k_prev = k_cache[:, :, -tokens_per_frame]
    return (q * k_prev).sum(-1).mean(-1) / math.sqrt(q.shape[-1])


def _tas_cases(n, seed):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        b, h, d, tpf = 1 + i % 3, 1 + i % 4, 4 * (1 + i % 3), 2 + i % 5
        past = tpf + 1 + i % 4
        out.append((torch.randn(b, h, d, generator=g, dtype=torch.float64),
                    torch.randn(b, h, past, d, generator=g, dtype=torch.float64),
                    tpf))
    return out


register(Question(
    qid="fastcar.q1",
    prompt="tas(q, k_cache, tokens_per_frame) -> (batch,): mean over heads of "
           "q . k[j - N] / sqrt(d_head), the current token already in k_cache.",
    kind="function", reference=tas_ref, wrong=_tas_wrong, make_cases=_tas_cases,
    rtol=1e-9, atol=1e-12))


# ----------------------------------------------------------------------- q2
def _swiglu(x, wg, wu, wd):
    return F.linear(F.silu(F.linear(x, wg)) * F.linear(x, wu), wd)


def _replay_ref(h, wg, wu, wd, cached, tas, tau):
    replay = tas >= tau
    y = cached.clone()
    idx = (~replay).nonzero().squeeze(1)
    if idx.numel():
        y[idx] = _swiglu(h[idx], wg, wu, wd)
    return y


def _replay_wrong(h, wg, wu, wd, cached, tas, tau):
    """Strict ``>`` (the official code's comparison, not the paper's rule)."""
    replay = tas > tau
    return torch.where(replay[:, None], cached, _swiglu(h, wg, wu, wd))


def _replay_cases(n, seed):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        b, d, f = 3 + i % 5, 4 + 2 * (i % 3), 8 + 4 * (i % 2)
        w = [torch.randn(*s, generator=g, dtype=torch.float64)
             for s in ((f, d), (f, d), (d, f))]
        h = torch.randn(b, d, generator=g, dtype=torch.float64)
        cached = torch.randn(b, d, generator=g, dtype=torch.float64)
        tas = torch.randn(b, generator=g, dtype=torch.float64).round(decimals=1)
        tau = float(tas[0])  # a tie: row 0 must replay (>=)
        out.append((h, *w, cached, tas, tau))
    return out


register(Question(
    qid="fastcar.q2",
    prompt="replay_mlp(h, w_gate, w_up, w_down, cached, tas, tau) -> y: cached rows "
           "where tas >= tau, the SwiGLU MLP on the others only.",
    kind="function", reference=_replay_ref, wrong=_replay_wrong,
    make_cases=_replay_cases, rtol=1e-9, atol=1e-12))


# ----------------------------------------------------------------------- q3
def _drs_ref(compute, n_cores):
    return np.array(drs_round_robin_ref(list(compute), n_cores))


def _drs_wrong(compute, n_cores):
    """The static map: row b on core b mod P."""
    return np.array([b % n_cores if c else -1 for b, c in enumerate(compute)])


def _drs_cases(n, seed):
    rng = np.random.default_rng(seed)
    return [([bool(x) for x in rng.random(4 + i % 29) < 0.5], 1 + i % 6)
            for i in range(n)]


register(Question(
    qid="fastcar.q3",
    prompt="drs_round_robin(compute, n_cores) -> core per row (-1: replayed), "
           "compute rows dealt to cores 0, 1, ..., P-1, 0, ...",
    kind="function", reference=_drs_ref, wrong=_drs_wrong, make_cases=_drs_cases,
    rtol=0.0, atol=0.0))


# ----------------------------------------------------------------------- q4
def _saved_ref():
    s = SYMBOLS
    return saved_fraction(s["rho"], s["T"], mlp_share(None, None, None)).subs(
        {sp.Symbol("d", positive=True): s["d"],
         sp.Symbol("d_ff", positive=True): s["d_ff"],
         sp.Symbol("L", nonnegative=True): s["L"]})


def _saved_wrong():
    s = SYMBOLS
    return s["rho"] * 3 * s["d_ff"] / (4 * s["d"] + 3 * s["d_ff"] + 2 * s["L"])


register(Question(
    qid="fastcar.q4",
    prompt="Share of decode MACs saved at replay ratio rho over T frames (first frame "
           "computed), in d, d_ff, L, rho, T.",
    kind="sympy", reference=_saved_ref, wrong=_saved_wrong))


# ----------------------------------------------------------------------- q5
def _implied_20():
    (_, _, dense), (_, rho, lat) = PAPER_ROWS[0], PAPER_ROWS[1]
    return float(implied_mlp_share(sp.Rational(str(dense)) / sp.Rational(str(lat)),
                                   rho))


def _implied_20_wrong():
    """Forgets that the first frame never replays (no (T-1)/T factor)."""
    s = 689.7 / 556.8
    return (1 - 1 / s) / 0.2


register(Question(
    qid="fastcar.q5",
    prompt="The MLP time share f that Amdahl's law needs for the paper's 20% row "
           "(689.7 s -> 556.8 s, T = 8).",
    kind="value", reference=_implied_20, wrong=_implied_20_wrong, rtol=1e-3,
    atol=1e-6))
