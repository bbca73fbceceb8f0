"""The SUBLEQ assembler: layout, macros, padding, disassembly and every error."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effteach.looped_mlp.asm import (
    AssemblyError,
    Program,
    assemble,
    disassemble,
    value_range,
)
from effteach.looped_mlp.reference import run, wrap

SOURCE = """\
start:  subleq A, B, done   ; three operands
        add A, B            ; macro: 3 instructions
        jmp start
done:   halt
.data
A:      5
B:      3 -1 4              ; B, B+1, B+2
"""


def test_layout_labels_macros_and_padding():
    p = assemble(SOURCE, n_mem=8, bits=8, n_instr=8)
    assert isinstance(p, Program)
    assert (p.n_mem, p.bits, p.n_instr, p.n_used) == (8, 8, 8, 6)
    assert p.symbols == {"A": 0, "B": 1, "Z": 4}  # data in order, then Z
    assert p.labels == {"start": 0, "done": 5}
    np.testing.assert_array_equal(p.memory, [5, 3, -1, 4, 0, 0, 0, 0])
    assert p.memory.dtype == np.int64 and p.code.dtype == np.int64
    np.testing.assert_array_equal(
        p.code,
        [
            [0, 1, 5],  # subleq A, B, done
            [0, 4, 2],  # add: A -> Z
            [4, 1, 3],  #      Z -> B
            [4, 4, 4],  #      clear Z
            [4, 4, 0],  # jmp start
            [4, 4, 5],  # halt: jumps to itself
            [4, 4, 6],  # padding: halt copies
            [4, 4, 7],
        ],
    )
    assert p.lines == (1, 2, 2, 2, 3, 4, 0, 0)
    assert p.source == SOURCE
    assert p.cell(p.memory, "B+2") == 4 and p.cell(p.memory, "A") == 5


def test_disassemble_names_cells_and_offsets():
    p = assemble(SOURCE, n_mem=8, n_instr=8)
    assert disassemble(p) == [
        "  0: subleq A, B, 5",
        "  1: subleq A, Z, 2",
        "  2: subleq Z, B, 3",
        "  3: subleq Z, Z, 4",
        "  4: subleq Z, Z, 0",
        "  5: subleq Z, Z, 5",
    ]
    q = assemble("subleq 7, 2\nsubleq 5, 0, 0\n.data\nX: 1 2 3", n_mem=8, n_instr=4)
    assert disassemble(q) == ["  0: subleq Z+4, X+2, 1", "  1: subleq Z+2, X, 0"]


def test_comments_blank_lines_case_tabs_and_numbers():
    src = ("\n; a comment line\n\tSUBLEQ\tX, 1\t; upper case, tabs\n"
           "L:\n  subleq 0, X+1, L\n")
    p = assemble(src + ".DATA\nX: 2, 3\n", n_mem=4, bits=4, n_instr=4)
    np.testing.assert_array_equal(p.code[:2], [[0, 1, 1], [0, 1, 1]])
    assert p.lines[:2] == (3, 5) and p.labels == {"L": 1}
    np.testing.assert_array_equal(p.memory, [2, 3, 0, 0])


def test_trailing_label_points_at_the_padding():
    p = assemble("jmp end\nsubleq Z, Z\nend:\n", n_mem=2, n_instr=4)
    assert p.labels["end"] == 2 and p.n_used == 2
    np.testing.assert_array_equal(p.code[2], [0, 0, 2])  # a halt copy


def test_user_defined_zero_cell_is_used():
    p = assemble("halt\n.data\nX: 1\nZ: 0\nY: 2\n", n_mem=4, n_instr=2)
    assert p.symbols == {"X": 0, "Z": 1, "Y": 2}
    np.testing.assert_array_equal(p.code, [[1, 1, 0], [1, 1, 1]])


def test_value_range():
    assert value_range(2) == (-2, 1)
    assert value_range(8) == (-128, 127)
    lo, hi = value_range(5)
    assemble(f".data\nX: {lo} {hi}", n_mem=4, bits=5, n_instr=2)  # both ends fit


# ---------------------------------------------------------------- errors
ERRORS = [
    # (source, n_instr, line, message pattern)
    ("subleq A, A\nsubleq A, A, nowhere\n.data\nA: 1", 4, 2, "unknown label 'nowhere'"),
    ("halt\nsubleq Q, A\n.data\nA: 1", 4, 2, "unknown data cell 'Q'"),
    ("subleq 9, A\n.data\nA: 1", 4, 1, r"address '9' = 9 is out of range \[0, 8\)"),
    ("subleq A, A+8\n.data\nA: 1", 4, 1, r"address 'A\+8' = 8 is out of range"),
    ("subleq A, A*2\n.data\nA: 1", 4, 1, "bad operand 'A\\*2'"),
    ("halt\n.data\nA: 1\nB: 128", 4, 4,
     r"value 128 does not fit in 8-bit .*\[-128, 127\]"),
    ("halt\n.data\nA: -129", 4, 3, "value -129 does not fit"),
    ("halt\n.data\nA: five", 4, 3, "bad data 'five'"),
    ("halt\n.data\n5", 4, 3, "a data line needs a name"),
    ("subleq A\n.data\nA: 1", 4, 1, r"subleq takes 2 or 3 operand\(s\), got 1"),
    ("halt\nadd A\n.data\nA: 1", 4, 2, r"add takes 2 operand\(s\), got 1"),
    ("halt A\n.data\nA: 1", 4, 1, r"halt takes 0 operand\(s\), got 1"),
    ("jmp\n", 4, 1, r"jmp takes 1"),
    ("halt\n\nmul A, A\n.data\nA: 1", 4, 3, "unknown instruction 'mul'"),
    ("halt\nhalt\nhalt\nhalt\nhalt", 4, 5, "needs 5 instructions, more than n_instr=4"),
    ("halt\nhalt\nadd A, A\n.data\nA: 1", 4, 3, "needs 5 instructions"),
    ("halt\n.data\nA: 1\nA: 2", 4, 4, "data cell 'A' defined twice"),
    ("L: halt\nL: halt", 4, 2, "name 'L' defined twice"),
    ("halt\nA: halt\n.data\nA: 1", 4, 2, "name 'A' defined twice"),
    ("subleq A, A, 4\n.data\nA: 1", 4, 1,
     r"jump target 4 = 4 is out of range \[0, 4\)"),
    ("halt\nhalt\nhalt\nsubleq A, A, end\nend:\n.data\nA: 1", 4, 4,
     "jump target end = 4 is out of range"),
    ("jmp A\n.data\nA: 1", 4, 1, "'A' is a data cell, not a label"),
    # the last slot may not fall through: running off the end would wrap to 0
    ("halt\nhalt\nhalt\nsubleq A, A\n.data\nA: 1", 4, 4, "jump target 4 = 4"),
    ("1x: halt", 4, 1, "bad label '1x'"),
    ("halt\n.data\nA: 1 2 3 4 5 6 7\nB: 1 2", 4, 4, "data does not fit in 8 memory"),
    ("halt\n.data\nA: 1 2 3 4 5 6 7 8", 4, 3, "no memory cell left for the zero cell"),
]


@pytest.mark.parametrize("source, n_instr, line, pattern", ERRORS)
def test_assembly_errors_name_the_line(source, n_instr, line, pattern):
    with pytest.raises(AssemblyError) as info:
        assemble(source, n_mem=8, bits=8, n_instr=n_instr)
    msg = str(info.value)
    assert msg.startswith(f"source: line {line}: "), msg
    assert re.search(pattern, msg), msg
    assert isinstance(info.value, ValueError)  # AssemblyError is a ValueError


@pytest.mark.parametrize(
    "kwargs, err, pattern",
    [
        ({"n_mem": 6}, ValueError,
         r"n_mem: expected a power of two in \[2, 1024\], got 6"),
        ({"n_mem": 1}, ValueError, "n_mem"),
        ({"n_mem": 2048}, ValueError, "n_mem"),
        ({"n_mem": 4.0}, TypeError, "n_mem: expected an int, got float"),
        ({"n_mem": True}, TypeError, "n_mem"),
        ({"n_instr": 12}, ValueError, "n_instr: expected a power of two"),
        ({"n_instr": "8"}, TypeError, "n_instr"),
        ({"bits": 1}, ValueError, r"bits: expected an int in \[2, 32\], got 1"),
        ({"bits": 33}, ValueError, "bits"),
        ({"bits": 8.0}, TypeError, "bits: expected an int"),
    ],
)
def test_bad_sizes_name_the_argument(kwargs, err, pattern):
    with pytest.raises(err, match=pattern):
        assemble("halt", **kwargs)


def test_source_must_be_text():
    with pytest.raises(TypeError, match="source: expected a str"):
        assemble(b"halt")


def test_numpy_sizes_are_accepted():
    p = assemble("halt", n_mem=np.int64(4), bits=np.int32(6), n_instr=np.int64(2))
    assert (p.n_mem, p.bits, p.n_instr) == (4, 6, 2) and type(p.bits) is int


# ---------------------------------------------------------------- properties
BITS = 5
LO, HI = value_range(BITS)
value = st.integers(LO, HI)


def run_macro(body: str, x: int, y: int):
    p = assemble(f"{body}\nhalt\n.data\nX: {x}\nY: {y}\n", n_mem=4, bits=BITS,
                 n_instr=8)
    trace = run(p, max_steps=50)
    mem = trace.memory[-1]
    return p.cell(mem, "X"), p.cell(mem, "Y"), p.cell(mem, "Z"), trace


@settings(max_examples=60, deadline=None, derandomize=True)
@given(x=value, y=value)
def test_macros_do_what_the_docstring_says(x, y):
    w = lambda v: int(wrap(v, BITS))  # noqa: E731
    assert run_macro("add X, Y", x, y)[:3] == (x, w(y + x), 0)
    assert run_macro("sub X, Y", x, y)[:3] == (x, w(y - x), 0)
    assert run_macro("clr Y", x, y)[:3] == (x, 0, 0)
    assert run_macro("mov X, Y", x, y)[:3] == (x, x, 0)
    # jmp skips the next statement; jlez branches on the sign of X
    assert run_macro("jmp L\nclr Y\nL: halt", x, y)[:2] == (x, y)
    got = run_macro("jlez X, L\nclr Y\nL: halt", x, y)[:2]
    assert got == (x, y if x <= 0 else 0)


@st.composite
def subleq_programs(draw):
    n_mem, n_instr = draw(st.sampled_from([(4, 4), (8, 8), (8, 16)]))
    n_data = draw(st.integers(1, n_mem - 1))  # leave room for Z
    data = draw(st.lists(value, min_size=n_data, max_size=n_data))
    n = draw(st.integers(1, n_instr))
    rows = draw(st.lists(
        st.tuples(st.integers(0, n_mem - 1), st.integers(0, n_mem - 1),
                  st.one_of(st.none(), st.integers(0, n_instr - 1))),
        min_size=n, max_size=n,
    ))
    if n == n_instr and rows[-1][2] is None:  # may not fall off the end
        rows[-1] = (*rows[-1][:2], 0)
    return n_mem, n_instr, data, rows


@settings(max_examples=80, deadline=None, derandomize=True)
@given(prog=subleq_programs())
def test_numeric_programs_and_disassembly_round_trip(prog):
    n_mem, n_instr, data, rows = prog
    text = "\n".join(
        f"subleq {a}, {b}" + ("" if c is None else f", {c}") for a, b, c in rows
    )
    data_text = f"\n.data\nD: {' '.join(map(str, data))}\n"
    p = assemble(text + data_text, n_mem=n_mem, bits=BITS, n_instr=n_instr)
    for k, (a, b, c) in enumerate(rows):
        want_c = (k + 1) if c is None else c
        np.testing.assert_array_equal(p.code[k], [a, b, want_c])
    z = len(data)
    for k in range(len(rows), n_instr):
        np.testing.assert_array_equal(p.code[k], [z, z, k])
    np.testing.assert_array_equal(p.memory[: len(data)], data)
    assert not p.memory[len(data):].any()
    # the disassembly, without its "k:" prefixes, assembles to the same code
    lines = [line.split(":", 1)[1] for line in disassemble(p)]
    q = assemble("\n".join(lines) + data_text, n_mem=n_mem, bits=BITS,
                 n_instr=n_instr)
    np.testing.assert_array_equal(q.code, p.code)


def test_cell_of_an_unknown_name_names_the_known_cells():
    p = assemble("halt\n.data\nA: 1\n")
    want = r"name: unknown data cell 'Q' \(data cells: A, Z\)"
    with pytest.raises(ValueError, match=want):
        p.cell(p.memory, "Q")
