"""docs/report.schema.json describes exactly what report.to_json writes, and keeps up with the rule catalog."""

import copy
import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from offload.findings import FIELD_LIMIT, RULES, SEVERITIES, Finding, Findings
from offload.report import to_json

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "report.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = Draft202012Validator(SCHEMA)
FINDING = SCHEMA["$defs"]["finding"]


def written(findings, frontends=("azure-windows-legacy",), flows=7) -> dict:
    """The report as a reader gets it: to_json, through json.dumps and back (tuples become lists)."""
    return json.loads(json.dumps(to_json(list(findings), list(frontends), flows), indent=2))


def errors(report) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(report)]


def finding(rule: str, **kw) -> Finding:
    fields = {"method": "GET", "route": "/login", "subject": "connect.sid", "message": f"a {rule} finding",
              "url": "https://myapp.example/login?code=…", "evidence": "under the front end: 200",
              "frontend": "azure-windows-legacy", "framework": "Express (express-session)",
              "advice": "trust the proxy"}
    return Finding(rule, **{**fields, **kw})


def test_the_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(SCHEMA)


def test_the_rule_enum_is_the_rule_catalog_and_the_severity_enum_is_severities():
    rules = FINDING["properties"]["rule"]["enum"]
    assert set(rules) == set(RULES) and len(rules) == len(RULES), "docs/report.schema.json: update the rule enum"
    assert tuple(FINDING["properties"]["severity"]["enum"]) == SEVERITIES


def objects(node, where="#"):
    """Every object schema with properties, and where it is."""
    if isinstance(node, dict):
        if "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from objects(value, f"{where}/{key}")


def test_every_field_is_required_closed_and_documented():
    for where, node in objects(SCHEMA):
        assert set(node["required"]) == set(node["properties"]), where
        assert node["additionalProperties"] is False, where
        for name, prop in node["properties"].items():
            assert prop.get("title") and prop.get("description"), f"{where}/properties/{name}: title, description"


@pytest.mark.parametrize("rule", sorted(RULES))
def test_a_report_with_a_finding_of_each_rule_is_valid(rule):
    report = written([finding(rule)])
    assert errors(report) == []
    assert report["findings"][0]["rule"] == rule


@pytest.mark.parametrize("severity", SEVERITIES)
def test_every_severity_and_the_spoof_audits_empty_frontend_are_valid(severity):
    spoof = finding("trusts-spoofed-forwarding", frontend="", subject="X-Forwarded-Proto", level=severity,
                    url="http://127.0.0.1:3000/login")
    assert errors(written([spoof], frontends=["heroku", "fly"])) == []


def test_a_report_of_every_rule_at_once_through_the_findings_store_is_valid():
    """As the addon and the probe build it: deduplicated (counts above 1), sorted, long fields shortened."""
    store = Findings()
    for i, rule in enumerate(RULES):
        for _ in range(i % 3 + 1):
            store.add(finding(rule, frontend=["azure-windows-legacy", "heroku", ""][i % 3]))
    store.add(finding("insecure-absolute-url", level="error", subject="http://myapp.example/" + "x" * 5000,
                      evidence="<script src=" + "y" * 5000))
    store.add(finding("cookie-not-secure", method="", route="", url="", evidence="", framework="", advice=""))
    findings = store.all()
    report = written(findings, frontends=["azure-windows-legacy", "heroku"], flows=123)
    assert errors(report) == []
    assert {f["rule"] for f in report["findings"]} == set(RULES)
    assert max(f["count"] for f in report["findings"]) == 3
    assert max(len(f["subject"]) for f in report["findings"]) <= FIELD_LIMIT
    summary = report["summary"]
    assert summary["errors"] + summary["warnings"] + summary["info"] == len(findings)


@pytest.mark.parametrize("frontends, flows", [([], 0), (["?"], 0), (["azure-windows-legacy"], 0)])
def test_an_empty_report_is_valid(frontends, flows):
    report = written([], frontends=frontends, flows=flows)
    assert report["findings"] == [] and errors(report) == []


# --- what the schema rejects ------------------------------------------------------------------------------------

def good() -> dict:
    return written([finding("secure-cookie-dropped"), finding("cookie-not-secure", subject="sid", count=2)])


def test_the_fixture_report_is_valid():
    assert errors(good()) == []


@pytest.mark.parametrize("field", sorted(FINDING["required"]))
def test_a_finding_without_a_field_is_rejected(field):
    report = good()
    del report["findings"][0][field]
    assert errors(report)


@pytest.mark.parametrize("path", [("version",), ("tool",), ("frontends",), ("findings",), ("summary",),
                                  ("summary", "flows"), ("summary", "errors"), ("summary", "warnings"),
                                  ("summary", "info")])
def test_a_report_without_a_field_is_rejected(path):
    report = good()
    parent = report
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    assert errors(report)


def changed(path, value) -> dict:
    report = copy.deepcopy(good())
    parent = report
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return report


@pytest.mark.parametrize("path, value", [
    (("findings", 0, "rule"), "no-such-rule"),
    (("findings", 0, "rule"), "Secure-Cookie-Dropped"),
    (("findings", 0, "severity"), "critical"),
    (("findings", 0, "count"), -1),
    (("findings", 0, "count"), 0),
    (("findings", 0, "count"), 1.5),
    (("findings", 0, "count"), "1"),
    (("findings", 0, "count"), True),
    (("findings", 0, "frontend"), None),
    (("findings", 0, "subject"), 42),
    (("findings", 0, "message"), "not in the contract"),
    (("summary", "flows"), -1),
    (("summary", "errors"), -1),
    (("summary", "warnings"), -3),
    (("summary", "info"), -1),
    (("summary", "info"), 0.5),
    (("summary", "dropped"), 0),
    (("version",), 2),
    (("tool",), "other"),
    (("frontends",), "azure-windows-legacy"),
    (("frontends",), [1]),
    (("findings",), {}),
    (("extra",), True),
])
def test_a_wrong_value_or_an_unknown_field_is_rejected(path, value):
    assert errors(changed(path, value)), f"{'/'.join(map(str, path))} = {value!r} was accepted"
