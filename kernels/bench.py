"""Every attention kernel of the book against SDPA, as a user calls it.

``python -m effteach.bench kernels`` (on a GPU) writes ``results/gpu/kernels.json``.
Each shape is timed in one interleaved run (``time_interleaved``: do_bench medians,
L2 flushed before every repetition), with inputs made as a model makes them: a
``(batch, n, heads, d)`` tensor transposed to ``(batch, heads, n, d)``, not
contiguous, and the default call path of every kernel (no per-call tuning).

Contenders, dense (forward, and forward + backward through ``autograd.grad``):

* ``sdpa_flash`` / ``sdpa_cudnn``: ``scaled_dot_product_attention`` with the backend
  forced;
* ``teaching``: :func:`effteach.kernels.pebble_io.flash_attn`;
* ``tuned``: :func:`effteach.kernels.attention.attention`.

Decoding shapes (``n_q < n_k``, bottom-right causal) compare ``tuned`` with SDPA
given the same boolean mask (``EFFICIENT``, the backend that takes one).

Book: notebooks/pebble_io/lecture.md (issue "Kernels at H200 speed").
"""

from __future__ import annotations

import math
import time

import torch

#: (batch, heads, n, d, causal): the issue's grid, small batch x heads included
DENSE_SHAPES = tuple(
    (b, h, n, d, c)
    for (b, h, n, d) in ((2, 16, 8192, 128), (1, 8, 16384, 128), (4, 16, 4096, 64),
                         (1, 2, 4097, 64), (1, 16, 1024, 128), (1, 4, 65536, 128),
                         (1, 2, 131072, 128))
    for c in (False, True)
)
#: (batch, heads, n_q, n_k, d): decoding with a cache and a chunked prefill
DECODE_SHAPES = ((8, 32, 1, 8192, 128), (4, 32, 16, 32768, 128),
                 (1, 16, 1024, 16384, 128))
QUICK_DENSE = ((1, 2, 1024, 64, False), (1, 2, 1024, 64, True))
#: (batch, heads, n, d, causal): the shapes of the ablation, one switch at a time
ABLATION_SHAPES = tuple((b, h, n, 128, c) for (b, h, n) in ((2, 16, 8192),
                                                           (1, 8, 16384))
                        for c in (False, True))
#: the ablation's steps: (name, forward config or None for the per-shape pick,
#: forward flags, backward flags); "teaching" is the pebble_io kernel
ABLATION_STEPS = (
    ("strided, one pinned config", (128, 64, 8, 3),
     {"SPLIT": False, "TMA": False, "REVERSE": False}, {"SPLIT": False}),
    ("+ unmasked/diagonal stages", (128, 64, 8, 3),
     {"SPLIT": True, "TMA": False, "REVERSE": False}, {"SPLIT": True}),
    ("+ per-shape config", None,
     {"SPLIT": True, "TMA": False, "REVERSE": False}, {"SPLIT": True}),
    ("+ TMA loads of K and V", None,
     {"SPLIT": True, "TMA": True, "REVERSE": False}, {"SPLIT": True}),
    ("+ longest rows first", None,
     {"SPLIT": True, "TMA": True, "REVERSE": True}, {"SPLIT": True}),
)
QUICK_DECODE = ((2, 4, 16, 1024, 64),)
#: (batch, heads, n, d, causal): short kernels, where the host's time per call shows;
#: the public call with Triton's launch and with the direct launch of the cached kernel
LAUNCH_SHAPES = ((1, 2, 4097, 64, False), (1, 2, 4097, 64, True),
                 (1, 16, 1024, 128, True))
DEV = "cuda"


def _flops(b, h, n_q, n_k, d, causal):
    """Forward FLOPs: two matmuls, halved when causal (n_q = n_k)."""
    f = 4 * b * h * n_q * n_k * d
    return f / 2 if causal else f


def _inputs(b, h, n_q, n_k, d, dtype, seed=0):
    gen = torch.Generator(device=DEV).manual_seed(seed)

    def make(n):  # (b, n, h, d) transposed: the layout a model produces
        return torch.randn(b, n, h, d, generator=gen, device=DEV, dtype=torch.float32
                           ).to(dtype).transpose(1, 2)
    return make(n_q), make(n_k), make(n_k), make(n_q).contiguous()


def _sdpa(backend, causal, mask=None):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    be = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
          "efficient": SDPBackend.EFFICIENT_ATTENTION, "math": SDPBackend.MATH}[backend]

    def f(q, k, v):
        with sdpa_kernel([be]):
            return torch.nn.functional.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, is_causal=causal and mask is None)
    return f


def _fwd_bwd(f, q, k, v, do):
    q, k, v = (t.detach().requires_grad_() for t in (q, k, v))
    out = f(q, k, v)
    return torch.autograd.grad(out, (q, k, v), do)


def _time(fns, rounds, rep_ms):
    from effteach.bench import time_on

    return time_on(DEV, fns, rounds, rep_ms)


def ratios(ms: dict[str, float], ours: str, against: tuple[str, ...]) -> dict:
    """``their time / our time`` for each baseline that was timed (> 1: we win).

    Args:
        ms: contender -> milliseconds.
        ours: the contender whose speed is reported.
        against: the baselines.

    Returns:
        ``{f"{ours}_vs_{b}": ms[b] / ms[ours]}`` for the baselines present.
    """
    if not isinstance(ms, dict):
        raise TypeError(f"ms: expected a dict of contender -> ms, got {ms!r}")
    if not isinstance(ours, str):
        raise TypeError(f"ours: expected a contender name, got {ours!r}")
    if ours not in ms:
        raise ValueError(f"ours: {ours!r} was not timed (timed: {sorted(ms)})")
    if not isinstance(against, (tuple, list)) or not all(
            isinstance(b, str) for b in against):
        raise TypeError(f"against: expected a tuple of names, got {against!r}")
    if not ms[ours] > 0:
        raise ValueError(f"ms: expected a positive time for {ours!r}, got {ms}")
    return {f"{ours}_vs_{b}": ms[b] / ms[ours] for b in against if ms.get(b)}


def _dense(shape, dtype, rounds, rep_ms):
    from effteach.kernels.attention import attention
    from effteach.kernels.pebble_io import flash_attn

    b, h, n, d, causal = shape
    q, k, v, do = _inputs(b, h, n, n, d, dtype)
    fwd = {"sdpa_flash": _sdpa("flash", causal), "sdpa_cudnn": _sdpa("cudnn", causal),
           "teaching": lambda q, k, v: flash_attn(q, k, v, causal),
           "tuned": lambda q, k, v: attention(q, k, v, causal)}
    if DEV != "cuda":  # the smoke run: no FLASH/cuDNN on a CPU
        fwd = {"sdpa_math": _sdpa("math", causal), "teaching": fwd["teaching"],
               "tuned": fwd["tuned"]}
    fns, errors = {}, {}
    for name, f in fwd.items():
        try:
            f(q, k, v)
            _fwd_bwd(f, q, k, v, do)
        except (RuntimeError, ValueError) as exc:  # a backend that does not run here
            errors[name] = str(exc).splitlines()[0][:200]
            continue
        fns[f"{name}_fwd"] = lambda f=f: f(q, k, v)
        fns[f"{name}_fwdbwd"] = lambda f=f: _fwd_bwd(f, q, k, v, do)
    ms = _time(fns, rounds, rep_ms)
    base = ("sdpa_flash", "sdpa_cudnn", "sdpa_math", "teaching")
    rec = {"kind": "dense", "batch": b, "heads": h, "n_q": n, "n_k": n, "d": d,
           "causal": causal, "dtype": str(dtype).split(".")[1], "ms": ms,
           "errors": errors,
           "tflops_fwd": {k: _flops(b, h, n, n, d, causal) / v / 1e9
                          for k, v in ms.items() if k.endswith("_fwd")}}
    for part in ("fwd", "fwdbwd"):
        part_ms = {k.rsplit("_", 1)[0]: v for k, v in ms.items()
                   if k.endswith(f"_{part}")}
        if "tuned" in part_ms:
            rec[f"ratios_{part}"] = ratios(part_ms, "tuned", base)
    return rec


def _decode(shape, dtype, rounds, rep_ms):
    from effteach.kernels.attention import attention, attention_mask

    b, h, n_q, n_k, d = shape
    q, k, v, _ = _inputs(b, h, n_q, n_k, d, dtype)
    mask = attention_mask(n_q, n_k, True, device=DEV)
    fns = {"sdpa_efficient_fwd": lambda: _sdpa("efficient", False, mask)(q, k, v),
           "tuned_fwd": lambda: attention(q, k, v, causal=True)}
    if DEV != "cuda":
        fns["sdpa_efficient_fwd"] = lambda: _sdpa("math", False, mask)(q, k, v)
    ref = fns["sdpa_efficient_fwd"]().float()
    err = float((fns["tuned_fwd"]().float() - ref).abs().max())
    ms = _time(fns, rounds, rep_ms)
    return {"kind": "decode", "batch": b, "heads": h, "n_q": n_q, "n_k": n_k, "d": d,
            "causal": True, "dtype": str(dtype).split(".")[1], "ms": ms,
            "max_abs_err_vs_sdpa": err,
            "ratios_fwd": ratios({"tuned": ms["tuned_fwd"],
                                  "sdpa_efficient": ms["sdpa_efficient_fwd"]},
                                 "tuned", ("sdpa_efficient",))}


def _ablation(shape, dtype, rounds, rep_ms):
    """One switch of the tuned kernel at a time, from the teaching kernel up."""
    from effteach.kernels import attention as A
    from effteach.kernels.pebble_io import flash_attn

    b, h, n, d, causal = shape
    q, k, v, do = _inputs(b, h, n, n, d, dtype)
    fns = {"teaching_fwd": lambda: flash_attn(q, k, v, causal),
           "teaching_fwdbwd": lambda: _fwd_bwd(
               lambda a, b_, c: flash_attn(a, b_, c, causal), q, k, v, do),
           "sdpa_cudnn_fwd": lambda: _sdpa("cudnn", causal)(q, k, v),
           "sdpa_cudnn_fwdbwd": lambda: _fwd_bwd(_sdpa("cudnn", causal), q, k, v, do)}
    if DEV != "cuda":
        fns = {k_: f for k_, f in fns.items() if not k_.startswith("sdpa")}
    for name, cfg, fflags, bflags in ABLATION_STEPS:
        if fflags["REVERSE"] and not causal:
            continue

        def fwd(cfg=cfg, fflags=fflags):
            return A._fwd(q, k, v, causal, None, None, config=cfg, flags=fflags)

        def fwdbwd(fwd=fwd, bflags=bflags):
            o, lse = fwd()
            return A._bwd(q, k, v, o, lse, do, causal, None, None, flags=bflags)
        fwd()
        fwdbwd()
        fns[f"{name}_fwd"] = fwd
        fns[f"{name}_fwdbwd"] = fwdbwd
    ms = _time(fns, rounds, rep_ms)
    return {"kind": "ablation", "batch": b, "heads": h, "n_q": n, "n_k": n, "d": d,
            "causal": causal, "dtype": str(dtype).split(".")[1], "ms": ms,
            "tflops_fwd": {k_: _flops(b, h, n, n, d, causal) / t / 1e9
                           for k_, t in ms.items() if k_.endswith("_fwd")}}


def _host_us(fn, calls: int = 300) -> float:
    """Host microseconds per call: ``calls`` calls back to back, no sync between."""
    fn()
    if DEV == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    dt = time.perf_counter() - t0
    if DEV == "cuda":
        torch.cuda.synchronize()
    return 1e6 * dt / calls


def _launch(shape, dtype, rounds, rep_ms):
    """The public forward with Triton's launch and with the direct one, and FLASH."""
    from effteach.kernels import launch
    from effteach.kernels.attention import attention

    b, h, n, d, causal = shape
    q, k, v, _ = _inputs(b, h, n, n, d, dtype)

    def tuned(direct):
        def f():
            launch.DIRECT = direct
            return attention(q, k, v, causal)
        return f

    sdpa = _sdpa("flash" if DEV == "cuda" else "math", causal)
    fns = {"sdpa_flash_fwd": lambda: sdpa(q, k, v), "triton_launch_fwd": tuned(False),
           "direct_launch_fwd": tuned(True)}
    was = launch.DIRECT
    try:
        same = torch.equal(fns["triton_launch_fwd"](), fns["direct_launch_fwd"]())
        calls = 300 if DEV == "cuda" else 2  # the interpreter takes ms a call
        host = {name: _host_us(f, calls) for name, f in fns.items()}
        ms = _time(fns, rounds, rep_ms)
    finally:
        launch.DIRECT = was
    return {"kind": "launch", "batch": b, "heads": h, "n_q": n, "n_k": n, "d": d,
            "causal": causal, "dtype": str(dtype).split(".")[1], "ms": ms,
            "host_us": host, "same_output": same,
            "ratios_fwd": {f"{x}_vs_sdpa_flash": ms["sdpa_flash_fwd"] / ms[f"{x}_fwd"]
                           for x in ("triton_launch", "direct_launch")}}


def ceilings(dtype=torch.bfloat16) -> dict[str, float]:
    """The GPU's measured ceilings: a large matmul (TFLOP/s) and a copy (TB/s)."""
    if DEV != "cuda":
        return {}
    from triton.testing import do_bench

    a = torch.randn(8192, 8192, device=DEV).to(dtype)
    b_ = torch.randn(8192, 8192, device=DEV).to(dtype)
    ms = do_bench(lambda: a @ b_, warmup=25, rep=200, return_mode="median")
    x = torch.randn(2 ** 30 // 4, device=DEV)  # 1 GiB
    y = torch.empty_like(x)
    ms_copy = do_bench(lambda: y.copy_(x), warmup=25, rep=200, return_mode="median")
    return {"matmul_tflops": 2 * 8192 ** 3 / ms / 1e9,
            "copy_tb_per_s": 2 * x.numel() * 4 / ms_copy / 1e9}


#: (batch, heads, n_q, n_k, d, causal, kv_lens): the GPU correctness cases
CHECK_CASES = ((2, 4, 1000, 1000, 128, True, None), (2, 4, 777, 777, 64, False, None),
               (2, 4, 64, 3000, 128, True, None), (2, 4, 500, 2000, 128, True,
                                                   (2000, 1234)),
               (1, 2, 4097, 4097, 64, True, None))
#: the forward switches checked: the default, every switch on, and the stage split off
CHECK_FLAGS = ({"SPLIT": True, "TMA": False, "REVERSE": False},
               {"SPLIT": True, "TMA": True, "REVERSE": True},
               {"SPLIT": False, "TMA": False, "REVERSE": False})


def correctness(cases=CHECK_CASES, dtypes=(torch.bfloat16, torch.float16)):
    """The tuned kernel, forward and backward, against float64 masked attention.

    Returns:
        One record per (case, dtype, switches): ``||x - ref|| / ||ref||`` for the
        output and the three gradients, and ``ok`` (all under 1e-2, no NaN).
    """
    from effteach.kernels import attention as A

    out = []
    for (b, h, n_q, n_k, d, causal, lens) in cases:
        for dtype in dtypes:
            q, k, v, _ = _inputs(b, h, n_q, n_k, d, dtype, seed=n_q)
            do = torch.randn(b, h, n_q, d, device=DEV, generator=torch.Generator(
                device=DEV).manual_seed(1)).to(dtype)
            kv = None if lens is None else torch.tensor(lens, device=DEV)
            mask = A.attention_mask(n_q, n_k, causal, kv, device=DEV)
            ref_in = [t.detach().double().requires_grad_() for t in (q, k, v)]
            s = (ref_in[0] @ ref_in[1].transpose(-1, -2)) / math.sqrt(d)
            ref = torch.softmax(s.masked_fill(~mask, -math.inf), -1).nan_to_num(0.0)
            ref = ref @ ref_in[2]
            grads = torch.autograd.grad(ref, ref_in, do.double())
            for flags in CHECK_FLAGS:
                o, lse = A._fwd(q, k, v, causal, None, kv, flags=flags)
                got = A._bwd(q, k, v, o, lse, do, causal, None, kv,
                             flags={"SPLIT": flags["SPLIT"]})
                errs = {name: float((x.double() - r).norm() / r.norm())
                        for name, x, r in zip(("o", "dq", "dk", "dv"), (o, *got),
                                              (ref.detach(), *grads), strict=True)}
                out.append({"batch": b, "heads": h, "n_q": n_q, "n_k": n_k, "d": d,
                            "causal": causal, "kv_lens": lens,
                            "dtype": str(dtype).split(".")[1], "flags": flags,
                            "rel_err_vs_float64": errs,
                            "ok": all(e < 1e-2 for e in errs.values())})
    return out


def run(quick: bool = False, dtype=torch.bfloat16, dense=None, decode=None,
        ablation=None, checks=None, check_dtypes=(torch.bfloat16, torch.float16),
        launches=None):
    """Records and method (called by :mod:`effteach.bench`)."""
    from tqdm.auto import tqdm

    from effteach.kernels import launch

    dense = dense or (QUICK_DENSE if quick else DENSE_SHAPES)
    decode = decode or (QUICK_DECODE if quick else DECODE_SHAPES)
    rounds, rep = (2, 10) if quick else (3, 25)
    records = []
    for shape in tqdm(dense, desc="dense"):
        records.append(_dense(shape, dtype, rounds, rep))
        if DEV == "cuda":
            torch.cuda.empty_cache()
    for shape in tqdm(decode, desc="decode"):
        records.append(_decode(shape, dtype, rounds, rep))
    ablation = ablation or (() if quick else ABLATION_SHAPES)
    for shape in tqdm(ablation, desc="ablation"):
        records.append(_ablation(shape, dtype, rounds, rep))
        if DEV == "cuda":
            torch.cuda.empty_cache()
    for shape in tqdm(launches or (() if quick else LAUNCH_SHAPES), desc="launch"):
        records.append(_launch(shape, dtype, rounds, rep))
    records.append({"kind": "ceilings", **ceilings(dtype)})
    checks = checks or (CHECK_CASES[:1] if quick else CHECK_CASES)
    method = {"correctness": correctness(checks, check_dtypes),
              "dtype": str(dtype).split(".")[1],
              "inputs": "(batch, n, heads, d) transposed to (batch, heads, n, d)",
              "work": "forward; forward + backward via torch.autograd.grad",
              "ratio": "baseline ms / tuned ms (> 1: the tuned kernel is faster)",
              "direct_launch": launch.DIRECT}
    return records, method


def smoke() -> list[dict]:
    """The CPU run of the same code (interpreter, tiny shapes, float32)."""
    global DEV
    old, DEV = DEV, "cpu"
    try:
        return run(quick=True, dtype=torch.float32,
                   dense=((1, 2, 40, 16, False), (1, 2, 40, 16, True)),
                   decode=((1, 2, 3, 50, 16),),
                   ablation=((1, 2, 40, 16, True),),
                   launches=((1, 2, 40, 16, True),),
                   checks=((1, 2, 9, 21, 16, True, (21,)),),
                   check_dtypes=(torch.float32,))[0]
    finally:
        DEV = old
