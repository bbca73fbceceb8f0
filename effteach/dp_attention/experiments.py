"""The chapter's experiments: error against n and eps, and audits, at small scale.

Two fixed setups, used by the lecture, the tests, the ledger and the widgets:

* :data:`ERROR_SETUP`: ``d = 2``, one value column, ``R = 0.5`` (so
  ``<q, k> <= 0.5``), ``R_w = 1``, degree 3 (``r = 10``), ``delta = 1e-5``; random
  keys, values and 16 queries in the box. The error of an answer is measured
  against the **exact softmax** attention (noise plus the tiny polynomial error).
* :data:`AUDIT_SETUP`: ``d = 2``, one value column, ``R = 1.5``, ``R_w = 1``,
  degree 2 (``r = 6``, ``sup|phi| = 3.95``), ``n = 50``; worst-case neighbours
  from :func:`~effteach.dp_attention.audit.worst_case_neighbours` (a changed
  value; a changed key for the paper's normaliser attack).

Book: notebooks/dp_attention/lecture.md, "Experiments".
"""

from __future__ import annotations

import numpy as np

from effteach.checks import check_float, check_int, typed
from effteach.dp_attention.audit import (
    AuditResult,
    audit_samples,
    normaliser_attack,
    worst_case_neighbours,
)
from effteach.dp_attention.mechanisms import (
    BrokenFlatDPAttention,
    DPTreeAttention,
    FlatDPAttention,
)
from effteach.dp_attention.reference import softmax_attention_ref

__all__ = [
    "ERROR_SETUP",
    "AUDIT_SETUP",
    "MECHANISMS",
    "measure_error",
    "error_sweep",
    "audit_mechanism",
    "error_against_degree",
]

ERROR_SETUP = {"d": 2, "d_v": 1, "R": 0.5, "R_w": 1.0, "degree": 3, "delta": 1e-5,
               "n_queries": 16, "n_leaves": 8}
AUDIT_SETUP = {"n": 50, "d": 2, "d_v": 1, "R": 1.5, "R_w": 1.0, "degree": 2,
               "delta": 1e-5, "n_leaves": 4}
#: the mechanisms by name: flat and tree are correct, broken and paper are not
MECHANISMS = ("flat", "tree", "broken", "paper")


def _build(name: str, K, V, eps: float, setup: dict, n_runs: int, seed: int):
    common = {"eps": eps, "degree": setup["degree"], "R": setup["R"],
              "R_w": setup["R_w"], "n_runs": n_runs, "seed": seed}
    if name == "flat":
        return FlatDPAttention(K, V, delta=setup["delta"], **common)
    if name == "broken":
        return BrokenFlatDPAttention(K, V, delta=setup["delta"], **common)
    if name in ("tree", "paper"):
        return DPTreeAttention(K, V, n_leaves=setup["n_leaves"],
                               denominator="private" if name == "tree" else "exact",
                               **common)
    raise ValueError(f"name: expected one of {MECHANISMS}, got {name!r}")


@typed
def measure_error(
    name: str, n: int, eps: float, n_runs: int = 100, seed: int = 0
) -> dict[str, float]:
    """RMSE of a mechanism's answers against exact softmax attention (ERROR_SETUP).

    Args:
        name: ``"flat"``, ``"tree"``, ``"broken"`` or ``"paper"``.
        n: private rows.
        eps: privacy budget.
        n_runs: independent builds of the structure.
        seed: seed of the data (the noise uses ``seed + 1``).

    Returns:
        ``{"rmse": measured, "bound": the first-order bound (RMS over queries),
        "poly": RMSE of the noiseless polynomial answer}``.
    """
    n = check_int("n", n, 2, 10**6)
    eps = check_float("eps", eps, 0.0, low_open=True)
    s = ERROR_SETUP
    rng = np.random.default_rng(check_int("seed", seed, 0))
    K = rng.uniform(0, s["R"], (n, s["d"]))
    V = rng.uniform(-s["R_w"], s["R_w"], (n, s["d_v"]))
    Q = rng.uniform(0, s["R"], (s["n_queries"], s["d"]))
    exact = softmax_attention_ref(Q, K, V)
    mech = _build(name, K, V, eps, s, check_int("n_runs", n_runs, 2), seed + 1)
    err = mech.query(Q) - exact  # (n_runs, m, d_v)
    from effteach.dp_attention.reference import poly_attention_ref

    poly = poly_attention_ref(Q, K, V, s["degree"]) - exact
    return {"rmse": float(np.sqrt((err**2).mean())),
            "bound": float(np.sqrt((mech.error_bound(Q) ** 2).mean())),
            "poly": float(np.sqrt((poly**2).mean()))}


@typed
def error_sweep(
    name: str, ns: list[int] | tuple[int, ...], epss: list[float] | tuple[float, ...],
    n_runs: int = 100, seed: int = 0,
) -> dict[str, np.ndarray]:
    """:func:`measure_error` on a grid: arrays of shape (len(epss), len(ns))."""
    rm = np.zeros((len(epss), len(ns)))
    bd = np.zeros_like(rm)
    for i, e in enumerate(epss):
        for j, n in enumerate(ns):
            out = measure_error(name, n, e, n_runs, seed)
            rm[i, j], bd[i, j] = out["rmse"], out["bound"]
    return {"ns": np.array(ns), "epss": np.array(epss, dtype=float), "rmse": rm,
            "bound": bd}


def _attack_queries(setup: dict, seed: int) -> np.ndarray:
    """``4 r`` random public queries: more than the ``2r - 1`` the attack needs."""
    from effteach.dp_attention.features import n_features

    r = n_features(setup["d"], setup["degree"])
    return np.random.default_rng(seed).uniform(0, setup["R"], (4 * r, setup["d"]))


@typed
def audit_mechanism(
    name: str, eps: float, n_runs: int = 20_000, seed: int = 0, alpha: float = 0.05
) -> AuditResult:
    """Audit a mechanism of AUDIT_SETUP on worst-case neighbours.

    The auditor sees what the mechanism publishes: the release ``[M | s]`` for the
    flat mechanisms, the noisy trees for ``"tree"``; for ``"paper"``, whose trees do
    not contain the normaliser, the answers to ``4r`` public queries, turned into the
    normaliser ``s`` by :func:`~effteach.dp_attention.audit.normaliser_attack`.

    Args:
        name: one of :data:`MECHANISMS`.
        eps: the claimed budget.
        n_runs: runs on each of the two datasets.
        seed: seed of the data and the noise.
        alpha: confidence parameter of the bound.
    """
    eps = check_float("eps", eps, 0.0, low_open=True)
    n_runs = check_int("n_runs", n_runs, 40)
    s = AUDIT_SETUP
    if name not in MECHANISMS:
        raise ValueError(f"name: expected one of {MECHANISMS}, got {name!r}")
    K, V, K2, V2 = worst_case_neighbours(
        s["n"], s["d"], s["d_v"], s["R"], s["R_w"], seed=check_int("seed", seed, 0),
        change="key" if name == "paper" else "value")
    outs = []
    for i, (k, v) in enumerate(((K, V), (K2, V2))):
        mech = _build(name, k, v, eps, s, n_runs, seed + 1 + i)
        if name == "paper":
            Q = _attack_queries(s, seed)
            outs.append(normaliser_attack(mech.query(Q)[..., 0], Q, s["degree"],
                                          s["n"]))
        elif name == "tree":
            counts, moments = mech.release()
            outs.append(np.concatenate([counts.reshape(n_runs, -1),
                                        moments.reshape(n_runs, -1)], axis=1))
        else:
            outs.append(mech.release().reshape(n_runs, -1))
    delta = 0.0 if name in ("tree", "paper") else s["delta"]
    return audit_samples(outs[0], outs[1], claimed_eps=eps, delta=delta, alpha=alpha)


@typed
def error_against_degree(
    degrees: list[int] | tuple[int, ...], n: int = 4000, eps: float = 1.0,
    n_runs: int = 30, seed: int = 0,
) -> dict[str, list[float]]:
    """RMSE of the flat and tree mechanisms at several feature degrees.

    ERROR_SETUP with the degree varied (``r = C(2 + g, g)``); the error is against
    the exact softmax attention.

    Returns:
        ``{"degrees": [...], "r": [...], "flat": [rmse...], "tree": [rmse...]}``.
    """
    from effteach.dp_attention.features import n_features

    s = {**ERROR_SETUP}
    n = check_int("n", n, 2, 10**6)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    K = rng.uniform(0, s["R"], (n, s["d"]))
    V = rng.uniform(-s["R_w"], s["R_w"], (n, s["d_v"]))
    Q = rng.uniform(0, s["R"], (s["n_queries"], s["d"]))
    exact = softmax_attention_ref(Q, K, V)
    out: dict[str, list] = {"degrees": [], "r": [], "flat": [], "tree": []}
    for g in degrees:
        g = check_int("degrees[i]", g, 0, 12)
        s["degree"] = g
        out["degrees"].append(g)
        out["r"].append(n_features(s["d"], g))
        for m in ("flat", "tree"):
            mech = _build(m, K, V, eps, s, n_runs, seed + 1)
            out[m].append(float(np.sqrt(((mech.query(Q) - exact) ** 2).mean())))
    return out
