"""offload probe's settings file and --ignore: what a CI job keeps beside the app."""

import pytest

from offload import config
from offload.findings import Finding


def write(path, text):
    path.write_text(text)
    return path


def test_settings_come_from_pyproject_tool_offload_found_from_a_subfolder(tmp_path):
    write(tmp_path / "pyproject.toml", '[project]\nname = "app"\n\n[tool.offload]\nurls = ["http://127.0.0.1:3000/"]\n'
                                       'frontends = ["azure-appservice", "heroku"]\nfail_on = "warning"\n'
                                       'ignore = ["cookie-not-secure"]\n')
    (tmp_path / "src").mkdir()
    found = config.find(tmp_path / "src")
    assert found == tmp_path / "pyproject.toml"
    assert config.load(found)["frontends"] == ["azure-appservice", "heroku"]


def test_offload_toml_wins_and_a_pyproject_without_the_table_is_not_ours(tmp_path):
    write(tmp_path / "pyproject.toml", '[project]\nname = "app"\n')
    assert config.find(tmp_path) is None
    write(tmp_path / "offload.toml", 'frontends = "all"\n')
    assert config.find(tmp_path) == tmp_path / "offload.toml"


@pytest.mark.parametrize("text, message", [
    ('frontend = "heroku"\n', "unknown setting 'frontend'; settings: urls, frontends"),
    ('fail_on = "errors"\n', "fail_on = 'errors'; allowed: error, warning, never"),
    ('timeout = "5"\n', "timeout = '5' is not valid: seconds"),
    ('audit = "yes"\n', "audit = 'yes' is not valid"),
    ('urls = [3000]\n', "urls must list strings"),
    ('urls = [\n', "not valid TOML"),
])
def test_a_bad_setting_names_the_file_the_key_and_what_is_allowed(tmp_path, text, message):
    path = write(tmp_path / "offload.toml", text)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")) as e:
        config.load(path)
    assert str(path) in str(e.value)


def test_ignore_by_rule_or_by_rule_and_front_end():
    dropped = Finding("secure-cookie-dropped", "GET", "/", "sid", "m", frontend="nginx-default")
    assert config.Ignore.parse("secure-cookie-dropped").matches(dropped)
    assert config.Ignore.parse("secure-cookie-dropped:nginx-default").matches(dropped)
    assert not config.Ignore.parse("secure-cookie-dropped:heroku").matches(dropped)
    with pytest.raises(ValueError, match="no rule 'cookie-dropped'; rules: backend-host-leak"):
        config.Ignore.parse("cookie-dropped")
    with pytest.raises(ValueError, match="no front end 'azure'; front ends: akamai, aws-alb"):
        config.Ignore.parse("secure-cookie-dropped:azure")
    chained = Finding("wrong-host-redirect", "GET", "/", "x", "m", frontend="cloudflare+azure-appservice")
    assert config.Ignore.parse("wrong-host-redirect:cloudflare+azure-appservice").matches(chained)
    with pytest.raises(ValueError, match=r"no front end 'cloudflar'; .* \(a chain joins them with"):
        config.Ignore.parse("wrong-host-redirect:cloudflar+azure-appservice")


class Pipe:
    def isatty(self):
        return False


class Terminal:
    def isatty(self):
        return True


@pytest.mark.parametrize("env, out, expected", [
    ({}, Terminal(), True), ({}, Pipe(), False),
    ({"NO_COLOR": "1"}, Terminal(), False), ({"NO_COLOR": ""}, Terminal(), True),  # set *and not empty*
    ({"FORCE_COLOR": "1"}, Pipe(), True), ({"FORCE_COLOR": ""}, Pipe(), False),
    ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, Pipe(), False),
])
def test_colour_follows_no_color_and_force_color(monkeypatch, env, out, expected):
    from offload.cli import use_colour

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert use_colour("auto", out) is expected
    assert use_colour("never", Terminal()) is False and use_colour("always", Pipe()) is True
