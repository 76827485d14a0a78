"""offload profile from-dump: a profile from a captured header dump, round-tripped against every fixture dump."""

import json

import pytest
from test_fidelity import DUMPS, emulate, read_dump, value_format

from offload import cli
from offload.fromdump import read_dump as parse_dump
from offload.fromdump import template, to_profile

FIXTURES = sorted(p.name for p in DUMPS.glob("*.txt"))


@pytest.mark.parametrize("fixture", FIXTURES)
def test_a_profile_from_each_fixture_dump_reproduces_its_names_order_and_formats(fixture, tmp_path, capsys):
    profile = tmp_path / "from-dump.toml"
    assert cli.main(["profile", "from-dump", str(DUMPS / fixture), "-o", str(profile)]) == 0
    inputs, expected, _ = read_dump(fixture)
    got = emulate(str(profile), inputs)  # the same request through the new profile
    assert [k.lower() for k, _ in got] == [k.lower() for k, _ in expected]
    for (name, example), (_, value) in zip(expected, got):
        if not example.startswith("~"):
            assert value == example or value_format(value) == value_format(example), (name, value, example)


def test_per_request_values_become_templates_and_say_so():
    dump = parse_dump("GET /login HTTP/1.1\nHost: shop.example\nX-Forwarded-For: 203.0.113.9:51000, 10.0.0.4\n"
                      "X-Request-Id: 0f8fad5b-d9cb-469f-a165-70867728950e\nX-Start: 1732800000123\n"
                      "X-Orig: https://shop.example/login\nX-Price: $5\nUser-Agent: curl/8\n")
    assert dump.client_ip == "203.0.113.9" and dump.host == "shop.example"
    assert template("203.0.113.9:51000, 10.0.0.4", dump)[0] == "${client_ip_port}, 10.0.0.4"
    text = to_profile(dump, "dump.txt")
    assert 'value = "${guid}"' in text and 'value = "${unix_ms}"' in text and '"${scheme}://${host}${path}"' in text
    assert 'value = "$$5"' in text and "User-Agent" not in text  # a dollar kept; a client's own header left out
    assert '[INF] guid for a per-request value' in text and 'client = "append"' in text


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
