"""looped_mlp: a SUBLEQ computer compiled into the weights of a looped ReLU MLP.

Paper: Liang, Sha, Shi, Song, Zhou, "Looped ReLU MLPs May Be All You Need as
    Practical Programmable Computers", arXiv 2410.09375 (AISTATS 2025).
Book: notebooks/looped_mlp/lecture.md.
"""

from effteach.lazy_import import lazy_attributes
from effteach.looped_mlp.asm import (
    AssemblyError,
    Program,
    assemble,
    disassemble,
    value_range,
)
from effteach.looped_mlp.circuit import Affine, Circuit, Net
from effteach.looped_mlp.compiler import (
    PAPER_BUDGET,
    VARIANTS,
    Layout,
    LoopedMLP,
    compile_machine,
)
from effteach.looped_mlp.programs import DEMOS, demo, demo_answer
from effteach.looped_mlp.reference import StepLimitError, Trace, run, step, wrap

_VIZ = ("run_figure", "debugger_panel")


__getattr__ = lazy_attributes(__name__, "viz", _VIZ)


__all__ = [
    "AssemblyError",
    "Program",
    "assemble",
    "disassemble",
    "value_range",
    "Affine",
    "Circuit",
    "Net",
    "PAPER_BUDGET",
    "VARIANTS",
    "Layout",
    "LoopedMLP",
    "compile_machine",
    "DEMOS",
    "demo",
    "demo_answer",
    "StepLimitError",
    "Trace",
    "run",
    "step",
    "wrap",
    "run_figure",
    "debugger_panel",
]
