"""Fidelity: a request like the one in a captured dump comes out of the profile with the same header names, order
and value formats (tests/fixtures/dumps, reconstructed from public captured dumps, each file naming its source).
tests/integration/test_dump_fidelity.py checks the same dumps through the real mitmdump."""

import pytest

from dumps import (DUMPS, check, differences, dump_profiles, fidelity_table, front_end_headers, read_dump,  # noqa: F401
                   sent, value_format)  # test_fromdump imports some from here
from offload.forward import Client, Incoming, forward
from offload.profiles import load_profile


def emulate(profile_name, inputs, sent_headers=()):
    ip, port = inputs["client"].rsplit(":", 1)
    incoming = Incoming(inputs["scheme"], inputs["host"], inputs["path"], [("Host", inputs["host"]), *sent_headers],
                        Client(ip, int(port), inputs.get("tls", "")), http_version=inputs.get("http", "1.1"))
    return forward(load_profile(profile_name), incoming).headers[1:]  # the front end's headers and what was sent


@pytest.mark.parametrize("dump, profile", dump_profiles())
def test_profile_matches_a_captured_dump(dump, profile):
    inputs, expected, ordered = read_dump(dump)
    got = front_end_headers(emulate(profile, inputs, sent(dump)), {r.key for r in load_profile(profile).request
                                                                    if r.client != "strip"}, expected)
    check(dump, differences(expected, got, ordered))


def test_the_comparison_can_fail():
    assert value_format("881073f0-7185-4812-9f17-4db69faf2b68") != value_format("881073f071854812")
    assert value_format("52.37.214.82:46066") != value_format("52.37.214.82")
    dump = [("X-Forwarded-For", "52.37.214.82:46066"), ("X-Forwarded-Proto", "https")]
    assert set(differences(dump, dump[::-1], True)) == {"order"} and not differences(dump, dump[::-1], False)
    assert differences(dump, [dump[0]], False) == {"x-forwarded-proto": "missing"}
    assert set(differences(dump, [("X-Forwarded-For", "52.37.214.82"), dump[1]], True)) == {"x-forwarded-for"}
    assert set(differences([("Via", "~1\\.1 [a-z]+")], [("Via", "2 fly.io")], True)) == {"via"}


def test_the_docs_fidelity_table_is_the_dumps_own():
    from offload.profiles import profile_names
    docs = (DUMPS.parents[2] / "docs" / "profiles.md").read_text()
    table = fidelity_table(sorted(profile_names()))
    assert table in docs, "docs/profiles.md's fidelity table is out of date; it should read:\n" + table
