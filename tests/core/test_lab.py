"""`make lab` (`effteach lab`): JupyterLab starts and serves MyST .md as notebooks."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_lab_opens_myst_markdown_as_notebook():
    port, token = _free_port(), "effteach-test"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "effteach.cli",
            "lab",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = (
        f"http://127.0.0.1:{port}/api/contents/foundations/lecture.md"
        f"?type=notebook&token={token}"
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    model = json.load(r)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise AssertionError(
                        "JupyterLab did not start: "
                        + proc.stderr.read().decode()[-2000:]
                    ) from None
                time.sleep(0.5)
        assert model["type"] == "notebook"
        cells = model["content"]["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        assert code and "effteach.setup()" in "".join(code[0]["source"])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}") as r:
            assert r.status == 200
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
