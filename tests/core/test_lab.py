"""`make lab` (`effteach lab`): JupyterLab serves MyST .md as notebooks, and saving one
(even after a kernel ran it) gives back the committed file byte for byte.

One JupyterLab server (started with `effteach lab`, on a copy of `notebooks/` so that
nothing here writes into the checkout) serves every test. Saving goes through the
server's contents API, as JupyterLab's Save does: a GET of the notebook model, then a
PUT of the model, which jupytext's contents manager writes back as MyST text.
"""

import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from effteach.tools.notebooks import repo_root

NOTEBOOKS = repo_root() / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("**/*.md"))
TOKEN = "effteach-test"

#: The stdout a simulated run puts in every code cell (text no notebook contains).
OUTPUT_MARK = "effteach-test-lab-output-3f9c"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running `effteach lab` whose root is ``root``; talks to its REST API."""

    def __init__(self, root: Path, port: int, proc: subprocess.Popen):
        self.root, self.port, self.proc = root, port, proc

    def url(self, path: str, **query) -> str:
        query["token"] = TOKEN
        args = "&".join(f"{k}={v}" for k, v in query.items())
        return f"http://127.0.0.1:{self.port}/{path}?{args}"

    def get(self, path: str, **query):
        with urllib.request.urlopen(self.url(path, **query), timeout=60) as r:
            return json.load(r)

    def notebook(self, rel: str) -> dict:
        return self.get(f"api/contents/{rel}", type="notebook")

    def save(self, rel: str, content: dict) -> None:
        body = json.dumps({"type": "notebook", "format": "json", "content": content})
        req = urllib.request.Request(
            self.url(f"api/contents/{rel}"),
            data=body.encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            assert r.status in (200, 201)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(NOTEBOOKS, root / "notebooks")
    # a folder out of reach of notebooks/jupytext.toml, to show the test can fail
    (root / "bare").mkdir()
    shutil.copy(NOTEBOOKS / "foundations" / "lecture.md", root / "bare" / "lecture.md")
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "effteach.cli",
            "lab",
            f"--port={port}",
            f"--IdentityProvider.token={TOKEN}",
            f"--notebook-dir={root}",  # serve the copy, not notebooks/
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    server = Lab(root, port, proc)
    try:
        deadline = time.time() + 90
        while True:
            try:
                server.notebook("notebooks/foundations/lecture.md")
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise AssertionError(
                        "JupyterLab did not start: "
                        + proc.stderr.read().decode()[-2000:]
                    ) from None
                time.sleep(0.5)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def kernel_metadata(lab) -> dict:
    """What JupyterLab writes into a notebook once its kernel runs: the kernelspec
    (from the server's kernel spec) and the kernel's own language_info."""
    from jupyter_client.manager import start_new_kernel

    spec = lab.get("api/kernelspecs")["kernelspecs"]["python3"]["spec"]
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        info = kc.kernel_info(reply=True, timeout=60)["content"]["language_info"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return {
        "kernelspec": {
            "display_name": spec["display_name"],
            "language": spec["language"],
            "name": "python3",
        },
        "language_info": info,
    }


def _as_after_a_run(content: dict, kernel_metadata: dict) -> dict:
    """The model as JupyterLab holds it after Run All: outputs, counts, metadata."""
    nb = copy.deepcopy(content)
    nb["metadata"].update(copy.deepcopy(kernel_metadata))
    for n, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = n + 1
        cell["outputs"] = [
            {"output_type": "stream", "name": "stdout", "text": OUTPUT_MARK + "\n"},
            {
                "output_type": "execute_result",
                "execution_count": n + 1,
                "data": {"text/plain": "42"},
                "metadata": {},
            },
        ]
        cell["metadata"]["execution"] = {  # JupyterLab's "record timing"
            "iopub.execute_input": "2025-01-01T00:00:00.000000Z",
            "iopub.status.busy": "2025-01-01T00:00:00.000000Z",
            "iopub.status.idle": "2025-01-01T00:00:01.000000Z",
            "shell.execute_reply": "2025-01-01T00:00:01.000000Z",
        }
        cell["metadata"]["scrolled"] = True
        cell["metadata"]["trusted"] = True
    return nb


@pytest.mark.slow
def test_lab_opens_myst_markdown_as_notebook(lab):
    model = lab.notebook("notebooks/foundations/lecture.md")
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert code and "effteach.setup()" in "".join(code[0]["source"])
    with urllib.request.urlopen(lab.url("lab")) as r:
        assert r.status == 200


def test_committed_notebooks_are_found():
    names = {p.relative_to(NOTEBOOKS).as_posix() for p in SOURCES}
    assert {"foundations/lecture.md", "foundations/assignment.md"} <= names


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", SOURCES, ids=[p.relative_to(NOTEBOOKS).as_posix() for p in SOURCES]
)
def test_saving_in_lab_leaves_the_file_unchanged(lab, kernel_metadata, path):
    rel = "notebooks/" + path.relative_to(NOTEBOOKS).as_posix()
    file = lab.root / rel
    committed = file.read_bytes()
    content = lab.notebook(rel)["content"]
    lab.save(rel, content)  # open, then save
    assert file.read_bytes() == committed, f"{rel}: saving rewrote the file"
    lab.save(rel, _as_after_a_run(content, kernel_metadata))  # run all, then save
    after = file.read_bytes()
    assert after == committed, f"{rel}: saving after a kernel run rewrote the file"
    leaks = (OUTPUT_MARK.encode(), b"execution_count", b"language_info", b"iopub",
             b"scrolled")
    for leak in leaks:
        assert leak not in after


@pytest.mark.slow
def test_saving_without_the_jupytext_config_would_rewrite_the_header(lab):
    # the same file outside notebooks/ (no jupytext.toml): jupytext adds its version
    file = lab.root / "bare" / "lecture.md"
    committed = file.read_bytes()
    lab.save("bare/lecture.md", lab.notebook("bare/lecture.md")["content"])
    after = file.read_bytes().decode()
    assert after.encode() != committed
    assert "jupytext_version:" in after.split("\n---\n", 1)[0]
