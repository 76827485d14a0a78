"""The seed bug on this machine: log in to an Express app through the emulated front end, then with the fix."""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from harness import ADDON, Browser, Process, free_port, mitmdump, node_app, port_open, seen_header  # noqa: E402

CONFDIR = Path(os.environ.get("MITMPROXY_CONFDIR", Path.home() / ".mitmproxy"))
APP = "express/session-app.js"
SHOWN = ("x-arr-ssl", "x-forwarded-proto", "x-forwarded-for", "disguised-host")


def pick(port: int) -> int:
    return port if not port_open(port) else free_port()


def start_with_retry(start, port: int, attempts: int = 5):
    """start(port), and if another process took the port between our check and the bind, again on a free one."""
    for attempt in range(attempts):
        try:
            return start(port)
        except RuntimeError as e:
            if "address already in use" not in str(e).lower() or attempt == attempts - 1:
                raise
            taken, port = port, free_port()
            print(f"  (port {taken} was taken meanwhile; trying {port})", file=sys.stderr)


def redact(set_cookie: str) -> str:
    return re.sub(r"^([^=]+)=[^;]*", r"\1=<value hidden>", set_cookie)


def show_login(proxy_port: int, title: str, sets: list[str], app_port: int) -> tuple[bool, int]:
    """Log in through a fresh proxy; print what happened. (Did the user stay logged in?, the proxy's port)"""
    print(f"\n{title}")
    proxy = start_with_retry(lambda p: mitmdump(app_port, *sets, port=p, confdir=CONFDIR), proxy_port)
    proxy_port = proxy.port
    print(f"  mitmdump -s addons/azure_arr.py --mode reverse:http://127.0.0.1:{app_port}@127.0.0.1:{proxy_port}"
          + "".join(f" --set {s}" for s in sets))
    with proxy:
        browser = Browser(proxy_port, tls=True, confdir=CONFDIR)
        login = browser.get("/login", headers={"Accept": "application/json"})
        seen = login.json()["seen"]
        session = login.set_cookie("connect.sid")
        print(f"  GET https://localhost:{proxy_port}/login -> {login.status}")
        for line in login.header_all("Set-Cookie"):
            print(f"      Set-Cookie: {redact(line)}")
        if not session:
            print("      (no connect.sid: the session cookie was never sent)")
        print("    the app saw:")
        for name in SHOWN:
            values = seen_header(seen, name)
            print(f"      {name}: {values[0] if values else '(not sent)'}")
        print(f"      req.secure = {str(seen['secure']).lower()}, req.protocol = {seen['protocol']}")
        me = browser.get("/me", headers={"Accept": "application/json"})
        who = me.json().get("user")
        print(f"  GET https://localhost:{proxy_port}/me -> {me.status} "
              + (f"(logged in as {who})" if who else "(not logged in)"))
    findings = [line.split("] ", 1)[-1] for line in proxy.output.splitlines()
                if re.search(r"offload: (error|warning) ", line)]
    print("  offload said:" if findings else "  offload said: no problems found.")
    for line in findings:
        print(textwrap.fill(line, 110, initial_indent="    ", subsequent_indent="      "))
    return bool(session) and me.status == 200, proxy_port


def demo(app_port: int, proxy_port: int) -> int:
    print("offload demo: the seed bug (secure cookies on Azure with Express), reproduced on this machine")
    app = start_with_retry(lambda p: node_app(APP, p), app_port)
    app_port = app.port
    print(f"  app: Express 5 + express-session, trust proxy 1, cookie.secure true, on http://127.0.0.1:{app_port}")
    with app:
        kept, proxy_port = show_login(
            proxy_port, "1) Behind App Service's 2013-2017 front end (the default profile, azure-windows-legacy)",
            [], app_port)
        broken = not kept
        if broken:
            print(textwrap.fill(
                "  => Bug reproduced: the front end said HTTPS only through x-arr-ssl, so Express saw plain HTTP "
                "and express-session silently refused to send its Secure cookie. The user is logged out again.",
                100, subsequent_indent="     "))
        fixed, _ = show_login(
            proxy_port, "2) The same front end with X-Forwarded-Proto added, as iisnode's enableXFF does",
            ["frontend_xfp=on"], app_port)
        if fixed:
            print("  => Fixed: Express sees HTTPS, the session cookie arrives with Secure, the user stays logged in.")
    print(textwrap.dedent("""
        Fix it for real, either way:
          - in the app, before the session middleware (the x-arr-ssl header is the front end's HTTPS signal):
              app.use((req, res, next) => {
                if (req.headers['x-arr-ssl'] && !req.headers['x-forwarded-proto']) req.headers['x-forwarded-proto'] = 'https';
                next();
              });
          - or on the worker: iisnode.yml 'enableXFF: true' (web.config: <iisnode enableXFF="true" />).
        In a browser: scripts/demo --serve"""))
    ok = broken and fixed
    if not ok:
        print("\nUnexpected: the demo did not behave as described above (see the output).", file=sys.stderr)
    return 0 if ok else 1


def serve(app_port: int, proxy_port: int, extra: list[str]) -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    ca = CONFDIR / "mitmproxy-ca-cert.pem"
    app = start_with_retry(lambda p: node_app(APP, p), app_port)
    app_port = app.port

    def start_proxy(port: int) -> Process:
        proxy = Process("mitmdump", [
            str(Path(sys.executable).with_name("mitmdump")), "-s", str(ADDON),
            "--mode", f"reverse:http://127.0.0.1:{app_port}@127.0.0.1:{port}",
            *[a for s in extra for a in ("--set", s)]])
        proxy.port = port
        return proxy.start().wait_ready(port, "offload: ")

    with app, start_with_retry(start_proxy, proxy_port) as proxy:
        proxy_port = proxy.port
        banner = next(line for line in proxy.output.splitlines() if "offload: " in line)
        print(textwrap.dedent(f"""\
            offload demo is running (Ctrl-C to stop)
              app:   http://127.0.0.1:{app_port}  (Express + express-session, the seed's setup)
              proxy: https://localhost:{proxy_port}/  <- open this, log in, then look at /me and /seen
              {banner.split("] ", 1)[-1]}
            Your browser must trust mitmproxy's CA ({ca}): see README.md,
            or use curl: curl --cacert {ca} https://localhost:{proxy_port}/login
            """), end="", flush=True)
        if not extra:
            print("Then try the fix: scripts/demo --serve frontend_xfp=on")
        print("mitmdump's log follows.\n", flush=True)
        shown = len(proxy.output)
        try:
            while proxy.proc.poll() is None:
                time.sleep(0.2)
                text = proxy.output
                print(text[shown:], end="", flush=True)
                shown = len(text)
        except KeyboardInterrupt:
            print("\nstopping", flush=True)
        proxy.stop()
        print(proxy.output[shown:], end="", flush=True)  # the summary mitmdump prints as it stops
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__)
    parser.add_argument("--serve", action="store_true", help="leave the app and the proxy running for a browser")
    parser.add_argument("--port", type=int, default=8443, help="proxy port on 127.0.0.1 (default 8443, else free)")
    parser.add_argument("--app-port", type=int, default=3000, help="app port on 127.0.0.1 (default 3000, else free)")
    parser.add_argument("options", nargs="*", metavar="OPTION=VALUE",
                        help="with --serve: addon options, e.g. frontend_xfp=on or frontend=azure-appservice")
    args = parser.parse_args()
    app_port, proxy_port = pick(args.app_port), pick(args.port)
    if args.serve:
        return serve(app_port, proxy_port, args.options)
    if args.options:
        parser.error("options are only used with --serve")
    return demo(app_port, proxy_port)


if __name__ == "__main__":
    sys.exit(main())
