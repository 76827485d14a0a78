"""Reports: the terminal summary, the JSON report (its schema: docs/report.schema.json) and JUnit XML."""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
import sys
import re
from collections import defaultdict

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


# Characters XML 1.0 allows (https://www.w3.org/TR/xml/#charsets); others (control characters an app sent) are
# replaced, as a report must parse.
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def _xml(text: str, attribute: bool = False) -> str:
    """Text escaped for XML by hand: mitmproxy's standalone binaries have no xml package."""
    text = _NOT_XML.sub("\ufffd", text)
    keep = "" if attribute else "\n\r\t\""
    return "".join(_ESCAPES[c] if c in _ESCAPES and c not in keep else c for c in text)


def _tag(name: str, attributes: dict[str, str], body: str | None = None, indent: int = 0) -> str:
    attrs = "".join(f' {k}="{_xml(v, attribute=True)}"' for k, v in attributes.items())
    pad = "  " * indent
    if body is None:
        return f"{pad}<{name}{attrs} />"
    return f"{pad}<{name}{attrs}>{body}</{name}>"


def to_junit(findings: list[Finding], frontends: list[str], fail_level: str = "error") -> str:
    """A test suite per front end; in it a case per rule and route with findings (failing at fail_level and above)
    and a passing case for each rule that found nothing. Written by hand (no xml.etree in standalone mitmproxy)."""
    threshold = LEVEL["error" if fail_level == "never" else fail_level]
    suites_xml, total_tests, total_failures = [], 0, 0
    for frontend in list(frontends) + sorted({f.frontend for f in findings} - set(frontends)):
        label = frontend or "no-front-end"
        groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
        for f in findings:
            if f.frontend == frontend:
                groups[(f.rule, f"{f.method} {f.route}")].append(f)
        cases, failures = [], 0
        for (rule, request), items in sorted(groups.items()):
            worst = max(items, key=lambda f: LEVEL[f.severity])
            text = "\n".join(f"{f.severity} [{f.subject}]: {f.message}\n  evidence: {f.evidence}\n  fix: {f.advice}"
                             for f in items)
            if LEVEL[worst.severity] >= threshold:
                failures += 1
                inner = _tag("failure", {"type": worst.severity, "message": worst.message}, _xml(text), 3)
            else:
                inner = _tag("system-out", {}, _xml(text), 3)
            cases.append(_tag("testcase", {"classname": f"offload.{label}.{rule}", "name": f"{rule} {request}"},
                              f"\n{inner}\n    ", 2))
        if frontend:
            cases += [_tag("testcase", {"classname": f"offload.{label}.{rule}", "name": rule}, None, 2)
                      for rule in sorted(set(RULES) - {r for r, _ in groups}) if RULES[rule].kind != "probe"]
        attrs = {"name": f"offload.{label}", "tests": str(len(cases)), "failures": str(failures), "errors": "0"}
        suites_xml.append(_tag("testsuite", attrs, "\n" + "\n".join(cases) + "\n  ", 1) if cases
                          else _tag("testsuite", attrs, None, 1))
        total_tests += len(cases)
        total_failures += failures
    root = {"name": "offload", "tests": str(total_tests), "failures": str(total_failures)}
    body = "\n" + "\n".join(suites_xml) + "\n" if suites_xml else None
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _tag("testsuites", root, body) + "\n"


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
