"""Captured header dumps (tests/fixtures/dumps): reading them and telling value formats apart."""

import re
from pathlib import Path

DUMPS = Path(__file__).resolve().parent / "fixtures" / "dumps"

FORMATS = [  # the first that matches names a value's format
    ("guid", r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    ("ip:port", r"(\d{1,3}\.){3}\d{1,3}:\d{1,5}|\[[0-9a-f:]+\]:\d{1,5}"),
    ("ip", r"(\d{1,3}\.){3}\d{1,3}"),
    ("number", r"\d+"),
    ("tls version", r"1\.[0-3]"),
    ("scheme", r"https?"),
    ("path", r"/\S*"),
    ("host", r"[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?"),
    ("name", r"[A-Za-z0-9_-]+"),
    ("certificate", r"\d+\|\d+\|[^|]+\|[^|]+"),
    ("trace context", r"[0-9a-f]{32}/\d+;o=1"),
]


def value_format(value: str) -> str:
    return next((name for name, rx in FORMATS if re.fullmatch(rx, value)), f"exactly {value!r}")


def read_dump(name):
    text = (DUMPS / name).read_text()
    meta = dict(re.findall(r"^# (input|order|profile): (.*)$", text, re.M))
    inputs = dict(kv.split("=", 1) for kv in meta["input"].split())
    headers = [tuple(line.split(": ", 1)) for line in text.splitlines() if line and not line.startswith("#")]
    return inputs, headers, meta.get("order") != "unknown"


def dump_profiles():
    """(dump file name, the built-in profile it checks) for every fixture dump."""
    return [(p.name, re.search(r"^# profile: (\S+)$", p.read_text(), re.M).group(1)) for p in sorted(DUMPS.glob("*.txt"))]


def differences(expected, got, ordered, loose=frozenset(), patterns=True):
    """How the headers a front end's emulation sent (`got`, name/value pairs) differ from a dump's: names (in order
    when the dump's order is trustworthy) and value formats; `loose` names values not compared; `patterns=False`
    leaves the dump's ~pattern values uncompared (a profile made from the dump holds the pattern, not a value)."""
    names = [k.lower() for k, _ in got]
    wanted = [k.lower() for k, _ in expected]
    out = []
    if (names if ordered else sorted(names)) != (wanted if ordered else sorted(wanted)):
        out.append(f"names: got {names}, the dump has {wanted}")
    values = {k.lower(): v for k, v in got}
    for name, example in expected:
        value = values.get(name.lower())
        if value is None or name.lower() in loose:
            continue
        if example.startswith("~"):
            if patterns and not re.fullmatch(example[1:], value):
                out.append(f"{name}: {value!r} is not of the form {example[1:]!r}")
        elif value != example and value_format(value) != value_format(example):
            out.append(f"{name}: {value!r} ({value_format(value)}) unlike {example!r} ({value_format(example)})")
    return out
