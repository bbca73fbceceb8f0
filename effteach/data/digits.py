"""The 8x8 handwritten digits bundled with scikit-learn, as torch tensors.

1797 grey-level images of the digits 0-9 (UCI "Optical Recognition of Handwritten
Digits", 16 grey levels), shipped inside scikit-learn, so no download is needed. The
book uses them for tiny image classifiers and diffusion models, and as sprites of
:func:`effteach.data.moving_shapes` videos.

Book: notebooks/zoo/models.md, "Data".
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
import torch

__all__ = ["DIGITS_N_TEST", "digits_split_indices", "load_digits_tensors"]

#: Default size of the test split (the train split has the other 1497 images).
DIGITS_N_TEST = 300


def _digits_csv() -> Path | None:
    """Path of scikit-learn's ``digits.csv.gz``, found without importing sklearn."""
    spec = importlib.util.find_spec("sklearn")  # locates, does not execute
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "datasets/data/digits.csv.gz"
    return path if path.is_file() else None


@functools.lru_cache(maxsize=1)
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The raw images (1797, 8, 8) float64 in [0, 16] and labels (1797,) int64."""
    path = _digits_csv()
    if path is not None:
        # the file ``load_digits`` reads: 64 pixels then the label per row; reading
        # it directly skips importing scikit-learn (and SciPy), seconds on 2 cores
        data = np.loadtxt(path, delimiter=",")
        images, labels = data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)
    else:  # a layout we do not know: let scikit-learn find its file
        try:
            from sklearn.datasets import load_digits
        except ImportError as err:
            raise ImportError(
                "effteach.data.digits needs scikit-learn (it ships the 8x8 digits): "
                "pip install scikit-learn"
            ) from err
        bunch = load_digits()
        images = np.asarray(bunch.images, dtype=np.float64)
        labels = np.asarray(bunch.target, dtype=np.int64)
    if images.shape != (1797, 8, 8) or labels.shape != (1797,):
        raise RuntimeError(
            f"scikit-learn's digits have shape {images.shape}, expected (1797, 8, 8)"
        )
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


@functools.lru_cache(maxsize=8)
def _split(seed: int, n_test: int) -> tuple[np.ndarray, np.ndarray]:
    _, labels = _digits_arrays()
    n = len(labels)
    classes, counts = np.unique(labels, return_counts=True)
    # stratify: give each class its share of n_test, rounding by largest remainder
    # so that the shares add up to n_test exactly
    quota = counts * n_test / n
    per_class = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - per_class), kind="stable")
    per_class[order[: n_test - per_class.sum()]] += 1
    rng = np.random.default_rng(seed)
    test = []
    for c, k in zip(classes, per_class, strict=True):
        idx = np.flatnonzero(labels == c)
        test.append(rng.permutation(idx)[:k])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(n), test_idx)  # sorted, disjoint
    train_idx.setflags(write=False)
    test_idx.setflags(write=False)
    return train_idx, test_idx


def digits_split_indices(
    seed: int = 0, n_test: int = DIGITS_N_TEST
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into scikit-learn's order) of the stratified train/test split.

    Every class gets its share of the test set (rounded so the total is exactly
    ``n_test``); which images go to test is drawn with
    ``numpy.random.default_rng(seed)``.

    Args:
        seed: seed of the split, >= 0.
        n_test: number of test images, in [10, 1787] (at least one per class).

    Returns:
        ``(train_idx, test_idx)``: sorted, disjoint int64 arrays (read-only) that
        together cover ``range(1797)``.

    Raises:
        ValueError: if ``seed`` or ``n_test`` is out of range.
    """
    _, labels = _digits_arrays()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected an int >= 0, got {seed!r}")
    n = len(labels)
    if (
        isinstance(n_test, bool)
        or not isinstance(n_test, (int, np.integer))
        or not 10 <= n_test <= n - 10
    ):
        raise ValueError(f"n_test: expected an int in [10, {n - 10}], got {n_test!r}")
    return _split(int(seed), int(n_test))


def load_digits_tensors(
    split: str = "train", seed: int = 0, n_test: int = DIGITS_N_TEST
) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8x8 digits as images in [-1, 1] and labels, for one split.

    The split is fixed by ``seed`` (see :func:`digits_split_indices`): with the
    defaults, 1497 train and 300 test images, about 30 of each digit in test.

    Args:
        split: ``"train"`` or ``"test"``.
        seed: seed of the split; the same seed always gives the same split.
        n_test: size of the test split.

    Returns:
        ``(images, labels)``: images float32 of shape (n, 1, 8, 8), grey level
        ``g`` in 0..16 mapped to ``g / 8 - 1`` (0 -> -1 background, 16 -> 1 ink);
        labels int64 of shape (n,), the digit 0-9.

    Raises:
        ValueError: if ``split`` is not "train" or "test".

    Paper: Alpaydin and Kaynak 1998, UCI "Optical Recognition of Handwritten
        Digits" (the data); scikit-learn ``load_digits``.
    Book: notebooks/zoo/models.md, "Data".
    """
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    train_idx, test_idx = digits_split_indices(seed, n_test)
    idx = train_idx if split == "train" else test_idx
    images, labels = _digits_arrays()
    x = torch.from_numpy(images[idx] / 8.0 - 1.0).to(torch.float32).unsqueeze(1)
    y = torch.from_numpy(labels[idx].copy())
    return x, y
