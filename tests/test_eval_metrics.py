"""Evaluation figures on tiny hand-made data; every expected number is worked out by hand."""

import numpy as np
import pytest

from eval import metrics as M
from eval.baselines import KeywordRules, TfidfLogisticRegression, extractor_kept
from paratheme.labels import LABELS


def test_classification_on_hand_made_labels():
    gold = ["innovation", "innovation", "industry", "boilerplate"]
    pred = ["innovation", "industry", "industry", "boilerplate"]
    result = M.classification(gold, pred)
    assert result["accuracy"] == 0.75
    # innovation: P 1/1, R 1/2 -> F1 2/3; industry: P 1/2, R 1/1 -> 2/3; boilerplate 1; the 4 absent labels 0.
    assert result["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 7)
    assert result["per_label"]["industry"] == {"precision": 0.5, "recall": 1.0, "f1-score": pytest.approx(2 / 3), "support": 1}
    assert result["confusion"][0][:2] == [1, 1]


def test_boilerplate_binary_and_theme_macro_on_content():
    gold = ["boilerplate", "boilerplate", "other", "ecology", "ecology"]
    pred = ["boilerplate", "other", "boilerplate", "ecology", "other"]
    # boilerplate: TP 1, FP 1, FN 1 -> P = R = F1 = 0.5
    assert M.boilerplate_binary(gold, pred) == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    # content blocks: other->boilerplate, ecology->ecology, ecology->other.
    # ecology: P 1/1 R 1/2 -> 2/3; other: P 0/1 R 0/1 -> 0; macro over the two present = 1/3
    assert M.theme_macro_f1(gold, pred) == pytest.approx(1 / 3)


def test_expected_calibration_error_by_hand():
    confidence = np.array([0.95, 0.95, 0.55, 0.55, 0.3])
    correct = np.array([1, 0, 1, 1, 0])
    ece, bins = M.expected_calibration_error(confidence, correct, bins=15)
    # bins: (0.933,1]: conf .95 acc .5 -> 2/5*.45 = .18; (0.533,.6]: conf .55 acc 1 -> 2/5*.45 = .18;
    # (0.267,.333]: conf .3 acc 0 -> 1/5*.3 = .06
    assert ece == pytest.approx(0.42)
    assert [b["blocks"] for b in bins] == [1, 2, 2]
    # A confidence exactly on a bin edge belongs to the lower bin (right-closed bins).
    _, edge = M.expected_calibration_error(np.array([1 / 15, 1.0]), np.array([1, 1]), bins=15)
    assert [(round(b["low"], 3), b["blocks"]) for b in edge] == [(0.0, 1), (0.933, 1)]


def test_character_weighted_page_scores_by_hand():
    page = M.PageBlocks(texts=["导航栏", "正文第一段内容", "正文二", "推荐"],
                        gold=["boilerplate", "other", "ecology", "boilerplate"],
                        kept=[True, True, False, False])
    # content chars: 7 + 3 = 10; kept chars: 3 + 7 = 10; kept content: 7 -> P 0.7, R 0.7, F1 0.7
    result = M.character_weighted([page])
    assert result["micro"] == pytest.approx({"precision": 0.7, "recall": 0.7, "f1": 0.7})
    second = M.PageBlocks(texts=["全文保留"], gold=["other"], kept=[True])
    pooled = M.character_weighted([page, second])
    # pooled: kept content 11, kept 14, content 14 -> P = R = 11/14; page mean F1 = (0.7 + 1) / 2
    assert pooled["micro"]["precision"] == pytest.approx(11 / 14)
    assert pooled["page_mean"]["f1"] == pytest.approx(0.85)


def test_bootstrap_interval_contains_the_point_estimate():
    gold = ["innovation", "industry", "other", "boilerplate"] * 25
    pred = ["innovation", "other", "other", "boilerplate"] * 25
    low, high = M.bootstrap_macro_f1(gold, pred, samples=200)
    point = M.classification(gold, pred)["macro_f1"]
    assert low <= point <= high and high - low < 0.2


def test_length_buckets():
    assert [M.length_bucket("字" * n) for n in (1, 19, 20, 99, 100, 300)] == \
        ["<20 chars", "<20 chars", "20-99", "20-99", "100-299", ">=300"]


def test_baselines_follow_the_estimator_shapes():
    texts = ["研发投入 实验室 专利", "产业集群 工业 企业", "空气质量 污染 生态", "分享至", "就业 医疗 养老", "入选 排名 荣获"]
    labels = ["innovation", "industry", "ecology", "boilerplate", "livelihood", "reputation"]
    for baseline in (TfidfLogisticRegression(), KeywordRules()):
        probs = baseline.fit(texts, labels).predict_proba(texts)
        assert probs.shape == (6, len(LABELS))
        np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert [LABELS[i] for i in KeywordRules().fit().predict_proba(texts).argmax(axis=1)] == labels


def test_extractor_blocks_count_as_content_when_the_main_text_contains_them():
    from conftest import EXAMPLE_PAGE
    from paratheme.pages import read_page

    html = EXAMPLE_PAGE.read_bytes()
    blocks = [b.text for b in read_page(html)]
    for name in ("trafilatura", "gne"):
        kept = extractor_kept(name, html, blocks)
        assert len(kept) == len(blocks)
        body = [i for i, b in enumerate(blocks) if b.startswith(("科技创新动能", "现代产业体系", "生态环境质量"))]
        assert all(kept[i] for i in body), name
        assert not kept[blocks.index("关于本站 | 联系方式 | 广告合作 | 站点导航")], name


def test_eval_run_on_labeled_pages_and_on_rows(tiny_model, tmp_path):
    """The harness end to end on the example page's labels (--pages) and on JSONL rows (--data)."""
    import json

    from conftest import REPO
    from eval.run import main

    assert main(["--model", str(tiny_model), "--pages", str(REPO / "examples"), "--no-baselines",
                 "--bootstrap", "20", "--out", str(tmp_path), "--name", "pages"]) == 0
    result = json.loads((tmp_path / "pages" / "metrics.json").read_text())
    assert result["blocks"] == 25 and result["documents"] == 1
    model = result["systems"]["model"]
    assert sum(m["support"] for m in model["per_label"].values()) == 25
    assert model["page_character_weighted"]["pages"] == 1
    for name in ("report.md", "confusion.png", "reliability.png"):
        assert (tmp_path / "pages" / name).stat().st_size > 0

    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "江城新增高新技术企业", "label": "innovation"}\n{"text": "相关推荐", "label": "boilerplate"}\n',
                    encoding="utf-8")
    assert main(["--model", str(tiny_model), "--data", str(rows), "--no-baselines", "--bootstrap", "0",
                 "--out", str(tmp_path), "--name", "rows"]) == 0
    assert json.loads((tmp_path / "rows" / "metrics.json").read_text())["blocks"] == 2
    rows.write_text('{"text": "江城", "label": "fame"}\n', encoding="utf-8")
    import pytest

    with pytest.raises(SystemExit, match="rows.jsonl:1: needs a string text and a label"):
        main(["--model", str(tiny_model), "--data", str(rows), "--no-baselines", "--out", str(tmp_path)])
