"""Reports: the terminal summary, the JSON report (contract in DESIGN.md) and JUnit XML."""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from xml.etree import ElementTree as ET

from .findings import LEVEL, RULES, Finding

VERSION = 1


def summary(findings: list[Finding], flows: int) -> dict:
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    return {"flows": flows, "errors": counts["error"], "warnings": counts["warning"], "info": counts["info"]}


def to_json(findings: list[Finding], frontends: list[str], flows: int) -> dict:
    return {
        "version": VERSION,
        "tool": "offload",
        "frontends": frontends,
        "findings": [f.as_json() for f in findings],
        "summary": summary(findings, flows),
    }


def summary_text(findings: list[Finding]) -> str:
    s = summary(findings, 0)
    return f"{s['errors']} errors, {s['warnings']} warnings, {s['info']} info"


def summary_lines(findings: list[Finding], flows: int, frontend: str) -> list[str]:
    """A plain table for the terminal: one row per finding, then the totals."""
    s = summary(findings, flows)
    head = (f"offload summary ({frontend}): {flows} flows, {s['errors']} errors, {s['warnings']} warnings, "
            f"{s['info']} info")
    if not findings:
        return [head + ": no problems found"]
    rows = [(f.severity, f.rule, f"{f.method} {f.route}", f.subject, str(f.count)) for f in findings]
    header = ("severity", "rule", "request", "subject", "seen")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
    fmt = "  " + "  ".join(f"{{:<{w}}}" for w in widths[:-1]) + "  {}"
    return [head, fmt.format(*header)] + [fmt.format(*r) for r in rows]


def to_junit(findings: list[Finding], frontends: list[str], fail_level: str = "error") -> str:
    """A test suite per front end; in it a case per rule and route with findings (failing at fail_level and above)
    and a passing case for each rule that found nothing."""
    threshold = LEVEL["error" if fail_level == "never" else fail_level]
    root = ET.Element("testsuites", name="offload")
    suites = list(frontends) + sorted({f.frontend for f in findings} - set(frontends))
    for frontend in suites:
        label = frontend or "no-front-end"
        suite = ET.SubElement(root, "testsuite", name=f"offload.{label}")
        groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        for f in findings:
            if f.frontend == frontend:
                groups[(f.rule, f"{f.method} {f.route}")].append(f)
        failures = 0
        for (rule, request), items in sorted(groups.items()):
            case = ET.SubElement(suite, "testcase", classname=f"offload.{label}.{rule}", name=f"{rule} {request}")
            worst = max(items, key=lambda f: LEVEL[f.severity])
            text = "\n".join(f"{f.severity} [{f.subject}]: {f.message}\n  evidence: {f.evidence}\n  fix: {f.advice}"
                             for f in items)
            if LEVEL[worst.severity] >= threshold:
                failures += 1
                ET.SubElement(case, "failure", type=worst.severity, message=worst.message).text = text
            else:
                ET.SubElement(case, "system-out").text = text
        if frontend:
            for rule in sorted(set(RULES) - {r for r, _ in groups}):
                if RULES[rule].kind != "probe":
                    ET.SubElement(suite, "testcase", classname=f"offload.{label}.{rule}", name=rule)
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
    root.set("tests", str(sum(int(s.get("tests")) for s in root)))
    root.set("failures", str(sum(int(s.get("failures")) for s in root)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_atomic(path: str, text: str) -> None:
    """Write a report so that a reader never sees half of it."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".offload-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path: str, findings: list[Finding], frontends: list[str], flows: int) -> None:
    write_atomic(path, json.dumps(to_json(findings, frontends, flows), indent=2) + "\n")


def write_junit(path: str, findings: list[Finding], frontends: list[str], fail_level: str) -> None:
    write_atomic(path, to_junit(findings, frontends, fail_level))
