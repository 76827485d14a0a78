"""Fidelity: a request like the one in a captured dump comes out of the profile with the same header names, order
and value formats (tests/fixtures/dumps, reconstructed from public captured dumps, each file naming its source)."""

import re
from pathlib import Path

import pytest

from dumps import DUMPS, dump_profiles, read_dump, value_format  # noqa: F401 (test_fromdump imports them from here too)
from offload.forward import Client, Incoming, forward
from offload.profiles import load_profile

def emulate(profile_name, inputs):
    ip, port = inputs["client"].rsplit(":", 1)
    incoming = Incoming(inputs["scheme"], inputs["host"], inputs["path"], [("Host", inputs["host"])],
                        Client(ip, int(port), inputs.get("tls", "")))
    return forward(load_profile(profile_name), incoming).headers[1:]  # the front end's headers


@pytest.mark.parametrize("dump, profile", dump_profiles())
def test_profile_matches_a_captured_dump(dump, profile):
    inputs, expected, ordered = read_dump(dump)
    got = emulate(profile, inputs)
    names = [k.lower() for k, _ in got]
    wanted = [k.lower() for k, _ in expected]
    if ordered:
        assert names == wanted
    else:
        assert sorted(names) == sorted(wanted)
    values = {k.lower(): v for k, v in got}
    for name, example in expected:
        value = values[name.lower()]
        if example.startswith("~"):
            assert re.fullmatch(example[1:], value), f"{name}: {value!r} is not of the form {example[1:]!r}"
        else:
            assert value == example or value_format(value) == value_format(example), \
                f"{name}: {value!r} ({value_format(value)}) unlike {example!r} ({value_format(example)})"


def test_the_format_check_can_fail():
    assert value_format("881073f0-7185-4812-9f17-4db69faf2b68") != value_format("881073f071854812")
    assert value_format("52.37.214.82:46066") != value_format("52.37.214.82")
