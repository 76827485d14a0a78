"""offload's pytest plugin: put the real mitmdump with offload's addon in front of your app inside a test.

    def test_login_sticks(offload, app_url):
        proxy = offload(app_url)                     # mitmdump emulating azure-windows-legacy, on 127.0.0.1
        client = proxy.client()                      # HTTPS to proxy.url, trusting its CA, with a cookie jar
        assert client.get("/login").status == 200
        proxy.assert_clean()                         # fails the test naming each finding and its fix

Registered through the `pytest11` entry point `offload`; without it, `pytest -p offload.pytest_plugin`.
Command line: `--offload-frontend NAME` (repeatable, comma-separated, `all`: tests that use the fixture run once per
front end) and `--offload-fail-on error|warning|info|never` (assert_clean's default). See docs/pytest.md.

Standard library only besides pytest: the plugin runs in users' test suites; mitmproxy runs in its own process
(the mitmdump beside sys.executable, else the one on PATH, or $OFFLOAD_MITMDUMP).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any, Self

import pytest

from . import __version__, addon_path

DEFAULT_FRONTEND = "azure-windows-legacy"
LEVELS = {"info": 0, "warning": 1, "error": 2}
FAIL_ON = ("error", "warning", "info", "never")
BANNER = "offload: emulating"
START_TIMEOUT = 30.0  # mitmdump's start, including a new CA in a fresh confdir (usually about a second)
STOP_TIMEOUT = 15.0  # SIGTERM to exit: comparisons in flight get up to 6 s (session.SETTLE_TIMEOUT), then reports
SETTLE_QUIET = 2.0  # assert_clean(stop=False): seconds without a request or a new finding before judging
SETTLE_LIMIT = 10.0  # ... and at most this long in all
LOG_TAIL = 25  # lines of mitmdump's log in an error message
RESERVED = ("frontend_report", "frontend_report_live")  # the plugin's own: it reads this report


class OffloadError(Exception):
    """mitmdump with offload could not be started (or stopped) as asked; the message holds its log's tail."""


# --- front ends, mitmdump ---------------------------------------------------------------------------------------

def frontend_names() -> list[str]:
    """Every front end offload emulates (its profiles' names)."""
    return sorted(p.stem for p in (Path(__file__).resolve().parent / "profiles").glob("*.toml"))


def parse_frontends(values: Iterable[str]) -> list[str]:
    """--offload-frontend values: repeatable, comma-separated, `all`; unknown names are a usage error."""
    known = frontend_names()
    names: list[str] = []
    for value in values:
        for name in filter(None, (v.strip() for v in value.split(","))):
            for n in known if name == "all" else [name]:
                if n not in known:
                    raise pytest.UsageError(
                        f"--offload-frontend: unknown front end {n!r}; known: {', '.join(known)}, or all")
                if n not in names:
                    names.append(n)
    return names


def mitmdump_path() -> str:
    """$OFFLOAD_MITMDUMP, else the mitmdump beside the running interpreter (its venv), else the one on PATH."""
    named = os.environ.get("OFFLOAD_MITMDUMP")
    if named:
        found = shutil.which(named)
        if not found:
            raise OffloadError(f"OFFLOAD_MITMDUMP={named}: no such executable")
        return found
    found = shutil.which("mitmdump", path=str(Path(sys.executable).parent)) or shutil.which("mitmdump")
    if not found:
        raise OffloadError(
            f"mitmdump not found beside {sys.executable} nor on PATH: pip install mitmproxy (or offload) in this "
            "environment, or set OFFLOAD_MITMDUMP to mitmproxy's mitmdump (a standalone binary works)")
    return found


def option_name(key: str) -> str:
    """`compare` -> `frontend_compare`; `frontend` and `frontend_*` stay as they are."""
    return key if key == "frontend" or key.startswith("frontend_") else f"frontend_{key}"


def option_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tail(text: str, lines: int = LOG_TAIL) -> str:
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join("    " + line for line in kept) if kept else "    (no output)"


# --- the client -------------------------------------------------------------------------------------------------

class Response:
    """What a Client request got: .status, .headers (case-insensitive; .headers.get_all('Set-Cookie')), .body,
    .text, .json()."""

    def __init__(self, status: int, reason: str, headers: http.client.HTTPMessage, body: bytes) -> None:
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    @property
    def text(self) -> str:
        charset = self.headers.get_content_charset() or "utf-8"
        try:
            return self.body.decode(charset, "replace")
        except LookupError:
            return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason}>"


class Client:
    """A small HTTP client for one proxy (http.client; one connection per request; redirects not followed) with a
    cookie jar that behaves like a browser's on that origin: cookies by name, a `Secure` cookie kept and sent only
    over HTTPS, `Max-Age=0` deleting."""

    def __init__(self, port: int, context: ssl.SSLContext | None, host: str = "localhost", timeout: float = 10.0,
                 on_request=None) -> None:
        self.port, self.context, self.host, self.timeout = port, context, host, timeout
        self.https = context is not None
        self.cookies: dict[str, str] = {}
        self._secure: set[str] = set()
        self._on_request = on_request

    def request(self, method: str, path: str, data: bytes | str | Mapping[str, str] | None = None,
                headers: Mapping[str, str] | None = None, json_body: Any = None) -> Response:
        hdrs = dict(headers or {})
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(data, Mapping):
            body = urllib.parse.urlencode(data).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif isinstance(data, str):
            body = data.encode()
        else:
            body = data
        sent = {k: v for k, v in self.cookies.items() if self.https or k not in self._secure}
        if sent and not any(k.lower() == "cookie" for k in hdrs):
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in sent.items())
        if self.https:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=self.timeout)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        if self._on_request:
            self._on_request()
        try:
            conn.request(method, path if path.startswith("/") else "/" + path, body=body, headers=hdrs)
            resp = conn.getresponse()
            reply = Response(resp.status, resp.reason, resp.msg, resp.read())
        finally:
            conn.close()
            if self._on_request:
                self._on_request()
        for line in reply.headers.get_all("Set-Cookie") or []:
            self._store(line)
        return reply

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: bytes | str | Mapping[str, str] | None = None,
             headers: Mapping[str, str] | None = None, json: Any = None) -> Response:
        return self.request("POST", path, data=data, headers=headers, json_body=json)

    def _store(self, line: str) -> None:
        cookie = SimpleCookie()
        try:
            cookie.load(line)
        except CookieError:
            return
        for name, morsel in cookie.items():
            if morsel["secure"] and not self.https:
                continue  # a browser keeps no Secure cookie from an http:// origin
            if morsel["max-age"] and morsel["max-age"].lstrip("-").isdigit() and int(morsel["max-age"]) <= 0:
                self.cookies.pop(name, None)
                continue
            self.cookies[name] = morsel.value
            (self._secure.add if morsel["secure"] else self._secure.discard)(name)


# --- the proxy --------------------------------------------------------------------------------------------------

class Proxy:
    """One mitmdump with offload's addon in reverse mode in front of an app, on 127.0.0.1.

    .url (https://localhost:<port>), .port, .frontend, .app_url, .ca_file, .ssl_context, .report_path, .log,
    .client(), .requests_session(), .findings, .assert_clean(), .stop().
    """

    def __init__(self, app_url: str, frontend: str, options: Mapping[str, Any], folder: Path,
                 fail_on: str = "error", mitmdump_args: Iterable[str] = (), start_timeout: float = START_TIMEOUT
                 ) -> None:
        __tracebackhide__ = True  # a failure to start shows the test's line and the message, not this module
        if "://" not in app_url:
            app_url = "http://" + app_url
        self.app_url = app_url.rstrip("/")
        self.frontend = frontend
        self.fail_on = fail_on
        self.folder = folder
        self.confdir = folder / "confdir"
        self.confdir.mkdir(parents=True, exist_ok=True)
        self.report_path = folder / "report.json"
        self.log_path = folder / "mitmdump.log"
        self.ca_file = str(self.confdir / "mitmproxy-ca-cert.pem")
        self.sets: list[str] = []
        for key, value in options.items():
            name = option_name(key)
            if name in RESERVED:
                raise OffloadError(f"{name} is the plugin's own (it reads that report: {self.report_path}); "
                                   "use proxy.findings or copy proxy.report_path after proxy.stop()")
            if name == "frontend":
                raise OffloadError("give the front end as offload(app_url, frontend=...)")
            if value is not None:
                self.sets.append(f"{name}={option_value(value)}")
        self.extra = list(mitmdump_args)
        self.exit_status: int | None = None
        self.process: subprocess.Popen | None = None
        self.command: list[str] = []
        self._ssl_context: ssl.SSLContext | None = None
        self._last_activity = time.monotonic()
        self._start(start_timeout)

    # --- starting and stopping ---

    def _args(self) -> list[str]:
        return [
            mitmdump_path(), "-s", addon_path(),
            "--mode", f"reverse:{self.app_url}@127.0.0.1:{self.port}",
            "--set", f"confdir={self.confdir}",
            "--set", "connection_strategy=lazy",
            "--set", "flow_detail=0",  # no flow lines: URLs as they are (tokens) stay out of the log
            "--set", "termlog_verbosity=info",  # offload's banner and findings
            "--set", f"frontend={self.frontend}",
            *[a for s in self.sets for a in ("--set", s)],
            "--set", f"frontend_report={self.report_path}",
            "--set", "frontend_report_live=true",
            *self.extra,
        ]

    def _start(self, timeout: float) -> None:
        __tracebackhide__ = True
        for attempt in range(3):  # a free port may be taken by someone else before mitmdump binds it
            self.port = _free_port()
            self.url = f"https://localhost:{self.port}"
            self.report_path.unlink(missing_ok=True)
            self.command = self._args()
            with open(self.log_path, "wb") as log:
                try:
                    self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                                    stdin=subprocess.DEVNULL)
                except OSError as e:
                    raise OffloadError(f"could not run {self.command[0]}: {e}") from None
            try:
                self._wait_ready(timeout)
                return
            except OffloadError as e:
                if attempt < 2 and "address already in use" in self.log.lower():
                    continue
                raise e from None

    def _wait_ready(self, timeout: float) -> None:
        __tracebackhide__ = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.process.poll()
            if status is not None:
                self.exit_status = status
                raise OffloadError(self._why_not_started(f"mitmdump exited with status {status} before it was ready"))
            if BANNER in self.log and _accepts(self.port):
                unknown = [line.split("offload: ", 1)[1] for line in self.log.splitlines()
                           if "offload: unknown option" in line]
                if unknown:
                    self.stop()
                    raise OffloadError(self._why_not_started("; ".join(unknown)))
                return
            time.sleep(0.05)
        self.stop()
        raise OffloadError(self._why_not_started(
            f"mitmdump did not print {BANNER!r} and accept connections on 127.0.0.1:{self.port} within {timeout:g} s"
            " (was the addon loaded?)"))

    def _why_not_started(self, what: str) -> str:
        log = self.log
        errors = [line for line in log.splitlines() if "error" in line.lower() or "unknown option" in line]
        first = errors[0].split("] ", 1)[-1] if errors else ""
        if first.removeprefix("offload: ") == what:
            first = ""
        return (f"offload ({self.frontend} in front of {self.app_url}): {what}"
                + (f":\n  {first}" if first else "")
                + f"\n  command: {' '.join(self.command)}\n  mitmdump's log ({self.log_path}):\n{_tail(log)}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """Stop mitmdump (SIGTERM; killed after `timeout`): it lets comparisons in flight finish (up to 6 s) and
        writes the final report. Returns its exit status; stopping twice is harmless."""
        proc = self.process
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.exit_status = proc.returncode
        return self.exit_status

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def log(self) -> str:
        """Everything mitmdump printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # --- clients ---

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """An SSLContext that trusts this mitmdump's CA (and only it)."""
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context(cafile=self.ca_file)
        return self._ssl_context

    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def client(self, https: bool = True, timeout: float = 10.0) -> Client:
        """A new client for this proxy with its own cookie jar: HTTPS to localhost:<port> (https=False: plain
        HTTP to the same port, where a browser would keep no Secure cookie)."""
        return Client(self.port, self.ssl_context if https else None, timeout=timeout, on_request=self._touch)

    def requests_session(self):
        """A requests.Session that trusts this mitmdump's CA and takes paths: session.get('/login')."""
        try:
            import requests
        except ImportError:
            raise OffloadError("requests_session() needs requests (pip install requests); proxy.client() "
                               "needs nothing") from None
        base, touch = self.url, self._touch

        class Session(requests.Session):
            def request(self, method, url, *args, **kwargs):
                kwargs.setdefault("verify", self.verify)
                touch()
                if isinstance(url, str) and url.startswith("/"):
                    url = base + url
                try:
                    return super().request(method, url, *args, **kwargs)
                finally:
                    touch()

        session = Session()
        session.verify = self.ca_file
        session.trust_env = False  # no HTTPS_PROXY, and no REQUESTS_CA_BUNDLE overriding verify (requests#3829)
        return session

    # --- findings ---

    @property
    def findings(self) -> list[dict]:
        """The findings so far, as in the JSON report (rule, severity, frontend, method, route, url, subject,
        evidence, framework, advice, count); [] when there are none yet. While mitmdump runs this is the live
        report (rewritten at each new finding; comparisons run in the background, so a finding for the last
        request may come a moment later); after stop() it is the final report."""
        report = self.report()
        return list(report.get("findings", [])) if report else []

    def report(self) -> dict | None:
        """The JSON report as it stands (None before the first finding while running)."""
        for _ in range(5):
            try:
                return json.loads(self.report_path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return None
            except (ValueError, OSError):  # replaced atomically, so only if something else writes it
                time.sleep(0.05)
        return None

    def wait_settled(self, quiet: float = SETTLE_QUIET, limit: float = SETTLE_LIMIT) -> None:
        """Wait until `quiet` seconds passed with no request through this proxy's clients and no new finding
        (at most `limit` seconds): comparisons run in the background after the answer reached the client."""
        deadline = time.monotonic() + limit
        last_report = self._report_mtime()
        changed = time.monotonic()
        while time.monotonic() < deadline and self.running:
            mtime = self._report_mtime()
            if mtime != last_report:
                last_report, changed = mtime, time.monotonic()
            if time.monotonic() - max(changed, self._last_activity) >= quiet:
                return
            time.sleep(0.1)

    def _report_mtime(self) -> int | None:
        try:
            return self.report_path.stat().st_mtime_ns
        except OSError:
            return None

    def assert_clean(self, fail_on: str | None = None, stop: bool = True) -> None:
        """Fail the test when findings reach `fail_on` (default: --offload-fail-on, itself `error`).

        stop=True (the default) stops mitmdump first: it lets the comparisons in flight finish and writes the
        final report (the framework named in every finding), so the verdict is complete; the proxy is then gone.
        stop=False judges the live report after wait_settled() (2 s without a request or a new finding), and the
        proxy keeps running."""
        fail_on = fail_on or self.fail_on
        if fail_on not in FAIL_ON:
            raise ValueError(f"fail_on={fail_on!r}: use one of {', '.join(FAIL_ON)}")
        if stop:
            status = self.stop()
            if status not in (0, 3) or self.report() is None:
                pytest.fail(f"offload ({self.frontend}): mitmdump exited with status {status} without its final "
                            f"report {self.report_path}:\n{_tail(self.log)}", pytrace=False)
        else:
            self.wait_settled()
        if fail_on == "never":
            return
        bad = [f for f in self.findings if LEVELS.get(f.get("severity"), 0) >= LEVELS[fail_on]]
        if bad:
            pytest.fail(self.describe(bad, fail_on), pytrace=False)

    def describe(self, findings: list[dict], fail_on: str = "error") -> str:
        head = (f"offload: {len(findings)} finding{'s' if len(findings) != 1 else ''} at or above {fail_on} "
                f"behind {self.frontend} (app {self.app_url}, report {self.report_path}):")
        lines, previous = [head], None
        for f in findings:
            what, fix = _parts(f)
            same = fix is not None and fix == previous  # one fix for several findings: written out once
            lines.append(f"  {what}: (the same fix as above)" if same else "  " + finding_line(f))
            previous = fix
        return "\n".join(lines)

    def summary(self) -> str:
        """Every finding so far, one line each (as assert_clean writes them), or "" when there is none."""
        findings = self.findings
        return self.describe(findings, "info").replace(" at or above info", "", 1) if findings else ""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else f"stopped ({self.exit_status})"
        return f"<offload.Proxy {self.frontend} {self.url} -> {self.app_url} {state}>"


def _parts(f: Mapping[str, Any]) -> tuple[str, str | None]:
    what = f"{f.get('severity')} {f.get('rule')} {f.get('method')} {f.get('route')} {f.get('subject')}"
    if not f.get("advice"):
        return what, None
    return what, (f"fix for {f['framework']}: " if f.get("framework") else "") + f["advice"]


def finding_line(f: Mapping[str, Any]) -> str:
    """severity rule METHOD route subject: fix (the evidence when there is no fix)"""
    what, fix = _parts(f)
    more = fix or f.get("evidence")
    return f"{what}: {more}" if more else what


class Factory:
    """The `offload` fixture: offload(app_url, frontend=None, **options) -> Proxy. `frontend` defaults to the
    test's front end (.frontend: from --offload-frontend, else azure-windows-legacy)."""

    def __init__(self, frontend: str, fail_on: str, tmp_path_factory) -> None:
        self.frontend, self.fail_on = frontend, fail_on
        self._tmp = tmp_path_factory
        self.proxies: list[Proxy] = []

    def __call__(self, app_url: str, frontend: str | None = None, *, mitmdump_args: Iterable[str] = (),
                 start_timeout: float = START_TIMEOUT, **options: Any) -> Proxy:
        __tracebackhide__ = True
        folder = self._tmp.mktemp("offload")
        proxy = Proxy(app_url, frontend or self.frontend, options, folder, fail_on=self.fail_on,
                      mitmdump_args=mitmdump_args, start_timeout=start_timeout)
        self.proxies.append(proxy)
        return proxy

    def stop_all(self) -> None:
        for proxy in self.proxies:
            proxy.stop()


# --- pytest hooks and fixtures ----------------------------------------------------------------------------------

def pytest_addoption(parser) -> None:
    group = parser.getgroup("offload", "offload (cloud front end emulation in front of your app)")
    group.addoption("--offload-frontend", action="append", default=[], metavar="NAME", dest="offload_frontend",
                    help="front end the `offload` fixture emulates by default; repeatable or comma-separated "
                         "(`all`: every profile): tests using the fixture run once per front end. "
                         f"Default: {DEFAULT_FRONTEND}.")
    group.addoption("--offload-fail-on", default="error", choices=FAIL_ON, dest="offload_fail_on",
                    help="default level for proxy.assert_clean(): error (default), warning, info, never.")


def _frontends(config) -> list[str]:
    cached = getattr(config, "_offload_frontends", None)
    if cached is None:
        cached = parse_frontends(config.getoption("offload_frontend") or [])
        config._offload_frontends = cached
    return cached


def pytest_configure(config) -> None:
    _frontends(config)  # a usage error (unknown front end) before any test runs


def pytest_report_header(config) -> str:
    names = _frontends(config)
    if names:
        which = (f"front ends {', '.join(names)} (each test using the offload fixture runs once per front end)"
                 if len(names) > 1 else f"front end {names[0]}")
    else:
        which = f"front end {DEFAULT_FRONTEND} (default)"
    try:
        where = mitmdump_path()
    except OffloadError:
        where = "not found"
    return f"offload {__version__}: {which}; fail on {config.getoption('offload_fail_on')}; mitmdump: {where}"


def pytest_generate_tests(metafunc) -> None:
    names = _frontends(metafunc.config)
    if not names or "offload_frontend" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):  # the test chose its own front ends
        argnames = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if "offload_frontend" in (argnames.replace(" ", "").split(",") if isinstance(argnames, str) else argnames):
            return
    metafunc.parametrize("offload_frontend", names, indirect=True, ids=names)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that used the fixture and failed for another reason (its own assert) gets offload's findings so far
    as a report section ("offload findings"): the cause is often one of them."""
    report = yield
    factory = getattr(item, "funcargs", {}).get("offload")
    if call.when == "call" and report.failed and isinstance(factory, Factory) \
            and call.excinfo is not None and not str(call.excinfo.value).startswith("offload"):
        text = "\n".join(filter(None, (proxy.summary() for proxy in factory.proxies)))
        if text:
            report.sections.append(("offload findings", text))
    return report


@pytest.fixture
def offload_frontend(request) -> str:
    """The front end the `offload` fixture emulates by default in this test (parametrised by --offload-frontend)."""
    return getattr(request, "param", DEFAULT_FRONTEND)


@pytest.fixture
def offload(offload_frontend, request, tmp_path_factory):
    """A factory: proxy = offload(app_url, frontend=None, **options) starts mitmdump with offload's addon in
    front of app_url on 127.0.0.1 and returns a Proxy (.url, .ssl_context, .client(), .findings,
    .assert_clean(), .stop()). Options are offload's, with or without the frontend_ prefix (compare="all",
    xfp="on", host="myapp.azurewebsites.net"). Every proxy is stopped at teardown."""
    factory = Factory(offload_frontend, request.config.getoption("offload_fail_on"), tmp_path_factory)
    try:
        yield factory
    finally:
        factory.stop_all()
