"""The findings sink: one per mitmproxy run, across script reloads: findings, comparisons in flight, reports, exit."""

from __future__ import annotations

import logging
import sys

from mitmproxy import ctx

from . import advice, html_report, report
from .forward import sample_headers
from .profiles import ProfileError, load_profile
from .findings import Finding, Findings
from .recognize import Recognizer
from .scheduler import Scheduler

logger = logging.getLogger("offload")

SETTLE_TIMEOUT = 6.0  # at shutdown, how long comparisons still in flight may take (each has its own 5 s deadline)
EXIT_FINDINGS, EXIT_NO_REPORT = 3, 1


class Session:
    """Lives at the end of mitmproxy's addon chain, across script reloads.

    Being last, its done() runs after mitmproxy's own (HAR files, flow files are written first); being a master
    addon rather than a script's, it may be async and wait for comparisons still in flight.
    """

    name = "offload-session"

    def __init__(self) -> None:
        self.findings = Findings()
        self.scheduler = Scheduler()
        self.recognizer = Recognizer()  # the app's framework, from the evidence of every answer seen
        self.frontends: list[str] = []  # every front end emulated during the run, in order
        self.contexts: dict[str, advice.Context] = {}  # front end -> what its fixes depend on

    def emulating(self, frontend: str) -> None:
        if frontend not in self.frontends:
            self.frontends.append(frontend)

    def record(self, finding: Finding, log: bool = True) -> bool:
        """Keep a finding; log it the first time it is seen (unless told not to). True when it is new."""
        new = self.findings.add(finding)
        if new and log:
            log = logger.info if finding.severity == "info" else logger.warning
            log(f"offload: {finding.line()}")
        if new:
            self.write_live()
        return new

    def write_live(self) -> None:
        """frontend_report_live: the JSON report as it stands, whenever a finding is new (a file only)."""
        path = ctx.options.frontend_report if "frontend_report_live" in ctx.options else None
        if not path or path == "-" or not ctx.options.frontend_report_live:
            return
        try:
            report.write_json(path, self.findings.all(), self.frontends or ["?"], self.findings.flows)
        except OSError as e:
            logger.debug(f"offload: could not rewrite the live report {path}: {e}")

    async def done(self) -> None:
        cut = await self.scheduler.settle(SETTLE_TIMEOUT)
        if cut:
            logger.info(f"offload: {len(cut)} comparison(s) still running after {SETTLE_TIMEOUT:g} s were cut short: "
                        + ", ".join(cut[:5]) + (" ..." if len(cut) > 5 else ""))
        written = self.finish()
        fail_on = ctx.options.frontend_fail_on
        if not written:
            logger.error(f"offload: exit status {EXIT_NO_REPORT}: a report could not be written")
            sys.exit(EXIT_NO_REPORT)
        if self.findings.reaches(fail_on):
            logger.warning(f"offload: exit status {EXIT_FINDINGS} (frontend_fail_on={fail_on})")
            sys.exit(EXIT_FINDINGS)

    def rename(self) -> None:
        """One name for the app: findings recorded before the evidence was complete get the framework recognised
        from all of it, and that framework's fix."""
        name = self.recognizer.name
        if not name:
            return
        with self.findings._lock:
            for key, f in self.findings.items.items():
                if f.framework != name and f.rule != "client-ip-port" and f.frontend in self.contexts:
                    self.findings.items[key] = advice.complete(f, f.frontend, name, self.contexts[f.frontend])

    def finish(self) -> bool:
        """At exit: the summary table and the reports. False when a report could not be written."""
        self.rename()
        findings = self.findings.all()
        flows, names = self.findings.flows, self.frontends or ["?"]
        for line in report.summary_lines(findings, flows, ", ".join(names)):
            logger.info(line)
        for line in self.scheduler.summary():
            logger.info(f"offload: {line}")
        if flows:
            logger.info(f"offload: {self.recognizer.explain()}")
        written = True
        fail_on = ctx.options.frontend_fail_on
        for what, path, write in (
                ("JSON", ctx.options.frontend_report, lambda p: report.write_json(p, findings, names, flows)),
                ("JUnit", ctx.options.frontend_junit, lambda p: report.write_junit(p, findings, names, fail_on)),
                ("HTML", ctx.options.frontend_html if "frontend_html" in ctx.options else None,
                 lambda p: html_report.write_html(p, findings, names, flows, headers_of(names), title="offload"))):
            if not path:
                continue
            try:
                write(path)
                logger.info(f"offload: {what} report written to {'standard output' if path == '-' else path}")
            except OSError as e:
                written = False
                logger.error(f"offload: could not write the {what} report to {path}: {e.strerror or e}")
        return written


def headers_of(names: list[str]) -> dict[str, list[tuple[str, str]]]:
    """Each emulated front end's headers on a sample request, for the HTML report."""
    out = {}
    for name in names:
        try:
            out[name] = sample_headers(load_profile(name))
        except ProfileError:
            continue
    return out
