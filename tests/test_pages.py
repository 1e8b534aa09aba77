import codecs
import subprocess
import sys

import pytest

from conftest import EXAMPLE_PAGE, REPO, needs_corpora
from paratheme.pages import PageError, decode, looks_like_html, read_page, text_hash

HTML = """<html><head><meta charset="{charset}"><title>标题_示例网</title>
<script>var x = "脚本不是正文";</script><style>p {{ color: red }}</style></head>
<body><div class="nav"><a>首页</a> | <a>新闻</a></div>
<h1>江城新闻</h1><p>第一段<b>加粗</b>正文。</p><p>第二段正文。<br>换行后的第三段。</p>
<noscript>请启用脚本</noscript><ul><li>推荐一</li><li>推荐二</li></ul></body></html>"""
EXPECTED = ["标题_示例网", "首页 | 新闻", "江城新闻", "第一段加粗正文。", "第二段正文。", "换行后的第三段。", "推荐一", "推荐二"]


def texts(blocks):
    return [b.text for b in blocks]


def test_text_page_gives_one_block_per_non_empty_line():
    blocks = read_page("第一行\n\n  第二行  \n\u3000\n第三行\n".encode("utf-8"))
    assert texts(blocks) == ["第一行", "第二行", "第三行"]
    assert [b.position for b in blocks] == [0, 1, 2]


@pytest.mark.parametrize("charset,encoding", [("utf-8", "utf-8"), ("gbk", "gbk"), ("gb2312", "gb18030")])
def test_html_blocks_follow_block_elements_in_order(charset, encoding):
    blocks = read_page(HTML.format(charset=charset).encode(encoding))
    assert texts(blocks) == EXPECTED


def test_html_without_declared_charset_falls_back_from_utf8_to_gb18030():
    page = HTML.replace('<meta charset="{charset}">', "").format().encode("gb18030")
    assert texts(read_page(page)) == EXPECTED


def test_bom_wins_over_a_wrong_meta_charset():
    page = codecs.BOM_UTF8 + HTML.format(charset="gbk").encode("utf-8")
    assert texts(read_page(page)) == EXPECTED


def test_scripts_styles_and_noscript_are_dropped():
    joined = "".join(texts(read_page(HTML.format(charset="utf-8").encode())))
    assert "脚本" not in joined and "color" not in joined and "请启用" not in joined


def test_kind_can_be_forced():
    page = "<p>不是HTML的一行</p>\n第二行".encode()
    assert texts(read_page(page, kind="text")) == ["<p>不是HTML的一行</p>", "第二行"]
    assert not looks_like_html("纯文本\n<p>后面才有标签</p>".encode())


@pytest.mark.parametrize("page", [b"", b"   \n\t ", "\n\n".encode()])
def test_empty_page_is_an_error(page):
    with pytest.raises(PageError, match="empty"):
        read_page(page)


def test_html_without_text_is_an_error():
    with pytest.raises(PageError, match="no text"):
        read_page(b"<html><body><script>x()</script></body></html>")


def test_huge_page_is_refused_before_parsing():
    with pytest.raises(PageError, match="limit"):
        read_page(b"a" * 101, max_bytes=100)


def test_undecodable_bytes_are_an_error():
    with pytest.raises(PageError, match="neither utf-8 nor gb18030"):
        decode(b"\x81\x20\xff\xfe\x80")


def test_text_hash_is_short_and_stable():
    assert text_hash("江城") == text_hash("江城") != text_hash("江城市")
    assert len(text_hash("江城")) == 10


def test_example_page_reads_as_chrome_article_and_list():
    blocks = texts(read_page(EXAMPLE_PAGE.read_bytes()))
    assert blocks[0].endswith("_示例新闻网")  # the browser title
    assert "江城市：以高质量发展答好“五张答卷”" in blocks
    starts = ("3月17日", "科技创新动能", "现代产业体系", "生态环境质量", "民生福祉", "城市影响力", "发布会最后")
    body = [b for b in blocks if b.startswith(starts)]
    assert [b[:4] for b in body] == [s[:4] for s in starts]  # seven body paragraphs, one block each
    assert "相关推荐" in blocks and blocks[-1] == "无障碍浏览 进入关怀版"


@needs_corpora
def test_seed_page_gives_125_blocks(corpora):
    blocks = read_page((corpora / "seed" / "taiyuan-163.txt").read_bytes())
    assert len(blocks) == 125
    assert blocks[0].text.startswith("网易首页 >") and blocks[0].text.endswith(" > 正文")  # the breadcrumb


@needs_corpora
def test_every_news_page_reads_with_article_paragraphs_as_separate_blocks(corpora):
    pages = sorted((corpora / "news-pages-html").glob("*.html"))
    assert len(pages) == 42
    for path in pages:
        blocks = read_page(path.read_bytes())
        assert len(blocks) >= 10, path.name
        assert not any("function(" in b.text or "{display" in b.text.replace(" ", "") for b in blocks), path.name


@needs_corpora
def test_news_article_paragraphs_are_separate_blocks(corpora):
    """The blocks read as article content (data/labels) are paragraph-sized, not merged articles."""
    from paratheme.corpus import load_document
    from paratheme.labelfiles import read_label_file

    for path in sorted((corpora / "news-pages-html").glob("*.html")):
        labels = read_label_file(REPO / "data" / "labels" / "news" / f"{path.stem}.tsv")
        blocks = load_document("news", path.stem, corpora).blocks
        content = [blocks[l.position].text for l in labels if l.label != "boilerplate"]
        if path.stem == "other-1":  # a government bulletin page whose article is an empty shell
            assert content == []
            continue
        assert len(content) >= 2, path.name
        assert max(len(t) for t in content) < 1500, f"{path.name}: a content block looks like merged paragraphs"


# Bad and unusual input (issue 14).

def test_lone_surrogate_is_a_page_error_not_an_encoding_crash():
    for page in ("abc\ud800", "<p>正文\udc00</p>"):
        with pytest.raises(PageError, match="lone surrogate"):
            read_page(page)


def test_a_run_of_empty_comments_is_read_without_backtracking():
    # The old start-of-HTML regex backtracked exponentially here: 30 comments took minutes.
    code = "from paratheme.pages import read_page; print([b.text for b in read_page(b'<!---->' * 30 + b'x')])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(["<!---->" * 30 + "x"])  # not HTML: one line of text


def test_meta_charset_of_a_page_given_as_str_is_ignored():
    page = HTML.format(charset="gb2312")  # already decoded (a JSON string, say)
    assert texts(read_page(page)) == EXPECTED


def test_utf8_bytes_under_a_gbk_declaration_are_read_as_utf8(caplog):
    page = '<html><head><meta charset="gbk"><title>江城新闻</title></head><body><p>全市新增城镇就业</p></body></html>'
    assert "鍏ㄥ競" in page.encode("utf-8").decode("gb18030")  # the declaration alone gives mojibake, not an error
    assert texts(read_page(page.encode("utf-8"))) == ["江城新闻", "全市新增城镇就业"]
    assert "bytes are utf-8" in caplog.text


@pytest.mark.parametrize("charset", ["undefined", "utf-16", "no-such-charset", "rot13", "unicode_escape", "utf-7"])
def test_unknown_or_unusable_declared_charset_is_ignored_with_a_warning(charset, caplog):
    assert texts(read_page(HTML.format(charset=charset).encode("utf-8"))) == EXPECTED
    assert repr(charset) in caplog.text


@pytest.mark.parametrize("charset", ["ascii", "utf-8"])
def test_declared_charset_the_bytes_do_not_fit_falls_back_with_a_warning(charset, caplog):
    assert texts(read_page(HTML.format(charset=charset).encode("gb18030"))) == EXPECTED
    assert f"do not decode as {charset}" in caplog.text


@pytest.mark.parametrize("page", [
    '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "x.dtd">\n'
    '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>第一段正文。</p></body></html>',
    "<script>var a = 1;</script><p>第一段正文。</p>",
    '<link rel="stylesheet" href="a.css"><p>第一段正文。</p>',
    "<title>标题</title><p>第一段正文。</p>",
    "<!-- 注释 --><h1>标题</h1><p>第一段正文。</p>",
    "<table><tr><td>第一段正文。</td></tr></table>",
    "<ul><li>第一段正文。</li></ul>",
    "<section><p>第一段正文。</p></section>",
    "<span>第一段正文。</span>",
])
def test_documents_and_fragments_starting_with_any_html_tag_are_html(page):
    for form in (page, page.encode("utf-8")):
        assert looks_like_html(form)
        blocks = texts(read_page(form))
        assert "第一段正文。" in blocks and not any("<" in b or "var a" in b for b in blocks)


@pytest.mark.parametrize("page", ["纯文本\n<p>后面才有标签</p>", "<江城>新闻\n第二行", "<3 江城\n第二行", "<!-- 只有注释"])
def test_text_that_merely_contains_angle_brackets_stays_text(page):
    assert not looks_like_html(page) and not looks_like_html(page.encode("utf-8"))


def nested(depth: int) -> str:
    return "<html><body>" + "<div>" * depth + "<p>深处的正文。</p>" + "</div>" * depth + "<p>之后的正文。</p></body></html>"


def test_content_nested_past_libxml2s_default_limit_is_read():
    assert texts(read_page(nested(1000))) == ["深处的正文。", "之后的正文。"]


def test_content_nested_deeper_than_the_parser_reads_is_an_error_not_a_silent_cut():
    with pytest.raises(PageError, match="nests elements more than"):
        read_page(nested(3000))


def test_doctype_internal_subset_is_not_a_block():
    page = '<!DOCTYPE html [ <!ENTITY site "江城网"> ]>\n<html><body><p>正文&site;一段。</p></body></html>'
    blocks = texts(read_page(page.encode("utf-8")))
    assert blocks == ["正文&site;一段。"]  # the entity is never expanded
