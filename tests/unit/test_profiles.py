"""Profiles are data: every one loads, every fact has a source, and a broken file is rejected with its reason."""

import re

import pytest

from offload.profiles import (
    CLIENT_MODES, DEFAULT_PROFILE, ProfileError, load_profile, parse_profile, profile_names,
)

AZURE = ["azure-appservice", "azure-windows-iisnode-xff", "azure-windows-legacy"]


def test_the_azure_profiles_exist_and_the_default_is_the_seed_front_end():
    assert set(AZURE) <= set(profile_names())
    assert DEFAULT_PROFILE == "azure-windows-legacy"


@pytest.mark.parametrize("name", profile_names())
def test_every_header_and_cookie_cites_a_listed_source(name):
    profile = load_profile(name)
    assert profile.summary
    for rule in profile.request + profile.cookies:
        cited = set(re.findall(r"\bS\d+[a-z]?\b", rule.source))
        assert cited, f"{name}: {rule.name} has no source id"
        assert cited <= profile.sources.keys(), f"{name}: {rule.name} cites unlisted {cited - profile.sources.keys()}"
    for key, text in profile.sources.items():
        assert re.fullmatch(r"S\d+[a-z]?", key) and text
    for text in profile.not_emulated + (profile.fix,):
        cited = set(re.findall(r"\bS\d+[a-z]?\b", text))
        assert cited <= profile.sources.keys(), f"{name}: '{text}' cites unlisted {cited - profile.sources.keys()}"


@pytest.mark.parametrize("name", profile_names())
def test_every_header_rule_has_a_known_client_mode(name):
    for rule in load_profile(name).request:
        assert rule.client in CLIENT_MODES


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ProfileError, match="unknown front end 'azure-windows'.*azure-windows-legacy"):
        load_profile("azure-windows")


def test_iisnode_profile_extends_the_legacy_one():
    legacy, iisnode = load_profile("azure-windows-legacy"), load_profile("azure-windows-iisnode-xff")
    assert iisnode.request[: len(legacy.request)] == legacy.request
    assert [r.name for r in iisnode.request[len(legacy.request):]] == ["X-Forwarded-For", "X-Forwarded-Proto"]
    assert iisnode.cookies == legacy.cookies


BASE = {"summary": "test", "sources": {"S1": "x"}}


@pytest.mark.parametrize("header, error", [
    ({"name": "X-A", "value": "1", "client": "replace", "source": "S1"}, "client must be one of set, append"),
    ({"name": "X-A", "value": "1", "when": "tls", "source": "S1"}, "when must be one of any, https, http"),
    ({"name": "X-A", "value": "${client}", "source": "S1"}, "unknown template value.*client"),
    ({"name": "X-A", "value": "${", "source": "S1"}, "invalid template"),
    ({"name": "X-A", "value": "1"}, "missing 'source'"),
    ({"value": "1", "source": "S1"}, "missing 'name'"),
])
def test_a_broken_header_rule_is_rejected_with_its_reason(header, error):
    with pytest.raises(ProfileError, match=error):
        parse_profile("broken", {**BASE, "request": {"headers": [header]}})


def test_unknown_top_level_keys_are_rejected():
    with pytest.raises(ProfileError, match="unknown key redirect; allowed: egress, extends, fix, host"):
        parse_profile("broken", {**BASE, "redirect": 301})


def test_a_strip_rule_needs_no_value_and_a_dollar_can_be_escaped():
    p = parse_profile("ok", {**BASE, "request": {"headers": [
        {"name": "X-FD-Test", "client": "strip", "source": "S1"},
        {"name": "X-Price", "value": "$$5", "source": "S1"},
    ]}})
    assert p.request[0].value is None
    assert p.request[1].value.render({}) == "$5"
