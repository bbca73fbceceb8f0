"""Compile the SUBLEQ machine into the weights of one ReLU-MLP loop body.

The state is one vector of bits in {0, 1}:

* ``MEM``: ``n_mem x bits`` data bits (two's complement, least significant first);
* ``PROG``: ``n_instr x (La + La + Lc)`` instruction bits (fields a, b, c);
* ``PC``: ``Lc`` bits, with ``La = log2 n_mem`` and ``Lc = log2 n_instr``.

One pass of the body executes one instruction; looping it runs the program, and the
halted state is a fixed point. Addresses are compared through their ±1 codes:
``<code(i), 2u - 1> = L - 2 Hamming(i, u)``, which is ``L`` only for ``u = i``, so
``ReLU(x + <code(i), 2u - 1> - L)`` passes ``x`` at address ``i`` and 0 elsewhere.

Two bodies are built from the same gadgets:

* ``"paper23"``: the paper's budget, stage after stage: read the instruction (2
  layers), read the data (2), subtract (7: negate, then add), write (2), next PC (6),
  branch (4) = 23 layers.
* ``"fused5"``: the same computation scheduled as early as each gadget's inputs
  allow, with the addresses and the subtraction done in fewer layers = 5 layers.

Paper: Liang et al. 2024 (arXiv 2410.09375), Sec. 4 (the 23-layer construction, as
    reported by secondary sources: the full text was not available to us).
Book: notebooks/looped_mlp/lecture.md, "Compiling the machine".
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import torch

from effteach.checks import typed
from effteach.looped_mlp.asm import Program, check_words
from effteach.looped_mlp.circuit import Affine, Circuit, Net, total
from effteach.looped_mlp.reference import StepLimitError, Trace, check_run_args

__all__ = [
    "PAPER_BUDGET",
    "VARIANTS",
    "Layout",
    "LoopedMLP",
    "compile_machine",
    "code_pm",
    "match",
    "decode_address",
    "gated_read",
    "subtract_lookahead",
    "subtract_negate_add",
    "is_zero",
    "increment",
    "mux",
    "snap",
]

#: stage -> layers, in order: the 23-layer budget the paper reports
PAPER_BUDGET: tuple[tuple[str, int], ...] = (
    ("read instruction", 2),
    ("read data", 2),
    ("subtract", 7),
    ("write", 2),
    ("next pc", 6),
    ("branch", 4),
)
VARIANTS = ("fused5", "paper23")
#: The arithmetic :meth:`LoopedMLP.run` accepts.
RUN_DTYPES = (torch.float64, torch.float32, torch.bfloat16, torch.float16)


# ---------------------------------------------------------------- gadgets
def code_pm(i: int, n_bits: int) -> np.ndarray:
    """The ±1 code of ``i``: bit ``j`` (least significant first) as -1 or +1."""
    return np.array([1.0 if (i >> j) & 1 else -1.0 for j in range(n_bits)])


def match(bits: list[Affine], i: int) -> Affine:
    """``<code(i), 2 u - 1>`` for address bits ``u``.

    It equals ``L`` iff ``u == i``, else at most ``L - 2``.
    """
    code = code_pm(i, len(bits))
    return total(float(code[j]) * (2 * bits[j] - 1) for j in range(len(bits)))


def decode_address(c: Circuit, bits: list[Affine], n: int, name: str) -> list[Affine]:
    """One-hot decoder: ``sel_i = ReLU(match(u, i) - L + 1) = [u == i]``."""
    return [c.relu(match(bits, i) - len(bits) + 1, f"{name}[{i}]") for i in range(n)]


def gated_read(
    c: Circuit, table: list[list[Affine]], bits: list[Affine], name: str
) -> list[Affine]:
    """Read row ``u`` of a bit table: ``sum_i ReLU(T[i][t] + match(u, i) - L)``.

    Each unit passes its bit only at the addressed row (the match is ``L`` there and
    at most ``L - 2`` elsewhere, so the pre-activation is at most -1). Returns the
    read bits as affine sums of the units (one unit per table bit).
    """
    n_bits = len(bits)
    width = len(table[0])
    units = [
        [c.relu(table[i][t] + match(bits, i) - n_bits, f"{name}[{i},{t}]")
         for t in range(width)]
        for i in range(len(table))
    ]
    return [total(units[i][t] for i in range(len(table))) for t in range(width)]


def subtract_lookahead(
    c: Circuit, a: list[Affine], b: list[Affine], name: str
) -> list[Affine]:
    """``R = B - A mod 2**N`` in 2 layers (carry lookahead).

    The carry into bit ``k`` of ``B + ~A + 1`` is ``[B mod 2^k >= A mod 2^k]`` =
    ``step(D_k)`` with the integer ``D_k = sum_{j<k} 2^j (B_j - A_j)``, and
    ``step(D) = ReLU(D + 1) - ReLU(D)`` on integers. Then
    ``R_k = (B_k - A_k + 1 + c_k) mod 2`` with ``x mod 2 = x - 2 ReLU(x - 1) +
    2 ReLU(x - 2)`` on {0, 1, 2, 3}. Returns the bits of R as affine forms.
    """
    n = len(a)
    am = c.materialize(a, f"{name}.A")
    bm = c.materialize(b, f"{name}.B")
    carry = [Affine(const=1.0)]
    for k in range(1, n):
        d = total((2.0**j) * (b[j] - a[j]) for j in range(k))
        carry.append(c.relu(d + 1, f"{name}.u[{k}]") - c.relu(d, f"{name}.v[{k}]"))
    out = []
    for k in range(n):
        x = bm[k] - am[k] + 1 + carry[k]
        out.append(_parity(c, x, f"{name}.r[{k}]"))
    return out


def _parity(c: Circuit, x: Affine, name: str) -> Affine:
    """``x mod 2`` for integer ``x`` in {0, 1, 2, 3}, as an affine form of 3 units."""
    return (
        c.relu(x, f"{name}.x")
        - 2 * c.relu(x - 1, f"{name}.p1")
        + 2 * c.relu(x - 2, f"{name}.p2")
    )


def increment(c: Circuit, bits: list[Affine], name: str) -> list[Affine]:
    """``u + 1 mod 2**L`` in 3 layers: carries, then a XOR per bit.

    ``carry_k = ReLU(sum_{j<k} u_j - k + 1)`` (1 iff all lower bits are 1),
    ``carry_0 = 1``; ``inc_k = u_k XOR carry_k = s - 2 ReLU(s - 1)`` with
    ``s = u_k + carry_k``, materialised so it can be carried.
    """
    n = len(bits)
    carry = [Affine(const=1.0)] + [
        c.relu(total(bits[:k]) - k + 1, f"{name}.carry[{k}]") for k in range(1, n)
    ]
    out = []
    for k in range(n):
        s = bits[k] + carry[k]
        h = c.relu(s - 1, f"{name}.and[{k}]")
        out.append(c.relu(s - 2 * h, f"{name}[{k}]"))
    return out


def subtract_negate_add(
    c: Circuit, a: list[Affine], b: list[Affine], name: str
) -> list[Affine]:
    """``R = B - A mod 2**N`` in 7 layers, the textbook way: ``B + (~A + 1)``.

    Layer 1 inverts A; layers 2-4 add one (:func:`increment`); layer 5 computes the
    carries of ``B + (-A)`` by lookahead (the carry into bit ``k`` is
    ``[sum_{j<k} 2^j (B_j + N_j) >= 2^k]``); layer 6 the parity units; layer 7
    materialises the result bits.
    """
    n = len(a)
    inv = [c.relu(1 - a[t], f"{name}.not[{t}]") for t in range(n)]
    neg = increment(c, inv, f"{name}.neg")
    carry = [Affine()]
    for k in range(1, n):
        d = total((2.0**j) * (b[j] + neg[j]) for j in range(k)) - 2.0**k
        carry.append(c.relu(d + 1, f"{name}.u[{k}]") - c.relu(d, f"{name}.v[{k}]"))
    par = [_parity(c, b[k] + neg[k] + carry[k], f"{name}.r[{k}]") for k in range(n)]
    return c.materialize(par, f"{name}.R")


def is_zero(c: Circuit, a: list[Affine], b: list[Affine], name: str) -> Affine:
    """``[A == B]`` in 2 layers: ``ReLU(1 - sum_t |B_t - A_t|)``."""
    diff = [
        c.relu(b[t] - a[t], f"{name}.gt[{t}]") + c.relu(a[t] - b[t], f"{name}.lt[{t}]")
        for t in range(len(a))
    ]
    return c.relu(1 - total(diff), f"{name}.isz")


def mux(
    c: Circuit, flag: Affine, x: list[Affine], y: list[Affine], name: str
) -> list[Affine]:
    """``x if flag else y`` bitwise, for bits and a flag in {0, 1}.

    Each bit is ``ReLU(x + flag - 1) + ReLU(y - flag)``.
    """
    return [
        c.relu(x[k] + flag - 1, f"{name}.x[{k}]")
        + c.relu(y[k] - flag, f"{name}.y[{k}]")
        for k in range(len(x))
    ]


def snap(c: Circuit, x: Affine, name: str) -> Affine:
    """Clean-up layer: a noisy bit back to an exact one.

    ``ReLU(4x - 1.5) - ReLU(4x - 2.5)`` maps ``x <= 0.375`` to 0 and ``x >= 0.625``
    to 1.
    """
    return c.relu(4 * x - 1.5, f"{name}.s1") - c.relu(4 * x - 2.5, f"{name}.s2")


# ---------------------------------------------------------------- the machine
@dataclasses.dataclass(frozen=True)
class Layout:
    """Where each part of the machine state lives in the state vector."""

    n_mem: int
    bits: int
    n_instr: int

    def __post_init__(self):
        """Check the sizes (as :func:`compile_machine` does), naming them."""
        _check_size("n_mem", self.n_mem, 2, 1024)
        _check_size("bits", self.bits, 2, 32, pow2=False)
        _check_size("n_instr", self.n_instr, 2, 1024)

    @property
    def la(self) -> int:
        """Address bits of a data cell."""
        return int(math.log2(self.n_mem))

    @property
    def lc(self) -> int:
        """Address bits of an instruction (and of the PC)."""
        return int(math.log2(self.n_instr))

    @property
    def instr_bits(self) -> int:
        """Bits of one instruction (fields a, b, c)."""
        return 2 * self.la + self.lc

    def mem(self, i: int, t: int) -> int:
        """State index of bit ``t`` of cell ``i``."""
        return i * self.bits + t

    def prog(self, k: int, field: int, j: int) -> int:
        """State index of bit ``j`` of field ``field`` (0 a, 1 b, 2 c) of instr k."""
        off = (0, self.la, 2 * self.la)[field]
        return self.n_mem * self.bits + k * self.instr_bits + off + j

    def pc(self, j: int) -> int:
        """State index of PC bit ``j``."""
        return self.n_mem * self.bits + self.n_instr * self.instr_bits + j

    @property
    def size(self) -> int:
        """Length of the state vector."""
        return self.pc(self.lc - 1) + 1

    def names(self) -> list[str]:
        """A name for every state coordinate."""
        out = [f"mem[{i}].{t}" for i in range(self.n_mem) for t in range(self.bits)]
        for k in range(self.n_instr):
            for f, width in zip("abc", (self.la, self.la, self.lc), strict=True):
                out += [f"prog[{k}].{f}{j}" for j in range(width)]
        return out + [f"pc.{j}" for j in range(self.lc)]

    def encode(self, code: np.ndarray, memory: np.ndarray, pc: int) -> np.ndarray:
        """The state vector (float64 bits) of a program, its memory and PC."""
        x = np.zeros(self.size)
        word = np.asarray(memory, dtype=np.int64) % (1 << self.bits)
        for i in range(self.n_mem):
            for t in range(self.bits):
                x[self.mem(i, t)] = (word[i] >> t) & 1
        for k in range(self.n_instr):
            for f, width in enumerate((self.la, self.la, self.lc)):
                for j in range(width):
                    x[self.prog(k, f, j)] = (int(code[k, f]) >> j) & 1
        for j in range(self.lc):
            x[self.pc(j)] = (pc >> j) & 1
        return x

    def encode_batch(
        self, code: np.ndarray, memory: np.ndarray, pc: np.ndarray
    ) -> np.ndarray:
        """:meth:`encode` vectorised: (n, n_instr, 3), (n, n_mem), (n,) -> (n, size)."""
        code, memory, pc = (np.asarray(v, dtype=np.int64) for v in (code, memory, pc))
        n = len(pc)
        word = memory % (1 << self.bits)  # (n, n_mem)
        mem_bits = (word[..., None] >> np.arange(self.bits)) & 1  # (n, n_mem, bits)
        fields = [
            (code[..., f, None] >> np.arange(w)) & 1  # (n, n_instr, w)
            for f, w in enumerate((self.la, self.la, self.lc))
        ]
        prog = np.concatenate(fields, axis=-1)  # (n, n_instr, instr_bits)
        pcb = (pc[:, None] >> np.arange(self.lc)) & 1
        return np.concatenate(
            [mem_bits.reshape(n, -1), prog.reshape(n, -1), pcb], axis=1
        ).astype(np.float64)

    def decode(self, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Bits (rounded) -> ``(memory, pc, code)``; batched over leading dims."""
        x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=1.0,
                          neginf=0.0)
        bits = np.clip(np.rint(x), 0, 1).astype(np.int64)
        lead = bits.shape[:-1]
        mem_bits = bits[..., : self.n_mem * self.bits].reshape(
            *lead, self.n_mem, self.bits
        )
        weights = 1 << np.arange(self.bits, dtype=np.int64)
        word = (mem_bits * weights).sum(-1)
        half = 1 << (self.bits - 1)
        memory = np.where(word >= half, word - (1 << self.bits), word)
        pc = (bits[..., self.pc(0) : self.pc(0) + self.lc]
              * (1 << np.arange(self.lc))).sum(-1)
        code = np.zeros((*lead, self.n_instr, 3), dtype=np.int64)
        for f, width in enumerate((self.la, self.la, self.lc)):
            for j in range(width):
                idx = [self.prog(k, f, j) for k in range(self.n_instr)]
                code[..., f] += bits[..., idx] << j
        return memory, pc, code


def _build(layout: Layout, variant: str, with_snap: bool) -> Net:
    lay = layout
    c = Circuit(lay.size, lay.names())
    x = [c.input(i) for i in range(lay.size)]
    paper = variant == "paper23"
    budgets = list(PAPER_BUDGET)
    if with_snap:
        c.stage = "snap"
        budgets = [("snap", 1), *budgets]
        x = [snap(c, xi, f"snap[{i}]") for i, xi in enumerate(x)]
    mem = [[x[lay.mem(i, t)] for t in range(lay.bits)] for i in range(lay.n_mem)]
    prog = [
        [x[lay.prog(k, f, j)] for f, w in enumerate((lay.la, lay.la, lay.lc))
         for j in range(w)]
        for k in range(lay.n_instr)
    ]
    pc = [x[lay.pc(j)] for j in range(lay.lc)]

    c.stage = "read instruction"
    fields = gated_read(c, prog, pc, "fetch")  # all instruction bits at PC
    fa, fb, fc = (fields[: lay.la], fields[lay.la : 2 * lay.la], fields[2 * lay.la :])
    if paper:  # materialise the addresses: 2 layers, few weights
        fa, fb, fc = (c.materialize(f, n) for f, n in ((fa, "a"), (fb, "b"), (fc, "c")))
    else:  # the branch target must be carried: one unit per bit, not K per bit
        fc = c.materialize(fc, "c")

    c.stage = "read data"
    va = gated_read(c, mem, fa, "readA")
    vb = gated_read(c, mem, fb, "readB")
    if paper:
        va, vb = c.materialize(va, "A"), c.materialize(vb, "B")

    c.stage = "subtract"
    if paper:
        r = subtract_negate_add(c, va, vb, "sub")
    else:
        r = subtract_lookahead(c, va, vb, "sub")

    c.stage = "write"
    sel = decode_address(c, fb, lay.n_mem, "sel")
    new_mem = [
        [c.relu(r[t] + sel[i] - 1, f"write[{i},{t}]")
         + c.relu(mem[i][t] - sel[i], f"keep[{i},{t}]") for t in range(lay.bits)]
        for i in range(lay.n_mem)
    ]

    c.stage = "next pc"
    inc = increment(c, pc, "inc")

    c.stage = "branch"
    isz = is_zero(c, va, vb, "zero")
    flag = r[-1] + isz  # R <= 0: sign bit set, or R == 0 (exclusive)
    if paper:
        flag = c.relu(flag, "flag")
    new_pc = mux(c, flag, fc, inc, "mux")

    c.outputs = (
        [new_mem[i][t] for i in range(lay.n_mem) for t in range(lay.bits)]
        + [p for row in prog for p in row]
        + new_pc
    )
    return c.compile(budgets if paper else None)


def _check_size(name: str, value, low: int, high: int, pow2: bool = True) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if not low <= value <= high or (pow2 and value & (value - 1)):
        kind = "a power of two" if pow2 else "an int"
        raise ValueError(f"{name}: expected {kind} in [{low}, {high}], got {value}")
    return int(value)


class LoopedMLP:
    """The compiled loop body of a SUBLEQ machine; run programs on it in torch.

    Build with :func:`compile_machine`.

    Attributes:
        layout: the state layout.
        variant: ``"fused5"`` or ``"paper23"``.
        net: the compiled :class:`~effteach.looped_mlp.circuit.Net`.
        with_snap: whether the body starts with the clean-up layer.
    """

    @typed
    def __init__(self, layout: Layout, variant: str, with_snap: bool, net: Net):
        if variant not in VARIANTS:
            raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
        if net.weights[0].shape[1] != layout.size or net.readout.shape[0] != \
                layout.size:
            raise ValueError(
                f"net: expected a net from and to the layout's {layout.size} state "
                f"units, got {net.weights[0].shape[1]} -> {net.readout.shape[0]}"
            )
        self.layout, self.variant, self.with_snap, self.net = (
            layout, variant, with_snap, net,
        )
        self._cache: dict = {}

    def __repr__(self) -> str:
        return (
            f"LoopedMLP({self.variant}, n_mem={self.layout.n_mem}, "
            f"bits={self.layout.bits}, n_instr={self.layout.n_instr}, "
            f"depth={self.net.depth}, widths={self.net.widths})"
        )

    def _tensors(self, dtype: torch.dtype, device):
        key = (dtype, str(device))
        if key not in self._cache:
            net = self.net
            self._cache[key] = (
                [torch.tensor(w.T, dtype=dtype, device=device) for w in net.weights],
                [torch.tensor(b, dtype=dtype, device=device) for b in net.biases],
                torch.tensor(net.readout.T, dtype=dtype, device=device),
                torch.tensor(net.readout_bias, dtype=dtype, device=device),
            )
        return self._cache[key]

    def _check_state(self, name: str, state) -> None:
        if not isinstance(state, torch.Tensor) or not state.is_floating_point():
            raise TypeError(f"{name}: expected a floating-point torch.Tensor")
        if state.dim() != 2 or state.shape[1] != self.layout.size:
            raise ValueError(
                f"{name}: expected shape (batch, {self.layout.size}), got "
                f"{tuple(state.shape)}"
            )

    def step(self, state: torch.Tensor, trace: bool = False):
        """One pass of the loop body on states (batch, state size), in their dtype.

        With ``trace``, also return the hidden activations of every layer.
        """
        self._check_state("state", state)
        if not isinstance(trace, bool):
            raise TypeError(f"trace: expected a bool, got {type(trace).__name__}")
        ws, bs, ro, rb = self._tensors(state.dtype, state.device)
        h = state
        hidden = []
        for w, b in zip(ws, bs, strict=True):
            h = torch.relu(h @ w + b)
            if trace:
                hidden.append(h)
        out = h @ ro + rb
        return (out, hidden) if trace else out

    def encode(self, program: Program, memory=None, pc: int = 0) -> torch.Tensor:
        """The float64 state of ``program`` with ``memory`` (default: its own), ``pc``.

        Raises:
            ValueError, TypeError: for a program of other sizes, a memory of the
                wrong shape or beyond the word, or a PC out of range.
        """
        lay = self.layout
        if not isinstance(program, Program):
            raise TypeError(
                f"program: expected a Program (see assemble), got "
                f"{type(program).__name__}"
            )
        if (program.n_mem, program.bits, program.n_instr) != (
            lay.n_mem, lay.bits, lay.n_instr
        ):
            raise ValueError(
                f"program: assembled for n_mem={program.n_mem}, bits={program.bits}, "
                f"n_instr={program.n_instr}; this machine has n_mem={lay.n_mem}, "
                f"bits={lay.bits}, n_instr={lay.n_instr}"
            )
        if memory is None:
            mem = program.memory
        else:  # the reference interpreter's check: same refusals, same messages
            mem = check_words("memory", memory, lay.bits, (lay.n_mem,))
        if isinstance(pc, bool) or not isinstance(pc, (int, np.integer)):
            raise TypeError(f"pc: expected an int, got {type(pc).__name__}")
        if not 0 <= pc < lay.n_instr:
            raise ValueError(f"pc: expected an int in [0, {lay.n_instr}), got {pc}")
        return torch.from_numpy(lay.encode(program.code, mem, int(pc)))

    def run(
        self,
        program: Program,
        max_steps: int = 10_000,
        dtype: torch.dtype = torch.float64,
        noise: float = 0.0,
        seed: int = 0,
        strict: bool = True,
    ) -> Trace:
        """Loop the body from ``program``'s initial state until a fixed point.

        The state is decoded (bits rounded) after every step, so a run that goes
        wrong shows up as a wrong memory or PC in the trace.

        Args:
            program: an assembled program of this machine's sizes.
            max_steps: the step limit.
            dtype: the arithmetic (float64, float32, bfloat16, float16).
            noise: standard deviation of Gaussian noise added to the state before
                every step (0: exact).
            seed: seed of the noise.
            strict: raise :class:`~effteach.looped_mlp.reference.StepLimitError`
                at the limit; else return the trace so far.

        Raises:
            StepLimitError: if no fixed point is reached within ``max_steps``.
        """
        check_run_args(program, max_steps, strict)  # as the reference run()
        if dtype not in RUN_DTYPES:
            raise TypeError(f"dtype: expected one of {RUN_DTYPES}, got {dtype!r}")
        if isinstance(noise, bool) or not isinstance(noise, (int, float)) \
                or not math.isfinite(noise) or noise < 0:
            raise ValueError(f"noise: expected a finite float >= 0, got {noise!r}")
        seed = _check_size("seed", seed, 0, 2**63 - 1, pow2=False)
        g = torch.Generator().manual_seed(seed)
        x = self.encode(program).to(dtype)[None]
        mem, pc, _ = self.layout.decode(x.double().numpy())
        mems, pcs = [mem[0]], [int(pc[0])]
        for t in range(max_steps + 1):  # step max_steps + 1 only tests the fixed point
            inp = x
            if noise:
                inp = x + noise * torch.randn(x.shape, generator=g).to(dtype)
            nxt = self.step(inp)
            mem, pc, _ = self.layout.decode(nxt.double().numpy())
            if int(pc[0]) == pcs[-1] and np.array_equal(mem[0], mems[-1]):
                return Trace(np.stack(mems), np.array(pcs), True)
            if t == max_steps:
                break
            mems.append(mem[0])
            pcs.append(int(pc[0]))
            x = nxt
        if strict:
            raise StepLimitError(
                f"max_steps: the looped MLP did not reach a fixed point within "
                f"{max_steps} steps (pc = {pcs[-1]})"
            )
        return Trace(np.stack(mems), np.array(pcs), False)

    def run_batch(self, states: torch.Tensor, n_steps: int) -> torch.Tensor:
        """Apply the body ``n_steps`` times to a batch of states.

        Returns every state, shape (n_steps + 1, batch, state size).

        Raises:
            TypeError, ValueError: naming ``states`` (as :meth:`step`) or
                ``n_steps`` (an int >= 0).
        """
        n_steps = _check_size("n_steps", n_steps, 0, 2**31, pow2=False)
        self._check_state("states", states)
        out = [states]
        x = states
        for _ in range(n_steps):
            x = self.step(x)
            out.append(x)
        return torch.stack(out)


@functools.lru_cache(maxsize=16)
def _cached(n_mem: int, bits: int, n_instr: int, variant: str, with_snap: bool):
    layout = Layout(n_mem, bits, n_instr)
    return LoopedMLP(layout, variant, with_snap, _build(layout, variant, with_snap))


def compile_machine(
    n_mem: int = 16,
    bits: int = 8,
    n_instr: int = 32,
    variant: str = "fused5",
    snap: bool = False,
) -> LoopedMLP:
    """Compile the SUBLEQ machine of the given sizes into a looped ReLU MLP.

    Args:
        n_mem: memory cells, a power of two in [2, 256].
        bits: word size, in [2, 24] (float32 is exact up to 2**24).
        n_instr: instruction slots, a power of two in [2, 256].
        variant: ``"fused5"`` (5 layers) or ``"paper23"`` (the paper's 23).
        snap: start the body with the clean-up layer (one more layer), which
            makes it tolerate noise on the state.

    Returns:
        A :class:`LoopedMLP` (cached: the same sizes return the same object).

    Paper: Liang et al. 2024, Theorem (looped 23-layer ReLU-MLP executes SUBLEQ).
    Book: notebooks/looped_mlp/lecture.md, "Compiling the machine".
    """
    n_mem = _check_size("n_mem", n_mem, 2, 256)
    bits = _check_size("bits", bits, 2, 24, pow2=False)
    n_instr = _check_size("n_instr", n_instr, 2, 256)
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    if not isinstance(snap, bool):
        raise TypeError(f"snap: expected a bool, got {type(snap).__name__}")
    return _cached(n_mem, bits, n_instr, variant, snap)
