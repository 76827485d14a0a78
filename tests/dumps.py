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
    ("trace context", r"[0-9a-f]{32}/\d+(;o=[01])?"),  # ;o=1 when the request was sampled
]


def value_format(value: str) -> str:
    return next((name for name, rx in FORMATS if re.fullmatch(rx, value)), f"exactly {value!r}")


def read_dump(name):
    text = (DUMPS / name).read_text()
    meta = dict(re.findall(r"^# (input|order|profile): (.*)$", text, re.M))
    inputs = dict(kv.split("=", 1) for kv in meta["input"].split())
    headers = [tuple(line.split(": ", 1)) for line in text.splitlines() if line and not line.startswith("#")]
    return inputs, headers, meta.get("order") != "unknown"


def sent(name):
    """Headers the dump's client (or the hop before the front end) sent, which the front end then handled:
    `# sent: Name: value` lines."""
    return [tuple(v.split(": ", 1)) for v in re.findall(r"^# sent: (.*)$", (DUMPS / name).read_text(), re.M)]


def front_end_headers(headers, rule_names, expected):
    """Of what reached the app, the headers the front end is answerable for: its profile's names and the dump's."""
    ours = set(rule_names) | {k.lower() for k, _ in expected}
    return [(k, v) for k, v in headers if k.lower() in ours - {"host"}]


def dump_profiles():
    """(dump file name, the built-in profile it checks) for every fixture dump."""
    return [(p.name, re.search(r"^# profile: (\S+)$", p.read_text(), re.M).group(1)) for p in sorted(DUMPS.glob("*.txt"))]


# Headers an app reads for the scheme, the client's address or the public host: a profile must match every dump on
# these (presence and value format), unless the dump's front end was set up otherwise than the profile's documented
# default (# differs: Name - setting: why) or the dump is of another era than the one the profile emulates (today's)
# (# differs: Name - era: why); any other difference must be declared too (# differs: Name - why).
BEHAVIOUR = frozenset({
    "x-forwarded-proto", "x-forwarded-for", "x-forwarded-host", "x-forwarded-port", "x-forwarded-ssl",
    "x-forwarded-scheme", "x-scheme", "forwarded", "front-end-https", "x-arr-ssl", "x-appservice-proto", "cf-visitor",
    "x-real-ip", "cf-connecting-ip", "true-client-ip", "x-client-ip", "client-ip", "fly-client-ip",
    "fly-forwarded-proto", "fly-forwarded-ssl", "x-azure-clientip", "x-original-host", "disguised-host",
    "x-appengine-https", "x-appengine-user-ip", "x-vercel-forwarded-for", "x-nf-client-connection-ip",
    "do-connecting-ip", "cloudfront-forwarded-proto", "cloudfront-viewer-address", "x-envoy-external-address",
})


def declared(name):
    """The differences a dump declares ({header or 'order': why}): another era's values, a setting's headers."""
    return {k.lower(): why for k, why in re.findall(r"^# differs: (\S+) - (.*)$", (DUMPS / name).read_text(), re.M)}


def differences(expected, got, ordered, loose=frozenset(), patterns=True):
    """How the headers a front end's emulation sent (`got`, name/value pairs) differ from a dump's, as {header or
    'order': what}: names missing or extra, their order (when the dump's order is trustworthy) and value formats;
    `loose` names values not compared; `patterns=False` leaves the dump's ~pattern values uncompared (a profile made
    from the dump holds the pattern, not a value)."""
    names = [k.lower() for k, _ in got]
    wanted = [k.lower() for k, _ in expected]
    out = {}
    for name in wanted:
        if name not in names:
            out[name] = "missing"
    for name in names:
        if name not in wanted:
            out[name] = "not in the dump"
    common = [n for n in names if n in wanted]
    if ordered and common != [n for n in wanted if n in names]:
        out["order"] = f"got {common}"
    values = {k.lower(): v for k, v in got}
    for name, example in expected:
        value = values.get(name.lower())
        if value is None or name.lower() in loose:
            continue
        if example.startswith("~"):
            if patterns and not re.fullmatch(example[1:], value):
                out[name.lower()] = f"{value!r} is not of the form {example[1:]!r}"
        elif value != example and value_format(value) != value_format(example):
            out[name.lower()] = f"{value!r} ({value_format(value)}) unlike {example!r} ({value_format(example)})"
    return out


def check(dump, diffs):
    """A dump's differences are exactly the ones it declares, and none is a header an app's behaviour depends on."""
    wanted = declared(dump)
    relevant = {k for k, why in wanted.items() if k in BEHAVIOUR and not why.startswith(("setting: ", "era: "))}
    assert not relevant, f"{dump} declares a behaviour-relevant difference that is neither a front-end setting nor " \
        f"another era's: {relevant}"
    undeclared = {k: v for k, v in diffs.items() if k not in wanted}
    assert not undeclared, f"{dump}: undeclared differences {undeclared}"
    assert not set(wanted) - set(diffs), f"{dump} declares differences that are gone: {set(wanted) - set(diffs)}"


TXT = ".txt"


def fidelity_table(profiles):
    """The docs' fidelity table (docs/profiles.md), made from the dumps: per profile its dumps and how they compare;
    each difference a dump declares says why in that dump's header."""
    by_profile = {}
    for dump, profile in dump_profiles():
        by_profile.setdefault(profile, []).append(dump)
    rows = ["| profile | captured dumps | headers an app reads | other headers (names, formats, order) |",
            "|---|---|---|---|"]
    for profile in profiles:
        dumps = by_profile.get(profile, [])
        if not dumps:
            rows.append(f"| `{profile}` | none public found | (from documentation and source) | |")
            continue
        relevant, other = [], []
        for dump in dumps:
            stem = dump.removesuffix(TXT)
            mine = declared(dump)
            app = [f"{k} ({mine[k].split(':')[0]})" for k in mine if k in BEHAVIOUR]
            rest = [k for k in mine if k not in BEHAVIOUR]
            if app:
                relevant.append(f"{stem}: {', '.join(app)}")
            if rest:
                other.append(f"{stem}: {', '.join(rest)}")
        order = " (order where known)" if any(read_dump(d)[2] for d in dumps) else ""
        rows.append(f"| `{profile}` | {', '.join(f'`{d.removesuffix(TXT)}`' for d in dumps)} | "
                    f"{'match, except ' + '; '.join(relevant) if relevant else 'match'} | "
                    f"{'match' + order + ', except ' + '; '.join(other) if other else 'match' + order} |")
    return "\n".join(rows) + "\n"
