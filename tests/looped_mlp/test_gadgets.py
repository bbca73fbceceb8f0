"""Every gadget, exhaustively over its stated domain, through a compiled net.

Each test builds a tiny :class:`Circuit` whose inputs are the gadget's input bits,
compiles it (earliest-layer schedule) and evaluates :meth:`Net.forward` on every
input of the domain at once; the outputs must equal the Python semantics exactly
(every weight and bias is a small dyadic number, so float64 makes no rounding error).
The depth each gadget's docstring claims is checked on the same nets.
"""

import itertools

import numpy as np
import pytest

from effteach.looped_mlp.circuit import Circuit
from effteach.looped_mlp.compiler import (
    code_pm,
    decode_address,
    gated_read,
    increment,
    is_zero,
    match,
    mux,
    snap,
    subtract_lookahead,
    subtract_negate_add,
)


def all_bits(n: int) -> np.ndarray:
    """Every vector of ``n`` bits, shape (2**n, n); row r holds the bits of r."""
    r = np.arange(2**n)
    return ((r[:, None] >> np.arange(n)) & 1).astype(np.float64)


def to_int(bits: np.ndarray) -> np.ndarray:
    """Bits (least significant first) along the last axis -> unsigned integers."""
    return (np.rint(bits).astype(np.int64) << np.arange(bits.shape[-1])).sum(-1)


def build(n_inputs: int, gadget):
    """Compile ``gadget(circuit, inputs) -> outputs`` into a net."""
    c = Circuit(n_inputs)
    xs = [c.input(i) for i in range(n_inputs)]
    out = gadget(c, xs)
    c.outputs = list(out) if isinstance(out, list) else [out]
    return c.compile()


# ---------------------------------------------------------------- addresses
@pytest.mark.parametrize("n_bits", range(1, 6))
def test_code_pm_is_the_pm1_code(n_bits):
    for i in range(2**n_bits):
        code = code_pm(i, n_bits)
        assert set(code) <= {-1.0, 1.0}
        assert to_int((code + 1) / 2) == i


@pytest.mark.parametrize("n_bits", range(1, 6))
def test_match_is_width_minus_twice_hamming(n_bits):
    u = all_bits(n_bits)
    for i in range(2**n_bits):
        net = build(n_bits, lambda c, xs, i=i: match(xs, i))
        assert net.depth == 0  # an affine form, no unit
        hamming = np.array([bin(i ^ v).count("1") for v in range(2**n_bits)])
        np.testing.assert_array_equal(net.forward(u)[:, 0], n_bits - 2 * hamming)


@pytest.mark.parametrize("n_bits", range(1, 6))
def test_decode_address_is_one_hot_in_one_layer(n_bits):
    n = 2**n_bits
    net = build(n_bits, lambda c, xs: decode_address(c, xs, n, "sel"))
    assert net.depth == 1
    assert net.unit_names[0] == tuple(f"sel[{i}]" for i in range(n))
    np.testing.assert_array_equal(net.forward(all_bits(n_bits)), np.eye(n))


@pytest.mark.parametrize("n_bits", range(2, 5))
def test_decode_address_fewer_rows_than_addresses(n_bits):
    n = 2**n_bits - 1  # the last address selects no row
    net = build(n_bits, lambda c, xs: decode_address(c, xs, n, "sel"))
    np.testing.assert_array_equal(net.forward(all_bits(n_bits)), np.eye(2**n_bits, n))


@pytest.mark.parametrize(
    "n_rows, width, n_bits",
    [(2, 1, 1), (2, 3, 1), (4, 1, 2), (4, 2, 2), (3, 2, 2), (8, 1, 3), (5, 1, 3)],
)
def test_gated_read_returns_the_addressed_row(n_rows, width, n_bits):
    # inputs: the table, row by row, then the address bits
    n_in = n_rows * width + n_bits

    def gadget(c, xs):
        table = [xs[i * width : (i + 1) * width] for i in range(n_rows)]
        return gated_read(c, table, xs[n_rows * width :], "read")

    net = build(n_in, gadget)
    assert net.depth == 1
    assert net.widths == [n_rows * width]  # one unit per table bit
    x = all_bits(n_in)
    table = x[:, : n_rows * width].reshape(-1, n_rows, width)
    u = to_int(x[:, n_rows * width :])
    want = np.zeros((len(x), width))
    ok = u < n_rows  # an address past the table reads zeros
    want[ok] = table[ok, u[ok]]
    np.testing.assert_array_equal(net.forward(x), want)


# ---------------------------------------------------------------- arithmetic
SUBTRACTORS = {"lookahead": subtract_lookahead, "negate_add": subtract_negate_add}


@pytest.mark.parametrize("n", range(1, 7))
@pytest.mark.parametrize("kind", sorted(SUBTRACTORS))
def test_subtract_all_pairs(kind, n):
    net = build(2 * n, lambda c, xs: SUBTRACTORS[kind](c, xs[:n], xs[n:], "sub"))
    x = all_bits(2 * n)  # every (A, B) pair: A in the low bits, B in the high bits
    a, b = to_int(x[:, :n]), to_int(x[:, n:])
    got = net.forward(x)
    assert set(np.unique(got)) <= {0.0, 1.0}  # exact bits, not just rounding to them
    np.testing.assert_array_equal(to_int(got), (b - a) % 2**n)


@pytest.mark.parametrize("n", range(1, 7))
def test_subtractor_depths(n):
    look = build(2 * n, lambda c, xs: subtract_lookahead(c, xs[:n], xs[n:], "s"))
    neg = build(2 * n, lambda c, xs: subtract_negate_add(c, xs[:n], xs[n:], "s"))
    assert look.depth == 2
    # 7 layers: not, increment (3), carries, parity, result; with fewer than 3 bits
    # the last carry waits on an earlier increment bit, so the net is shallower
    assert neg.depth == min(7, n + 4)


@pytest.mark.parametrize("n", range(1, 6))
def test_is_zero_all_pairs_in_two_layers(n):
    net = build(2 * n, lambda c, xs: is_zero(c, xs[:n], xs[n:], "z"))
    assert net.depth == 2
    x = all_bits(2 * n)
    want = (to_int(x[:, :n]) == to_int(x[:, n:])).astype(float)
    np.testing.assert_array_equal(net.forward(x)[:, 0], want)


@pytest.mark.parametrize("n", range(1, 7))
def test_increment_wraps_in_three_layers(n):
    net = build(n, lambda c, xs: increment(c, xs, "inc"))
    assert net.depth == (3 if n > 1 else 2)  # one bit needs no carry layer
    x = all_bits(n)
    got = net.forward(x)
    assert set(np.unique(got)) <= {0.0, 1.0}
    np.testing.assert_array_equal(to_int(got), (to_int(x) + 1) % 2**n)


@pytest.mark.parametrize("width", range(1, 4))
def test_mux_on_all_bits_and_flags(width):
    # inputs: flag, x (width bits), y (width bits)
    net = build(
        1 + 2 * width,
        lambda c, xs: mux(c, xs[0], xs[1 : 1 + width], xs[1 + width :], "mux"),
    )
    assert net.depth == 1
    x = all_bits(1 + 2 * width)
    flag = x[:, :1]
    want = np.where(flag == 1, x[:, 1 : 1 + width], x[:, 1 + width :])
    np.testing.assert_array_equal(net.forward(x), want)


def test_snap_cleans_noisy_bits():
    net = build(1, lambda c, xs: snap(c, xs[0], "snap"))
    assert net.depth == 1
    low = np.linspace(-2.0, 0.375, 96)
    high = np.linspace(0.625, 3.0, 96)
    np.testing.assert_array_equal(net.forward(low[:, None])[:, 0], 0.0)
    np.testing.assert_array_equal(net.forward(high[:, None])[:, 0], 1.0)
    # in between it is the ramp 4x - 1.5, monotone from 0 to 1
    mid = np.linspace(0.375, 0.625, 11)
    np.testing.assert_allclose(net.forward(mid[:, None])[:, 0], 4 * mid - 1.5)


@pytest.mark.parametrize("n", [2, 3])
def test_gadgets_compose_exactly(n):
    """Increment of a difference: ((B - A) + 1) mod 2^n via both subtractors."""
    for sub in SUBTRACTORS.values():
        net = build(2 * n, lambda c, xs, sub=sub: increment(
            c, sub(c, xs[:n], xs[n:], "s"), "inc"
        ))
        x = all_bits(2 * n)
        want = (to_int(x[:, n:]) - to_int(x[:, :n]) + 1) % 2**n
        np.testing.assert_array_equal(to_int(net.forward(x)), want)


def test_exhaustive_helper_enumerates_every_input():
    # the whole file relies on all_bits/to_int being a bijection with range(2**n)
    for n in range(1, 7):
        assert sorted(to_int(all_bits(n))) == list(range(2**n))
    assert list(itertools.islice(map(tuple, all_bits(2)), 4)) == [
        (0, 0), (1, 0), (0, 1), (1, 1)
    ]
