"""Ledger of the foundations chapter: the claims its lecture makes (it has no paper).

Book: notebooks/foundations/lecture.md, "What the paper leaves open".
"""

from __future__ import annotations

import math

from effteach.claims.registry import CheckResult, Evidence, claim

GPU_FILE = "results/gpu/foundations.json"


def _softmax_jacobian(ev: Evidence) -> CheckResult:
    import sympy as sp
    import torch

    from effteach import foundations as F

    z = sp.Matrix(sp.symbols("z0:3", real=True))
    p = z.applyfunc(sp.exp) / sum(sp.exp(zi) for zi in z)
    residual = sp.simplify(p.jacobian(z) - (sp.diag(*p) - p * p.T))
    symbolic_ok = residual == sp.zeros(3, 3)
    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(7, dtype=torch.float64, generator=g)
    auto = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, -1), z0)
    err = float((F.softmax_jacobian_ref(F.softmax_ref(z0)) - auto).abs().max())
    ok = symbolic_ok and err < 1e-12
    return CheckResult("holds" if ok else "fails",
                       {"SymPy residual is 0": bool(symbolic_ok),
                        "max |ref - autograd|": err})


claim("foundations.softmax_jacobian", paper=None, where="lecture, Theorem",
      text="The softmax Jacobian is diag(p) − p pᵀ, symmetric, with J 1 = 0.",
      verdict="holds", section="the-softmax-jacobian",
      note="SymPy differentiates the definition (3 logits); the library's "
           "softmax_jacobian_ref equals torch autograd.")(_softmax_jacobian)


def _delta_identity(ev: Evidence) -> CheckResult:
    import torch

    from effteach import foundations as F

    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(1, 2, 24, 8, dtype=torch.float64, generator=g)
               .requires_grad_() for _ in range(3))
    worst = 0.0
    for causal in (False, True):
        o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
        do = torch.randn(o.shape, dtype=torch.float64, generator=g)
        grads = torch.autograd.grad(o, (q, k, v), do)
        mine = F.attention_bwd_ref(q.detach(), k.detach(), v.detach(), do,
                                   causal=causal)
        worst = max(worst, *(float((a - b).abs().max()) for a, b in zip(mine, grads,
                                                                       strict=True)))
    return CheckResult("holds" if worst < 1e-10 else "fails",
                       {"max |dq,dk,dv - autograd|": worst})


claim("foundations.delta_identity", paper=None, where="lecture (FlashAttention-2, "
      "Alg. 2)",
      text="Attention's backward needs only Δ = rowsum(dO ⊙ O) per row, never P's "
           "Jacobian.",
      verdict="holds",
      section="the-backward-identity-delta-operatorname-rowsum-do-odot-o",
      note="Exact for any P (SymPy in the lecture); attention_bwd_ref built on Δ "
           "equals autograd through SDPA, causal and not (float64).")(_delta_identity)


def _stable_softmax(ev: Evidence) -> CheckResult:
    import torch

    from effteach import foundations as F

    limit = math.log(torch.finfo(torch.float16).max)
    scales = torch.arange(8.0, 14.0, 0.05)

    def finite(fn, s):
        return bool(torch.isfinite(fn(torch.tensor([[s, 0.0]],
                                                   dtype=torch.float16))).all())

    naive = [finite(F.softmax_naive, float(s)) for s in scales]
    first_bad = float(scales[naive.index(False)]) if False in naive else math.inf
    stable = all(finite(F.softmax_ref, float(s)) for s in scales)
    ok = abs(first_bad - limit) < 0.1 and stable
    return CheckResult("holds" if ok else "fails",
                       {"naive fp16 fails at z": first_bad, "ln 65504": limit,
                        "stable finite everywhere": stable})


claim("foundations.stable_softmax", paper=None, where="lecture, Experiments",
      text="In float16 the naive softmax overflows once a logit exceeds ln 65504 ≈ "
           "11.09; subtracting the row maximum keeps it finite.",
      verdict="holds", section="why-subtract-the-maximum",
      note="Swept z from 8 to 14 in steps of 0.05 on the library's naive and stable "
           "softmax.")(_stable_softmax)


def _unit_variance(ev: Evidence) -> CheckResult:
    import torch

    g = torch.Generator().manual_seed(2)
    d, n = 64, 20_000
    q, k = torch.randn(2, n, d, dtype=torch.float64, generator=g)
    iid = float(((q * k).sum(-1) / math.sqrt(d)).var())
    shifted = float((((q + 1) * (k + 1)).sum(-1) / math.sqrt(d)).var())
    if abs(iid - 1) < 0.05:
        verdict = "partly" if shifted > 2 else "holds"
    else:
        verdict = "fails"
    return CheckResult(verdict, {"var, iid N(0,1)": iid, "var, entries of mean 1":
                                 shifted}, detail=f"d={d}, {n} pairs")


claim("foundations.sqrt_d_unit_variance", paper=None,
      where="lecture (Vaswani et al. 2017, Sec. 3.2.1)",
      text="Scaling by 1/√d keeps the attention scores at unit variance.",
      verdict="partly", section="what-the-paper-leaves-open",
      note="Only for independent zero-mean unit-variance entries; with entries of "
           "mean 1 the variance is about 3 at d = 64.")(_unit_variance)


def _gpu_rows(ev: Evidence) -> list[dict]:
    return [r for r in ev.json(GPU_FILE)["records"] if r["impl"] == "triton"]


def _triton_speed(ev: Evidence) -> CheckResult:
    rows = _gpu_rows(ev)
    long = [r["ratio_vs_torch"] for r in rows if r["n_cols"] >= 2048]
    short = [r["ratio_vs_torch"] for r in rows if r["n_cols"] == 128]
    ok = bool(long) and bool(short) and min(long) > 1 and max(short) < 1
    return CheckResult("reproduced" if ok else "fails",
                       {"min speed-up, n_cols >= 2048": min(long, default=math.nan),
                        "max speed-up, n_cols = 128": max(short, default=math.nan)},
                       detail="H200, results/gpu/foundations.json")


claim("foundations.triton_softmax_speed", paper=None, where="lecture, On a GPU",
      text="The Triton softmax is faster than torch.softmax from 2048 columns up, in "
           "every dtype, and slower at 128 columns.",
      verdict="reproduced", section="on-a-gpu", heavy=True,
      note="Measured on one H200 (torch 2.11, Triton 3.6), committed in "
           "results/gpu/foundations.json; a statement about those versions.")(
    _triton_speed)


def _triton_correct(ev: Evidence) -> CheckResult:
    errs = [r["max_abs_err_vs_fp32"] for r in _gpu_rows(ev)]
    ok = bool(errs) and max(errs) < 4e-3
    return CheckResult("reproduced" if ok else "fails",
                       {"max |triton - fp32 ref|": max(errs, default=math.nan),
                        "sizes": len(errs)})


claim("foundations.triton_softmax_correct", paper=None, where="lecture, On a GPU",
      text="The Triton softmax matches a float32 reference at every benchmarked size "
           "(error below 4e-3 in fp16, bf16 and fp32).",
      verdict="reproduced", section="on-a-gpu", heavy=True,
      note="Checked by the benchmark before timing, on the H200; the CPU tests run "
           "the same kernel in Triton's interpreter.")(_triton_correct)


def _near_copy(ev: Evidence) -> CheckResult:
    rows = _gpu_rows(ev)
    worst, gbps = math.inf, math.inf
    for dt in ("float16", "bfloat16", "float32"):
        best = max((r for r in rows if r["dtype"] == dt), key=lambda r: r["gbps"])
        worst = min(worst, best["ratio_vs_copy"])
        gbps = min(gbps, best["gbps"])
    ok = worst > 0.9 and gbps > 3500
    return CheckResult("reproduced" if ok else "fails",
                       {"best GB/s (worst dtype)": gbps,
                        "best / copy of the same bytes (worst dtype)": worst})


claim("foundations.softmax_near_copy", paper=None, where="lecture, On a GPU",
      text="At its best the Triton softmax moves about 4 TB/s, within 10% of a "
           "device-to-device copy of the same bytes: it is memory-bound.",
      verdict="reproduced", section="on-a-gpu", heavy=True,
      note="The copy (y.copy_(x)) is timed in the same run on the H200, per dtype; "
           "results/gpu/foundations.json.")(_near_copy)
