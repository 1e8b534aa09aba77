import json

import numpy as np
import pytest

from paratheme.classifier import Classifier, ModelError
from paratheme.labels import LABELS

TEXTS = ["短", "江城新增高新技术企业三百家，研发投入强度达到百分之三。" * 3, "相关推荐", "空气质量优良天数比例提高" * 10, ""]


@pytest.fixture(scope="module")
def classifier(tiny_model):
    return Classifier.from_pretrained(tiny_model, batch_size=2)


def test_probabilities_have_one_row_per_text_and_sum_to_one(classifier):
    probs = classifier.predict_proba(TEXTS)
    assert probs.shape == (len(TEXTS), len(LABELS))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert classifier.labels == LABELS


def test_length_bucketing_keeps_each_text_with_its_own_scores(classifier):
    batched = classifier.predict_proba(TEXTS)
    one_by_one = np.vstack([classifier.predict_proba([t]) for t in TEXTS])
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_token_budget_splits_batches_without_changing_results(tiny_model):
    small_budget = Classifier.from_pretrained(tiny_model, batch_size=32, max_batch_tokens=64)
    large_budget = Classifier.from_pretrained(tiny_model, batch_size=32, max_batch_tokens=8192)
    np.testing.assert_allclose(small_budget.predict_proba(TEXTS), large_budget.predict_proba(TEXTS), atol=1e-5)


def test_repeated_texts_get_the_scores_of_their_first_copy(classifier):
    texts = [TEXTS[1], TEXTS[0], TEXTS[1], TEXTS[2], TEXTS[0]]
    probs = classifier.predict_proba(texts)
    expected = classifier.predict_proba(TEXTS)
    np.testing.assert_allclose(probs, expected[[1, 0, 1, 2, 0]], atol=1e-5)


def test_predict_returns_label_names(classifier):
    predicted = classifier.predict(TEXTS[:3])
    assert len(predicted) == 3 and set(predicted) <= set(LABELS)


def test_empty_list_and_single_string(classifier):
    assert classifier.predict_proba([]).shape == (0, len(LABELS))
    with pytest.raises(TypeError, match="list of texts"):
        classifier.predict_proba("江城")


def test_classify_page_keeps_page_order(classifier):
    predictions = classifier.classify_page("第一行\n第二行\n第三行")
    assert [p.position for p in predictions] == [0, 1, 2]
    assert [p.text for p in predictions] == ["第一行", "第二行", "第三行"]
    for p in predictions:
        assert p.score == max(p.scores.values()) and p.label in LABELS


def test_missing_folder_and_missing_config_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Classifier.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(ModelError, match="has no config.json"):
        Classifier.from_pretrained(tmp_path)


def test_model_with_foreign_labels_is_refused(tiny_model, tmp_path):
    import shutil

    folder = tmp_path / "foreign"
    shutil.copytree(tiny_model, folder)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"]["0"] = "sports"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match="sports"):
        Classifier.from_pretrained(folder)


def test_gpu_device_runs_the_pytorch_backend_only(tiny_model):
    from paratheme.classifier import _choose_backend

    assert _choose_backend(tiny_model, "auto", "cuda") == "pytorch"
    with pytest.raises(ValueError, match="CPU only"):
        _choose_backend(tiny_model, "onnx-int8", "cuda")
    assert Classifier.from_pretrained(tiny_model, backend="pytorch", device="cpu").predict(["一句话"])[0] in LABELS


def test_lone_surrogate_is_a_page_error_not_a_tokenizer_crash(classifier):
    from paratheme.pages import PageError

    with pytest.raises(PageError, match=r"text 1 holds a lone surrogate \(U\+D800\)"):
        classifier.predict_proba(["江城", "abc\ud800"])
    with pytest.raises(PageError, match="lone surrogate"):
        classifier.classify_page("第一行\n第二行\udfff")


class RecordingTokenizer:
    """The model's tokenizer, noting the longest text it was given."""

    def __init__(self, tokenizer):
        self.tokenizer, self.longest = tokenizer, 0

    def encode_batch(self, texts, **kwargs):
        self.longest = max([self.longest, *map(len, texts)])
        return self.tokenizer.encode_batch(texts, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)


def test_a_huge_text_is_cut_by_characters_before_tokenising(classifier):
    text = "江城新增高新技术企业三百家。" * 400_000 + "结尾一句。"  # 5.6 M characters on one line
    recording = RecordingTokenizer(classifier.tokenizer)
    clf = Classifier(classifier.backend, recording, classifier.labels)
    ids = clf.encode([text])[0]
    assert recording.longest <= 8 * clf.max_length
    tokens = [clf.tokenizer.id_to_token(i) for i in ids]
    assert len(ids) == clf.max_length and tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert "".join(tokens[1:8]) == "江城新增高新技" and "".join(tokens[-6:-1]) == "结尾一句。"
    assert clf.predict_proba([text]).shape == (1, len(LABELS))


def test_cutting_long_texts_keeps_the_tokens_the_whole_text_gives(classifier):
    """Head and tail tokenised from windows of characters equal those of the whole text, even where
    a window cuts a long Latin word, a digit run or a run of spaces."""
    import random

    random.seed(0)
    pieces = ["江城", "高质量发展", "GDP", "supercalifragilistic" * 4, " ", "。", "2026", "x" * 150, "\u3000" * 40, "ＡＢＣ"]
    texts = ["".join(random.choice(pieces) for _ in range(random.randint(60, 600))) for _ in range(60)]
    texts += ["a" * 5000, " " * 4000 + "江城" * 10, "江" * 3000, "word " * 2000]
    whole = [e.ids for e in classifier.tokenizer.encode_batch(texts, add_special_tokens=True)]
    tail = classifier.max_length - int(classifier.max_length * classifier.head_fraction)
    head = classifier.max_length - tail
    expected = [ids if len(ids) <= classifier.max_length else ids[:head] + ids[-tail:] for ids in whole]
    assert classifier.encode(texts) == expected


def test_the_tokenizer_gives_the_ids_autotokenizer_gives(corpora):
    """The classifier reads tokenizer.json with the tokenizers library alone; transformers'
    AutoTokenizer (what training and ``pipeline`` use) must give the same ids."""
    from pathlib import Path

    from transformers import AutoTokenizer

    from paratheme.classifier import DEFAULT_MODEL, load_tokenizer
    from paratheme.corpus import list_documents, load_document

    texts = ["", " ", "\t\n", "ＡＢＣ全角", "Ｅ-mail：abc@Example.COM", "①②③", "café naïve", "😀表情", "\u200b零宽",
             "\x00\x07控制", "江城" * 300]
    for k, (source, doc) in enumerate(list_documents(corpora)):
        if k % 4 == 0:  # a quarter of the documents, every source
            texts += [b.text for b in load_document(source, doc, corpora).blocks]
    ours = [e.ids for e in load_tokenizer(Path(DEFAULT_MODEL)).encode_batch(texts, add_special_tokens=True)]
    theirs = AutoTokenizer.from_pretrained(DEFAULT_MODEL, local_files_only=True)(texts, verbose=False)["input_ids"]
    assert len(texts) > 5000
    assert ours == theirs


def test_labeling_a_page_with_the_onnx_model_imports_no_heavy_library():
    """Start-up is import time: PyTorch, transformers and LightGBM (which pulls in scikit-learn
    and SciPy) took five of the six seconds a CLI run spent loading the model."""
    import subprocess
    import sys

    script = ("import sys; from paratheme import Classifier; c = Classifier.from_pretrained(); "
              "assert c.backend_name == 'onnx-int8', c.backend_name; "
              "c.classify_page(b'<html><body><p>\\xe6\\xb1\\x9f\\xe5\\x9f\\x8e</p><ul><li>a</li></ul></body></html>'); "
              "print(sorted(m for m in ('torch', 'transformers', 'lightgbm', 'sklearn', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
