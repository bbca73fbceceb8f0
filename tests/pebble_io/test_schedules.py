"""Every schedule on the simulator: exact counts, outputs, peak residency, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effteach.pebble_io import (
    SCHEDULE_NAMES,
    SCHEDULES,
    CapacityError,
    TwoLevelMemory,
    attention_bwd_ref,
    attention_lse_ref,
    attention_ref,
    best_tiles,
    fa1_fwd_io,
    fa2_backward,
    fa2_bwd_io,
    fa2_forward,
    fa2_fwd_io,
    residency,
    run_schedule,
    schedule_io,
    square_forward,
    standard_forward,
)

DENSE_ONLY = ("standard_fwd", "standard_bwd")
TILE_NAMES = {"pair": ("block_m", "block_n"), "square": ("block",),
              "two_pass": ("block_m", "block_n", "dq_block_m", "dq_block_n")}


def _kind(name):
    if name.startswith("square"):
        return "square"
    return "two_pass" if name.endswith("two_pass") else "pair"


def _backward(name):
    return name.endswith(("_bwd", "_two_pass"))


def _inputs(n, d, seed):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal((n, d)) for _ in range(4))


def _check(name, n, d, sram, tiles=None, causal=False, mask=None, seed=0,
           exact_peak=True):
    """Run one schedule and check everything the chapter promises about it."""
    q, k, v, do = _inputs(n, d, seed)
    extra = {}
    if causal:
        extra["causal"] = True
    if mask is not None:
        extra["mask"] = mask
    res = run_schedule(name, sram, q, k, v, do if _backward(name) else None,
                       **extra, **(tiles or {}))
    assert res.counts == schedule_io(name, n, d, **extra, **res.tiles)  # exactly
    assert res.peak <= sram
    want = residency(name, d, **res.tiles)
    assert res.peak == want if exact_peak else res.peak <= want
    if _backward(name):
        for got, ref in zip((res["dq"], res["dk"], res["dv"]),
                            attention_bwd_ref(q, k, v, do, causal, mask), strict=True):
            np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
    else:
        np.testing.assert_allclose(res["o"], attention_ref(q, k, v, causal, mask),
                                   rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(res["lse"], attention_lse_ref(q, k, causal, mask),
                                   rtol=1e-10, atol=1e-10)
    return res


# (n, d): tiles dividing and not dividing n and d, d > n, tiny sizes
SIZES = [(16, 4), (17, 5), (6, 9), (1, 3)]


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
@pytest.mark.parametrize("n, d", SIZES)
@pytest.mark.parametrize("slack", [0, 3, 60, 400])
def test_counts_equal_closed_forms_with_best_tiles(name, n, d, slack):
    from effteach.pebble_io import min_sram

    _check(name, n, d, min_sram(name, d) + slack)


EXPLICIT = {  # n = 12, d = 4: tiles dividing (4, 6) and not (5, 7)
    "pair": [dict(block_m=4, block_n=6), dict(block_m=5, block_n=7),
             dict(block_m=12, block_n=1), dict(block_m=1, block_n=12)],
    "two_pass": [dict(block_m=4, block_n=6, dq_block_m=5, dq_block_n=3),
                 dict(block_m=7, block_n=5), dict(block_m=1, block_n=12,
                                                   dq_block_m=12, dq_block_n=1)],
    "square": [dict(block=2), dict(block=4), dict(block=5), dict(block=12)],
}


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
@pytest.mark.parametrize("causal", [False, True])
def test_counts_with_explicit_tiles(name, causal):
    if causal and name in DENSE_ONLY:
        return
    for tiles in EXPLICIT[_kind(name)]:
        full = dict(tiles)
        if _kind(name) == "two_pass":
            full.setdefault("dq_block_m", tiles["block_m"])
            full.setdefault("dq_block_n", tiles["block_n"])
        res = _check(name, 12, 4, residency(name, 4, **full), tiles, causal=causal)
        assert res.tiles == full and res.peak == res.sram  # fits exactly


def test_closed_forms_match_the_notes_when_tiles_divide():
    n, d = 64, 8
    for b in (4, 8, 16):
        t = n // b
        # notes A.5.2: nd (Q) + T_r 2nd (K, V) + nd (O) + n (L)
        assert fa2_fwd_io(n, d, b).total == n * d + t * 2 * n * d + n * d + n
        # notes A.5.3 minus one read of the zero dQ: 6nd + n + T_c(4nd + 2n) - nd
        assert fa2_bwd_io(n, d, 2, b).total == 5 * n * d + n + t * (4 * n * d + 2 * n)
    for b in (2, 4, 8):  # B divides n and d
        # notes A.5.4: 4n²d/B + n² + 2n + nd
        assert schedule_io("square_fwd", n, d, block=b).total == (
            4 * n * n * d // b + n * n + 2 * n + n * d)


def test_dense_table_of_the_counts_module():
    """The dense formulas listed in effteach/pebble_io/counts.py, with ceilings."""
    from effteach.pebble_io import IOCounts

    for n, d, b, c in ((13, 3, 4, 5), (16, 4, 4, 8), (9, 7, 2, 9)):
        tr, tc, tb, td = -(-n // b), -(-n // c), -(-n // b), -(-d // b)
        table = {
            "standard_fwd": IOCounts(n * d + n + 2 * n * n + 2 * tr * n * d,
                                     2 * n * n + n + n * d),
            "standard_bwd": IOCounts(
                n * d + 7 * n * n + 2 * tr * n * d + 2 * tc * n * d,
                2 * n * n + 3 * n * d),
            "fa1_fwd": IOCounts(2 * n * d + tc * (2 * n * d + 2 * n) - n * d - 2 * n,
                                tc * (n * d + 2 * n) - n),
            "fa2_fwd": IOCounts(n * d + 2 * tr * n * d, n * d + n),
            "fa2_bwd": IOCounts(3 * n * d + tc * (3 * n * d + 2 * n),
                                n + 2 * n * d + tc * n * d),
            "square_fwd": IOCounts(3 * tb * n * d + td * n * n + n, n * n + n + n * d),
            "square_bwd": IOCounts(2 * n * d + 2 * n + 7 * tb * n * d + 3 * td * n * n,
                                   2 * n * n + n + 3 * n * d),
        }
        for name, want in table.items():
            tiles = dict(block=b) if name.startswith("square") else dict(block_m=b,
                                                                         block_n=c)
            assert schedule_io(name, n, d, **tiles) == want, name
        # two-pass: T_c of pass 1 (block_n = c), T_r' of pass 2 (dq_block_m = c)
        got = schedule_io("fa2_bwd_two_pass", n, d, block_m=b, block_n=c,
                          dq_block_m=c, dq_block_n=b)
        assert got == IOCounts(6 * n * d + 2 * n + tc * (2 * n * d + 2 * n)
                               + 2 * tc * n * d, n + 3 * n * d)


def _block_mask(n, rng, density):
    g = int(rng.integers(1, n + 1))
    t = -(-n // g)
    blocks = rng.random((t, t)) < density
    np.fill_diagonal(blocks, True)  # every query keeps its own block
    return np.repeat(np.repeat(blocks, g, 0), g, 1)[:n, :n]


@st.composite
def _cases(draw):
    name = draw(st.sampled_from(SCHEDULE_NAMES))
    n = draw(st.integers(1, 20))
    d = draw(st.integers(1, 6))
    kind = _kind(name)
    tiles = {t: draw(st.integers(1, n)) for t in TILE_NAMES[kind]}
    structure = "dense" if name in DENSE_ONLY else draw(
        st.sampled_from(["dense", "causal", "block", "block+causal"]))
    seed = draw(st.integers(0, 2**16))
    slack = draw(st.integers(0, 10))
    return name, n, d, tiles, structure, seed, slack


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_cases())
def test_property_exact_counts_outputs_and_residency(case):
    name, n, d, tiles, structure, seed, slack = case
    sram = residency(name, d, **tiles) + slack
    rng = np.random.default_rng(seed)
    mask = _block_mask(n, rng, 0.4) if "block" in structure else None
    res = _check(name, n, d, sram, tiles, causal="causal" in structure, mask=mask,
                 seed=seed, exact_peak=mask is None)
    assert res.tiles == tiles


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(SCHEDULE_NAMES), st.integers(1, 24), st.integers(1, 8),
       st.integers(0, 600))
def test_property_best_tiles_always_run(name, n, d, extra):
    from effteach.pebble_io import min_sram

    _check(name, n, d, min_sram(name, d) + extra)


def test_masked_tiles_are_skipped():
    n, d = 32, 4
    q, k, v, _ = _inputs(n, d, 0)
    dense = fa2_forward(10_000, q, k, v, block_m=8, block_n=8)
    causal = fa2_forward(10_000, q, k, v, block_m=8, block_n=8, causal=True)
    # K and V are read for 1 + 2 + 3 + 4 = 10 of the 16 tiles
    assert dense.loads == n * d + 16 * 2 * 8 * d
    assert causal.loads == n * d + 10 * 2 * 8 * d
    mask = np.kron(np.eye(4, dtype=bool), np.ones((8, 8), bool))  # block diagonal
    diag = fa2_forward(10_000, q, k, v, block_m=8, block_n=8, mask=mask)
    assert diag.loads == n * d + 4 * 2 * 8 * d
    assert diag.counts == fa1_fwd_io(n, d, 8, 8, mask=mask) == schedule_io(
        "fa1_fwd", n, d, block_m=8, block_n=8, mask=mask)
    # a key tile nobody may see still gets its (zero) gradients written
    mask2 = np.zeros((n, n), bool)
    mask2[:, :8] = True
    q, k, v, do = _inputs(n, d, 1)
    res = fa2_backward(10_000, q, k, v, do, block_m=8, block_n=8, mask=mask2)
    assert np.all(res["dk"][8:] == 0) and np.all(res["dv"][8:] == 0)
    assert res.memory.loads_by["K"] == 8 * d


def test_traced_run_is_a_consistent_pebbling():
    q, k, v, _ = _inputs(5, 2, 3)
    res = fa2_forward(TwoLevelMemory(40, trace="words"), q, k, v, block_m=2,
                      block_n=2)
    trace = res.memory.trace
    assert all(e.resident <= 40 for e in trace)
    assert max(e.resident for e in trace) == res.peak
    assert sum(e.words for e in trace if e.op == "load") == res.loads
    assert sum(e.words for e in trace if e.op == "store") == res.stores
    is_store, addr = res.memory.addresses()
    assert len(addr) == res.total and is_store.sum() == res.stores


def test_schedules_reject_bad_input():
    q, k, v, do = _inputs(8, 4, 0)
    with pytest.raises(ValueError, match="sram: fa2_fwd at d_head=4 needs at least "
                                         "19 words"):
        fa2_forward(18, q, k, v)
    with pytest.raises(CapacityError, match="sram"):
        fa2_forward(50, q, k, v, block_m=4, block_n=4)  # needs 88 words
    with pytest.raises(ValueError, match="block_m: no fa2_fwd tiles fit in sram=50 "
                                         "with block_m=4"):
        fa2_forward(50, q, k, v, block_m=4)  # even block_n=1 needs 52 words
    with pytest.raises(ValueError, match=r"block_m: expected an int in \[1, n_ctx=8\]"):
        fa2_forward(500, q, k, v, block_m=9, block_n=1)
    with pytest.raises(ValueError, match="block: expected a positive int"):
        square_forward(500, q, k, v, block=0)
    with pytest.raises(TypeError, match="block_n"):
        fa2_forward(500, q, k, v, block_m=2, block_n=2.0)
    with pytest.raises(ValueError, match="tiles: fa2_fwd takes block_m, block_n"):
        best_tiles("fa2_fwd", 8, 4, 500, block=2)
    with pytest.raises(TypeError, match="k: expected dtype"):
        fa2_forward(500, q, k.astype(int), v)
    with pytest.raises(ValueError, match=r"v: expected shape \(8, 4\)"):
        fa2_forward(500, q, k, v[:4])
    with pytest.raises(ValueError, match="mem: expected a fresh TwoLevelMemory"):
        mem = TwoLevelMemory(500)
        fa2_forward(mem, q, k, v)
        fa2_forward(mem, q, k, v)
    with pytest.raises(TypeError, match="mem: expected a TwoLevelMemory or an int"):
        fa2_forward("big", q, k, v)
    with pytest.raises(ValueError, match="sram"):
        fa2_forward(0, q, k, v)
    with pytest.raises(ValueError, match="schedule: expected one of standard_fwd"):
        run_schedule("flash3_fwd", 500, q, k, v)
    with pytest.raises(ValueError, match="do: fa2_bwd is a backward schedule"):
        run_schedule("fa2_bwd", 500, q, k, v)
    with pytest.raises(ValueError, match="do: fa2_fwd is a forward schedule"):
        run_schedule("fa2_fwd", 500, q, k, v, do)
    with pytest.raises(TypeError, match="causal"):
        standard_forward(500, q, k, v, causal=True)  # dense only
    with pytest.raises(ValueError, match="scale"):
        fa2_forward(500, q, k, v, scale=0.0)
    with pytest.raises(TypeError, match="scale"):
        fa2_forward(500, q, k, v, scale="1")
    with pytest.raises(ValueError, match="mask: every query row"):
        fa2_forward(500, q, k, v, mask=np.zeros((8, 8), bool))
    with pytest.raises(ValueError, match="sram: square_fwd at d_head=4 needs at "
                                         "least 4 words"):
        square_forward(3, q, k, v)
    with pytest.raises(ValueError, match="n_ctx"):
        fa2_fwd_io(0, 4, 1)
    with pytest.raises(TypeError, match="d_head"):
        fa2_bwd_io(8, 4.5, 1, 1)
    with pytest.raises(ValueError, match="q, k: square tiling stores exp"):
        square_forward(500, 40 * q, 40 * k, v)


def test_partial_tiles_are_completed_by_the_optimizer():
    q, k, v, do = _inputs(12, 3, 0)
    res = fa2_forward(200, q, k, v, block_m=4)
    assert res.tiles["block_m"] == 4 and res.peak <= 200
    assert res.tiles == best_tiles("fa2_fwd", 12, 3, 200, block_m=4)
    res = run_schedule("fa2_bwd_two_pass", 300, q, k, v, do, dq_block_m=6)
    assert res.tiles["dq_block_m"] == 6 and res.peak <= 300
    assert res.counts == schedule_io("fa2_bwd_two_pass", 12, 3, **res.tiles)
    # block_m and block_n alone: the dQ pass uses the same tiles (as the count does)
    res = run_schedule("fa2_bwd_two_pass", 300, q, k, v, do, block_m=2, block_n=3)
    assert res.tiles == dict(block_m=2, block_n=3, dq_block_m=2, dq_block_n=3)


def test_registry_and_result():
    assert tuple(SCHEDULES) == SCHEDULE_NAMES
    q, k, v, _ = _inputs(8, 2, 0)
    res = fa2_forward(200, q, k, v)
    assert res.schedule == "fa2_fwd" and res.sram == 200
    assert res.total == res.loads + res.stores
    assert res.tiles == best_tiles("fa2_fwd", 8, 2, 200)
    assert "memory" not in repr(res)
