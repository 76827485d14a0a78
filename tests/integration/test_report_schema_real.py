"""Real reports, as offload probe and the addon write them against a real app, match docs/report.schema.json."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from harness import Browser, mitmdump, node_app
from offload.profiles import profile_names

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = Draft202012Validator(json.loads((ROOT / "docs" / "report.schema.json").read_text(encoding="utf-8")))


def problems(report: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(report)'}: {e.message}" for e in VALIDATOR.iter_errors(report)]


@pytest.fixture(scope="module")
def session_app():
    """tests/apps/express/session-app.js on a free port (PORT=...), ready once the port accepts connections."""
    with node_app("express/session-app.js") as app:
        yield app


def test_a_real_probe_report_of_every_front_end_is_valid(session_app, tmp_path):
    path = tmp_path / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "offload", "probe", f"http://127.0.0.1:{session_app.port}/login", "--frontend", "all",
         "--json", str(path)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,  # no settings file of ours
        env={"NO_COLOR": "1", "PATH": "", "PYTHONPATH": str(ROOT / "addons")})
    assert done.returncode == 1, done.stdout + done.stderr  # the seed bug: errors under three front ends
    report = json.loads(path.read_text(encoding="utf-8"))
    assert problems(report) == []
    # What the schema is there for: a real run has errors, info and the spoof audit's front-end-less findings.
    assert report["frontends"] == profile_names()
    assert report["summary"]["errors"] >= 1 and report["summary"]["flows"] > 0
    assert ("", "trusts-spoofed-forwarding") in {(f["frontend"], f["rule"]) for f in report["findings"]}


def test_a_real_addon_report_is_valid(session_app, confdir, tmp_path):
    path = tmp_path / "r.json"
    with mitmdump(session_app.port, f"frontend_report={path}", "flow_detail=0", confdir=confdir) as proxy:
        assert Browser(proxy.port, tls=True).get("/login").status == 200
        proxy.stop(timeout=20)  # the reference request finishes, then the report is written
    report = json.loads(path.read_text(encoding="utf-8"))
    assert problems(report) == [], proxy.output
    assert report["frontends"] == ["azure-windows-legacy"]
    assert ("secure-cookie-dropped", "connect.sid") in {(f["rule"], f["subject"]) for f in report["findings"]}
