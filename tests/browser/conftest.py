"""Headless Chromium (Debian's package) driven by Playwright for Python, trusting mitmproxy's certificate."""

import base64
import hashlib
import os
import shutil
from pathlib import Path

import pytest

from harness import require

CHROMIUM = os.environ.get("OFFLOAD_CHROMIUM", "/usr/bin/chromium")
PUBLIC_HOST = "myapp.azurewebsites.net"  # what the browser types; Chromium resolves it to 127.0.0.1
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-results"


def spki_pin(confdir: Path) -> str:
    """sha256 of mitmproxy's key: every certificate mitmproxy makes carries it, so Chromium accepts exactly those."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate((confdir / "mitmproxy-ca-cert.pem").read_bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def playwright_api():
    require(Path(CHROMIUM).exists() or bool(shutil.which(CHROMIUM)),
            f"browser tests need Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "browser tests need Playwright for Python (pip install -e '.[test]')")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser_confdir(tmp_path_factory) -> Path:
    """A confdir whose CA exists before Chromium starts (mitmdump creates it on first run)."""
    from mitmproxy.certs import CertStore

    folder = tmp_path_factory.mktemp("browser-conf")
    CertStore.from_store(folder, "mitmproxy", 2048)
    return folder


@pytest.fixture(scope="module")
def chromium(playwright_api, browser_confdir):
    browser = playwright_api.chromium.launch(executable_path=CHROMIUM, args=[
        f"--host-resolver-rules=MAP {PUBLIC_HOST} 127.0.0.1",
        f"--ignore-certificate-errors-spki-list={spki_pin(browser_confdir)}",
        # As this machine's probe runs it: no sandbox as root, no background traffic to a closed network.
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
    ])
    yield browser
    browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    yield context.new_page()
    context.close()
