"""Launch a Triton kernel again without binding its arguments again.

``kernel[grid](*args, **meta)`` binds every argument, computes Triton's
specialisation key (dtype and 16-byte alignment of each pointer, divisibility and
width of each integer), looks the compiled kernel up and only then launches it. On the
H200 host this costs 20-40 us a call (``results/gpu/kernels.json``, "host profile"):
as long as the whole attention kernel at n = 4k with two heads. A :class:`Launcher`
pays that once per distinct call and keeps the compiled kernel under a key that holds
everything Triton specialises on and more (the integers' values themselves, each
pointer's dtype and alignment, the constexprs, warps and stages, the device); a repeat
call with the same key goes straight to the compiled kernel's launcher.

In the interpreter, when a launch hook is installed (a profiler), or while
:data:`DIRECT` is off, every call takes Triton's own path.

Status: the argument order and the launcher's signature follow Triton 3.6's and 3.7's
``JITFunction.run`` (read from their sources); the direct path has not yet run on the
H200, so :data:`DIRECT` is off unless ``EFFTEACH_DIRECT_LAUNCH=1`` is set. Its GPU test
(``tests/pebble_io/test_launch.py``) compares it bit for bit with Triton's path.

Book: notebooks/pebble_io/lecture.md, "Making the kernel fast".
"""

from __future__ import annotations

import inspect
import os

import torch
from triton import knobs

from effteach.device import INTERPRETER

__all__: list[str] = []  # a helper of the kernel modules, not part of the API

#: distinct calls remembered per kernel before the oldest are dropped
CACHE_SIZE = 256
#: launch cached kernels directly (see the module's status note)
DIRECT = os.environ.get("EFFTEACH_DIRECT_LAUNCH") == "1"


def _hooked() -> bool:
    """Whether a launch hook is installed (Triton 3.6+ keeps an empty ``HookChain``)."""
    hook = knobs.runtime.launch_enter_hook
    return hook is not None and bool(getattr(hook, "calls", True))


class Launcher:
    """``Launcher(fn)(grid, *args, **meta)`` does what ``fn[grid](*args, **meta)`` does.

    Args:
        fn: a ``@triton.jit`` function.

    A call's ``args`` are the kernel's leading positional arguments (tensors, ints,
    floats, None); ``meta`` holds its constexprs and Triton's launch options
    (``num_warps``, ``num_stages``). Parameters the call leaves out take their
    defaults, as Triton's own binding does.
    """

    def __init__(self, fn):
        self.fn = fn
        self.names = list(fn.arg_names)
        self.defaults = {p.name: p.default for p in inspect.signature(fn.fn).parameters
                         .values() if p.default is not inspect.Parameter.empty}
        self.cache: dict[tuple, object] = {}

    def _key(self, args, meta, device):
        parts = [device, tuple(sorted(meta.items()))]
        for a in args:
            if isinstance(a, torch.Tensor):
                parts.append((a.dtype, a.data_ptr() % 16 == 0))
            elif isinstance(a, int):
                parts.append(a)  # Triton keys on ==1, %16 and the width; the value
            elif isinstance(a, float):  # is finer
                parts.append(float)
            else:
                parts.append(a)
        return tuple(parts)

    def _tail(self, n_args, meta):
        """The parameters after the ``n_args`` positional ones, as Triton binds them."""
        return [meta[n] if n in meta else self.defaults[n] for n in self.names[n_args:]]

    def __call__(self, grid, *args, **meta):
        if INTERPRETER or not DIRECT or _hooked():
            return self.fn[grid](*args, **meta)
        device = torch.cuda.current_device()
        key = self._key(args, meta, device)
        kernel = self.cache.get(key)
        if kernel is None:
            kernel = self.fn[grid](*args, **meta)  # compiles if needed, and launches
            if len(self.cache) >= CACHE_SIZE:
                self.cache.pop(next(iter(self.cache)))
            self.cache[key] = kernel
            return kernel
        rest = self._tail(len(args), meta)
        stream = torch._C._cuda_getCurrentRawStream(device)
        g1 = grid[1] if len(grid) > 1 else 1
        g2 = grid[2] if len(grid) > 2 else 1
        kernel.run(grid[0], g1, g2, stream, kernel.function, kernel.packed_metadata,
                   None, None, None, *args, *rest)
        return kernel
