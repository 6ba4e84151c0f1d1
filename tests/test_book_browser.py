"""The course's website (``./course.sh book``) in headless Chromium (the system's, through
Playwright; the whole file is skipped with one line saying how to enable it when there is none).

The site (built once per session, ``tests/book_support.py``) is served from 127.0.0.1 with every
other address blocked: each page loads with no console error and no failed or outside request,
every image loads, math is typeset by the site's own MathJax, axe-core finds no serious or
critical violation, every internal link answers, and the search finds "warmup". Each page's
screenshot (the whole page, JPEG) goes to ``test-artifacts/book/<page>.jpeg``; axe's findings of
every impact to ``test-artifacts/book/axe.json``.
"""
from __future__ import annotations

import functools
import http.server
import json
import threading
from urllib.parse import urljoin

import pytest
from book_support import ARTIFACTS, LESSONS, PAGES, built_site, internal_targets, parse
from browser_support import CHROMIUM, skip_reason

if skip_reason("website browser tests"):   # one line for the whole file in the test summary
    pytest.skip(skip_reason("website browser tests"), allow_module_level=True)

pytestmark = pytest.mark.slow   # the browser: handed out first (conftest.py)
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    return built_site(tmp_path_factory)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(site):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site.html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def axe_findings():
    findings = {}
    yield findings
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "axe.json").write_text(json.dumps(findings, indent=1))


@pytest.fixture
def visit(browser, served):
    """``visit(path)``: open a page of the site offline; returns (page, problems) where problems
    collects console errors, page errors, failed requests and requests for anything outside."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    problems = []

    def route(route):
        if route.request.url.startswith(served) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            problems.append(f"request outside the site: {route.request.url}")
            route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}")
            if r.url.startswith(served) else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

    def open_page(path):
        page.goto(urljoin(served, path), wait_until="load")
        return page, problems

    yield open_page
    context.close()


def _wait_for_math(page) -> tuple[int, int, int]:
    """Wait for MathJax to finish; return (math elements, typeset ones, errors)."""
    page.wait_for_function("() => !document.querySelector('.math') || (window.MathJax && MathJax.startup "
                           "&& MathJax.startup.promise)", timeout=30_000)
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    return page.evaluate("() => [document.querySelectorAll('.math').length, "
                         "document.querySelectorAll('.math mjx-container').length, "
                         "document.querySelectorAll('mjx-merror, .math mjx-container [data-mjx-error]').length]")


def _images(page) -> list:
    """Scroll through the page so every image loads; return (src, loaded, alt) per image."""
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    return page.evaluate("""async () => Promise.all(Array.from(document.images).map(async img => {
        try { await img.decode(); } catch (e) {}
        return [img.currentSrc || img.src, img.complete && img.naturalWidth > 0, img.alt];
    }))""")


# axe-core's colour-contrast rule takes about 15 s on a lesson's syntax-highlighted code (thousands of
# token spans, in the theme's own a11y-high-contrast Pygments style, the same on every page); it reads
# all of it on the first lesson, and every page without its code inputs' text (a few seconds each).
FULL_AXE = LESSONS[:1]
CODE_INPUTS = ".cell_input pre"


def _axe(page, everything: bool) -> list:
    from axe_playwright_python.sync_playwright import Axe

    context = None if everything else {"exclude": [[CODE_INPUTS]]}
    return Axe().run(page, context=context).response["violations"]


@pytest.mark.parametrize("name", PAGES)
def test_page_in_the_browser(visit, served, axe_findings, name):
    page, problems = visit(f"{name}.html" + ("?q=warmup" if name == "search" else ""))
    images = _images(page)
    assert images or name in ("search", "claims_ledger", "glossary", "index")
    assert all(loaded for _, loaded, _ in images), f"images that did not load: {[s for s, ok, _ in images if not ok]}"
    assert all(alt.strip() for _, _, alt in images), f"images without alt text: {[s for s, _, a in images if not a]}"
    maths, typeset, errors = _wait_for_math(page)
    assert typeset == maths and not errors, f"{name}: {typeset} of {maths} math elements typeset, {errors} errors"
    page.evaluate("() => window.scrollTo(0, 0)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.jpeg"), full_page=True, type="jpeg", quality=60)
    assert not problems, f"{name}:\n" + "\n".join(problems)   # what loading the page did (axe fetches more)
    violations = _axe(page, everything=name in FULL_AXE)
    axe_findings[name] = [{"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": len(v["nodes"]),
                           "targets": [n["target"] for n in v["nodes"][:5]]} for v in violations]
    serious = [f"{v['id']} ({v['impact']}): {v['help']}; e.g. {v['nodes'][0]['target']}"
               for v in violations if v["impact"] in SERIOUS]
    assert not serious, f"{name}: axe-core finds serious or critical violations:\n" + "\n".join(serious)


def test_search_finds_warmup(visit, site):
    """From the landing page, as a reader searches: Ctrl+K, "warmup", Enter; the answers are pages
    of the site, and among them a lesson page that says "warmup"."""
    saying = {path.name for path in site.html.glob("*.html")
              if "warmup" in " ".join(parse(path).text).lower() and path.stem in LESSONS}
    assert saying, "no lesson page says 'warmup'"
    page, problems = visit("index.html")
    page.keyboard.press("Control+k")
    field = page.locator("#pst-search-dialog input[name=q]")
    field.fill("warmup")
    field.press("Enter")
    page.wait_for_url("**/search.html?q=warmup*")
    page.wait_for_selector("ul.search li a", timeout=30_000)
    found = page.eval_on_selector_all("ul.search li a", "links => links.map(a => a.getAttribute('href'))")
    found = {link.split("?")[0].split("#")[0] for link in found}
    assert found <= {path.name for path in site.html.glob("*.html")}, found
    assert found & saying, f"search for 'warmup' answers {sorted(found)}, none of the lessons saying it: {sorted(saying)}"
    assert not problems, "\n".join(problems)


def test_internal_links_answer_in_the_browser(visit, site, served):
    page, problems = visit("index.html")
    urls = sorted({urljoin(urljoin(served, page_path), link).split("#")[0]
                   for page_path, link, _, _ in internal_targets(site)})
    failed = [(url, page.request.get(url).status) for url in urls]
    failed = [(url, status) for url, status in failed if status != 200]
    assert urls and not failed, f"internal links that do not answer 200: {failed[:10]}"
