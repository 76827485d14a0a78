"""The diagnosis addon on mitmproxy's test flows: marks, comments, log lines, reports, exit status, no secrets."""

import json
import logging

import pytest
from mitmproxy import exceptions, http
from mitmproxy.test import taddons, tflow, tutils

from harness import hook
from offload.addon import Offload
from offload.diagnose import Diagnose

HOST = "myapp.azurewebsites.net"
SECRETS = ("hunter2", "tok123", "s3cr3t-value", "code=abc")


def addons():
    emulation = Offload()
    return emulation, Diagnose(emulation)


def flow_with(status=200, headers=(), body=b"", path="/login"):
    f = tflow.tflow(req=tutils.treq(host="127.0.0.1", port=3000, path=path.encode(), headers=http.Headers([
        (b"Host", HOST.encode()), (b"Cookie", b"sid=hunter2"), (b"Authorization", b"Bearer tok123")])))
    f.client_conn.peername = ("203.0.113.7", 50123)
    return f, tutils.tresp(status_code=status, headers=http.Headers(
        [(k.encode(), v.encode()) for k, v in headers]), content=body)


def run(emulation, diagnose, f, response):
    emulation.requestheaders(f)
    f.response = response
    hook(emulation, "responseheaders", f)
    diagnose.response(f)
    return f


def test_a_passive_finding_marks_the_flow_comments_the_fix_and_logs_once(caplog):
    caplog.set_level(logging.INFO)
    emulation, diagnose = addons()
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, frontend_compare="off")
        for _ in range(2):
            f = run(emulation, diagnose, *flow_with(301, [("Location", f"https://{HOST}/login")]))
        assert f.marked == ":x:"
        assert "offload error https-redirect-loop" in f.comment and "Fix" in f.comment
        assert caplog.text.count("error https-redirect-loop") == 1
        assert tctx.master.commands.call("offload.findings") == [
            f"error https-redirect-loop GET /login https://{HOST}/login x2"]


def test_warnings_get_the_warning_marker_and_errors_outrank_them():
    emulation, diagnose = addons()
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, frontend_compare="off")
        f = run(emulation, diagnose, *flow_with(200, [("Set-Cookie", "pref=1; Path=/")]))
        assert f.marked == ":warning:"
        f = run(emulation, diagnose, *flow_with(200, [("Set-Cookie", "pref=1; Path=/"),
                                                      ("Set-Cookie", "x=1; SameSite=None")]))
        assert f.marked == ":x:"


def test_the_front_ends_own_cookies_are_not_judged_as_the_apps():
    emulation, diagnose = addons()
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, frontend_compare="off")  # legacy ARRAffinity has no Secure: not the app's fault
        f = run(emulation, diagnose, *flow_with(200, [("Set-Cookie", "sid=1; Secure")]))
        assert "ARRAffinity" in f.response.headers.get_all("Set-Cookie")[-1]
        assert not f.marked and diagnose.session.findings.all() == []


def test_requests_that_reached_the_front_end_over_plain_http_are_not_judged():
    emulation, diagnose = addons()
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, frontend_scheme="http", frontend_compare="off")
        run(emulation, diagnose, *flow_with(301, [("Location", f"https://{HOST}/login")]))
        assert diagnose.session.findings.all() == []


async def test_done_writes_both_reports_and_exits_with_status_3(tmp_path):
    emulation, diagnose = addons()
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, frontend_compare="off", frontend_fail_on="error",
                       frontend_report=str(tmp_path / "r.json"), frontend_junit=str(tmp_path / "r.xml"))
        run(emulation, diagnose, *flow_with(302, [("Location", f"http://{HOST}/home?code=abc")]))
        with pytest.raises(SystemExit) as exit_:
            await diagnose.session.done()
    assert exit_.value.code == 3
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [f["rule"] for f in doc["findings"]] == ["insecure-redirect"]
    assert 'failures="1"' in (tmp_path / "r.xml").read_text()


async def test_done_without_findings_at_the_level_exits_normally(tmp_path):
    emulation, diagnose = addons()
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, frontend_compare="off", frontend_fail_on="error",
                       frontend_report=str(tmp_path / "r.json"))
        run(emulation, diagnose, *flow_with(200, [("Set-Cookie", "pref=1")]))  # a warning only
        await diagnose.session.done()
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["warnings"] == 1


async def test_no_secret_reaches_logs_comments_or_reports(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    emulation, diagnose = addons()
    bad = [("Set-Cookie", "sid=s3cr3t-value; Path=/; SameSite=None"), ("Set-Cookie", "__Host-x=s3cr3t-value"),
           ("Location", f"http://{HOST}/cb?code=abc"), ("Link", f"<http://{HOST}/x?code=abc>"),
           ("Content-Type", "text/html")]
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, frontend_compare="off", frontend_report=str(tmp_path / "r.json"),
                       frontend_junit=str(tmp_path / "r.xml"))
        f = run(emulation, diagnose, *flow_with(302, bad, body=f'<a href="http://{HOST}/?code=abc">'.encode()))
        await diagnose.session.done()
    texts = [caplog.text, f.comment, (tmp_path / "r.json").read_text(), (tmp_path / "r.xml").read_text()]
    assert len(json.loads(texts[2])["findings"]) >= 5
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


@pytest.mark.parametrize("option, value, message", [
    ("frontend_compare", "some", "frontend_compare: 'some' is not valid; allowed values: safe, all, off"),
    ("frontend_fail_on", "errors", "frontend_fail_on: 'errors' is not valid; allowed values: never, error, warning"),
    ("frontend_report", "/nonexistent-folder/r.json", "frontend_report: folder /nonexistent-folder does not exist"),
])
def test_bad_diagnosis_options(option, value, message):
    emulation, diagnose = addons()
    with taddons.context(emulation, diagnose) as tctx:
        with pytest.raises(exceptions.OptionsError, match=message):
            tctx.configure(diagnose, **{option: value})
