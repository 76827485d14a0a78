"""Secrets stay secret under every rule; every documented command listens on 127.0.0.1 only."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mitmproxy import io as flow_io

from harness import ROOT, Browser, Process, diagnose, free_port, mitmdump_path, node_app, python_app

pytestmark = pytest.mark.integration

SECRET = "SECRET-7f3a9c"
CLIENT_SECRETS = {"Authorization": "Bearer tok-SECRET-7f3a9c", "Cookie": "sid=SECRET-7f3a9c-in"}
ROUTES = ["/loop", "/insecure", "/reset-link", "/cookies", "/links", "/drop", "/fail", "/forbid", "/reject", "/oauth",
          "/half-secure"]


@pytest.fixture(scope="module")
def leaky():
    with python_app(["leaky_app.py", "{port}"]) as p:
        yield p


def test_no_cookie_value_authorization_or_token_in_logs_comments_or_reports(leaky, confdir, tmp_path):
    flows = tmp_path / "flows.mitm"

    def browse(port):
        browser = Browser(port, tls=True)
        for path in ROUTES:
            browser.get(path, headers=CLIENT_SECRETS)

    run = diagnose(leaky.port, browse, "frontend_compare=all", "flow_detail=0", f"save_stream_file={flows}",
                   confdir=confdir, folder=tmp_path)
    rules = {f["rule"] for f in run.report["findings"]}
    assert {"https-redirect-loop", "insecure-redirect", "samesite-none-without-secure", "cookie-prefix-violation",
            "cookie-not-secure", "insecure-absolute-url", "backend-host-leak", "secure-cookie-dropped",
            "server-error-under-frontend", "csrf-origin-rejected", "rejected-under-frontend",
            "secure-attribute-dropped"} <= rules
    assert ("insecure-redirect", "redirect_uri") in run.found()
    # One problem, one finding: pref is Secure only when the app sees HTTPS (not also "never Secure"); d never is.
    assert ("secure-attribute-dropped", "pref") in run.found() and ("cookie-not-secure", "pref") not in run.found()
    assert ("cookie-not-secure", "d") in run.found()
    with flows.open("rb") as f:
        comments = [flow.comment for flow in flow_io.FlowReader(f).stream()]
    assert any("offload error" in c for c in comments)
    texts = {"log": run.output, "json": json.dumps(run.report), "junit": run.junit, "comments": "\n".join(comments)}
    for where, text in texts.items():
        assert SECRET not in text, f"a secret reached the {where}"


def test_no_secret_in_the_probes_output_or_reports(leaky, tmp_path):
    urls = [f"http://127.0.0.1:{leaky.port}{path}" for path in ROUTES]
    args = [sys.executable, "-m", "offload", "probe", *urls, "--frontend", "all", "--json", str(tmp_path / "r.json"),
            "--junit", str(tmp_path / "r.xml")] + [a for k, v in CLIENT_SECRETS.items() for a in ("-H", f"{k}: {v}")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "insecure-redirect" in done.stdout
    for text in (done.stdout, done.stderr, (tmp_path / "r.json").read_text(), (tmp_path / "r.xml").read_text()):
        assert SECRET not in text


def listening(pid_tree: set[int]) -> list[str]:
    """Local addresses the given processes listen on (TCP), from ss."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
    found = []
    for line in out.splitlines():
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if pids & pid_tree:
            found.append(line.split()[3])
    return found


def descendants(pid: int) -> set[int]:
    out = {pid}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split() if Path(f"/proc/{pid}").exists() else []:
        out |= descendants(int(child))
    return out


def documented_commands() -> list[str]:
    readme = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    commands = set()
    for block in re.findall(r"```sh\n(.*?)```", readme, re.S):
        for line in re.sub(r"\\\n\s*", "", block).splitlines():  # a command continued with \ is one command
            line = line.split("#")[0].strip()
            if line.startswith(("mitmdump ", "mitmweb ")):
                commands.add(line)
    commands |= set(re.findall(r"`((?:mitmdump|mitmweb) -s [^`]+--mode [^`]+)`", readme))  # inline ones too
    return sorted(commands)


@pytest.mark.parametrize("command", documented_commands())
def test_every_documented_proxy_command_listens_on_loopback_only(command, confdir, tmp_path):
    if m := re.search(r"frontend=(\./[\w.-]+\.toml)", command):  # the docs' own profile file: a small one here
        own = tmp_path / "own.toml"
        own.write_text('summary = "a documented own profile"\nextends = "heroku"\n')
        command = command.replace(m.group(0), f"frontend={own}")
    with node_app("express/session-app.js") as app:
        proxy_port, web_port = free_port(), free_port()
        command = command.replace('"$(offload addon-path)"', str(ROOT / "addons" / "azure_arr.py"))
        args = command.replace("localhost:3000", f"127.0.0.1:{app.port}").replace("8443", str(proxy_port)).split()
        args[0] = str(Path(mitmdump_path()).with_name(args[0]))
        args[args.index("-s") + 1] = str(ROOT / "addons" / "azure_arr.py")
        args += ["--set", f"confdir={confdir}"]
        if "mitmweb" in args[0]:
            args += ["--web-port", str(web_port), "--set", "web_open_browser=false"]
        with Process("documented", args) as proxy:
            proxy.start().wait_ready(proxy_port, "offload: ")
            time.sleep(0.5)
            addresses = listening(descendants(proxy.proc.pid))
    assert addresses and all(a.startswith(("127.0.0.1:", "[::1]:")) for a in addresses), addresses


@pytest.mark.parametrize("web", [False, True])
def test_offload_run_listens_on_loopback_only(web, confdir):
    with node_app("express/session-app.js") as app:
        proxy_port, web_port = free_port(), free_port()
        args = [sys.executable, "-m", "offload", "run", f"http://localhost:{app.port}", "--port", str(proxy_port)]
        args += ["--web"] if web else []
        args += ["--", "--set", f"confdir={confdir}"] + (
            ["--web-port", str(web_port), "--set", "web_open_browser=false"] if web else [])
        with Process("offload-run", args) as proxy:
            proxy.start().wait_ready(proxy_port, "offload: emulating")
            time.sleep(0.5)
            addresses = listening(descendants(proxy.proc.pid))
    assert addresses and all(a.startswith(("127.0.0.1:", "[::1]:")) for a in addresses), addresses


def test_scripts_demo_serve_listens_on_loopback_only():
    app_port, proxy_port = free_port(), free_port()
    with Process("demo", ["bash", str(ROOT / "scripts" / "demo"), "--serve", "--port", str(proxy_port),
                          "--app-port", str(app_port)]) as demo:
        demo.start().wait_ready(proxy_port, "offload demo is running", timeout=120)
        time.sleep(0.5)
        addresses = listening(descendants(demo.proc.pid))
    assert sorted(addresses) == sorted([f"127.0.0.1:{app_port}", f"127.0.0.1:{proxy_port}"]), addresses
