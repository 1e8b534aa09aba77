"""The page viewer without a browser: the page `GET /` serves, `classify --html` files and the batch
index (tests/test_viewer_browser.py drives the same pages in chromium)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from conftest import EXAMPLE_PAGE
from paratheme.cli import main
from paratheme.labels import LABELS
from paratheme.viewer import page_view, server_page

TOKEN = "viewer-test"


class PageParts(HTMLParser):
    """The embedded JSON scripts, and every URL the page's elements would load or link."""

    def __init__(self, text: str):
        super().__init__()
        self.scripts: dict[str, str] = {}
        self.urls: list[str] = []
        self._script_id = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [attrs[name] for name in ("src", "href", "action", "data") if attrs.get(name)]
        if tag == "script":
            self._script_id = attrs.get("id", "inline")

    def handle_endtag(self, tag):
        if tag == "script":
            self._script_id = None

    def handle_data(self, data):
        if self._script_id:
            self.scripts[self._script_id] = self.scripts.get(self._script_id, "") + data


def embedded_page(text: str):
    return json.loads(PageParts(text).scripts["paratheme-page"])


def test_server_page_is_self_contained():
    page = server_page()
    parts = PageParts(page)
    assert "{{" not in page
    assert set(parts.scripts) == {"paratheme-labels", "paratheme-page", "inline"}
    assert json.loads(parts.scripts["paratheme-page"]) is None
    assert [label["name"] for label in json.loads(parts.scripts["paratheme-labels"])] == list(LABELS)
    # Nothing to fetch from elsewhere: the only URLs are in-page anchors and an empty data: icon.
    assert parts.urls and all(url.startswith(("#", "data:")) for url in parts.urls), parts.urls
    assert not re.search(r"https?://|@import|url\(", page)
    assert "connect-src 'self'" in page and "default-src 'none'" in page
    assert '"Content-Type": "application/json"' in page  # the JSON routes may require it


def test_embedded_labels_cannot_break_out_of_their_script():
    from paratheme.classifier import BlockPrediction

    texts = ["</script><script>alert(1)</script>", "<!-- {{page}} & {{script}} -->", "普通段落"]
    blocks = [BlockPrediction(i, t, "other", 0.5, {"other": 0.5}) for i, t in enumerate(texts)]
    view = page_view(blocks, "a <b> page")
    assert "</script><script>alert" not in view and "<!-- {{page}}" not in view
    assert "<title>a &lt;b&gt; page · paratheme</title>" in view
    assert [b["text"] for b in embedded_page(view)["blocks"]] == texts


def test_get_root_serves_the_viewer_without_the_token_and_the_api_still_needs_it(tiny_model):
    from fastapi.testclient import TestClient

    from paratheme import Classifier
    from serve.app import create_app

    app = create_app(token=TOKEN, classifier=Classifier.from_pretrained(tiny_model))
    with TestClient(app) as client:
        response = client.get("/")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
        assert response.text == server_page()
        page = EXAMPLE_PAGE.read_text(encoding="utf-8")
        assert client.post("/classify/page", json={"inputs": page}).status_code == 401
        answer = client.post("/classify/page", json={"inputs": page}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200 and len(answer.json()["blocks"]) == 25


def test_classify_html_writes_one_standalone_view(tiny_model, tmp_path, capsys):
    out = tmp_path / "view.html"
    assert main(["classify", str(EXAMPLE_PAGE), "--html", str(out), "--model", str(tiny_model)]) == 0
    assert main(["classify", str(EXAMPLE_PAGE), "--json", "--structure", "--model", str(tiny_model)]) == 0
    expected = json.loads(capsys.readouterr().out)["blocks"]
    page = embedded_page(out.read_text(encoding="utf-8"))
    assert page["source"] == "portal-page.html" and page["index"] is None
    assert page["blocks"] == expected


def test_classify_html_on_a_folder_writes_views_and_an_index_listing_unreadable_pages(tiny_model, tmp_path, capsys):
    pages = tmp_path / "pages"
    (pages / "sub").mkdir(parents=True)
    (pages / "portal.html").write_bytes(EXAMPLE_PAGE.read_bytes())
    (pages / "sub" / "note.txt").write_text("第一段正文。\n相关推荐\n", encoding="utf-8")
    (pages / "empty.txt").write_bytes(b" \n")
    (pages / "notes.md").write_text("not a page", encoding="utf-8")
    out = pages / "views"  # inside the input: a second run must not read the views as pages
    for _ in range(2):
        assert main(["classify", str(pages), "--html", str(out), "--model", str(tiny_model)]) == 0
    assert "1 pages could not be read" in capsys.readouterr().err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html")) == [
        "index.html", "portal.html.html", "sub/note.txt.html"]
    note = embedded_page((out / "sub" / "note.txt.html").read_text(encoding="utf-8"))
    assert note["index"] == "../index.html" and [b["text"] for b in note["blocks"]] == ["第一段正文。", "相关推荐"]

    index = (out / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", index, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows[1:]]  # rows[0]: the header
    assert cells[0] == ["empty.txt", "could not be read: page is empty"]
    portal = embedded_page((out / "portal.html.html").read_text(encoding="utf-8"))["blocks"]
    article = [b for b in portal if b["label"] != "boilerplate"]
    chars = sum(len(b["text"]) for b in portal)
    article_chars = sum(len(b["text"]) for b in article)
    assert cells[1][0] == '<a href="portal.html.html">portal.html</a>'
    assert cells[1][1:5] == ["25", f"{len(article)} ({round(100 * len(article) / 25)}%)", f"{chars:,}",
                             f"{article_chars:,} ({round(100 * article_chars / chars)}%)"]
    assert [int(c) for c in cells[1][5:]] == [sum(b["label"] == label for b in portal) for label in LABELS]
    assert cells[2][0] == '<a href="sub/note.txt.html">sub/note.txt</a>'
    assert cells[3][:2] == ["2 pages read", "27"]  # the total


@pytest.mark.parametrize("argv,message", [
    (lambda tmp: ["classify", str(EXAMPLE_PAGE), str(EXAMPLE_PAGE)], "several pages need --html"),
    (lambda tmp: ["classify", str(EXAMPLE_PAGE), "--html", str(tmp)], "is a folder"),
    (lambda tmp: ["classify", str(EXAMPLE_PAGE), "-", "--html", str(tmp / "v")], "standard input"),
    (lambda tmp: ["classify", str(tmp), "--html", str(tmp / "v")], "no page files"),
    (lambda tmp: ["classify", str(tmp / "absent.html"), "--html", str(tmp / "v.html")], "absent.html not found"),
])
def test_classify_html_errors_are_one_line(tiny_model, tmp_path, capsys, argv, message):
    assert main(argv(tmp_path) + ["--model", str(tiny_model)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("paratheme: error:") and err.count("\n") == 1 and message in err
