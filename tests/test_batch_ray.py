"""The Ray engine of `paratheme label`, on one local Ray with 2 CPUs shared by the module's tests
(Ray takes seconds to start). Every test has a time limit, so a hang fails instead of stalling CI."""

from __future__ import annotations

import json

import pytest

from batchpages import SENTENCES, html_page, write_corpus
from paratheme.cli import main
from paratheme.raylabel import LabelActor, plan_actors

ray = pytest.importorskip("ray")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", address="local")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus") / "pages"
    bad = write_corpus(folder)
    return folder, bad


def rows_of(folder):
    rows = []
    for part in sorted(folder.iterdir()):
        if part.suffix == ".parquet":
            rows += pq.read_table(part).to_pylist()
        elif part.suffix == ".jsonl":
            rows += [json.loads(line) for line in part.read_text(encoding="utf-8").splitlines()]
    return sorted(rows, key=lambda r: (r["page"], r["position"] if r["position"] is not None else -1))


def assert_same_blocks(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert {k: v for k, v in a.items() if k not in ("score", "scores")} == \
               {k: v for k, v in b.items() if k not in ("score", "scores")}
        if b["error"] is None:  # thread counts may move the last digit
            assert a["score"] == pytest.approx(b["score"], abs=1e-5)
            assert a["scores"] == pytest.approx(b["scores"], abs=1e-5)


def label(argv, capsys):
    code = main(["label", *argv])
    return code, capsys.readouterr().err


def test_actor_requests_leave_a_cpu_for_reading():
    plan = plan_actors(2.0, actors=2)
    assert plan.actors == 2 and plan.threads == 1 and plan.actors * plan.cpus <= 1.0
    assert plan_actors(2.0) == plan  # the default: one single-threaded actor per CPU
    big = plan_actors(64.0, threads=4)
    assert big.actors == 16 and big.cpus * big.actors <= 63.0


def test_ray_output_equals_local_output_with_error_rows_and_resumes(tiny_model, corpus, tmp_path, capsys):
    folder, bad = corpus
    code, _ = label([str(folder), "--output", str(tmp_path / "local"), "--model", str(tiny_model)], capsys)
    assert code == 0
    out = tmp_path / "ray"
    code, err = label([str(folder / "news-*.html"), "--output", str(out), "--model", str(tiny_model), "--engine", "ray"],
                      capsys)
    assert code == 0 and "labeled 10 pages" in err
    # The resumed run labels the other 12 pages (two of them unreadable) and none of the first 10 again.
    code, err = label([str(folder), "--output", str(out), "--model", str(tiny_model), "--engine", "ray",
                       "--num-actors", "2"], capsys)
    assert code == 0 and "10 already there" in err and "labeled 10 pages" in err and "2 could not be read" in err
    ray_rows, local_rows = rows_of(out), rows_of(tmp_path / "local")
    assert_same_blocks(ray_rows, local_rows)  # so each page is there once, block for block
    errors = {r["page"]: r["error"] for r in ray_rows if r["error"]}
    assert errors.keys() == bad.keys() and all(bad[page] in errors[page] for page in bad)
    assert len({r["page"] for r in ray_rows}) == 22
    code, err = label([str(folder), "--output", str(out), "--model", str(tiny_model), "--engine", "ray"], capsys)
    assert code == 0 and "labeled 0 pages" in err and rows_of(out) == ray_rows


def test_label_actor_skips_jsonl_pages_already_done(tiny_model):
    """The actor's own filter, which resumes JSONL sources (their ids are known only once read)."""
    import pyarrow as pa

    actor = LabelActor(str(tiny_model), "auto", 1, "", frozenset({"done"}))
    batch = pa.Table.from_pylist([{"id": "done", "html": None, "text": "甲"}, {"id": "new", "html": None, "text": "乙\n丙"}])
    out = actor(batch).to_pylist()
    assert [(r["page"], r["position"], r["text"]) for r in out] == [("new", 0, "乙"), ("new", 1, "丙")]


def test_ray_reads_jsonl_sources_and_writes_jsonl_like_local(tiny_model, tmp_path, capsys):
    source = tmp_path / "pages.jsonl"
    rows = [{"id": f"p{i}", "html": html_page(f"标题{i}", SENTENCES[i:i + 3])} for i in range(6)]
    rows += [{"id": "t", "text": "\n".join(SENTENCES[:4])}, {"id": "empty", "text": ""}]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    args = [str(source), "--model", str(tiny_model), "--format", "jsonl"]
    assert label([*args, "--output", str(tmp_path / "local")], capsys)[0] == 0
    code, err = label([*args, "--output", str(tmp_path / "ray"), "--engine", "ray"], capsys)
    assert code == 0 and "labeled 7 pages" in err and "1 could not be read" in err
    assert_same_blocks(rows_of(tmp_path / "ray"), rows_of(tmp_path / "local"))
    # Ray's JSON reader cannot skip a malformed line: the job stops with one line that says so.
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "甲"}\n{"id": "b", "te\n', encoding="utf-8")
    code, err = label([str(bad), "--model", str(tiny_model), "--output", str(tmp_path / "bad"), "--engine", "ray"], capsys)
    [line] = [line for line in err.splitlines() if line.startswith("paratheme: error:")]
    assert code == 1 and "the Ray job stopped on" in line and "--engine local writes those lines as error rows" in line
