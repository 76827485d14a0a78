"""offload as a user installs it: a wheel in a fresh venv, no checkout on sys.path, the seed bug reproduced with
`mitmdump -s "$(offload addon-path)"` and with `offload run`."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import ROOT, Browser, free_port, node_app, port_open

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv with the wheel built from this checkout (and mitmproxy from the index or pip's cache)."""
    where = tmp_path_factory.mktemp("installed")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(where), str(ROOT)],
                   check=True, timeout=300, capture_output=True)
    [wheel] = where.glob("offload-*.whl")
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
                   check=True, timeout=600, capture_output=True)
    return venv


def clean_env() -> dict:
    """The user's environment: no PYTHONPATH pointing at the checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def reproduce(command: list[str], port: int, report: Path, cwd: Path) -> list[dict]:
    """Run the proxy command, log in through it, stop it, and return the report's findings."""
    proc = subprocess.Popen(command, cwd=cwd, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while not port_open(port):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.1)
        Browser(port, tls=True).get("/login")
        time.sleep(1.0)  # the comparison runs in the background
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert report.exists(), output
    return json.loads(report.read_text())["findings"]


def test_the_installed_addon_path_reproduces_the_seed_bug(installed, tmp_path):
    done = subprocess.run([str(installed / "bin" / "offload"), "addon-path"], cwd=tmp_path, env=clean_env(),
                          capture_output=True, text=True, timeout=60, check=True)
    script = Path(done.stdout.strip())
    assert script.is_file() and installed in script.parents and ROOT not in script.parents
    port, report = free_port(), tmp_path / "report.json"
    with node_app("express/session-app.js") as app:
        findings = reproduce([str(installed / "bin" / "mitmdump"), "-s", str(script), "--mode",
                              f"reverse:http://127.0.0.1:{app.port}@127.0.0.1:{port}",
                              "--set", f"frontend_report={report}"], port, report, tmp_path)
    assert ("secure-cookie-dropped", "connect.sid") in {(f["rule"], f["subject"]) for f in findings}


def test_offload_run_reproduces_the_seed_bug(installed, tmp_path):
    port, report = free_port(), tmp_path / "report.json"
    with node_app("express/session-app.js") as app:
        findings = reproduce([str(installed / "bin" / "offload"), "run", f"http://127.0.0.1:{app.port}",
                              "--port", str(port), "--", "--set", f"frontend_report={report}"], port, report, tmp_path)
    assert ("secure-cookie-dropped", "connect.sid") in {(f["rule"], f["subject"]) for f in findings}
