"""offload probe's settings from the app's own files: [tool.offload] in pyproject.toml, or offload.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from .findings import RULES
from .profiles import profile_names

# Setting -> (type, what it is); the command line's options of the same name win.
KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "urls": (list, "URLs to probe, e.g. [\"http://127.0.0.1:3000/login\"]"),
    "frontends": ((list, str), "front end names, or \"all\""),
    "fail_on": (str, "error, warning or never"),
    "ignore": (list, "findings to ignore: \"RULE\" or \"RULE:FRONTEND\""),
    "host": (str, "the public host name"),
    "echo": (str, "the app's endpoint that answers its idea of the client's IP, e.g. \"/whoami\""),
    "origin_host": (str, "the Host the front end sends instead (an origin host override), or \"profile\""),
    "headers": (list, "headers the client sends, \"Name: value\""),
    "timeout": ((int, float), "seconds for each request"),
    "audit": (bool, "the spoof audit as a warning"),
    "json": (str, "JSON report path ('-': standard output)"),
    "junit": (str, "JUnit report path"),
    "html": (str, "HTML report path"),
}
FILES = ("offload.toml", "pyproject.toml")


@dataclass(frozen=True)
class Ignore:
    """One --ignore RULE[:FRONTEND]: findings of that rule (behind that front end) do not count."""

    rule: str
    frontend: str = ""

    @classmethod
    def parse(cls, text: str) -> Ignore:
        rule, _, frontend = text.strip().partition(":")
        if rule not in RULES:
            raise ValueError(f"--ignore {text!r}: no rule {rule!r}; rules: {', '.join(sorted(RULES))}")
        unknown = [part for part in frontend.split("+") if part not in profile_names()] if frontend else []
        if unknown:  # a chain (cloudflare+azure-appservice) names each of its front ends
            raise ValueError(f"--ignore {text!r}: no front end {unknown[0]!r}; front ends: {', '.join(profile_names())}"
                             " (a chain joins them with '+')")
        return cls(rule, frontend)

    def matches(self, finding) -> bool:
        return finding.rule == self.rule and (not self.frontend or finding.frontend == self.frontend)


def find(start: Path | None = None) -> Path | None:
    """The nearest offload.toml, or pyproject.toml with a [tool.offload] table, from `start` up to the root."""
    folder = (start or Path.cwd()).resolve()
    for place in (folder, *folder.parents):
        if (place / "offload.toml").is_file():
            return place / "offload.toml"
        pyproject = place / "pyproject.toml"
        if pyproject.is_file() and "offload" in _read(pyproject).get("tool", {}):
            return pyproject
    return None


def load(path: Path) -> dict:
    """The settings in a file, checked: ValueError naming the file, the key and what is allowed."""
    data = _read(path)
    table = data.get("tool", {}).get("offload", {}) if path.name == "pyproject.toml" else data
    where = f"{path} [tool.offload]" if path.name == "pyproject.toml" else str(path)
    if not isinstance(table, dict):
        raise ValueError(f"{where}: must be a table of settings")
    for key, value in table.items():
        if key not in KEYS:
            raise ValueError(f"{where}: unknown setting {key!r}; settings: {', '.join(KEYS)}")
        kind, meaning = KEYS[key]
        if isinstance(value, bool) and kind is not bool or not isinstance(value, kind):
            raise ValueError(f"{where}: {key} = {value!r} is not valid: {meaning}")
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise ValueError(f"{where}: {key} must list strings: {meaning}")
    if "fail_on" in table and table["fail_on"] not in ("error", "warning", "never"):
        raise ValueError(f"{where}: fail_on = {table['fail_on']!r}; allowed: error, warning, never")
    return table


def _read(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: not valid TOML ({e})") from None
    except OSError as e:
        raise ValueError(f"{path}: {e.strerror}") from None
