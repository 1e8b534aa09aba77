"""Batch labeling on the local engine: the batch API, `classify SOURCE --jsonl`, `label`, resume,
and `predict` (same labels as the page path, one-line errors, nothing left behind)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from batchpages import SENTENCES, html_page, write_corpus
from conftest import EXAMPLE_PAGE, REPO
from paratheme import Classifier
from paratheme.batch import Page, label_pages
from paratheme.cli import main
from paratheme.labels import LABELS

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def classifier(tiny_model):
    return Classifier.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus") / "pages"
    bad = write_corpus(folder)
    return folder, bad


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_parts(folder):
    rows = []
    for part in sorted(folder.iterdir()):
        if part.suffix == ".parquet":
            rows += pq.read_table(part).to_pylist()
        elif part.suffix == ".jsonl":
            rows += read_jsonl(part)
    return sorted(rows, key=lambda r: (r["page"], r["position"] if r["position"] is not None else -1))


def test_label_pages_gives_the_classifiers_own_page_labels_and_error_pages(classifier):
    example = EXAMPLE_PAGE.read_bytes()
    pages = [("a", example), ("empty", b"  "), ("surrogate", "abc\ud800"), str(EXAMPLE_PAGE),
             Page("text", content="\n".join(SENTENCES[:3]), kind="text")]
    labeled = list(label_pages(classifier, pages))
    assert [p.page for p in labeled] == ["a", "empty", "surrogate", str(EXAMPLE_PAGE), "text"]
    expected = classifier.classify_page(example)
    assert labeled[0].error is None and labeled[0].blocks == expected and labeled[3].blocks == expected
    assert labeled[1].error == "page is empty" and labeled[1].rows()[0]["position"] is None
    assert "surrogate" in labeled[2].error
    assert [b.text for b in labeled[4].blocks] == SENTENCES[:3]


def test_classify_folder_jsonl_writes_a_row_per_block_and_reports_bad_files(tiny_model, corpus, tmp_path, capsys):
    folder, bad = corpus
    code, _, err = run(["classify", str(folder), "--jsonl", str(tmp_path / "out.jsonl"), "--model", str(tiny_model)],
                       capsys)
    assert code == 0
    rows = read_jsonl(tmp_path / "out.jsonl")
    assert {r["page"] for r in rows} == {p.relative_to(folder).as_posix() for p in folder.rglob("*")
                                         if p.is_file() and not p.name.startswith(".")}
    errors = {r["page"]: r["error"] for r in rows if r["error"]}
    assert errors.keys() == bad.keys() and all(bad[page] in errors[page] for page in bad)
    for page in bad:
        assert f"skipped {page}" in err
    assert "labeled 20 pages" in err and "2 could not be read" in err
    example = [r for r in rows if r["page"] == "example.html"]
    assert [r["position"] for r in example] == list(range(25))
    for r in example:
        assert set(r) == {"page", "position", "text", "label", "score", "scores", "error"}
        assert set(r["scores"]) == set(LABELS) and r["score"] == max(r["scores"].values())
    # GB18030 pages in a subfolder are read under their declared charset.
    notice = [r["text"] for r in rows if r["page"] == "gov/2026/notice-1.html"]
    assert SENTENCES[1] in notice


def test_label_parquet_equals_classify_jsonl(tiny_model, corpus, tmp_path, capsys):
    folder, _ = corpus
    assert run(["classify", str(folder), "--jsonl", str(tmp_path / "c.jsonl"), "--model", str(tiny_model)], capsys)[0] == 0
    assert run(["label", str(folder), "--output", str(tmp_path / "out"), "--model", str(tiny_model)], capsys)[0] == 0
    by_key = lambda r: (r["page"], r["position"] if r["position"] is not None else -1)  # noqa: E731
    assert read_parts(tmp_path / "out") == sorted(read_jsonl(tmp_path / "c.jsonl"), key=by_key)


def test_label_resumes_and_writes_each_page_once(tiny_model, corpus, tmp_path, capsys):
    folder, _ = corpus
    out = tmp_path / "out"
    code, _, err = run(["label", str(folder / "news-*.html"), "--output", str(out), "--model", str(tiny_model),
                        "--format", "jsonl"], capsys)
    assert code == 0 and "labeled 10 pages" in err
    # What a killed run leaves: a half-written part and a temporary file.
    (out / "part-killed-00000.jsonl").write_text('{"page": "notes-0.txt", "posi', encoding="utf-8")
    (out / "part-killed-00001.jsonl.partial").write_text("{}", encoding="utf-8")
    code, _, err = run(["label", str(folder), "--output", str(out), "--model", str(tiny_model), "--format", "jsonl"],
                       capsys)
    assert code == 0 and "10 already there" in err and "labeled 10 pages" in err and "2 could not be read" in err
    assert "part-killed-00000.jsonl could not be read" in err
    assert not list(out.glob("*.partial")) and (out / "part-killed-00000.jsonl.incomplete").exists()
    rows = read_parts(out)
    pages = {r["page"] for r in rows}
    assert len(pages) == 22
    for page in pages:  # each page once: its positions are 0..n-1 with no repeats
        positions = [r["position"] for r in rows if r["page"] == page]
        assert positions == [None] or positions == list(range(len(positions)))


def test_label_into_a_folder_inside_the_pages_never_reads_its_own_output(tiny_model, tmp_path, capsys):
    (tmp_path / "a.txt").write_text(SENTENCES[0], encoding="utf-8")
    for _ in range(2):
        code, _, err = run(["label", str(tmp_path), "--output", str(tmp_path / "labels"), "--model", str(tiny_model),
                            "--format", "jsonl"], capsys)
        assert code == 0
    assert "labeled 0 pages" in err and "1 already there" in err
    assert [r["page"] for r in read_parts(tmp_path / "labels")] == ["a.txt"]


def test_label_reads_a_jsonl_source_with_error_rows_for_bad_rows(tiny_model, tmp_path, capsys):
    source = tmp_path / "pages.jsonl"
    rows = [{"id": "h", "html": html_page("标题", SENTENCES[:2])}, {"id": 7, "text": "\n".join(SENTENCES[2:5])},
            {"id": "both", "html": "<p>甲</p>", "text": "乙"}, {"text": "没有编号"}, {"id": "blank", "text": "   "}]
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) + '{"id": "cut", "te\n{"id": NaN, "text": "甲"}\n'
    source.write_bytes(lines.encode("utf-8") + '{"id": "gbk", "text": "乙"}\n'.encode("gbk"))
    code, _, err = run(["label", str(source), "--output", str(tmp_path / "out"), "--model", str(tiny_model)], capsys)
    assert code == 0 and "labeled 2 pages" in err and "6 could not be read" in err
    out = read_parts(tmp_path / "out")
    assert [r["text"] for r in out if r["page"] == "7"] == SENTENCES[2:5]
    assert SENTENCES[0] in [r["text"] for r in out if r["page"] == "h"]
    errors = {r["page"]: r["error"] for r in out if r["error"]}
    assert errors == {"both": 'each row needs one string field, "html" or "text"',
                      "pages.jsonl:4": 'each row needs an "id" that is a string or an integer', "blank": "page is empty",
                      "pages.jsonl:6": "not valid JSON (Unterminated string starting at)",
                      "pages.jsonl:7": 'each row needs an "id" that is a string or an integer',
                      "pages.jsonl:8": "line is not UTF-8 text"}


@pytest.mark.parametrize("argv_tail,message", [
    (["--output", "{tmp}/x", "--format", "csv"], "invalid choice"),
    (["--output", "{tmp}/file.txt"], "exists and is not a folder"),
])
def test_label_refuses_bad_outputs(tiny_model, corpus, tmp_path, capsys, argv_tail, message):
    (tmp_path / "file.txt").write_text("x", encoding="utf-8")
    argv = ["label", str(corpus[0]), "--model", str(tiny_model), *[a.format(tmp=tmp_path) for a in argv_tail]]
    try:
        code, _, err = run(argv, capsys)
    except SystemExit as exc:  # argparse
        code, err = exc.code, capsys.readouterr().err
    assert code != 0 and message in err


def test_label_of_a_missing_source_is_one_line(tiny_model, tmp_path, capsys):
    code, _, err = run(["label", str(tmp_path / "nope"), "--output", str(tmp_path / "o"), "--model", str(tiny_model)],
                       capsys)
    assert code == 1 and err.count("\n") == 1 and "not found" in err


# --- predict ------------------------------------------------------------------------------------

def write_rows(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_predict_page_rows_get_the_same_labels_as_the_page_path(tiny_model, classifier, tmp_path, capsys):
    """A page given as predict rows (doc_id, position) and the same page given to label_pages."""
    texts = [b.text for b in classifier.classify_page(EXAMPLE_PAGE.read_bytes())]
    rows = [{"id": f"d{i}", "text": t, "doc_id": "page", "position": i} for i, t in enumerate(texts)]
    rows.insert(5, {"id": "loose", "text": SENTENCES[0]})
    write_rows(tmp_path / "in.jsonl", rows)
    code, _, _ = run(["predict", "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"),
                      "--model", str(tiny_model), "--chunk-rows", "4"], capsys)  # the page outlasts the chunk
    assert code == 0
    predicted = {r["id"]: r for r in read_jsonl(tmp_path / "out.jsonl")}
    [page] = label_pages(classifier, [("page", "\n".join(texts))])
    for block in page.blocks:
        assert predicted[f"d{block.position}"]["label"] == block.label
        assert predicted[f"d{block.position}"]["scores"] == pytest.approx(block.scores, abs=1e-5)


@pytest.mark.parametrize("content,message", [
    ("gbk", "not UTF-8"),
    ('{"id": 1, "text": "abc\\ud800"}\n', "in.jsonl:1: a string holds a lone surrogate"),
    ('{"id": 1, "text": "好", "doc_id": ["a"], "position": 0}\n', "in.jsonl:1: doc_id must be a string or an integer"),
    ('{"id": 1, "text": "好"}\n{"id": NaN, "text": "好"}\n', "in.jsonl:2: id nan holds NaN or Infinity"),
    ('{"id": {"x": Infinity}, "text": "好"}\n', "in.jsonl:1: id {'x': inf} holds NaN or Infinity"),
    ('{"id": 1, "text": "好", "doc_id": "a", "position": "3"}\n', "in.jsonl:1: position must be an integer"),
])
def test_predict_bad_rows_are_one_line_errors(tiny_model, tmp_path, capsys, content, message):
    if content == "gbk":
        (tmp_path / "in.jsonl").write_bytes('{"id": 1, "text": "江城新增就业岗位"}\n'.encode("gbk"))
    else:
        (tmp_path / "in.jsonl").write_text(content, encoding="utf-8")
    code, _, err = run(["predict", "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"),
                        "--model", str(tiny_model)], capsys)
    lines = [line for line in err.splitlines() if line.startswith("paratheme") or "Traceback" in line]
    assert code == 1 and lines == [lines[0]] and message in lines[0], err
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out.jsonl.partial").exists()


@pytest.mark.parametrize("make_args,message", [
    (lambda tmp: ["--input", str(tmp / "in.jsonl"), "--output", str(tmp / "in.jsonl")], "destroy the input"),
    (lambda tmp: ["--input", str(tmp / "in.jsonl"), "--output", str(tmp / "sub" / ".." / "in.jsonl")], "destroy the input"),
    (lambda tmp: ["--input", str(tmp / "in.jsonl"), "--output", str(tmp)], "is a folder; give a file name"),
    (lambda tmp: ["--input", str(tmp), "--output", str(tmp / "out.jsonl")], "is a folder, not a JSONL file"),
])
def test_predict_refuses_bad_paths(tiny_model, tmp_path, capsys, make_args, message):
    (tmp_path / "sub").mkdir()
    write_rows(tmp_path / "in.jsonl", [{"id": 1, "text": "江城新增就业岗位"}])
    before = (tmp_path / "in.jsonl").read_bytes()
    code, _, err = run(["predict", *make_args(tmp_path), "--model", str(tiny_model)], capsys)
    assert code == 1 and err.count("\n") == 1 and message in err
    assert (tmp_path / "in.jsonl").read_bytes() == before and not list(tmp_path.glob("*.partial"))


def test_predict_stopped_by_sigterm_leaves_no_partial_file(tiny_model, tmp_path):
    write_rows(tmp_path / "in.jsonl", [{"id": i, "text": f"第{i}段：江城新增就业岗位{i}个。"} for i in range(200_000)])
    process = subprocess.Popen([sys.executable, "-m", "paratheme.cli", "predict", "--input", str(tmp_path / "in.jsonl"),
                                "--output", str(tmp_path / "out.jsonl"), "--model", str(tiny_model)],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    partial = tmp_path / "out.jsonl.partial"
    deadline = time.monotonic() + 120
    while not partial.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert partial.exists(), "predict never started writing"
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert not partial.exists() and not (tmp_path / "out.jsonl").exists()
    assert b"Traceback" not in err, err.decode(errors="replace")[-2000:]
