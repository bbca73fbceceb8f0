"""Atomic file writes, shared by every tool that writes a file.

A file is written to a temporary file in the same folder and renamed over the
target (``os.replace``), so a reader sees the old content or the new one, never half
of it, and an interrupted write leaves nothing behind.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from effteach.checks import typed


def _mode_for(path: Path) -> int:
    """The mode of a new version of ``path``: its current one, else 0666 - umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


@typed
def atomic_write(path: str | os.PathLike, write: Callable[[str], object]) -> None:
    """Create ``path`` atomically; ``write(tmp_path)`` writes the content.

    Args:
        path: the destination; missing parent folders are created.
        write: writes the full content to the temporary path it is given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _mode_for(path))  # mkstemp makes 0600; keep normal permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@typed
def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


@typed
def atomic_write_text(
    path: str | os.PathLike, text: str, encoding: str = "utf-8"
) -> None:
    """Write ``text`` to ``path`` atomically (no newline translation)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"encoding: unknown encoding {encoding!r}") from None
    atomic_write_bytes(path, text.encode(encoding))
