"""fpga_sim: a cycle-approximate model of a multi-core decode accelerator (FastCar).

Stages: :mod:`.arch` (parameters and cited presets), :mod:`.cost` (systolic GEMM
cycles, roofline), :mod:`.sched` (static, DRS round-robin, oracle), :mod:`.sim`
(phases, makespan, utilisation, energy), driven by the replay traces of
:func:`effteach.fastcar.replay_decode`. Its numbers are a model with stated
parameters: the paper's FPGA design is not public.

Paper: FastCar (arXiv 2505.14709), FPGA accelerator with Dynamic Resource Scheduling.
Book: notebooks/fastcar/lecture.md, "A simulated accelerator".
"""

from effteach.fpga_sim.arch import PRESET_SOURCES, U280_LIKE, Accelerator
from effteach.fpga_sim.cost import gemm_cycles, op_cycles
from effteach.fpga_sim.sched import SCHEDULERS, assign_rows, core_loads
from effteach.fpga_sim.sim import (
    VILA_U,
    DecoderShape,
    SimResult,
    StepTiming,
    energy_j,
    layer_step,
    simulate,
)

__all__ = [
    "Accelerator",
    "U280_LIKE",
    "PRESET_SOURCES",
    "gemm_cycles",
    "op_cycles",
    "SCHEDULERS",
    "assign_rows",
    "core_loads",
    "DecoderShape",
    "VILA_U",
    "StepTiming",
    "SimResult",
    "layer_step",
    "simulate",
    "energy_j",
]
