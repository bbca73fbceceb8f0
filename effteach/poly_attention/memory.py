"""Measure what a computation allocates: peak live bytes and its largest tensor.

:func:`track_memory` runs a function under a ``TorchDispatchMode`` that sees every
ATen operation (forward and, since the mode is thread-local state the autograd
engine carries, the backward too). Each new storage an operation returns is counted
from its creation until it is freed (a ``weakref.finalize`` on the storage, whose
Python object torch keeps alive as long as the storage). So ``peak_bytes`` is the
most memory the computation's own tensors held at once, on any device, without the
allocator's caching or the process's baseline; and ``largest_shape`` is the
biggest tensor any operation produced: the test that no ``n x n`` tensor exists.

Inputs allocated before the call are not counted; storages that outlive the call
(the result) count until the call returns.

Book: notebooks/poly_attention/lecture.md, "Memory: linear in n".
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ["MemoryReport", "track_memory"]


@dataclasses.dataclass(frozen=True)
class MemoryReport:
    """What one call allocated.

    Attributes:
        peak_bytes: the most bytes of new storages alive at one time.
        total_bytes: bytes of all storages created (allocation traffic).
        largest_shape: shape of the largest tensor an operation returned.
        largest_numel: its number of elements.
        n_ops: ATen operations seen.
    """

    peak_bytes: int
    total_bytes: int
    largest_shape: tuple[int, ...]
    largest_numel: int
    n_ops: int


class _Tracker(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self.total = 0
        self.largest: tuple[int, ...] = ()
        self.largest_numel = 0
        self.n_ops = 0
        self.seen: set[int] = set()

    def _free(self, key: int, nbytes: int) -> None:
        self.live -= nbytes
        self.seen.discard(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self.n_ops += 1
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            if t.numel() > self.largest_numel:
                self.largest_numel, self.largest = t.numel(), tuple(t.shape)
            st = t.untyped_storage()
            key = st.data_ptr()
            if key in self.seen or st.nbytes() == 0:
                continue
            self.seen.add(key)
            nbytes = st.nbytes()
            self.live += nbytes
            self.total += nbytes
            self.peak = max(self.peak, self.live)
            weakref.finalize(st, self._free, key, nbytes)
        return out


def track_memory(fn: Callable[[], object]) -> MemoryReport:
    """Run ``fn()`` and report the memory its operations allocated.

    Args:
        fn: a function of no arguments (say a forward and a ``.backward()``).

    Returns:
        A :class:`MemoryReport`.

    Raises:
        TypeError: if ``fn`` is not callable.

    Book: notebooks/poly_attention/lecture.md, "Memory: linear in n".
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a function of no arguments, got "
                        f"{type(fn).__name__}")
    tracker = _Tracker()
    with tracker:
        result = fn()
    del result
    return MemoryReport(tracker.peak, tracker.total, tracker.largest,
                        tracker.largest_numel, tracker.n_ops)
