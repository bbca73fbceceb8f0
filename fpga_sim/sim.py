"""Cycle-approximate decode simulator driven by replay traces.

One decode step of a layer is two phases separated by a barrier (the replay decision
needs TAS, which needs attention):

1. *attention*: every row, on core ``b mod P``: QKV projection, attention over the
   cached context (KV bytes are private to the row), O projection;
2. *MLP*: only the rows that do not replay, mapped by the scheduler
   (:mod:`effteach.fpga_sim.sched`): gate+up projection, down projection.

Each op on a core costs :func:`~effteach.fpga_sim.cost.op_cycles` with the
:func:`~effteach.fpga_sim.cost.gemm_cycles` compute time; a phase lasts as long as
its busiest core; DRS adds its overhead per (step, layer). Energy is
``MACs e_mac + HBM bytes e_hbm + SRAM bytes e_sram + P_static t`` with SRAM bytes
taken as twice the HBM bytes (written into a buffer, read by the PEs).

Invariants (tested): no replay gives the dense latency; a layer that replays every
row spends no MLP cycles; DRS's execution makespan is at most static's (with
``weight_broadcast``); DRS equals static when static is already balanced; energy
grows with bytes moved.

Paper: FastCar (arXiv 2505.14709), FPGA accelerator and DRS (a model, parameters
    assumed: see :mod:`effteach.fpga_sim.arch`).
Book: notebooks/fastcar/lecture.md, "A simulated accelerator".
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from effteach.checks import check_float, check_int, typed
from effteach.fpga_sim.arch import Accelerator
from effteach.fpga_sim.cost import gemm_cycles, op_cycles
from effteach.fpga_sim.sched import SCHEDULERS, assign_rows

__all__ = ["DecoderShape", "VILA_U", "StepTiming", "SimResult", "layer_step",
           "simulate", "energy_j"]


@typed
@dataclasses.dataclass(frozen=True)
class DecoderShape:
    """Sizes of the decoder layer being simulated (VILA-U / LLaMA-2-7B by default)."""

    d_model: int = 4096
    d_ff: int = 11008
    context: int = 2304

    def __post_init__(self):
        for name in ("d_model", "d_ff", "context"):
            check_int(name, getattr(self, name), low=1)


VILA_U = DecoderShape()


@dataclasses.dataclass
class StepTiming:
    """One (step, layer): phase cycles, per-core busy cycles, work and a Gantt list."""

    attn_cycles: int
    mlp_cycles: int
    overhead_cycles: int
    busy: np.ndarray  # (P,) busy cycles per core
    macs: int
    hbm_bytes: float
    gantt: list  # (core, op, start, end) in cycles from the step's start

    @property
    def cycles(self) -> int:
        """Makespan of the step including the scheduling overhead."""
        return self.attn_cycles + self.mlp_cycles + self.overhead_cycles


def _phase(acc: Accelerator, loads: np.ndarray, ops, t0: int, gantt: list):
    """Run ``ops`` [(name, k, n, private bytes per row, extra macs per row)] per core.

    Returns the phase length, busy cycles per core, MACs and HBM bytes.
    """
    active = int((loads > 0).sum())
    busy = np.zeros(acc.n_cores, dtype=np.int64)
    macs, hbm = 0, 0.0
    if active == 0:
        return 0, busy, 0, 0.0
    bpc = acc.bytes_per_cycle
    for name, k, n, priv_row, attn_macs in ops:
        weights = 0 if n == 0 else k * n * acc.weight_bytes
        priv_all = priv_row * int(loads.sum())
        # bytes the HBM must serve for this op, and the time all cores wait for it
        total = (weights if acc.weight_broadcast else weights * active) + priv_all
        hbm += total
        for c in np.nonzero(loads)[0]:
            m = int(loads[c])
            if n:
                comp = gemm_cycles(m, k, n, acc.pe_rows, acc.pe_cols)
                macs += m * k * n
            else:
                comp = math.ceil(attn_macs * m / (acc.pe_rows * acc.pe_cols))
                macs += attn_macs * m
            cyc = op_cycles(comp, float(total), bpc, acc.dispatch_cycles)
            gantt.append((int(c), name, t0 + int(busy[c]), t0 + int(busy[c]) + cyc))
            busy[c] += cyc
    return int(busy.max()), busy, macs, hbm


@typed
def layer_step(replay, shape: DecoderShape, acc: Accelerator,
               scheduler: str = "drs") -> StepTiming:
    """Simulate one layer of one decode step for rows with ``replay`` flags (B,)."""
    rep = np.asarray(replay)
    if rep.ndim != 1 or rep.dtype != np.bool_ or rep.size == 0:
        raise TypeError("replay: expected a non-empty 1-d bool array")
    if scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler: expected one of {SCHEDULERS}, got {scheduler!r}")
    b, p = rep.size, acc.n_cores
    d, f, ctx = shape.d_model, shape.d_ff, shape.context
    gantt: list = []
    attn_loads = np.bincount(np.arange(b) % p, minlength=p)
    kv = 2 * ctx * d * acc.act_bytes  # K and V bytes read per row
    attn_ops = [("qkv", d, 3 * d, 0, 0), ("attn", d, 0, kv, 2 * ctx * d),
                ("o", d, d, 0, 0)]
    t_attn, busy_a, macs_a, hbm_a = _phase(acc, attn_loads, attn_ops, 0, gantt)
    mlp_ops = [("gate_up", d, 2 * f, 0, 0), ("down", f, d, 0, 0)]
    compute = ~rep
    if scheduler == "oracle":
        best = None
        for k in range(1, p + 1):
            loads = np.bincount(assign_rows(compute, k, "drs")[compute],
                                minlength=p) if compute.any() else np.zeros(p, int)
            trial = _phase(acc, loads, mlp_ops, t_attn, [])
            if best is None or trial[0] < best[0]:
                best = (trial[0], loads)
        mlp_loads = best[1]
        overhead = 0
    else:
        mapping = assign_rows(compute, p, scheduler)
        mlp_loads = np.bincount(mapping[mapping >= 0], minlength=p)
        overhead = acc.drs_overhead_cycles if scheduler == "drs" else 0
    t_mlp, busy_m, macs_m, hbm_m = _phase(acc, mlp_loads, mlp_ops, t_attn, gantt)
    return StepTiming(t_attn, t_mlp, overhead, busy_a + busy_m, macs_a + macs_m,
                      hbm_a + hbm_m, gantt)


@typed
def energy_j(macs: float, hbm_bytes: float, seconds: float, acc: Accelerator
             ) -> dict[str, float]:
    """Energy breakdown in joules: ``mac``, ``hbm``, ``sram``, ``static``."""
    macs = check_float("macs", macs, low=0)
    hbm_bytes = check_float("hbm_bytes", hbm_bytes, low=0)
    seconds = check_float("seconds", seconds, low=0)
    return {"mac": macs * acc.e_mac_pj * 1e-12,
            "hbm": hbm_bytes * acc.e_hbm_pj_per_byte * 1e-12,
            "sram": 2 * hbm_bytes * acc.e_sram_pj_per_byte * 1e-12,
            "static": acc.static_w * seconds}


@dataclasses.dataclass
class SimResult:
    """A whole trace: cycles per (step, layer) and totals."""

    attn_cycles: np.ndarray  # (n_steps, L)
    mlp_cycles: np.ndarray
    overhead_cycles: np.ndarray
    busy: np.ndarray  # (P,) total busy cycles per core
    macs: float
    hbm_bytes: float
    seconds: float
    energy: dict

    @property
    def cycles(self) -> int:
        """Total cycles."""
        return int(self.attn_cycles.sum() + self.mlp_cycles.sum()
                   + self.overhead_cycles.sum())

    @property
    def utilisation(self) -> float:
        """Mean share of the run each core is busy."""
        return float(self.busy.mean() / max(self.cycles, 1))


@typed
def simulate(replay, shape: DecoderShape, acc: Accelerator,
             scheduler: str = "drs") -> SimResult:
    """Simulate a replay trace (n_steps, L, B) bool on ``acc``."""
    rep = np.asarray(replay)
    if rep.ndim != 3 or rep.dtype != np.bool_ or rep.size == 0:
        raise TypeError("replay: expected a non-empty (n_steps, L, B) bool array")
    n_steps, n_layers, _ = rep.shape
    a, m, o = (np.zeros((n_steps, n_layers), dtype=np.int64) for _ in range(3))
    busy = np.zeros(acc.n_cores, dtype=np.int64)
    macs, hbm, memo = 0.0, 0.0, {}
    for s in range(n_steps):
        for li in range(n_layers):
            key = rep[s, li].tobytes()
            if key not in memo:  # identical patterns cost the same
                memo[key] = layer_step(rep[s, li], shape, acc, scheduler)
            t = memo[key]
            a[s, li], m[s, li] = t.attn_cycles, t.mlp_cycles
            o[s, li] = t.overhead_cycles
            busy += t.busy
            macs += t.macs
            hbm += t.hbm_bytes
    seconds = float(a.sum() + m.sum() + o.sum()) / (acc.clock_mhz * 1e6)
    return SimResult(a, m, o, busy, macs, hbm, seconds,
                     energy_j(macs, hbm, seconds, acc))
