"""The page viewer in a real browser: Debian's chromium, driven by selenium through chromedriver.

One server (`paratheme serve` with the shipped model, in a subprocess) and one browser serve every
test here. The view must match the CLI's labels block for block, fold the chrome, copy the
article, show errors, and never request anything but its own server (or, opened from disk, its
own file). The first paint after the server's answer is printed, not asserted. Screenshots go to
artifacts/ (not committed).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import EXAMPLE_PAGE, REPO, SHIPPED_MODEL, needs_shipped_model
from paratheme.labels import BOILERPLATE, LABELS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = REPO / "artifacts"
TOKEN = "viewer-secret"
MAX_BODY_BYTES = 200_000
# The example page's five theme paragraphs (README: the shipped model gets these right).
SEED_THEMES = {7: "innovation", 8: "industry", 9: "ecology", 10: "livelihood", 11: "reputation"}
WAIT_S = 60

pytestmark = [
    needs_shipped_model,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="chromium and chromedriver are not installed (apt-get install chromium chromium-driver "
                              "fonts-wqy-zenhei); .ci/run installs them"),
]

# Every rendered block in page order, folded ones included: position, label, text, shown or not.
READ_BLOCKS = """
return [...document.querySelectorAll('#blocks .block')].map((b) => ({
  position: Number(b.dataset.position), label: b.dataset.label,
  badge: b.querySelector('.badge').textContent, text: b.querySelector('.block-text').textContent,
  displayed: b.offsetParent !== null}));
"""

# The lowest WCAG contrast ratio among the shown blocks' text, badges and fold buttons.
LOWEST_CONTRAST = """
const rgb = (s) => s.match(/[\\d.]+/g).slice(0, 3).map(Number);
const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
const ratio = (a, b) => { const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
const pairs = [];
for (const block of document.querySelectorAll('#blocks .block')) {
  if (block.offsetParent === null) continue;
  const style = getComputedStyle(block);
  pairs.push(ratio(style.color, style.backgroundColor));
  pairs.push(ratio(getComputedStyle(block.querySelector('.block-head')).color, style.backgroundColor));
  const badge = getComputedStyle(block.querySelector('.badge'));
  pairs.push(ratio(badge.color, badge.backgroundColor));
}
for (const toggle of document.querySelectorAll('.fold-toggle')) {
  const style = getComputedStyle(toggle);
  pairs.push(ratio(style.color, style.backgroundColor));
}
return Math.min(...pairs);
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def classifier():
    from paratheme import Classifier

    return Classifier.from_pretrained(SHIPPED_MODEL)


@pytest.fixture(scope="module")
def cli_blocks(classifier):
    """What `paratheme classify` gives for the example page."""
    return classifier.classify_page(EXAMPLE_PAGE.read_bytes())


@pytest.fixture(scope="module")
def server():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "paratheme.cli", "serve", "--model", str(SHIPPED_MODEL), "--port", str(port),
         "--token", TOKEN, "--max-body-bytes", str(MAX_BODY_BYTES)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("server did not start: " + process.stdout.read())
    yield base
    process.terminate()
    process.wait(timeout=10)


class Browser:
    """A headless chromium that keeps every URL its pages requested."""

    def __init__(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        # Root needs --no-sandbox; the rest keeps a CI machine's browser quiet and predictable.
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1100,1500", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--lang=en-US"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        self.requested: list[str] = []

    def network(self) -> list[str]:
        """Every URL requested so far (Chrome's performance log, Network.requestWillBeSent)."""
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.requested.append(message["params"]["request"]["url"])
        return self.requested

    def run(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def wait_for_state(self, *states: str) -> str:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, WAIT_S).until(lambda d: d.execute_script("return document.body.dataset.state") in states)
        return self.run("return document.body.dataset.state")

    def submit(self, page_text: str) -> str:
        """Paste ``page_text`` and press Classify; the state it ends in (done or error)."""
        self.run("document.body.dataset.state = 'idle'; document.getElementById('page-text').value = arguments[0];",
                 page_text)
        self.driver.find_element("id", "classify").click()
        return self.wait_for_state("done", "error")

    def message(self) -> str:
        return self.driver.find_element("id", "message").text

    def first_paint_ms(self) -> float:
        return self.run("const m = performance.getEntriesByName('paratheme-first-paint'); return m[m.length - 1].duration;")

    def screenshot(self, name: str) -> Path:
        """The whole page, from the top, as a PNG in artifacts/."""
        import base64

        self.run("window.scrollTo(0, 0)")
        width, height = self.run("return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@pytest.fixture(scope="module")
def browser():
    browser = Browser()
    yield browser
    browser.driver.quit()


def chrome_runs(labels: list[str]) -> int:
    return sum(1 for i, label in enumerate(labels) if label == BOILERPLATE and (i == 0 or labels[i - 1] != BOILERPLATE))


def assert_same_blocks(shown: list[dict], expected) -> None:
    assert len(shown) == len(expected)
    assert [b["position"] for b in shown] == [p.position for p in expected]
    assert [b["label"] for b in shown] == [p.label for p in expected]
    assert [b["text"] for b in shown] == [p.text for p in expected]
    for block in shown:  # the label is written out beside its colour
        assert block["badge"].startswith(block["label"])


def test_server_viewer_matches_the_cli_folds_chrome_and_copies_the_article(browser, server, cli_blocks):
    from selenium.webdriver.common.keys import Keys

    browser.driver.get(server + "/")
    page = EXAMPLE_PAGE.read_text(encoding="utf-8")

    # Without the token the server's 401 is shown as a readable message.
    assert browser.submit(page) == "error"
    assert "HTTP 401" in browser.message() and "token" in browser.message()

    browser.driver.find_element("id", "token").send_keys(TOKEN)
    assert browser.submit(page) == "done"
    assert browser.run("return sessionStorage.getItem('paratheme-token')") == TOKEN
    first_paint = browser.first_paint_ms()
    shown = browser.run(READ_BLOCKS)
    assert_same_blocks(shown, cli_blocks)
    assert {b["position"]: b["label"] for b in shown if b["position"] in SEED_THEMES} == SEED_THEMES

    # Chrome is folded: hidden until its fold is opened; the article is shown.
    assert all(not b["displayed"] for b in shown if b["label"] == BOILERPLATE)
    assert all(b["displayed"] for b in shown if b["label"] != BOILERPLATE)
    folds = browser.driver.find_elements("css selector", "#blocks .fold-toggle")
    assert len(folds) == chrome_runs([p.label for p in cli_blocks])
    print(f"\nviewer first paint after the server's answer: {first_paint:.1f} ms "
          f"(example page, {len(shown)} blocks, {len(folds)} folds)")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "viewer-first-paint.txt").write_text(f"{first_paint:.1f} ms\n", encoding="utf-8")
    assert browser.run(LOWEST_CONTRAST) >= 4.5
    browser.screenshot("viewer-server.png")

    # A fold opens from the keyboard, and its focus is visible.
    browser.driver.find_element("id", "copy").send_keys(Keys.SHIFT, Keys.TAB)  # focus moves by keyboard
    folds[0].send_keys(Keys.ENTER)
    assert folds[0].get_attribute("aria-expanded") == "true"
    fold_blocks = browser.driver.find_elements("css selector", f'#{folds[0].get_attribute("aria-controls")} .block')
    fold_positions = [int(b.get_attribute("data-position")) for b in fold_blocks]
    assert fold_positions and all(b["displayed"] for b in browser.run(READ_BLOCKS) if b["position"] in fold_positions)
    assert browser.run("return getComputedStyle(document.activeElement).outlineStyle") != "none"
    folds[0].click()
    assert not any(b["displayed"] for b in browser.run(READ_BLOCKS) if b["position"] in fold_positions)

    # Copy: every non-boilerplate block, in page order, joined by newlines.
    browser.driver.find_element("id", "copy").click()
    article = "\n".join(p.text for p in cli_blocks if not p.boilerplate)
    assert browser.run("return document.getElementById('article-text').value") == article

    # Filter: only innovation left.
    for label in LABELS:
        if label != "innovation":
            browser.driver.find_element("css selector", f'#filter input[value="{label}"]').click()
    displayed = [b for b in browser.run(READ_BLOCKS) if b["displayed"]]
    assert [b["label"] for b in displayed] == [p.label for p in cli_blocks if p.label == "innovation"]
    assert all(not f.is_displayed() for f in folds)

    # Every request went to this server.
    requested = browser.network()
    assert requested and all(url.startswith(server + "/") or url.startswith("data:") for url in requested), requested
    assert any(url == server + "/classify/page" for url in requested)


def test_server_viewer_shows_errors_and_reads_an_uploaded_gb18030_page(browser, server, cli_blocks, tmp_path):
    browser.driver.get(server + "/")  # the token stays in this tab's sessionStorage
    assert browser.driver.find_element("id", "token").get_attribute("value") == TOKEN

    assert browser.submit("<html><body><div></div></body></html>") == "error"
    assert "HTTP 422" in browser.message() and "no text" in browser.message()
    assert browser.submit("全市新增城镇就业六万人。\n" * (MAX_BODY_BYTES // 20)) == "error"
    assert "HTTP 413" in browser.message()
    assert browser.submit("   ") == "error" and "Paste a page" in browser.message()

    # A GBK page's source, pasted, or saved in GB18030 and opened with the file picker, reads as the
    # CLI reads the UTF-8 page.
    page = EXAMPLE_PAGE.read_text(encoding="utf-8").replace('charset="utf-8"', 'charset="gb18030"')
    assert browser.submit(page) == "done"
    assert_same_blocks(browser.run(READ_BLOCKS), cli_blocks)
    saved = tmp_path / "portal-page-gb18030.html"
    saved.write_bytes(page.encode("gb18030"))
    browser.run("document.body.dataset.state = 'idle'")
    browser.driver.find_element("id", "page-file").send_keys(str(saved))
    assert browser.wait_for_state("done", "error") == "done", browser.message()
    assert_same_blocks(browser.run(READ_BLOCKS), cli_blocks)
    assert all(url.startswith(server + "/") or url.startswith("data:") for url in browser.network())


def test_standalone_views_open_from_disk(browser, classifier, cli_blocks, tmp_path, capsys):
    from paratheme.cli import main
    from paratheme.viewer import write_views

    single = tmp_path / "portal.html"
    assert main(["classify", str(EXAMPLE_PAGE), "--html", str(single), "--model", str(SHIPPED_MODEL)]) == 0
    browser.network()  # forget the server tests' requests
    browser.requested.clear()
    browser.driver.get(single.as_uri())
    assert browser.wait_for_state("done") == "done"
    assert not browser.driver.find_element("id", "input").is_displayed()
    shown = browser.run(READ_BLOCKS)
    assert_same_blocks(shown, cli_blocks)
    assert all(not b["displayed"] for b in shown if b["label"] == BOILERPLATE)
    browser.driver.find_element("id", "copy").click()
    article = "\n".join(p.text for p in cli_blocks if not p.boilerplate)
    assert browser.run("return document.getElementById('article-text').value") == article
    print(f"\nstandalone view first paint, from its script starting: {browser.first_paint_ms():.1f} ms")
    browser.screenshot("viewer-standalone.png")

    # A batch: the index links each view; a block's text that looks like markup stays text.
    hostile = tmp_path / "hostile.txt"
    hostile.write_text("</script><script>window.pwned = 1</script>\n<img src=x onerror=\"window.pwned = 2\">\n",
                       encoding="utf-8")
    views = tmp_path / "views"
    write_views([str(EXAMPLE_PAGE), str(hostile)], views, lambda: classifier)
    browser.driver.get((views / "index.html").as_uri())
    links = {a.text: a for a in browser.driver.find_elements("css selector", "table.pages a")}
    assert set(links) == {"portal-page.html", "hostile.txt"}
    links["hostile.txt"].click()
    assert browser.wait_for_state("done") == "done"
    assert browser.run("return window.pwned") is None
    assert [b["text"] for b in browser.run(READ_BLOCKS)] == hostile.read_text(encoding="utf-8").splitlines()
    requested = browser.network()
    assert requested and all(url.startswith("file://") or url.startswith("data:") for url in requested), requested


def test_a_block_structure_record_is_shown_when_present(browser, tmp_path):
    from paratheme.classifier import BlockPrediction
    from paratheme.pages import read_page
    from paratheme.viewer import page_view

    # The page reader attaches a structure record to every block of an HTML page.
    record = read_page("<html><body><div class='article'><p>江城新建公园三处。</p></div></body></html>")[0].structure
    blocks = [BlockPrediction(0, "江城新建公园三处。", "ecology", 0.9, {"ecology": 0.9}, record),
              BlockPrediction(1, "返回顶部", "boilerplate", 0.95, {"boilerplate": 0.95})]
    view = tmp_path / "structure.html"
    view.write_text(page_view(blocks, "structure"), encoding="utf-8")
    browser.driver.get(view.as_uri())
    assert browser.wait_for_state("done") == "done"
    records = browser.run("""return [...document.querySelectorAll('#blocks .block')].map((b) => {
        const d = b.querySelector('details.structure');
        return d && [...d.querySelectorAll('dt')].map((t) => [t.textContent, t.nextElementSibling.textContent]); });""")
    shown = dict(records[0])
    assert shown["tag"] == "p" and shown["path"] == record.path and shown["attrs"] == record.attrs
    assert len(shown) == len(record.to_dict()) and records[1] is None
