"""Where kernels run: GPU detection, Triton's interpreter switch, dtype policy.

Importing this module (``import effteach`` does) decides once, before any kernel
module is imported, whether Triton runs compiled on a CUDA GPU or in its CPU
interpreter. Triton reads ``TRITON_INTERPRET`` when ``@triton.jit`` runs, so the flag
must be set first; we use ``setdefault`` so that a user who exported it keeps control.

Book: book/howto.md, "Running the notebooks".
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

import numpy as np
import torch

from effteach.checks import typed

HAS_GPU: bool = bool(torch.cuda.is_available())
"""True when a CUDA device is visible to torch."""

if not HAS_GPU:
    os.environ.setdefault("TRITON_INTERPRET", "1")

INTERPRETER: bool = os.environ.get("TRITON_INTERPRET", "0") == "1"
"""True when Triton kernels run in the CPU interpreter (NumPy, on the CPU)."""

DEVICE: torch.device = torch.device("cuda" if HAS_GPU and not INTERPRETER else "cpu")
"""Where kernel inputs should live: the GPU, or the CPU for the interpreter."""

# The interpreter runs kernels in NumPy, which has no bfloat16: bf16 loads and stores
# are silently wrong there, so kernel dtypes are restricted in interpreter mode.
INTERPRETER_DTYPES = (torch.float32, torch.float16)
GPU_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def kernel_dtypes() -> tuple[torch.dtype, ...]:
    """Return the dtypes the Triton kernels support where they run now.

    Returns:
        ``(float32, float16)`` in the interpreter, plus ``bfloat16`` on a GPU.
    """
    return INTERPRETER_DTYPES if INTERPRETER else GPU_DTYPES


@typed
def check_kernel_dtype(name: str, t: torch.Tensor) -> None:
    """Raise a clear error when a kernel argument has a dtype unsupported here.

    Args:
        name: the argument's name, used in the message.
        t: the tensor passed to the kernel.

    Raises:
        TypeError: if ``t.dtype`` is not in :func:`kernel_dtypes`.
    """
    allowed = kernel_dtypes()
    if t.dtype not in allowed:
        where = "the Triton interpreter" if INTERPRETER else "this GPU"
        names = ", ".join(str(d).replace("torch.", "") for d in allowed)
        raise TypeError(
            f"{name}: dtype {str(t.dtype).replace('torch.', '')} is not supported "
            f"in {where}; expected one of {names}"
        )


def describe() -> dict[str, str]:
    """Return the facts the banner and ``effteach doctor`` print."""
    import triton

    info = {
        "device": torch.cuda.get_device_name(0) if HAS_GPU else "cpu",
        "triton_interpreter": "on" if INTERPRETER else "off",
        "torch": torch.__version__,
        "triton": triton.__version__,
    }
    return info


@contextlib.contextmanager
def _numpy_quiet() -> Iterator[None]:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def as_on_a_gpu() -> contextlib.AbstractContextManager:
    """Launch context for kernels: NaN and inf propagate in the interpreter as on a GPU.

    The interpreter runs a kernel in NumPy, which warns (or raises, under
    ``np.errstate``) where a GPU's IEEE arithmetic propagates NaN and inf without a
    word; inside this context NumPy's warnings and errors are off. On a GPU it is a
    ``nullcontext``: nothing on the launch path.
    """
    return _numpy_quiet() if INTERPRETER else contextlib.nullcontext()
