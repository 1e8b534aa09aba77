"""Label files and the split loader, on a tiny corpus written here, plus the real data's counts."""

from __future__ import annotations

import pytest

from conftest import REPO, needs_corpora
from paratheme.data import DataError, load_examples, load_splits
from paratheme.labelfiles import BlockLabel, LabelFileError, write_label_file
from paratheme.pages import text_hash

SEED = ["首页 > 正文", "江城召开新闻发布会", "江城新增高新技术企业三百家", "相关推荐"]
REPORT = ["下载", "2026年江城市政府工作报告", "完成老旧小区改造两百个", "空气质量优良天数比例提高"]
GOOD = {
    "seed/taiyuan-163": ["boilerplate", "other", "innovation", "boilerplate"],
    "provincial/jiangcheng": ["boilerplate", "other", "livelihood", "ecology"],
}


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpora"
    (root / "seed").mkdir(parents=True)
    (root / "seed" / "taiyuan-163.txt").write_text("\n\n".join(SEED), encoding="utf-8")
    (root / "gov-reports-provincial-2026").mkdir()
    text = "\n".join(REPORT).replace('"', '""')
    (root / "gov-reports-provincial-2026" / "jiangcheng.csv").write_text(
        f'\ufeffprovince,year,title,source_url,publish_date,full_text\njiangcheng,2026,t,u,d,"{text}"\n', encoding="utf-8")
    return root


def write_labels(data, doc, labels, texts, how="read"):
    write_label_file(data / "labels" / f"{doc}.tsv",
                     [BlockLabel(i, label, text_hash(t), how) for i, (label, t) in enumerate(zip(labels, texts))])


@pytest.fixture
def data(tmp_path):
    data = tmp_path / "data"
    write_labels(data, "seed/taiyuan-163", GOOD["seed/taiyuan-163"], SEED)
    write_labels(data, "provincial/jiangcheng", GOOD["provincial/jiangcheng"], REPORT)
    (data / "splits.yaml").write_text("test:\n  - seed/taiyuan-163\n", encoding="utf-8")
    return data


def test_loader_joins_labels_with_text_and_splits_by_document(data, corpus):
    splits = load_splits(data, corpus)
    assert set(splits) == {"train", "dev", "test"}
    assert splits["test"]["text"] == SEED and set(splits["test"]["doc_id"]) == {"taiyuan-163"}
    assert splits["train"]["text"] == REPORT
    names = splits["train"].features["label"].names
    assert [names[i] for i in splits["train"]["label"]] == GOOD["provincial/jiangcheng"]


def test_written_texts_go_to_train_only(data, corpus):
    (data / "written").mkdir()
    (data / "written" / "mine.tsv").write_text("id\tlabel\ttext\nr1\treputation\t江城入选最具幸福感城市\n", encoding="utf-8")
    splits = load_examples(data, corpus)
    assert [(e.label, e.how) for e in splits["train"] if e.source == "written"] == [("reputation", "written")]
    assert all(e.source != "written" for e in splits["dev"] + splits["test"])


def test_labels_not_given_by_reading_are_never_gold(data, corpus):
    write_labels(data, "seed/taiyuan-163", GOOD["seed/taiyuan-163"], SEED, how="model")
    assert load_examples(data, corpus)["test"] == []


def corrupt(data, doc, old, new):
    path = data / "labels" / f"{doc}.tsv"
    path.write_text(path.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    return path


def test_changed_text_is_caught_by_its_hash(data, corpus):
    (corpus / "seed" / "taiyuan-163.txt").write_text("\n".join(SEED).replace("三百", "四百"), encoding="utf-8")
    with pytest.raises(LabelFileError, match=r"taiyuan-163.tsv: position 2: hash .* does not match"):
        load_examples(data, corpus)


def test_unknown_label_names_file_and_line(data, corpus):
    corrupt(data, "provincial/jiangcheng", "\tlivelihood\t", "\twelfare\t")
    with pytest.raises(LabelFileError, match=r"jiangcheng.tsv:4: position 2: unknown label 'welfare'"):
        load_examples(data, corpus)


def test_duplicate_position_is_an_error(data, corpus):
    path = data / "labels" / "provincial" / "jiangcheng.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines + [lines[2]]) + "\n", encoding="utf-8")
    with pytest.raises(LabelFileError, match="position 1 is labeled twice"):
        load_examples(data, corpus)


def test_missing_position_is_an_error(data, corpus):
    path = data / "labels" / "provincial" / "jiangcheng.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(LabelFileError, match="1 positions have no label: 3"):
        load_examples(data, corpus)


def test_position_beyond_the_document_is_an_error(data, corpus):
    path = data / "labels" / "provincial" / "jiangcheng.tsv"
    path.write_text(path.read_text(encoding="utf-8") + "9\tother\tabcdef1234\tread\n", encoding="utf-8")
    with pytest.raises(LabelFileError, match="position 9 does not exist"):
        load_examples(data, corpus)


def test_unknown_how_and_bad_header_are_errors(data, corpus):
    corrupt(data, "provincial/jiangcheng", "\tread", "\tguessed")
    with pytest.raises(LabelFileError, match="unknown how 'guessed'"):
        load_examples(data, corpus)
    corrupt(data, "provincial/jiangcheng", "position\tlabel", "pos\tlabel")
    with pytest.raises(LabelFileError, match=":1: header must be"):
        load_examples(data, corpus)


def test_document_in_two_splits_is_an_error(data, corpus):
    (data / "splits.yaml").write_text("test: [seed/taiyuan-163]\ndev: [seed/taiyuan-163]\n", encoding="utf-8")
    with pytest.raises(DataError, match="seed/taiyuan-163 is in both dev and test"):
        load_examples(data, corpus)


def test_split_naming_an_unlabeled_document_is_an_error(data, corpus):
    (data / "splits.yaml").write_text("dev: [news/nowhere]\n", encoding="utf-8")
    with pytest.raises(DataError, match="documents without a label file: news/nowhere"):
        load_examples(data, corpus)


def test_label_file_for_a_document_not_in_the_corpora_is_an_error(data, corpus):
    write_labels(data, "news/missing-page", ["other"], ["x"])
    with pytest.raises(DataError, match="missing-page.tsv: no document 'missing-page'"):
        load_examples(data, corpus)


def test_written_file_with_unknown_label_is_an_error(data, corpus):
    (data / "written").mkdir()
    (data / "written" / "bad.tsv").write_text("id\tlabel\ttext\nx1\tfame\t江城很有名\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.tsv:2: unknown label 'fame'"):
        load_examples(data, corpus)


@needs_corpora
def test_project_data_meets_the_coverage_and_split_rules(corpora):
    """The committed labels: every corpus document labeled, gold split sizes, test label counts."""
    from collections import Counter

    from paratheme.corpus import list_documents

    splits = load_examples(REPO / "data", corpora)
    labeled = {(e.source, e.doc_id) for split in splits.values() for e in split if e.source != "written"}
    assert labeled == set(list_documents(corpora))
    for split in ("dev", "test"):
        assert len(splits[split]) >= 500
        assert {e.source for e in splits[split]} >= {"news", "provincial", "national"}
        assert all(e.how == "read" for e in splits[split])
    assert min(Counter(e.label for e in splits["test"]).values()) >= 30
    train_docs = {(e.source, e.doc_id) for e in splits["train"]}
    assert not train_docs & {(e.source, e.doc_id) for e in splits["dev"] + splits["test"]}
    content = sum(1 for split in splits.values() for e in split if e.label != "boilerplate" and e.how == "read")
    assert content >= 4000
    train = Counter(e.label for e in splits["train"])
    assert all(train[label] >= 200 for label in ("innovation", "industry", "ecology", "livelihood", "reputation"))


@needs_corpora
def test_our_own_text_never_quotes_the_corpora(corpora):
    """Written paragraphs, examples and test fixtures are ours: none may repeat a run of corpus
    text (12 Chinese characters in a row, figures and punctuation skipped; the corpora are not ours
    to redistribute), nor copy a line of the HTML pages' chrome (a footer, copyright line or
    licence number: written chrome is invented, so that it cannot coincide with a page someone
    evaluates on)."""
    from training.overlap import find_copies, load_corpus

    corpus = load_corpus(str(corpora))
    assert len(corpus.chrome.blocks) > 10000  # the pages were read: the chrome rule is not idle
    ours = [REPO / "data" / "written", REPO / "examples", REPO / "tests", REPO / "reports", REPO / "README.md",
            REPO / "model_card.md", REPO / "data" / "README.md", REPO / "model" / "README.md"]
    hits = find_copies(ours, corpus)
    assert not hits, "\n".join(f"{hit.path}:{hit.line}: {hit.rule}: {hit.text}" for hit in hits[:20])


def test_overlap_finds_the_longest_shared_run_and_ignores_short_or_non_chinese_ones():
    from training.overlap import corpus_spans, quoted

    spans = corpus_spans(["全市新建口袋公园三十个，绿道总长达到一百公里。", "Copyright 2026 All Rights Reserved"])
    assert quoted("今年新建口袋公园三十个，绿道总长达到一百公里以上", spans) == "新建口袋公园三十个，绿道总长达到一百公里"
    assert quoted("口袋公园三十个，另有绿地", spans) is None  # 8 shared characters: a stock phrase
    assert quoted("Copyright 2026 All Rights Reserved", spans) is None  # no Chinese


def test_overlap_sees_through_changed_figures_and_punctuation():
    from training.overlap import corpus_spans, quoted

    spans = corpus_spans(["霁川湿地观测站今年记录到鸟类120种，其中珍稀候鸟9种。"])
    assert quoted("据悉霁川湿地观测站今年记录到鸟类135种;其中珍稀候鸟11种", spans) == "霁川湿地观测站今年记录到鸟类135种;其中珍稀候鸟11种"


def test_chrome_rule_catches_a_copied_footer_through_year_case_and_spacing_changes():
    from training.overlap import chrome_index, copied_chrome

    chrome = chrome_index(["Copyright © 2003-2019 Lanxi Daily Press. All Rights Reserved",
                           "读者热线：0999-8675309　邮箱：tips@lanxi-daily.example",
                           "分享到", "返回顶部"])
    copied = copied_chrome("Copyright©2003 - 2026 LANXI DAILY PRESS. All rights reserved", chrome)
    assert copied == "copyright©2003-2026lanxidailypress.allrightsreserved"  # the whole line, folded
    # A copied hotline inside a longer line: its longest shared run, 20 characters or more.
    assert copied_chrome("欢迎爆料 读者热线:0999-8675309 邮箱:tips@lanxi-daily.example 全天值守", chrome) == \
        "读者热线:0999-8675309邮箱:tips@lanxi-daily.example"
    assert copied_chrome("分享到", chrome) is None  # one-phrase chrome is every site's
    assert copied_chrome("【返回顶部】", chrome) is None


def test_chrome_rule_leaves_stock_formulas_other_numbers_and_code_alone():
    from training.overlap import chrome_index, copied_chrome

    chrome = chrome_index(["Copyright © 2010 Northwind Trading Corporation, All Rights Reserved",
                           "蓝溪县互联网信息服务备案：蓝ICP备12345678号",
                           "if response.status_code == 200: print(response.json())"])
    # The copyright formula is on every site: only a company of our own around it.
    assert copied_chrome("Copyright © 2026 蓝溪传媒 Corporation, All Rights Reserved", chrome) is None
    # The same form of licence line with a number of our own is not a copy (only years are masked).
    assert copied_chrome("蓝溪县互联网信息服务备案：蓝ICP备87654321号", chrome) is None
    # Pieces without Chinese get the whole-piece test only: code repeats code by chance.
    assert copied_chrome("assert response.status_code == 200", chrome) is None


def test_overlap_reports_each_rule_by_line_and_splits_lines_into_fields(tmp_path):
    from training.overlap import Corpus, chrome_index, corpus_spans, find_copies

    page = ["Copyright © 1999-2020 Qinglan Net. All Rights Reserved", "霁川湿地观测站今年记录到鸟类一百二十种，其中珍稀候鸟九种"]
    corpus = Corpus(corpus_spans(page), chrome_index(page))
    written = tmp_path / "written.tsv"
    written.write_text("id\tlabel\ttext\n"
                       "w-1\tboilerplate\tCopyright © 1999-2026 Qinglan Net. All Rights Reserved\n"
                       "w-2\tecology\t霁川湿地观测站今年记录到鸟类一百三十种\n"
                       "w-3\tboilerplate\tCopyright © 2026 霁川传媒 版权所有\n", encoding="utf-8")
    hits = find_copies([written], corpus)
    assert [(hit.line, hit.rule) for hit in hits] == [(2, "chrome"), (3, "quote")]
    assert hits[0].text == "copyright©1999-2026qinglannet.allrightsreserved"

