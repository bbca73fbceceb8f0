"""The Triton FlashAttention against torch's attention kernels, on a GPU.

Run with ``python -m effteach.bench pebble_io``; writes ``results/gpu/pebble_io.json``.
First every size is checked against float32 attention (math backend) in fp16 and
bf16, forward and all three gradients. Then the kernel's tile configuration is
chosen per (head size, causal) from a few candidates at n = 8192, and forward and
backward are timed, interleaved in the same run, against
``scaled_dot_product_attention`` forced to the FLASH backend and to the cuDNN
backend, and against FlexAttention (compiled). Backward times are
``torch.autograd.grad`` of a retained graph for every implementation.

FLOPs: forward ``4 b h n^2 d`` (halved when causal), backward 2.5x the forward.

Book: notebooks/pebble_io/lecture.md, "On a GPU".
"""

from __future__ import annotations

import time
from functools import partial

import torch
import torch.nn.functional as F

from effteach.bench import time_interleaved

FWD_CANDIDATES = ((64, 64, 4, 3), (128, 64, 8, 3), (128, 64, 4, 3), (128, 128, 8, 3))
BWD_CANDIDATES = ((64, 64, 4, 2), (64, 64, 4, 3), (32, 64, 4, 2), (64, 128, 8, 2))


def _inputs(n, d, dtype, seed=0):
    b, h = max(1, 16384 // n), 2048 // d  # 16k tokens per batch, width 2048
    g = torch.Generator(device="cuda").manual_seed(seed)
    return [torch.randn(b, h, n, d, device="cuda", dtype=dtype, generator=g)
            for _ in range(4)], b, h


def _correctness(ns, ds):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from effteach.kernels.pebble_io import flash_attn

    rows = []
    for dtype in (torch.float16, torch.bfloat16):
        for d in ds:
            for n in ns:
                for causal in (False, True):
                    g = torch.Generator(device="cuda").manual_seed(n + d)
                    q, k, v = (torch.randn(1, 4, n, d, device="cuda", dtype=dtype,
                                           generator=g).requires_grad_()
                               for _ in range(3))
                    do = torch.randn(1, 4, n, d, device="cuda", dtype=dtype,
                                     generator=g)
                    o = flash_attn(q, k, v, causal)
                    grads = torch.autograd.grad(o, (q, k, v), do)
                    ref = [t.detach().float().requires_grad_() for t in (q, k, v)]
                    with sdpa_kernel(SDPBackend.MATH):
                        o_ref = F.scaled_dot_product_attention(*ref, is_causal=causal)
                    g_ref = torch.autograd.grad(o_ref, ref, do.float())
                    errs = [float((a.float() - b).abs().max())
                            for a, b in zip((o, *grads), (o_ref, *g_ref), strict=True)]
                    rows.append({"dtype": str(dtype).replace("torch.", ""),
                                 "d_head": d, "n_ctx": n, "causal": causal,
                                 "max_err_o": errs[0], "max_err_dq": errs[1],
                                 "max_err_dk": errs[2], "max_err_dv": errs[3]})
    return rows


def run(quick: bool = False) -> tuple[list[dict], dict]:
    """Check, tune and time; return (records, method notes incl. correctness)."""
    from tqdm import tqdm

    t_start = time.perf_counter()
    ns = [1024, 8192] if quick else [1024, 2048, 4096, 8192, 16384]
    ds = [64, 128]
    correctness = _correctness([1000, 4096] if quick else [1000, 4096, 16384], ds)
    dtype = torch.bfloat16
    # tile configuration per (d, causal), chosen at n = 8192
    chosen = {(d, c): _tune(d, c, dtype) for d in ds for c in (False, True)}
    try:
        import torch._functorch.config as functorch_config
        from torch.nn.attention.flex_attention import flex_attention

        # the timed backward re-runs a retained graph: no donated buffers
        functorch_config.donated_buffer = False
        # one compiled kernel per shape: past dynamo's default limit of 8 it would
        # silently run flex_attention eagerly, which materialises the n x n scores
        torch._dynamo.config.cache_size_limit = 64
        torch._dynamo.config.accumulated_cache_size_limit = 512
        flex = torch.compile(flex_attention)
    except Exception:  # pragma: no cover - older torch
        flex = None
    records = []
    for d in ds:
        for causal in (False, True):
            for n in tqdm(ns, desc=f"d={d} causal={causal}"):
                use_flex = flex is not None and time.perf_counter() - t_start < 360
                records += _time_shape(n, d, causal, dtype, chosen[(d, causal)],
                                       flex if use_flex else None, quick)
                torch.cuda.empty_cache()
    return records, {
        "flops": "fwd 4*b*h*n^2*d (/2 causal); bwd 2.5x fwd",
        "batch": "b = 16384 // n, n_heads = 2048 // d",
        "bwd_timing": "torch.autograd.grad of a retained graph, every implementation",
        "tile_configs": {f"d={d},causal={c}": {"fwd": list(v[0]), "bwd": list(v[1])}
                         for (d, c), v in chosen.items()},
        "correctness": correctness,
        "reference": "float32 inputs, SDPBackend.MATH",
    }


def _tune(d, causal, dtype):
    """The fastest (forward, backward) tile configuration at n = 8192."""
    from triton.testing import do_bench

    from effteach.kernels.pebble_io import flash_attn_bwd, flash_attn_fwd

    (q, k, v, do), _, _ = _inputs(8192, d, dtype)
    fwd = {}
    for c in FWD_CANDIDATES:
        fwd[c] = do_bench(partial(flash_attn_fwd, q, k, v, causal, config=c),
                          warmup=10, rep=50)
    o, lse = flash_attn_fwd(q, k, v, causal)
    bwd = {}
    for c in BWD_CANDIDATES:
        bwd[c] = do_bench(partial(flash_attn_bwd, q, k, v, o, lse, do, causal,
                                  config=c), warmup=10, rep=50)
    return min(fwd, key=fwd.get), min(bwd, key=bwd.get)


def _sdpa(backend, causal):
    from torch.nn.attention import sdpa_kernel

    def f(x, y, z):
        with sdpa_kernel(backend):
            return F.scaled_dot_product_attention(x, y, z, is_causal=causal)

    return f


def _time_shape(n, d, causal, dtype, configs, flex, quick):
    """Forward and backward records of every implementation at one shape."""
    from torch.nn.attention import SDPBackend

    (q, k, v, do), b, h = _inputs(n, d, dtype)
    flops = 4 * b * h * n * n * d / (2 if causal else 1)
    leaves = [t.clone().requires_grad_() for t in (q, k, v)]
    cfg_f, cfg_b = configs
    impls = {
        "triton": partial(_tuned, causal=causal, cfg_f=cfg_f, cfg_b=cfg_b),
        "sdpa_flash": _sdpa(SDPBackend.FLASH_ATTENTION, causal),
        "sdpa_cudnn": _sdpa(SDPBackend.CUDNN_ATTENTION, causal),
    }
    if flex is not None:
        from torch.nn.attention.flex_attention import create_block_mask

        mask = (create_block_mask(_causal_mod, None, None, n, n) if causal else None)
        impls["flex"] = partial(flex, block_mask=mask)
    fwd_fns, bwd_fns = {}, {}
    for name, fn in impls.items():
        fwd_fns[name] = partial(fn, q, k, v)
        out = fn(*leaves)
        bwd_fns[name] = partial(torch.autograd.grad, out, leaves, do,
                                retain_graph=True)
    ms_f = time_interleaved(fwd_fns, rounds=3 if quick else 5)
    ms_b = time_interleaved(bwd_fns, rounds=3 if quick else 5)
    records = []
    for pas, ms, mult in (("fwd", ms_f, 1.0), ("bwd", ms_b, 2.5)):
        for name, t in ms.items():
            records.append({
                "impl": name, "pass": pas, "dtype": str(dtype).replace("torch.", ""),
                "d_head": d, "n_ctx": n, "causal": causal, "batch": b,
                "n_heads": h, "ms": t, "tflops": mult * flops / (t * 1e-3) / 1e12,
                "ratio_vs_sdpa_flash": ms["sdpa_flash"] / t,
                "ratio_vs_sdpa_cudnn": ms["sdpa_cudnn"] / t,
                "config": list(cfg_f if pas == "fwd" else cfg_b)
                if name == "triton" else None,
            })
    return records


def _causal_mod(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


def _tuned(q, k, v, causal, cfg_f, cfg_b):
    return _Tuned.apply(q, k, v, causal, cfg_f, cfg_b)


class _Tuned(torch.autograd.Function):
    """FlashAttnFunction with explicit tile configurations (for the benchmark)."""

    @staticmethod
    def forward(ctx, q, k, v, causal, cfg_f, cfg_b):  # noqa: D102
        from effteach.kernels.pebble_io import flash_attn_fwd

        o, lse = flash_attn_fwd(q, k, v, causal, config=cfg_f)
        ctx.save_for_backward(q, k, v, o, lse)
        ctx.causal, ctx.cfg_b = causal, cfg_b
        return o

    @staticmethod
    def backward(ctx, do):  # noqa: D102
        from effteach.kernels.pebble_io import flash_attn_bwd

        q, k, v, o, lse = ctx.saved_tensors
        dq, dk, dv = flash_attn_bwd(q, k, v, o, lse, do, ctx.causal,
                                    config=ctx.cfg_b)
        return dq, dk, dv, None, None, None
