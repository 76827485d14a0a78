"""The offload command line: probe an app against front ends, list profiles, show what a front end sends."""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sys
import textwrap
import time
import tomllib
from pathlib import Path

from . import __version__, addon_path, config, fromdump, html_report, report
from .findings import LEVEL
from .redact import redact_url
from .forward import Incoming, forward, hop_address, respond, sample_headers
from .probe import CLIENT, Job, Prober
from .reference import check_source
from .profiles import CHAIN, DEFAULT_PROFILE, ProfileError, load_profile, parse_profile, profile_names

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
COLOURS = {"error": "31", "warning": "33", "ok": "32", "failed": "35", "info": "36"}


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # `offload probe ... | head` ends quietly. (Not SIGPIPE's default action: that would also kill the probe
        # when an app closes a connection it is writing to.)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    passed: list[str] = []
    if "--" in argv:  # offload run ... -- MITMPROXY ARGS: everything after -- goes to mitmproxy untouched
        passed, argv = argv[argv.index("--") + 1:], argv[:argv.index("--")]
    args = parser.parse_args(argv)
    args.mitmproxy_args = passed
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.run(args)
    except (ProfileError, ValueError) as e:
        print(f"offload: {e}", file=sys.stderr)
        return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="offload", description="Check an app against cloud TLS-terminating front ends.")
    parser.add_argument("--version", action="version", version=f"offload {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("probe", help="send the app each front end's version of a request and judge the answers",
                       description=textwrap.dedent("""\
        Sends requests straight to the app (no proxy): for each URL and front end, the request as the front end
        forwards it, as a correct deployment would (public Host, X-Forwarded-Proto: https) and, when it fails, as
        plain HTTP; per URL, the request with no front end and a spoof audit (forged X-Forwarded-Proto/-For/-Host
        from a direct client). GET only: the requests reach your app. Settings may come from [tool.offload] in
        pyproject.toml or an offload.toml (the command line wins). Exit status: 0 fine, 1 findings at --fail-on,
        2 usage error or app unreachable."""))
    p.add_argument("urls", nargs="*", metavar="URL",
                   help="e.g. http://127.0.0.1:3000/login (default: urls from [tool.offload] or offload.toml)")
    p.add_argument("--frontend", action="append", metavar="NAME|all",
                   help=f"front end(s) to check, repeatable or comma-separated; 'all' (default: {DEFAULT_PROFILE})")
    p.add_argument("--host", help="public host name the front end receives (default: the URL's host)")
    p.add_argument("--echo", metavar="PATH",
                   help="an endpoint of the app answering its idea of the client's IP (JSON 'ip', or the bare "
                        "address), e.g. /whoami: checks the proxy hops the app trusts behind each front end or chain")
    p.add_argument("--origin-host", metavar="HOST|profile",
                   help="the Host the front end sends the app instead of the public one (an origin host override, "
                        "e.g. myapp.azurewebsites.net; 'profile': each front end's own default)")
    p.add_argument("-H", "--header", action="append", default=[], metavar="'Name: value'",
                   help="a header the client sends (e.g. a session cookie), repeatable")
    p.add_argument("--peer", help="also send from this source address and compare with loopback "
                                  "(trust-depends-on-loopback); must be an address of this machine")
    p.add_argument("--audit", action="store_true",
                   help="report the spoof audit (the app believing X-Forwarded-* from a client with no front end "
                        "in between) as a warning; by default it is info, as an app reachable only through its "
                        "front end is right to believe them")
    p.add_argument("--json", metavar="PATH", help="write the JSON report here")
    p.add_argument("--junit", metavar="PATH", help="write a JUnit XML report here")
    p.add_argument("--html", metavar="PATH", help="write a self-contained HTML report here (matrix, findings, fixes)")
    p.add_argument("--fail-on", choices=["error", "warning", "never"], default=None,
                   help="exit 1 when findings reach this level (default: error)")
    p.add_argument("--ignore", action="append", default=None, metavar="RULE[:FRONTEND]",
                   help="leave this rule's findings (behind this front end) out of the verdict, repeatable")
    p.add_argument("--config", metavar="FILE",
                   help="settings file (default: the nearest offload.toml, or pyproject.toml with [tool.offload])")
    p.add_argument("--timeout", type=seconds, default=None,
                   help="seconds for each request in all: connect, headers and body (default 5)")
    p.add_argument("--color", choices=["auto", "always", "never"], default="auto")
    p.set_defaults(run=run_probe)

    p = sub.add_parser("profiles", help="the front ends offload emulates")
    p.set_defaults(run=run_profiles)

    p = sub.add_parser("profile", help="your own front end's profile: check a profile file")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    check = verbs.add_parser("check", help="validate a profile file (the schema of the built-in ones); exit 2 if not")
    check.add_argument("file", metavar="FILE", help="e.g. ./my-frontend.toml")
    check.set_defaults(run=run_profile_check)
    dump = verbs.add_parser(
        "from-dump", help="write a profile from a captured dump of what your real front end sent your app",
        description="DUMP: a raw header block ('Name: value' lines), curl -v output, a JSON object of headers (or "
                    "{\"headers\": ...}, as httpbin answers), or a HAR file or entry; - reads standard input. "
                    "Headers a client sends itself are left out; per-request values (GUIDs, the client's IP and port, "
                    "the host, the path, hex ids, Unix milliseconds) become template values, marked [INF].")
    dump.add_argument("dump", metavar="DUMP")
    dump.add_argument("-o", "--output", metavar="FILE", help="write the profile here (default: standard output)")
    dump.add_argument("--name", help="the profile's one-line summary")
    dump.set_defaults(run=run_profile_from_dump)

    p = sub.add_parser("addon-path", help="the absolute path of the addon script, for mitmdump -s / mitmweb -s")
    p.set_defaults(run=run_addon_path)

    p = sub.add_parser(
        "run", usage="offload run URL [--web] [--frontend NAME] [--port N] [-- MITMPROXY ARGS...]",
        help="start mitmdump (or mitmweb) with the addon in front of your app, on 127.0.0.1",
        description="Runs mitmdump -s <addon> --mode reverse:URL@127.0.0.1:PORT (mitmweb with --web) and prints the "
                    "address to browse. Arguments after -- go to mitmproxy as they are (e.g. -- --set "
                    "frontend_fail_on=error --set frontend_report=report.json).")
    p.add_argument("url", metavar="URL", help="your app, e.g. http://localhost:3000")
    p.add_argument("--frontend", default=DEFAULT_PROFILE, metavar="NAME",
                   help=f"the front end to emulate (default: {DEFAULT_PROFILE}; offload profiles lists them)")
    p.add_argument("--port", type=port_number, default=8443, help="the port to listen on, on 127.0.0.1 (default 8443)")
    p.add_argument("--web", action="store_true", help="mitmweb instead of mitmdump (its UI on 127.0.0.1:8081)")
    p.set_defaults(run=run_run)

    p = sub.add_parser("show", help="what a sample request looks like to the app behind a front end (or a chain)")
    p.add_argument("name", metavar="NAME", help="a front end, a chain of them (cloudflare+azure-appservice) or a file")
    p.add_argument("--echo", metavar="PATH",
                   help="an endpoint of the app answering its idea of the client's IP (JSON 'ip', or the bare "
                        "address), e.g. /whoami: checks the proxy hops the app trusts behind each front end or chain")
    p.add_argument("--origin-host", metavar="HOST|profile",
                   help="the Host the front end sends instead of the public one (an origin host override)")
    p.add_argument("--url", default="https://myapp.azurewebsites.net/login?next=/",
                   help="the URL the client asks for (default: %(default)s)")
    p.set_defaults(run=run_show)
    return parser


def seconds(text: str) -> float:
    """--timeout: a finite positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds above 0, not {text!r}")
    return value


def selected_profiles(values: list[str] | None):
    names: list[str] = []
    for value in values or [DEFAULT_PROFILE]:
        for name in filter(None, (v.strip() for v in value.split(","))):
            names += profile_names() if name == "all" else [name]
    if not names:
        raise ValueError(f"--frontend: no front end named; give names or 'all' (e.g. --frontend {DEFAULT_PROFILE})")
    return [load_profile(n) for n in dict.fromkeys(names)]


def parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"--header must look like 'Name: value', not {text!r}")
    return name.strip(), value.strip()


def with_settings(args) -> list:
    """The probe's arguments completed from the settings file (the command line wins); the ignores, parsed."""
    path = Path(args.config) if args.config else config.find()
    settings = config.load(path) if path else {}
    frontends = settings.get("frontends")
    args.urls = args.urls or settings.get("urls", [])
    args.frontend = args.frontend or ([frontends] if isinstance(frontends, str) else frontends)
    args.fail_on = args.fail_on or settings.get("fail_on", "error")
    args.host = args.host or settings.get("host")
    args.origin_host = args.origin_host or settings.get("origin_host")
    args.echo = args.echo or settings.get("echo")
    if args.origin_host and args.origin_host != "profile" and not re.fullmatch(r"[A-Za-z0-9.-]+(:\d{1,5})?",
                                                                               args.origin_host):
        raise ValueError(f"--origin-host: {args.origin_host!r} is not a host name; give one such as "
                         "myapp.azurewebsites.net, or 'profile'")
    args.header = args.header or settings.get("headers", [])
    args.timeout = args.timeout or float(settings.get("timeout", 5.0))
    args.audit = args.audit or settings.get("audit", False)
    args.json = args.json or settings.get("json")
    args.junit = args.junit or settings.get("junit")
    args.html = args.html or settings.get("html")
    if not args.urls:
        raise ValueError("probe: give the URL(s) to probe, or urls = [...] under [tool.offload] in pyproject.toml "
                         "or in offload.toml")
    return [config.Ignore.parse(i) for i in (args.ignore or settings.get("ignore", []))]


def run_probe(args) -> int:
    ignores = with_settings(args)
    profiles = selected_profiles(args.frontend)
    headers = [parse_header(h) for h in args.header]
    if args.peer:
        try:
            check_source(args.peer)
        except ValueError as e:
            raise ValueError(f"--peer: {e}") from e
    for option, path in (("--json", args.json), ("--junit", args.junit), ("--html", args.html)):
        if path:
            try:
                report.check_destination(path)
            except ValueError as e:
                raise ValueError(f"{option}: {e}") from None
    jobs = [Job.parse(u, args.host) for u in args.urls]
    for job in jobs:
        if job.had_userinfo:
            print(f"offload: warning: {job.shown}: the user name and password in the URL are not sent "
                  "(give credentials with -H 'Authorization: ...')", file=sys.stderr)
    # A report on standard output keeps it to itself: the matrix goes to standard error then.
    out = sys.stderr if "-" in (args.json, args.junit, args.html) else sys.stdout
    started = time.monotonic()
    if args.echo and (not args.echo.startswith("/") or any(c.isspace() for c in args.echo)):
        raise ValueError(f"--echo: {args.echo!r} is not a path; give one such as /whoami")
    result = Prober(profiles, headers, args.peer, args.timeout, audit=args.audit,
                    origin=args.origin_host or "", echo=args.echo or "").run(jobs)
    elapsed = time.monotonic() - started
    colour = use_colour(args.color, out)
    ignored = [f for f in result.findings.all() if any(i.matches(f) for i in ignores)]
    if ignored:
        for cell in result.cells:
            cell.findings = [f for f in cell.findings if not any(i.matches(f) for i in ignores)]
        with result.findings._lock:
            for f in ignored:
                result.findings.items.pop(f.key, None)
    print_matrix(result, jobs, profiles, colour, out)
    findings = result.findings.all()
    print_findings(findings, colour, out)
    print(f"\n{result.framework}", file=out)
    print(f"{len(jobs)} URL(s) x {len(profiles)} front end(s): {result.requests} requests in {elapsed:.2f}s; "
          + report.summary_text(findings) + (f"; {len(ignored)} ignored (--ignore)" if ignored else ""), file=out)
    names = [p.name for p in profiles]
    try:
        if args.json:
            report.write_json(args.json, findings, names, result.requests)
        if args.junit:
            report.write_junit(args.junit, findings, names, args.fail_on)
        if args.html:
            html_report.write_html(args.html, findings, names, result.requests,
                                   {p.name: sample_headers(p) for p in profiles}, title="offload probe")
    except OSError as e:
        print(f"offload: could not write a report: {e.strerror or e}", file=sys.stderr)
        return EXIT_USAGE
    by_url = {job.url: job for job in jobs}
    for url, why in result.unanswered.items():
        print(f"offload: {by_url[url].shown}: no answer: {why}", file=sys.stderr)
    if result.unanswered:
        return EXIT_USAGE
    return EXIT_FINDINGS if result.findings.reaches(args.fail_on) else EXIT_OK


def use_colour(choice: str, out) -> bool:
    """--color auto: on a terminal, unless NO_COLOR is set and not empty; FORCE_COLOR (set, not empty) forces it
    (https://no-color.org, https://force-color.org)."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or out.isatty()


def paint(text: str, verdict: str, colour: bool, width: int = 0) -> str:
    text = text.ljust(width)
    return f"\033[{COLOURS[verdict]}m{text}\033[0m" if colour and verdict in COLOURS else text


def print_matrix(result, jobs, profiles, colour: bool, out=sys.stdout) -> None:
    by = {(c.url, c.frontend): c for c in result.cells}
    rows = [p.name for p in profiles] + [""]
    label = {"": "(no front end: spoof audit)"}
    first = max(len(label.get(r, r)) for r in rows) + 2
    width = max(8, *(len(short(j)) + 2 for j in jobs))
    print("front end".ljust(first) + "".join(short(j).ljust(width) for j in jobs), file=out)
    for row in rows:
        line = label.get(row, row).ljust(first)
        for job in jobs:
            cell = by.get((job.url, row))
            verdict = cell.verdict if cell else "-"
            rules = sorted({f.rule for f in cell.findings if LEVEL[f.severity] > 0}) if cell else []
            text = {"error": "ERROR", "warning": "WARNING", "failed": "no answer"}.get(verdict, verdict)
            if len(jobs) == 1 and rules:
                text += "  " + ", ".join(rules)
            line += paint(text, verdict, colour, width)
        print(line.rstrip(), file=out)


def short(job: Job) -> str:
    path = redact_url(job.path)
    return path if len(path) <= 40 else path[:37] + "..."


def print_findings(findings, colour: bool, out=sys.stdout) -> None:
    for f in findings:
        where = f.frontend or "no front end"
        print(f"\n{paint(f.severity.upper(), f.severity, colour)} {f.rule} [{where}] {f.method} {f.route}: {f.subject}",
              file=out)
        print(textwrap.fill(f.message, 100, initial_indent="  ", subsequent_indent="  "), file=out)
        if f.evidence:
            print(textwrap.fill(f"evidence: {f.evidence}", 100, initial_indent="  ", subsequent_indent="    "),
                  file=out)
        if f.advice:
            fix = f"fix{f' for {f.framework}' if f.framework else ''}: {f.advice}"
            print(textwrap.fill(fix, 100, initial_indent="  ", subsequent_indent="    "), file=out)


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 1 to 65535, not {text!r}")
    return value


def run_command(args) -> list[str]:
    """The mitmdump/mitmweb command line `offload run` executes."""
    load_profile(args.frontend)  # an unknown name stops here, listing the valid ones
    job = Job.parse(args.url)
    upstream = f"{'https' if job.target.tls else 'http'}://{job.host}"
    tool = "mitmweb" if args.web else "mitmdump"
    here = Path(sys.executable).with_name(tool)
    found = str(here) if here.exists() else shutil.which(tool)
    if not found:
        raise ValueError(f"run: {tool} was not found beside {sys.executable} or on PATH; install mitmproxy "
                         "(pip install mitmproxy) or use mitmproxy's standalone binaries with "
                         f"{tool} -s \"$(offload addon-path)\"")
    extra = list(args.mitmproxy_args)
    command = [found, "-s", addon_path(), "--mode", f"reverse:{upstream}@127.0.0.1:{args.port}",
               "--set", f"frontend={args.frontend}"]
    if args.web:
        command += ["--web-host", "127.0.0.1"]
    return command + extra


def run_run(args) -> int:
    command = run_command(args)
    print(f"offload: {args.frontend} in front of {args.url}: browse https://localhost:{args.port}/ "
          f"(or curl -k https://localhost:{args.port}/){'; mitmweb prints where its UI is' if args.web else ''}",
          file=sys.stderr, flush=True)
    os.execv(command[0], command)
    return EXIT_OK  # not reached


def run_profile_check(args) -> int:
    path = args.file if args.file.endswith(".toml") or "/" in args.file else f"./{args.file}"
    profile = load_profile(path)
    print(f"{args.file}: ok: {profile.name}: {profile.summary}")
    print(f"  {len(profile.request)} request header rule(s), {len(profile.response)} response header(s), "
          f"{len(profile.cookies)} cookie(s); plain HTTP: "
          + (f"the front end answers {profile.https_redirect}" if profile.https_redirect else "forwarded")
          + f"; {len(profile.sources)} source(s)")
    print(f"  use it: mitmdump -s \"$(offload addon-path)\" --set frontend={path} ...; offload probe URL --frontend {path}")
    return EXIT_OK


def run_profile_from_dump(args) -> int:
    try:
        text = sys.stdin.read() if args.dump == "-" else Path(args.dump).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"from-dump: cannot read {args.dump}: {getattr(e, 'strerror', None) or e}") from None
    try:
        profile = fromdump.to_profile(fromdump.read_dump(text), Path(args.dump).name, args.name or "")
    except ValueError as e:
        raise ValueError(f"from-dump: {args.dump}: {e}") from None
    parse_profile("from-dump", tomllib.loads(profile))  # what it writes is a valid profile
    if args.output:
        report.write_text(args.output, profile)
        print(f"offload: profile written to {args.output}; check it, then: --frontend {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(profile)
    return EXIT_OK


def run_addon_path(args) -> int:
    print(addon_path())
    return EXIT_OK


def run_profiles(args) -> int:
    names = profile_names()
    width = max(map(len, names)) + 2
    for name in names:
        marker = " (default)" if name == DEFAULT_PROFILE else ""
        print(f"{name.ljust(width)}{load_profile(name).summary}{marker}")
    return EXIT_OK


def show_hops(chain, incoming: Incoming) -> None:
    """A chain hop by hop: what each front end passes to the next, marked against what it received."""
    received = incoming.headers
    for i, hop in enumerate(chain.hops[:-1]):
        sent = forward(load_profile(CHAIN.join(h.name for h in chain.hops[:i + 1])), incoming)
        print(f"\nHop {i + 1}, {hop.name}, passes to {chain.hops[i + 1].name} (from "
              f"{hop_address(chain, i)}):\n")
        for k, v in sent.headers:
            if k.lower() == "host":
                v = sent.host
            print(f"{' ' if (k, v) in received else '+'} {k}: {v}")
        received = [(k, sent.host if k.lower() == "host" else v) for k, v in sent.headers]
    print(f"\nHop {len(chain.hops)}, {chain.hops[-1].name}, passes to the app (below).")


def run_show(args) -> int:
    profile = load_profile(args.name)
    job = Job.parse(args.url)
    scheme = job.target.tls and "https" or "http"
    sent = [("Host", job.host), ("User-Agent", "curl/8.5.0"), ("Accept", "*/*")]
    origin = args.origin_host or ""
    if origin == "profile" and not any(h.origin_host is not None for h in (profile.hops or (profile,))):
        raise ValueError(f"--origin-host: {profile.name} has no origin host of its own; give the origin's host name")
    incoming = Incoming(scheme, job.host, job.path, sent, CLIENT, upstream="127.0.0.1:3000", origin_host=origin)
    print(f"{profile.name}: {profile.summary}\n")
    print(f"A client at {CLIENT.ip_port} asks for {job.url}")
    if profile.hops:
        show_hops(profile, incoming)
    if scheme == "http" and profile.https_redirect:
        print(f"The front end answers it itself: {profile.https_redirect}, Location: https://{job.host}{job.path}")
        return EXIT_OK
    fwd = forward(profile, incoming)
    print("The app (here at 127.0.0.1:3000) receives:\n")
    print(f"  GET {job.path} HTTP/1.1")
    sent_names = {k.lower() for k, _ in sent}
    for k, v in fwd.headers:
        if k.lower() == "host":
            v = fwd.host
        mark = " " if k.lower() in sent_names and (k, v) in sent else "+"
        print(f"{mark} {k}: {v}")
    added = respond(profile, incoming, fwd.values, [], set(), hop_values=fwd.hop_values)
    if added:
        print("\nThe front end adds to the app's response:\n")
        for k, v in added:
            print(f"+ {k}: {v}")
    print("\n(+ added or changed by the front end)")
    if profile.https_redirect:
        print(f"Plain HTTP requests are answered by the front end with {profile.https_redirect} to https://.")
    if profile.peer:
        print(f"The app's peer in production: {profile.peer} (--set frontend_peer={profile.peer}).")
    for front in profile.hops or (profile,):
        if front.origin_host is not None and not origin:
            print(f"In front of App Service, {front.name} sends the origin's host name ({front.origin_host.text}) "
                  "in Host unless host name preservation is set up: --origin-host profile shows that.")
    print("\nSources:")
    for key, text in profile.sources.items():
        print(f"  {key}  {text}")
    if profile.not_emulated:
        print("Not emulated:")
        for item in profile.not_emulated:
            print(f"  - {item}")
    return EXIT_OK
