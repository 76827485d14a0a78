"""The HTML report: its matrix, its findings, escaping of what apps sent, and a page that needs nothing remote."""

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from offload.findings import Finding
from offload.html_report import to_html, write_html
from offload.report import to_json

HOSTILE = "<script>alert(1)</script> \"&'"
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "wbr", "source", "area", "base", "embed", "track"}


class Node:
    def __init__(self, tag: str, attrs: dict, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def all(self, tag: str | None = None, cls: str | None = None) -> list["Node"]:
        found = []
        for c in self.children:
            if isinstance(c, Node):
                if (tag is None or c.tag == tag) and (cls is None or cls in c.attrs.get("class", "").split()):
                    found.append(c)
                found += c.all(tag, cls)
        return found


class Tree(HTMLParser):
    """A small DOM from the stdlib parser: an element closes its open descendants, as browsers do."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.root = self.node = Node("#document", {})
        self.doctype = ""
        self.feed(text)
        self.close()

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.node)
        self.node.children.append(node)
        if tag not in VOID:
            self.node = node

    def handle_endtag(self, tag):
        node = self.node
        while node is not self.root and node.tag != tag:
            node = node.parent
        assert node is not self.root, f"</{tag}> closes nothing"
        self.node = node.parent

    def handle_data(self, data):
        self.node.children.append(data)


def parse(text: str) -> Node:
    tree = Tree(text)
    assert tree.doctype.lower() == "doctype html"
    assert tree.node is tree.root, "an element is left open"
    return tree.root


FINDINGS = [
    Finding("secure-cookie-dropped", "GET", "/login", "connect.sid", "secure cookie connect.sid is dropped",
            evidence="Set-Cookie connect.sid only with X-Forwarded-Proto: https", frontend="azure-windows-legacy",
            framework="Express (express-session)", advice="app.set('trust proxy', 1) and map x-arr-ssl", count=3),
    Finding("cookie-not-secure", "GET", "/login", "theme", "cookie theme is set without Secure",
            frontend="azure-windows-legacy", advice="set Secure on theme"),
    Finding("insecure-absolute-url", "GET", "/", "http://myapp.example/app.js", "an http:// script",
            frontend="azure-appservice", advice="build URLs from the request's scheme"),
    Finding("client-ip-port", "GET", "/", "X-Forwarded-For", "the client IP keeps its port",
            frontend="azure-windows-legacy", framework="Flask", advice="strip the port"),
    Finding("trusts-spoofed-forwarding", "GET", "/", "X-Forwarded-Proto", "the app believes a forged header",
            advice="trust only your front end's address"),
]
FRONTENDS = ["azure-windows-legacy", "azure-appservice", "nginx-default"]


def matrix(root: Node) -> dict[tuple[str, str], tuple[str, str]]:
    """(front end, "METHOD route") -> (the cell's class, its text)."""
    (table,) = root.all("table", "matrix")
    columns = [th.text() for th in table.all("thead")[0].all("th")][1:]
    cells = {}
    for tr in table.all("tbody")[0].all("tr"):
        row = tr.all("th")[0].text()
        for column, td in zip(columns, tr.all("td"), strict=True):
            cells[(row, column)] = (td.attrs["class"], td.text())
    return cells


def test_the_matrix_colours_each_front_end_and_request_by_its_worst_severity():
    cells = matrix(parse(to_html(FINDINGS, FRONTENDS, 12)))
    rows = {r for r, _ in cells}
    assert rows == set(FRONTENDS) | {"no front end"}  # the spoof audit's findings have no front end
    assert {c for _, c in cells} == {"GET /", "GET /login"}
    kind, text = cells[("azure-windows-legacy", "GET /login")]
    assert kind == "error" and text.startswith("error") and "secure-cookie-dropped" in text
    assert "cookie-not-secure" in text  # a cell lists every rule, not only the worst one's
    assert cells[("azure-windows-legacy", "GET /")][0] == "info"
    assert cells[("azure-appservice", "GET /")][0] == "warning"
    assert cells[("azure-appservice", "GET /login")] == ("ok", "ok")
    assert all(cells[("nginx-default", c)] == ("ok", "ok") for c in ("GET /", "GET /login"))
    assert cells[("no front end", "GET /")][0] == "warning"


def test_matrix_links_lead_to_findings_and_ids_are_unique():
    root = parse(to_html(FINDINGS + [Finding("cookie-not-secure", "GET", "/login", "lang", "cookie lang",
                                             frontend="azure-windows-legacy")], FRONTENDS, 3))
    ids = [n.attrs["id"] for n in root.all() if "id" in n.attrs]
    assert len(ids) == len(set(ids))
    targets = {a.attrs["href"] for a in root.all("table", "matrix")[0].all("a")}
    assert targets and all(t.startswith("#") and t[1:] in ids for t in targets)


def test_findings_come_errors_first_with_everything_a_developer_needs():
    text = to_html(list(reversed(FINDINGS)), FRONTENDS, 12)
    root = parse(text)
    sections = root.all("section", "finding")
    severities = [s.attrs["class"].split()[1] for s in sections]
    assert severities == ["error", "warning", "warning", "warning", "info"]
    assert len(sections) == len(FINDINGS)
    first = sections[0].text()
    assert "ERROR" in first and "secure-cookie-dropped" in first and "azure-windows-legacy" in first
    assert "GET /login" in first and "connect.sid" in first and "secure cookie connect.sid is dropped" in first
    assert "Set-Cookie connect.sid only with X-Forwarded-Proto: https" in first
    assert "Fix for Express (express-session):" in first and "3 times" in first
    visible = root.text()
    for f in to_json(FINDINGS, FRONTENDS, 12)["findings"]:
        assert f["rule"] in visible and f["route"] in visible and f["advice"] in visible


def test_counts_in_the_header_match_the_json_summary():
    header = " ".join(parse(to_html(FINDINGS, FRONTENDS, 12)).all("header")[0].text().split())
    s = to_json(FINDINGS, FRONTENDS, 12)["summary"]
    assert f"{s['errors']} error, {s['warnings']} warnings, {s['info']} info in 12 flows" in header
    assert all(name in header for name in FRONTENDS)


def test_what_an_app_sent_is_escaped_everywhere():
    hostile = Finding("insecure-redirect", HOSTILE, "/" + HOSTILE, HOSTILE, HOSTILE, url="https://x/" + HOSTILE,
                      evidence=HOSTILE, frontend=HOSTILE, framework=HOSTILE, advice=HOSTILE)
    text = to_html([hostile], [HOSTILE], 1, {HOSTILE: [(HOSTILE, HOSTILE)]}, title=HOSTILE)
    assert "<script" not in text.lower() and "alert(1)</script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;&amp;&#x27;" in text
    root = parse(text)
    assert not root.all("script")
    # Parsed back, each field is the very text the app sent: escaped, never markup, never mangled.
    assert root.all("title")[0].text() == HOSTILE and root.all("h1")[0].text() == HOSTILE
    (section,) = root.all("section", "finding")
    assert section.all("p")[0].text() == HOSTILE
    assert HOSTILE in [n.text() for n in section.all("pre")]  # evidence and advice
    assert f"Fix for {HOSTILE}:" in section.text()
    assert (HOSTILE, HOSTILE) in [(tr.all("th")[0].text(), tr.all("td")[0].text())
                                  for tr in root.all("details")[0].all("tbody")[0].all("tr")]
    assert matrix(root)[(HOSTILE, f"{HOSTILE} /{HOSTILE}")][0] == "error"


def test_the_page_refers_to_nothing_remote_and_runs_no_script():
    text = to_html(FINDINGS, FRONTENDS, 12, {"azure-windows-legacy": [("X-ARR-SSL", "2048|256|C=US|CN=x")]})
    root = parse(text)
    assert "<script" not in text.lower() and not root.all("script") and not root.all("link")
    for node in root.all():
        for name, value in node.attrs.items():
            assert not name.startswith("on"), f"event handler {name} on <{node.tag}>"
            if name in ("src", "href", "action", "srcset", "poster", "data", "formaction", "background"):
                assert value.startswith("#"), f"<{node.tag} {name}={value}>"
    assert not any(u in root.all("style")[0].text() for u in ("url(", "@import"))
    (csp,) = [m for m in root.all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    assert "default-src 'none'" in csp.attrs["content"] and "script-src" not in csp.attrs["content"]


def test_each_front_ends_headers_are_one_click_away():
    profiles = {"azure-windows-legacy": [("X-ARR-SSL", "2048|256|C=US"), ("X-Forwarded-For", "203.0.113.9:51234")],
                "nginx-default": []}
    root = parse(to_html(FINDINGS, FRONTENDS, 12, profiles))
    details = root.all("details")
    assert [d.all("summary")[0].text() for d in details] == ["azure-windows-legacy (2 headers)",
                                                             "nginx-default (0 headers)"]
    assert "open" not in details[0].attrs
    rows = [(tr.all("th")[0].text(), tr.all("td")[0].text()) for tr in details[0].all("tbody")[0].all("tr")]
    assert rows == profiles["azure-windows-legacy"]
    assert "no headers" in details[1].text()


def test_no_findings_is_an_all_clear_page():
    root = parse(to_html([], ["azure-windows-legacy"], 7))
    assert "All clear" in root.text() and "no problems found in 7 flows under azure-windows-legacy" in root.text()
    assert not root.all("table", "matrix") and not root.all("section", "finding")
    assert "0 errors, 0 warnings, 0 info in 7 flows" in " ".join(root.all("header")[0].text().split())
    assert "All clear" in parse(to_html([], [], 0)).text()


def test_write_html_to_a_file_and_to_standard_output(tmp_path, capsys):
    target = tmp_path / "offload.html"
    write_html(str(target), FINDINGS, FRONTENDS, 12, title="my app")
    assert target.read_text(encoding="utf-8") == to_html(FINDINGS, FRONTENDS, 12, title="my app")
    write_html("-", [], FRONTENDS, 0)
    assert "All clear" in capsys.readouterr().out


def test_undecodable_text_does_not_stop_the_report(tmp_path):
    odd = Finding("cookie-not-secure", "GET", "/\udcff", "s\udcfe", "message \x00 \u202e", frontend="x")
    target = tmp_path / "r.html"
    write_html(str(target), [odd], ["x"], 1)
    assert "message" in target.read_text(encoding="utf-8")


def test_it_needs_no_xml_etree():
    """mitmproxy's standalone bundle has no xml.etree: the module imports and renders without it."""
    code = ("import sys; sys.modules['xml.etree'] = sys.modules['xml.etree.ElementTree'] = None\n"
            "from offload.findings import Finding\nfrom offload.html_report import to_html\n"
            "print(len(to_html([Finding('cookie-not-secure', 'GET', '/', 's', 'm')], ['x'], 1)))")
    addons = Path(__file__).resolve().parents[2] / "addons"
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=addons)
    assert result.returncode == 0, result.stderr
