"""A small SUBLEQ assembly language and its assembler.

The machine is Harvard-style, as in Giannou et al.'s looped transformer: the program
is a read-only list of instructions ``(a, b, c)``; memory holds ``n_mem`` data cells of
``bits``-bit two's-complement integers. ``subleq a, b, c`` does
``mem[b] -= mem[a]`` (wrapping modulo ``2**bits``) and jumps to ``c`` if the new
``mem[b] <= 0``, else goes on to the next instruction.

Syntax, one statement per line (``;`` starts a comment, ``name:`` a label)::

    start:  subleq A, B, done   ; three operands
            subleq A, B         ; c defaults to the next instruction
            add X, Y            ; macros: Y += X  (3 instructions, uses Z)
            sub X, Y            ; Y -= X
            clr X               ; X = 0
            mov X, Y            ; Y = X
            jmp L               ; goto L
            jlez X, L           ; if X <= 0: goto L
    done:   halt                ; subleq Z, Z, done: a fixed point
    .data
    A:      5                   ; one cell
    V:      3 -1 4              ; consecutive cells; operand V+2 is the third

Operands are data names, ``name+k``, or plain cell numbers; ``c`` may be a code
label or an instruction number. The reserved cell ``Z`` (always 0: macros and the
padding use it) is placed after the data, unless the data defines it, so the data may
fill at most ``n_mem - 1`` cells. :func:`assemble` pads the program to ``n_instr``
instructions with ``halt`` copies, so running off the end halts instead of wrapping.

Paper: Liang et al. 2024 (arXiv 2410.09375), Sec. 3 (SUBLEQ); Giannou et al. 2023.
Book: notebooks/looped_mlp/lecture.md, "The machine".
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from effteach.checks import typed

__all__ = [
    "AssemblyError", "Program", "assemble", "check_words", "disassemble", "value_range"
]

ZERO = "Z"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MACROS = {  # name -> operand count
    "subleq": (2, 3),
    "add": (2, 2),
    "sub": (2, 2),
    "clr": (1, 1),
    "mov": (2, 2),
    "jmp": (1, 1),
    "jlez": (2, 2),
    "halt": (0, 0),
}


class AssemblyError(ValueError):
    """Invalid assembly; the message starts with ``source: line N:``."""

    def __init__(self, message: str):
        super().__init__(f"source: {message}")


def _check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name}: expected an int in [{low}, {high}], got {value}")
    return int(value)


def value_range(bits: int) -> tuple[int, int]:
    """Smallest and largest ``bits``-bit two's-complement integer.

    Raises:
        TypeError, ValueError: if ``bits`` is not an int in [1, 64].
    """
    bits = _check_int("bits", bits, 1, 64)
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def check_words(name: str, values, bits: int, shape: tuple[int, ...] | None = None):
    """Validate an array of ``bits``-bit words; return it as a new int64 array.

    The one check of memory contents, shared by :class:`Program`, the reference
    interpreter and the compiled MLP, so they refuse the same inputs with the same
    message.

    Args:
        name: the argument's name, used in the messages.
        values: integers (an integer numpy array or a sequence of ints).
        bits: the word size.
        shape: the expected shape, or None for any 1-D shape.

    Raises:
        TypeError: naming ``name``, for floats (NaN included; nothing is truncated),
            bools or non-numbers.
        ValueError: naming ``name``, for a wrong shape or a value beyond the word.
    """
    if isinstance(values, (str, bytes)) or values is None:
        raise TypeError(
            f"{name}: expected an integer array, got {type(values).__name__}"
        )
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu" or arr.dtype == bool:
        bad = ""
        if arr.dtype.kind == "f":
            flat = arr.reshape(-1)
            odd = np.flatnonzero(~np.isfinite(flat) | (flat != np.round(flat)))
            if odd.size:
                bad = f" (e.g. {float(flat[odd[0]])} at index {int(odd[0])})"
        raise TypeError(
            f"{name}: expected integers ({bits}-bit words, an integer dtype), got "
            f"dtype {arr.dtype}{bad}; convert explicitly, nothing is truncated"
        )
    want = shape if shape is not None else (arr.shape if arr.ndim == 1 else None)
    if want is None or arr.shape != want:
        expected = want if want is not None else "(n,)"
        raise ValueError(f"{name}: expected shape {expected}, got {arr.shape}")
    lo, hi = value_range(bits)
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise ValueError(
            f"{name}: values must fit in {bits}-bit two's complement [{lo}, {hi}], "
            f"got [{arr.min()}, {arr.max()}]"
        )
    return arr.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class Program:
    """An assembled SUBLEQ program.

    Attributes:
        code: int64, shape (n_instr, 3): the ``(a, b, c)`` of every instruction,
            padded with ``halt`` copies.
        memory: int64, shape (n_mem,): the initial cells (unused cells are 0).
        bits: the word size in bits.
        symbols: data name -> cell number.
        labels: code label -> instruction number.
        lines: source line of each instruction (0 for padding).
        source: the assembly text.
        n_used: instructions before the padding.
    """

    code: np.ndarray
    memory: np.ndarray
    bits: int
    symbols: dict[str, int]
    labels: dict[str, int]
    lines: tuple[int, ...]
    source: str
    n_used: int

    def __post_init__(self):
        """Validate a program built directly, not through :func:`assemble`.

        Raises:
            TypeError, ValueError: naming the field, for sizes that are not powers
                of two, an address or jump target out of range, memory that is not
                integer words of ``bits`` bits, or inconsistent metadata.
        """
        bits = _check_int("bits", self.bits, 2, 32)
        code = np.asarray(self.code) if not isinstance(self.code, (str, bytes)) \
            else self.code
        if not isinstance(code, np.ndarray) or code.dtype.kind not in "iu" \
                or code.dtype == bool:
            raise TypeError(
                "code: expected an integer array of shape (n_instr, 3), got "
                f"{getattr(code, 'dtype', type(code).__name__)}"
            )
        if code.ndim != 2 or code.shape[1] != 3:
            raise ValueError(f"code: expected shape (n_instr, 3), got {code.shape}")
        n_instr = code.shape[0]
        if not 2 <= n_instr <= 1024 or n_instr & (n_instr - 1):
            raise ValueError(
                f"code: expected n_instr = len(code) a power of two in [2, 1024], "
                f"got {n_instr}"
            )
        memory = check_words("memory", self.memory, bits)
        n_mem = len(memory)
        if not 2 <= n_mem <= 1024 or n_mem & (n_mem - 1):
            raise ValueError(
                f"memory: expected n_mem = len(memory) a power of two in [2, 1024], "
                f"got {n_mem}"
            )
        for field, col, n in (("a", 0, n_mem), ("b", 1, n_mem), ("c", 2, n_instr)):
            bad = np.flatnonzero((code[:, col] < 0) | (code[:, col] >= n))
            if bad.size:
                k = int(bad[0])
                what = "jump target" if field == "c" else "address"
                raise ValueError(
                    f"code: instruction {k} has {what} {field} = {code[k, col]}, out "
                    f"of range [0, {n})"
                )
        for fname, want in (("symbols", n_mem), ("labels", n_instr + 1)):
            table = getattr(self, fname)
            if not isinstance(table, dict) or not all(
                isinstance(k, str) and isinstance(v, (int, np.integer))
                and not isinstance(v, bool) and 0 <= v < want
                for k, v in table.items()
            ):
                raise ValueError(
                    f"{fname}: expected a dict of name -> int in [0, {want})"
                )
        if not isinstance(self.lines, tuple) or len(self.lines) != n_instr or not all(
            isinstance(x, (int, np.integer)) and not isinstance(x, bool)
            for x in self.lines
        ):
            raise ValueError(
                f"lines: expected a tuple of {n_instr} ints (one per instruction)"
            )
        if not isinstance(self.source, str):
            raise TypeError(f"source: expected a str, got {type(self.source).__name__}")
        _check_int("n_used", self.n_used, 0, n_instr)
        object.__setattr__(self, "code", code.astype(np.int64))
        object.__setattr__(self, "memory", memory)
        object.__setattr__(self, "bits", bits)

    @property
    def n_instr(self) -> int:
        """Instruction slots (a power of two)."""
        return len(self.code)

    @property
    def n_mem(self) -> int:
        """Memory cells (a power of two)."""
        return len(self.memory)

    @typed
    def cell(self, memory: np.ndarray, name: str) -> int:
        """The value of data cell ``name`` (or ``name+k``) in a memory array.

        Raises:
            ValueError: if ``name`` is not a data cell of this program (or out of
                range), naming the known cells.
            TypeError, ValueError: naming ``memory`` unless it holds this program's
                words (:func:`check_words`, the shape of ``self.memory``).
        """
        memory = check_words("memory", memory, self.bits, self.memory.shape)
        try:
            return int(memory[_address(name, self.symbols, len(memory), 0)])
        except AssemblyError as err:
            known = ", ".join(sorted(self.symbols))
            msg = str(err).split(": ", 2)[2]  # without "source: line 0: "
            raise ValueError(f"name: {msg} (data cells: {known})") from None


def _address(tok: str, symbols: dict[str, int], n_mem: int, line: int) -> int:
    tok = tok.strip()
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:\+\s*(\d+))?", tok)
    if m:
        name, off = m.group(1), int(m.group(2) or 0)
        if name not in symbols:
            raise AssemblyError(f"line {line}: unknown data cell {name!r}")
        addr = symbols[name] + off
    elif re.fullmatch(r"\d+", tok):
        addr = int(tok)
    else:
        raise AssemblyError(f"line {line}: bad operand {tok!r}")
    if not 0 <= addr < n_mem:
        raise AssemblyError(
            f"line {line}: address {tok!r} = {addr} is out of range [0, {n_mem})"
        )
    return addr


def _check_pow2(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if not low <= value <= high or value & (value - 1):
        raise ValueError(
            f"{name}: expected a power of two in [{low}, {high}], got {value}"
        )
    return int(value)


def assemble(source: str, n_mem: int = 16, bits: int = 8, n_instr: int = 32) -> Program:
    """Assemble SUBLEQ source (module docstring) into a :class:`Program`.

    Args:
        source: the assembly text.
        n_mem: memory cells, a power of two in [2, 1024].
        bits: word size, in [2, 32].
        n_instr: instruction slots, a power of two in [2, 1024]; the program is
            padded to this length with ``halt``.

    Raises:
        AssemblyError: naming the line, for an unknown instruction or label, an
            address out of range, a value beyond the word size, a duplicate name,
            or a program or data section that does not fit.
        TypeError, ValueError: for sizes out of range (naming the argument).
    """
    n_mem = _check_pow2("n_mem", n_mem, 2, 1024)
    n_instr = _check_pow2("n_instr", n_instr, 2, 1024)
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"bits: expected an int, got {type(bits).__name__}")
    if not 2 <= bits <= 32:
        raise ValueError(f"bits: expected an int in [2, 32], got {bits}")
    if not isinstance(source, str):
        raise TypeError(f"source: expected a str, got {type(source).__name__}")
    lo, hi = value_range(bits)

    # pass 1: split into code statements and data cells
    stmts: list[tuple[int, str | None, str, list[str]]] = []  # line, label, op, args
    data: list[tuple[int, str, list[int]]] = []
    in_data = False
    pending: list[tuple[int, str]] = []  # labels waiting for an instruction
    for lineno, raw in enumerate(source.splitlines(), start=1):
        text = raw.split(";", 1)[0].strip()
        if not text:
            continue
        if text.lower() == ".data":
            in_data = True
            continue
        label = None
        if ":" in text:
            label, text = (s.strip() for s in text.split(":", 1))
            if not _NAME.match(label):
                raise AssemblyError(f"line {lineno}: bad label {label!r}")
        if in_data:
            if label is None:
                raise AssemblyError(f"line {lineno}: a data line needs a name: 'X: 5'")
            try:
                values = [int(v) for v in text.replace(",", " ").split()] or [0]
            except ValueError as err:
                raise AssemblyError(f"line {lineno}: bad data {text!r}") from err
            for v in values:
                if not lo <= v <= hi:
                    raise AssemblyError(
                        f"line {lineno}: value {v} does not fit in {bits}-bit two's "
                        f"complement [{lo}, {hi}]"
                    )
            data.append((lineno, label, values))
            continue
        if label is not None:
            pending.append((lineno, label))
        if not text:
            continue
        op, _, rest = text.replace("\t", " ").partition(" ")  # tabs separate too
        op = op.lower()
        args = [a.strip() for a in rest.split(",")] if rest.strip() else []
        if op not in _MACROS:
            raise AssemblyError(f"line {lineno}: unknown instruction {op!r}")
        n_min, n_max = _MACROS[op]
        if not n_min <= len(args) <= n_max:
            want = str(n_min) if n_min == n_max else f"{n_min} or {n_max}"
            raise AssemblyError(
                f"line {lineno}: {op} takes {want} operand(s), got {len(args)}"
            )
        for pl, name in pending:
            stmts.append((pl, name, "", []))
        pending = []
        stmts.append((lineno, None, op, args))
    for pl, name in pending:  # labels at the end point past the last instruction
        stmts.append((pl, name, "", []))

    # memory layout: data cells in order, then Z
    symbols: dict[str, int] = {}
    memory = np.zeros(n_mem, dtype=np.int64)
    nxt = 0
    for lineno, name, values in data:
        if name in symbols:
            raise AssemblyError(f"line {lineno}: data cell {name!r} defined twice")
        if nxt + len(values) > n_mem:
            raise AssemblyError(
                f"line {lineno}: data does not fit in {n_mem} memory cells"
            )
        symbols[name] = nxt
        memory[nxt : nxt + len(values)] = values
        nxt += len(values)
    if ZERO not in symbols:
        if nxt >= n_mem:
            raise AssemblyError(
                f"line {data[-1][0] if data else 1}: no memory cell left for the "
                f"zero cell {ZERO!r} (n_mem={n_mem})"
            )
        symbols[ZERO] = nxt

    # pass 2: expand macros into (line, label?, a, b, c-token) and place labels
    expanded: list[tuple[int, str, str, str | None]] = []
    labels: dict[str, int] = {}
    for lineno, label, op, args in stmts:
        if label is not None:
            if label in labels or label in symbols:
                raise AssemblyError(f"line {lineno}: name {label!r} defined twice")
            labels[label] = len(expanded)
            continue
        here = len(expanded)
        z = ZERO
        if op == "subleq":
            target = args[2] if len(args) > 2 else None
            expanded.append((lineno, args[0], args[1], target))
        elif op == "add":
            x, y = args
            expanded += [
                (lineno, x, z, None),
                (lineno, z, y, None),
                (lineno, z, z, None),
            ]
        elif op == "sub":
            expanded.append((lineno, args[0], args[1], None))
        elif op == "clr":
            expanded.append((lineno, args[0], args[0], None))
        elif op == "mov":
            x, y = args
            expanded += [
                (lineno, y, y, None),
                (lineno, x, z, None),
                (lineno, z, y, None),
                (lineno, z, z, None),
            ]
        elif op == "jmp":
            expanded.append((lineno, z, z, args[0]))
        elif op == "jlez":
            expanded.append((lineno, z, args[0], args[1]))
        elif op == "halt":
            expanded.append((lineno, z, z, f"@{here}"))
    if len(expanded) > n_instr:
        raise AssemblyError(
            f"line {expanded[n_instr][0]}: the program needs {len(expanded)} "
            f"instructions, more than n_instr={n_instr}"
        )

    code = np.zeros((n_instr, 3), dtype=np.int64)
    lines = []
    for i, (lineno, a, b, c) in enumerate(expanded):
        if c is None:
            target = i + 1
        elif c.startswith("@"):
            target = int(c[1:])
        elif c in labels:
            target = labels[c]
        elif re.fullmatch(r"\d+", c):
            target = int(c)
        elif c in symbols:
            raise AssemblyError(f"line {lineno}: {c!r} is a data cell, not a label")
        else:
            raise AssemblyError(f"line {lineno}: unknown label {c!r}")
        if not 0 <= target < n_instr:
            raise AssemblyError(
                f"line {lineno}: jump target {c or target} = {target} is out of "
                f"range [0, {n_instr})"
            )
        code[i] = (
            _address(a, symbols, n_mem, lineno),
            _address(b, symbols, n_mem, lineno),
            target,
        )
        lines.append(lineno)
    zero = symbols[ZERO]
    for i in range(len(expanded), n_instr):  # padding: halt
        code[i] = (zero, zero, i)
        lines.append(0)
    return Program(
        code=code,
        memory=memory,
        bits=int(bits),
        symbols=symbols,
        labels=labels,
        lines=tuple(lines),
        source=source,
        n_used=len(expanded),
    )


@typed
def disassemble(program: Program) -> list[str]:
    """One line per used instruction: ``k: subleq a, b, c`` with cell names."""
    names = {v: k for k, v in sorted(program.symbols.items(), key=lambda kv: -kv[1])}

    def cell(i: int) -> str:
        if i in names:
            return names[i]
        base = max((v for v in program.symbols.values() if v <= i), default=None)
        if base is None:
            return str(i)
        return f"{names[base]}+{i - base}"

    out = []
    for k in range(program.n_used):
        a, b, c = (int(v) for v in program.code[k])
        out.append(f"{k:3d}: subleq {cell(a)}, {cell(b)}, {c}")
    return out
