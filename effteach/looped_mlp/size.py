"""Size of the compiled loop body as formulas, derived unit by unit (SymPy).

Symbols: ``m`` memory cells, ``N`` bits per cell, ``K`` instruction slots,
``La = log2 m``, ``Lc = log2 K``, ``I = 2 La + Lc`` bits per instruction. Each
formula counts the units (width) and the non-zero weights of one layer of the
``fused5`` body, gadget by gadget, carried units included; the tests evaluate them
against the built matrices for many sizes.

Book: notebooks/looped_mlp/lecture.md, "How big is the computer?".
"""

from __future__ import annotations

import sympy as sp

from effteach.looped_mlp.compiler import LoopedMLP

__all__ = ["SYMBOLS", "fused5_widths", "fused5_weights", "fused5_params",
           "state_size", "evaluate", "measured"]

m, N, K, La, Lc = sp.symbols("m N K L_a L_c", positive=True, integer=True)
SYMBOLS = {"m": m, "N": N, "K": K, "La": La, "Lc": Lc}
I_ = 2 * La + Lc  # bits of one instruction


def state_size() -> sp.Expr:
    """Length of the state vector: memory bits, program bits, PC bits."""
    return m * N + K * I_ + Lc


def fused5_widths() -> list[sp.Expr]:
    """Units of layers 1-5 of ``fused5``."""
    return [
        # carried mem, prog, pc; fetch units; increment carries; and-unit of bit 0
        m * N + K * I_ + Lc + K * I_ + (Lc - 1) + 1,
        # carried mem, prog, pc bits 1.., carries; c; reads A and B; sel; inc_0; ands
        m * N + K * I_ + (Lc - 1) + (Lc - 1) + Lc + 2 * m * N + m + 1 + (Lc - 1),
        # carried prog, c, sel, inc_0; A, B; lookahead u, v; keep; inc; zero test
        K * I_ + Lc + m + 1 + 2 * N + 2 * (N - 1) + m * N + (Lc - 1) + 2 * N,
        # carried prog, c, sel, keep, inc; parity units; is-zero
        K * I_ + Lc + m + m * N + Lc + 3 * N + 1,
        # carried prog, keep; write; the two halves of the PC multiplexer
        K * I_ + m * N + m * N + 2 * Lc,
    ]


def fused5_weights() -> list[sp.Expr]:
    """Non-zero weights of layers 1-5 of ``fused5`` and of the read-out (6th)."""
    carry_sum = Lc * (Lc - 1) / 2  # carry_k reads pc_0 .. pc_{k-1}
    return [
        m * N + K * I_ + Lc + K * I_ * (1 + Lc) + carry_sum + 1,
        m * N + K * I_ + 2 * (Lc - 1) + Lc * K + 2 * m * N * (1 + La * K)
        + m * La * K + 2 + 2 * (Lc - 1),
        K * I_ + Lc + m + 1 + 2 * N * m + 2 * m * N * (N - 1) + 2 * m * N
        + 3 * (Lc - 1) + 4 * m * N,
        K * I_ + Lc + m + m * N + Lc + 3 * (4 * N - 2) + 2 * N,
        K * I_ + m * N + 4 * m * N + 10 * Lc,
        2 * m * N + K * I_ + 2 * Lc,
    ]


def fused5_params() -> sp.Expr:
    """Non-zero weights plus one bias per unit (layers and read-out)."""
    return sp.expand(sum(fused5_weights()) + sum(fused5_widths()) + state_size())


def evaluate(expr: sp.Expr, n_mem: int, bits: int, n_instr: int) -> int:
    """Value of a size formula for a machine."""
    la, lc = n_mem.bit_length() - 1, n_instr.bit_length() - 1
    return int(expr.subs({m: n_mem, N: bits, K: n_instr, La: la, Lc: lc}))


def measured(machine: LoopedMLP) -> dict:
    """Widths, non-zero weights per layer (read-out last) and params of a built body."""
    import numpy as np

    net = machine.net
    weights = [int(np.count_nonzero(w)) for w in net.weights]
    weights.append(int(np.count_nonzero(net.readout)))
    return {
        "widths": net.widths,
        "weights": weights,
        "params": sum(weights) + sum(net.widths) + net.readout.shape[0],
        "state": machine.layout.size,
    }
