"""Data of the model zoo: offline text, a Markov+copy task, 8x8 digits, tiny videos.

Everything here is either generated from a seed or read from files every Python
installation already has (the standard library's source, scikit-learn's bundled
digits): nothing is downloaded. Scores for the data live in :mod:`effteach.metrics`.

* Text: :func:`stdlib_corpus`, :class:`CharTokenizer`, :func:`text_splits`,
  :func:`batches`, :func:`eval_batches`.
* Synthetic sequences with a known optimum: :func:`markov_chain`,
  :func:`markov_copy_batch`.
* Images: :func:`load_digits_tensors`, :func:`digits_split_indices`.
* Videos with true trajectories: :func:`moving_shapes`.

Book: notebooks/zoo/models.md, "Data".
"""

from effteach.data.digits import (
    DIGITS_N_TEST,
    digits_split_indices,
    load_digits_tensors,
)
from effteach.data.text import (
    STDLIB_CORPUS_CHARS,
    STDLIB_CORPUS_PYTHON,
    STDLIB_CORPUS_SHA256,
    STDLIB_FILES,
    CharTokenizer,
    CorpusMismatchError,
    MarkovChain,
    MarkovCopyBatch,
    TextSplits,
    batches,
    eval_batches,
    markov_chain,
    markov_copy_batch,
    stdlib_corpus,
    text_splits,
)
from effteach.data.video import (
    OCCLUDER_LEVEL,
    SHAPE_NAMES,
    MovingShapes,
    moving_shapes,
)

__all__ = [
    # text
    "STDLIB_FILES",
    "STDLIB_CORPUS_SHA256",
    "STDLIB_CORPUS_CHARS",
    "STDLIB_CORPUS_PYTHON",
    "CorpusMismatchError",
    "stdlib_corpus",
    "CharTokenizer",
    "TextSplits",
    "text_splits",
    "batches",
    "eval_batches",
    "MarkovChain",
    "MarkovCopyBatch",
    "markov_chain",
    "markov_copy_batch",
    # digits
    "DIGITS_N_TEST",
    "digits_split_indices",
    "load_digits_tensors",
    # video
    "SHAPE_NAMES",
    "OCCLUDER_LEVEL",
    "MovingShapes",
    "moving_shapes",
]
