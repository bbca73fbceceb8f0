"""Graded questions of the foundations assignment, each with one known-wrong answer.

Q4 is a Triton kernel: the student writes the body of the row-softmax kernel of
``kernels/foundations.py`` and :func:`launch_softmax` runs it (in the CPU interpreter
on a laptop) on ragged shapes, fp32 and fp16. Its typical bugs are kept in
:data:`SOFTMAX_BUGS`; the first is the registered wrong answer, and
``tests/foundations/test_questions.py`` shows that every one is rejected.

Book: notebooks/foundations/assignment.md.
"""

from __future__ import annotations

import math

import sympy as sp
import torch
import triton
import triton.language as tl

from effteach.foundations.reference import softmax_bwd_ref, softmax_ref
from effteach.grading import Question, register
from effteach.grading_triton import (
    SpeedTest,
    check_guard,
    guarded_empty,
    register_speed,
)

#: columns of poison (NaN) after each input row, and after the last row's block
PAD_COLS = 3


def _jacobian_3() -> sp.Matrix:
    """The softmax Jacobian of 3 logits, entries in terms of z0, z1, z2."""
    z = sp.symbols("z0:3")
    den = sum(sp.exp(zi) for zi in z)
    p = [sp.exp(zi) / den for zi in z]
    return sp.Matrix(3, 3, lambda i, j: (p[i] if i == j else 0) - p[i] * p[j])


def _jacobian_3_wrong() -> sp.Matrix:
    """diag(p) + p pᵀ: the sign of the outer product flipped."""
    z = sp.symbols("z0:3")
    den = sum(sp.exp(zi) for zi in z)
    p = [sp.exp(zi) / den for zi in z]
    return sp.Matrix(3, 3, lambda i, j: (p[i] if i == j else 0) + p[i] * p[j])


def _bwd_cases(n: int, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    cases = []
    for i in range(n):
        rows = 1 + i % 4
        cols = 2 + (3 * i + seed) % 13
        z = torch.randn(rows, cols, generator=g, dtype=torch.float64) * 3
        dp = torch.randn(rows, cols, generator=g, dtype=torch.float64)
        cases.append((softmax_ref(z), dp))
    return cases


def _bwd_wrong(p: torch.Tensor, dp: torch.Tensor) -> torch.Tensor:
    """Forgets the <p, dp> term: diag(p) dp instead of (diag(p) - p pᵀ) dp."""
    return p * dp


register(
    Question(
        qid="foundations.q1",
        prompt="The 3x3 softmax Jacobian d p_i / d z_j as a SymPy Matrix in z0..z2.",
        kind="sympy",
        reference=_jacobian_3,
        wrong=_jacobian_3_wrong,
    )
)

register(
    Question(
        qid="foundations.q2",
        prompt="softmax_bwd(p, dp): the gradient with respect to the logits, row-wise.",
        kind="function",
        reference=softmax_bwd_ref,
        wrong=_bwd_wrong,
        make_cases=_bwd_cases,
        rtol=1e-9,
        atol=1e-12,
    )
)

register(
    Question(
        qid="foundations.q3",
        prompt="The largest logit x for which exp(x) is finite in float16 (ln 65504).",
        kind="value",
        reference=math.log(float(torch.finfo(torch.float16).max)),
        wrong=math.log(float(torch.finfo(torch.float32).max)),  # float32's 88.72
        rtol=1e-3,
        atol=0.0,
    )
)


# ----------------------------------------------------------------------- q4
@triton.jit
def _softmax_kernel_ref(x_ptr, out_ptr, x_row_stride, n_cols, BLOCK_N: tl.constexpr):
    # the staff solution, as kernels/foundations.py
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * x_row_stride + offs, mask=mask, other=-float("inf"))
    x = x.to(tl.float32)
    e = tl.exp(x - tl.max(x, axis=0))
    p = e / tl.sum(e, axis=0)
    tl.store(out_ptr + row * n_cols + offs, p.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _softmax_kernel_zero_other(
    x_ptr, out_ptr, x_row_stride, n_cols, BLOCK_N: tl.constexpr
):
    # masked lanes read 0.0, not -inf: each adds exp(0 - max) to the sum
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * x_row_stride + offs, mask=mask, other=0.0)
    x = x.to(tl.float32)
    e = tl.exp(x - tl.max(x, axis=0))
    p = e / tl.sum(e, axis=0)
    tl.store(out_ptr + row * n_cols + offs, p.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _softmax_kernel_off_by_one(
    x_ptr, out_ptr, x_row_stride, n_cols, BLOCK_N: tl.constexpr
):
    # the tail mask is offs <= n_cols: one lane past the row is read and stored
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK_N)
    mask = offs <= n_cols
    x = tl.load(x_ptr + row * x_row_stride + offs, mask=mask, other=-float("inf"))
    x = x.to(tl.float32)
    e = tl.exp(x - tl.max(x, axis=0))
    p = e / tl.sum(e, axis=0)
    tl.store(out_ptr + row * n_cols + offs, p.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _softmax_kernel_no_max(x_ptr, out_ptr, x_row_stride, n_cols, BLOCK_N: tl.constexpr):
    # exp(x) without subtracting the row maximum: overflows for logits above 88
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * x_row_stride + offs, mask=mask, other=-float("inf"))
    e = tl.exp(x.to(tl.float32))
    p = e / tl.sum(e, axis=0)
    tl.store(out_ptr + row * n_cols + offs, p.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _softmax_kernel_no_stride(
    x_ptr, out_ptr, x_row_stride, n_cols, BLOCK_N: tl.constexpr
):
    # rows addressed as row * n_cols: right only when the input is contiguous
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * n_cols + offs, mask=mask, other=-float("inf"))
    x = x.to(tl.float32)
    e = tl.exp(x - tl.max(x, axis=0))
    p = e / tl.sum(e, axis=0)
    tl.store(out_ptr + row * n_cols + offs, p.to(out_ptr.dtype.element_ty), mask=mask)


@triton.jit
def _softmax_kernel_unmasked_store(
    x_ptr, out_ptr, x_row_stride, n_cols, BLOCK_N: tl.constexpr
):
    # the store has no mask: the padded lanes of the last row land past the output
    row = tl.program_id(0)
    offs = tl.arange(0, BLOCK_N)
    mask = offs < n_cols
    x = tl.load(x_ptr + row * x_row_stride + offs, mask=mask, other=-float("inf"))
    x = x.to(tl.float32)
    e = tl.exp(x - tl.max(x, axis=0))
    p = e / tl.sum(e, axis=0)
    tl.store(out_ptr + row * n_cols + offs, p.to(out_ptr.dtype.element_ty))


#: typical bugs of Q4, each a whole kernel: name -> kernel (the first is registered)
SOFTMAX_BUGS = {
    "masked load with other=0.0 instead of -inf": _softmax_kernel_zero_other,
    "off-by-one tail mask (offs <= n_cols)": _softmax_kernel_off_by_one,
    "no max subtraction (exp overflows)": _softmax_kernel_no_max,
    "row stride ignored (row * n_cols)": _softmax_kernel_no_stride,
    "store without the mask": _softmax_kernel_unmasked_store,
}


def launch_softmax(kernel, x: torch.Tensor) -> torch.Tensor:
    """Run a row-softmax kernel as the grader does: one program per row.

    The input is copied into rows of ``n_cols + PAD_COLS`` elements whose padding is
    NaN (so a load past the row's end shows), the row stride is passed to the
    kernel, and the output is followed by guard elements (:func:`guarded_empty`);
    a store past its end fails the check.

    Args:
        kernel: a ``@triton.jit`` kernel with the signature of Q4,
            ``(x_ptr, out_ptr, x_row_stride, n_cols, BLOCK_N)``.
        x: logits, (n_rows, n_cols), fp32 or fp16, on the kernel's device.

    Returns:
        The probabilities, (n_rows, n_cols), ``x``'s dtype.

    Raises:
        CheckFailed: if the kernel wrote past the end of the output.

    Book: notebooks/foundations/assignment.md, Q4.
    """
    n_rows, n_cols = x.shape
    block_n = triton.next_power_of_2(n_cols)
    stride = n_cols + PAD_COLS
    flat = torch.full((n_rows * stride + block_n,), math.nan, dtype=x.dtype,
                      device=x.device)
    padded = flat[: n_rows * stride].view(n_rows, stride)
    padded[:, :n_cols] = x
    buf, out = guarded_empty((n_rows, n_cols), x.dtype, x.device)
    kernel[(n_rows,)](padded, out, stride, n_cols, BLOCK_N=block_n)
    check_guard(buf, out, "out")
    return out


def _softmax_spec(x: torch.Tensor) -> torch.Tensor:
    """The reference: softmax_ref of the (rounded) input, in float64."""
    return softmax_ref(x.double())


def _softmax_tolerance(x: torch.Tensor) -> tuple[float, float]:
    """fp16 outputs carry a rounding of 2^-11 relative; fp32 ones far less."""
    return (2e-3, 1e-5) if x.dtype == torch.float16 else (1e-5, 1e-7)


def _softmax_cases(n: int, seed: int) -> list[tuple[torch.Tensor]]:
    """Seeded cases of Q4: ragged first, one row, large logits, then random.

    Case 0: 3 rows of 37 (not a power of two: 27 masked lanes), fp32. Case 1: one
    row of 5, fp16. Case 2: 4 rows of 64 logits near 100 (no masked lane; exp
    overflows without the max shift), fp16. Later: 1 to 6 rows of 1 to 100 columns,
    fp32 or fp16.
    """
    gen = torch.Generator().manual_seed(seed)
    fixed = [((3, 37), torch.float32, 2.0, 0.0), ((1, 5), torch.float16, 2.0, 0.0),
             ((4, 64), torch.float16, 3.0, 100.0)]
    cases = []
    for i in range(n):
        if i < len(fixed):
            shape, dtype, scale, shift = fixed[i]
        else:
            rows = 1 + int(torch.randint(0, 6, (), generator=gen))
            cols = 1 + int(torch.randint(0, 100, (), generator=gen))
            dtype = (torch.float32, torch.float16)[i % 2]
            shape, scale, shift = (rows, cols), 1.0 + 4.0 * (i % 3), 0.0
        x = torch.randn(shape, generator=gen, dtype=torch.float32) * scale + shift
        cases.append((x.to(dtype),))
    return cases


register(
    Question(
        qid="foundations.q4",
        prompt="softmax_kernel(x_ptr, out_ptr, x_row_stride, n_cols, BLOCK_N): the "
        "body of the row-softmax Triton kernel (masked loads, max, exp, sum, store).",
        kind="kernel",
        reference=_softmax_spec,
        wrong=_softmax_kernel_zero_other,
        make_cases=_softmax_cases,
        launch=launch_softmax,
        tolerance=_softmax_tolerance,
        solution=_softmax_kernel_ref,
    )
)


def _speed_inputs() -> tuple[torch.Tensor]:
    gen = torch.Generator(device="cuda").manual_seed(0)
    return (torch.randn(8192, 4096, device="cuda", dtype=torch.float16,
                        generator=gen),)


def _speed_launch(kernel, x: torch.Tensor) -> torch.Tensor:
    out = torch.empty_like(x)
    kernel[(x.shape[0],)](x, out, x.stride(0), x.shape[1],
                          BLOCK_N=triton.next_power_of_2(x.shape[1]), num_warps=8)
    return out


register_speed(
    "foundations.q4",
    SpeedTest(
        label="fp16, 8192 rows x 4096 columns",
        make_inputs=_speed_inputs,
        launch=_speed_launch,
        baseline=lambda x: torch.softmax(x, dim=-1),
        baseline_name="torch.softmax",
        slug="foundations",
        record={"impl": "triton", "dtype": "float16", "n_rows": 8192,
                "n_cols": 4096},
        ratio_key="ratio_vs_torch",
    ),
)
