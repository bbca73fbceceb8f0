"""A two-level memory: the red-blue pebble game, played with numpy tiles.

Slow memory holds named tensors of any size (blue pebbles); fast memory holds at
most ``sram`` words (red pebbles). A schedule moves data only through

* :meth:`TwoLevelMemory.load` (rule R1: blue -> red), counted per word,
* :meth:`TwoLevelMemory.store` (rule R2: red -> blue), counted per word,
* :meth:`TwoLevelMemory.alloc` (rule R3's results need a red pebble: scratch words
  count toward ``sram`` but cost no I/O),
* :meth:`TwoLevelMemory.free` (rule R4: delete pebbles),

and computes only on :class:`Tile` objects that are resident: reading
:attr:`Tile.value` after :meth:`~TwoLevelMemory.free` raises :class:`ResidencyError`
(and a numpy reference kept from before the free reads NaN),
a load that would make more than ``sram`` words resident raises
:class:`CapacityError`, and loading a word that slow memory never received (an
output or intermediate that was not stored yet) raises :class:`ResidencyError`.
So a run that finishes is a legal pebbling, and its counts are exact.

One convention, shared with the closed forms of the notes: a tile operation stands
for a row-by-row sequence of pebble moves that needs O(1) extra scalar pebbles
(:data:`REGISTERS` at most: a product, a partial sum, a row's new maximum and its
rescale factor). Those registers are not charged to ``sram``, so a run with
capacity M is a legal pebbling with ``M + REGISTERS`` red pebbles.

With ``trace="tiles"`` every load, store, alloc and free is recorded as an
:class:`Event`; ``trace="words"`` records one event per word (for animating single
pebbles on tiny instances). :meth:`TwoLevelMemory.addresses` turns either trace into
the sequence of slow-memory word addresses, for replay through a cache simulator.

Paper: Hong & Kung 1981 (red-blue pebble game); Saha & Ye 2024 (arXiv 2402.07443),
    Definition 2.1, which Li et al. (arXiv 2410.09397) use unchanged.
Book: notebooks/pebble_io/lecture.md, "The method".
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import NamedTuple

import numpy as np

from effteach.checks import check_float, check_int, typed

__all__ = [
    "REGISTERS",
    "CapacityError",
    "Event",
    "IOCounts",
    "PebbleError",
    "ResidencyError",
    "Tile",
    "TwoLevelMemory",
]


#: Scalar registers a tile operation may use on top of ``sram`` (see above).
REGISTERS = 4


class PebbleError(RuntimeError):
    """An illegal move of the pebble game.

    Paper: Saha & Ye 2024 (arXiv 2402.07443), Definition 2.1 [C].
    Book: notebooks/pebble_io/lecture.md, "The method".
    """


class ResidencyError(PebbleError):
    """Computing on a tile that is not in fast memory, or loading an unwritten word.

    Paper: rules R1 and R3 of the red-blue pebble game (Saha & Ye 2024,
        Definition 2.1) [C].
    Book: notebooks/pebble_io/lecture.md, "The method".
    """


class CapacityError(PebbleError, ValueError):
    """A load or allocation would put more than ``sram`` words in fast memory.

    Paper: the cache constraint of the pebble game, at most M red pebbles
        (Saha & Ye 2024, Definition 2.1) [C].
    Book: notebooks/pebble_io/lecture.md, "The method".
    """


@typed
@dataclasses.dataclass(frozen=True)
class IOCounts:
    """Words moved between slow and fast memory.

    Attributes:
        loads: words read from slow memory (R1 moves).
        stores: words written to slow memory (R2 moves).

    Paper: Q(G, M) counts R1 + R2 moves (Saha & Ye 2024, Definition 2.2) [C].
    Book: notebooks/pebble_io/lecture.md, "The method".
    """

    loads: int
    stores: int

    @property
    def total(self) -> int:
        """``loads + stores``: the I/O of the pebble game."""
        return self.loads + self.stores

    def __add__(self, other: IOCounts) -> IOCounts:
        return IOCounts(self.loads + other.loads, self.stores + other.stores)


@typed
class Event(NamedTuple):
    """One traced move.

    Attributes:
        op: ``"load"``, ``"store"``, ``"alloc"`` or ``"free"``.
        tensor: the slow-memory tensor (load, store, free of a loaded tile) or the
            scratch label (alloc, free of a scratch tile).
        rows: ``(start, stop)`` of the rows touched (for scratch, ``(0, height)``).
        cols: ``(start, stop)`` of the columns (``(0, 1)`` for a 1-D tensor).
        words: words moved or (de)allocated by this event.
        resident: words in fast memory after the event.

    Paper: none; a record of the simulator for replays and animations.
    Book: notebooks/pebble_io/lecture.md, "The method".
    """

    op: str
    tensor: str
    rows: tuple[int, int]
    cols: tuple[int, int]
    words: int
    resident: int


def _shape(shape) -> tuple[int, ...]:
    """A tensor shape: one or two positive ints (an int alone is a 1-D shape)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(
            f"shape: expected a tuple of 1 or 2 ints, got {type(shape).__name__}"
        )
    if len(shape) not in (1, 2):
        raise ValueError(f"shape: expected 1 or 2 dimensions, got {tuple(shape)}")
    return tuple(check_int("shape", s, 1) for s in shape)


@typed
def _check_tile_args(
    data: np.ndarray,
    label: str,
    region: tuple[tuple[int, int], tuple[int, int]] | None,
    loaded: bool,
) -> None:
    """The type checks of :class:`Tile` (off the hot path: only when one fails)."""


def _index_arg(name: str, value):
    """An int row or column index, as a slice of one."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{name}: expected a slice or an int, got {type(value).__name__} {value!r}"
        )
    return slice(value, value + 1)


def _region(index: tuple[slice, ...], shape: tuple[int, ...]):
    r0, r1, _ = index[0].indices(shape[0])
    if len(shape) == 1:
        return (r0, r1), (0, 1)
    c0, c1, _ = index[1].indices(shape[1])
    return (r0, r1), (c0, c1)


class Tile:
    """A block of fast memory: a loaded region of a tensor, or scratch.

    Read and write its numbers through :attr:`value`; once freed, :attr:`value`
    raises :class:`ResidencyError`.

    Attributes:
        label: the tensor it was loaded from, or the scratch label.
        words: its size in words (what it costs in fast memory).

    Paper: a tile of red pebbles (Saha & Ye 2024, Definition 2.1) [C].
    Book: notebooks/pebble_io/lecture.md, "The method".
    """

    __slots__ = ("_data", "label", "words", "_live", "_region", "_loaded")

    def __init__(
        self,
        data: np.ndarray,
        label: str,
        region: tuple[tuple[int, int], tuple[int, int]] | None,
        loaded: bool,
    ):
        # made for every move: the common case costs four class comparisons
        if data.__class__ is not np.ndarray or label.__class__ is not str or \
                loaded.__class__ is not bool or not (
                    region is None or region.__class__ is tuple):
            _check_tile_args(data, label, region, loaded)
        self._data = data
        self.label = label
        self.words = data.size
        self._live = True
        self._region = region
        self._loaded = loaded

    @property
    def shape(self) -> tuple[int, ...]:
        """The tile's shape."""
        return self._data.shape

    @property
    def resident(self) -> bool:
        """Whether the tile is still in fast memory."""
        return self._live

    @property
    def value(self) -> np.ndarray:
        """The tile's numbers (a writable array); an error once the tile is freed."""
        if not self._live:
            raise ResidencyError(
                f"tile {self.label!r} {self.shape} was freed: computing on data that "
                "is not in fast memory is not a legal move"
            )
        return self._data

    @value.setter
    def value(self, new) -> None:
        np.copyto(self.value, new)  # in place: the tile keeps its words

    def __repr__(self) -> str:
        state = "resident" if self._live else "freed"
        return f"Tile({self.label!r}, shape={self.shape}, {state})"


class TwoLevelMemory:
    """Slow memory of named tensors and a fast memory of ``sram`` words.

    Args:
        sram: capacity of fast memory in words (the pebble game's M), >= 1.
        trace: None (no trace), ``"tiles"`` (one :class:`Event` per move) or
            ``"words"`` (one event per word: tiny instances only).
        max_events: the trace stops the run with an error beyond this many events.

    Attributes:
        sram: the capacity M.
        loads, stores: words moved so far.
        resident: words in fast memory now.
        peak: the most words ever resident.
        loads_by, stores_by: words moved per tensor name.
        trace: the list of events, or None.

    Example:
        >>> mem = TwoLevelMemory(sram=8)
        >>> mem.put("X", np.arange(6.0).reshape(2, 3))
        >>> t = mem.load("X", slice(0, 1))          # 3 words
        >>> acc = mem.alloc((1,), "sum")            # 1 scratch word
        >>> acc.value = t.value.sum(axis=1)
        >>> mem.create("Y", (2,)); mem.store(acc, "Y", slice(0, 1))
        >>> mem.free(t, acc); (mem.loads, mem.stores, mem.peak)
        (3, 1, 4)

    Paper: Saha & Ye 2024 (arXiv 2402.07443), Definition 2.1 (rules R1-R4).
    Book: notebooks/pebble_io/lecture.md, "The method".
    """

    @typed
    def __init__(
        self, sram: int, trace: str | None = None, max_events: int = 2_000_000
    ):
        if isinstance(sram, bool) or not isinstance(sram, (int, np.integer)):
            raise TypeError(f"sram: expected an int (words), got {type(sram).__name__}")
        if sram < 1:
            raise ValueError(f"sram: expected a positive number of words, got {sram}")
        if trace not in (None, "tiles", "words"):
            raise ValueError(
                f"trace: expected None, 'tiles' or 'words', got {trace!r}"
            )
        self.sram = int(sram)
        self.loads = 0
        self.stores = 0
        self.resident = 0
        self.peak = 0
        self.loads_by: dict[str, int] = defaultdict(int)
        self.stores_by: dict[str, int] = defaultdict(int)
        self.trace: list[Event] | None = [] if trace else None
        self._words = trace == "words"
        self._max_events = int(max_events)
        self._slow: dict[str, np.ndarray] = {}
        self._written: dict[str, np.ndarray | None] = {}  # None: all words written
        self._base: dict[str, int] = {}
        self._next_base = 0

    # ---- slow memory: placing inputs and reading results (not moves) ----------
    def _new_tensor(self, name: str, arr: np.ndarray) -> None:
        if not name:
            raise TypeError("name: expected a non-empty str, got ''")
        if name in self._slow:
            raise ValueError(f"name: slow memory already holds a tensor {name!r}")
        if arr.ndim not in (1, 2):
            raise ValueError(
                f"array: expected a 1-D or 2-D tensor for {name!r}, got shape "
                f"{arr.shape}"
            )
        self._slow[name] = arr
        self._base[name] = self._next_base
        self._next_base += arr.size

    @typed
    def put(self, name: str, array) -> None:
        """Place an input tensor in slow memory (the game's initial blue pebbles).

        Free: inputs start in slow memory. The array (of real numbers) is copied
        as float64.
        """
        if hasattr(array, "detach"):  # a torch tensor
            array = array.detach().cpu().numpy()
        arr = np.asarray(array)
        if arr.dtype.kind not in "iuf":
            raise TypeError(
                f"array: expected an array of real numbers, got {type(array).__name__}"
                f" of dtype {arr.dtype}"
            )
        self._new_tensor(name, np.array(arr, dtype=np.float64))
        self._written[name] = None

    @typed
    def create(self, name: str, shape: tuple[int, ...] | list[int]) -> None:
        """Reserve an output or intermediate tensor; its words hold no value yet."""
        shape = _shape(shape)
        self._new_tensor(name, np.zeros(shape))
        self._written[name] = np.zeros(shape, dtype=bool)

    def result(self, name: str) -> np.ndarray:
        """A copy of a slow-memory tensor (inspection after the run, not a move).

        Raises:
            KeyError: for an unknown tensor.
            ResidencyError: if some word of it was never stored.
        """
        if name not in self._slow:
            raise KeyError(f"name: no tensor {name!r} in slow memory ({self.tensors})")
        w = self._written[name]
        if w is not None and not w.all():
            raise ResidencyError(
                f"{name}: {int((~w).sum())} of its {w.size} words were never stored"
            )
        return self._slow[name].copy()

    @property
    def tensors(self) -> list[str]:
        """Names of the tensors in slow memory."""
        return list(self._slow)

    @property
    def counts(self) -> IOCounts:
        """Loads and stores so far."""
        return IOCounts(self.loads, self.stores)

    @property
    def fresh(self) -> bool:
        """True if nothing was placed or moved yet."""
        return not self._slow and self.loads == 0 and self.stores == 0

    # ---- moves ------------------------------------------------------------------
    def _index(self, name: str, rows, cols) -> tuple[np.ndarray, tuple[slice, ...]]:
        arr = self._slow.get(name) if name.__class__ is str else None
        if arr is None:
            if not isinstance(name, str):
                raise TypeError(f"name: expected a str, got {type(name).__name__}")
            raise KeyError(f"name: no tensor {name!r} in slow memory ({self.tensors})")
        if rows.__class__ is not slice:
            rows = _index_arg("rows", rows)
        if arr.ndim == 1:
            if cols is not None:
                raise ValueError(f"cols: {name!r} is 1-D; give rows only")
            return arr, (rows,)
        if cols is None:
            cols = slice(None)
        elif cols.__class__ is not slice:
            cols = _index_arg("cols", cols)
        return arr, (rows, cols)

    def _claim(self, words: int, what) -> None:
        resident = self.resident + words
        if resident > self.sram:
            raise CapacityError(
                f"sram: {what()} needs {words} words, but {self.resident} of the "
                f"{self.sram} are resident ({resident} > sram={self.sram})"
            )
        self.resident = resident
        if resident > self.peak:
            self.peak = resident

    def _record(self, op: str, tensor: str, rows, cols, words: int, before: int):
        if self._words and words > 1:
            resident = before
            step = 1 if op in ("load", "alloc") else -1
            for r in range(*rows):
                for c in range(*cols):
                    resident += step
                    self.trace.append(Event(op, tensor, (r, r + 1), (c, c + 1), 1,
                                            resident))
        else:
            self.trace.append(Event(op, tensor, rows, cols, words, self.resident))
        if len(self.trace) > self._max_events:
            raise RuntimeError(
                f"max_events: the trace passed {self._max_events} events; use "
                "trace='tiles' or a smaller instance"
            )

    def load(
        self, name: str, rows: slice | int, cols: slice | int | None = None
    ) -> Tile:
        """Copy a region of a slow tensor into fast memory (R1), counting its words.

        Args:
            name: the tensor.
            rows: a slice (or an int) of rows.
            cols: a slice (or an int) of columns for a 2-D tensor; None = all.

        Returns:
            A resident :class:`Tile` with a copy of the region.

        Raises:
            CapacityError: if the region does not fit next to what is resident.
            ResidencyError: if a word of the region was never stored.
        """
        arr, index = self._index(name, rows, cols)
        view = arr[index]
        words = view.size
        w = self._written[name]
        if w is not None and not w[index].all():
            raise ResidencyError(
                f"{name}{list(_region(index, arr.shape))}: loading words that slow "
                "memory never received (store them first)"
            )
        before = self.resident
        self._claim(words, lambda: f"loading {name!r} {view.shape}")
        self.loads += words
        self.loads_by[name] += words
        region = None
        if self.trace is not None:
            region = _region(index, arr.shape)
            self._record("load", name, *region, words, before)
        return Tile(view.copy(), name, region, True)

    def store(
        self, tile: Tile, name: str, rows: slice | int, cols: slice | int | None = None
    ) -> None:
        """Copy a resident tile into a region of a slow tensor (R2), counting words.

        The tile stays resident (free it separately).

        Raises:
            ResidencyError: if the tile was freed.
            ValueError: if the region's shape differs from the tile's.
        """
        data = tile.value  # raises if not resident
        arr, index = self._index(name, rows, cols)
        view = arr[index]
        if view.shape != data.shape:
            raise ValueError(
                f"tile: shape {data.shape} does not match {name}'s region {view.shape}"
            )
        view[...] = data
        w = self._written[name]
        if w is not None:
            w[index] = True
        self.stores += data.size
        self.stores_by[name] += data.size
        if self.trace is not None:
            self._record("store", name, *_region(index, arr.shape), data.size,
                         self.resident)

    def alloc(
        self, shape: tuple[int, ...] | list[int] | int, label: str = "scratch",
        fill: float = 0.0,
    ) -> Tile:
        """Scratch space in fast memory: counts toward ``sram``, costs no I/O.

        Raises:
            CapacityError: if it does not fit next to what is resident.
        """
        if shape.__class__ is int and shape > 0:
            shape = (shape,)
        elif shape.__class__ is not tuple or not 0 < len(shape) < 3 or not all(
                s.__class__ is int and s > 0 for s in shape):
            shape = _shape(shape)
        if label.__class__ is not str:
            raise TypeError(f"label: expected a str, got {type(label).__name__}")
        if fill.__class__ is float and fill == 0:
            data = np.zeros(shape)
        else:
            data = np.full(shape, check_float("fill", fill, finite=False))
        before = self.resident
        self._claim(data.size, lambda: f"allocating {label!r} {shape}")
        region = ((0, shape[0]), (0, shape[1] if len(shape) > 1 else 1))
        if self.trace is not None:
            self._record("alloc", label, *region, data.size, before)
        return Tile(data, label, region, False)

    def free(self, *tiles: Tile) -> None:
        """Drop tiles from fast memory (R4); freeing twice is an error.

        The tiles' numbers are overwritten with NaN, so a schedule that kept a
        reference to freed data produces NaN instead of a silently illegal result.
        """
        for tile in tiles:
            if not tile._live:
                raise ResidencyError(f"tile {tile.label!r} was already freed")
            tile._live = False
            tile._data.fill(np.nan)  # a kept reference to freed data computes NaN
            before = self.resident
            self.resident -= tile.words
            if self.trace is not None:
                self._record("free", tile.label, *tile._region, tile.words, before)

    # ---- traces -----------------------------------------------------------------
    def addresses(self) -> tuple[np.ndarray, np.ndarray]:
        """The word addresses of every load and store, in order.

        Tensors are laid out one after another, row-major, in a linear address
        space (in the order they were placed or created).

        Returns:
            ``(is_store, address)``: a bool array (False = load) and an int64 array,
            one entry per word moved.

        Raises:
            ValueError: if the memory was made without a trace.
        """
        if self.trace is None:
            raise ValueError("trace: this memory was made with trace=None")
        kinds, addrs = [], []
        for ev in self.trace:
            if ev.op not in ("load", "store"):
                continue
            arr = self._slow[ev.tensor]
            width = arr.shape[1] if arr.ndim == 2 else 1
            r = np.arange(*ev.rows)[:, None] * width
            c = np.arange(*ev.cols)[None, :]
            a = (self._base[ev.tensor] + r + c).ravel()
            addrs.append(a)
            kinds.append(np.full(a.size, ev.op == "store"))
        if not addrs:
            return np.zeros(0, bool), np.zeros(0, np.int64)
        return np.concatenate(kinds), np.concatenate(addrs).astype(np.int64)

    def __repr__(self) -> str:
        return (
            f"TwoLevelMemory(sram={self.sram}, loads={self.loads}, "
            f"stores={self.stores}, resident={self.resident}, peak={self.peak})"
        )
