"""Bad and unusual pages and texts (issue 14) through the command line, the endpoint handler and
the JSONL reader: each gets its result or a one-line error / a 4xx, never a traceback."""

import json
import subprocess
import sys

import pytest

from conftest import REPO
from paratheme.cli import main
from paratheme.jsonl import RowError, read_rows
from serve.handler import EndpointHandler, InputError

PAGE = '<html><head><meta charset="{charset}"><title>江城新闻</title></head><body><p>全市新增城镇就业</p></body></html>'
NESTED_TOO_DEEP = "<html><body>" + "<div>" * 3000 + "<p>深处</p>" + "</div>" * 3000 + "</body></html>"
# Pages that once gave a traceback, a 500 or garbled blocks (the comment run, which once hung, is
# tested in a subprocess below).
BAD_PAGES = {
    "undefined charset": PAGE.format(charset="undefined"),
    "utf-16 charset": PAGE.format(charset="utf-16"),
    "xhtml": '<?xml version="1.0" encoding="gb2312"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body><p>全市新增城镇就业</p></body></html>',
    "doctype subset": '<!DOCTYPE html [ <!ENTITY a "江城"> ]><html><body><p>全市新增城镇就业</p></body></html>',
    "nested too deep": NESTED_TOO_DEEP,
    "only markup": "<html><body><script>x()</script></body></html>",
}


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def handler(tiny_model):
    return EndpointHandler(str(tiny_model))


@pytest.mark.parametrize("name", BAD_PAGES)
def test_cli_answers_every_bad_page_with_blocks_or_one_line(name, tiny_model, tmp_path, capsys):
    path = tmp_path / "page.html"
    path.write_bytes(BAD_PAGES[name].encode("utf-8"))
    code, out, err = run(["classify", str(path), "--json", "--model", str(tiny_model)], capsys)
    if code == 0:
        texts = [b["text"] for b in json.loads(out)["blocks"]]
        assert "全市新增城镇就业" in texts and not any("<" in t or "]>" in t for t in texts)
    else:
        assert code == 1 and err.count("\n") == 1 and err.startswith("paratheme: error:"), err


@pytest.mark.parametrize("name", BAD_PAGES)
def test_handler_answers_every_bad_page_with_blocks_or_a_4xx(name, handler):
    try:
        result = handler({"inputs": BAD_PAGES[name], "parameters": {"mode": "page"}})
    except InputError as exc:
        assert 400 <= exc.status < 500 and exc.error_type == "invalid_page"
    else:
        texts = [b["text"] for b in result["blocks"]]
        assert "全市新增城镇就业" in texts and not any("<" in t or "]>" in t for t in texts)


def test_cli_reads_utf8_bytes_declared_gbk_as_utf8(tiny_model, tmp_path, capsys):
    path = tmp_path / "page.html"
    path.write_bytes(PAGE.format(charset="gbk").encode("utf-8"))
    code, out, _ = run(["classify", str(path), "--json", "--model", str(tiny_model)], capsys)
    assert code == 0 and [b["text"] for b in json.loads(out)["blocks"]] == ["江城新闻", "全市新增城镇就业"]


def test_cli_says_a_page_nested_too_deep_was_not_read(tiny_model, tmp_path, capsys):
    path = tmp_path / "deep.html"
    path.write_text(NESTED_TOO_DEEP, encoding="utf-8")
    code, _, err = run(["classify", str(path), "--model", str(tiny_model)], capsys)
    assert code == 1 and "nests elements more than 2,048 deep" in err and err.count("\n") == 1


def test_cli_reads_a_run_of_empty_comments_at_once(tiny_model, tmp_path):
    path = tmp_path / "comments.html"
    path.write_bytes(b"<!---->" * 30 + b"x")
    result = subprocess.run([sys.executable, "-m", "paratheme.cli", "classify", str(path), "--json", "--model",
                             str(tiny_model)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert [b["text"] for b in json.loads(result.stdout)["blocks"]] == ["<!---->" * 30 + "x"]


@pytest.mark.parametrize("data", [
    {"inputs": "abc\ud800"},
    {"inputs": ["江城", "abc\ud800"]},
    {"inputs": "abc\ud800", "parameters": {"top_k": 2}},
])
def test_handler_rejects_a_lone_surrogate_text_with_a_422(handler, data):
    with pytest.raises(InputError, match="lone surrogate") as caught:
        handler(data)
    assert caught.value.status == 422 and caught.value.error_type == "invalid_text"


def test_handler_rejects_a_lone_surrogate_page_with_a_422(handler):
    with pytest.raises(InputError, match="lone surrogate") as caught:
        handler({"inputs": "<p>江城\ud800</p>", "parameters": {"mode": "page"}})
    assert caught.value.status == 422 and caught.value.error_type == "invalid_page"


def test_handler_ignores_the_meta_charset_of_a_page_sent_as_text(handler):
    result = handler({"inputs": PAGE.format(charset="gb2312"), "parameters": {"mode": "page"}})
    assert [b["text"] for b in result["blocks"]] == ["江城新闻", "全市新增城镇就业"]


def test_handler_page_mode_caps_blocks_and_characters(tiny_model):
    handler = EndpointHandler(str(tiny_model), max_page_blocks=3, max_page_chars=5_000)
    with pytest.raises(InputError, match="4 blocks; the limit is 3") as caught:
        handler({"inputs": "一\n二\n三\n四", "parameters": {"mode": "page"}})
    assert caught.value.status == 422 and caught.value.error_type == "too_many_items"
    with pytest.raises(InputError, match="the limit is 5,000") as caught:
        handler({"inputs": "江" * 5_001, "parameters": {"mode": "page"}})
    assert caught.value.status == 422 and caught.value.error_type == "page_too_long"


@pytest.mark.parametrize("content,message", [
    ('{"id": 1, "text": "一"}\n{"id": 2, "text": "中文"}\n'.encode("gbk"), r"rows.jsonl:2: not UTF-8 \(byte 0xd6"),
    (b'{"id": 1, "text": "abc\\ud800"}\n', "rows.jsonl:1: a string holds a lone surrogate"),
    (b'{"id": 1, "text": "x", "meta": {"tags": ["\\udc00"]}}\n', "rows.jsonl:1: a string holds a lone surrogate"),
    (b'{"id": 1, "text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n", "rows.jsonl:1: JSON that cannot be read"),
    (b'{"id": ' + b"9" * 5_000 + b', "text": "x"}\n', "rows.jsonl:1: JSON that cannot be read"),
])
def test_jsonl_reader_names_the_line_of_a_bad_row(tmp_path, content, message):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(content)
    with pytest.raises(RowError, match=message):
        list(read_rows(path))


def test_jsonl_reader_takes_a_bom_and_escaped_surrogate_pairs(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": 1, "text": "\\ud83d\\ude00 \\\\ud800"}\n')
    assert list(read_rows(path)) == [(1, {"id": 1, "text": "\U0001F600 \\ud800"})]
