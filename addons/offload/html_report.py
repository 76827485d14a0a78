"""The HTML report: one self-contained page (inline CSS, no script, no remote asset) a person reads or prints."""

from __future__ import annotations

from html import escape

from .findings import LEVEL, Finding
from .report import summary, write_text

# Defence in depth: every text an app sent is escaped, and even if one were not, this page runs no script and loads
# nothing (a report opened from a CI artefact must not call home or act on the reader's browser).
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

CSS = """
:root { color-scheme: light dark; --error: #fdd; --warning: #fec; --info: #e4e9ee; --ok: #dfd; --fg: #111;
  --bg: #fff; --muted: #555; --line: #ccc; --error-fg: #a00; --warning-fg: #850; --info-fg: #456; --ok-fg: #272; }
@media (prefers-color-scheme: dark) { :root { --error: #511; --warning: #530; --info: #2a3138; --ok: #143;
  --fg: #eee; --bg: #151515; --muted: #aaa; --line: #444; --error-fg: #f99; --warning-fg: #fc6; --info-fg: #abc;
  --ok-fg: #8d8; } }
body { font: 15px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); max-width: 75rem;
  margin: 1rem auto; padding: 0 1rem; }
code, pre { font: 13px/1.4 ui-monospace, monospace; white-space: pre-wrap; overflow-wrap: anywhere; }
pre { margin: 0; }
table { border-collapse: collapse; margin: .5rem 0 1.5rem; }
th, td { border: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
td.error { background: var(--error); } td.warning { background: var(--warning); }
td.info { background: var(--info); } td.ok { background: var(--ok); }
.badge { display: inline-block; font-weight: bold; font-size: 12px; padding: 0 .4rem; border-radius: 3px;
  border: 1px solid currentColor; }
.error .badge, td.error b { color: var(--error-fg); } .warning .badge, td.warning b { color: var(--warning-fg); }
.info .badge, td.info b { color: var(--info-fg); } td.ok b, .clear { color: var(--ok-fg); }
section.finding { border-left: 4px solid var(--line); padding: .2rem .8rem; margin: 1rem 0; }
section.error { border-color: var(--error-fg); } section.warning { border-color: var(--warning-fg); }
section.info { border-color: var(--info-fg); }
h3 { font-size: 1.1rem; } h3 code { font-size: .95em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { color: var(--muted); } dd { margin: 0; }
.muted { color: var(--muted); }
/* On paper the front ends' headers are shown, closed or not (browsers that know ::details-content). */
@media print { details::details-content { content-visibility: visible; display: block; }
  section.finding { break-inside: avoid; } a { color: inherit; text-decoration: none; } }
"""


def _e(text: object) -> str:
    # Everything a finding holds may be anything an app sent: always escaped, quotes too (some lands in attributes).
    return escape(str(text), quote=True)


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _label(frontend: str) -> str:
    return frontend or "no front end"


def _order(findings: list[Finding]) -> list[Finding]:
    # Findings.all()'s order (errors first), also for a list that was built otherwise.
    return sorted(findings, key=lambda f: (-LEVEL[f.severity], f.rule, f.frontend, f.route, f.subject))


def _matrix(findings: list[Finding], rows: list[str], anchors: dict[tuple[str, str, str], str]) -> list[str]:
    columns = sorted({f"{f.method} {f.route}" for f in findings})
    cells: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        cells.setdefault((f.frontend, f"{f.method} {f.route}"), []).append(f)
    # "* *": advice about the whole app (client-ip-port), not one request
    head = "".join(f"<th scope='col'>{'whole app' if c == '* *' else f'<code>{_e(c)}</code>'}</th>" for c in columns)
    out = ["<table class='matrix'><caption class='muted'>the worst severity per front end and request</caption>",
           f"<thead><tr><th scope='col'>front end</th>{head}</tr></thead><tbody>"]
    for row in rows:
        line = f"<tr><th scope='row'>{_e(_label(row))}</th>"
        for column in columns:
            here = cells.get((row, column), [])
            if not here:
                line += "<td class='ok'><b>ok</b></td>"
                continue
            worst = max(here, key=lambda f: LEVEL[f.severity]).severity
            rules = sorted({f.rule for f in here})
            links = ", ".join(f"<a href='#{anchors[(row, column, r)]}'>{_e(r)}</a>" for r in rules)
            line += f"<td class='{worst}'><b>{worst}</b>: {links}</td>"
        out.append(line + "</tr>")
    return out + ["</tbody></table>"]


def _finding(f: Finding, anchor: str) -> str:
    where = f"<span class='muted'>[{_e(_label(f.frontend))}]</span> <code>{_e(f.method)} {_e(f.route)}</code>"
    parts = [f"<section class='finding {f.severity}'" + (f" id='{anchor}'>" if anchor else ">"),
             f"<h3><span class='badge'>{f.severity.upper()}</span> <code>{_e(f.rule)}</code> {where}</h3>",
             f"<p>{_e(f.message)}</p><dl>"]
    if f.subject:
        parts.append(f"<dt>subject</dt><dd><code>{_e(f.subject)}</code></dd>")
    if f.url:
        parts.append(f"<dt>URL</dt><dd><code>{_e(f.url)}</code></dd>")  # text, never a link: it may be anything
    if f.evidence:
        parts.append(f"<dt>evidence</dt><dd><pre>{_e(f.evidence)}</pre></dd>")
    if f.advice:
        who = f" for {_e(f.framework)}" if f.framework else ""
        parts.append(f"<dt>Fix{who}:</dt><dd><pre>{_e(f.advice)}</pre></dd>")
    parts.append(f"<dt>seen</dt><dd>{_n(f.count, 'time')}</dd></dl></section>")
    return "\n".join(parts)


def _profiles(profiles: dict[str, list[tuple[str, str]]]) -> list[str]:
    out = ["<h2>What each front end sends</h2>"]
    for name, headers in profiles.items():
        rows = "".join(f"<tr><th scope='row'><code>{_e(h)}</code></th><td><code>{_e(v)}</code></td></tr>"
                       for h, v in headers) or "<tr><td colspan='2' class='muted'>no headers</td></tr>"
        out.append(f"<details><summary>{_e(_label(name))} ({_n(len(headers), 'header')})</summary>"
                   f"<table><thead><tr><th scope='col'>header</th><th scope='col'>sample value</th></tr></thead>"
                   f"<tbody>{rows}</tbody></table></details>")
    return out


def to_html(findings: list[Finding], frontends: list[str], flows: int,
            profiles: dict[str, list[tuple[str, str]]] | None = None, title: str = "offload report") -> str:
    findings = _order(findings)
    s = summary(findings, flows)
    # As the JUnit report: the front ends asked for, then any other a finding names (the probe's spoof audit has none).
    rows = list(dict.fromkeys(frontends)) + sorted({f.frontend for f in findings} - set(frontends))
    # A matrix cell links each of its rules to that rule's first finding there (the others have no id).
    anchors: dict[tuple[str, str, str], str] = {}
    ids = []
    for i, f in enumerate(findings, 1):
        key = (f.frontend, f"{f.method} {f.route}", f.rule)
        ids.append("" if key in anchors else anchors.setdefault(key, f"f{i}"))
    counts = f"{_n(s['errors'], 'error')}, {_n(s['warnings'], 'warning')}, {s['info']} info"
    body = [f"<header><h1>{_e(title)}</h1>", f"<p class='counts'>{counts} in {_n(flows, 'flow')}</p>",
            "<p>Front ends: " + (", ".join(f"<code>{_e(_label(r))}</code>" for r in rows) or "none") + "</p></header>"]
    if findings:
        body += ["<h2>Front end &times; request</h2>", *_matrix(findings, rows, anchors), "<h2>Findings</h2>"]
        body += [_finding(f, anchor) for f, anchor in zip(findings, ids)]
    else:
        body.append(f"<p class='clear'><b>All clear</b>: no problems found in {_n(flows, 'flow')}"
                    + (f" under {', '.join(_e(_label(r)) for r in rows)}" if rows else "") + ".</p>")
    if profiles:
        body += _profiles(profiles)
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")
    # A lone surrogate (undecodable bytes kept by surrogateescape) cannot be written as UTF-8: shown as '?' instead.
    return page.encode("utf-8", "replace").decode("utf-8")


def write_html(path: str, findings: list[Finding], frontends: list[str], flows: int,
               profiles: dict[str, list[tuple[str, str]]] | None = None, title: str = "offload report") -> None:
    write_text(path, to_html(findings, frontends, flows, profiles, title))
