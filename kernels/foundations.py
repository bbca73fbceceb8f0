"""A first Triton kernel: row-wise softmax, forward.

What you will learn:

* how a Triton program sees one *block* of data (here one row) through pointers,
  ``tl.arange`` offsets and a mask for the ragged end;
* why the kernel subtracts the row maximum before ``exp`` (the same reason as
  :func:`effteach.foundations.softmax_ref`), and why it accumulates in float32;
* how a wrapper picks the block size and the grid, and checks its inputs.

The kernel reads each row once and writes it once, so it is memory-bound: its speed
is measured in GB/s against ``torch.softmax`` by ``python -m effteach.bench
foundations`` (``results/gpu/foundations.json``).

Credit: the structure follows the Triton tutorial "Fused Softmax" (Tillet et al.),
written here from scratch.
Book: notebooks/foundations/lecture.md, "A Triton kernel".
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from effteach.device import INTERPRETER, check_kernel_dtype

MAX_COLS = 1 << 16  # one row must fit in one program's registers/shared memory


@triton.jit
def _softmax_fwd_kernel(
    x_ptr,  # (n_rows, n_cols) input, row stride x_row_stride, unit column stride
    out_ptr,  # (n_rows, n_cols) output, contiguous
    x_row_stride,
    n_cols,
    BLOCK_N: tl.constexpr,  # next power of two >= n_cols
):
    row = tl.program_id(0)  # one program per row
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    # Out-of-range lanes read -inf: they add exp(-inf) = 0 to the sum.
    x = tl.load(x_ptr + row * x_row_stride + offs, mask=mask, other=-float("inf"))
    x = x.to(tl.float32)  # accumulate in fp32 whatever the input dtype
    z = x - tl.max(x, axis=0)  # every exponent <= 0: no overflow
    e = tl.exp(z)
    p = e / tl.sum(e, axis=0)
    tl.store(out_ptr + row * n_cols + offs, p.to(out_ptr.dtype.element_ty), mask=mask)


def softmax_fwd(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension with the Triton kernel.

    Args:
        x: logits, shape (..., n_cols) with ``1 <= n_cols <= 65536``; fp32 or fp16
            (bf16 too on a GPU); on the GPU, or on the CPU in interpreter mode.

    Returns:
        Probabilities, same shape and dtype as ``x``.

    Raises:
        TypeError: if ``x`` is not a tensor or has an unsupported dtype.
        ValueError: if ``x`` is 0-d, empty, or its rows are too long.

    Book: notebooks/foundations/lecture.md, "A Triton kernel".
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x: expected a torch.Tensor, got {type(x).__name__}")
    check_kernel_dtype("x", x)
    if x.device.type != ("cpu" if INTERPRETER else "cuda"):
        where = "a CPU tensor (Triton interpreter)" if INTERPRETER else "a CUDA tensor"
        raise ValueError(f"x: expected {where}, got device {x.device}")
    if x.dim() == 0 or x.numel() == 0:
        raise ValueError(
            f"x: expected a non-empty tensor (..., n_cols), got {tuple(x.shape)}"
        )
    n_cols = x.shape[-1]
    if n_cols > MAX_COLS:
        raise ValueError(f"x: expected n_cols <= {MAX_COLS}, got {n_cols}")
    x2 = x.reshape(-1, n_cols)
    if x2.stride(-1) != 1:
        x2 = x2.contiguous()
    out = torch.empty(x2.shape, dtype=x.dtype, device=x.device)
    block_n = triton.next_power_of_2(n_cols)
    _softmax_fwd_kernel[(x2.shape[0],)](
        x2,
        out,
        x2.stride(0),
        n_cols,
        BLOCK_N=block_n,
        num_warps=4 if block_n <= 2048 else (8 if block_n <= 8192 else 16),
    )
    return out.reshape(x.shape)
