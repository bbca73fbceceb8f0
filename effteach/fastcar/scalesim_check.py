"""Cross-check fpga_sim's GEMM cycles against SCALE-Sim on the same shapes.

SCALE-Sim (Samajdar et al., ISPASS 2020; ``pip install scalesim``) simulates a
systolic array cycle by cycle. It cannot run in this project's environment: version
3.0.0 needs numba, cython and matplotlib, and fails with NumPy >= 2.3 (``int()`` of
a 1-element array in its scratchpad model), while the project pins NumPy 2.4. So
this module is run once in a separate virtual environment (NumPy 2.2) and its output
is committed as ``results/cpu/fastcar_scalesim.json``; the tests compare the
committed numbers with :func:`effteach.fpga_sim.gemm_cycles`.

Usage, with scalesim 3.0.0 and numpy < 2.3 installed in another environment
(say ``.venv-ss``, made with ``python -m venv``); that interpreter runs only
SCALE-Sim, this one the comparison::

    python -m effteach.fastcar.scalesim_check --scalesim-python .venv-ss/bin/python

Book: notebooks/fastcar/lecture.md, "A simulated accelerator".
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

#: (name, M, N, K): small shapes, then decode-like shapes (d/4 = 1024, d_ff/4 = 2752)
SHAPES = [
    ("small_a", 4, 64, 128), ("small_b", 16, 32, 256), ("small_c", 1, 96, 96),
    ("small_d", 10, 40, 64),
    ("up_m1", 1, 2752, 1024), ("up_m4", 4, 2752, 1024), ("up_m16", 16, 2752, 1024),
    ("up_m32", 32, 2752, 1024), ("down_m8", 8, 1024, 2752),
]
ARRAYS = [(8, 8), (32, 32)]
#: relative tolerance of the pipelined formula on decode-like shapes (K >= 1024)
TOLERANCE = 0.06

_CFG = """[general]
run_name = fastcar_check
[architecture_presets]
ArrayHeight: {r}
ArrayWidth: {c}
IfmapSramSzkB: 6144
FilterSramSzkB: 6144
OfmapSramSzkB: 2048
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth : 100
Dataflow : os
ReadRequestBuffer: 32
WriteRequestBuffer: 32
[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2
[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40
[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""


def run_scalesim(rows: int, cols: int, shapes=SHAPES) -> list[int]:
    """SCALE-Sim's compute cycles ("Total Cycles") of each GEMM, OS dataflow."""
    from scalesim.scale_sim import scalesim

    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "scale.cfg").write_text(_CFG.format(r=rows, c=cols))
        (t / "topo.csv").write_text("Layer, M, N, K,\n" + "".join(
            f"{n}, {m}, {nn}, {k},\n" for n, m, nn, k in shapes))
        (t / "layout.csv").write_text("Layer name," + "x," * 20 + "\n" + "".join(
            f"{n}," + "1," * 6 + "0," * 14 + "\n" for n, *_ in shapes))
        sim = scalesim(save_disk_space=True, verbose=False, config=str(t / "scale.cfg"),
                       topology=str(t / "topo.csv"), layout=str(t / "layout.csv"),
                       input_type_gemm=True)
        sim.run_scale(top_path=str(t / "out"))
        report = next((t / "out").glob("*/COMPUTE_REPORT.csv")).read_text()
    lines = [ln.split(",") for ln in report.strip().splitlines()[1:]]
    return [int(ln[2]) for ln in lines]


def main(argv: list[str] | None = None) -> int:
    """Run SCALE-Sim on :data:`SHAPES` for :data:`ARRAYS` and write the JSON file."""
    from effteach.bench import write_json_atomic
    from effteach.fpga_sim import gemm_cycles

    ap = argparse.ArgumentParser(prog="effteach.fastcar.scalesim_check")
    ap.add_argument("--out", default="results/cpu/fastcar_scalesim.json")
    ap.add_argument("--scalesim-python", required=True)
    args = ap.parse_args(argv)
    records = []
    for r, c in ARRAYS:
        raw = subprocess.run([args.scalesim_python, __file__, "--raw", str(r), str(c)],
                             check=True, capture_output=True, text=True).stdout
        cycles = json.loads(raw.strip().splitlines()[-1])
        for (name, m, n, k), cyc in zip(SHAPES, cycles, strict=True):
            records.append({
                "name": name, "M": m, "N": n, "K": k, "rows": r, "cols": c,
                "scalesim_cycles": cyc,
                "ours_pipelined": gemm_cycles(m, k, n, r, c),
                "ours_per_fold": gemm_cycles(m, k, n, r, c, pipelined=False)})
    write_json_atomic(Path(args.out), {
        "tool": "SCALE-Sim", "version": "3.0.0 (pip, separate venv, numpy 2.2.6)",
        "dataflow": "os", "made_by": "python -m effteach.fastcar.scalesim_check",
        "metric": "COMPUTE_REPORT 'Total Cycles' (excl. prefetch)",
        "tolerance_decode_shapes": TOLERANCE, "records": records})
    print(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--raw"]:  # inside the SCALE-Sim environment
        print(json.dumps(run_scalesim(int(sys.argv[2]), int(sys.argv[3]))))
        raise SystemExit(0)
    raise SystemExit(main())
