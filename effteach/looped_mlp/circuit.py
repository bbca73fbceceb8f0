"""A tiny netlist language for exact ReLU networks, and its layer scheduler.

A :class:`Circuit` is a DAG of named *signals*. Each signal is ``ReLU`` of an affine
form (:class:`Affine`) of earlier signals; inputs are the signals of layer 0. A
gadget (address decoder, subtractor, ...) is a Python function that adds signals.

:meth:`Circuit.compile` turns the DAG into an ordinary MLP: it assigns each signal
a layer, and a signal that is needed later is *carried* by an identity unit
``ReLU(x) = x`` (exact, because every signal of these circuits is ``>= 0``). With
``budgets`` the layers are split into consecutive stages, each with a fixed number of
layers, and a signal is placed in its stage; without, every signal goes to the
earliest layer its inputs allow. The result is a list of dense layers
``h <- ReLU(W h + b)`` followed by a linear read-out.

Book: notebooks/looped_mlp/lecture.md, "Gadgets".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np

from effteach.checks import check_float, check_int, typed

__all__ = ["Affine", "Circuit", "Net"]


class Affine:
    """``const + sum(coef * signal)``; supports ``+``, ``-`` and scalar ``*``."""

    __slots__ = ("terms", "const")

    def __init__(self, terms: dict[int, float] | None = None, const: float = 0.0):
        # built thousands of times by a compile: checked without a wrapper
        if terms is not None and terms.__class__ is not dict:
            raise TypeError(
                f"terms: expected a dict of signal -> coefficient, got "
                f"{type(terms).__name__}"
            )
        self.terms = {k: v for k, v in (terms or {}).items() if v != 0}
        self.const = const if const.__class__ is float and const == const else \
            check_float("const", const)

    @staticmethod
    def of(x) -> Affine:
        """An :class:`Affine` from an Affine or a number."""
        return x if isinstance(x, Affine) else Affine(const=float(x))

    def __add__(self, other) -> Affine:
        o = Affine.of(other)
        terms = dict(self.terms)
        for k, v in o.terms.items():
            terms[k] = terms.get(k, 0.0) + v
        return Affine(terms, self.const + o.const)

    __radd__ = __add__

    def __neg__(self) -> Affine:
        return Affine({k: -v for k, v in self.terms.items()}, -self.const)

    def __sub__(self, other) -> Affine:
        return self + (-Affine.of(other))

    def __rsub__(self, other) -> Affine:
        return Affine.of(other) - self

    def __mul__(self, s: float) -> Affine:
        if isinstance(s, Affine):
            raise TypeError("Affine: only scalar multiplication keeps it affine")
        return Affine({k: v * s for k, v in self.terms.items()}, self.const * s)

    __rmul__ = __mul__


def total(xs: Iterable) -> Affine:
    """Sum of affine forms (``sum`` with an Affine start)."""
    out = Affine()
    for x in xs:
        out = out + x
    return out


@dataclasses.dataclass
class _Signal:
    name: str
    expr: Affine | None  # None: an input
    stage: str | None
    index: int  # input position, for inputs


@dataclasses.dataclass(frozen=True)
class Net:
    """A compiled circuit: ReLU layers and a linear read-out.

    Attributes:
        weights: per layer, float64 array (width_out, width_in).
        biases: per layer, float64 array (width_out,).
        readout: float64 array (n_outputs, last width); ``readout_bias`` beside it.
        unit_names: per layer, the signal each unit holds (carried ones included).
        computed: per layer, bool per unit: computed here (False: carried).
        stages: per layer, the stage it belongs to (``None`` without budgets).
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    readout: np.ndarray
    readout_bias: np.ndarray
    unit_names: tuple[tuple[str, ...], ...]
    computed: tuple[np.ndarray, ...]
    stages: tuple[str | None, ...]

    @property
    def depth(self) -> int:
        """Number of ReLU layers."""
        return len(self.weights)

    @property
    def widths(self) -> list[int]:
        """Units per ReLU layer."""
        return [len(b) for b in self.biases]

    def nonzeros(self) -> int:
        """Non-zero weights and biases of every layer and the read-out."""
        n = sum(int(np.count_nonzero(w)) + int(np.count_nonzero(b))
                for w, b in zip(self.weights, self.biases, strict=True))
        return n + int(np.count_nonzero(self.readout)) + int(
            np.count_nonzero(self.readout_bias)
        )

    def dense_params(self) -> int:
        """Entries of the dense matrices and bias vectors."""
        n = sum(w.size + b.size for w, b in zip(self.weights, self.biases, strict=True))
        return n + self.readout.size + self.readout_bias.size

    @typed
    def forward(self, x: np.ndarray, trace: bool = False):
        """Apply the net to inputs ``x`` (..., n_inputs) in float64 numpy.

        Raises:
            TypeError, ValueError: naming ``x`` unless it is a real array whose last
                dimension is the net's input width.
        """
        n_in = self.weights[0].shape[1] if self.weights else self.readout.shape[1]
        if x.dtype.kind not in "iuf" or x.ndim < 1 or x.shape[-1] != n_in:
            raise ValueError(
                f"x: expected a real array of shape (..., {n_in}), got {x.dtype} of "
                f"shape {x.shape}"
            )
        h = np.asarray(x, dtype=np.float64)
        hidden = []
        for w, b in zip(self.weights, self.biases, strict=True):
            h = np.maximum(h @ w.T + b, 0.0)
            hidden.append(h)
        out = h @ self.readout.T + self.readout_bias
        return (out, hidden) if trace else out


class Circuit:
    """A DAG of ReLU signals over ``n_inputs`` inputs (see the module docstring)."""

    @typed
    def __init__(self, n_inputs: int, input_names: Sequence[str] | None = None):
        n_inputs = check_int("n_inputs", n_inputs, 1)
        if input_names is not None and len(input_names) != n_inputs:
            raise ValueError(
                f"input_names: expected one name per input (n_inputs={n_inputs}), "
                f"got {len(input_names)}"
            )
        self._sig: list[_Signal] = [
            _Signal(input_names[i] if input_names else f"x{i}", None, None, i)
            for i in range(n_inputs)
        ]
        self.n_inputs = n_inputs
        self.outputs: list[Affine] = []
        self.stage: str | None = None  # the stage new signals belong to

    @typed
    def input(self, i: int) -> Affine:
        """Input ``i`` (in ``[0, n_inputs)``) as an affine form."""
        return Affine({check_int("i", i, 0, self.n_inputs - 1): 1.0})

    @typed
    def relu(self, expr: Affine | float, name: str) -> Affine:
        """Add the signal ``ReLU(expr)``; return it as an affine form."""
        expr = Affine.of(expr)
        if not expr.terms:
            raise ValueError(f"{name}: a constant needs no unit; use the number")
        self._sig.append(_Signal(name, expr, self.stage, -1))
        return Affine({len(self._sig) - 1: 1.0})

    def materialize(self, xs: Sequence[Affine], name: str) -> list[Affine]:
        """``ReLU`` of each form (exact for values >= 0): one unit per form."""
        return [self.relu(x, f"{name}[{i}]") for i, x in enumerate(xs)]

    @property
    def n_signals(self) -> int:
        """Signals besides the inputs."""
        return len(self._sig) - self.n_inputs

    def compile(self, budgets: Sequence[tuple[str, int]] | None = None) -> Net:
        """Schedule the signals into layers and build the matrices.

        Args:
            budgets: ``[(stage, n_layers), ...]`` in order; every signal must have
                been added under one of these stages (``circuit.stage = name``).
                ``None``: earliest possible layer (the shallowest net).

        Raises:
            ValueError: if a stage's signals do not fit in its layers, or a signal
                has no stage while budgets are given.
        """
        if not self.outputs:
            raise ValueError("outputs: set circuit.outputs before compiling")
        sig = self._sig
        start, end = {}, {}
        if budgets is not None:
            pos = 0
            for st, n in budgets:
                start[st], end[st] = pos, pos + n
                pos += n
        layer = [0] * len(sig)
        for s, g in enumerate(sig):
            if g.expr is None:
                continue
            lay = 1 + max(layer[d] for d in g.expr.terms)
            if budgets is not None:
                if g.stage not in start:
                    raise ValueError(f"{g.name}: stage {g.stage!r} has no budget")
                lay = max(lay, start[g.stage] + 1)
                if lay > end[g.stage]:
                    raise ValueError(
                        f"budgets: {g.name} of stage {g.stage!r} needs layer {lay}, "
                        f"past the stage's last layer {end[g.stage]}"
                    )
            layer[s] = lay
        depth = max(layer) if budgets is None else sum(n for _, n in budgets)
        last = [0] * len(sig)  # the layer that last reads each signal
        for s, g in enumerate(sig):
            if g.expr is not None:
                for d in g.expr.terms:
                    last[d] = max(last[d], layer[s])
        for o in self.outputs:
            for d in o.terms:
                last[d] = max(last[d], depth + 1)
        # units of layer l: signals with layer[s] <= l < last[s]
        units: list[list[int]] = [[] for _ in range(depth + 1)]
        for s in range(len(sig)):
            lo = layer[s] if sig[s].expr is not None else 1
            for lay in range(max(lo, 1), min(last[s], depth + 1)):
                units[lay].append(s)
        pos_prev = {s: sig[s].index for s in range(self.n_inputs)}  # layer 0: inputs
        width_prev = self.n_inputs
        weights, biases, names, computed, stages = [], [], [], [], []
        stage_of = {}
        if budgets is not None:
            for st in start:
                for lay in range(start[st] + 1, end[st] + 1):
                    stage_of[lay] = st
        for lay in range(1, depth + 1):
            us = units[lay]
            w = np.zeros((len(us), width_prev))
            b = np.zeros(len(us))
            comp = np.zeros(len(us), dtype=bool)
            for r, s in enumerate(us):
                if layer[s] == lay and sig[s].expr is not None:
                    comp[r] = True
                    for d, coef in sig[s].expr.terms.items():
                        w[r, pos_prev[d]] += coef
                    b[r] = sig[s].expr.const
                else:  # carried
                    w[r, pos_prev[s]] = 1.0
            weights.append(w)
            biases.append(b)
            names.append(tuple(sig[s].name for s in us))
            computed.append(comp)
            stages.append(stage_of.get(lay))
            pos_prev = {s: r for r, s in enumerate(us)}
            width_prev = len(us)
        readout = np.zeros((len(self.outputs), width_prev))
        rbias = np.zeros(len(self.outputs))
        for r, o in enumerate(self.outputs):
            for d, coef in o.terms.items():
                readout[r, pos_prev[d]] += coef
            rbias[r] = o.const
        return Net(tuple(weights), tuple(biases), readout, rbias, tuple(names),
                   tuple(computed), tuple(stages))
