"""Accelerator parameters of the simulated decode engine, and presets with sources.

The paper's FPGA design (Alveo U280, multi-core, DRS) is not public: core count, PE
array, clock, precision and buffers are unknown. Every number here is therefore an
*assumption* of the model, stated with where it comes from:

* ``U280_LIKE``: 4 cores of 1 x 2048 int8 MACs (one row at a time, a GEMV engine;
  8192 MACs, close to the U280's 9,024 DSP48E2 slices, AMD DS963), 250 MHz (a
  typical HLS clock), 460 GB/s HBM2 (AMD DS963), int8 weights, fp16 activations.
* Energies per action: int8 multiply about 0.2 pJ and an 8 KB SRAM 64-bit read about
  10 pJ (Horowitz, ISSCC 2014, 45 nm; an FPGA spends more), HBM2 about 3.9 pJ/bit
  (O'Connor et al., MICRO 2017). Static power 25 W is our placeholder for the board.

Paper: FastCar (arXiv 2505.14709), FPGA accelerator with DRS (details not public).
Book: notebooks/fastcar/lecture.md, "A simulated accelerator".
"""

from __future__ import annotations

import dataclasses

from effteach.checks import check_float, check_int, typed

__all__ = ["Accelerator", "U280_LIKE", "PRESET_SOURCES"]


@typed
@dataclasses.dataclass(frozen=True)
class Accelerator:
    """A multi-core decode accelerator (all sizes per core unless said otherwise).

    Attributes:
        n_cores: P, cores sharing the HBM.
        pe_rows: R, PE-array rows (batch rows processed together).
        pe_cols: C, PE-array columns (output features processed together).
        clock_mhz: clock in MHz.
        hbm_gbps: shared HBM bandwidth in GB/s.
        weight_bytes: bytes per weight; act_bytes: per activation / KV entry.
        dispatch_cycles: fixed cost of issuing one op (instruction decode, DMA set-up).
        drs_overhead_cycles: DRS mapping-table update per decision (per layer/step).
        weight_broadcast: True: one HBM weight stream feeds every active core;
            False: each active core streams its own copy (bandwidth shared).
        e_mac_pj, e_hbm_pj_per_byte, e_sram_pj_per_byte: energy per action.
        static_w: static power in watts.
    """

    n_cores: int = 4
    pe_rows: int = 1
    pe_cols: int = 2048
    clock_mhz: float = 250.0
    hbm_gbps: float = 460.0
    weight_bytes: int = 1
    act_bytes: int = 2
    dispatch_cycles: int = 64
    drs_overhead_cycles: int = 1000
    weight_broadcast: bool = True
    e_mac_pj: float = 0.2
    e_hbm_pj_per_byte: float = 31.2
    e_sram_pj_per_byte: float = 1.25
    static_w: float = 25.0

    def __post_init__(self):
        for name in ("n_cores", "pe_rows", "pe_cols", "weight_bytes", "act_bytes"):
            check_int(name, getattr(self, name), low=1)
        for name in ("dispatch_cycles", "drs_overhead_cycles"):
            check_int(name, getattr(self, name), low=0)
        for name in ("clock_mhz", "hbm_gbps"):
            check_float(name, getattr(self, name), low=0, low_open=True)
        for name in ("e_mac_pj", "e_hbm_pj_per_byte", "e_sram_pj_per_byte",
                     "static_w"):
            check_float(name, getattr(self, name), low=0)

    @property
    def bytes_per_cycle(self) -> float:
        """HBM bytes per clock cycle, all cores together."""
        return self.hbm_gbps * 1e9 / (self.clock_mhz * 1e6)


U280_LIKE = Accelerator()

#: where each default comes from (an assumption unless a data sheet is named)
PRESET_SOURCES = {
    "n_cores, pe_rows, pe_cols": "assumption: 8192 int8 MACs ~ U280's 9,024 DSPs "
                                 "(AMD DS963)",
    "clock_mhz": "assumption: typical HLS clock 200-300 MHz",
    "hbm_gbps": "AMD Alveo U280 data sheet (DS963): 460 GB/s HBM2",
    "e_mac_pj": "Horowitz, ISSCC 2014: 8-bit multiply 0.2 pJ (45 nm ASIC)",
    "e_sram_pj_per_byte": "Horowitz, ISSCC 2014: 8 KB SRAM 64-bit read 10 pJ",
    "e_hbm_pj_per_byte": "O'Connor et al., MICRO 2017: HBM2 ~3.9 pJ/bit",
    "static_w": "assumption: placeholder board static power",
    "dispatch_cycles, drs_overhead_cycles": "paper (via reviews): DRS costs "
                                            "'hundreds to thousands of cycles'",
}
