"""Look at the built book as a reader would, in headless Chromium.

Run after `jupyter-book build .`, pointing MLNI_SITE at the built HTML:

    MLNI_SITE=_build/html python -m pytest tests/browser

Without MLNI_SITE these tests are skipped (the main test run does not build the book).
Screenshots of every page go to `<site>/../screenshots/`.
"""

import functools
import http.server
import os
import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
import yaml

SITE = os.environ.get("MLNI_SITE")
pytestmark = pytest.mark.skipif(not SITE, reason="set MLNI_SITE to the built book's html folder")

ROOT = Path(__file__).resolve().parents[2]
# The explorations that must work without a kernel (issue: slice browser, searchlight radius,
# Miyawaki pixel, ICA component, parcellation n_clusters).
SLIDER_CHAPTERS = [
    "02_data_preparation", "04_searchlight", "05_miyawaki_decoding",
    "07_resting_state_ica", "08_parcellation",
]


def _toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


PAGES = _toc_files()
CHAPTERS = [page for page in PAGES if Path(page).name[:2].isdigit() and Path(page).name[2] == "_"]
NOTEBOOK_CHAPTERS = [page for page in CHAPTERS if (ROOT / f"{page}.ipynb").exists()]


@pytest.fixture(scope="session")
def site():
    return Path(SITE).resolve()


@pytest.fixture(scope="session")
def base_url(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        return None


@pytest.fixture(scope="session")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="mlni-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def screenshots(site):
    folder = site.parent / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def _open(browser, base_url, page):
    browser.get(urljoin(base_url, f"{page}.html"))
    browser.execute_script(
        "window.scrollTo(0, document.body.scrollHeight); window.scrollTo(0, 0);"
    )
    return browser


def _images_state(browser):
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('article img')).map(function(i){"
        "return {src: i.currentSrc.slice(0, 80), ok: i.complete && i.naturalWidth > 0,"
        " frame: i.classList.contains('mlni-frame'),"
        " output: !!i.closest('.cell_output, .output')};});"
    )


@pytest.mark.parametrize("page", PAGES)
def test_page_exists_and_has_no_traceback(browser, base_url, site, screenshots, page):
    assert (site / f"{page}.html").is_file(), f"{page}.html is missing from the built site"
    _open(browser, base_url, page)
    browser.save_screenshot(str(screenshots / f"{Path(page).name}.png"))
    text = browser.find_element("tag name", "body").text
    assert "Traceback (most recent call last)" not in text, f"{page} shows a traceback"
    errors = browser.find_elements("css selector", ".output.traceback, .output.error")
    assert not errors, f"{page} has {len(errors)} error outputs"
    title = browser.find_element("css selector", "article h1").text
    assert title.strip(), f"{page} has no title"


@pytest.mark.parametrize("page", PAGES)
def test_images_load(browser, base_url, page):
    _open(browser, base_url, page)
    # Pre-rendered frames are hidden (display: none) except one; all must still decode.
    broken = [image["src"] for image in _images_state(browser) if not image["ok"]]
    assert not broken, f"{page}: images that do not load: {broken}"


@pytest.mark.parametrize("page", NOTEBOOK_CHAPTERS)
def test_chapters_have_figures(browser, base_url, page):
    _open(browser, base_url, page)
    # Figures drawn by the cells themselves (pre-rendered slider frames do not count).
    figures = [image for image in _images_state(browser) if image["output"] and not image["frame"]]
    assert len(figures) >= 3, f"{page} shows only {len(figures)} figures in its cell outputs"


@pytest.mark.parametrize("page", NOTEBOOK_CHAPTERS)
def test_launch_buttons(browser, base_url, page):
    _open(browser, base_url, page)
    hrefs = browser.execute_script(
        "return Array.from(document.querySelectorAll('a')).map(function(a){return a.href;});"
    )
    notebook = f"{page}.ipynb"
    binder = [h for h in hrefs if "mybinder.org/v2/gh/" in h]
    colab = [h for h in hrefs if "colab.research.google.com/github/" in h]
    assert binder and all(notebook in h for h in binder), f"Binder link of {page}: {binder}"
    assert colab and all(h.endswith(notebook) for h in colab), f"Colab link of {page}: {colab}"
    live = browser.find_elements("css selector", ".btn-launch-thebe")
    assert live, f"{page} has no live-code (Thebe) button"


@pytest.mark.parametrize("page", PAGES)
def test_internal_links_resolve(browser, base_url, site, page):
    _open(browser, base_url, page)
    hrefs = browser.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(function(a){return a.href;});"
    )
    missing = []
    for href in hrefs:
        url = urlparse(href)
        if url.netloc != urlparse(base_url).netloc or not url.path.endswith(".html"):
            continue
        if not (site / url.path.lstrip("/")).is_file():
            missing.append(url.path)
    assert not missing, f"{page} links to missing pages: {sorted(set(missing))}"


@pytest.mark.parametrize("name", SLIDER_CHAPTERS)
def test_kernel_free_sliders_change_the_image(browser, base_url, name):
    page = f"chapters/{name}"
    _open(browser, base_url, page)
    sliders = browser.find_elements("css selector", ".mlni-frames")
    assert sliders, f"{page} has no pre-rendered slider"
    for slider in sliders:
        state = browser.execute_script(
            "var r = arguments[0], s = r.querySelector('input.mlni-frames-range');"
            "function visible(){ var v = Array.from(r.querySelectorAll('img.mlni-frame'))"
            "  .filter(function(i){return i.style.display !== 'none';});"
            "  return v.map(function(i){return i.src.slice(-200);}); }"
            "var before = {imgs: visible(), label: r.querySelector('output').textContent};"
            "s.value = (Number(s.value) + 1) % (Number(s.max) + 1);"
            "s.dispatchEvent(new Event('input', {bubbles: true}));"
            "var after = {imgs: visible(), label: r.querySelector('output').textContent};"
            "return {before: before, after: after, max: Number(s.max)};",
            slider,
        )
        assert state["max"] >= 1, f"{page}: a slider with a single frame"
        assert len(state["before"]["imgs"]) == 1 and len(state["after"]["imgs"]) == 1
        assert state["before"]["imgs"] != state["after"]["imgs"], f"{page}: image did not change"
        assert state["before"]["label"] != state["after"]["label"], f"{page}: label did not change"
