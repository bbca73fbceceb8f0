"""Foundations: scaled dot-product attention, softmax and their gradients.

Book: notebooks/foundations/lecture.md.
"""

from effteach.foundations.reference import (
    attention_bwd_ref,
    attention_ref,
    softmax_bwd_ref,
    softmax_jacobian_ref,
    softmax_naive,
    softmax_ref,
)
from effteach.lazy_import import lazy_attributes

_VIZ = ("softmax_gpu_figure", "temperature_figure", "temperature_panel")


__getattr__ = lazy_attributes(__name__, "viz", _VIZ)


__all__ = [
    "attention_bwd_ref",
    "attention_ref",
    "softmax_bwd_ref",
    "softmax_jacobian_ref",
    "softmax_naive",
    "softmax_ref",
    "softmax_gpu_figure",
    "temperature_figure",
    "temperature_panel",
]
