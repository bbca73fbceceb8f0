"""effteach: efficient transformers, taught paper by paper.

The first code cell of every notebook is ``import effteach; effteach.setup()``.
Importing the package runs :mod:`effteach.device`, which switches Triton to its CPU
interpreter when there is no CUDA device, before any kernel module is imported.

Book: book/intro.md.
"""

from __future__ import annotations

import os
import random

from effteach import device  # noqa: F401  (side effect: TRITON_INTERPRET)
from effteach.checks import typed as _typed

__version__ = "0.1.0"

SEED = 0

#: The chapters of the book: slug -> (title, arXiv id or None, topic part).
CHAPTERS: dict[str, tuple[str, str | None, str]] = {
    "foundations": ("Attention, softmax and their gradients", None, "Foundations"),
    "pebble_io": (
        "I/O complexity of attention (red-blue pebble game)",
        "2410.09397",
        "Attention: theory and I/O",
    ),
    "poly_attention": (
        "Multi-layer transformer gradients in almost linear time",
        "2408.13233",
        "Attention: theory and I/O",
    ),
    "looped_mlp": (
        "A looped ReLU-MLP as a programmable computer",
        "2410.09375",
        "Attention: theory and I/O",
    ),
    "newton_prune": (
        "Numerical (Newton) structured pruning",
        "2412.12441",
        "Pruning and privacy",
    ),
    "attention_prune": (
        "Pruning that approximates the attention matrix",
        "2410.11261",
        "Pruning and privacy",
    ),
    "dp_attention": (
        "Differential privacy for cross-attention",
        "2407.14717",
        "Pruning and privacy",
    ),
    "lazy_dit": (
        "LazyDiT: lazy learning for diffusion transformers",
        "2412.12444",
        "Diffusion and video",
    ),
    "draft_attention": (
        "DraftAttention: sparse video attention from a draft",
        "2505.14708",
        "Diffusion and video",
    ),
    "fastcar": (
        "FastCar: MLP replay for autoregressive video",
        "2505.14709",
        "Diffusion and video",
    ),
    "econ_rl": (
        "Recon: SFT and RL with verifiable rewards",
        "2506.00577",
        "Post-training",
    ),
}


def seed_everything(seed: int = SEED) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) with one number.

    Args:
        seed: a non-negative integer.

    Raises:
        ValueError: if ``seed`` is not a non-negative int.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected a non-negative int, got {seed!r}")
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)


def banner() -> str:
    """Return the one-line banner printed by :func:`setup`."""
    info = device.describe()

    def short(v: str) -> str:
        return ".".join(v.split("+")[0].split(".")[:2])

    return (
        f"effteach {'.'.join(__version__.split('.')[:2])} | device={info['device']} | "
        f"triton interpreter={info['triton_interpreter']} | "
        f"torch {short(info['torch'])} | triton {short(info['triton'])}"
    )


@_typed
def setup(seed: int = SEED, quiet: bool = False) -> None:
    """Prepare a notebook: seed everything, set display options, print a banner.

    Args:
        seed: the seed for Python, NumPy and torch.
        quiet: if True, print nothing.
    """
    import numpy as np
    import torch

    seed_everything(seed)
    np.set_printoptions(precision=4, suppress=True, linewidth=100)
    torch.set_printoptions(precision=4, sci_mode=False, linewidth=100)
    try:  # the book's plotly look, registered lazily so plotly stays optional
        from effteach import viz

        viz.use_theme()
    except ImportError:  # pragma: no cover - plotly is a core dependency
        pass
    if not quiet:
        print(banner())


@_typed
def show_source(obj, checks: bool = True, folded: bool = True) -> None:
    """Display the source of a library object in a notebook, folded and highlighted.

    The summary line of the folded block is the signature and the first paragraph of
    the docstring; the docstring and the body open on click (:mod:`effteach.source`).

    Args:
        obj: a function, method, class or module of ``effteach``.
        checks: False to replace the argument checks at the top of a function's body
            (``if ...: raise`` guards, ``_check*(...)`` calls) by a one-line comment
            saying how many lines were left out.
        folded: False to show the block open.

    Raises:
        TypeError: if the source of ``obj`` cannot be found, or ``checks`` is not a
            bool, or ``checks=False`` is asked for a class or module.
    """
    from effteach import source

    item = source.listing(obj, checks=checks)
    bundle = source.listing_bundle(item, folded=folded)
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - outside IPython
        print(item.text, end="")
        return
    display(bundle, raw=True)
