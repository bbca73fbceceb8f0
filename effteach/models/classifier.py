"""A small convolutional classifier of 8×8 digits, the judge of generated digits.

Its penultimate features also define the Fréchet distance between digit sets (the
"FID" of this book, on features of a classifier trained here, not Inception).

Book: notebooks/zoo/models.md, "Digit classifier".
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from effteach.checks import check_sizes, typed


@typed
@dataclasses.dataclass(frozen=True)
class DigitClassifierConfig:
    """Sizes of the digit classifier."""

    channels: int = 32
    d_features: int = 64
    n_classes: int = 10

    def __post_init__(self):
        check_sizes(self)


class DigitClassifier(nn.Module):
    """conv(3×3) → conv(3×3) → pool → linear features → logits, for (n, 1, 8, 8)."""

    @typed
    def __init__(self, cfg: DigitClassifierConfig):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(c * 16, cfg.d_features),
            nn.ReLU(),
        )
        self.head = nn.Linear(cfg.d_features, cfg.n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (n, d_features) of images in [-1, 1], (n, 1, 8, 8)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 8, 8):
            raise ValueError(f"x: expected shape (n, 1, 8, 8), got {tuple(x.shape)}")
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.head(self.features(x))
