"""Affine forms, circuits and their layer scheduler (effteach.looped_mlp.circuit)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effteach.looped_mlp.circuit import Affine, Circuit, total


# ---------------------------------------------------------------- Affine
def test_affine_arithmetic():
    x, y = Affine({0: 1.0}), Affine({1: 1.0})
    e = 2 * x - y + 3
    assert e.terms == {0: 2.0, 1: -1.0} and e.const == 3.0
    e = 1 - (x + y) * 0.5
    assert e.terms == {0: -0.5, 1: -0.5} and e.const == 1.0
    e = -(x - 4)
    assert e.terms == {0: -1.0} and e.const == 4.0
    assert (x - x).terms == {}  # zero coefficients are dropped
    assert Affine.of(2.5).const == 2.5 and Affine.of(x) is x
    s = total([x, y, x, 1.0])
    assert s.terms == {0: 2.0, 1: 1.0} and s.const == 1.0
    assert total([]).terms == {} and total([]).const == 0.0


def test_affine_times_affine_is_rejected():
    with pytest.raises(TypeError, match="scalar"):
        Affine({0: 1.0}) * Affine({1: 1.0})


# ---------------------------------------------------------------- Circuit
def test_circuit_bad_input():
    with pytest.raises(ValueError, match="input_names"):
        Circuit(2, ["only one"])
    c = Circuit(2)
    with pytest.raises(ValueError, match="constant"):
        c.relu(Affine(const=1.0), "k")
    with pytest.raises(ValueError, match="outputs"):
        c.compile()


def test_carried_signals_and_net_bookkeeping():
    # h = ReLU(x0 - x1) at layer 1; g = ReLU(h + x0) at layer 2 (x0 carried);
    # out = g + h - 1 (h carried to layer 2)
    c = Circuit(2, ["a", "b"])
    x0, x1 = c.input(0), c.input(1)
    h = c.relu(x0 - x1, "h")
    g = c.relu(h + x0, "g")
    c.outputs = [g + h - 1]
    net = c.compile()
    assert c.n_signals == 2
    assert net.depth == 2 and net.widths == [2, 2]
    assert net.unit_names == (("a", "h"), ("h", "g"))
    np.testing.assert_array_equal(net.computed[0], [False, True])
    np.testing.assert_array_equal(net.computed[1], [False, True])
    assert net.stages == (None, None)
    x = np.array([[3.0, 1.0], [1.0, 3.0], [0.0, 0.0]])
    hh = np.maximum(x[:, 0] - x[:, 1], 0)
    want = np.maximum(hh + x[:, 0], 0) + hh - 1
    out, hidden = net.forward(x, trace=True)
    np.testing.assert_array_equal(out[:, 0], want)
    assert [a.shape for a in hidden] == [(3, 2), (3, 2)]
    nz = sum(np.count_nonzero(w) + np.count_nonzero(b)
             for w, b in zip(net.weights, net.biases, strict=True))
    assert net.nonzeros() == nz + 2 + 1  # read-out: two coefficients and the -1
    assert net.dense_params() == (2 * 2 + 2) + (2 * 2 + 2) + (1 * 2 + 1)


def test_budgets_place_signals_in_their_stage():
    c = Circuit(1)
    x = c.input(0)
    c.stage = "early"
    h = c.relu(x, "h")
    c.stage = "late"
    g = c.relu(h + 1, "g")  # could go to layer 2, but its stage starts at layer 3
    c.outputs = [g]
    net = c.compile([("early", 2), ("late", 2)])
    assert net.depth == 4
    assert net.stages == ("early", "early", "late", "late")
    assert [names for names in net.unit_names] == [("h",), ("h",), ("g",), ("g",)]
    np.testing.assert_array_equal(net.computed[2], [True])
    np.testing.assert_array_equal(net.forward(np.array([[2.0]])), [[3.0]])
    assert c.compile().depth == 2  # without budgets: earliest layers


def test_budget_errors_name_the_signal_and_stage():
    c = Circuit(1)
    c.stage = "s"
    h = c.relu(c.input(0), "h")
    g = c.relu(h, "g")
    c.outputs = [g]
    with pytest.raises(ValueError, match=r"g of stage 's' needs layer 2"):
        c.compile([("s", 1)])
    with pytest.raises(ValueError, match=r"h: stage 's' has no budget"):
        c.compile([("other", 5)])


def test_carrying_is_exact_only_for_non_negative_signals():
    # the documented premise: a carried input passes ReLU(x) = x, so x must be >= 0
    c = Circuit(2)
    h = c.relu(c.input(0), "h")
    c.outputs = [c.relu(h, "g") + c.input(1)]  # input 1 is carried through 2 layers
    net = c.compile()
    np.testing.assert_array_equal(net.forward(np.array([[1.0, 2.0]])), [[3.0]])
    np.testing.assert_array_equal(net.forward(np.array([[1.0, -2.0]])), [[1.0]])


# ---------------------------------------------------------------- property
@st.composite
def random_circuits(draw):
    """A random DAG: each signal ReLU of small-integer affine forms of earlier ones."""
    n_in = draw(st.integers(1, 4))
    n_sig = draw(st.integers(1, 8))
    coef = st.integers(-3, 3)
    specs = []
    for s in range(n_sig):
        avail = n_in + s
        deps = draw(st.lists(st.integers(0, avail - 1), min_size=1, max_size=3,
                             unique=True))
        coefs = [draw(coef.filter(bool)) for _ in deps]
        specs.append((dict(zip(deps, coefs, strict=True)), draw(coef)))
    n_out = draw(st.integers(1, 3))
    outs = [
        (dict.fromkeys(draw(st.lists(st.integers(0, n_in + n_sig - 1), min_size=1,
                                     max_size=3, unique=True)), 1.0), draw(coef))
        for _ in range(n_out)
    ]
    return n_in, specs, outs


@settings(max_examples=150, deadline=None, derandomize=True)
@given(circ=random_circuits(), seed=st.integers(0, 2**16))
def test_compiled_net_equals_direct_evaluation(circ, seed):
    n_in, specs, outs = circ
    c = Circuit(n_in)
    for s, (terms, const) in enumerate(specs):
        c.relu(Affine({k: float(v) for k, v in terms.items()}, const), f"s{s}")
    c.outputs = [Affine(terms, const) for terms, const in outs]
    net = c.compile()

    x = np.random.default_rng(seed).integers(0, 4, (16, n_in)).astype(float)
    vals = [x[:, i] for i in range(n_in)]  # inputs >= 0: carrying is exact
    for terms, const in specs:
        vals.append(np.maximum(const + sum(v * vals[k] for k, v in terms.items()), 0))
    want = np.stack(
        [const + sum(v * vals[k] for k, v in terms.items()) for terms, const in outs],
        axis=-1,
    )
    np.testing.assert_array_equal(net.forward(x), want)
    # every signal sits one layer after its deepest input: depth = longest chain
    depth = [0] * n_in
    for terms, _ in specs:
        depth.append(1 + max(depth[k] for k in terms))
    assert net.depth == max(depth)
    # a signal gets a unit iff something reads it (unread ones are dropped)
    read = {k for terms, _ in specs + outs for k in terms}
    n_read = sum(n_in + s in read for s in range(len(specs)))
    assert sum(int(m.sum()) for m in net.computed) == n_read
