"""The Inference Endpoints handler: pipeline-shaped answers, page mode, and the deployable model/ folder."""

import filecmp
import importlib.util
import subprocess
import sys
import sysconfig

import pytest

from conftest import EXAMPLE_PAGE, SHIPPED_MODEL, needs_shipped_model
from paratheme.labels import LABELS
from serve.handler import EndpointHandler, InputError
from training.export import RUNTIME_FILES


@pytest.fixture(scope="module")
def handler(tiny_model):
    return EndpointHandler(str(tiny_model))


def test_shapes_match_the_text_classification_pipeline(handler, tiny_model):
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(tiny_model))
    for data, call in [({"inputs": "江城"}, lambda: pipe("江城")),
                       ({"inputs": ["一", "二"]}, lambda: pipe(["一", "二"])),
                       ({"inputs": "江城", "parameters": {"top_k": 3}}, lambda: pipe("江城", top_k=3)),
                       ({"inputs": ["一", "二"], "parameters": {"top_k": 2}}, lambda: pipe(["一", "二"], top_k=2)),
                       ({"inputs": "江城", "parameters": {"top_k": None}}, lambda: pipe("江城", top_k=None))]:
        ours, theirs = handler(data), call()
        assert strip_scores(ours) == strip_scores(theirs), data
        assert scores(ours) == pytest.approx(scores(theirs), abs=1e-4)


def strip_scores(value):
    if isinstance(value, list):
        return [strip_scores(v) for v in value]
    return value["label"]


def scores(value):
    if isinstance(value, list):
        return [s for v in value for s in scores(v)]
    return [value["score"]]


def test_page_mode(handler):
    result = handler({"inputs": EXAMPLE_PAGE.read_text(encoding="utf-8"), "parameters": {"mode": "page"}})
    assert [b["position"] for b in result["blocks"]] == list(range(25))
    assert all(b["label"] in LABELS for b in result["blocks"])


@pytest.mark.parametrize("data,error_type", [
    ("just a string", "invalid_request"),
    ({"inputs": 3}, "invalid_type"),
    ({"inputs": ""}, "empty_input"),
    ({"inputs": "一", "parameters": {"top_k": "two"}}, "invalid_parameter"),
    ({"inputs": ["页面"], "parameters": {"mode": "page"}}, "invalid_type"),
    ({"inputs": "  ", "parameters": {"mode": "page"}}, "invalid_page"),
])
def test_bad_input_raises_input_error(handler, data, error_type):
    with pytest.raises(InputError) as caught:
        handler(data)
    assert caught.value.error_type == error_type


@needs_shipped_model
def test_model_folder_bundles_the_handler_and_its_runtime_unchanged():
    from conftest import REPO

    assert filecmp.cmp(SHIPPED_MODEL / "handler.py", REPO / "serve" / "handler.py", shallow=False)
    for name in RUNTIME_FILES:
        assert filecmp.cmp(SHIPPED_MODEL / "paratheme" / name, REPO / "paratheme" / name, shallow=False), name
    assert "transformers" in (SHIPPED_MODEL / "requirements.txt").read_text()


@needs_shipped_model
def test_endpoint_handler_loads_from_the_model_folder_like_inference_endpoints():
    spec = importlib.util.spec_from_file_location("handler", SHIPPED_MODEL / "handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = module.EndpointHandler(path=str(SHIPPED_MODEL))
    result = handler({"inputs": ["今年城区新建普惠性幼儿园十二所，新增学位三千六百个。", "相关推荐"]})
    assert len(result) == 2 and all(r["label"] in LABELS for r in result)


@needs_shipped_model
def test_handler_works_without_paratheme_installed(tmp_path):
    """A copy of model/ elsewhere, with site-packages on the path but not the paratheme install:
    the handler runs on the runtime modules bundled beside it."""
    import shutil

    folder = tmp_path / "endpoint"
    shutil.copytree(SHIPPED_MODEL, folder)
    code = (
        "import sys; sys.path.append(%r)\n"
        "import importlib.util\n"
        "spec = importlib.util.spec_from_file_location('handler', 'handler.py')\n"
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
        "import os, paratheme; assert paratheme.__file__.startswith(os.getcwd()), paratheme.__file__\n"
        "handler = m.EndpointHandler(path='.')\n"
        "for data in ({'inputs': 'abc\\ud800'}, {'inputs': '<p>abc\\ud800</p>', 'parameters': {'mode': 'page'}}):\n"
        "    try: handler(data)\n"
        "    except m.InputError as exc: assert exc.status == 422 and 'lone surrogate' in str(exc), exc\n"
        "    else: raise AssertionError('a lone surrogate was accepted')\n"
        "print(handler({'inputs': '空气质量优良天数比例提高'})[0]['label'])\n"
    ) % sysconfig.get_paths()["purelib"]
    result = subprocess.run([sys.executable, "-S", "-c", code], cwd=folder, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] in LABELS
