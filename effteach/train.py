"""Training entry point of the book's small models: ``python -m effteach.train``.

Each model of the zoo registers a trainer here; the trainer is deterministic, shows
progress with tqdm and writes ``effteach/checkpoints/<name>.safetensors`` with its
config and metrics. The zoo itself is built by the "model zoo" issue; until then the
registry is empty and every name is reported as unknown.

Book: book/howto.md.
"""

from __future__ import annotations

import argparse
import importlib
import sys

#: model name -> "module:function" of its trainer
TRAINERS: dict[str, str] = {}


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m effteach.train <name>``."""
    ap = argparse.ArgumentParser(prog="effteach train")
    ap.add_argument("name")
    args = ap.parse_args(argv)
    if args.name not in TRAINERS:
        known = ", ".join(sorted(TRAINERS)) or "none yet"
        print(
            f"effteach train: unknown model {args.name!r} (known: {known})",
            file=sys.stderr,
        )
        return 2
    mod, fn = TRAINERS[args.name].split(":")
    getattr(importlib.import_module(mod), fn)()
    return 0


if __name__ == "__main__":
    sys.exit(main())
