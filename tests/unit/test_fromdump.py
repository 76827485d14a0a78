"""offload profile from-dump: a profile from a captured header dump, round-tripped against every fixture dump."""

import json

import pytest
from test_fidelity import DUMPS, differences, emulate, read_dump, sent

from offload import cli
from offload.fromdump import read_dump as parse_dump
from offload.fromdump import template, to_profile

FIXTURES = sorted(p.name for p in DUMPS.glob("*.txt"))


@pytest.mark.parametrize("fixture", FIXTURES)
def test_a_profile_from_each_fixture_dump_reproduces_its_names_order_and_formats(fixture, tmp_path, capsys):
    profile = tmp_path / "from-dump.toml"
    assert cli.main(["profile", "from-dump", str(DUMPS / fixture), "-o", str(profile)]) == 0
    inputs, expected, _ = read_dump(fixture)
    got = emulate(str(profile), inputs, sent(fixture))  # the same request through the new profile
    assert differences(expected, got, ordered=True, patterns=False) == {}  # from-dump keeps the dump's order


def test_per_request_values_become_templates_and_say_so():
    dump = parse_dump("GET /login HTTP/1.1\nHost: shop.example\nX-Forwarded-For: 203.0.113.9:51000, 10.0.0.4\n"
                      "X-Request-Id: 0f8fad5b-d9cb-469f-a165-70867728950e\nX-Start: 1732800000123\n"
                      "X-Orig: https://shop.example/login\nX-Price: $5\nUser-Agent: curl/8\n")
    assert dump.client_ip == "203.0.113.9" and dump.host == "shop.example"
    assert template("203.0.113.9:51000, 10.0.0.4", dump)[0] == "${client_ip_port}, 10.0.0.4"
    text = to_profile(dump, "dump.txt")
    assert 'value = "${guid}"' in text and 'value = "${unix_ms}"' in text and '"${scheme}://${host}${path}"' in text
    assert 'value = "$$5"' in text and 'name = "User-Agent"' not in text  # a dollar kept; a client's header not
    assert "# Left out as the client's own: Host, User-Agent." in text  # ... and said so
    assert '[INF] guid for a per-request value' in text and 'client = "append"' in text


@pytest.mark.parametrize("name, value, made", [
    ("Via", "2 fly.io", "${http_version} fly.io"),
    ("Via", "1.1 vegur, 1.1 heroku-router", "${http_version} vegur, ${http_version} heroku-router"),
    ("X-Request-Start", "t=1747404958359694", "t=${unix_us}"),
    ("X-Request-Start", "1747404958", "${unix_s}"),
    ("Fly-Request-Id", "01JQX4T3ZK8Y5W7V2N6M4P3R1S-ams", "${ulid}-ams"),
    ("CF-Ray", "230b030023ae2822-SJC", "${hex16}-SJC"),
    ("X-Vercel-Id", "iad1::8zq9p-1700000000000-0123456789ab", "iad1::8zq9p-${unix_ms}-${hex12}"),
    ("X-Amzn-Trace-Id", "Root=1-67891233-abcdef012345678912345678", "Root=1-${unix_hex}-${hex24}"),
    ("X-Azure-Ref", "0zxV+XAAAAABKMMOjBv2NT4TY6SQVjC0z", "${b64}"),
    ("X-Railway-Request-Id", "aBcD1234EfGh5678IjKl90", "${b64url}"),
    ("Max-Forwards", "10", "10"),  # a constant stays
    ("X-Build", "20231101", "20231101"),  # digits alone are not an id
    ("X-Region", "deadbeef", "deadbeef"),  # nor are letters alone
])
def test_ids_times_and_versions_become_templates(name, value, made):
    assert template(value, parse_dump("X-A: 1\n"), name)[0] == made


@pytest.mark.parametrize("text", [
    json.dumps({"headers": {"Host": "a.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}}),
    json.dumps({"log": {"entries": [{"request": {"url": "https://a.example/x", "headers": [
        {"name": "Host", "value": "a.example"}, {"name": "X-Forwarded-Proto", "value": "https"}]}}]}}),
    "* Connected\n> GET /x HTTP/1.1\n> Host: a.example\n> X-Forwarded-Proto: https\n>\n< HTTP/1.1 200 OK\n",
])
def test_json_har_and_curl_dumps_are_read(text):
    assert ("X-Forwarded-Proto", "https") in parse_dump(text).headers


@pytest.mark.parametrize("text, message", [
    ("", "the dump is empty"),
    ("hello world\nno headers here\n", "no headers found in the dump"),
    ("{not json", "looks like JSON but is not"),
    ("[1, 2, 3]", "must be an object of headers"),
    ("Host: a.example\nUser-Agent: curl/8\n", "nothing a front end added"),
    ("x" * 2_000_000, "a header dump is at most"),
])
def test_a_malformed_dump_is_a_clear_error_and_exit_2(tmp_path, capsys, text, message):
    dump = tmp_path / "dump.txt"
    dump.write_text(text)
    assert cli.main(["profile", "from-dump", str(dump)]) == 2
    assert message in capsys.readouterr().err
