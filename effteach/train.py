"""Training entry point of the book's small models: ``python -m effteach.train``.

Each model of the zoo has a deterministic trainer (seeded, fixed thread count, tqdm
progress, a loss log) that writes ``effteach/checkpoints/<name>.*`` through
:func:`effteach.zoo.save`; ``--quick`` runs a few steps and saves nothing.

Book: notebooks/zoo/models.md, "How they were trained".
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys

#: model name -> "module:function" of its trainer
TRAINERS: dict[str, str] = {
    "tinygpt_text": "effteach.models.training:train_tinygpt_text",
    "tinygpt_copy": "effteach.models.training:train_tinygpt_copy",
    "digit_classifier": "effteach.models.training:train_digit_classifier",
    "tinydit_digits": "effteach.models.training:train_tinydit_digits",
    "tinyvideodit": "effteach.models.training:train_tinyvideodit",
    "tinyarvideo": "effteach.models.training:train_tinyarvideo",
    "econ_rl_gpt": "effteach.econ_rl.train_cpu:train_econ_rl_gpt",
}


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m effteach.train <name> [--quick] [--device D]``."""
    ap = argparse.ArgumentParser(prog="effteach train")
    ap.add_argument("name")
    ap.add_argument("--quick", action="store_true", help="a few steps, nothing saved")
    ap.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda"),
        help="video models only: where to train (auto: CUDA when available)",
    )
    args = ap.parse_args(argv)
    if args.name not in TRAINERS:
        known = ", ".join(sorted(TRAINERS)) or "none yet"
        print(
            f"effteach train: unknown model {args.name!r} (known: {known})",
            file=sys.stderr,
        )
        return 2
    mod, fn = TRAINERS[args.name].split(":")
    trainer = getattr(importlib.import_module(mod), fn)
    kwargs = {"quick": args.quick, "save": not args.quick}
    if "device" in inspect.signature(trainer).parameters:
        kwargs["device"] = args.device
    elif args.device == "cuda":
        print(f"effteach train: {args.name} trains on the CPU only", file=sys.stderr)
        return 2
    _model, metrics, _log = trainer(**kwargs)
    print(json.dumps(metrics, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
