"""The user's experience in a real browser (headless Chromium) at a public HTTPS name, and the findings in mitmweb."""


import pytest

from browser.conftest import ARTIFACTS, PUBLIC_HOST
from harness import DJANGO, diagnose, mitmweb, node_app, python_app

pytestmark = pytest.mark.browser


def url(port: int, path: str = "/") -> str:
    return f"https://{PUBLIC_HOST}:{port}{path}"


def log_in(browser, port: int) -> dict:
    """Open the app, press "Log in", then ask /me: what the user sees and what the cookie jar holds."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(url(port))
    page.click("text=Log in")
    page.wait_for_load_state()
    seen = {"home": page.inner_text("p"), "cookies": {c["name"]: c for c in context.cookies()}}
    seen["me"] = page.goto(url(port, "/me")).status
    context.close()
    return seen


def test_legacy_front_end_the_user_is_logged_out_again_and_the_fix_keeps_them_in(chromium, browser_confdir,
                                                                                 tmp_path):
    with node_app("express/session-app.js") as app:
        broken: dict = {}
        run = diagnose(app.port, lambda port: broken.update(log_in(chromium, port)),
                       confdir=browser_confdir, folder=tmp_path / "legacy")
        fixed: dict = {}
        fixed_run = diagnose(app.port, lambda port: fixed.update(log_in(chromium, port)), "frontend_xfp=on",
                             confdir=browser_confdir, folder=tmp_path / "fixed")
    assert broken["home"] == "Not logged in." and "connect.sid" not in broken["cookies"] and broken["me"] == 401
    assert ("secure-cookie-dropped", "connect.sid") in run.found()
    assert fixed["home"] == "Logged in as demo." and fixed["me"] == 200
    assert fixed["cookies"]["connect.sid"]["secure"] is True
    assert fixed_run.problems() == set()


def submit_form(browser, port: int) -> tuple[int, str]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url(port, "/form"))
    with page.expect_navigation() as nav:
        page.click("text=Send")
    result = nav.value.status, page.inner_text("body")
    context.close()
    return result


def test_django_csrf_form_fails_with_403_and_works_with_the_fix(chromium, browser_confdir, tmp_path):
    results = []
    with python_app(DJANGO) as app:
        run = diagnose(app.port, lambda port: results.append(submit_form(chromium, port)),
                       "frontend_compare=all", confdir=browser_confdir, folder=tmp_path / "legacy")
        fixed = diagnose(app.port, lambda port: results.append(submit_form(chromium, port)),
                         "frontend_compare=all", "frontend_xfp=on", confdir=browser_confdir,
                         folder=tmp_path / "fixed")
    (status, body), (fixed_status, fixed_body) = results
    assert status == 403 and "CSRF verification failed" in body
    assert ("csrf-origin-rejected", "Origin") in run.found()
    assert fixed_status == 200 and fixed_body.strip() == "thanks" and fixed.problems() == set()


def test_the_browser_gives_up_on_the_redirect_loop_and_the_addon_named_it(chromium, browser_confdir, tmp_path):
    errors = []

    def visit(port):
        context = chromium.new_context()
        try:
            context.new_page().goto(url(port, "/account"))
        except Exception as e:  # Playwright's Error: net::ERR_TOO_MANY_REDIRECTS
            errors.append(str(e))
        context.close()

    with node_app("express/https-redirect-app.js") as app:
        run = diagnose(app.port, visit, confdir=browser_confdir, folder=tmp_path)
    assert errors and "ERR_TOO_MANY_REDIRECTS" in errors[0]
    assert any(rule == "https-redirect-loop" for rule, _ in run.found())


def test_mitmweb_shows_the_marker_and_the_comment_with_the_rule_and_the_fix(chromium, browser_confdir):
    with node_app("express/session-app.js") as app, mitmweb(app.port, confdir=browser_confdir,
                                                            password="offload-test") as web:
        log_in(chromium, web.port)
        context = chromium.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{web.web_port}/?token=offload-test")
        flagged = page.locator("td.col-path", has_text="/login").filter(has_text="❌")
        flagged.wait_for(timeout=10_000)
        flagged.click()
        page.get_by_text("Comment", exact=True).click()
        comment = page.locator(".flow-detail, .flowview, main").filter(has_text="secure-cookie-dropped").first
        comment.wait_for(timeout=10_000)
        text = comment.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "mitmweb-flagged-flow.png"))
        context.close()
    assert "offload error secure-cookie-dropped: connect.sid" in text  # short lines: the rule and subject,
    assert "secure cookie connect.sid is dropped" in text  # what happened,
    assert "fix for Express (express-session)" in text and "trust proxy" in text  # and the fix
