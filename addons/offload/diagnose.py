"""The diagnosis glue: run the rules on live flows, compare with reference requests, mark flows, write reports."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import Optional

from mitmproxy import command, ctx, exceptions, http
from mitmproxy.hooks import UpdateHook

from . import advice, report
from .addon import FlowState, Offload, as_text, parse_choice
from .compare import compare, compare_peer
from .exchange import BODY_LIMIT, Exchange, backend_names, decode_body, from_answer, header_values, textual
from .findings import Finding, Findings, fingerprint, route
from .passive import inspect
from .reference import Target, send, variant

logger = logging.getLogger("offload")

COMPARE = {
    "safe": "GET, HEAD and OPTIONS requests, once per method and route",
    "all": "every method (a POST is sent twice to the app), once per method and route",
    "off": "no reference requests; passive rules only",
}
FAIL_ON = ("never", "error", "warning")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
MAX_INFLIGHT = 16  # comparisons running at once; more wait for a later request to the same route
MAX_ROUTES = 10_000  # routes remembered as compared; beyond, no new comparisons
SETTLE_TIMEOUT = 6.0  # at shutdown, how long comparisons still in flight may take
MARKERS = {"error": ":x:", "warning": ":warning:"}
LEARNING = 50  # clean answers fingerprinted to learn the framework (and give client-ip-port advice) before stopping


class Session:
    """Lives at the end of mitmproxy's addon chain, across script reloads: findings, reports, exit status.

    Being last, its done() runs after mitmproxy's own (HAR files, flow files are written first); being a master
    addon rather than a script's, it may be async and wait for comparisons still in flight.
    """

    name = "offload-session"

    def __init__(self) -> None:
        self.findings = Findings()
        self.framework = ""  # the latest framework guess, for findings whose own responses give none away
        self.diagnose: Diagnose | None = None

    async def done(self) -> None:
        d = self.diagnose
        if d is None:
            return
        await d.settle()
        d.finish()
        if self.findings.reaches(ctx.options.frontend_fail_on):
            logger.warning(f"offload: exit status 3 (frontend_fail_on={ctx.options.frontend_fail_on})")
            sys.exit(3)


class Diagnose:
    """Name what breaks behind the front end, once per problem, with the fix for the app's framework."""

    def __init__(self, emulation: Offload) -> None:
        self.emulation = emulation
        self.session = Session()
        self.session.diagnose = self
        self.compared: set[tuple[str, str]] = set()
        self.inflight: set[asyncio.Task] = set()
        self.advised_ip_port = False
        self.learning = LEARNING
        self.compare_mode = "safe"  # ctx.options.frontend_compare, kept (reading options deep-copies them)

    def load(self, loader):
        loader.add_option(
            "frontend_compare", str, "safe",
            "Differential check with a reference request to the app (same request plus X-Forwarded-Proto: https; "
            "with frontend_peer also from loopback): " + "; ".join(f"{k}: {v}" for k, v in COMPARE.items()) + ".",
            choices=list(COMPARE),
        )
        loader.add_option("frontend_report", Optional[str], None, "Write the JSON report here at exit.")
        loader.add_option("frontend_junit", Optional[str], None, "Write a JUnit XML report here at exit.")
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
        for option in ("frontend_report", "frontend_junit"):
            if option in updated and getattr(ctx.options, option):
                check_writable(option, getattr(ctx.options, option))

    def running(self):
        # One session for the whole run: a reloaded script finds the previous one and carries on with it.
        existing = ctx.master.addons.get(Session.name)
        if existing is None:
            ctx.master.addons.add(self.session)
        else:
            self.session = existing
        self.session.diagnose = self

    # --- hooks --------------------------------------------------------------------------------------------------

    def response(self, flow: http.HTTPFlow) -> None:
        state = self.emulation.state(flow)
        if state is None or state.frontend_response or flow.response is None:
            return
        self.session.findings.flows += 1
        comparing = self.should_compare(flow, state)
        learning = self.learning > 0
        actual = self.exchange(flow, state, with_request=comparing or learning)
        findings = inspect(actual)
        if findings or learning:  # a clean answer is fingerprinted only while offload still learns the app
            self.learning -= not findings
            self.report(findings, flow, actual)
        if comparing:
            self.start_comparison(flow, state, actual)

    # --- building exchanges ---------------------------------------------------------------------------------------

    def exchange(self, flow: http.HTTPFlow, state: FlowState, with_request: bool = True) -> Exchange:
        """The app's answer as the rules see it (the front end's own cookies left out)."""
        incoming = state.incoming
        fields = state.app_headers if state.app_headers is not None else flow.response.headers.fields
        headers = tuple((as_text(k), as_text(v)) for k, v in fields)
        body = ""
        raw = flow.response.raw_content
        if incoming.scheme == "https" and raw and len(raw) <= 4 * BODY_LIMIT:  # larger ones are downloads, not pages
            content_type = next(iter(header_values(headers, "content-type")), None)
            if textual(content_type):
                body = decode_body(flow.response.get_content(strict=False), content_type)
        request_headers = ()
        if with_request:
            request_headers = tuple((as_text(k), as_text(v)) for k, v in flow.request.headers.fields)
        return Exchange(
            method=flow.request.method, scheme=incoming.scheme, host=incoming.host, path=incoming.path,
            status=flow.response.status_code, headers=headers, body=body,
            backends=backend_names(flow.request.host, flow.request.port), request_headers=request_headers,
        )

    # --- comparisons ----------------------------------------------------------------------------------------------

    def should_compare(self, flow: http.HTTPFlow, state: FlowState) -> bool:
        mode = self.compare_mode
        if mode == "off" or state.incoming.scheme != "https" or flow.response.status_code == 101:
            return False
        if mode == "safe" and flow.request.method not in SAFE_METHODS:
            return False
        if flow.request.raw_content is None:  # streamed: nothing to send again
            return False
        key = (flow.request.method, route(state.incoming.path))
        if key in self.compared or len(self.inflight) >= MAX_INFLIGHT or len(self.compared) >= MAX_ROUTES:
            return False
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no event loop (offline use): nothing can be sent
            return False
        self.compared.add(key)
        return True

    def start_comparison(self, flow: http.HTTPFlow, state: FlowState, actual: Exchange) -> None:
        """Send the reference request(s) in the background: the client's response does not wait for them."""
        headers = list(flow.request.headers.items(multi=True))  # exactly as the front end forwarded them
        if not any(k.lower() == "host" for k, _ in headers):  # HTTP/2 clients: the app got Host from :authority
            headers.insert(0, ("Host", flow.request.host_header or state.incoming.host))
        jobs: dict[str, tuple[list[tuple[str, str]], str | None]] = {}
        peer = self.emulation.peer
        if [v for k, v in headers if k.lower() == "x-forwarded-proto"] != ["https"]:
            jobs["https"] = (variant(headers, {"X-Forwarded-Proto": "https"}), peer)
        if peer:
            jobs["loopback"] = (headers, None)
        if not jobs:
            return
        target = Target(flow.request.host, flow.request.port, flow.request.scheme == "https")
        body = flow.request.raw_content or b""
        task = asyncio.get_running_loop().create_task(
            self._compare(flow, actual, target, flow.request.method, flow.request.path, body, jobs, peer))
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    async def _compare(self, flow, actual, target, method, path, body, jobs, peer) -> None:
        try:
            answers = await asyncio.gather(*(
                asyncio.to_thread(send, target, method, path, headers, body, source)
                for headers, source in jobs.values()))
        except Exception as e:  # the app went away, timed out...: no comparison, no finding
            logger.debug(f"offload: reference request for {method} {route(path)} failed: {e}")
            return
        refs = {name: from_answer(actual, a.status, a.headers, a.body) for name, a in zip(jobs, answers)}
        findings = []
        if "https" in refs:
            findings += compare(actual, refs["https"])
        if "loopback" in refs:
            findings += compare_peer(actual, refs["loopback"], peer)
        if findings:
            self.report(findings, flow, actual, *refs.values())
            ctx.master.addons.trigger(UpdateHook([flow]))
        else:
            self.learn_framework(actual, *refs.values())

    async def settle(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Let comparisons still in flight finish (bounded) before the reports are written."""
        pending = {t for t in self.inflight if not t.done()}
        if not pending:
            return
        done, late = await asyncio.wait(pending, timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            logger.info(f"offload: {len(late)} comparison(s) did not finish within {timeout:.0f}s")

    # --- findings -------------------------------------------------------------------------------------------------

    def context(self) -> advice.Context:
        return advice.context_for(self.emulation.profile, self.emulation.rules, self.emulation.peer or "")

    def learn_framework(self, *exchanges: Exchange) -> str:
        framework = fingerprint(*exchanges)
        if framework:
            self.session.framework = framework
            self.advise_ip_port(framework, exchanges[0])
        return framework or self.session.framework

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
        for finding in findings:
            finding = self.record(finding, framework)
            if flow is not None:
                mark(flow, finding)

    def record(self, finding: Finding, framework: str) -> Finding:
        finding = advice.complete(finding, self.emulation.profile.name, framework, self.context())
        if self.session.findings.add(finding):
            log = logger.info if finding.severity == "info" else logger.warning
            log(f"offload: {finding.line()}")
        return finding

    def finish(self) -> None:
        """At exit: the summary table and the reports."""
        findings = self.session.findings.all()
        flows, name = self.session.findings.flows, self.emulation.profile.name
        for line in report.summary_lines(findings, flows, name):
            logger.info(line)
        try:
            if ctx.options.frontend_report:
                report.write_json(ctx.options.frontend_report, findings, [name], flows)
                logger.info(f"offload: JSON report written to {ctx.options.frontend_report}")
            if ctx.options.frontend_junit:
                report.write_junit(ctx.options.frontend_junit, findings, [name], ctx.options.frontend_fail_on)
                logger.info(f"offload: JUnit report written to {ctx.options.frontend_junit}")
        except OSError as e:
            logger.error(f"offload: could not write a report: {e}")

    @command.command("offload.findings")
    def findings_command(self) -> Sequence[str]:
        """The findings so far, one line each: severity, rule, request, subject, count."""
        return [f"{f.severity} {f.rule} {f.method} {f.route} {f.subject} x{f.count}"
                for f in self.session.findings.all()]


def mark(flow: http.HTTPFlow, finding: Finding) -> None:
    """Show the finding in mitmweb: a marker (errors outrank warnings) and a line in the flow's comment."""
    marker = MARKERS.get(finding.severity)
    if marker and flow.marked != MARKERS["error"]:
        flow.marked = marker
    line = f"offload {finding.severity} {finding.rule}: {finding.message}"
    if finding.advice:
        line += f" Fix{f' for {finding.framework}' if finding.framework else ''}: {finding.advice}"
    if line not in flow.comment:
        flow.comment = f"{flow.comment}\n{line}" if flow.comment else line


def check_writable(option: str, path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise exceptions.OptionsError(f"{option}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise exceptions.OptionsError(f"{option}: folder {folder} is not writable")
