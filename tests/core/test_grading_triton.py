"""effteach.grading_triton: student Triton kernels graded in the interpreter.

A toy kernel question (double a vector) is put in the registry for each test, so the
machinery is tested apart from the chapters' questions; the chapters' kernel
questions are tested in tests/foundations and tests/pebble_io.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
import textwrap

import pytest
import torch
import triton
import triton.language as tl

from effteach import grading
from effteach.grading import CheckFailed, Question, check, evaluate
from effteach.grading_triton import (
    GUARD,
    GUARD_VALUE,
    SPEED_TESTS,
    SpeedTest,
    check_guard,
    compare_speed,
    guarded_empty,
    kernel_launcher,
    kernel_mode,
    register_speed,
    staff_record,
)
from effteach.tools.notebooks import repo_root

pytestmark = pytest.mark.interpreter
NO_GPU = not torch.cuda.is_available()


@triton.jit
def double_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    tl.store(out_ptr + offs, 2 * x, mask=offs < n)


@triton.jit
def triple_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    tl.store(out_ptr + offs, 3 * x, mask=offs < n)


@triton.jit
def shape_error_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    y = x + tl.arange(0, 2 * BLOCK)  # (BLOCK,) + (2 BLOCK,): no broadcast
    tl.store(out_ptr + offs, y, mask=offs < n)


@triton.jit
def todo_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    tl.program_id(0)  # the skeleton; the body is the student's to write
    raise NotImplementedError()


@triton.jit
def missing_arg_kernel(x_ptr, out_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(out_ptr + offs, tl.load(x_ptr + offs))


@triton.jit
def leaky_store_kernel(x_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    tl.store(out_ptr + offs, 2 * x)  # no mask: BLOCK - n lanes land past the end


def plain_double(x_ptr, out_ptr, n, BLOCK):
    return None


def launch_double(kernel, x):
    buf, out = guarded_empty(x.shape, x.dtype, x.device)
    kernel[(1,)](x, out, x.numel(), BLOCK=triton.next_power_of_2(x.numel()))
    check_guard(buf, out, "out")
    return out


def double_cases(n, seed):
    gen = torch.Generator().manual_seed(seed)
    return [(torch.randn(3 + 2 * i, generator=gen),) for i in range(n)]


TOY = Question(
    qid="toyk.q1",
    prompt="double a vector",
    kind="kernel",
    reference=lambda x: 2 * x.double(),
    wrong=triple_kernel,
    make_cases=double_cases,
    launch=launch_double,
    solution=double_kernel,
)


@pytest.fixture(autouse=True)
def toy_question(monkeypatch):
    monkeypatch.setitem(grading.QUESTIONS, TOY.qid, TOY)


def _line_of(kernel, text: str) -> int:
    lines, first = inspect.getsourcelines(kernel.fn)
    return first + next(i for i, ln in enumerate(lines) if text in ln)


def test_interpreted_kernel_passes_and_wrong_one_fails():
    assert kernel_mode(double_kernel) == "interpreter"
    assert evaluate(double_kernel, "toyk.q1", cases=4).cases == 4
    with pytest.raises(CheckFailed, match=r"^toyk.q1: case 0 \(Tensor\(3,\) "):
        check(triple_kernel, "toyk.q1")


def test_kernel_error_is_one_line_feedback_with_the_students_line():
    with pytest.raises(CheckFailed) as exc:
        check(shape_error_kernel, "toyk.q1")
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("toyk.q1: case 0 (Tensor(3,) torch.float32): your kernel "
                          "raised ValueError: Cannot make_shape_compatible")
    line = _line_of(shape_error_kernel, "y = x + tl.arange")
    assert f"(line {line}: y = x + tl.arange(0, 2 * BLOCK)" in msg


def test_not_implemented_kernel_says_so():
    with pytest.raises(CheckFailed, match=r"^toyk.q1: not implemented yet \(your "
                       "kernel raised NotImplementedError\\)$"):
        check(todo_kernel, "toyk.q1")


def test_wrong_signature_is_reported_as_a_launch_error():
    with pytest.raises(CheckFailed, match="launching your kernel raised TypeError.*"
                       "keep the signature of the skeleton"):
        check(missing_arg_kernel, "toyk.q1")


def test_store_past_the_end_is_caught_by_the_guard():
    with pytest.raises(CheckFailed, match=r"case 0 .*: your kernel wrote 1 element\(s\)"
                       " past the end of out"):
        check(leaky_store_kernel, "toyk.q1")


def test_not_a_kernel_is_feedback():
    with pytest.raises(CheckFailed, match="plain Python function plain_double: keep "
                       "the @triton.jit line"):
        check(plain_double, "toyk.q1")
    with pytest.raises(CheckFailed, match="expected a @triton.jit kernel, got int"):
        check(3, "toyk.q1")


@pytest.mark.skipif(not NO_GPU, reason="a GPU compiles a non-interpreted kernel")
def test_kernel_compiled_without_interpreter_is_explained():
    from triton.runtime.jit import JITFunction

    compiled = JITFunction(double_kernel.fn)  # what @triton.jit makes without it
    with pytest.raises(CheckFailed) as exc:
        check(compiled, "toyk.q1")
    msg = str(exc.value)
    assert msg.startswith("toyk.q1: double_kernel was compiled for a GPU, but this "
                          "machine has none: TRITON_INTERPRET was not 1")
    assert "import effteach" in msg and "restart the kernel" in msg


@pytest.mark.slow
@pytest.mark.skipif(not NO_GPU, reason="a GPU compiles a non-interpreted kernel")
def test_kernel_defined_before_import_effteach_is_explained(tmp_path):
    """The real mistake: triton.jit runs before effteach sets TRITON_INTERPRET."""
    script = tmp_path / "student.py"
    script.write_text(textwrap.dedent('''\
        import triton
        import triton.language as tl

        @triton.jit
        def softmax_kernel(x_ptr, out_ptr, x_row_stride, n_cols, BLOCK_N: tl.constexpr):
            pass

        import effteach
        from effteach.grading import CheckFailed, check
        try:
            check(softmax_kernel, "foundations.q4")
        except CheckFailed as exc:
            print("FEEDBACK", exc)
        '''))
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True,
                          text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert ("FEEDBACK foundations.q4: softmax_kernel was compiled for a GPU, but this "
            "machine has none") in proc.stdout


def test_launcher_returns_cpu_outputs_and_checks_its_arguments():
    run = kernel_launcher(double_kernel, launch_double, "toyk.q1")
    assert run.__name__ == "double_kernel"
    x = torch.arange(5.0)
    torch.testing.assert_close(run(x), 2 * x)
    with pytest.raises(TypeError, match="parameter launch="):
        kernel_launcher(double_kernel, None)


def test_guard_region():
    buf, out = guarded_empty((2, 3), torch.float16)
    assert out.shape == (2, 3) and buf.numel() == 6 + GUARD
    assert out.data_ptr() == buf.data_ptr()
    out.fill_(1.0)
    check_guard(buf, out, "out")  # the output itself may be written
    buf[6 + 5] = 0.0
    with pytest.raises(CheckFailed, match="wrote 1 element"):
        check_guard(buf, out, "out")
    with pytest.raises(ValueError, match="out: expected the view of the first 6"):
        check_guard(buf, out.clone(), "out")  # a copy: not the buffer's view
    assert float(torch.tensor(GUARD_VALUE, dtype=torch.float16)) == GUARD_VALUE
    with pytest.raises(ValueError, match="shape: expected sizes >= 0"):
        guarded_empty((2, -1), torch.float32)


def test_kernel_questions_need_a_launch_and_a_solution():
    import dataclasses

    with pytest.raises(ValueError, match="launch: required"):
        grading.register(dataclasses.replace(TOY, qid="toyk.q2", launch=None))
    with pytest.raises(ValueError, match="solution: required"):
        grading.register(dataclasses.replace(TOY, qid="toyk.q2", solution=None))
    assert "toyk.q2" not in grading.QUESTIONS


def test_output_names_and_tolerance_reach_the_feedback(monkeypatch):
    import dataclasses

    def launch_pair(kernel, x):
        out = launch_double(kernel, x)
        return out, out.sum()

    named = dataclasses.replace(
        TOY, reference=lambda x: (2 * x.double(), 2 * x.double().sum()),
        launch=launch_pair, output_names=("out", "total"),
    )
    monkeypatch.setitem(grading.QUESTIONS, "toyk.q1", named)
    with pytest.raises(CheckFailed, match=r"case 0 .*\): out: max error"):
        check(triple_kernel, "toyk.q1")
    loose = dataclasses.replace(named, tolerance=lambda x: (0.6, 0.0))
    monkeypatch.setitem(grading.QUESTIONS, "toyk.q1", loose)
    check(triple_kernel, "toyk.q1")  # 3x is within 60 % of 2x: the tolerance is used


# ------------------------------------------------------------ the GPU part


def test_staff_record_found_or_explained(tmp_path):
    rec, gpu = staff_record("foundations", {"impl": "triton", "dtype": "float16",
                                            "n_cols": 4096})
    assert rec is not None and rec["n_rows"] == 8192 and "H200" in gpu
    rec, why = staff_record("foundations", {"impl": "triton", "n_cols": 3})
    assert rec is None and "no record with" in why and "n_cols" in why
    rec, why = staff_record("nope", {}, results_dir=tmp_path)
    assert rec is None and why.startswith("no nope.json in")


@pytest.mark.parametrize("qid", ["foundations.q4", "pebble_io.q5"])
def test_speed_tests_match_a_committed_record_and_the_assignment_text(qid):
    grading.get(qid)  # loads the chapter's questions and their timings
    speed = SPEED_TESTS[qid]
    rec, _ = staff_record(speed.slug, speed.record)
    assert rec is not None, f"{qid}: no record {speed.record}"
    text = (repo_root() / "notebooks" / speed.slug / "assignment.md").read_text()
    quoted = re.findall(r"(\d+\.\d\d)x", text)
    assert f"{rec[speed.ratio_key]:.2f}" in quoted, (qid, quoted)


@pytest.mark.skipif(not NO_GPU, reason="times the kernel on a GPU instead")
def test_compare_speed_without_gpu_prints_the_staff_ratio(capsys):
    grading.get("foundations.q4")
    speed = SPEED_TESTS["foundations.q4"]
    rec, _ = staff_record(speed.slug, speed.record)
    assert compare_speed(double_kernel, "foundations.q4") is None
    out = capsys.readouterr().out
    assert out.startswith("Not timed: no CUDA GPU here.")
    assert f"{rec['ratio_vs_torch']:.2f}x torch.softmax" in out
    with pytest.raises(KeyError, match="no GPU timing registered"):
        compare_speed(double_kernel, "toyk.q1")


def test_register_speed_checks_its_arguments():
    speed = SpeedTest("x", tuple, launch_double, lambda x: x, "b", "foundations",
                      {}, "ratio_vs_torch")
    with pytest.raises(TypeError, match="speed: expected a SpeedTest"):
        register_speed("toyk.q1", object())
    with pytest.raises(ValueError, match="not a kernel one"):
        register_speed("foundations.q2", speed)
    assert "toyk.q1" not in SPEED_TESTS
