"""The ``effteach`` command: doctor, book, lab, assign, bench, train.

Bad input (an unknown chapter, a missing file) prints one line to stderr and exits 2.

Book: book/howto.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit code 2."""

    def error(self, message: str):  # noqa: D102
        self.exit(2, f"{self.prog}: {message}\n")


def _doctor() -> int:
    import effteach
    from effteach import device

    print(effteach.banner())
    rows = [("python", sys.version.split()[0]), ("repository", str(ROOT))]
    for mod in (
        "torch",
        "triton",
        "numpy",
        "sympy",
        "plotly",
        "ipywidgets",
        "jupytext",
        "nbval",
        "nbgrader",
        "jupyter_book",
        "playwright",
        "safetensors",
    ):
        spec = importlib.util.find_spec(mod)
        if spec is None:
            rows.append((mod, "MISSING"))
            continue
        from importlib.metadata import PackageNotFoundError, version

        dist = {"jupyter_book": "jupyter-book"}.get(mod, mod)
        try:
            rows.append((mod, version(dist)))
        except PackageNotFoundError:
            rows.append((mod, "installed"))
    rows.append(("cuda gpu", "yes" if device.HAS_GPU else "no"))
    rows.append(("TRITON_INTERPRET", "1" if device.INTERPRETER else "0"))
    for tool in ("chromium", "npm"):
        rows.append((tool, shutil.which(tool) or "not found"))
    results = sorted(p.stem for p in (ROOT / "results" / "gpu").glob("*.json"))
    rows.append(("gpu results", ", ".join(results) or "none"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    # a 1-row kernel call proves the interpreter (or the GPU) works end to end
    import torch

    from effteach.kernels.foundations import softmax_fwd

    x = torch.randn(2, 5, device=device.DEVICE)
    ok = torch.allclose(softmax_fwd(x), torch.softmax(x, -1), atol=1e-6)
    print(f"{'triton kernel':<{width}}  {'ok' if ok else 'WRONG RESULT'}")
    missing = [k for k, v in rows if v == "MISSING"]
    return 1 if (missing or not ok) else 0


def _lab_settings() -> Path:
    """Make JupyterLab open MyST .md files as notebooks (jupytext) and stay quiet.

    Writes the environment's ``share/jupyter/lab/settings/overrides.json``, keeping
    any other settings already there.
    """
    import json

    from effteach.bench import write_json_atomic

    path = (
        Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    )
    data = json.loads(path.read_text()) if path.is_file() else {}
    docmanager = data.setdefault("@jupyterlab/docmanager-extension:plugin", {})
    docmanager.setdefault("defaultViewers", {}).update(
        {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
    )
    data.setdefault("@jupyterlab/apputils-extension:notification", {}).update(
        {"fetchNews": "false", "checkForUpdates": False}
    )
    write_json_atomic(path, data)
    return path


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``effteach`` command."""
    import effteach

    ap = _Parser(
        prog="effteach",
        description="effteach: efficient transformers, taught paper by paper.",
    )
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    sub.add_parser("doctor", help="check the installation")
    p_book = sub.add_parser("book", help="execute the notebooks and build the book")
    p_book.add_argument("--out", default="build/book")
    sub.add_parser(
        "lab",
        help="JupyterLab on notebooks/ (other options go to jupyter "
        "lab, e.g. --port=8899)",
    )
    p_as = sub.add_parser("assign", help="write student and solution notebooks")
    p_as.add_argument("slug", nargs="?")
    p_as.add_argument("--all", action="store_true")
    p_as.add_argument(
        "--force", action="store_true", help="overwrite an existing student notebook"
    )
    p_as.add_argument("--out", default="build/assignments")
    p_bench = sub.add_parser("bench", help="run a chapter's GPU benchmark")
    p_bench.add_argument("slug")
    p_bench.add_argument("--quick", action="store_true")
    p_train = sub.add_parser("train", help="train one of the book's small models")
    p_train.add_argument("name")
    p_train.add_argument("--quick", action="store_true", help="a few steps, no save")
    p_train.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args, extra = ap.parse_known_args(argv)
    if extra and args.cmd != "lab":
        ap.error(f"unrecognized arguments: {' '.join(extra)}")

    if args.cmd == "doctor":
        return _doctor()
    if args.cmd == "book":
        from effteach.tools import book

        return book.main(["--out", args.out])
    if args.cmd == "lab":
        if not (ROOT / "notebooks").is_dir():
            print(f"effteach lab: no notebooks/ folder under {ROOT}", file=sys.stderr)
            return 2
        _lab_settings()
        cmd = [sys.executable, "-m", "jupyterlab", "--ip=127.0.0.1", "--no-browser"]
        # notebooks/ unless the caller names another folder (root_dir takes one value)
        root_options = ("--notebook-dir", "--ServerApp.root_dir")
        if not any(a.startswith(root_options) for a in extra):
            cmd.append(f"--notebook-dir={ROOT / 'notebooks'}")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        return subprocess.call(cmd + extra)
    if args.cmd == "assign":
        if args.all == bool(args.slug):
            print("effteach assign: give one chapter slug or --all", file=sys.stderr)
            return 2
        if args.slug and args.slug not in effteach.CHAPTERS:
            print(
                f"effteach assign: unknown chapter {args.slug!r} (known: "
                f"{', '.join(effteach.CHAPTERS)})",
                file=sys.stderr,
            )
            return 2
        from effteach.tools import assign

        forwarded = ["--all"] if args.all else [args.slug]
        forwarded += ["--out", args.out] + (["--force"] if args.force else [])
        return assign.main(forwarded)
    if args.cmd == "bench":
        from effteach import bench

        return bench.main([args.slug] + (["--quick"] if args.quick else []))
    if args.cmd == "train":
        from effteach import train

        return train.main(
            [args.name, "--device", args.device] + (["--quick"] if args.quick else [])
        )
    return 2  # pragma: no cover - argparse guarantees a command


if __name__ == "__main__":
    sys.exit(main())
