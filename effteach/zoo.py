"""Load and save the book's trained models: ``effteach.zoo.load(name)``.

A checkpoint is three committed files in ``effteach/checkpoints/``:

* ``<name>.safetensors``: the weights (float32, or float16 where noted);
* ``<name>.config.json``: the model class, its config and how it was trained
  (command, seed, steps, threads, seconds, versions);
* ``<name>.metrics.json``: the quality measured right after training, which the tests
  re-measure on the reloaded weights.

:func:`load` refuses a checkpoint whose config or weights do not match the code (a
renamed field, a changed size), naming the difference: silently loading a model of
another shape would make every chapter's numbers meaningless.

Book: notebooks/zoo/models.md.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from safetensors.torch import load_file, save_file
from torch import nn

from effteach.checks import typed
from effteach.io import atomic_write

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
MAX_BYTES = 5 * 1024 * 1024


class CheckpointError(ValueError):
    """A checkpoint is missing or does not match the code."""


def _classes() -> dict[str, tuple[type[nn.Module], type]]:
    from effteach import models as m

    return {
        "TinyGPT": (m.TinyGPT, m.GPTConfig),
        "TinyDiT": (m.TinyDiT, m.DiTConfig),
        "TinyVideoDiT": (m.TinyVideoDiT, m.VideoDiTConfig),
        "TinyARVideo": (m.TinyARVideo, m.ARVideoConfig),
        "DigitClassifier": (m.DigitClassifier, m.DigitClassifierConfig),
    }


@typed
def names(checkpoint_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the committed checkpoints."""
    d = Path(checkpoint_dir or CHECKPOINT_DIR)
    return sorted(p.name[: -len(".config.json")] for p in d.glob("*.config.json"))


@typed
def save(
    name: str,
    model: nn.Module,
    train_info: dict,
    metrics: dict,
    checkpoint_dir: str | os.PathLike | None = None,
    half: bool = False,
) -> Path:
    """Write the three files of a checkpoint atomically; return the weights' path.

    Raises:
        CheckpointError: if the model class is unknown or the file exceeds 5 MB.
    """
    kind = type(model).__name__
    if kind not in _classes():
        raise CheckpointError(f"model: {kind} is not a zoo model class")
    d = Path(checkpoint_dir or CHECKPOINT_DIR)
    state = {
        k: (v.half() if half and v.is_floating_point() else v).contiguous()
        for k, v in model.state_dict().items()
    }
    weights = d / f"{name}.safetensors"
    atomic_write(weights, lambda p: save_file(state, p, metadata={"name": name}))
    if weights.stat().st_size > MAX_BYTES:
        raise CheckpointError(
            f"{weights.name}: {weights.stat().st_size} bytes exceeds the 5 MB limit"
        )
    config = {
        "name": name,
        "model": kind,
        "config": dataclasses.asdict(model.cfg),
        "dtype": "float16" if half else "float32",
        "train": train_info,
    }

    def dump(obj):
        return lambda p: Path(p).write_text(json.dumps(obj, indent=1) + "\n")

    atomic_write(d / f"{name}.config.json", dump(config))
    atomic_write(d / f"{name}.metrics.json", dump(metrics))
    return weights


@typed
def read_json(
    name: str, which: str, checkpoint_dir: str | os.PathLike | None = None
) -> dict:
    """Return ``<name>.<which>.json`` (which: "config" or "metrics")."""
    if which not in ("config", "metrics"):
        raise ValueError(f"which: expected 'config' or 'metrics', got {which!r}")
    path = Path(checkpoint_dir or CHECKPOINT_DIR) / f"{name}.{which}.json"
    if not path.is_file():
        known = ", ".join(names(checkpoint_dir)) or "none"
        raise CheckpointError(
            f"name: no checkpoint {name!r} (known: {known}); train it with "
            f"`python -m effteach.train {name}`"
        )
    return json.loads(path.read_text())


@typed
def load(name: str, checkpoint_dir: str | os.PathLike | None = None) -> nn.Module:
    """Build the model of a committed checkpoint and load its weights (eval mode).

    Raises:
        CheckpointError: unknown name, or config/weights that do not match the code.
    """
    meta = read_json(name, "config", checkpoint_dir)
    classes = _classes()
    if meta.get("model") not in classes:
        raise CheckpointError(f"{name}: unknown model class {meta.get('model')!r}")
    model_cls, cfg_cls = classes[meta["model"]]
    fields = {f.name for f in dataclasses.fields(cfg_cls)}
    saved = set(meta["config"])
    if saved != fields:
        raise CheckpointError(
            f"{name}: config does not match the code's {cfg_cls.__name__}: "
            f"only in the checkpoint {sorted(saved - fields)}, "
            f"only in the code {sorted(fields - saved)}; retrain with "
            f"`python -m effteach.train {name}`"
        )
    cfg = cfg_cls(**meta["config"])
    model = model_cls(cfg)
    state = load_file(
        str(Path(checkpoint_dir or CHECKPOINT_DIR) / f"{name}.safetensors")
    )
    want = model.state_dict()
    for key in sorted(set(want) | set(state)):
        if key not in state or key not in want:
            where = "the checkpoint" if key in state else "the code"
            raise CheckpointError(f"{name}: weight {key!r} exists only in {where}")
        if tuple(state[key].shape) != tuple(want[key].shape):
            raise CheckpointError(
                f"{name}: weight {key!r} has shape {tuple(state[key].shape)} in the "
                f"checkpoint but {tuple(want[key].shape)} in the code"
            )
    model.load_state_dict({k: v.to(want[k].dtype) for k, v in state.items()})
    return model.eval()
