"""The README and docs/ are the product's front door: they must name every profile, option and rule that exists."""

import re
from pathlib import Path

import pytest
from mitmproxy.test import taddons

from offload.addon import Offload
from offload.diagnose import Diagnose
from offload.findings import RULES
from offload.profiles import profile_names

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = {p.name: p.read_text() for p in (ROOT / "docs").glob("*.md")}
EVERYTHING = README + "\n".join(DOCS.values())


@pytest.mark.parametrize("name", profile_names())
def test_every_profile_is_in_the_profiles_table_and_the_readme(name):
    assert re.search(rf"^\| `{re.escape(name)}`", DOCS["profiles.md"], re.M), f"docs/profiles.md lacks {name}"
    assert f"`{name}`" in README


def test_every_option_is_in_the_options_table():
    a = Offload()
    with taddons.context(a, Diagnose(a)) as tctx:
        options = [k for k in tctx.options.keys() if k.startswith("frontend")]
    assert len(options) == 16
    for option in options:
        assert re.search(rf"^\| `{option}` \|", DOCS["usage.md"], re.M), f"docs/usage.md's options table lacks {option}"


def test_the_documented_commands_listen_on_loopback_only():
    modes = re.findall(r"--mode (reverse:[^\s`]+)", EVERYTHING)
    assert modes
    for mode in modes:
        assert re.search(r"@127\.0\.0\.1:\d+$", mode), f"README documents a listener beyond loopback: {mode}"


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_rule_is_in_the_rules_table(rule):
    assert re.search(rf"^\| `{rule}` \| {RULES[rule].kind} \| {RULES[rule].severity} \|", DOCS["rules.md"], re.M)


def test_the_repository_stands_alone():
    """Users have only the repository: no file in it points at notes outside it, and the license is there."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True).stdout.split()
    outside = [f for f in files if not f.startswith("tests/apps/") and (root / f).is_file()
               and re.search(r"\.\./" + "shared|shared/" + "reference", (root / f).read_text(errors="replace"))]
    assert outside == [] and (root / "LICENSE").read_text().startswith("MIT License")


def test_the_readme_is_a_landing_page_and_its_links_resolve():
    assert len(README.encode()) < 12_000
    for text, where in [(README, ROOT)] + [(t, ROOT / "docs") for t in DOCS.values()]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
            if not target.startswith(("http://", "https://")):
                assert (where / target).exists(), f"a link to {target} that does not exist"
