"""The shipped model/ folder loads offline with plain transformers, as users load it."""

import json

from conftest import SHIPPED_MODEL, needs_shipped_model
from paratheme.labels import LABELS

pytestmark = needs_shipped_model


def test_config_has_the_seven_labels_in_order():
    config = json.loads((SHIPPED_MODEL / "config.json").read_text(encoding="utf-8"))
    assert [config["id2label"][str(i)] for i in range(len(LABELS))] == list(LABELS)
    assert config["label2id"] == {name: i for i, name in enumerate(LABELS)}


def test_weights_are_fp16_safetensors_under_80_mb():
    from safetensors import safe_open

    weights = SHIPPED_MODEL / "model.safetensors"
    assert weights.stat().st_size < 80 * 1024 * 1024
    assert not list(SHIPPED_MODEL.glob("*.bin")) and not list(SHIPPED_MODEL.glob("*.pkl"))
    with safe_open(weights, framework="pt") as f:
        assert {str(f.get_tensor(name).dtype) for name in f.keys()} == {"torch.float16"}


def test_loads_with_auto_model_and_pipeline_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    model = AutoModelForSequenceClassification.from_pretrained(SHIPPED_MODEL, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(SHIPPED_MODEL, local_files_only=True)
    assert model.config.num_labels == len(LABELS)
    classify = pipeline("text-classification", model=model, tokenizer=tokenizer)
    result = classify(["江城新增高新技术企业三百家。", "相关推荐"])
    assert [set(r) for r in result] == [{"label", "score"}] * 2
    assert all(r["label"] in LABELS and 0 < r["score"] <= 1 for r in result)
    by_path = pipeline("text-classification", model=str(SHIPPED_MODEL))
    assert by_path("首页 | 新闻 | 体育")[0]["label"] in LABELS


def test_model_card_is_present_with_metadata():
    card = (SHIPPED_MODEL / "README.md").read_text(encoding="utf-8")
    assert card.startswith("---\n") and "pipeline_tag: text-classification" in card


def test_ships_the_int8_onnx_model_in_optimums_layout_and_uses_it_by_default():
    import hashlib

    from paratheme.classifier import Classifier

    int8 = SHIPPED_MODEL / "onnx" / "model_quantized.onnx"
    assert int8.is_file() and int8.stat().st_size < 30 * 1024 * 1024
    summary = json.loads((SHIPPED_MODEL.parent / "reports" / "onnx-int8" / "summary.json").read_text(encoding="utf-8"))
    assert hashlib.sha256(int8.read_bytes()).hexdigest() == summary["sha256"]
    assert summary["sha256"] in (SHIPPED_MODEL / "README.md").read_text(encoding="utf-8")
    assert Classifier.from_pretrained(SHIPPED_MODEL).backend_name == "onnx-int8"


LONE_PARAGRAPH = """<html><head><title>民生新闻_江城网</title></head><body>
<div class="crumb"><a href="/">首页</a> &gt; <a href="/m">民生</a> &gt; 正文</div>
<p>今年全市新建普惠性幼儿园十二所，新增学位三千六百个，并为六千名老人提供上门助餐服务。</p>
<div class="hot"><h3>热点推荐</h3></div></body></html>"""


def test_the_page_labeler_keeps_a_lone_paragraph_between_chrome():
    from paratheme import Classifier

    labels = [(p.label, p.text) for p in Classifier.from_pretrained(SHIPPED_MODEL).classify_page(LONE_PARAGRAPH.encode())]
    assert [label for label, _ in labels] == ["boilerplate", "boilerplate", "livelihood", "boilerplate"], labels


def test_the_example_page_keeps_its_article_and_its_themes():
    import csv

    from conftest import EXAMPLE_PAGE
    from paratheme import Classifier

    gold = [row["label"] for row in csv.DictReader(open(EXAMPLE_PAGE.with_suffix(".tsv"), encoding="utf-8"), delimiter="\t")]
    predicted = [p.label for p in Classifier.from_pretrained(SHIPPED_MODEL).classify_page(EXAMPLE_PAGE.read_bytes())]
    article = [i for i, label in enumerate(gold) if label != "boilerplate"]
    assert all(predicted[i] != "boilerplate" for i in article)  # no article block is cut
    themes = [i for i in article if gold[i] not in ("other", "boilerplate")]
    assert [predicted[i] for i in themes] == [gold[i] for i in themes]  # the five theme paragraphs
