"""H200 benchmark: polynomial attention (torch, Triton) vs SDPA, fwd+bwd, causal.

``python -m effteach.bench poly_attention`` (on a GPU) writes
``results/gpu/poly_attention.json``. Contenders, all causal, forward + backward
(``torch.autograd.grad`` of ``out`` against a fixed upstream gradient), bf16,
shape (batch, n_heads, n_ctx, d_head):

* ``sdpa_flash`` / ``sdpa_cudnn``: ``scaled_dot_product_attention`` with the
  backend forced (``torch.nn.attention.sdpa_kernel``);
* ``poly_paper``: :func:`~effteach.poly_attention.poly_attention` with the paper's
  low-rank backward (rank r d + r for dS);
* ``poly_features``: the same forward, autograd through it (rank r);
* ``poly_triton``: the chunked Triton kernel of :mod:`effteach.kernels.poly_attention`
  (forward and backward; the feature map in torch, differentiated by autograd).

Beside each size: the error of every contender's output and gradients against
SDPA's memory-efficient backend in float32 on the same inputs (no n x n tensor
there either), and the largest logit of a sample of rows. The inputs are scaled so
that the logits stay near the paper's bounded regime (``logit_std``); one extra
size is measured with unscaled N(0, 1) inputs, to show the error when they are not.

Book: notebooks/poly_attention/lecture.md, "On a GPU".
"""

from __future__ import annotations

import math

import torch

from effteach.bench import time_on
from effteach.poly_attention.attention import poly_attention
from effteach.poly_attention.features import feature_rank

#: the measured configuration
CONFIG = {"batch": 2, "n_heads": 8, "d_head": 16, "degree": 2, "chunk": 128,
          "dtype": "bfloat16", "logit_std": 0.18}
SIZES = (1024, 2048, 4096, 8192, 16384, 32768)
#: the device; ``python -m effteach.poly_attention.bench --smoke`` runs on the CPU
DEV = "cuda"


def _sdpa(backend):
    from torch.nn.attention import SDPBackend, sdpa_kernel

    be = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
          "efficient": SDPBackend.EFFICIENT_ATTENTION,
          "math": SDPBackend.MATH}[backend]

    def f(q, k, v):
        with sdpa_kernel([be]):
            return torch.nn.functional.scaled_dot_product_attention(
                q, k, v, is_causal=True)
    return f


def _poly(route):
    def f(q, k, v):
        return poly_attention(q, k, v, degree=CONFIG["degree"], causal=True,
                              backward=route, chunk=CONFIG["chunk"])
    return f


def _poly_triton(q, k, v):
    from effteach.kernels.poly_attention import poly_attention_triton

    return poly_attention_triton(q, k, v, degree=CONFIG["degree"])


CONTENDERS = {"sdpa_flash": _sdpa("flash"), "sdpa_cudnn": _sdpa("cudnn"),
              "poly_paper": _poly("paper"), "poly_features": _poly("features"),
              "poly_triton": _poly_triton}
#: the polynomial contenders, in the order the summary prefers them
POLY = ("poly_triton", "poly_paper", "poly_features")


def _inputs(n, sigma, dtype, seed=0):
    gen = torch.Generator(device=DEV).manual_seed(seed)
    shape = (CONFIG["batch"], CONFIG["n_heads"], n, CONFIG["d_head"])
    q, k = (torch.randn(shape, generator=gen, device=DEV) * sigma
            for _ in range(2))
    v, g = (torch.randn(shape, generator=gen, device=DEV) for _ in range(2))
    return [t.to(dtype) for t in (q, k, v, g)]


def _fwd_bwd(f, q, k, v, g):
    q, k, v = (t.detach().requires_grad_() for t in (q, k, v))
    out = f(q, k, v)
    return (out, *torch.autograd.grad(out, (q, k, v), g))


def _max_logit(q, k):
    s = 1 / math.sqrt(q.shape[-1])
    qs = q[0, 0, -1024:].float()  # the last rows see every key
    return float((s * qs @ k[0, 0].float().T).abs().max())


def _errors(n, sigma, dtype=torch.bfloat16):
    """Relative errors of every contender vs SDPA-efficient fp32 at one size."""
    q, k, v, g = _inputs(n, sigma, torch.float32)
    ref = _fwd_bwd(_sdpa("efficient" if DEV == "cuda" else "math"), q, k, v, g)
    out = {"max_logit": _max_logit(q, k)}
    for name, f in CONTENDERS.items():
        try:
            got = _fwd_bwd(f, *(t.to(dtype) for t in (q, k, v, g)))
        except (RuntimeError, ValueError) as exc:  # a backend that does not run here
            out[name] = str(exc).splitlines()[0][:200]
            continue
        errs = [float((a.float() - b).norm() / b.norm()) for a, b in zip(got, ref,
                                                                           strict=True)]
        out[name] = {"out": errs[0], "dq": errs[1], "dk": errs[2], "dv": errs[3]}
        del got
    del ref
    if DEV == "cuda":
        torch.cuda.empty_cache()
    return out


def _correctness():
    """fp32 (and float64) poly vs the dense references on the GPU, small n."""
    from effteach.poly_attention.reference import attention_ref, poly_attention_ref

    gen = torch.Generator(device=DEV).manual_seed(1)
    q, k, v, g = (torch.randn(2, 2, 300, 8, generator=gen, device=DEV,
                              dtype=torch.float64) * 0.6 for _ in range(4))
    res = {}
    for route in ("paper", "features"):
        got = _fwd_bwd(lambda a, b, c, route=route: poly_attention(
            a, b, c, degree=8, causal=True, backward=route), q, k, v, g)
        exact = _fwd_bwd(lambda a, b, c: attention_ref(a, b, c, causal=True),
                         q, k, v, g)
        dense = poly_attention_ref(q, k, v, degree=8, causal=True)
        res[route] = {
            "out_vs_dense_poly": float((got[0] - dense).abs().max()),
            "grads_vs_exact_rel": max(float((a - b).norm() / b.norm())
                                      for a, b in zip(got[1:], exact[1:],
                                                      strict=True))}
    return res


def _sync():
    if DEV == "cuda":
        torch.cuda.synchronize()


def _time(fns, quick):
    return time_on(DEV, fns, rounds=2 if quick else 3, rep_ms=25)


def _peak(fn):
    if DEV != "cuda":
        return None
    torch.cuda.reset_peak_memory_stats()
    fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated()


def summary(records, name: str | None = None):
    """Crossover n and speedups of a polynomial contender against ``sdpa_flash``.

    Args:
        records: the ``records`` list of the results file.
        name: the contender; default the first of :data:`POLY` that was timed
            (the Triton kernel when the run has it).

    Returns:
        ``{"contender": name, "crossover_n_ctx": first n where it is faster (or
        None), "speedup": {n: flash_ms / its ms}}``.
    """
    ms = {(r["name"], r["n_ctx"]): r["ms"] for r in records if r.get("ms")}
    if name is None:
        name = next((p for p in POLY if any(k[0] == p for k in ms)), POLY[-1])
    elif name not in POLY:
        raise ValueError(f"name: expected one of {POLY}, got {name!r}")
    ns = sorted({n for _, n in ms})
    speed = {n: ms[("sdpa_flash", n)] / ms[(name, n)] for n in ns
             if ("sdpa_flash", n) in ms and (name, n) in ms}
    cross = next((n for n in sorted(speed) if speed[n] > 1), None)
    return {"contender": name, "crossover_n_ctx": cross,
            "speedup": {str(n): v for n, v in speed.items()}}


def run(quick: bool = False, sizes=None, dtype=torch.bfloat16):
    """Records and method of the benchmark (called by :mod:`effteach.bench`)."""
    sizes = sizes or (SIZES[:2] if quick else SIZES)
    sigma = math.sqrt(CONFIG["logit_std"])  # logit std = sigma^2 for d_head = 16
    records = []
    for n in sizes:
        q, k, v, g = _inputs(n, sigma, dtype)
        fns = {}
        for name, f in CONTENDERS.items():
            try:
                _fwd_bwd(f, q, k, v, g)
                fns[name] = (lambda f=f, t=(q, k, v, g): _fwd_bwd(f, *t))
            except (RuntimeError, ValueError) as exc:
                records.append({"name": name, "n_ctx": n, "ms": None,
                                "error": str(exc).splitlines()[0][:200]})
        _sync()
        ms = _time(fns, quick)
        peak = {name: _peak(fn) for name, fn in fns.items()}
        errs = _errors(n, sigma, dtype)
        for name, t in ms.items():
            records.append({"name": name, "n_ctx": n, "ms": t,
                            "peak_bytes": peak[name], "max_logit": errs["max_logit"],
                            "rel_err": errs.get(name)})
        del q, k, v, g, fns
        if DEV == "cuda":
            torch.cuda.empty_cache()
        print(f"n={n}: " + ", ".join(f"{a} {b:.3f} ms" for a, b in ms.items()),
              flush=True)
    unscaled = _errors(sizes[min(3, len(sizes) - 1)], 1.0, dtype)
    method = {
        **CONFIG,
        "rank": feature_rank(CONFIG["d_head"], CONFIG["degree"]),
        "work": "causal attention forward + backward (autograd.grad), bf16",
        "sizes": list(sizes),
        "reference_for_errors": "SDPA EFFICIENT backend, float32, same inputs",
        "unscaled_inputs": {"n_ctx": sizes[min(3, len(sizes) - 1)], **unscaled},
        "summary": summary(records),
        "summary_by_contender": {p: summary(records, p) for p in POLY
                                 if any(r["name"] == p and r.get("ms")
                                        for r in records)},
        "correctness": _correctness(),
    }
    return records, method


def main(argv=None) -> int:
    """``python -m effteach.poly_attention.bench --smoke --out DIR``: a CPU run."""
    import argparse
    import json
    from pathlib import Path

    global DEV
    ap = argparse.ArgumentParser(prog="effteach.poly_attention.bench")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, CPU, fp32")
    args = ap.parse_args(argv)
    if args.smoke or not torch.cuda.is_available():
        DEV = "cpu"
        records, method = run(sizes=(128, 256), dtype=torch.float32)
    else:
        records, method = run()
    from effteach.io import atomic_write_text

    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "poly_attention_smoke.json",
                      json.dumps({"records": records, "method": method}, indent=1))
    print(json.dumps(method["summary"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
