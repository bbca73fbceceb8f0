"""DPTree: the paper's private weighted-distance tree, as we reconstruct it.

The structure answers ``sum_i w_i |y - x_i|`` for a public query point ``y`` over
private points ``x_i in [0, x_max]`` with weights ``w_i in [-w_max, w_max]``:

1. cut ``[0, x_max]`` into ``M = n_leaves`` equal buckets, a partition fixed before
   the data is seen (leaves chosen from the data would leak where the data is);
2. build a complete binary tree over the buckets (``h = log2 M`` levels above the
   leaves); every node stores the weighted count ``c = sum w_i`` and the weighted
   first moment ``m = sum w_i x_i`` of the points in its buckets;
3. add discrete Laplace noise to every node. One record sits in ``h + 1`` nodes, so
   replacing it changes the count vector by at most ``2 (h + 1) w_max`` in l1 (and
   the moments by ``2 (h + 1) w_max x_max``): half the budget for each, so the tree
   is ``eps``-DP (pure, ``delta = 0``);
4. a query covers the buckets left of ``y`` with at most ``h`` canonical nodes and
   returns ``y (2 W_left - W_all) - (2 S_left - S_all)``, exact up to the noise and
   the points that share ``y``'s bucket.

The noise is drawn once, at construction: every answer is post-processing of one
release, so any number of (adaptive) queries costs no further privacy.

Node layout: level 0 is the ``M`` leaves, level ``l`` has ``M >> l`` nodes; the
levels are stored one after the other, so the root is the last node. Trees are
batched: ``T`` trees over the same ``n`` records (columns of ``x`` and ``w``), and
``n_runs`` independent noise draws (for audits and error measurements).

Paper: arXiv 2407.14717, Sec. 4 and App. D-F ("DPTree", one-dimensional weighted
    distance query); the paper's algorithm boxes were not available to us, so this
    is a reconstruction from its stated bounds (count + moment per node, as in
    Liu et al.'s DP KDE), not a copy.
Book: notebooks/dp_attention/lecture.md, "The paper's structure".
"""

from __future__ import annotations

import math

import numpy as np

from effteach.checks import check_float, check_int, typed
from effteach.dp_attention._checks import check_array, check_privacy
from effteach.dp_attention.noise import discrete_laplace, discrete_laplace_var

__all__ = ["DPTree", "canonical_nodes", "level_offsets"]


@typed
def level_offsets(n_leaves: int) -> list[int]:
    """Index of the first node of each level (leaves first); the root is last."""
    M = check_int("n_leaves", n_leaves, 2)
    if M & (M - 1):
        raise ValueError(f"n_leaves: expected a power of two, got {M}")
    offs, off, size = [], 0, M
    while size >= 1:
        offs.append(off)
        off += size
        size //= 2
    return offs


@typed
def canonical_nodes(b: int, n_leaves: int) -> list[int]:
    """Node indices whose buckets are exactly ``[0, b)`` (at most ``h`` nodes).

    Level ``l`` contributes the node ``(b >> l) - 1`` when bit ``l`` of ``b`` is set:
    for ``b = 3``, level 1 gives buckets ``[0, 2)`` and level 0 gives bucket 2.
    """
    offs = level_offsets(n_leaves)
    b = check_int("b", b, 0, n_leaves)
    return [offs[lvl] + (b >> lvl) - 1 for lvl in range(len(offs)) if (b >> lvl) & 1]


class DPTree:
    """``T`` weighted-distance DP trees over the same records, noise drawn once.

    Args:
        x: points, shape (n, T), entries in ``[0, x_max]``.
        w: weights, shape (n, T), entries in ``[-w_max, w_max]``.
        eps: budget of each tree (pure DP; half for counts, half for moments).
        x_max: bound on the points, a number or one per tree (T,).
        w_max: bound on the weights.
        n_leaves: ``M``, a power of two (data-independent buckets).
        grid: relative step of the integer grid (each contribution is rounded to
            ``grid * w_max`` for counts, ``grid * w_max * x_max`` for moments).
        n_runs: independent noise draws (the structure built ``n_runs`` times).
        seed: seed of the noise.

    Raises:
        ValueError: naming the argument for points or weights outside their bounds,
            ``eps <= 0``, a bad ``n_leaves``, mismatched shapes.

    Paper: arXiv 2407.14717, App. D-F (DPTree), reconstructed.
    Book: notebooks/dp_attention/lecture.md, "The paper's structure".
    """

    @typed
    def __init__(
        self,
        x: np.ndarray,
        w: np.ndarray,
        *,
        eps: float,
        x_max: float | np.ndarray,
        w_max: float,
        n_leaves: int = 8,
        grid: float = 2.0**-16,
        n_runs: int = 1,
        seed: int = 0,
    ):
        x = check_array("x", x, ndim=2)
        w = check_array("w", w, shape=x.shape, shape_of="x")
        self.eps, _ = check_privacy(eps, 0.0)
        self.w_max = check_float("w_max", w_max, 0.0, low_open=True)
        n, T = x.shape
        if isinstance(x_max, np.ndarray):
            xm = check_array("x_max", x_max, shape=(T,), shape_of="x's columns")
            if (xm <= 0).any():
                raise ValueError("x_max: expected positive bounds")
        else:
            xm = np.full(T, check_float("x_max", x_max, 0.0, low_open=True))
        self.offsets = level_offsets(n_leaves)
        self.n_leaves, self.h = n_leaves, len(self.offsets) - 1
        self.grid = check_float("grid", grid, 0.0, 0.5, low_open=True)
        self.n_runs = check_int("n_runs", n_runs, 1, 10**6)
        seed = check_int("seed", seed, 0)
        if ((x < 0) | (x > xm)).any():
            raise ValueError("x: expected points in [0, x_max]")
        if (np.abs(w) > self.w_max).any():
            raise ValueError(
                f"w: expected weights in [-{self.w_max:g}, {self.w_max:g}]"
            )
        self.n, self.n_trees, self.x_max = n, T, xm
        self.width = xm / n_leaves  # bucket width of each tree (T,)
        n_nodes = 2 * n_leaves - 1
        # integer contributions on the public grid
        step_c = self.grid * self.w_max
        step_m = self.grid * self.w_max * xm  # (T,)
        c_int = np.rint(w / step_c).astype(np.int64)
        m_int = np.rint(w * x / step_m).astype(np.int64)
        bucket = np.minimum((x / self.width).astype(np.int64), n_leaves - 1)
        counts = np.zeros((n_nodes, T), dtype=np.int64)
        moments = np.zeros((n_nodes, T), dtype=np.int64)
        cols = np.broadcast_to(np.arange(T), (n, T))
        for lvl, off in enumerate(self.offsets):
            node = off + (bucket >> lvl)
            np.add.at(counts, (node, cols), c_int)
            np.add.at(moments, (node, cols), m_int)
        # one record is in h + 1 nodes; replacing it moves each by <= U (grid units)
        self.unit = math.floor(1.0 / self.grid + 0.5)
        self.l1_sensitivity = 2 * (self.h + 1) * self.unit
        self.t = self.l1_sensitivity / (self.eps / 2)  # discrete Laplace scale
        rng = np.random.default_rng(seed)
        shape = (self.n_runs, n_nodes, T)
        self._counts = step_c * (counts + discrete_laplace(self.t, shape, rng))
        self._moments = step_m * (moments + discrete_laplace(self.t, shape, rng))

    def release(self) -> tuple[np.ndarray, np.ndarray]:
        """The noisy node counts and moments, each (n_runs, 2M - 1, T)."""
        return self._counts.copy(), self._moments.copy()

    def noise_var(self) -> tuple[float, np.ndarray]:
        """Variance of one node's count noise (a number) and moment noise (T,)."""
        v = discrete_laplace_var(self.t)
        step_m = self.grid * self.w_max * self.x_max
        return (self.grid * self.w_max) ** 2 * v, step_m**2 * v

    @typed
    def query(self, y: np.ndarray) -> np.ndarray:
        """``sum_i w_i |y_t - x_i|`` of every tree ``t``, from the noisy nodes.

        Args:
            y: one public query point per tree, shape (T,), in ``[0, x_max]``.

        Returns:
            Shape (n_runs, T).
        """
        y = check_array("y", y, shape=(self.n_trees,), shape_of="the trees")
        if ((y < 0) | (y > self.x_max)).any():
            raise ValueError("y: expected query points in [0, x_max]")
        root = self.offsets[-1]
        b = np.minimum((y / self.width).astype(np.int64), self.n_leaves)
        w_left = np.zeros((self.n_runs, self.n_trees))
        s_left = np.zeros((self.n_runs, self.n_trees))
        for t in range(self.n_trees):
            nodes = canonical_nodes(int(b[t]), self.n_leaves)
            w_left[:, t] = self._counts[:, nodes, t].sum(axis=1)
            s_left[:, t] = self._moments[:, nodes, t].sum(axis=1)
        w_all, s_all = self._counts[:, root, :], self._moments[:, root, :]
        return y * (2 * w_left - w_all) - (2 * s_left - s_all)
