"""The SymPy size formulas of the fused5 body against the built matrices."""

import itertools

import pytest
import sympy as sp

from effteach.looped_mlp.compiler import compile_machine
from effteach.looped_mlp.size import (
    SYMBOLS,
    evaluate,
    fused5_params,
    fused5_weights,
    fused5_widths,
    measured,
    state_size,
)


def predicted(n_mem, bits, n_instr) -> dict:
    return {
        "widths": [evaluate(e, n_mem, bits, n_instr) for e in fused5_widths()],
        "weights": [evaluate(e, n_mem, bits, n_instr) for e in fused5_weights()],
        "params": evaluate(fused5_params(), n_mem, bits, n_instr),
        "state": evaluate(state_size(), n_mem, bits, n_instr),
    }


# the corners of a small grid (one address bit, 2-bit words) and two usual sizes
FAST = [*itertools.product([2, 8], [2, 5], [2, 16]), (4, 3, 4), (16, 8, 32)]
FULL = [s for s in itertools.product([2, 4, 8, 16], [2, 3, 5, 8], [2, 4, 8, 16, 32])
        if s not in FAST]


@pytest.mark.parametrize("n_mem, bits, n_instr", FAST)
def test_formulas_equal_the_built_body(n_mem, bits, n_instr):
    got = measured(compile_machine(n_mem, bits, n_instr, "fused5"))
    assert got == predicted(n_mem, bits, n_instr)


@pytest.mark.slow
def test_formulas_equal_the_built_body_on_a_grid():
    for n_mem, bits, n_instr in FULL:
        got = measured(compile_machine(n_mem, bits, n_instr, "fused5"))
        assert got == predicted(n_mem, bits, n_instr), (n_mem, bits, n_instr)


def test_measured_counts_the_matrices():
    m = compile_machine(4, 3, 4)
    got = measured(m)
    net = m.net
    assert got["widths"] == net.widths and len(got["weights"]) == net.depth + 1
    assert got["state"] == m.layout.size == 4 * 3 + 4 * (2 + 2 + 2) + 2
    # non-zero weights of the layers and the read-out, plus one bias per unit
    assert got["params"] == sum(got["weights"]) + sum(net.widths) + m.layout.size
    nonzero_biases = net.nonzeros() - sum(got["weights"])
    assert nonzero_biases <= sum(net.widths) + m.layout.size


def test_evaluate_and_symbols():
    m, n, k, la, lc = (SYMBOLS[s] for s in ("m", "N", "K", "La", "Lc"))
    assert evaluate(m * n + la * lc, 8, 5, 16) == 8 * 5 + 3 * 4
    assert sp.simplify(state_size() - (m * n + k * (2 * la + lc) + lc)) == 0
    assert len(fused5_widths()) == 5 and len(fused5_weights()) == 6
    # the parameter count grows like K * I * Lc (fetch) and m * N * La * K (reads)
    p = sp.Poly(fused5_params(), m, n, k, la, lc)
    assert p.coeff_monomial(m * n * la * k) == 2
    assert p.coeff_monomial(k * la * lc) == 2 and p.coeff_monomial(k * lc**2) == 1
