"""Plain references: exact cross-attention, its polynomial version, the binary tree.

These are **not private**: they compute on the raw keys and values and are the
ground truth the mechanisms are measured against (and the assignment's answers are
checked against). Nothing here belongs on the private side of a deployment.

* ``softmax_attention_ref(Q, K, V) = D^{-1} exp(Q K^T) V`` with
  ``D = diag(exp(Q K^T) 1)``, the paper's cross-attention (no temperature).
* ``poly_attention_ref``: the same with ``exp(<q, k>)`` replaced by
  ``<phi_g(q), phi_g(k)>``, what every mechanism approximates before noise.
* ``binary_mechanism_ref(x, noise)``: prefix sums of ``x`` (length ``M = 2^h``) read
  off a binary tree whose node ``(level l, index j)`` holds the sum of leaves
  ``[j 2^l, (j+1) 2^l)`` plus ``noise[l][j]``; prefix ``[0, b)`` uses the canonical
  nodes of :func:`~effteach.dp_attention.tree.canonical_nodes`.

Paper: arXiv 2407.14717, Sec. 2 (cross-attention), App. D (tree);
    Dwork, Naor, Pitassi, Rothblum 2010 and Chan, Shi, Song 2011 (binary mechanism).
Book: notebooks/dp_attention/lecture.md, "The method".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from effteach.checks import check_sequence, typed
from effteach.dp_attention._checks import check_array
from effteach.dp_attention.features import taylor_features

__all__ = ["softmax_attention_ref", "poly_attention_ref", "binary_mechanism_ref"]


@typed
def softmax_attention_ref(Q: np.ndarray, K: np.ndarray, V: np.ndarray) -> np.ndarray:
    """``D^{-1} exp(Q K^T) V``; shapes (m, d), (n, d), (n, d_v) -> (m, d_v)."""
    Q = check_array("Q", Q, ndim=2)
    K = check_array("K", K, shape=(None, Q.shape[1]), shape_of="Q's columns")
    V = check_array("V", V, shape=(K.shape[0], None), shape_of="K's rows")
    logits = Q @ K.T
    a = np.exp(logits - logits.max(axis=1, keepdims=True))  # same ratio, no overflow
    return (a @ V) / a.sum(axis=1, keepdims=True)


@typed
def poly_attention_ref(
    Q: np.ndarray, K: np.ndarray, V: np.ndarray, degree: int
) -> np.ndarray:
    """``phi(Q) M / phi(Q) s`` with exact ``M = phi(K)^T V``, ``s = phi(K)^T 1``."""
    Q = check_array("Q", Q, ndim=2)
    K = check_array("K", K, shape=(None, Q.shape[1]), shape_of="Q's columns")
    V = check_array("V", V, shape=(K.shape[0], None), shape_of="K's rows")
    fq, fk = taylor_features(Q, degree), taylor_features(K, degree)
    return (fq @ (fk.T @ V)) / (fq @ fk.sum(axis=0))[:, None]


@typed
def binary_mechanism_ref(x: np.ndarray, noise: Sequence[np.ndarray]) -> np.ndarray:
    """Noisy prefix sums ``P[b] ~ x[0] + ... + x[b]`` from a binary tree.

    Args:
        x: leaf values, shape (M,), ``M`` a power of two.
        noise: one array per level, ``noise[l]`` of shape ``(M >> l,)``, level 0
            the leaves and the last level the root.

    Returns:
        Shape (M,): entry ``b`` is the sum of the canonical nodes of ``[0, b + 1)``,
        each node being its leaves' sum plus its noise.
    """
    x = check_array("x", x, ndim=1)
    M = x.size
    if M < 2 or M & (M - 1):
        raise ValueError(f"x: expected a power-of-two length >= 2, got {M}")
    levels = check_sequence("noise", noise, length=M.bit_length())
    nodes = []
    for lvl, z in enumerate(levels):
        z = check_array(f"noise[{lvl}]", z, shape=(M >> lvl,), shape_of="x")
        nodes.append(x.reshape(M >> lvl, 1 << lvl).sum(axis=1) + z)
    out = np.zeros(M)
    for b in range(1, M + 1):
        out[b - 1] = sum(nodes[lvl][(b >> lvl) - 1] for lvl in range(len(nodes))
                         if (b >> lvl) & 1)
    return out
