"""Benchmark of the row-softmax kernel against ``torch.softmax`` (GPU only).

Run with ``python -m effteach.bench foundations``; writes
``results/gpu/foundations.json``. Before timing, every size is checked against
``torch.softmax`` in float32 and the max error is recorded.

Book: notebooks/foundations/lecture.md, "On a GPU".
"""

from __future__ import annotations

import torch

from effteach.bench import time_interleaved


def run(quick: bool = False) -> tuple[list[dict], dict]:
    """Time Triton softmax, torch.softmax and a copy; return (records, method notes).

    The copy (``y.copy_(x)``, same bytes read and written) is the memory-bound
    ceiling the softmax is compared with.
    """
    from tqdm import tqdm

    from effteach.kernels.foundations import softmax_fwd

    n_rows = 8192
    sizes = [1024, 8192] if quick else [128, 512, 1024, 2048, 4096, 8192, 16384, 32768]
    dtypes = [torch.float16, torch.bfloat16, torch.float32]
    records = []
    for dtype in dtypes:
        for n_cols in tqdm(sizes, desc=f"softmax {str(dtype)[6:]}"):
            g = torch.Generator(device="cuda").manual_seed(0)
            x = torch.randn(n_rows, n_cols, device="cuda", dtype=dtype, generator=g) * 4
            ref = torch.softmax(x.float(), dim=-1)
            err = float((softmax_fwd(x).float() - ref).abs().max())
            y = torch.empty_like(x)  # the copy's destination, allocated once
            ms = time_interleaved(
                {
                    "triton": lambda x=x: softmax_fwd(x),
                    "torch": lambda x=x: torch.softmax(x, dim=-1),
                    # the memory-bound ceiling: the same bytes read and written by a
                    # device-to-device copy, no arithmetic
                    "copy": lambda x=x, y=y: y.copy_(x),
                },
                rounds=3 if quick else 5,
            )
            nbytes = 2 * x.numel() * x.element_size()  # read once, write once
            for impl, t in ms.items():
                records.append(
                    {
                        "impl": impl,
                        "dtype": str(dtype).replace("torch.", ""),
                        "n_rows": n_rows,
                        "n_cols": n_cols,
                        "ms": t,
                        "gbps": nbytes / (t * 1e-3) / 1e9,
                        "max_abs_err_vs_fp32": err if impl == "triton" else 0.0,
                        "ratio_vs_torch": ms["torch"] / t,
                        "ratio_vs_copy": ms["copy"] / t,
                    }
                )
    return records, {
        "bytes": "2 * numel * element_size (one read, one write)",
        "copy": "y.copy_(x) on a preallocated y: the device-to-device copy ceiling",
        "n_rows": n_rows,
    }
