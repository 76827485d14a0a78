"""Reports: the terminal summary, the JSON report (contract in DESIGN.md) and JUnit XML."""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
import sys
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


def check_destination(path: str) -> None:
    """ValueError, saying why, when a report could not be written to `path` ('-' is standard output)."""
    if path == "-":
        return
    try:
        st = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise ValueError(f"{path}: {e.strerror}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{path} is a directory; give a file name, e.g. {os.path.join(path, 'offload.json')}")
    if st is not None and not stat.S_ISREG(st.st_mode):  # a FIFO or a device: written into as it is
        if not os.access(path, os.W_OK):
            raise ValueError(f"{path} is not writable")
        return
    folder = os.path.dirname(os.path.realpath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"folder {folder} is not writable")


def write_text(path: str, text: str) -> None:
    """Write a report: '-' to standard output; into an existing FIFO or device as it is; a regular file (through
    any symlink) replaced atomically, so that a reader never sees half of it. Raises OSError."""
    if path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_special(path, text, stat.S_ISFIFO(st.st_mode))
        return
    _replace(os.path.realpath(path), text, None if st is None else stat.S_IMODE(st.st_mode))


def _write_special(path: str, text: str, fifo: bool) -> None:
    # A FIFO with no reader would block for ever: open it without waiting, then write normally.
    try:
        fd = os.open(path, os.O_WRONLY | (os.O_NONBLOCK if fifo else 0))
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise OSError(e.errno, "nothing is reading from this FIFO") from None
        raise
    os.set_blocking(fd, True)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _replace(path: str, text: str, mode: int | None) -> None:
    """Write beside `path`, then rename over it. A new file gets 0666 less the umask (usually 0644), as any tool's
    output does; a replaced file keeps its mode."""
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path: str, findings: list[Finding], frontends: list[str], flows: int) -> None:
    write_text(path, json.dumps(to_json(findings, frontends, flows), indent=2) + "\n")


def write_junit(path: str, findings: list[Finding], frontends: list[str], fail_level: str) -> None:
    write_text(path, to_junit(findings, frontends, fail_level))
