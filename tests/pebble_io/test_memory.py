"""The two-level memory: counting, capacity, residency, traces, errors."""

import doctest

import numpy as np
import pytest

import effteach.pebble_io.counts
import effteach.pebble_io.experiments
import effteach.pebble_io.memory
from effteach.pebble_io.memory import (
    CapacityError,
    Event,
    IOCounts,
    PebbleError,
    ResidencyError,
    TwoLevelMemory,
)


def _mem(sram=20, trace=None):
    mem = TwoLevelMemory(sram, trace=trace)
    mem.put("X", np.arange(12.0).reshape(3, 4))
    mem.put("v", np.arange(5.0))
    return mem


@pytest.mark.parametrize(
    "module",
    [effteach.pebble_io.memory, effteach.pebble_io.counts,
     effteach.pebble_io.experiments],
)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_load_store_alloc_free_count_words():
    mem = _mem()
    t = mem.load("X", slice(0, 2), slice(1, 3))  # 4 words
    np.testing.assert_array_equal(t.value, [[1, 2], [5, 6]])
    assert (mem.loads, mem.resident, mem.peak) == (4, 4, 4)
    s = mem.alloc((2,), "sum")  # scratch: resident, no I/O
    assert (mem.loads, mem.stores, mem.resident) == (4, 0, 6)
    s.value = t.value.sum(axis=1)
    mem.create("Y", (3,))
    mem.store(s, "Y", slice(1, 3))
    assert mem.stores == 2 and mem.resident == 6  # a store keeps the tile resident
    mem.free(t, s)
    assert mem.resident == 0 and mem.peak == 6
    u = mem.load("v", 2)  # an int index is one row
    assert u.shape == (1,) and u.value[0] == 2.0
    assert mem.counts == IOCounts(5, 2) and mem.counts.total == 7
    assert dict(mem.loads_by) == {"X": 4, "v": 1} and dict(mem.stores_by) == {"Y": 2}
    mem.free(u)
    mem.store(mem.alloc(1, "z"), "Y", 0)
    np.testing.assert_array_equal(mem.result("Y"), [0, 3, 11])
    assert IOCounts(1, 2) + IOCounts(3, 4) == IOCounts(4, 6)


def test_loaded_tiles_are_copies():
    mem = _mem()
    t = mem.load("X", slice(0, 1))
    t.value[:] = -1  # computing in fast memory does not touch slow memory
    assert mem.result("X")[0, 0] == 0.0
    assert t.resident and "resident" in repr(t)
    mem.free(t)
    assert not t.resident and "freed" in repr(t)


def test_capacity_is_a_hard_limit():
    mem = _mem(sram=10)
    a = mem.load("X", slice(0, 2))  # 8 words
    with pytest.raises(CapacityError, match=r"sram: loading 'X' \(1, 4\) needs 4 "
                                            r"words, but 8 of the 10"):
        mem.load("X", slice(2, 3))
    assert mem.resident == 8 and mem.loads == 8  # nothing happened
    with pytest.raises(CapacityError, match="allocating 'acc'"):
        mem.alloc((3,), "acc")
    b = mem.alloc((2,), "acc")  # exactly full is legal
    assert mem.resident == mem.peak == 10
    mem.free(a, b)
    assert issubclass(CapacityError, ValueError) and issubclass(CapacityError,
                                                                PebbleError)


def test_computing_on_freed_tiles_is_an_error():
    mem = _mem()
    t = mem.load("X", slice(0, 1))
    kept = t.value  # a schedule that cheats by keeping a reference ...
    mem.free(t)
    assert np.isnan(kept).all()  # ... computes NaN
    with pytest.raises(ResidencyError, match="freed"):
        t.value.sum()
    with pytest.raises(ResidencyError, match="freed"):
        t.value = 0
    mem.create("Y", (1, 4))
    with pytest.raises(ResidencyError, match="freed"):
        mem.store(t, "Y", 0)
    with pytest.raises(ResidencyError, match="already freed"):
        mem.free(t)


def test_loading_unwritten_words_is_an_error():
    mem = _mem()
    mem.create("Y", (2, 3))
    with pytest.raises(ResidencyError, match="never received"):
        mem.load("Y", 0)
    t = mem.alloc((1, 2), "t")
    t.value = [[7, 8]]
    mem.store(t, "Y", 0, slice(0, 2))
    np.testing.assert_array_equal(mem.load("Y", 0, slice(0, 2)).value, [[7, 8]])
    with pytest.raises(ResidencyError, match="never received"):
        mem.load("Y", 0)  # column 2 is still unwritten
    with pytest.raises(ResidencyError, match="4 of its 6 words were never stored"):
        mem.result("Y")


def test_bad_arguments_name_themselves():
    for bad, err in ((0, ValueError), (-3, ValueError), (2.5, TypeError),
                     (True, TypeError)):
        with pytest.raises(err, match="sram"):
            TwoLevelMemory(bad)
    with pytest.raises(ValueError, match="trace"):
        TwoLevelMemory(4, trace="bytes")
    mem = _mem()
    with pytest.raises(KeyError, match="no tensor 'Z'"):
        mem.load("Z", 0)
    with pytest.raises(KeyError, match="no tensor 'Z'"):
        mem.result("Z")
    with pytest.raises(ValueError, match="cols: 'v' is 1-D"):
        mem.load("v", 0, 1)
    with pytest.raises(ValueError, match="already holds a tensor 'X'"):
        mem.put("X", np.zeros(2))
    with pytest.raises(ValueError, match="1-D or 2-D"):
        mem.put("T", np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="name"):
        mem.create("", (2,))
    t = mem.alloc((2, 2), "t")
    mem.create("Y", (3, 3))
    with pytest.raises(ValueError, match=r"tile: shape \(2, 2\) does not match"):
        mem.store(t, "Y", slice(0, 3), slice(0, 2))
    with pytest.raises(ValueError, match="trace"):
        mem.addresses()


def test_fresh_and_tensors():
    mem = TwoLevelMemory(4)
    assert mem.fresh and mem.tensors == []
    mem.put("A", np.zeros(3))
    assert not mem.fresh and mem.tensors == ["A"]
    assert "sram=4" in repr(mem)


def test_tile_trace_and_addresses():
    mem = _mem(trace="tiles")
    t = mem.load("X", slice(1, 3), slice(2, 4))
    s = mem.alloc((2,), "s")
    mem.create("Y", (2,))
    mem.store(s, "Y", slice(0, 2))
    mem.free(t, s)
    ops = [(e.op, e.tensor, e.words, e.resident) for e in mem.trace]
    assert ops == [("load", "X", 4, 4), ("alloc", "s", 2, 6), ("store", "Y", 2, 6),
                   ("free", "X", 4, 2), ("free", "s", 2, 0)]
    assert mem.trace[0] == Event("load", "X", (1, 3), (2, 4), 4, 4)
    is_store, addr = mem.addresses()
    # X occupies addresses 0..11 (row-major), v 12..16, Y 17..18
    np.testing.assert_array_equal(addr, [6, 7, 10, 11, 17, 18])
    np.testing.assert_array_equal(is_store, [False] * 4 + [True] * 2)


def test_word_trace_has_one_event_per_word_and_the_same_addresses():
    runs = {}
    for mode in ("tiles", "words"):
        mem = _mem(trace=mode)
        t = mem.load("X", slice(0, 2), slice(1, 4))
        u = mem.load("v", slice(1, 4))
        mem.create("Y", (2, 3))
        mem.store(t, "Y", slice(0, 2))
        mem.free(t, u)
        runs[mode] = mem
    words = runs["words"].trace
    assert all(e.words == 1 for e in words)
    assert sum(e.op == "load" for e in words) == runs["words"].loads == 9
    assert sum(e.op == "store" for e in words) == 6
    assert [e.resident for e in words if e.op == "load"] == list(range(1, 10))
    assert words[-1].resident == 0
    for a, b in zip(runs["tiles"].addresses(), runs["words"].addresses(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_trace_length_is_bounded():
    mem = TwoLevelMemory(100, trace="words", max_events=10)
    mem.put("X", np.zeros((4, 4)))
    with pytest.raises(RuntimeError, match="max_events"):
        mem.load("X", slice(0, 4))
