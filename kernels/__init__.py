"""Triton kernels of the book, one module per chapter (installed as effteach.kernels).

Import them as ``from effteach.kernels.foundations import softmax_fwd``; importing
``effteach`` first (done here) switches Triton to its CPU interpreter when there is no
CUDA device.
"""

import effteach  # noqa: F401  (sets TRITON_INTERPRET before any @triton.jit runs)
