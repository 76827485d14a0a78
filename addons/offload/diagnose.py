"""The diagnosis glue: run the rules on live flows, compare with reference requests, mark flows."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Optional

from mitmproxy import command, ctx, exceptions, http
from mitmproxy.hooks import UpdateHook
from mitmproxy.proxy.mode_specs import ProxyMode, ReverseMode

from . import advice, report, trust
from .addon import FlowState, Offload, as_text, parse_choice
from . import references
from .compare import compare, compare_peer, reconcile
from .exchange import MAX_COOKIES, READ, Exchange, backend_names, decode_body, from_answer, header_values, may_link
from .findings import Finding, route
from .passive import inspect, quiet
from .recognize import HEADERS as SIGN_HEADERS
from .reference import BadAnswer, Target, send
from .session import Session

logger = logging.getLogger("offload")

COMPARE = {
    "safe": "GET, HEAD and OPTIONS requests, once per method and route",
    "all": "every method (a POST is sent twice to the app), once per method and route",
    "off": "no reference requests; passive rules only",
}
FAIL_ON = ("never", "error", "warning")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MARKERS = {"error": ":x:", "warning": ":warning:"}
LEARNING = 50  # clean answers fingerprinted to learn the framework (and give client-ip-port advice) before stopping
LOG_PER_RESPONSE = 10  # new findings logged one by one per response; more are counted in one line
COMMENT_LINES = 20  # findings in one flow's comment; the rest are counted (offload.findings lists them all)
# Passive findings recorded only once the flow's comparison says what they are: a cookie without Secure may be one
# the app makes Secure when it sees HTTPS (secure-attribute-dropped). They are shown on the flow at once.
PENDING = frozenset({"cookie-not-secure"})
_READ = frozenset(name.encode() for name in READ | SIGN_HEADERS)
_MORE = re.compile(r"^\(and (\d+) more finding")


class Diagnose:
    """Name what breaks behind the front end, once per problem, with the fix for the app's framework."""

    def __init__(self, emulation: Offload) -> None:
        self.emulation = emulation
        emulation.banner_parts.append(self.banner_part)
        self.session = Session()
        self.advised_ip_port = False
        self.learning = LEARNING
        self.compare_mode = "safe"  # ctx.options.frontend_compare, kept (reading options deep-copies them)
        self.echo = ""  # frontend_echo
        self.trust_checked: set[tuple] = set()  # emulation signatures whose hop count was checked

    def load(self, loader):
        loader.add_option(
            "frontend_compare", str, "safe",
            "Differential check with a reference request to the app (same request plus X-Forwarded-Proto: https; "
            "with frontend_peer also from loopback), in reverse mode only: "
            + "; ".join(f"{k}: {v}" for k, v in COMPARE.items()) + ".",
            choices=list(COMPARE),
        )
        loader.add_option("frontend_report", Optional[str], None,
                          "Write the JSON report here at exit ('-': standard output).")
        loader.add_option("frontend_junit", Optional[str], None,
                          "Write a JUnit XML report here at exit ('-': standard output).")
        loader.add_option("frontend_html", Optional[str], None,
                          "Write a self-contained HTML report here at exit: the front end x route matrix, each "
                          "finding with its evidence and fix, the front end's headers ('-': standard output).")
        loader.add_option("frontend_report_live", bool, False,
                          "Also rewrite the JSON report (frontend_report, a file) whenever a new finding is made, so "
                          "a test or a watcher can read the findings so far (the pytest plugin does).")
        loader.add_option(
            "frontend_echo", Optional[str], None,
            "Path of an endpoint of the app that answers its idea of the client's IP (JSON with an 'ip' key, or the "
            "bare address), e.g. /whoami: offload asks it once, through the emulated front end (or chain), and says "
            "whether the app trusts as many proxy hops as there are (trusted-hops-mismatch).",
        )
        loader.add_option(
            "frontend_fail_on", str, "never",
            "Exit status 3 at shutdown when findings reach this level: never, error, warning.",
            choices=list(FAIL_ON),
        )

    def configure(self, updated):
        if "frontend_compare" in updated:
            self.compare_mode = parse_choice("frontend_compare", ctx.options.frontend_compare, COMPARE)
        if "frontend_fail_on" in updated:
            parse_choice("frontend_fail_on", ctx.options.frontend_fail_on, FAIL_ON)
        for option in ("frontend_report", "frontend_junit", "frontend_html"):
            if option in updated and getattr(ctx.options, option):
                try:
                    report.check_destination(getattr(ctx.options, option))
                except ValueError as e:
                    raise exceptions.OptionsError(f"{option}: {e}") from None
        if "frontend_echo" in updated:
            echo = ctx.options.frontend_echo
            if echo and (not echo.startswith("/") or any(c.isspace() for c in echo)):
                raise exceptions.OptionsError(f"frontend_echo: {echo!r} is not a path; give one such as /whoami")
            self.echo = echo or ""
        if "frontend" in updated:
            self.session.emulating(self.emulation.profile.name)

    def running(self):
        # One session for the whole run: a reloaded script finds the previous one and carries on with it.
        existing = ctx.master.addons.get(Session.name)
        if existing is None:
            ctx.master.addons.add(self.session)
        else:
            self.session = existing
        self.session.emulating(self.emulation.profile.name)

    def banner_part(self) -> str:
        if self.compare_mode == "off":
            return "comparisons off"
        modes = [ProxyMode.parse(m) for m in ctx.options.mode] if "mode" in ctx.options else []
        if modes and not any(isinstance(m, ReverseMode) for m in modes):
            return "comparisons off (reference requests are sent only in reverse mode, to its upstream)"
        return ""

    # --- hooks --------------------------------------------------------------------------------------------------

    def response(self, flow: http.HTTPFlow) -> None:
        state = self.emulation.state(flow)
        if state is None or state.frontend_response or flow.response is None:
            return
        self.session.findings.flows += 1
        if self.echo and self.emulation.signature not in self.trust_checked:
            self.check_trust(flow, state)
        target = self.comparison_target(flow, state)
        learning = self.learning > 0
        if target is None and not learning and (state.incoming.scheme != "https" or quiet(
                state.app_headers if state.app_headers is not None else flow.response.headers.fields,
                flow.response.raw_content, self.names(flow, state) if state.incoming.origin_host
                else backend_names(flow.request.host, flow.request.port))):
            return  # nothing to compare, nothing to learn, nothing a rule could find: most answers
        actual = self.exchange(flow, state, full=target is not None or learning)
        findings = inspect(actual)
        if findings or learning:  # a clean answer is fingerprinted only while offload still learns the app
            self.learning -= not findings
            if target is None:
                self.report(findings, flow, actual)
            else:  # one problem, one finding: what the comparison may turn into another finding waits for it
                now = [f for f in findings if f.rule not in PENDING]
                self.report(now, flow, actual)
                mark(flow, [self.complete(f) for f in findings if f.rule in PENDING])
        if target is not None:
            self.start_comparison(flow, state, actual, target, findings)

    # --- building exchanges ---------------------------------------------------------------------------------------

    def exchange(self, flow: http.HTTPFlow, state: FlowState, full: bool = True) -> Exchange:
        """The app's answer as the rules see it: the headers they read (exchange.READ), the front end's own cookies
        left out, and the body's text within bounds.

        Not `full` (no comparison, not learning the framework), the body is decoded only where a rule could find
        something in it: a URL (told from its bytes), or an error text on a failure.
        """
        incoming = state.incoming
        response = flow.response
        fields = state.app_headers if state.app_headers is not None else response.headers.fields
        headers = _read_headers(fields)
        backends = backend_names(flow.request.host, flow.request.port)
        origin = self.origin(flow, state)
        body = ""
        raw = response.raw_content
        if incoming.scheme == "https" and raw:
            content_type = next(iter(header_values(headers, "content-type")), None)
            encoding = ", ".join(header_values(headers, "content-encoding")) or None
            if full or encoding or response.status_code >= 400 or may_link(raw, content_type, self.names(flow, state)):
                body = decode_body(raw, content_type, encoding)
        request_headers = ()
        if full:
            request_headers = tuple((as_text(k), as_text(v)) for k, v in flow.request.headers.fields)
        return Exchange(flow.request.method, incoming.scheme, incoming.host, incoming.path, response.status_code,
                        headers, body, backends, request_headers, origin)

    @staticmethod
    def origin(flow: http.HTTPFlow, state: FlowState) -> str:
        """The Host the app received, when the front end sent another than the public host (an origin override)."""
        if not state.incoming.origin_host:
            return ""
        host = flow.request.host_header or ""
        return "" if host.lower() == state.incoming.host.lower() else host

    def names(self, flow: http.HTTPFlow, state: FlowState) -> tuple[str, ...]:
        """The app's own names a body may link to: its upstream address, and the origin host it received."""
        backends = backend_names(flow.request.host, flow.request.port)
        origin = self.origin(flow, state)
        return backends + (origin,) if origin else backends

    # --- trust counting -------------------------------------------------------------------------------------------

    def check_trust(self, flow: http.HTTPFlow, state: FlowState) -> None:
        """Once per emulation: ask the app's echo endpoint who the client is, through the emulated front end(s)."""
        target = upstream(flow)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self.trust_checked.add(self.emulation.signature)
        if target is None:
            logger.warning(f"offload: frontend_echo {self.echo}: the app is asked only in reverse mode, where offload "
                           "knows its address; the hop count was not checked")
            return
        emulation = self.emulation
        headers = trust.echo_headers(emulation.profile, emulation.last_rules, state.incoming.host, self.echo,
                                     emulation.hop_ips)
        self.session.scheduler.start(f"GET {self.echo}", self._trust(target, headers))

    async def _trust(self, target: Target, headers: list[tuple[str, str]]) -> None:
        emulation = self.emulation
        try:
            answer = await send(target, "GET", self.echo, headers, b"", emulation.peer)
        except (OSError, TimeoutError, BadAnswer) as e:
            logger.warning(f"offload: frontend_echo {self.echo}: no answer ({e or type(e).__name__})")
            return
        seen = trust.seen_address(answer.body) if answer.status < 400 else ""
        if not seen:
            logger.warning(f"offload: frontend_echo {self.echo} answered {answer.status} without a client IP (JSON "
                           "with an 'ip' key, or the bare address); the hop count was not checked")
            return
        finding = trust.judge(seen, emulation.profile, headers, emulation.peer or "127.0.0.1", emulation.hop_ips)
        if finding:
            self.record(finding, self.session.recognizer.name)

    # --- comparisons ----------------------------------------------------------------------------------------------

    def comparison_target(self, flow: http.HTTPFlow, state: FlowState) -> Target | None:
        """Where to send this flow's reference request, or None: not this flow, or not now."""
        mode = self.compare_mode
        if mode == "off" or state.incoming.scheme != "https":
            return None
        method = flow.request.method  # a property that decodes bytes: read once
        if mode == "safe" and method not in SAFE_METHODS:
            self.session.scheduler.skip_unsafe(method)
            return None
        key = (self.emulation.signature, method, route(state.incoming.path))
        scheduler = self.session.scheduler
        if key in scheduler.claimed:  # the usual case once the app's routes have been seen
            return None
        # Upgrades and streams: nothing to send again (a streamed request), or no end to wait for (a streamed
        # answer, server-sent events, a WebSocket).
        response = flow.response
        if response.status_code == 101 or flow.websocket is not None or response.raw_content is None \
                or flow.request.raw_content is None or _event_stream(response):
            return None
        target = upstream(flow)
        if target is None:
            return None
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no event loop (offline use): nothing can be sent
            return None
        return target if scheduler.claim(key) else None

    def start_comparison(self, flow: http.HTTPFlow, state: FlowState, actual: Exchange, target: Target,
                         passive: list[Finding]) -> None:
        """Send the reference request(s) in the background: the client's response does not wait for them. The
        answer's passive findings of the PENDING rules are reported with theirs."""
        headers = list(flow.request.headers.items(multi=True))  # exactly as the front end forwarded them
        if not any(k.lower() == "host" for k, _ in headers):  # HTTP/2 clients: the app got Host from :authority
            headers.insert(0, ("Host", flow.request.host_header or state.incoming.host))
        jobs: dict[str, tuple[list[tuple[str, str]], str | None]] = {}
        peer = self.emulation.peer
        public = state.incoming.host
        correct = references.correct(headers, public)
        if correct is not None:
            jobs["https"] = (correct, peer)
        if actual.status >= 400:  # does the app fail only because it believes no forwarded header at all?
            jobs["plain"] = (references.plain(headers, public, (r.name for r in self.emulation.rules)), peer)
        if peer:
            jobs["loopback"] = (headers, None)
        if not jobs:  # nothing to compare after all: the findings that waited are what they seemed
            self.report([f for f in passive if f.rule in PENDING], None, actual)
            return
        method, path = flow.request.method, flow.request.path
        label = f"{method} {route(state.incoming.path)}"
        body = flow.request.raw_content or b""
        self.session.scheduler.start(
            label, self._compare(flow, actual, passive, target, method, path, body, jobs, peer, label))

    async def _compare(self, flow, actual, passive, target, method, path, body, jobs, peer, label) -> None:
        try:
            answers = await asyncio.gather(*(send(target, method, path, headers, body, source)
                                             for headers, source in jobs.values()))
        except (OSError, TimeoutError, BadAnswer) as e:  # the app went away, is slow, answered garbage
            self.session.scheduler.failure(label, str(e) or type(e).__name__)
            logger.debug(f"offload: reference request for {label} failed: {e}")
            self.report([f for f in passive if f.rule in PENDING], None, actual)
            return
        refs = {name: from_answer(actual, a.status, a.headers, a.body) for name, a in zip(jobs, answers)}
        new, amended, folded = reconcile(
            passive, compare(actual, refs.get("https"), refs.get("plain"))
            + (compare_peer(actual, refs["loopback"], peer) if "loopback" in refs else []), PENDING)
        for f in amended:  # a loop reported at once, now with the side effects it caused as evidence
            self.session.findings.amend(replace(f, frontend=self.emulation.profile.name))
        if folded:
            unmark(flow, [self.complete(f) for f in folded])
        if new:
            self.report(new, flow, actual, *refs.values())
        else:
            self.learn_framework(actual, *refs.values())
        if new or folded:
            ctx.master.addons.trigger(UpdateHook([flow]))

    # --- findings -------------------------------------------------------------------------------------------------

    def context(self) -> advice.Context:
        return advice.context_for(self.emulation.profile, self.emulation.rules, self.emulation.peer or "",
                                  bool(self.emulation.origin))

    def learn_framework(self, *exchanges: Exchange) -> str:
        """The app's framework from all the evidence so far (these answers included); "" while unsure."""
        recognizer = self.session.recognizer
        recognizer.see(exchanges)
        framework = recognizer.name
        if framework:
            self.advise_ip_port(framework, exchanges[0])
        return framework

    def advise_ip_port(self, framework: str, ex: Exchange) -> None:
        """client-ip-port: once per run, when ip:port X-Forwarded-For meets a framework that keeps the port."""
        if self.advised_ip_port:
            return
        finding = advice.ip_port_finding(self.emulation.profile, framework,
                                         ex.request_header("X-Forwarded-For") or "")
        if finding:
            self.advised_ip_port = True
            self.record(finding, framework)

    def report(self, findings: list[Finding], flow: http.HTTPFlow | None, *exchanges: Exchange) -> None:
        framework = self.learn_framework(*exchanges)
        logged = self.session.findings.new  # to tell how many of these were new
        done = [self.record(f, framework, log=self.session.findings.new - logged < LOG_PER_RESPONSE)
                for f in findings]
        unlogged = self.session.findings.new - logged - LOG_PER_RESPONSE
        if unlogged > 0:  # a response with hundreds of new problems (cookies...): the terminal gets a count
            logger.warning(f"offload: and {unlogged} more new finding(s) on {findings[0].method} {findings[0].route} "
                           "(the summary, the reports and the command offload.findings list them all)")
        if flow is not None:
            mark(flow, done)

    def complete(self, finding: Finding) -> Finding:
        """A finding with its front end, framework and fix, as it would be recorded (for a flow's comment)."""
        return advice.complete(finding, self.emulation.profile.name, self.session.recognizer.name, self.context())

    def record(self, finding: Finding, framework: str, log: bool = True) -> Finding:
        name = self.emulation.profile.name
        if not self.session.findings.has_room((name, *finding.key[1:])):  # a full store: counted, not completed
            self.session.findings.dropped += 1
            return finding
        context = self.session.contexts[name] = self.context()
        finding = advice.complete(finding, name, framework, context)
        self.session.record(finding, log)
        return finding

    @command.command("offload.findings")
    def findings_command(self) -> Sequence[str]:
        """The findings so far, one line each: severity, rule, request, subject, count."""
        return [f"{f.severity} {f.rule} {f.method} {f.route} {f.subject} x{f.count}"
                for f in self.session.findings.all()]


def upstream(flow: http.HTTPFlow) -> Target | None:
    """The reverse-mode upstream this flow went to, as a reference target; None in any other mode.

    A reference request carries the client's cookies and credentials: it goes only where the client's own request
    went, the reverse proxy's upstream, and to the address mitmproxy connected to (no name resolution: that would
    take a thread from the pool mitmproxy resolves names with).
    """
    mode = flow.client_conn.proxy_mode
    if not isinstance(mode, ReverseMode) or mode.scheme not in ("http", "https"):
        return None
    host, port = mode.address
    if (flow.request.host, flow.request.port) != (host, port):  # another addon sent it elsewhere
        return None
    peer = flow.server_conn.peername
    if peer and peer[1] == port:
        address = peer[0]
    else:
        try:
            address = str(ipaddress.ip_address(host.strip("[]")))
        except ValueError:
            return None
    return Target(host, port, mode.scheme == "https", address)


def _read_headers(fields) -> tuple[tuple[str, str], ...]:
    """The headers the rules read, decoded; Set-Cookie lines past MAX_COOKIES are left out (no rule judges them)."""
    out = []
    cookies = 0
    for k, v in fields:
        key = k.lower()
        if key in _READ:
            if key == b"set-cookie":
                cookies += 1
                if cookies > MAX_COOKIES:
                    continue
            out.append((k.decode("utf-8", "surrogateescape"), v.decode("utf-8", "surrogateescape")))
    return tuple(out)


def _event_stream(response: http.Response) -> bool:
    return response.headers.get("content-type", "").lower().startswith("text/event-stream")


def comment_block(finding: Finding) -> list[str]:
    """A finding as mitmweb's Comment tab shows it: short lines, the rule and subject, what happened, the fix."""
    lines = [f"offload {finding.severity} {finding.rule}: {finding.subject}", f"  {finding.message}"]
    if finding.advice:
        lines.append(f"  fix{f' for {finding.framework}' if finding.framework else ''}: {finding.advice}")
    return lines


def _blocks(comment: str) -> list[list[str]]:
    """A comment's lines grouped: each offload finding with its indented lines; any other line on its own."""
    blocks: list[list[str]] = []
    for line in comment.split("\n") if comment else []:
        if line.startswith("  ") and blocks and blocks[-1][0].startswith("offload "):
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return blocks


def _marker(blocks: list[list[str]]) -> str:
    heads = [b[0] for b in blocks]
    if any(h.startswith("offload error") for h in heads):
        return MARKERS["error"]
    return MARKERS["warning"] if any(h.startswith("offload warning") for h in heads) else ""


def unmark(flow: http.HTTPFlow, findings: list[Finding]) -> None:
    """Take findings that turned out to be part of another one off a flow's comment (its marker is recomputed)."""
    blocks = _blocks(flow.comment)
    drop = {tuple(comment_block(f)) for f in findings}
    kept = [b for b in blocks if tuple(b) not in drop]
    if len(kept) == len(blocks):
        return
    flow.comment = "\n".join(line for b in kept for line in b)
    flow.marked = _marker(kept)


def mark(flow: http.HTTPFlow, findings: list[Finding]) -> None:
    """Show findings in mitmweb: a marker (errors outrank warnings) and a short block each in the flow's comment."""
    if not findings:
        return
    for finding in findings:
        marker = MARKERS.get(finding.severity)
        if marker and flow.marked != MARKERS["error"]:
            flow.marked = marker
    blocks = _blocks(flow.comment)
    more = 0
    if blocks and (m := _MORE.match(blocks[-1][0])):
        more = int(m.group(1))
        blocks.pop()
    seen = {tuple(b) for b in blocks}
    shown = sum(b[0].startswith("offload ") for b in blocks)
    for finding in findings:
        block = comment_block(finding)
        if tuple(block) in seen:
            continue
        if shown >= COMMENT_LINES:
            more += 1
            continue
        seen.add(tuple(block))
        blocks.append(block)
        shown += 1
    if more:
        blocks.append([f"(and {more} more finding(s): the command offload.findings lists them all)"])
    flow.comment = "\n".join(line for b in blocks for line in b)
