"""The command line without an app: offload profiles, offload show, and argument errors."""

import pytest

from offload.cli import main, parse_header, selected_profiles
from offload.profiles import profile_names


def test_profiles_lists_every_front_end_with_its_summary(capsys):
    assert main(["profiles"]) == 0
    out = capsys.readouterr().out
    for name in profile_names():
        assert any(line.startswith(name + " ") for line in out.splitlines())
    assert "(the seed bug) (default)" in out


def test_show_prints_what_the_app_receives(capsys):
    assert main(["show", "azure-windows-legacy"]) == 0
    out = capsys.readouterr().out
    assert "  GET /login?next=/ HTTP/1.1" in out
    received = out.split("receives:")[1].split("Sources")[0]
    assert "+ X-ARR-SSL: 2048|256|" in received and "X-Forwarded-Proto" not in received
    assert "+ Set-Cookie: ARRAffinity=" in out


def test_show_for_a_plain_http_url_shows_the_front_ends_redirect(capsys):
    assert main(["show", "ingress-nginx", "--url", "http://shop.example/cart"]) == 0
    assert "308, Location: https://shop.example/cart" in capsys.readouterr().out


def test_show_nginx_default_sends_the_upstream_as_host(capsys):
    assert main(["show", "nginx-default"]) == 0
    assert "+ Host: 127.0.0.1:3000" in capsys.readouterr().out


def test_show_an_unknown_profile_exits_2(capsys):
    assert main(["show", "azure"]) == 2
    assert "unknown front end 'azure'" in capsys.readouterr().err


def test_frontend_selection():
    assert [p.name for p in selected_profiles(None)] == ["azure-windows-legacy"]
    assert [p.name for p in selected_profiles(["heroku,fly", "heroku"])] == ["heroku", "fly"]
    assert len(selected_profiles(["all"])) == len(profile_names())


def test_header_arguments():
    assert parse_header("Cookie: sid=1") == ("Cookie", "sid=1")
    with pytest.raises(ValueError, match="--header must look like 'Name: value'"):
        parse_header("Cookie")


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "probe" in capsys.readouterr().out
