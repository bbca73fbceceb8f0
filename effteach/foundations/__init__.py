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

_VIZ = ("softmax_gpu_figure", "temperature_figure", "temperature_panel")


def __getattr__(name: str):
    # plotly/ipywidgets load only when a figure is asked for, so the kernels and
    # references import on GPU machines that have neither
    if name in _VIZ:
        from effteach.foundations import viz

        return getattr(viz, name)
    raise AttributeError(f"module 'effteach.foundations' has no attribute {name!r}")


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
