"""Your own front end: a profile file given by its path, checked with the file, the line, the key and what is
allowed."""

import pytest

from offload import cli
from offload.profiles import ProfileError, load_profile

GOOD = """\
# The company's F5: X-Forwarded-Proto from an iRule, X-Forwarded-For appended.
summary = "our F5"

[sources]
F1 = "the iRule in the ops wiki"

[[request.headers]]
name = "X-Forwarded-For"
value = "${client_ip}"
client = "append"
source = "[OBS F1]"

[[request.headers]]
name = "X-Forwarded-Proto"
value = "${scheme}"
client = "set"
source = "[OBS F1]"
"""


def write(tmp_path, text, name="f5.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_profile_file_loads_by_its_path_and_may_extend_a_built_in_one(tmp_path):
    profile = load_profile(write(tmp_path, GOOD))
    assert profile.name == "f5" and [r.name for r in profile.request] == ["X-Forwarded-For", "X-Forwarded-Proto"]
    extended = load_profile(write(tmp_path, 'summary = "behind Heroku"\nextends = "heroku"\n', "mine.toml"))
    assert extended.rule("X-Request-Start") is not None


MISTAKES = [
    (GOOD.replace('client = "append"', 'client = "add"'),
     r"line 7: request header #1 \(X-Forwarded-For\): client must be one of set, append"),
    (GOOD.replace('client = "set"', 'client = "set"\nwhenn = "https"'),
     r"line 13: request header #2 \(X-Forwarded-Proto\): unknown key whenn; allowed: client, copy_from, name"),
    (GOOD.replace("${scheme}", "${proto}"), r"unknown template value\(s\) proto; known: client_ip, client_port"),
    (GOOD.replace('summary = "our F5"\n', ""), r"missing 'summary'"),
    (GOOD.replace('summary = "our F5"', 'summary = "our F5"\nredirect = 301'),
     r"line 3: unknown key redirect; allowed: egress, extends, fix, host"),
    (GOOD.replace('summary = "our F5"', 'summary = "our F5"\nhttps_redirect = 303'),
     r"https_redirect must be 0 \(none\), 301, 302, 307 or 308, not 303"),
    (GOOD.replace('summary = "our F5"', 'summary = "our F5"\nhost = "origin"'),
     r"host must be 'keep' or 'upstream', not 'origin'"),
    (GOOD.replace('summary = "our F5"', 'summary = "our F5"\nextends = "azure"'),
     r"unknown front end 'azure'; valid: akamai, aws-alb"),
    (GOOD.replace('source = "[OBS F1]"\n', "", 1), r"request header #1 \(X-Forwarded-For\): missing 'source'"),
    (GOOD + "[[request.headers]\n", r"not valid TOML"),
    ('request = "X-Forwarded-Proto: https"\nsummary = "x"\n', r"\[request\]: must be a table"),
]


@pytest.mark.parametrize("text, message", MISTAKES)
def test_every_kind_of_mistake_names_the_file_the_line_or_key_and_what_is_allowed(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ProfileError, match=message) as e:
        load_profile(path)
    assert str(e.value).startswith(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile(str(tmp_path / "nope.toml"))


def test_offload_profile_check_exits_0_or_2_with_the_reason(tmp_path, capsys):
    assert cli.main(["profile", "check", write(tmp_path, GOOD)]) == 0
    assert "ok: f5: our F5" in capsys.readouterr().out
    assert cli.main(["profile", "check", write(tmp_path, GOOD.replace("${scheme}", "${nope}"), "bad.toml")]) == 2
    assert "unknown template value(s) nope" in capsys.readouterr().err
