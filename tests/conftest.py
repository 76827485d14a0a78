"""Shared fixtures: import paths, a mitmproxy confdir per session, and the real processes' prerequisites."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # harness
sys.path.insert(0, str(HERE.parent / "addons"))  # offload, also without pip install -e


@pytest.fixture(scope="session")
def confdir(tmp_path_factory) -> Path:
    """A private mitmproxy confdir: its CA is created on first use and never touches ~/.mitmproxy."""
    return tmp_path_factory.mktemp("mitmproxy-conf")


PEER = "169.254.129.1"


@pytest.fixture
def peer_address():
    """169.254.129.1 on the loopback interface (App Service's peer on Linux); added when running as root."""
    check = subprocess.run(["ip", "-4", "addr", "show", "dev", "lo"], capture_output=True, text=True)
    if f"inet {PEER}/" in check.stdout:
        yield PEER
        return
    if os.geteuid() != 0:
        pytest.skip(f"needs {PEER} on lo; as root this test adds it (ip addr add {PEER}/32 dev lo)")
    subprocess.run(["ip", "addr", "add", f"{PEER}/32", "dev", "lo"], check=True)
    try:
        yield PEER
    finally:
        subprocess.run(["ip", "addr", "del", f"{PEER}/32", "dev", "lo"], check=False)


def pytest_terminal_summary(terminalreporter):
    """Say plainly when the browser tests did not run (scripts/test on a machine without Chromium)."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "/browser/" in r.nodeid.replace("\\", "/")]
    if skipped:
        reason = skipped[0].longrepr[2] if isinstance(skipped[0].longrepr, tuple) else ""
        terminalreporter.write_line(
            f"NOTE: {len(skipped)} browser test(s) skipped: {reason.removeprefix('Skipped: ')}", yellow=True)
