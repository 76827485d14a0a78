"""offload probe against the real apps: the matrix of which front ends break which app, reports and exit codes."""

import json
import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest

from harness import DJANGO, free_port, node_app, python_app
from offload.profiles import profile_names

pytestmark = pytest.mark.integration

# Front ends that never tell the app "HTTPS" in a way these apps read: x-arr-ssl only, nothing, Forwarded only.
# CloudFront removes a client's X-Forwarded-Proto and adds none; API Gateway HTTP APIs send only Forwarded; Akamai
# sends none to a plain-HTTP origin.
NO_HTTPS_SIGNAL = {"azure-windows-legacy", "nginx-default", "rfc7239", "aws-cloudfront", "aws-api-gateway", "akamai"}


def probe(*args, timeout=60):
    """Run `python -m offload probe ...` as a user would; returns (exit status, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "offload", "probe", *args], capture_output=True, text=True,
                          timeout=timeout, env={"NO_COLOR": "1", "PATH": ""})
    return done.returncode, done.stdout, done.stderr


def matrix(report: dict, severity: str = "error") -> dict[str, set[str]]:
    """front end -> rule ids at that severity."""
    out: dict[str, set[str]] = {}
    for f in report["findings"]:
        if f["severity"] == severity:
            out.setdefault(f["frontend"], set()).add(f["rule"])
    return out


@pytest.fixture(scope="module")
def session_app():
    with node_app("express/session-app.js") as p:
        yield p


@pytest.fixture(scope="module")
def healthy_app():
    with node_app("express/healthy-app.js") as p:
        yield p


def test_express_session_matrix_reports_and_exit_status(session_app, tmp_path):
    status, out, err = probe(f"http://127.0.0.1:{session_app.port}/login", "--frontend", "all",
                             "--json", str(tmp_path / "r.json"), "--junit", str(tmp_path / "r.xml"))
    assert status == 1, out + err
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["frontends"] == profile_names()
    assert matrix(report) == {name: {"secure-cookie-dropped"} for name in NO_HTTPS_SIGNAL}
    assert {(f["rule"], f["subject"]) for f in report["findings"] if f["frontend"] == "azure-windows-legacy"
            and f["severity"] == "error"} == {("secure-cookie-dropped", "connect.sid")}
    # trust proxy 1 trusts whoever connects: a direct client can claim HTTPS.
    assert ("", "trusts-spoofed-forwarding") in {(f["frontend"], f["rule"]) for f in report["findings"]}
    for name in profile_names():
        line = next(line for line in out.splitlines() if line.startswith(name + " "))
        assert ("ERROR" in line) == (name in NO_HTTPS_SIGNAL), line
    assert "fix for Express (express-session)" in out
    suites = {s.get("name"): s for s in ET.parse(tmp_path / "r.xml").getroot()}
    assert suites["offload.azure-windows-legacy"].get("failures") == "1"
    assert suites["offload.heroku"].get("failures") == "0"


def test_the_healthy_app_passes_everywhere(healthy_app, tmp_path):
    status, out, err = probe(f"http://127.0.0.1:{healthy_app.port}/login", "--frontend", "all",
                             "--json", str(tmp_path / "r.json"))
    assert status == 0, out + err
    report = json.loads((tmp_path / "r.json").read_text())
    assert [f for f in report["findings"] if f["severity"] != "info"] == []


def test_spoof_audit_flags_an_app_that_trusts_anyone_and_not_one_that_trusts_its_front_end(
        session_app, healthy_app, tmp_path):
    _, _, _ = probe(f"http://127.0.0.1:{session_app.port}/login", "--json", str(tmp_path / "anyone.json"))
    _, _, _ = probe(f"http://127.0.0.1:{healthy_app.port}/login", "--json", str(tmp_path / "front.json"))
    anyone = json.loads((tmp_path / "anyone.json").read_text())
    front = json.loads((tmp_path / "front.json").read_text())
    spoofed = {f["subject"] for f in anyone["findings"] if f["rule"] == "trusts-spoofed-forwarding"}
    assert "X-Forwarded-Proto" in spoofed
    assert not [f for f in front["findings"] if f["rule"] == "trusts-spoofed-forwarding"]


def test_koa_and_django_matrices(tmp_path):
    with node_app("koa/session-app.js") as koa, python_app(DJANGO, SSL_REDIRECT="1") as django:
        status, out, err = probe(f"http://127.0.0.1:{koa.port}/login", f"http://127.0.0.1:{django.port}/account",
                                 "--frontend", "all", "--json", str(tmp_path / "r.json"))
    assert status == 1, out + err
    report = json.loads((tmp_path / "r.json").read_text())
    by_route: dict[tuple[str, str], set[str]] = {}
    for f in report["findings"]:
        if f["severity"] == "error":
            by_route.setdefault((f["route"], f["frontend"]), set()).add(f["rule"])
    assert {fe for (r, fe) in by_route if r == "/login"} == NO_HTTPS_SIGNAL
    assert all(by_route[("/login", fe)] == {"server-error-under-frontend"} for fe in NO_HTTPS_SIGNAL)
    assert {fe for (r, fe) in by_route if r == "/account"} == NO_HTTPS_SIGNAL
    assert all("https-redirect-loop" in by_route[("/account", fe)] for fe in NO_HTTPS_SIGNAL)


def test_fail_on_never_and_warning(session_app):
    url = f"http://127.0.0.1:{session_app.port}/login"
    assert probe(url, "--frontend", "heroku", "--fail-on", "never")[0] == 0
    # The spoof audit: info by default (behind its front end, believing X-Forwarded-* is right), a warning with
    # --audit.
    status, out, _ = probe(url, "--frontend", "heroku", "--fail-on", "warning")
    assert status == 0 and "trusts-spoofed-forwarding" in out
    assert probe(url, "--frontend", "heroku", "--fail-on", "warning", "--audit")[0] == 1
    assert probe(url, "--frontend", "heroku")[0] == 0


def test_an_unreachable_app_and_usage_errors_exit_2():
    status, out, err = probe(f"http://127.0.0.1:{free_port()}/login")
    assert status == 2 and "no answer: connection refused (is the app running?)" in err
    status, _, err = probe("http://127.0.0.1:1/", "--frontend", "azure")
    assert status == 2 and "unknown front end 'azure'; valid: akamai, aws-alb" in err
    status, _, err = probe("ftp://example.test/")
    assert status == 2 and "not an http:// or https:// URL" in err
    status, _, err = probe("http://127.0.0.1:1/", "--fail-on", "sometimes")
    assert status == 2 and "invalid choice" in err


def test_trust_depends_on_loopback_with_peer(tmp_path, peer_address):
    from harness import UVICORN
    with python_app(UVICORN) as app:
        status, out, err = probe(f"http://127.0.0.1:{app.port}/", "--frontend", "azure-appservice",
                                 "--peer", peer_address, "--json", str(tmp_path / "r.json"))
    assert status == 1, out + err
    report = json.loads((tmp_path / "r.json").read_text())
    assert ("trust-depends-on-loopback", peer_address) in {(f["rule"], f["subject"]) for f in report["findings"]}


def test_the_readmes_ci_example_works(session_app, tmp_path):
    """Run docs/ci.md's CI step (wait for the app, probe it, write the reports) against a real app."""
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / "docs" / "ci.md").read_text()
    step = re.search(r"- run: \|\n((?:          .*\n)+)", readme).group(1)
    script = step.replace("127.0.0.1:3000", f"127.0.0.1:{session_app.port}")
    bin_dir = str(Path(sys.executable).parent)  # where pip put the offload command
    done = subprocess.run(["bash", "-ec", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin", "NO_COLOR": "1"})
    assert done.returncode == 1, done.stdout + done.stderr  # the demo app has the seed bug: the job fails
    assert "secure-cookie-dropped" in done.stdout
    assert json.loads((tmp_path / "offload.json").read_text())["summary"]["errors"] >= 3
    assert (tmp_path / "offload.xml").read_text().startswith("<?xml")


def test_probe_names_a_self_hosted_app_and_gives_its_own_setting(tmp_path):
    """Datasette behind a legacy Azure front end: http:// links; the fix is Datasette's setting, not uvicorn's."""
    with python_app(["datasette_app.py"]) as app:
        base = f"http://127.0.0.1:{app.port}"
        status, out, _ = probe(f"{base}/offload/colours", f"{base}/offload/colours.json", "--json",
                               str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    found = {(f["rule"], f["subject"], f["severity"]) for f in report["findings"] if f["frontend"]}
    assert ("insecure-absolute-url", "body", "error") in found  # next_url in JSON: fetched by scripts
    assert {f["framework"] for f in report["findings"] if f["frontend"]} == {"Datasette"}
    assert all("force_https_urls" in f["advice"] for f in report["findings"] if f["rule"] == "insecure-absolute-url")
    assert status == 1


def test_probe_finds_an_oauth_redirect_uri_built_with_http(tmp_path):
    with python_app(["oauth_app.py"]) as app:
        status, out, _ = probe(f"http://127.0.0.1:{app.port}/login", "--frontend", "azure-appservice", "--json",
                               str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert ("insecure-redirect", "redirect_uri") in {(f["rule"], f["subject"]) for f in report["findings"]}
    assert status == 1 and "redirect_uri" in out


def readme_settings(port: int, frontends: list[str]) -> str:
    """The README's [tool.offload] example, pointed at this app and these front ends."""
    import re
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```toml\n(\[tool\.offload\].*?)```", readme, re.S).group(1)
    block = block.replace("127.0.0.1:3000", f"127.0.0.1:{port}")
    return re.sub(r"^frontends = .*$", f"frontends = {json.dumps(frontends)}", block, flags=re.M)


@pytest.mark.parametrize("fixed, status", [(True, 0), (False, 1)])
def test_the_readme_ci_gate_passes_a_fixed_app_and_fails_the_seed_app(fixed, status, tmp_path):
    """The README's CI example: settings in the app's pyproject.toml, `offload probe` with no arguments."""
    env = {"SEED_FIX": "1"} if fixed else {}
    with node_app("express/session-app.js", **env) as app:
        (tmp_path / "pyproject.toml").write_text(readme_settings(app.port, ["azure-windows-legacy",
                                                                          "azure-appservice"]))
        done = subprocess.run([sys.executable, "-m", "offload", "probe", "--json", "-"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, env={"PATH": "", "NO_COLOR": "1"})
    assert done.returncode == status, done.stderr
    report = json.loads(done.stdout)  # --json -: the report alone on standard output, the matrix on stderr
    assert report["frontends"] == ["azure-windows-legacy", "azure-appservice"]
    dropped = {(f["rule"], f["frontend"]) for f in report["findings"] if f["severity"] == "error"}
    assert dropped == (set() if fixed else {("secure-cookie-dropped", "azure-windows-legacy")})


def test_ignore_takes_a_finding_out_of_the_verdict(session_app):
    url = f"http://127.0.0.1:{session_app.port}/login"
    status, out, _ = probe(url, "--frontend", "nginx-default", "--ignore", "secure-cookie-dropped:nginx-default")
    assert status == 0 and "1 ignored (--ignore)" in out
    status, _, err = probe(url, "--ignore", "secure-cookie")
    assert status == 2 and "no rule 'secure-cookie'" in err


def test_the_html_report_shows_the_matrix_the_fix_and_the_front_ends_headers(session_app, tmp_path):
    page = tmp_path / "report.html"
    status, _, _ = probe(f"http://127.0.0.1:{session_app.port}/login", "--frontend", "azure-windows-legacy,heroku",
                         "--html", str(page))
    html = page.read_text()
    assert status == 1 and "secure-cookie-dropped" in html and "x-arr-ssl" in html.lower()
    assert "X-Request-Start" in html  # heroku's headers, one click away
    assert "<script" not in html
