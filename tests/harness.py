"""Real processes for tests and the demo: a Node app, mitmdump with the addon, and a client with a cookie jar."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "tests" / "apps"
ADDON = ROOT / "addons" / "azure_arr.py"
START_TIMEOUT = 20.0


def require(condition: bool, why: str) -> None:
    """Skip a test whose prerequisite is missing, except in CI, where a missing prerequisite is a failure."""
    import pytest

    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why} (CI=true: .ci/run must install it)")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def mitmdump_path() -> str:
    """The mitmdump beside the running interpreter (the project's venv), else the one on PATH."""
    here = Path(sys.executable).with_name("mitmdump")
    found = str(here) if here.exists() else shutil.which("mitmdump")
    if not found:
        raise RuntimeError("mitmdump not found: run scripts/test (or pip install -e .) first")
    return found


@dataclass
class Process:
    """A child process whose output goes to a file, stopped with SIGTERM."""

    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    def start(self) -> Process:
        fd, path = tempfile.mkstemp(prefix=f"offload-{self.name}-", suffix=".log")
        self.log_path = Path(path)
        self.proc = subprocess.Popen(
            self.args, cwd=self.cwd, env={**os.environ, **self.env}, stdout=fd, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        os.close(fd)
        return self

    final_output: str | None = None

    @property
    def output(self) -> str:
        """Everything the process printed so far (kept after close)."""
        if self.final_output is not None:
            return self.final_output
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def wait_ready(self, port: int, text: str | None = None, timeout: float = START_TIMEOUT) -> Process:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.output}")
            if port_open(port) and (text is None or text in self.output):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} not ready on port {port} after {timeout}s:\n{self.output}")

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def close(self) -> None:
        self.stop()
        if self.log_path and self.final_output is None:
            self.final_output = self.output
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def node_app(script: str, port: int | None = None, **env: str) -> Process:
    """Start tests/apps/<script> with node on 127.0.0.1 and wait until it listens."""
    if not (APPS / "node_modules").is_dir():
        raise RuntimeError(f"{APPS}/node_modules is missing: run scripts/test (npm ci in tests/apps) first")
    port = port or free_port()
    p = Process(f"app-{Path(script).stem}", ["node", str(APPS / script)], {"PORT": str(port), **env}, APPS)
    p.port = port  # type: ignore[attr-defined]
    return p.start().wait_ready(port)


def mitmdump(app_port: int, *sets: str, port: int | None = None, confdir: str | Path,
             extra: tuple[str, ...] = (), wait: bool = True, mode: str | None = None,
             addon: bool = True) -> Process:
    """Start the real mitmdump with the addon in reverse mode in front of 127.0.0.1:app_port (or in `mode`,
    which then names its own listen address; without the addon: plain mitmdump, for comparison)."""
    port = port or free_port()
    args = [
        mitmdump_path(), *(("-s", str(ADDON)) if addon else ()),
        "--mode", mode or f"reverse:http://127.0.0.1:{app_port}@127.0.0.1:{port}",
        "--set", f"confdir={confdir}",
        "--set", "connection_strategy=lazy",
        *[a for s in sets for a in ("--set", s)],
        *extra,
    ]
    p = Process("mitmdump", args)
    p.port = port  # type: ignore[attr-defined]
    p.start()
    return p.wait_ready(port, "offload: " if addon else None) if wait else p


def ca_file(confdir: str | Path) -> str:
    return str(Path(confdir) / "mitmproxy-ca-cert.pem")


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header_all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def set_cookie(self, name: str) -> str | None:
        """The Set-Cookie line for a cookie name, if the response set it."""
        for line in self.header_all("Set-Cookie"):
            if line.split("=", 1)[0].strip() == name:
                return line
        return None

    def json(self):
        return json.loads(self.body)


class Browser:
    """A minimal client with a cookie jar that honours Secure, like a browser on an https:// origin."""

    def __init__(self, port: int, tls: bool, confdir: str | Path | None = None, host: str = "localhost"):
        self.port, self.tls, self.host = port, tls, host
        self.cookies: dict[str, str] = {}
        self.context = None
        if tls:
            self.context = ssl.create_default_context(cafile=ca_file(confdir)) if confdir else \
                ssl._create_unverified_context()

    def request(self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes | None = None,
                timeout: float = 10.0) -> Reply:
        if self.tls:
            conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=timeout)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            reply = Reply(resp.status, resp.getheaders(), resp.read())
        finally:
            conn.close()
        for line in reply.header_all("Set-Cookie"):
            self._store(line)
        return reply

    def get(self, path: str, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def _store(self, line: str) -> None:
        cookie = SimpleCookie()
        try:
            cookie.load(line)
        except Exception:
            return
        for name, morsel in cookie.items():
            if morsel["secure"] and not self.tls:
                continue  # a browser keeps no Secure cookie from an http:// origin
            self.cookies[name] = morsel.value


def seen_header(seen: dict, name: str) -> list[str]:
    """Values of a header in the app's /seen report (rawHeaders, case-insensitive)."""
    return [v for k, v in seen["headers"] if k.lower() == name.lower()]


def python_app(args: list[str], port: int | None = None, **env: str) -> Process:
    """Start a Python app from tests/apps/python with this interpreter (the venv's) and wait until it listens."""
    port = port or free_port()
    argv = [a.replace("{port}", str(port)) for a in args]
    p = Process(f"app-{Path(argv[0]).stem}", [sys.executable, *argv], {"PORT": str(port), **env}, APPS / "python")
    p.port = port  # type: ignore[attr-defined]
    return p.start().wait_ready(port)


DJANGO = ["django_app.py", "runserver", "127.0.0.1:{port}", "--noreload"]
FLASK = ["flask_app.py", "{port}"]
UVICORN = ["-m", "uvicorn", "asgi_app:app", "--host", "127.0.0.1", "--port", "{port}"]


@dataclass
class Diagnosis:
    """What one mitmdump run reported: the JSON report, the JUnit XML, the exit status and the log."""

    status: int
    report: dict
    junit: str
    output: str

    def found(self, severity: str | None = None) -> set[tuple[str, str]]:
        """(rule, subject) of every finding, optionally of one severity."""
        return {(f["rule"], f["subject"]) for f in self.report["findings"]
                if severity is None or f["severity"] == severity}

    def problems(self) -> set[tuple[str, str]]:
        """Findings that are errors or warnings."""
        return self.found("error") | self.found("warning")


def diagnose(app_port: int, actions, *sets: str, confdir: str | Path, folder: Path, port: int | None = None
             ) -> Diagnosis:
    """Run mitmdump with the addon (frontend_fail_on=error and both reports), drive it, stop it, read the results."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, junit_path = folder / "report.json", folder / "report.xml"
    for p in (json_path, junit_path):
        p.unlink(missing_ok=True)
    with mitmdump(app_port, f"frontend_report={json_path}", f"frontend_junit={junit_path}",
                  "frontend_fail_on=error", *sets, port=port, confdir=confdir) as proxy:
        actions(proxy.port)
        status = proxy.stop(timeout=20)
    if not json_path.exists():
        raise AssertionError(f"no JSON report written (exit status {status}):\n{proxy.output}")
    return Diagnosis(status, json.loads(json_path.read_text()), junit_path.read_text(), proxy.output)


def mitmweb(app_port: int, *sets: str, confdir: str | Path, password: str, port: int | None = None,
            web_port: int | None = None) -> Process:
    """Start the real mitmweb with the addon in reverse mode; its UI on 127.0.0.1:web_port with a known token."""
    port, web_port = port or free_port(), web_port or free_port()
    args = [
        str(Path(mitmdump_path()).with_name("mitmweb")), "-s", str(ADDON),
        "--mode", f"reverse:http://127.0.0.1:{app_port}@127.0.0.1:{port}",
        "--web-host", "127.0.0.1", "--web-port", str(web_port),
        "--set", "web_open_browser=false", "--set", f"web_password={password}",
        "--set", f"confdir={confdir}", "--set", "connection_strategy=lazy",
        *[a for s in sets for a in ("--set", s)],
    ]
    p = Process("mitmweb", args)
    p.port, p.web_port = port, web_port  # type: ignore[attr-defined]
    p.start().wait_ready(port, "offload: ")
    return p.wait_ready(web_port)


def hook(addon, name: str, *args) -> None:
    """Call an addon's hook the way mitmproxy does: an attribute that is falsy is no hook (offload turns hooks off
    where a front end has nothing to do)."""
    func = getattr(addon, name, None)
    if func:
        func(*args)
