"""The HTML report in a real browser: it shows every finding's rule, route and fix, runs nothing, loads nothing."""

import pytest
from offload.findings import Finding
from offload.html_report import write_html
from offload.report import to_json

pytestmark = pytest.mark.browser

FINDINGS = [
    Finding("secure-cookie-dropped", "GET", "/login", "connect.sid", "secure cookie connect.sid is dropped",
            evidence="the app sets connect.sid (Secure) with X-Forwarded-Proto: https", frontend="azure-windows-legacy",
            framework="Express (express-session)",
            advice="app.set('trust proxy', 1); map x-arr-ssl to X-Forwarded-Proto before the session middleware",
            count=4),
    Finding("csrf-origin-rejected", "POST", "/form", "Origin", "403 under the front end: Origin checking failed",
            evidence="<h1>Forbidden <span>(403)</span></h1><script>alert(1)</script>", frontend="azure-appservice",
            framework="Django", advice="SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https')"),
    Finding("cookie-not-secure", "GET", "/login", "theme", "cookie theme is set without Secure",
            frontend="azure-windows-legacy", advice="set Secure on the theme cookie"),
    Finding("client-ip-port", "GET", "/", "X-Forwarded-For", "the client IP keeps its port \"&'",
            frontend="azure-windows-legacy", framework="Express", advice="strip the port: req.ip.replace(/:\\d+$/, '')"),
]
FRONTENDS = ["azure-windows-legacy", "azure-appservice"]
PROFILES = {"azure-windows-legacy": [("X-ARR-SSL", "2048|256|C=US, O=Microsoft|CN=*.azurewebsites.net"),
                                     ("X-Forwarded-For", "203.0.113.9:51234")],
            "azure-appservice": [("X-Forwarded-Proto", "https")]}


def test_the_report_shows_every_finding_and_needs_nothing_else(page, tmp_path):
    report = tmp_path / "offload.html"
    write_html(str(report), FINDINGS, FRONTENDS, 21, PROFILES, title="offload report: myapp")
    requests, dialogs = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(report.as_uri())
    shot = tmp_path / "offload-report.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")

    visible = page.inner_text("body")
    for f in to_json(FINDINGS, FRONTENDS, 21)["findings"]:
        assert f["rule"] in visible and f["route"] in visible and f["advice"] in visible
    assert "<script>alert(1)</script>" in visible  # the app's text shown as text, not run
    assert page.locator("script").count() == 0 and dialogs == []
    assert requests == [report.as_uri()]  # the page itself and nothing else

    cell = page.locator("table.matrix tbody tr", has_text="azure-appservice").locator("td.error")
    assert "csrf-origin-rejected" in cell.inner_text()
    assert cell.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"
    headers = page.locator("details", has_text="azure-windows-legacy")
    assert not headers.locator("td").first.is_visible()  # one click away...
    headers.locator("summary").click()
    assert headers.locator("td").first.is_visible() and "203.0.113.9:51234" in headers.inner_text()


def test_on_paper_and_in_the_dark_it_is_still_readable(page, tmp_path):
    report = tmp_path / "offload.html"
    write_html(str(report), FINDINGS, FRONTENDS, 21, PROFILES)
    page.emulate_media(color_scheme="dark")
    page.goto(report.as_uri())
    body = page.locator("body").evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
    assert body[0] != body[1] and body[1] != "rgb(255, 255, 255)"
    page.screenshot(path=str(tmp_path / "offload-report-dark.png"), full_page=True)
    page.emulate_media(media="print", color_scheme="light")
    assert page.locator("details td", has_text="203.0.113.9:51234").is_visible()  # closed, yet printed
    pdf = tmp_path / "offload-report.pdf"
    page.pdf(path=str(pdf))
    print(f"screenshots and PDF: {tmp_path}")
    assert pdf.stat().st_size > 1000
