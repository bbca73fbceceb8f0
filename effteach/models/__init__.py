"""The book's small models, trained by the package itself (``effteach.train``).

Book: notebooks/zoo/models.md, "The small models of this book".
"""

from effteach.models.classifier import DigitClassifier, DigitClassifierConfig
from effteach.models.dit import DiTConfig, TinyDiT
from effteach.models.gpt import GPTConfig, TinyGPT
from effteach.models.layers import KVCache
from effteach.models.video import (
    ARVideoConfig,
    PatchVQ,
    TinyARVideo,
    TinyVideoDiT,
    VideoDiTConfig,
)

__all__ = [
    "ARVideoConfig",
    "DiTConfig",
    "DigitClassifier",
    "DigitClassifierConfig",
    "GPTConfig",
    "KVCache",
    "PatchVQ",
    "TinyARVideo",
    "TinyDiT",
    "TinyGPT",
    "TinyVideoDiT",
    "VideoDiTConfig",
]
