"""The paratheme command, run in-process through ``main(argv)`` and once as a real subprocess."""

import json
import subprocess
import sys

import pytest

from conftest import EXAMPLE_PAGE, REPO
from paratheme.cli import main
from paratheme.labels import LABELS


def run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_classify_json_gives_every_block_in_page_order(tiny_model, capsys):
    code, out, _ = run(["classify", str(EXAMPLE_PAGE), "--json", "--model", str(tiny_model)], capsys)
    assert code == 0
    blocks = json.loads(out)["blocks"]
    assert [b["position"] for b in blocks] == list(range(25))
    for block in blocks:
        assert set(block) == {"position", "text", "label", "score", "scores"}
        assert set(block["scores"]) == set(LABELS)
        assert block["label"] in LABELS and block["score"] == max(block["scores"].values())


def test_classify_table_and_content(tiny_model, capsys):
    code, out, _ = run(["classify", str(EXAMPLE_PAGE), "--model", str(tiny_model)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["pos", "label", "conf", "text"] and len(lines) == 26
    code, out, _ = run(["classify", str(EXAMPLE_PAGE), "--content", "--model", str(tiny_model)], capsys)
    assert code == 0
    assert all(line.startswith("[") and "[boilerplate]" not in line for line in out.splitlines())


def test_classify_reads_standard_input(tiny_model, capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("第一行\n第二行\n".encode("gb18030"))))
    code, out, _ = run(["classify", "-", "--json", "--model", str(tiny_model)], capsys)
    assert code == 0 and [b["text"] for b in json.loads(out)["blocks"]] == ["第一行", "第二行"]


@pytest.mark.parametrize("make_page,message", [
    (lambda tmp: tmp / "absent.html", "not found"),
    (lambda tmp: (tmp / "empty.txt").write_bytes(b"  \n") and tmp / "empty.txt", "page is empty"),
    (lambda tmp: tmp, "is a folder"),
])
def test_classify_errors_are_one_line_and_nonzero(tiny_model, tmp_path, capsys, make_page, message):
    code, out, err = run(["classify", str(make_page(tmp_path)), "--model", str(tiny_model)], capsys)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("paratheme: error:") and message in err


def test_model_folder_without_config_is_a_clear_error(tmp_path, capsys):
    code, _, err = run(["classify", str(EXAMPLE_PAGE), "--model", str(tmp_path)], capsys)
    assert code == 1 and "has no config.json" in err and err.count("\n") == 1


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_predict_writes_one_row_per_input_in_order(tiny_model, tmp_path, capsys):
    texts = ["江城新增高新技术企业", "相关推荐", "空气质量优良天数比例提高" * 30, "短"] * 5
    rows = [{"id": f"r{i}", "text": t, "doc_id": "d", "position": i} for i, t in enumerate(texts)]
    write_rows(tmp_path / "in.jsonl", rows)
    code, _, err = run(["predict", "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"),
                        "--model", str(tiny_model), "--batch-size", "3", "--chunk-rows", "7"], capsys)
    assert code == 0 and "wrote 20 predictions" in err
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in out] == [r["id"] for r in rows]
    for r in out:
        assert set(r) == {"id", "label", "scores"} and set(r["scores"]) == set(LABELS)
        assert abs(sum(r["scores"].values()) - 1) < 1e-3
    # The same text gets the same answer wherever it falls in the chunks and batches.
    assert len({json.dumps(r["scores"]) for r in out[::4]}) == 1


@pytest.mark.parametrize("content,message", [
    ('{"id": 1, "text": "好"}\n{"id": 2, "text": \n', "in.jsonl:2: not valid JSON"),
    ('{"id": 1}\n', 'in.jsonl:1: each row needs "id" and a string "text"'),
    ('[1, 2]\n', "in.jsonl:1: each row must be a JSON object"),
    ('{"id": 1, "text": "  "}\n', "in.jsonl:1: text is empty"),
])
def test_predict_rejects_bad_rows_and_leaves_no_output(tiny_model, tmp_path, capsys, content, message):
    (tmp_path / "in.jsonl").write_text(content, encoding="utf-8")
    code, _, err = run(["predict", "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out.jsonl"),
                        "--model", str(tiny_model)], capsys)
    assert code == 1 and message in err
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "out.jsonl.partial").exists()


def test_predict_handles_ten_thousand_rows(tiny_model, tmp_path):
    """10,000 rows through the installed entry point, in chunks (memory stays bounded by --chunk-rows)."""
    rows = [{"id": i, "text": f"第{i}段：江城新增就业岗位{i % 97}个。"} for i in range(10_000)]
    write_rows(tmp_path / "in.jsonl", rows)
    result = subprocess.run([sys.executable, "-m", "paratheme.cli", "predict", "--input", str(tmp_path / "in.jsonl"),
                             "--output", str(tmp_path / "out.jsonl"), "--model", str(tiny_model), "--chunk-rows", "1000"],
                            capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr
    out = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(out) == 10_000 and json.loads(out[-1])["id"] == 9_999
