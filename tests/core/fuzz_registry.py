"""Valid example calls of every public function, for the bad-input fuzz harness.

Each entry is ``"module.name" -> () -> Call``: one small valid call (fresh objects on
every call, since calls may mutate them). The harness replaces one argument at a time
with a bad value. Entries named ``Class.method`` cover a class's main methods. Keep
shapes tiny: the harness makes a few hundred calls per function.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from fuzz_support import Call

# ------------------------------------------------------------------ shared inputs


def _t(*shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


def _a(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@functools.cache
def _machine():
    from effteach.looped_mlp import compile_machine

    return compile_machine(n_mem=4, bits=4, n_instr=4)


def _program():
    from effteach.looped_mlp import assemble

    return assemble("sub A, B\nhalt\n.data\nA: 1\nB: 3", n_mem=4, bits=4, n_instr=4)


@functools.cache
def _dit():
    from effteach.models import DiTConfig, TinyDiT

    torch.manual_seed(0)
    return TinyDiT(DiTConfig(img_size=8, patch=4, d_model=16, depth=1, n_heads=2))


def _gates():
    from effteach.lazy_dit import LazyGates

    return LazyGates(2, 1, 16)


@functools.cache
def _lazy_run():
    from effteach.lazy_dit import lazy_run

    torch.set_num_threads(1)
    return lazy_run(_dit(), _gates(), 1e-5, per_class=1)


def _records():
    base = {"kind": "input", "variant": "all", "rho": 3e-5, "seed": 0, "n_steps": 4}
    return [
        {**base, "method": m, "laziness": 0.2, "macs_per_image": 1e6, "fd_to_test": 1.0,
         "rmse_to_full": 0.1, "class_accuracy": 0.9}
        for m in ("lazy", "full", "random_skip")
    ]


@functools.cache
def _gpt():
    from effteach.models import GPTConfig, TinyGPT

    torch.manual_seed(0)
    return TinyGPT(GPTConfig(vocab_size=8, n_ctx=8, d_model=8, n_layers=1, n_heads=2,
                             d_ff=16))


def _mem():
    from effteach.pebble_io import TwoLevelMemory

    return TwoLevelMemory(sram=4096)


def _qkv(n=4, d=2):
    return _a(n, d, seed=1), _a(n, d, seed=2), _a(n, d, seed=3)


def _gpu_result(slug):
    from effteach.bench import load_results

    return load_results(slug)


def C(fn, *args, **kwargs):  # noqa: N802  (reads as a call)
    return Call(fn, args, kwargs)


def _api(path):
    import importlib

    mod, _, name = path.rpartition(".")
    return getattr(importlib.import_module(mod), name)


# ------------------------------------------------------------------ the registry
def registry() -> dict:
    """``name -> () -> Call`` for every public function or method under test."""
    import effteach
    from effteach import foundations as fd
    from effteach import lazy_dit as ld
    from effteach import looped_mlp as lm
    from effteach import metrics as mt
    from effteach import models as md
    from effteach import pebble_io as pb
    from effteach.data import digits as dg
    from effteach.data import text as tx
    from effteach.data import video as vd

    P = "effteach.pebble_io."  # noqa: N806
    F = "effteach.foundations."  # noqa: N806
    L = "effteach.looped_mlp."  # noqa: N806
    Z = "effteach.lazy_dit."  # noqa: N806
    M = "effteach.models."  # noqa: N806
    D = "effteach.data."  # noqa: N806
    T = "effteach.metrics."  # noqa: N806
    q4 = functools.partial(_t, 1, 2, 4, 2)
    reg = {
        # -- effteach
        "effteach.seed_everything": lambda: C(effteach.seed_everything, 0),
        "effteach.setup": lambda: C(effteach.setup, 0, quiet=True),
        "effteach.banner": lambda: C(effteach.banner),
        # -- foundations
        F + "attention_ref": lambda: C(fd.attention_ref, q4(seed=1), q4(seed=2),
                                       q4(seed=3), causal=False, scale=0.5),
        F + "attention_bwd_ref": lambda: C(fd.attention_bwd_ref, q4(seed=1),
                                           q4(seed=2), q4(seed=3), q4(seed=4),
                                           causal=False, scale=0.5),
        F + "softmax_ref": lambda: C(fd.softmax_ref, _t(3, 4)),
        F + "softmax_naive": lambda: C(fd.softmax_naive, _t(3, 4)),
        F + "softmax_jacobian_ref": lambda: C(fd.softmax_jacobian_ref,
                                              fd.softmax_ref(_t(4))),
        F + "softmax_bwd_ref": lambda: C(fd.softmax_bwd_ref, fd.softmax_ref(_t(3, 4)),
                                         _t(3, 4, seed=1)),
        F + "temperature_figure": lambda: C(fd.temperature_figure, (1.0, 0.0, -1.0),
                                            (0.5, 1.0), active=1),
        F + "temperature_panel": lambda: C(fd.temperature_panel, (1.0, 0.0, -1.0)),
        F + "softmax_gpu_figure": lambda: C(fd.softmax_gpu_figure,
                                            _gpu_result("foundations")),
        # -- pebble_io: memory
        P + "IOCounts": lambda: C(pb.IOCounts, 3, 4),
        P + "TwoLevelMemory": lambda: C(pb.TwoLevelMemory, 64, trace="tiles",
                                        max_events=100),
        P + "Tile": lambda: C(pb.Tile, _a(2, 2), "q", ((0, 2), (0, 2)), True),
        P + "Event": lambda: C(pb.Event, "load", "q", (0, 2), (0, 2), 4, 4),
        P + "TwoLevelMemory.put": lambda: C(_mem().put, "q", _a(4, 2)),
        P + "TwoLevelMemory.create": lambda: C(_mem().create, "o", (4, 2)),
        P + "TwoLevelMemory.load": lambda: C(_loaded_mem().load, "q", slice(0, 2),
                                                 slice(0, 2)),
        P + "TwoLevelMemory.alloc": lambda: C(_mem().alloc, (2, 2), "s", 0.0),
        # -- pebble_io: reference
        P + "allowed_mask": lambda: C(pb.allowed_mask, 4, causal=True,
                                      mask=np.ones((4, 4), bool)),
        P + "attention_ref": lambda: C(pb.attention_ref, *_qkv(), causal=False,
                                       mask=None, scale=0.5),
        P + "attention_bwd_ref": lambda: C(pb.attention_bwd_ref, *_qkv(), _a(4, 2),
                                           scale=0.5),
        P + "attention_lse_ref": lambda: C(pb.attention_lse_ref, *_qkv()[:2],
                                           scale=0.5),
        P + "probabilities_ref": lambda: C(pb.probabilities_ref, *_qkv()[:2],
                                           scale=0.5),
        P + "check_qkv": lambda: C(pb.check_qkv, *_qkv(), _a(4, 2)),
        # -- pebble_io: schedules (sram fits every tile)
        P + "fa1_forward": lambda: C(pb.fa1_forward, _mem(), *_qkv(), 2, 2,
                                     scale=0.5),
        P + "fa2_forward": lambda: C(pb.fa2_forward, _mem(), *_qkv(), 2, 2,
                                     scale=0.5),
        P + "fa2_backward": lambda: C(pb.fa2_backward, _mem(), *_qkv(), _a(4, 2), 2,
                                      2, scale=0.5),
        P + "fa2_backward_two_pass": lambda: C(pb.fa2_backward_two_pass, _mem(),
                                               *_qkv(), _a(4, 2), 2, 2, 2, 2,
                                               scale=0.5),
        P + "square_forward": lambda: C(pb.square_forward, _mem(), *_qkv(), 2,
                                        scale=0.5),
        P + "square_backward": lambda: C(pb.square_backward, _mem(), *_qkv(),
                                         _a(4, 2), 2, scale=0.5),
        P + "standard_forward": lambda: C(pb.standard_forward, _mem(), *_qkv(), 2, 2,
                                          scale=0.5),
        P + "standard_backward": lambda: C(pb.standard_backward, _mem(), *_qkv(),
                                           _a(4, 2), 2, 2, scale=0.5),
        P + "run_schedule": lambda: C(pb.run_schedule, "fa2_fwd", _mem(), *_qkv(),
                                      block_m=2, block_n=2),
        # -- pebble_io: counts
        P + "fa1_fwd_io": lambda: C(pb.fa1_fwd_io, 8, 4, 2, 2, causal=True),
        P + "fa2_fwd_io": lambda: C(pb.fa2_fwd_io, 8, 4, 2, 2, causal=True),
        P + "fa2_bwd_io": lambda: C(pb.fa2_bwd_io, 8, 4, 2, 2, causal=True),
        P + "fa2_bwd_two_pass_io": lambda: C(pb.fa2_bwd_two_pass_io, 8, 4, 2, 2, 2, 2,
                                             causal=True),
        P + "square_fwd_io": lambda: C(pb.square_fwd_io, 8, 4, 2, causal=True),
        P + "square_bwd_io": lambda: C(pb.square_bwd_io, 8, 4, 2, causal=True),
        P + "standard_fwd_io": lambda: C(pb.standard_fwd_io, 8, 4, 2, 2),
        P + "standard_bwd_io": lambda: C(pb.standard_bwd_io, 8, 4, 2, 2),
        P + "fa_fwd_residency": lambda: C(pb.fa_fwd_residency, 4, 2, 2),
        P + "fa2_bwd_residency": lambda: C(pb.fa2_bwd_residency, 4, 2, 2),
        P + "fa2_bwd_two_pass_residency": lambda: C(pb.fa2_bwd_two_pass_residency, 4,
                                                    2, 2, 2, 2),
        P + "square_fwd_residency": lambda: C(pb.square_fwd_residency, 4, 2),
        P + "square_bwd_residency": lambda: C(pb.square_bwd_residency, 4, 2),
        P + "standard_fwd_residency": lambda: C(pb.standard_fwd_residency, 4, 2, 2),
        P + "standard_bwd_residency": lambda: C(pb.standard_bwd_residency, 4, 2, 2),
        P + "tile_sizes": lambda: C(pb.tile_sizes, 7, 2),
        P + "tile_visibility": lambda: C(pb.tile_visibility, 8, 2, 2, causal=True,
                                         mask=np.ones((8, 8), bool)),
        # -- pebble_io: tiles
        P + "best_tiles": lambda: C(pb.best_tiles, "fa2_fwd", 16, 4, 256, 1),
        P + "dao_tiles": lambda: C(pb.dao_tiles, 4, 256),
        P + "dao_tiles_report": lambda: C(pb.dao_tiles_report, 16, 4, [256, 512],
                                          "fa1_fwd"),
        P + "min_sram": lambda: C(pb.min_sram, "fa2_fwd", 4, 1),
        P + "residency": lambda: C(pb.residency, "fa2_fwd", 4, block_m=2, block_n=2),
        P + "schedule_io": lambda: C(pb.schedule_io, "fa2_fwd", 8, 4, block_m=2,
                                     block_n=2),
        # -- pebble_io: bounds (formulas in a real M: sram is a number or an array)
        P + "backward_bound": lambda: C(pb.backward_bound, 16, 4, 64.0),
        P + "forward_bound": lambda: C(pb.forward_bound, 16, 4, 64.0),
        P + "hong_kung_bound": lambda: C(pb.hong_kung_bound, 16, 4, 64.0,
                                         backward=True),
        P + "lower_bound": lambda: C(pb.lower_bound, 16, 4, 64.0, backward=True),
        P + "regime": lambda: C(pb.regime, 4, 64.0),
        P + "sparse_bound": lambda: C(pb.sparse_bound, 16, 8, 64.0),
        P + "trivial_floor": lambda: C(pb.trivial_floor, 16, 4, backward=True),
        # -- pebble_io: experiments
        P + "cache_grid": lambda: C(pb.cache_grid, 16.0, 128.0, 2),
        P + "closed_form_curve": lambda: C(pb.closed_form_curve, "fa2_fwd", 16, 4,
                                           [64, 128], 1),
        P + "crossover_point": lambda: C(pb.crossover_point, [16.0, 64.0, 256.0],
                                         [30.0, 20.0, 10.0], [25.0, 22.0, 19.0]),
        P + "io_curve": lambda: C(pb.io_curve, "fa2_fwd", 8, 2, [64], seed=0,
                                  causal=True),
        P + "loglog_slope": lambda: C(pb.loglog_slope, [16.0, 64.0], [100.0, 50.0]),
        P + "measure_regimes": lambda: C(pb.measure_regimes, 32, 4, False, 1, 0),
        P + "random_qkv": lambda: C(pb.random_qkv, 4, 2, 0),
        P + "regime_figure": lambda: C(pb.regime_figure, 8, (2, 4), False,
                                       "toy (4 KiB)", "float32", 0, 1),
        P + "regime_panel": lambda: C(pb.regime_panel, 64, 8),
        P + "pebble_figure": lambda: C(pb.pebble_figure, "fa2_fwd", 4, 2, 64, 1),
        P + "pebble_panel": lambda: C(pb.pebble_panel, "fa2_fwd", 4, 2),
        P + "pebble_trace": lambda: C(pb.pebble_trace, "fa2_fwd", 4, 2, 64),
        P + "preset_sram": lambda: C(pb.preset_sram, "toy (4 KiB)", "float32"),
        P + "gpu_figure": lambda: C(pb.gpu_figure, _gpu_result("pebble_io")),
        P + "ablation_figure": lambda: C(pb.ablation_figure, _gpu_result("kernels")),
        P + "roofline_figure": lambda: C(pb.roofline_figure, _gpu_result("kernels")),
        # -- looped_mlp
        L + "assemble": lambda: C(lm.assemble, "halt", n_mem=4, bits=4, n_instr=4),
        L + "disassemble": lambda: C(lm.disassemble, _program()),
        L + "value_range": lambda: C(lm.value_range, 8),
        L + "Program": lambda: C(lm.Program, **_program_fields()),
        L + "Program.cell": lambda: C(_program().cell, _program().memory, "A"),
        L + "Affine": lambda: C(lm.Affine, {0: 1.0}, 0.5),
        L + "Circuit": lambda: C(lm.Circuit, 2, ["x", "y"]),
        L + "Circuit.relu": lambda: C(_circuit().relu, _circuit().input(0), "h"),
        L + "Circuit.input": lambda: C(_circuit().input, 1),
        L + "Net.forward": lambda: C(_machine().net.forward,
                                     _machine().encode(_program()).numpy()[None]),
        L + "Layout": lambda: C(lm.Layout, 4, 4, 4),
        L + "LoopedMLP": lambda: C(lm.LoopedMLP, _machine().layout, "fused5", False,
                                   _machine().net),
        L + "LoopedMLP.run": lambda: C(_machine().run, _program(), 20,
                                       dtype=torch.float64, noise=0.0, seed=0,
                                       strict=True),
        L + "LoopedMLP.encode": lambda: C(_machine().encode, _program(),
                                          np.array([1, 3, 0, 0]), 0),
        L + "LoopedMLP.step": lambda: C(_machine().step,
                                        _machine().encode(_program())[None], False),
        L + "LoopedMLP.run_batch": lambda: C(_machine().run_batch,
                                             _machine().encode(_program())[None], 2),
        L + "compile_machine": lambda: C(lm.compile_machine, 4, 4, 4, "fused5", False),
        L + "demo": lambda: C(lm.demo, "multiply", 3, 2, n_mem=16, bits=8),
        L + "demo_answer": lambda: C(lm.demo_answer, "multiply",
                                     *_demo_program_memory()),
        L + "Trace": lambda: C(lm.Trace, np.zeros((2, 4), np.int64),
                               np.zeros(2, np.int64), True),
        L + "run": lambda: C(lm.run, _program(), 20, np.array([1, 3, 0, 0]), True),
        L + "step": lambda: C(lm.step, _program().code, np.array([1, 3, 0, 0]), 0, 4),
        L + "wrap": lambda: C(lm.wrap, np.array([9, -9]), 4),
        L + "run_figure": lambda: C(lm.run_figure, _program(), _machine(),
                                    max_frames=4, max_steps=20),
        L + "debugger_panel": lambda: C(lm.debugger_panel, _program(), _machine(),
                                        max_steps=20, dtypes=("float64",)),
        # -- lazy_dit
        Z + "LazyGates": lambda: C(ld.LazyGates, 2, 1, 16, "input"),
        Z + "LazyGates.score": lambda: C(_gates().score, 0, 0, 0, _t(2, 4, 16,
                                                                     dtype=torch.float32)),
        Z + "GatePolicy": lambda: C(ld.GatePolicy, _gates(), 0.5),
        Z + "FullCompute": lambda: C(ld.FullCompute),
        Z + "StaticSchedule": lambda: C(ld.StaticSchedule, torch.ones(2, 1, 2)),
        Z + "Record": lambda: C(ld.Record, torch.ones(2, 1, 2), 2),
        Z + "random_schedule": lambda: C(ld.random_schedule, 2, 1, 0.5, 0),
        Z + "lazy_sample": lambda: C(ld.lazy_sample, _dit(), torch.tensor([1, 2]), 2,
                                     ld.FullCompute(), cfg_scale=2.0, seed=0),
        Z + "lazy_forward": lambda: C(ld.lazy_forward, _dit(), _t(2, 1, 8, 8,
                                                                 dtype=torch.float32),
                                      torch.tensor([3, 5]), torch.tensor([1, 2]),
                                      [[None, None]],
                                      lambda _l, _m, z, mod, _c: mod(z)),
        Z + "time_sampler": lambda: C(ld.time_sampler, _dit(), torch.tensor([1]), 2,
                                      ld.FullCompute(), repeats=1),
        Z + "similarity": lambda: C(ld.similarity, _dit(), torch.tensor([1]), 2, 0),
        Z + "quality": lambda: C(ld.quality, _t(2, 1, 8, 8, dtype=torch.float32),
                                 torch.tensor([1, 2]),
                                 _t(2, 1, 8, 8, seed=1, dtype=torch.float32)),
        Z + "DiTSpec": lambda: C(ld.DiTSpec, 4, 16, 1, 2, 1, 1),
        Z + "forward_macs": lambda: C(ld.forward_macs, ld.DIT_XL_2_256),
        Z + "sampler_macs": lambda: C(ld.sampler_macs, ld.DIT_XL_2_256, 4,
                                      laziness=0.5, gates=True),
        Z + "spec_of": lambda: C(ld.spec_of, _dit()),
        Z + "count_linear_macs": lambda: C(ld.count_linear_macs, _dit()),
        Z + "cosine_ref": lambda: C(ld.cosine_ref, _t(2, 3), _t(2, 3, seed=1)),
        Z + "gate_score_ref": lambda: C(ld.gate_score_ref, _t(2, 3, 4), _t(4, seed=1),
                                        0.1),
        Z + "lazy_penalty_ref": lambda: C(ld.lazy_penalty_ref, torch.rand(2, 3), 0.1),
        Z + "lazy_ratio_ref": lambda: C(ld.lazy_ratio_ref, torch.tensor([[1, 0]])),
        Z + "soft_mix_ref": lambda: C(ld.soft_mix_ref, torch.rand(2), _t(2, 3, 4),
                                      _t(2, 3, 4, seed=1)),
        Z + "train_gates": lambda: C(ld.train_gates, _dit(), 2, 1e-4, iters=1, batch=2,
                                     progress=False),
        Z + "lazy_run": lambda: C(ld.lazy_run, _dit(), _gates(), 1e-5, per_class=1),
        Z + "lazy_runs": lambda: C(ld.lazy_runs, _dit(), {1e-5: _gates()},
                                   per_class=1),
        Z + "laziness_figure": lambda: C(ld.laziness_figure, [_lazy_run()], 0, 2),
        Z + "run_figure": lambda: C(ld.run_figure, _lazy_run(), 2),
        Z + "lazy_panel": lambda: C(ld.lazy_panel, _dit(), [_lazy_run()],
                                    (0.3, 0.7, 0.1)),
        Z + "similarity_figure": lambda: C(ld.similarity_figure,
                                           torch.rand(2, 1, 2, dtype=torch.float64),
                                           [-0.5, -0.4, -0.3]),
        Z + "quality_compute_figure": lambda: C(
            ld.quality_compute_figure, {"records": _records(), "created": "x"},
            ("fd_to_test",), 0),
        Z + "summarize_records": lambda: C(ld.summarize_records, _records()),
        Z + "compare": lambda: C(ld.compare, _dit(), 2, ((("input", "all", 1e-5),)),
                                 seeds=(0,), per_class=1),
        Z + "evaluate_policy": lambda: C(ld.evaluate_policy, _dit(),
                                         torch.tensor([1, 2]), 2, ld.FullCompute(), 0,
                                         _t(2, 1, 8, 8, dtype=torch.float32), False),
        Z + "LazyRun": lambda: C(type(_lazy_run()), **_lazy_run_fields()),
        # -- models
        M + "GPTConfig": lambda: C(md.GPTConfig, 8, 8, 8, 1, 2, 16, 100.0),
        M + "TinyGPT": lambda: C(md.TinyGPT, md.GPTConfig(8, 8, 8, 1, 2, 16)),
        M + "TinyGPT.forward": lambda: C(_gpt(), torch.tensor([[1, 2, 3]])),
        M + "TinyGPT.generate": lambda: C(_gpt().generate, torch.tensor([[1, 2]]), 2,
                                          0.5, 0),
        M + "KVCache": lambda: C(md.KVCache, 2),
        M + "DiTConfig": lambda: C(md.DiTConfig, 4, 2, 1, 16, 1, 2, 2.0, 10),
        M + "TinyDiT": lambda: C(md.TinyDiT, md.DiTConfig(4, 2, 1, 16, 1, 2, 2.0, 10)),
        M + "TinyDiT.forward": lambda: C(_dit(), _t(2, 1, 8, 8, dtype=torch.float32),
                                         torch.tensor([3, 5]), torch.tensor([1, 2])),
        M + "DigitClassifierConfig": lambda: C(md.DigitClassifierConfig, 4, 8, 10),
        M + "DigitClassifier": lambda: C(md.DigitClassifier,
                                         md.DigitClassifierConfig(4, 8, 10)),
        M + "DigitClassifier.forward": lambda: C(
            md.DigitClassifier(md.DigitClassifierConfig(4, 8, 10)),
            _t(2, 1, 8, 8, dtype=torch.float32)),
        M + "PatchVQ": lambda: C(md.PatchVQ, 8, 4, 1),
        M + "PatchVQ.encode": lambda: C(md.PatchVQ(8, 4, 1).encode,
                                        torch.rand(2, 1, 8, 8)),
        M + "PatchVQ.decode": lambda: C(md.PatchVQ(8, 4, 1).decode,
                                        torch.tensor([[0, 1, 2, 3]]), 8),
        M + "VideoDiTConfig": lambda: C(md.VideoDiTConfig, 4, 8, 4, 1, 2, 16, 1, 2),
        M + "TinyVideoDiT": lambda: C(md.TinyVideoDiT,
                                      md.VideoDiTConfig(4, 8, 4, 1, 2, 16, 1, 2)),
        M + "ARVideoConfig": lambda: C(md.ARVideoConfig, 2, 8, 4, 8, 16, 1, 2, 32),
        M + "TinyARVideo": lambda: C(md.TinyARVideo,
                                     md.ARVideoConfig(2, 8, 4, 8, 16, 1, 2, 32)),
        # -- data
        D + "stdlib_corpus": lambda: C(tx.stdlib_corpus, True),
        D + "CharTokenizer": lambda: C(tx.CharTokenizer),
        D + "CharTokenizer.encode": lambda: C(tx.CharTokenizer().encode, "def f():",
                                              "replace"),
        D + "CharTokenizer.decode": lambda: C(tx.CharTokenizer().decode,
                                              torch.tensor([5, 6, 7])),
        D + "text_splits": lambda: C(tx.text_splits, 16, 0.1, True),
        D + "batches": lambda: C(lambda *a, **k: list(tx.batches(*a, **k)),
                                 torch.arange(40) % 7, 2, 4, 2, 0),
        D + "eval_batches": lambda: C(lambda *a, **k: list(tx.eval_batches(*a, **k)),
                                      torch.arange(40) % 7, 2, 4),
        D + "markov_chain": lambda: C(tx.markov_chain, 8, 0, 3, 0.01),
        D + "markov_copy_batch": lambda: C(tx.markov_copy_batch, 2, 8, 8, 0, 0, 3,
                                           0.01),
        D + "digits_split_indices": lambda: C(dg.digits_split_indices, 0, 300),
        D + "load_digits_tensors": lambda: C(dg.load_digits_tensors, "test", 0, 300),
        D + "moving_shapes": lambda: C(vd.moving_shapes, 1, 2, 16, 1, "bounce", False,
                                       "shapes", 0),
        # -- metrics
        T + "perplexity": lambda: C(mt.perplexity, _t(2, 3, 5), torch.tensor(
            [[0, 1, 2], [3, 4, 0]]), None),
        T + "bits_per_token": lambda: C(mt.bits_per_token, _t(2, 3, 5), torch.tensor(
            [[0, 1, 2], [3, 4, 0]]), None),
        T + "unigram_bigram_baselines": lambda: C(
            mt.unigram_bigram_baselines, torch.arange(20) % 5, torch.arange(10) % 5, 5,
            1.0),
        T + "accuracy": lambda: C(mt.accuracy, _t(4, 3), torch.tensor([0, 1, 2, 0])),
        T + "frechet_distance": lambda: C(mt.frechet_distance, _a(16, 3),
                                          _a(16, 3, seed=1)),
        T + "psnr": lambda: C(mt.psnr, torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8),
                              1.0, "mean"),
        T + "ssim": lambda: C(mt.ssim, torch.rand(2, 1, 16, 16),
                              torch.rand(2, 1, 16, 16), 1.0, 7, 1.5, 0.01, 0.03,
                              "mean"),
        T + "centroid_tracks": lambda: C(mt.centroid_tracks, torch.rand(1, 3, 8, 8),
                                         0.5),
        T + "trajectory_error": lambda: C(mt.trajectory_error, torch.rand(1, 3, 2),
                                          torch.rand(1, 3, 2), None),
        T + "static_frame_baseline": lambda: C(mt.static_frame_baseline,
                                               torch.rand(1, 4, 8, 8), 2),
    }
    reg.update(_helpers_and_kernels())
    reg.update(_grading_triton())
    reg.update(_claims())
    for calls, _ in _chapter_fuzz_files():
        reg.update(calls)
    return reg


def _chapter_fuzz_files() -> list[tuple[dict, dict]]:
    """Each chapter's own example calls and opt-outs: ``tests/<slug>/fuzz_calls.py``.

    A chapter keeps its fuzz entries next to its tests, so chapters never edit this
    file: the module defines ``calls() -> {"module.name": () -> Call}`` and may define
    ``OPT_OUT = {"module.name": "why"}``.
    """
    import importlib.util
    from pathlib import Path

    out = []
    for path in sorted(Path(__file__).parents[1].glob("*/fuzz_calls.py")):
        spec = importlib.util.spec_from_file_location(
            f"_fuzz_calls_{path.parent.name}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        out.append((mod.calls(), dict(getattr(mod, "OPT_OUT", {}))))
    return out


def chapter_opt_outs() -> dict[str, str]:
    """The opt-outs of every ``tests/<slug>/fuzz_calls.py``."""
    out: dict[str, str] = {}
    for _, opt in _chapter_fuzz_files():
        out.update(opt)
    return out


# ------------------------------------------------------------------ helpers
def _loaded_mem():
    mem = _mem()
    mem.put("q", _a(4, 2))
    return mem


@functools.cache
def _circuit():
    from effteach.looped_mlp import Circuit

    return Circuit(2, ["x", "y"])


def _program_fields():
    import dataclasses

    p = _program()
    return {f.name: getattr(p, f.name) for f in dataclasses.fields(p)}


def _lazy_run_fields():
    import dataclasses

    r = _lazy_run()
    return {f.name: getattr(r, f.name) for f in dataclasses.fields(r)}


def _demo_program_memory():
    from effteach.looped_mlp import demo, run

    program, _ = demo("multiply", 3, 2)
    return program, run(program).memory[-1]


def _helpers_and_kernels() -> dict:
    from effteach import device, grading, io, source, symbolic, testing, viz, zoo
    from effteach.kernels import attention as ka
    from effteach.kernels import foundations as kf
    from effteach.kernels import pebble_io as kp

    x16 = functools.partial(_t, 1, 2, 16, 16, dtype=torch.float32)
    return {
        "effteach.viz.book_mode": lambda: C(viz.book_mode),
        "effteach.viz.use_theme": lambda: C(viz.use_theme),
        "effteach.viz.live_note": lambda: C(viz.live_note, "f()", ("a",)),
        "effteach.testing.assert_close": lambda: C(testing.assert_close, _t(2),
                                                   _t(2), None),
        "effteach.testing.randn": lambda: C(testing.randn, (2, 3), seed=0),
        "effteach.device.check_kernel_dtype": lambda: C(device.check_kernel_dtype, "x",
                                                        _t(2, dtype=torch.float32)),
        "effteach.device.describe": lambda: C(device.describe),
        "effteach.device.as_on_a_gpu": lambda: C(device.as_on_a_gpu),
        "effteach.device.kernel_dtypes": lambda: C(device.kernel_dtypes),
        "effteach.source.highlight_html": lambda: C(source.highlight_html, "x = 1"),
        "effteach.source.listing": lambda: C(source.listing, device.kernel_dtypes,
                                             True),
        "effteach.source.listing_bundle": lambda: C(
            source.listing_bundle, source.listing(device.kernel_dtypes), True),
        "effteach.source.Listing": lambda: C(source.Listing, "f", "def f()", "s", "b",
                                             0),
        "effteach.symbolic.to_latex": lambda: C(symbolic.to_latex, _sym(), "x"),
        "effteach.symbolic.assert_identity": lambda: C(symbolic.assert_identity,
                                                       _sym(), _sym(), "same"),
        "effteach.show_source": lambda: C(_show_source(), device.kernel_dtypes, True,
                                          True),
        "effteach.symbolic.show": lambda: C(_show(), _sym(), "x"),
        "effteach.symbolic.assert_matches": lambda: C(
            symbolic.assert_matches, _sym(), [_sym().free_symbols.pop()],
            lambda x: x**2 + 1, {"x": (-1.0, 1.0)}, 4, 1e-9, 1e-12, 0),
        "effteach.symbolic.raw_sympy_outputs": lambda: C(symbolic.raw_sympy_outputs,
                                                         _notebook()),
        "effteach.viz.panel": lambda: C(viz.panel, _figure_builder, "f()", True,
                                        n=2),
        "effteach.viz.slider_figure": lambda: C(viz.slider_figure, _traces_at,
                                                [1, 2], "n", 0, "t", None, str),
        "effteach.zoo.save": lambda: C(zoo.save, "tiny", _dit(),
                                       {"steps": 1}, {"loss": 1.0}, _tmp("ckpt"),
                                       False),
        "effteach.grading.evaluate": lambda: C(grading.evaluate,
                                               grading.get("looped_mlp.q1").reference,
                                               "looped_mlp.q1", 2, 0),
        "effteach.grading.check": lambda: C(_check(),
                                            grading.get("looped_mlp.q1").reference,
                                            "looped_mlp.q1", 2, 0),
        "effteach.grading.Question": lambda: C(grading.Question, "x.q1", "p",
                                               "value", 1.0, 2.0, None, 1e-5, 1e-7),
        "effteach.grading.get": lambda: C(grading.get, "looped_mlp.q1"),
        "effteach.grading.questions_for": lambda: C(grading.questions_for,
                                                    "looped_mlp"),
        "effteach.grading.compare_arrays": lambda: C(grading.compare_arrays, _a(3),
                                                     _a(3), 1e-5, 1e-7, "x"),
        "effteach.io.atomic_write_text": lambda: C(io.atomic_write_text,
                                                   _tmp("a.txt"), "hi", "utf-8"),
        "effteach.io.atomic_write_bytes": lambda: C(io.atomic_write_bytes,
                                                    _tmp("a.bin"), b"hi"),
        "effteach.io.atomic_write": lambda: C(io.atomic_write, _tmp("b.txt"),
                                              lambda p: open(p, "w").close()),
        "effteach.zoo.names": lambda: C(zoo.names, None),
        "effteach.zoo.read_json": lambda: C(zoo.read_json, "tinydit_digits", "config",
                                            None),
        "effteach.zoo.load": lambda: C(zoo.load, "digit_classifier", None),
        "effteach.kernels.foundations.softmax_fwd": lambda: C(kf.softmax_fwd,
                                                              _t(3, 16,
                                                                 dtype=torch.float32)),
        "effteach.kernels.pebble_io.flash_attn_fwd": lambda: C(kp.flash_attn_fwd,
                                                               x16(seed=1), x16(seed=2),
                                                               x16(seed=3), False,
                                                               0.25),
        "effteach.kernels.pebble_io.flash_attn": lambda: C(kp.flash_attn, x16(seed=1),
                                                           x16(seed=2), x16(seed=3),
                                                           False, 0.25),
        "effteach.kernels.pebble_io.flash_attn_bwd": lambda: C(
            kp.flash_attn_bwd, *_fa_bwd_args(), False, 0.25),
        "effteach.kernels.pebble_io.model_bytes": lambda: C(kp.model_bytes, 64, 16, 4,
                                                            False, False, 16, 16),
        "effteach.kernels.attention.attention": lambda: C(
            ka.attention, x16(seed=1), x16(seed=2), x16(seed=3), True, 0.25,
            torch.tensor([5])),
        "effteach.kernels.attention.attention_fwd": lambda: C(
            ka.attention_fwd, x16(seed=1), x16(seed=2), x16(seed=3), False, 0.25,
            None),
        "effteach.kernels.attention.attention_mask": lambda: C(
            ka.attention_mask, 4, 6, True, torch.tensor([6, 3]), "cpu"),
    }


def _grading_triton() -> dict:
    from effteach import grading
    from effteach import grading_triton as gt
    from effteach.foundations.questions import launch_softmax

    G = "effteach.grading_triton."  # noqa: N806
    kernel = grading.get("foundations.q4").solution  # the staff kernel (interpreter)
    speed = gt.SPEED_TESTS["foundations.q4"]
    return {
        G + "kernel_mode": lambda: C(gt.kernel_mode, kernel, "foundations.q4"),
        G + "kernel_device": lambda: C(gt.kernel_device, kernel, "foundations.q4"),
        G + "guarded_empty": lambda: C(gt.guarded_empty, (2, 3), torch.float32,
                                       "cpu"),
        G + "check_guard": lambda: C(gt.check_guard,
                                     *gt.guarded_empty((2, 3), torch.float32),
                                     "out"),
        G + "explain": lambda: C(gt.explain, _kernel_error(kernel), kernel,
                                 "foundations.q4"),
        G + "kernel_launcher": lambda: C(gt.kernel_launcher, kernel, launch_softmax,
                                         "foundations.q4"),
        # re-registers the chapter's own timing (the registry is unchanged)
        G + "register_speed": lambda: C(gt.register_speed, "foundations.q4", speed),
        G + "staff_record": lambda: C(gt.staff_record, "foundations",
                                      dict(speed.record), gt.RESULTS_DIR),
        G + "compare_speed": lambda: C(_quiet(gt.compare_speed), kernel,
                                       "foundations.q4"),
        G + "SpeedTest": lambda: C(gt.SpeedTest, "fp32, 2 x 3", _speed_inputs,
                                   launch_softmax, _softmax_baseline,
                                   "torch.softmax", "foundations", {"n_cols": 3},
                                   "ratio_vs_torch"),
    }


def _kernel_error(kernel) -> BaseException:
    """What launching a kernel with the wrong arguments raises (a real error)."""
    try:
        kernel[(1,)](torch.zeros(3), torch.zeros(3), 3, 3, BLOCK_N=3)  # not a pow2
    except Exception as exc:  # the error explain turns into feedback
        return exc
    raise AssertionError("the launch was expected to fail")


def _speed_inputs():
    return (_t(2, 3, dtype=torch.float32),)


def _softmax_baseline(x):
    return torch.softmax(x, dim=-1)


def _fa_bwd_args():
    from effteach.kernels import pebble_io as kp

    q, k, v = (_t(1, 2, 16, 16, seed=s, dtype=torch.float32) for s in (1, 2, 3))
    o, lse = kp.flash_attn_fwd(q, k, v, False, 0.25)
    return q, k, v, o, lse, _t(1, 2, 16, 16, seed=4, dtype=torch.float32)


def _quiet(fn):
    import contextlib
    import io

    @functools.wraps(fn)
    def call(*args, **kwargs):
        with contextlib.redirect_stdout(io.StringIO()):
            return fn(*args, **kwargs)

    return call


def _show_source():
    import effteach

    return _quiet(effteach.show_source)


def _show():
    from effteach import symbolic

    return _quiet(symbolic.show)


def _check():
    from effteach import grading

    return _quiet(grading.check)


def _notebook():
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("1"))
    return nb


def _figure_builder(n=1):
    import plotly.graph_objects as go

    return go.Figure(go.Scatter(x=list(range(n)), y=list(range(n))))


def _traces_at(v):
    import plotly.graph_objects as go

    return [go.Scatter(x=[0, 1], y=[0, v])]


def _sym():
    import sympy as sp

    x = sp.Symbol("x")
    return x**2 + 1


@functools.cache
def _tmp_root():
    import atexit
    import shutil
    import tempfile

    root = tempfile.mkdtemp(prefix="effteach-fuzz-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def _tmp(name):
    import tempfile
    from pathlib import Path

    # a fresh folder per call (calls may write), all under one root removed at exit
    return Path(tempfile.mkdtemp(dir=_tmp_root())) / name


def _claims() -> dict:
    try:
        from effteach import claims as cl
    except ImportError:
        return {}
    K = "effteach.claims."  # noqa: N806
    return {
        K + "abstract_claims": lambda: C(cl.abstract_claims, "looped_mlp"),
        K + "all_claims": lambda: C(cl.all_claims),
        K + "chapter_claims": lambda: C(cl.chapter_claims, "looped_mlp"),
        K + "get": lambda: C(cl.get, cl.all_claims()[0].id),
        K + "validate": lambda: C(cl.validate, cl.all_claims()[0]),
        K + "verdict_counts": lambda: C(cl.verdict_counts, None),
        K + "CheckResult": lambda: C(cl.CheckResult, "holds", {"x": 1.0}, "d"),
        K + "Claim": lambda: C(cl.Claim, "x.c1", "2410.09375", "Sec. 1", "text",
                               "holds", "note", "What holds up", None, False),
        K + "Ledger": lambda: C(cl.Ledger, [], {}, "lecture", False),
        K + "Evidence": lambda: C(cl.Evidence, None),
    }
