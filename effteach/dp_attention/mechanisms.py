"""Private cross-attention: the flat one-shot release, the paper's trees, a broken one.

Setting (the paper's): keys ``K in [0, R]^{n x d}`` and values
``V in [-R_w, R_w]^{n x d_v}`` are private (a system prompt, retrieved documents);
queries ``Q in [0, R]^{m x d}`` are public and may be chosen adaptively. The answer
is ``softmax``-free cross-attention ``D^{-1} exp(Q K^T) V`` with
``D = diag(exp(Q K^T) 1)`` (no 1/sqrt(d) temperature: fold it into ``R``).
Neighbouring datasets differ in **one (key, value) row, replaced** (token-level
privacy; ``n`` is public). Inputs outside the bounds raise ``ValueError`` naming
``K`` or ``V``, unless ``clip=True`` clips them explicitly.

With the features ``phi`` of :mod:`~effteach.dp_attention.features`, every answer is
a function of two sums over the private rows,

    M = sum_i phi(k_i) v_i^T   (r x d_v),     s = sum_i phi(k_i)   (r,),
    answer(q) = phi(q)^T M / max(phi(q)^T s, n),

and the mechanisms differ only in how they privatise ``[M | s]``:

* :class:`FlatDPAttention` (ours, the correct baseline): one discrete-Gaussian
  release of ``[M | s]`` calibrated to its exact l2 sensitivity
  ``2 sup|phi(k)| sqrt(d_v R_w^2 + 1)``; ``(eps, delta)``-DP jointly for every
  column and every query.
* :class:`DPTreeAttention` (the paper's structure as reconstructed): one
  :class:`~effteach.dp_attention.tree.DPTree` per feature and column, each answered
  at ``y = 0`` (``sum_i w_i |0 - x_i| = sum_i w_i x_i`` because ``x_i >= 0``).
  ``denominator="exact"`` is the paper as written: budget ``eps / r`` per tree for
  each column and the normaliser ``s`` used **without noise** ("D is only a
  normalization factor"); that is not DP (the lecture recovers ``s`` exactly from
  ``2r - 1`` queries). ``denominator="private"`` (our correction) adds trees for
  ``s`` and splits ``eps`` over all ``r (d_v + 1)`` trees: ``eps``-DP, pure.
* :class:`BrokenFlatDPAttention`: the flat release with the noise scaled by the
  wrong sensitivity (the values' bound only: the feature norm and the factor 2 of
  replacement forgotten). The audit must flag it.

Each mechanism draws its noise once, at construction (``n_runs`` independent
copies at once, for audits). The objects keep no un-noised statistic of ``K`` or
``V`` except where the paper does (the exact normaliser of
``DPTreeAttention(denominator="exact")``); ``tests/dp_attention`` checks every
public method's output for a single-record change.

Paper: arXiv 2407.14717, Sec. 3 (main result), App. E, I (reduction to weighted
    distances, softmax); the flat release and the correction are ours.
Book: notebooks/dp_attention/lecture.md, "The method".
"""

from __future__ import annotations

import math

import numpy as np

from effteach.checks import check_float, check_int, typed
from effteach.dp_attention._checks import (
    check_array,
    check_bound,
    check_in_box,
    check_privacy,
)
from effteach.dp_attention.features import (
    feature_max,
    feature_sup_norm,
    n_features,
    taylor_features,
)
from effteach.dp_attention.noise import (
    discrete_gaussian,
    zcdp_rho,
    zcdp_to_dp,
)
from effteach.dp_attention.tree import DPTree

__all__ = [
    "check_keys_values",
    "FlatDPAttention",
    "BrokenFlatDPAttention",
    "DPTreeAttention",
]


@typed
def check_keys_values(
    K: np.ndarray, V: np.ndarray, R: float, R_w: float, clip: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Check (or clip) private keys to ``[0, R]`` and values to ``[-R_w, R_w]``.

    Returns:
        ``(K, V)`` as float64 arrays, shapes (n, d) and (n, d_v).

    Raises:
        ValueError: naming ``K`` or ``V`` for an entry out of bounds (unless
            ``clip``), mismatched rows, or non-finite entries.
    """
    R, R_w = check_bound("R", R), check_bound("R_w", R_w)
    K = check_array("K", K, ndim=2)
    V = check_array("V", V, ndim=2)
    if V.shape[0] != K.shape[0]:
        raise ValueError(f"V: expected {K.shape[0]} rows like K, got {V.shape[0]}")
    K = check_in_box("K", K, 0.0, R, clip, "R")
    V = check_in_box("V", V, -R_w, R_w, clip, "R_w")
    return K, V


def _check_queries(Q: np.ndarray, d: int, R: float) -> np.ndarray:
    Q = check_array("Q", Q, shape=(None, d), shape_of="K's columns")
    return check_in_box("Q", Q, 0.0, R, False, "R")


def _squeeze(a: np.ndarray, n_runs: int) -> np.ndarray:
    return a[0] if n_runs == 1 else a


class FlatDPAttention:
    """One discrete-Gaussian release of ``[sum phi(k) v^T | sum phi(k)]``.

    Args:
        K: private keys, shape (n, d), entries in ``[0, R]``.
        V: private values, shape (n, d_v), entries in ``[-R_w, R_w]``.
        eps: privacy budget (> 0).
        delta: privacy budget, in ``(0, 1)`` (a Gaussian mechanism).
        degree: degree ``g`` of the Taylor features (the paper's ``s``).
        R: bound on keys and queries.
        R_w: bound on the values.
        clip: clip out-of-bound keys and values instead of refusing them.
        grid: relative step of the integer grid (see :mod:`.noise`).
        n_runs: independent releases at once (for audits); 1 for a normal use.
        seed: seed of the noise.

    Paper: arXiv 2407.14717 (problem, bounds); the mechanism is ours.
    Book: notebooks/dp_attention/lecture.md, "The flat release".
    """

    @typed
    def __init__(
        self,
        K: np.ndarray,
        V: np.ndarray,
        *,
        eps: float,
        delta: float,
        degree: int,
        R: float,
        R_w: float,
        clip: bool = False,
        grid: float = 2.0**-16,
        n_runs: int = 1,
        seed: int = 0,
    ):
        self.eps, self.delta = check_privacy(eps, delta, need_delta=True)
        K, V = check_keys_values(K, V, R, R_w, clip)
        self.R, self.R_w = float(R), float(R_w)
        self.degree = check_int("degree", degree, 0, 32)
        self.grid = check_float("grid", grid, 0.0, 0.5, low_open=True)
        self.n_runs = check_int("n_runs", n_runs, 1, 10**6)
        seed = check_int("seed", seed, 0)
        self.n, self.d = K.shape
        self.d_v = V.shape[1]
        self.r = n_features(self.d, self.degree)
        # contribution of row i: phi(k_i) (x) [v_i, 1], an (r, d_v + 1) matrix
        phi = taylor_features(K, self.degree)  # (n, r)
        vv = np.concatenate([V, np.ones((self.n, 1))], axis=1)  # (n, d_v + 1)
        contrib = phi[:, :, None] * vv[:, None, :]  # (n, r, d_v + 1)
        self.step = self.grid * self.contribution_bound()  # the grid's step
        stat = np.rint(contrib / self.step).astype(np.int64).sum(axis=0)
        self.rho = zcdp_rho(self.eps, self.delta)
        self.sigma_int = self.l2_sensitivity_int() / math.sqrt(2 * self.rho)
        rng = np.random.default_rng(seed)
        noise = discrete_gaussian(self.sigma_int, (self.n_runs, *stat.shape), rng)
        self._release = self.step * (stat + noise)  # (n_runs, r, d_v + 1)

    # -------------------------------------------------------------- accounting
    def contribution_bound(self) -> float:
        """``sup |phi(k) (x) [v, 1]| = sup|phi(k)| sqrt(d_v R_w^2 + 1)``."""
        return feature_sup_norm(self.d, self.degree, self.R) * math.sqrt(
            self.d_v * self.R_w**2 + 1
        )

    def l2_sensitivity(self) -> float:
        """l2 sensitivity of ``[M | s]`` under replacement: twice the bound."""
        return 2 * self.contribution_bound()

    def l2_sensitivity_int(self) -> float:
        """The same on the integer grid, with the rounding of both rows."""
        m = self.r * (self.d_v + 1)
        return self.l2_sensitivity() / self.step + math.sqrt(m)

    def noise_std(self) -> float:
        """Standard deviation bound of each released entry: ``step * sigma``."""
        return self.step * self.sigma_int

    def privacy(self) -> dict[str, object]:
        """The guarantee and how it was accounted."""
        return {
            "mechanism": type(self).__name__,
            "eps": zcdp_to_dp(self.rho, self.delta),
            "delta": self.delta,
            "rho (zCDP)": self.rho,
            "l2 sensitivity": self.l2_sensitivity(),
            "sigma": self.noise_std(),
            "neighbours": "one (key, value) row replaced; n public",
            "scope": "every column and every query, jointly (released once)",
        }

    # ------------------------------------------------------------------ output
    def release(self) -> np.ndarray:
        """The released ``[M | s]``: (r, d_v + 1), or (n_runs, r, d_v + 1)."""
        return _squeeze(self._release.copy(), self.n_runs)

    @typed
    def query(self, Q: np.ndarray) -> np.ndarray:
        """Private attention rows for public queries (post-processing only).

        Args:
            Q: queries, shape (m, d), entries in ``[0, R]``.

        Returns:
            Shape (m, d_v), or (n_runs, m, d_v).
        """
        Q = _check_queries(Q, self.d, self.R)
        fq = taylor_features(Q, self.degree)  # (m, r)
        out = np.einsum("mr,brc->bmc", fq, self._release)  # (n_runs, m, d_v + 1)
        den = np.maximum(out[..., -1:], self.n)  # D >= n since <q, k> >= 0
        return _squeeze(out[..., :-1] / den, self.n_runs)

    @typed
    def error_bound(self, Q: np.ndarray) -> np.ndarray:
        """First-order RMSE bound of each answer: ``|phi(q)| sigma sqrt(1+R_w^2) / n``.

        The numerator error ``e_N`` and denominator error ``e_D`` enter the answer
        as ``(e_N - a e_D) / D`` with ``|a| <= R_w`` and ``D >= n``.

        Returns:
            Shape (m,).
        """
        Q = _check_queries(Q, self.d, self.R)
        norm = np.linalg.norm(taylor_features(Q, self.degree), axis=1)
        return norm * self.noise_std() * math.sqrt(1 + self.R_w**2) / self.n


class BrokenFlatDPAttention(FlatDPAttention):
    """The flat release calibrated to a **wrong** sensitivity (a negative control).

    It bounds a row's contribution by the values alone, ``sqrt(d_v R_w^2 + 1)``,
    forgetting the feature norm ``sup|phi(k)|`` and the factor 2 of replacement, so
    its noise is ``2 sup|phi(k)|`` times too small, while :meth:`privacy` still
    claims ``eps``. The audit must flag it.

    Book: notebooks/dp_attention/lecture.md, "Auditing".
    """

    def l2_sensitivity(self) -> float:
        """Wrong on purpose: the values' bound only."""
        return math.sqrt(self.d_v * self.R_w**2 + 1)


class DPTreeAttention:
    """The paper's structure: one DPTree per feature and column, queried at ``y=0``.

    Args:
        K: private keys, shape (n, d), entries in ``[0, R]``.
        V: private values, shape (n, d_v), entries in ``[-R_w, R_w]``.
        eps: privacy budget (> 0).
        degree: degree of the Taylor features.
        R: bound on keys and queries.
        R_w: bound on the values.
        denominator: ``"private"`` (our correction: trees for ``s`` too, ``eps``
            split over all ``r (d_v + 1)`` trees, pure ``eps``-DP) or ``"exact"``
            (the paper as written: ``eps / r`` per tree, each column claimed
            ``eps``-DP, the normaliser exact, which is not DP).
        n_leaves: buckets of each tree.
        clip: clip out-of-bound keys and values instead of refusing them.
        grid: relative step of the integer grid.
        n_runs: independent copies at once.
        seed: seed of the noise.

    Paper: arXiv 2407.14717, Thm 3.1 / App. I (DPTreeSoftmax), reconstructed.
    Book: notebooks/dp_attention/lecture.md, "The paper's structure".
    """

    @typed
    def __init__(
        self,
        K: np.ndarray,
        V: np.ndarray,
        *,
        eps: float,
        degree: int,
        R: float,
        R_w: float,
        denominator: str = "private",
        n_leaves: int = 8,
        clip: bool = False,
        grid: float = 2.0**-16,
        n_runs: int = 1,
        seed: int = 0,
    ):
        self.eps, _ = check_privacy(eps, 0.0)
        if denominator not in ("private", "exact"):
            raise ValueError(
                f"denominator: expected 'private' or 'exact', got {denominator!r}"
            )
        K, V = check_keys_values(K, V, R, R_w, clip)
        self.R, self.R_w, self.denominator = float(R), float(R_w), denominator
        self.degree = check_int("degree", degree, 0, 32)
        self.n_runs = check_int("n_runs", n_runs, 1, 10**6)
        self.n, self.d = K.shape
        self.d_v = V.shape[1]
        self.r = n_features(self.d, self.degree)
        phi = taylor_features(K, self.degree)  # (n, r): the points x_i of each tree
        x_max = feature_max(self.d, self.degree, self.R)  # (r,)
        private = denominator == "private"
        cols = self.d_v + int(private)  # trees per feature
        # tree (j, l): points phi_j(k_i), weights V[i, l] (or 1 for the normaliser);
        # weights scaled to [-1, 1] so that one w_max serves every column
        x = np.repeat(phi, cols, axis=1)  # (n, r * cols), feature-major
        w = np.tile(np.concatenate([V / self.R_w, np.ones((self.n, int(private)))],
                                   axis=1), (1, self.r))
        self.eps_tree = self.eps / (self.r * cols) if private else self.eps / self.r
        self.trees = DPTree(
            # x_max with a relative margin of 1e-9: phi_j(R 1) may round one ulp up
            x, w, eps=self.eps_tree, x_max=np.repeat(x_max, cols) * (1 + 1e-9),
            w_max=1.0,
            n_leaves=n_leaves, grid=grid, n_runs=self.n_runs, seed=seed,
        )
        # sum_i w_i |0 - x_i| = sum_i w_i phi_j(k_i): every tree queried at y = 0
        sums = self.trees.query(np.zeros(self.r * cols)).reshape(
            self.n_runs, self.r, cols
        )
        self._num = sums[..., : self.d_v] * self.R_w  # (n_runs, r, d_v)
        if private:
            self._den = sums[..., self.d_v]  # (n_runs, r), noisy
        else:  # the paper: "D is only a normalization factor" -- exact, not private
            self._den = np.broadcast_to(phi.sum(axis=0), (self.n_runs, self.r))

    def privacy(self) -> dict[str, object]:
        """The guarantee and how it was accounted (the paper's claim for "exact")."""
        out = {
            "mechanism": f"{type(self).__name__}(denominator={self.denominator!r})",
            "eps per tree": self.eps_tree,
            "trees": self.trees.n_trees,
            "neighbours": "one (key, value) row replaced; n public",
        }
        if self.denominator == "private":
            out.update(eps=self.eps, delta=0.0,
                       scope="every column and every query, jointly (basic "
                             "composition over the trees)")
        else:
            out.update(eps=self.eps, delta=0.0,
                       scope="claimed per column by the paper; the exact normaliser "
                             "is not private, so no finite eps holds")
        return out

    def release(self) -> tuple[np.ndarray, np.ndarray]:
        """The noisy trees: counts and moments, each (n_runs, 2M - 1, trees)."""
        return self.trees.release()

    @typed
    def denominator_at(self, Q: np.ndarray) -> np.ndarray:
        """The normaliser ``max(phi(q)^T s, n)`` the answers divide by; (n_runs, m).

        Noisy for ``denominator="private"``; exact for the paper's ``"exact"``, which
        is why that variant is not private.
        """
        Q = _check_queries(Q, self.d, self.R)
        fq = taylor_features(Q, self.degree)
        return np.maximum(np.einsum("mr,br->bm", fq, self._den), self.n)

    @typed
    def query(self, Q: np.ndarray) -> np.ndarray:
        """Attention rows for public queries: (m, d_v), or (n_runs, m, d_v)."""
        Q = _check_queries(Q, self.d, self.R)
        fq = taylor_features(Q, self.degree)
        num = np.einsum("mr,brc->bmc", fq, self._num)
        return _squeeze(num / self.denominator_at(Q)[..., None], self.n_runs)

    @typed
    def error_bound(self, Q: np.ndarray) -> np.ndarray:
        """First-order RMSE bound of each answer, from the Laplace variances; (m,).

        ``sqrt(sum_j phi_j(q)^2 (R_w^2 var_j + R_w^2 var'_j)) / n``, where ``var_j`` is
        the variance of tree ``j``'s root moment (value trees, scaled by ``R_w``) and
        ``var'_j`` that of the normaliser's tree (zero for ``"exact"``).
        """
        Q = _check_queries(Q, self.d, self.R)
        fq = taylor_features(Q, self.degree)  # (m, r)
        _, var_m = self.trees.noise_var()  # (trees,)
        cols = self.d_v + int(self.denominator == "private")
        var_m = var_m.reshape(self.r, cols)
        var_num = self.R_w**2 * var_m[:, 0]  # one column's numerator
        var_den = var_m[:, -1] if self.denominator == "private" else 0 * var_num
        var = fq**2 @ (var_num + self.R_w**2 * var_den)
        return np.sqrt(var) / self.n
