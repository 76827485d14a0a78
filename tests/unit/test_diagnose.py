"""The diagnosis addon on mitmproxy's test flows: marks, comments, log lines, reports, exit status, no secrets."""

import asyncio
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
        assert "offload error https-redirect-loop" in f.comment and "\n  fix" in f.comment
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


# --- which flows get a reference request --------------------------------------------------------------------------

REVERSE = "reverse:http://127.0.0.1:3000@8443"


def compared_flow(mode=REVERSE, status=200, headers=(), path="/login", peername=("127.0.0.1", 3000)):
    from mitmproxy.proxy.mode_specs import ProxyMode

    f, response = flow_with(status, headers, path=path)
    f.client_conn.proxy_mode = ProxyMode.parse(mode)
    if mode.startswith("reverse:"):  # mitmproxy sends a reverse proxy's requests to its upstream
        f.request.host, f.request.port = f.client_conn.proxy_mode.address
    f.server_conn.peername = peername
    return f, response


async def targets(*flows, **options):
    emulation, diagnose = addons()
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, **options)
        out = []
        for f, response in flows:
            emulation.requestheaders(f)
            f.response = response
            out.append(diagnose.comparison_target(f, emulation.state(f)))
        return out


async def test_reverse_mode_compares_with_the_upstream_at_the_address_mitmproxy_connected_to():
    [target] = await targets(compared_flow(mode="reverse:http://localhost:3000@8443"))
    assert (target.host, target.port, target.address, target.tls) == ("localhost", 3000, "127.0.0.1", False)


@pytest.mark.parametrize("mode", ["regular@8080", "upstream:http://127.0.0.1:8081@8080", "socks5@1080"])
async def test_other_modes_send_no_reference_request(mode):
    assert await targets(compared_flow(mode=mode)) == [None]


async def test_a_flow_sent_elsewhere_than_the_upstream_is_not_compared():
    f, response = compared_flow()
    f.request.port = 3001
    assert await targets((f, response)) == [None]


@pytest.mark.parametrize("headers, status", [
    ([("Content-Type", "text/event-stream")], 200), ([("Upgrade", "websocket")], 101)])
async def test_streams_and_upgrades_are_not_compared(headers, status):
    assert await targets(compared_flow(status=status, headers=headers)) == [None]


async def test_a_streamed_answer_is_not_compared():
    f, response = compared_flow()
    response.stream = True
    response.raw_content = None
    assert await targets((f, response)) == [None]


async def test_a_route_is_compared_once_per_front_end_and_a_switch_compares_it_again(caplog):
    caplog.set_level(logging.INFO)
    emulation, diagnose = addons()
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation)
        emulation.running()
        diagnose.running()

        def target():
            f, response = compared_flow()
            emulation.requestheaders(f)
            f.response = response
            return diagnose.comparison_target(f, emulation.state(f))

        assert target() is not None and target() is None
        tctx.configure(emulation, frontend="heroku")
        assert "offload: now emulating heroku" in caplog.text
        assert target() is not None and target() is None
        assert diagnose.session.frontends == ["azure-windows-legacy", "heroku"]


# --- marks and comments stay small ---------------------------------------------------------------------------------

def test_a_flow_with_thousands_of_findings_gets_a_bounded_comment_quickly():
    import time

    emulation, diagnose = addons()
    cookies = [("Set-Cookie", f"c{i}=v; Path=/") for i in range(5000)]
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, frontend_compare="off")
        started = time.monotonic()
        f = run(emulation, diagnose, *flow_with(200, cookies))
        elapsed = time.monotonic() - started
    lines = f.comment.split("\n")
    # 256 lines judged (browsers keep about 180 cookies per domain): 20 shown, 236 counted
    assert sum(line.startswith("offload ") for line in lines) == 20 and lines[-1].startswith("(and 236 more finding(s)")
    assert all(len(line) < 400 for line in lines)  # short lines: the rule, what happened, the fix
    assert elapsed < 2.0, f"{elapsed:.2f}s for 5,000 Set-Cookie lines"


# --- option errors and reports --------------------------------------------------------------------------------------

def test_mitmproxys_traceback_for_a_bad_option_becomes_one_line():
    from offload.addon import OneLineOptionErrors

    try:
        raise exceptions.OptionsError("frontend_xfp: 'yes' is not valid; allowed values: profile, on, off")
    except exceptions.OptionsError as e:
        record = logging.LogRecord("mitmproxy.addons.script", logging.ERROR, __file__, 1, "error in script %s",
                                   ("x.py",), (type(e), e, e.__traceback__))
    assert OneLineOptionErrors().filter(record)
    assert logging.Formatter().format(record) == (
        "error in script x.py: frontend_xfp: 'yes' is not valid; allowed values: profile, on, off")


def test_misspelt_option_names_get_a_suggestion():
    from offload.addon import unknown_options

    known = ["frontend", "frontend_xfp", "frontend_scheme", "frontend_compare"]
    assert unknown_options({"frontend_xpf": 1, "fronted_scheme": 1, "frontend_nope": 1, "web_port": 1}, known) == [
        "unknown option fronted_scheme ignored; did you mean frontend_scheme?",
        "unknown option frontend_nope ignored; offload's options: frontend, frontend_compare, frontend_scheme, "
        "frontend_xfp",
        "unknown option frontend_xpf ignored; did you mean frontend_xfp?",
    ]


def test_a_report_that_cannot_be_written_at_exit_is_exit_status_1(tmp_path):
    emulation, diagnose = addons()
    folder = tmp_path / "gone"
    folder.mkdir()
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, frontend_compare="off", frontend_report=str(folder / "r.json"))
        folder.rmdir()  # removed while the proxy ran
        with pytest.raises(SystemExit) as exit_:
            asyncio.run(diagnose.session.done())
    assert exit_.value.code == 1


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "is a directory"),
    (lambda p: p / "missing" / "r.json", "does not exist"),
])
def test_report_destinations_are_checked_at_startup(tmp_path, make, message):
    emulation, diagnose = addons()
    with taddons.context(emulation, diagnose) as tctx:
        with pytest.raises(exceptions.OptionsError, match=f"frontend_junit: .*{message}"):
            tctx.configure(diagnose, frontend_junit=str(make(tmp_path)))


def test_a_response_with_hundreds_of_new_findings_logs_ten_and_a_count(caplog):
    caplog.set_level(logging.INFO)
    emulation, diagnose = addons()
    cookies = [("Set-Cookie", f"c{i}=v; Path=/") for i in range(300)]
    with taddons.context(emulation, diagnose) as tctx:
        tctx.configure(emulation, frontend_compare="off")
        run(emulation, diagnose, *flow_with(200, cookies))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("offload: ")]
    assert sum("warning cookie-not-secure" in line for line in lines) == 10
    assert "offload: and 246 more new finding(s) on GET /login" in "\n".join(lines)
    assert len(diagnose.session.findings.all()) == 256  # all kept for the summary and the reports
