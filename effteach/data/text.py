"""Text data: a real corpus that needs no download, and a synthetic Markov+copy task.

Two sources of tokens for the book's small language models:

* :func:`stdlib_corpus`: the docstrings and comments of a fixed list of CPython
  standard-library files. Every Python installation carries them, so the corpus is
  real English-with-code prose that is available offline, and its SHA-256 pins it
  down exactly. :class:`CharTokenizer` turns it into ids; :func:`text_splits`,
  :func:`batches` and :func:`eval_batches` cut it into training and validation
  windows.
* :func:`markov_copy_batch`: sequences whose first half follows a sparse random
  Markov chain and whose second half copies the first. The chain's entropy rate is
  the exact best possible loss on the first half, and the copy half can only be
  predicted by attending back: a one-minute test of whether attention works.

Book: notebooks/zoo/models.md, "Data".
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import math
import os
import platform
import sysconfig
import tokenize
import unicodedata
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from effteach.checks import typed
from effteach.io import atomic_write_text

__all__ = [
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
]

# ---------------------------------------------------------------------------------
# The standard-library corpus
# ---------------------------------------------------------------------------------

#: The source files, relative to ``sysconfig.get_paths()["stdlib"]``, in corpus order.
#: All of them exist, with these paths, in CPython 3.10 to 3.13 (modules that became
#: packages, such as ``pathlib`` or ``zipfile``, are left out).
STDLIB_FILES: tuple[str, ...] = (
    "textwrap.py",
    "heapq.py",
    "bisect.py",
    "functools.py",
    "collections/__init__.py",
    "argparse.py",
    "abc.py",
    "base64.py",
    "calendar.py",
    "cmd.py",
    "codecs.py",
    "configparser.py",
    "contextlib.py",
    "copy.py",
    "csv.py",
    "dataclasses.py",
    "difflib.py",
    "doctest.py",
    "enum.py",
    "fnmatch.py",
    "fractions.py",
    "getopt.py",
    "gettext.py",
    "glob.py",
    "graphlib.py",
    "gzip.py",
    "hmac.py",
    "inspect.py",
    "ipaddress.py",
    "json/__init__.py",
    "json/decoder.py",
    "json/encoder.py",
    "locale.py",
    "logging/__init__.py",
    "numbers.py",
    "operator.py",
    "os.py",
    "pickle.py",
    "pprint.py",
    "queue.py",
    "random.py",
    "sched.py",
    "shlex.py",
    "shutil.py",
    "statistics.py",
    "string.py",
    "subprocess.py",
    "tempfile.py",
    "threading.py",
    "timeit.py",
    "tokenize.py",
    "traceback.py",
    "typing.py",
    "unittest/case.py",
    "uuid.py",
    "warnings.py",
    "weakref.py",
)

#: SHA-256 of ``stdlib_corpus().encode("ascii")``, recorded with
#: :data:`STDLIB_CORPUS_PYTHON`.
STDLIB_CORPUS_SHA256 = (
    "97a8d69b0e381a5fdc1a5e58052a4a3d9477b84bf2d463616a936d9d671d6ab9"
)

#: Length of the corpus in characters (= bytes: it is ASCII).
STDLIB_CORPUS_CHARS = 714_809

#: The interpreter the hash and length were recorded with.
STDLIB_CORPUS_PYTHON = "CPython 3.11.7"


class CorpusMismatchError(RuntimeError):
    """The standard-library text on this machine differs from the recorded corpus."""


def _normalise(text: str) -> str:
    """Map text to the corpus alphabet: printable ASCII and newline, tidy lines."""
    # NFKD splits accented letters into letter + combining mark; the ASCII encode
    # then drops the mark ("é" -> "e") and any other non-ASCII character
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4)
    text = "".join(ch for ch in text if ch == "\n" or " " <= ch <= "~")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def _docstrings(body: list[ast.stmt], items: list[tuple[int, int, str]]) -> None:
    """Collect the docstrings of the definitions in ``body``, recursively.

    Only statements are visited (defs can sit inside ``if``/``try`` blocks, never
    inside expressions), which is several times faster than ``ast.walk``.
    """
    for node in body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)  # clean=True dedents
            if doc:
                items.append((node.body[0].lineno, node.body[0].col_offset, doc))
        for field in ("body", "orelse", "finalbody", "handlers"):
            child = getattr(node, field, None)
            if isinstance(child, list):
                _docstrings(child, items)


def _file_pieces(source: str) -> list[tuple[int, int, str]]:
    """Docstrings (via ``ast``) and comments (via ``tokenize``) with their positions.

    Returns:
        ``(line, column, text)`` items; sorting them gives reading order.
    """
    items: list[tuple[int, int, str]] = []
    tree = ast.parse(source)
    doc = ast.get_docstring(tree, clean=True)
    if doc:
        items.append((tree.body[0].lineno, tree.body[0].col_offset, doc))
    _docstrings(tree.body, items)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            text = tok.string.lstrip("#").strip()
            # skip rulers ("# -----"), shebangs and coding cookies: no prose in them
            if any(ch.isalpha() for ch in text) and not text.startswith(("!", "-*-")):
                items.append((tok.start[0], tok.start[1], text))
    return sorted(items)


def _extract_source(source: str) -> str:
    """The normalised docstrings and comments of one file's source, in order."""
    pieces = (_normalise(text) for _, _, text in _file_pieces(source))
    return "\n".join(p for p in pieces if p)


def _python_version() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def _cache_dir() -> Path:
    """Where built corpora are kept: ``$EFFTEACH_CACHE_DIR`` or the user cache."""
    env = os.environ.get("EFFTEACH_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "effteach"


@functools.lru_cache(maxsize=4)
def _build_corpus(root: Path, files: tuple[str, ...], skip_missing: bool) -> str:
    """Extract and join the files; cached in memory and on disk.

    The disk cache key hashes this module's own source and the bytes of every input
    file, so a cached text is always the one extraction would produce now: editing
    the extractor or upgrading Python only costs one rebuild (a few seconds: the
    pure-Python ``tokenize`` of CPython <= 3.11 dominates).
    """
    sources: list[tuple[str, bytes | None]] = []
    key = hashlib.sha256(b"effteach.data.text stdlib corpus\0")
    key.update(Path(__file__).read_bytes())
    for rel in files:
        path = root / rel
        if not path.is_file():
            if not skip_missing:
                raise CorpusMismatchError(
                    f"stdlib_corpus: {rel} is missing under {root} "
                    f"({_python_version()}); the corpus was recorded with "
                    f"{STDLIB_CORPUS_PYTHON}. Pass check_hash=False to skip missing "
                    "files."
                )
            warnings.warn(
                f"stdlib_corpus: {rel} is missing under {root}; skipped", stacklevel=4
            )
            sources.append((rel, None))
            continue
        data = path.read_bytes()
        sources.append((rel, data))
        key.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
    cache = _cache_dir() / f"stdlib_corpus-{key.hexdigest()[:32]}.txt"
    try:
        return cache.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        pass
    parts = [_extract_source(data.decode("utf-8")) for _, data in sources if data]
    text = "\n".join(parts) + "\n"
    try:
        atomic_write_text(cache, text)
    except OSError:  # a read-only home only costs the rebuild next time
        pass
    return text


@typed
def stdlib_corpus(check_hash: bool = True) -> str:
    r"""The docstrings and comments of :data:`STDLIB_FILES`, as one ASCII string.

    Each file is parsed with ``ast`` (module, class and function docstrings, dedented
    by ``ast.get_docstring``) and ``tokenize`` (comments without their ``#``); the
    pieces are taken in source order, file by file in :data:`STDLIB_FILES` order,
    normalised (non-ASCII removed after NFKD, so "é" becomes "e"; tabs expanded;
    trailing spaces stripped) and joined with newlines. The result only contains
    printable ASCII and ``"\n"``, the alphabet of :class:`CharTokenizer`. Building
    takes a few seconds, so the text is cached in memory and on disk (in
    ``$EFFTEACH_CACHE_DIR``, default ``~/.cache/effteach``; the file name hashes the
    sources, so a stale copy is never used).

    Args:
        check_hash: compare the text with :data:`STDLIB_CORPUS_SHA256`. Other Python
            versions ship other docstrings, so results (perplexities, checkpoints)
            are only comparable when the hash matches. With ``False``, a differing
            text is returned anyway and missing files are skipped with a warning.

    Returns:
        The corpus (714,809 characters with CPython 3.11.7), ending in a newline.

    Raises:
        CorpusMismatchError: if ``check_hash`` and the text (or a file) differs from
            the one recorded with :data:`STDLIB_CORPUS_PYTHON`.

    Book: notebooks/zoo/models.md, "A corpus on every machine".
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    text = _build_corpus(root, STDLIB_FILES, skip_missing=not check_hash)
    if check_hash:
        digest = hashlib.sha256(text.encode("ascii")).hexdigest()
        if digest != STDLIB_CORPUS_SHA256:
            raise CorpusMismatchError(
                f"stdlib_corpus: sha256 {digest[:16]}... ({len(text)} chars) differs "
                f"from the recorded {STDLIB_CORPUS_SHA256[:16]}... "
                f"({STDLIB_CORPUS_CHARS} chars): recorded with "
                f"{STDLIB_CORPUS_PYTHON}; this is {_python_version()}: the stdlib "
                "text differs. Pass check_hash=False to use this text anyway "
                "(numbers will not match the book's)."
            )
    return text


# ---------------------------------------------------------------------------------
# Character tokenizer
# ---------------------------------------------------------------------------------


class CharTokenizer:
    r"""Character-level tokenizer with a fixed vocabulary: newline, printable ASCII.

    Ids: ``0`` is ``"\n"``, ``1..95`` are the characters ``" "`` (32) to ``"~"``
    (126) in code-point order, and ``96`` (:attr:`unk_id`) is any other character.
    ``vocab_size`` is 97. The vocabulary does not depend on the data, so every
    model trained with it can read every text.

    Example:
        >>> tok = CharTokenizer()
        >>> tok.decode(tok.encode("def f():\n"))
        'def f():\n'

    Book: notebooks/zoo/models.md, "Tokens".
    """

    #: The known characters, in id order.
    chars: str = "\n" + "".join(chr(c) for c in range(32, 127))
    #: Id of characters outside :attr:`chars`.
    unk_id: int = len(chars)
    #: Number of ids, ``unk_id`` included.
    vocab_size: int = len(chars) + 1
    #: What :meth:`decode` writes for ``unk_id`` (not in the vocabulary, on purpose).
    unk_char: str = "\ufffd"

    def __init__(self) -> None:
        table = np.full(128, self.unk_id, dtype=np.int64)  # code point -> id
        for i, ch in enumerate(self.chars):
            table[ord(ch)] = i
        self._table = table
        self._inverse = np.array(list(self.chars) + [self.unk_char], dtype=object)

    def encode(self, text: str, errors: str = "replace") -> torch.Tensor:
        """Turn text into ids.

        Args:
            text: any string.
            errors: ``"replace"`` maps unknown characters to :attr:`unk_id`;
                ``"strict"`` raises instead.

        Returns:
            Ids, int64 (long), shape (len(text),).

        Raises:
            TypeError: if ``text`` is not a str.
            ValueError: if ``errors`` is unknown, or is ``"strict"`` and ``text``
                contains a character outside the vocabulary.
        """
        if not isinstance(text, str):
            raise TypeError(f"text: expected a str, got {type(text).__name__}")
        if errors not in ("replace", "strict"):
            raise ValueError(f"errors: expected 'replace' or 'strict', got {errors!r}")
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        ids = np.full(codes.shape, self.unk_id, dtype=np.int64)
        ascii_ = codes < 128
        ids[ascii_] = self._table[codes[ascii_]]
        if errors == "strict" and (ids == self.unk_id).any():
            pos = int(np.argmax(ids == self.unk_id))
            raise ValueError(
                f"text: character {text[pos]!r} at index {pos} is not in the "
                "vocabulary (newline and printable ASCII)"
            )
        return torch.from_numpy(ids)

    def decode(self, ids: torch.Tensor | np.ndarray | list[int]) -> str:
        """Turn ids back into text; ``decode(encode(s)) == s`` for in-vocabulary s.

        Args:
            ids: integer ids in ``[0, vocab_size)``, any 1-D sequence.

        Returns:
            The text; :attr:`unk_id` becomes :attr:`unk_char`.

        Raises:
            ValueError: if ``ids`` is not 1-D or holds an id out of range.
        """
        arr = np.asarray(ids.cpu() if isinstance(ids, torch.Tensor) else ids)
        if arr.ndim != 1:
            raise ValueError(f"ids: expected a 1-D sequence, got shape {arr.shape}")
        if arr.size == 0:
            return ""
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"ids: expected integers, got dtype {arr.dtype}")
        if arr.min() < 0 or arr.max() >= self.vocab_size:
            raise ValueError(
                f"ids: expected values in [0, {self.vocab_size}), got range "
                f"[{arr.min()}, {arr.max()}]"
            )
        return "".join(self._inverse[arr])

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


# ---------------------------------------------------------------------------------
# Train/validation split and batches
# ---------------------------------------------------------------------------------


def _check_int(name: str, value, low: int, high: float = math.inf) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if not low <= value <= high:
        hi = "" if high == math.inf else f", <= {high}"
        raise ValueError(f"{name}: expected an int >= {low}{hi}, got {value}")
    return int(value)


def _check_tokens_1d(name: str, tokens: torch.Tensor) -> None:
    if not isinstance(tokens, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(tokens).__name__}")
    if tokens.dim() != 1 or tokens.dtype != torch.long:
        raise ValueError(
            f"{name}: expected a 1-D int64 (long) tensor, got shape "
            f"{tuple(tokens.shape)} dtype {tokens.dtype}"
        )


@dataclass(frozen=True)
class TextSplits:
    """The tokenised corpus, cut once into a training and a validation part.

    Attributes:
        train: ids of the first part, int64, shape (n_train,).
        val: ids of the last part, int64, shape (n_val,); no character of it is in
            ``train``, and windows from :func:`batches` never cross the cut.
        seq_len: the context length the split was checked for: ``val`` holds at
            least one window of ``seq_len + 1`` ids (input plus shifted target).
        tokenizer: the tokenizer that made the ids.
    """

    train: torch.Tensor
    val: torch.Tensor
    seq_len: int
    tokenizer: CharTokenizer


@typed
def text_splits(
    seq_len: int, val_fraction: float = 0.1, check_hash: bool = True
) -> TextSplits:
    """Tokenise :func:`stdlib_corpus` and split it: first 90% train, last 10% val.

    The split is a fixed cut, not a random one, so it needs no seed: the
    validation text is the end of the corpus (the last files of
    :data:`STDLIB_FILES`), contiguous and never seen in training. Randomness
    enters only in :func:`batches`.

    Args:
        seq_len: context length the models will use, >= 1; checked to fit in both
            parts.
        val_fraction: share of the corpus held out at its end, in (0, 0.5].
        check_hash: passed to :func:`stdlib_corpus`.

    Returns:
        A :class:`TextSplits` with ``train`` and ``val`` 1-D int64 tensors.

    Raises:
        ValueError: if ``val_fraction`` is out of range or ``seq_len`` is too long
            for the validation part.

    Book: notebooks/zoo/models.md, "Tokens".
    """
    seq_len = _check_int("seq_len", seq_len, 1)
    if not isinstance(val_fraction, (int, float)) or not 0 < val_fraction <= 0.5:
        raise ValueError(
            f"val_fraction: expected a float in (0, 0.5], got {val_fraction}"
        )
    tok = CharTokenizer()
    ids = tok.encode(stdlib_corpus(check_hash=check_hash))
    cut = len(ids) - int(round(val_fraction * len(ids)))
    train, val = ids[:cut].clone(), ids[cut:].clone()
    if len(val) < seq_len + 1:
        raise ValueError(
            f"seq_len: expected <= {len(val) - 1} (validation part has {len(val)} "
            f"ids), got {seq_len}"
        )
    return TextSplits(train=train, val=val, seq_len=seq_len, tokenizer=tok)


def batches(
    tokens: torch.Tensor, batch_size: int, seq_len: int, n_batches: int, seed: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Random training windows: inputs and next-token targets.

    Each window starts at a uniformly random offset (drawn with a
    ``torch.Generator`` seeded by ``seed``, so the stream is reproducible).

    Args:
        tokens: ids, 1-D int64, e.g. ``text_splits(...).train``.
        batch_size: windows per batch, >= 1.
        seq_len: window length, >= 1 and < len(tokens).
        n_batches: number of batches to yield, >= 0.
        seed: seed of the offsets.

    Returns:
        An iterator over ``n_batches`` pairs ``(x, y)``, both int64 of shape
        (batch_size, seq_len), with ``y[:, t] == tokens[start + t + 1]`` the target
        of ``x[:, t]``. Arguments are checked at the call, not at the first batch.

    Book: notebooks/zoo/models.md, "Tokens".
    """
    _check_tokens_1d("tokens", tokens)
    batch_size = _check_int("batch_size", batch_size, 1)
    seq_len = _check_int("seq_len", seq_len, 1, len(tokens) - 1)
    n_batches = _check_int("n_batches", n_batches, 0)
    seed = _check_int("seed", seed, 0)
    return _random_windows(tokens, batch_size, seq_len, n_batches, seed)


def _random_windows(tokens, batch_size, seq_len, n_batches, seed):
    # a separate generator function, so that bad arguments raise at the call
    gen = torch.Generator().manual_seed(seed)
    n_starts = len(tokens) - seq_len  # last start leaves room for the target
    offsets = torch.arange(seq_len + 1)
    for _ in range(n_batches):
        starts = torch.randint(n_starts, (batch_size,), generator=gen)
        win = tokens[starts[:, None] + offsets]  # (batch_size, seq_len + 1)
        yield win[:, :-1], win[:, 1:]


def eval_batches(
    tokens: torch.Tensor, batch_size: int, seq_len: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Non-overlapping windows in order, covering ``tokens`` once: for evaluation.

    Windows start at ``0, seq_len, 2 seq_len, ...``; each predicts ``seq_len``
    targets, so every id after the first is scored exactly once, except for a tail
    shorter than a window, which is dropped. The last batch may be smaller.

    Args:
        tokens: ids, 1-D int64, e.g. ``text_splits(...).val``.
        batch_size: windows per batch, >= 1.
        seq_len: window length, >= 1 and < len(tokens).

    Returns:
        An iterator over pairs ``(x, y)``, int64 of shape (b, seq_len) with
        b <= batch_size.
    """
    _check_tokens_1d("tokens", tokens)
    batch_size = _check_int("batch_size", batch_size, 1)
    seq_len = _check_int("seq_len", seq_len, 1, len(tokens) - 1)
    return _ordered_windows(tokens, batch_size, seq_len)


def _ordered_windows(tokens, batch_size, seq_len):
    n_windows = (len(tokens) - 1) // seq_len
    starts = torch.arange(n_windows) * seq_len
    offsets = torch.arange(seq_len + 1)
    for i in range(0, n_windows, batch_size):
        win = tokens[starts[i : i + batch_size, None] + offsets]
        yield win[:, :-1], win[:, 1:]


# ---------------------------------------------------------------------------------
# Synthetic Markov + copy task
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarkovChain:
    """A sparse random Markov chain over ``vocab`` states.

    Attributes:
        transition: ``P[i, j] = p(next = j | current = i)``, float64, shape
            (vocab, vocab); rows sum to 1.
        stationary: the stationary distribution ``pi`` (``pi @ P == pi``), float64,
            shape (vocab,); first tokens are drawn from it, so every position of a
            sequence is distributed as ``pi``.
        entropy_rate: ``H = -sum_i pi_i sum_j P_ij log P_ij`` in nats: the expected
            loss of the best possible predictor of the next Markov token.
        seed: the seed that made the chain.
    """

    transition: torch.Tensor
    stationary: torch.Tensor
    entropy_rate: float
    seed: int

    @property
    def vocab(self) -> int:
        """Number of states (token ids)."""
        return self.transition.shape[0]

    @property
    def perplexity(self) -> float:
        """``exp(entropy_rate)``: the ground-truth perplexity on Markov positions."""
        return math.exp(self.entropy_rate)


@functools.lru_cache(maxsize=16)
def markov_chain(
    vocab: int, seed: int = 0, n_successors: int = 3, smoothing: float = 0.01
) -> MarkovChain:
    """Build the sparse random Markov chain of the Markov+copy task.

    Each state gets ``n_successors`` likely next states (chosen at random) with
    Dirichlet(1)-random weights; a little probability ``smoothing`` is spread
    uniformly over all states, which makes the chain irreducible and aperiodic, so
    its stationary distribution and entropy rate are unique.

    Args:
        vocab: number of states, >= 2.
        seed: seed of ``numpy.random.default_rng`` that draws the chain.
        n_successors: likely successors per state, in [1, vocab].
        smoothing: uniform share of each row, in (0, 1).

    Returns:
        A :class:`MarkovChain` (cached: the same arguments give the same object).

    Paper: Shannon 1948, "A Mathematical Theory of Communication", sec. 7 (entropy
        of a Markov source).
    Book: notebooks/zoo/models.md, "A task with a known answer".
    """
    vocab = _check_int("vocab", vocab, 2)
    seed = _check_int("seed", seed, 0)
    n_successors = _check_int("n_successors", n_successors, 1, vocab)
    if not isinstance(smoothing, (int, float)) or not 0 < smoothing < 1:
        raise ValueError(f"smoothing: expected a float in (0, 1), got {smoothing}")
    rng = np.random.default_rng(seed)
    sparse = np.zeros((vocab, vocab))
    for i in range(vocab):
        succ = rng.choice(vocab, size=n_successors, replace=False)
        sparse[i, succ] = rng.dirichlet(np.ones(n_successors))
    P = (1 - smoothing) * sparse + smoothing / vocab
    P /= P.sum(axis=1, keepdims=True)
    # stationary distribution: the left eigenvector of P for eigenvalue 1
    evals, evecs = np.linalg.eig(P.T)
    pi = np.real(evecs[:, np.argmin(np.abs(evals - 1))])
    pi = np.abs(pi) / np.abs(pi).sum()
    for _ in range(50):  # polish: a few power steps remove eigen-solver noise
        pi = pi @ P
    pi /= pi.sum()
    H = float(-(pi[:, None] * P * np.log(P)).sum())
    return MarkovChain(
        transition=torch.from_numpy(P),
        stationary=torch.from_numpy(pi),
        entropy_rate=H,
        seed=seed,
    )


@dataclass(frozen=True)
class MarkovCopyBatch:
    """A batch of the Markov+copy task.

    Masks are indexed by the *input* position ``t``, which predicts
    ``tokens[:, t + 1]``, so they line up with ``logits[:, t]`` in
    :func:`effteach.metrics.perplexity`. The last position has no target and is
    False in both masks.

    Attributes:
        tokens: int64, shape (batch, seq_len); ``tokens[:, h:] == tokens[:, :h]``
            with ``h = seq_len // 2``.
        copy_mask: bool, shape (batch, seq_len); True for ``t`` in
            ``[h - 1, seq_len - 2]``: the next token is a copy of ``tokens[t+1-h]``.
        markov_mask: bool, shape (batch, seq_len); True for ``t`` in ``[0, h - 2]``:
            the next token is a fresh Markov step, best predicted with loss
            ``chain.entropy_rate``.
        chain: the :class:`MarkovChain` the first halves were drawn from.
    """

    tokens: torch.Tensor
    copy_mask: torch.Tensor
    markov_mask: torch.Tensor
    chain: MarkovChain


def markov_copy_batch(
    batch: int,
    seq_len: int,
    vocab: int,
    seed: int,
    chain_seed: int = 0,
    n_successors: int = 3,
    smoothing: float = 0.01,
) -> MarkovCopyBatch:
    """Sample sequences: a Markov first half, then an exact copy of it.

    A model that only learns the chain reaches perplexity ``exp(H)`` everywhere
    (``H`` = ``chain.entropy_rate``); one that can attend back ``h`` positions
    predicts the copy half perfectly (perplexity 1 on ``copy_mask``). The gap is
    the signature of working attention (an induction-head style task).

    Args:
        batch: number of sequences, >= 1.
        seq_len: sequence length, even and >= 4.
        vocab: number of token ids, >= 2.
        seed: seed of the samples (a ``torch.Generator``); change it for every
            batch.
        chain_seed: seed of the chain (see :func:`markov_chain`); keep it fixed so
            that all batches come from the same chain.
        n_successors: likely successors per state.
        smoothing: uniform probability share per row.

    Returns:
        A :class:`MarkovCopyBatch`.

    Paper: Olsson et al. 2022, "In-context Learning and Induction Heads" (the copy
        mechanism the task isolates).
    Book: notebooks/zoo/models.md, "A task with a known answer".
    """
    batch = _check_int("batch", batch, 1)
    seq_len = _check_int("seq_len", seq_len, 4)
    if seq_len % 2:
        raise ValueError(f"seq_len: expected an even int >= 4, got {seq_len}")
    seed = _check_int("seed", seed, 0)
    chain_seed = _check_int("chain_seed", chain_seed, 0)
    chain = markov_chain(vocab, chain_seed, n_successors, smoothing)
    gen = torch.Generator().manual_seed(seed)
    half = seq_len // 2
    cdf = torch.cumsum(chain.transition, dim=1)  # (vocab, vocab)
    cdf[:, -1] = 1.0  # guard against round-off: the last bin ends at exactly 1
    pi_cdf = torch.cumsum(chain.stationary, dim=0)
    pi_cdf[-1] = 1.0
    u = torch.rand(half, batch, 1, generator=gen, dtype=torch.float64)
    first = torch.empty(half, batch, dtype=torch.long)  # time-major while sampling
    first[0] = torch.searchsorted(pi_cdf, u[0, :, 0], right=True)
    for t in range(1, half):  # inverse-CDF sampling of one step, all rows at once
        rows = cdf[first[t - 1]]  # (batch, vocab): the CDF of each row's next token
        first[t] = torch.searchsorted(rows, u[t], right=True)[:, 0]
    first = first.T.contiguous()  # (batch, half)
    first.clamp_(max=chain.vocab - 1)
    tokens = torch.cat([first, first], dim=1)
    pos = torch.arange(seq_len)
    copy_mask = ((pos >= half - 1) & (pos <= seq_len - 2)).expand(batch, -1).clone()
    markov_mask = (pos <= half - 2).expand(batch, -1).clone()
    return MarkovCopyBatch(
        tokens=tokens, copy_mask=copy_mask, markov_mask=markov_mask, chain=chain
    )
