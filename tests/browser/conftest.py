"""Playwright (sync API) driving Debian's headless Chromium against pytest-django's live server.

Playwright cannot download its own browsers here; it is pointed at /usr/bin/chromium. Without
Chromium the browser tests are skipped with that reason, except under CI (REQUIRE_BROWSER=1),
where a missing browser fails the run."""

import os
import re
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the tests still use the ORM
# synchronously for set-up, which Django would otherwise refuse.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"Chromium not found at {CHROMIUM} (REQUIRE_BROWSER=1)")
        pytest.skip(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """new_page(locale="ja-JP") -> a page in a fresh context (own cookies) at that locale;
    javascript=False for a browser without scripts."""
    contexts = []

    def make(locale: str = "ja-JP", viewport=None, javascript: bool = True):
        context = browser.new_context(
            locale=locale,
            base_url=live_server.url,
            viewport=viewport or {"width": 1280, "height": 900},
            java_script_enabled=javascript,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="session")
def axe_source():
    if not AXE.exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"axe-core not found at {AXE} (run npm ci)")
        pytest.skip("axe-core is not installed (npm ci installs it from package-lock.json)")
    return AXE.read_text()


@pytest.fixture
def axe(axe_source):
    """axe(page) -> the serious and critical WCAG 2.2 A/AA violations on the page."""

    def run(page):
        # The page's CSP allows scripts by nonce only: inject through the DevTools protocol
        # (Playwright evaluates in the page without a <script> element, which CSP permits).
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.evaluate(axe_source)
        result = page.evaluate(
            """async () => await axe.run(document, {
                runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa',
                                                 'wcag22aa']},
                resultTypes: ['violations'],
            })"""
        )
        return [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "targets": [n["target"] for n in v["nodes"]][:5],
            }
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]

    return run


@pytest.fixture
def screenshot():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


# Words that are the same in both languages: product and format names, identifiers.
PRODUCT_WORDS = (
    "MiiTel Analytics",
    "MiiTel Phone Mobile",
    "MiiTel Phone",
    "MiiTel Admin",
    "MiiTel",
    "Shift_JIS",
    "UTF-8",
    "CP932",
    "BOM",
    "CSV",
    "Excel",
    "Windows",
    "IDs",
    "ID",
    "IP",
    "Asia/Tokyo",
    "JST",
    "GMT",
    "MB",
    "SCIM",
    "Microsoft Entra ID",
    "Entra ID",
    "Okta",
    "URL",
    # Single sign-on's standard names (docs/sso.md).
    "SAML 2.0",
    "URI",
    "SAML",
    "IdP-initiated",
    "NameID",
    "XML",
    "SSO",
    "IdP",
    "ACS",
    "SP",
)
_VISIBLE_TEXT = """() => {
  const lang = document.documentElement.lang;
  const out = [];
  const skip = (el) => {
    for (let e = el; e; e = e.parentElement) {
      if (e.tagName === 'SCRIPT' || e.tagName === 'STYLE' || e.tagName === 'NOSCRIPT') return true;
      // A language's own name, marked as such (the language switch), is not the page's text.
      if (e.hasAttribute && e.hasAttribute('lang') && e.getAttribute('lang') !== lang) return true;
    }
    return false;
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.textContent.trim() && !skip(n.parentElement)) out.push(n.textContent.trim());
  }
  for (const el of document.querySelectorAll('[title], [aria-label], [placeholder], [alt]')) {
    if (skip(el)) continue;
    for (const a of ['title', 'aria-label', 'placeholder', 'alt']) {
      if (el.getAttribute(a)) out.push(el.getAttribute(a));
    }
  }
  out.push(document.title);
  return out;
}"""
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w.-]+")
# Addresses (the SCIM endpoint) and tokens (a SCIM token shown once) are identifiers too.
_IDENTIFIER = re.compile(r"https?://\S+|urn:\S+|mtscim_[\w-]+")
_ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff01-\uff60]+")


def foreign_text(page, language: str, data: list[str]) -> list[str]:
    """Text of `page` in the other language: English words in the Japanese UI, Japanese in the
    English UI. `data`: what users typed (names, titles ...), which is shown as typed; product
    names and identifiers count as neither language."""
    found = []
    known = sorted({d for d in data if d}, key=len, reverse=True)
    for text in page.evaluate(_VISIBLE_TEXT):
        for value in (*known, *sorted(PRODUCT_WORDS, key=len, reverse=True)):
            text = text.replace(value, " ")
        text = _IDENTIFIER.sub(" ", _EMAIL.sub(" ", text))
        pattern = _ENGLISH_WORD if language == "ja" else _JAPANESE
        found += pattern.findall(text)
    return sorted(set(found))
