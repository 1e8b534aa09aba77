"""ONNX export and the ONNX Runtime backends, on the tiny model."""

import shutil

import numpy as np
import pytest

from paratheme.classifier import Classifier

TEXTS = ["江城新增高新技术企业三百家。", "相关推荐", "空气质量优良天数比例提高。" * 60, "短"]


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory):
    from training.export import export_onnx

    folder = tmp_path_factory.mktemp("onnx-model") / "m"
    shutil.copytree(tiny_model, folder)
    files = export_onnx(folder, keep_fp32=True)
    assert all(path.is_file() for path in files.values())
    return folder


def test_export_writes_only_the_int8_model_unless_fp32_is_asked_for(tiny_model, tmp_path):
    from training.export import export_onnx

    folder = tmp_path / "m"
    shutil.copytree(tiny_model, folder)
    assert export_onnx(folder) == {"onnx-int8": folder / "onnx" / "model_quantized.onnx"}
    assert [p.name for p in (folder / "onnx").iterdir()] == ["model_quantized.onnx"]


def test_auto_backend_prefers_int8_and_falls_back_to_pytorch(exported, tiny_model):
    assert Classifier.from_pretrained(exported).backend_name == "onnx-int8"
    assert Classifier.from_pretrained(tiny_model).backend_name == "pytorch"


@pytest.mark.parametrize("backend,tolerance", [("onnx-fp32", 1e-4), ("onnx-int8", 2e-2)])
def test_onnx_backends_agree_with_pytorch(exported, backend, tolerance):
    reference = Classifier.from_pretrained(exported, backend="pytorch").predict_proba(TEXTS)
    probs = Classifier.from_pretrained(exported, backend=backend).predict_proba(TEXTS)
    assert probs.shape == reference.shape
    np.testing.assert_allclose(probs, reference, atol=tolerance)


def test_long_blocks_keep_head_and_tail(tiny_model):
    clf = Classifier.from_pretrained(tiny_model, max_length=32)
    ids = clf.encode(["甲" * 10 + "乙" * 100 + "丙" * 10])[0]
    assert len(ids) == 32
    tokens = [clf.tokenizer.id_to_token(i) for i in ids]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert tokens[1:11] == ["甲"] * 10 and tokens[-8:-1] == ["丙"] * 7
    assert clf.encode(["短句"])[0] == clf.tokenizer.encode("短句").ids
    # head_fraction 1.0 is plain truncation, the closing [SEP] kept.
    plain = Classifier.from_pretrained(tiny_model, max_length=32, head_fraction=1.0)
    text = "甲" * 10 + "乙" * 100
    ids = plain.tokenizer.encode(text).ids
    assert plain.encode([text])[0] == ids[:31] + ids[-1:]
