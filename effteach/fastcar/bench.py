"""GPU micro-benchmark: does replaying MLP rows save time in decode at VILA-U sizes?

One SwiGLU MLP of LLaMA-2-7B / VILA-U (d = 4096, d_ff = 11008, bf16, random
weights), a decode batch of B rows (one token each), replay ratio rho. Timed:

* ``dense``: the MLP on all B rows;
* ``masked``: the MLP on all rows, then a select with the cached outputs (the
  official code: no savings by construction);
* ``gather``: per-row skipping, the computed rows gathered, run, scattered back into
  a copy of the cache (index precomputed, as after the TAS decision);
* ``skip_all``: a whole-batch skip, every row replays (the copy of the cache only).

Per-row skipping can only save time once the GEMMs are compute-bound: at small B the
weights (3 * 4096 * 11008 * 2 bytes = 270 MB) must be read whatever the row count.
Run with ``python -m effteach.bench fastcar``; ``run(quick=True)`` on a CPU times
tiny sizes with ``time.perf_counter`` (a smoke test of the code path).

Paper: FastCar (arXiv 2505.14709), "real skipping" (the official code masks).
Book: notebooks/fastcar/lecture.md, "On a GPU".
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

BATCHES = (1, 2, 4, 8, 10, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
RHOS = (0.5, 0.8)


def _mlp(x, wg, wu, wd):
    return F.linear(F.silu(F.linear(x, wg)) * F.linear(x, wu), wd)


def _cpu_time(fns: dict, rounds: int = 3) -> dict[str, float]:
    out = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            out[k].append((time.perf_counter() - t) * 1e3)
    return {k: statistics.median(v) for k, v in out.items()}


def run(quick: bool = False) -> tuple[list[dict], dict]:
    """Time dense / masked / gather / skip_all MLP rows; return (records, method)."""
    cuda = torch.cuda.is_available()
    dev = "cuda" if cuda else "cpu"
    dtype = torch.bfloat16 if cuda else torch.float32
    d, f = (4096, 11008) if cuda and not quick else (64, 172)
    batches = BATCHES if not quick else (1, 8, 32)
    g = torch.Generator(device=dev).manual_seed(0)
    wg, wu = (torch.randn(f, d, device=dev, dtype=dtype, generator=g) * d**-0.5
              for _ in range(2))
    wd = torch.randn(d, f, device=dev, dtype=dtype, generator=g) * f**-0.5
    records = []
    for b in batches:
        x = torch.randn(b, d, device=dev, dtype=dtype, generator=g)
        cached = torch.randn(b, d, device=dev, dtype=dtype, generator=g)
        for rho in RHOS:
            n_rep = round(rho * b)
            perm = torch.randperm(b, generator=torch.Generator().manual_seed(b))
            replay = torch.zeros(b, dtype=torch.bool)
            replay[perm[:n_rep]] = True
            replay = replay.to(dev)
            idx = (~replay).nonzero().squeeze(1)

            def gather(x=x, cached=cached, idx=idx):
                y = cached.clone()
                if idx.numel():
                    y.index_copy_(0, idx, _mlp(x.index_select(0, idx), wg, wu, wd))
                return y

            fns = {
                "dense": lambda x=x: _mlp(x, wg, wu, wd),
                "masked": lambda x=x, c=cached, r=replay: torch.where(
                    r[:, None], c, _mlp(x, wg, wu, wd)),
                "gather": gather,
                "skip_all": lambda c=cached: c.clone(),
            }
            # correctness: gather equals masked select
            ref = fns["masked"]()
            err = float((gather().float() - ref.float()).abs().max())
            if cuda:
                from effteach.bench import time_interleaved

                ms = time_interleaved(fns, rounds=3 if quick else 5, rep_ms=25)
            else:
                ms = _cpu_time(fns)
            flops = 2 * 3 * d * f * b
            for impl, t in ms.items():
                records.append({
                    "impl": impl, "batch": b, "rho": rho,
                    "computed_rows": b - n_rep if impl == "gather" else (
                        0 if impl == "skip_all" else b),
                    "d_model": d, "d_ff": f, "dtype": str(dtype)[6:], "ms": t,
                    "tflops_dense_equiv": flops / (t * 1e-3) / 1e12 if t else 0.0,
                    "speedup_vs_dense": ms["dense"] / t if t else 0.0,
                    "max_abs_err_gather_vs_masked": err,
                })
    return records, {
        "mlp": "SwiGLU, F.linear, random weights (scaled 1/sqrt(fan_in))",
        "replay": "rho * B rows replay (fixed random set); index precomputed",
        "weights_bytes": 3 * d * f * (2 if cuda else 4),
    }
