"""`effteach assign` from an installed wheel: the notebooks ship as package data.

The wheel is built from a copy of the working tree (so no build output lands in the
checkout), installed with ``pip install --target`` into a temporary folder, and run
from a directory outside the repository with only that folder on ``PYTHONPATH``
(the test checks that the installed copy, not the checkout, is the one imported).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from effteach.tools.notebooks import repo_root

REPO = repo_root()
#: what the wheel is built from (pyproject.toml's packages and their data)
TREE = ("pyproject.toml", "README.md", "effteach", "kernels", "fpga_sim", "notebooks")


def _run(args: list[str], cwd: Path, env: dict | None = None):
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"{' '.join(args)}:\n{proc.stderr[-3000:]}"
    return proc


@pytest.mark.slow
def test_assign_runs_from_an_installed_wheel(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in TREE:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=ignore)
        else:
            shutil.copy(REPO / name, src / name)
    pip = [sys.executable, "-m", "pip"]
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", "dist", "."],
        cwd=src,
    )
    (wheel,) = (src / "dist").glob("effteach-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "effteach/notebooks/foundations/assignment.md" in names
    assert "effteach/notebooks/jupytext.toml" in names
    site = tmp_path / "site"
    _run([*pip, "install", "--no-deps", "-q", "--target", str(site), str(wheel)], src)

    elsewhere = tmp_path / "elsewhere"  # no notebooks/ here or above
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = _run(
        [sys.executable, "-c", "import effteach; print(effteach.__file__)"],
        elsewhere,
        env,
    )
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout
    out = tmp_path / "out"
    assign = [sys.executable, "-m", "effteach.tools.assign", "foundations"]
    _run(
        [*assign, "--out", str(out)],
        elsewhere,
        env,
    )
    for name in ("solution.ipynb", "student.ipynb"):
        nb = json.loads((out / "foundations" / name).read_text())
        assert any(
            c["metadata"].get("nbgrader", {}).get("grade") for c in nb["cells"]
        ), name
    # the `effteach assign` command of the installed package, the same way
    _run(
        [sys.executable, "-m", "effteach.cli", "assign", "pebble_io", "--out", "o"],
        elsewhere,
        env,
    )
    assert (elsewhere / "o" / "pebble_io" / "student.ipynb").is_file()
