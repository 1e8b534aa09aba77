"""Training machinery: class weights, metrics, and a smoke run that exports a loadable model."""

import json

import numpy as np
import pytest
import yaml

from conftest import REPO, needs_corpora
from paratheme.labels import LABELS
from training.train import class_weights, macro_f1_metrics


def test_class_weights_favour_rare_labels_and_average_one():
    labels = [0] * 90 + [1] * 10
    balanced = class_weights(labels, 2, "balanced")
    assert balanced[1] / balanced[0] == pytest.approx(9.0)
    assert balanced.mean() == pytest.approx(1.0)
    assert class_weights(labels, 2, "sqrt")[1] / class_weights(labels, 2, "sqrt")[0] == pytest.approx(3.0)
    assert class_weights(labels, 2, "none") is None


def test_macro_f1_leaves_out_labels_absent_from_gold_and_predictions():
    logits = np.eye(len(LABELS))[[0, 0, 1, 1]]
    metrics = macro_f1_metrics((logits, np.array([0, 0, 1, 0])))
    # innovation: P=2/3... computed by hand: innovation P 2/2 R 2/3 -> 0.8; industry P 1/2 R 1/1 -> 0.667
    assert metrics["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert "f1_ecology" not in metrics


def smoke_config(tmp_path, tiny_model, **overrides):
    config = yaml.safe_load((REPO / "configs" / "smoke.yaml").read_text())
    config.update(base_model=str(tiny_model), data_dir=str(REPO / "data"), output_dir=str(tmp_path / "run"),
                  export_dir=str(tmp_path / "export"), **overrides)
    path = tmp_path / "smoke.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@needs_corpora
def test_smoke_training_exports_an_fp16_model_that_loads(tiny_model, tmp_path):
    from training.train import main

    assert main(["--config", str(smoke_config(tmp_path, tiny_model))]) == 0
    export = tmp_path / "export"
    config = json.loads((export / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(LABELS))] == list(LABELS)
    assert config["dtype"] == "float16" or config.get("torch_dtype") == "float16"
    info = json.loads((export / "training_info.json").read_text())
    assert info["config"]["train_examples"] == 48 and "eval_macro_f1" in info["dev"]

    from paratheme.classifier import Classifier

    probs = Classifier.from_pretrained(export).predict_proba(["江城新增高新技术企业。"])
    assert probs.shape == (1, len(LABELS))


@needs_corpora
def test_training_resumes_from_the_last_checkpoint_after_being_killed(tiny_model, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    config = smoke_config(tmp_path, tiny_model, num_train_epochs=30, eval_strategy="steps", save_strategy="steps",
                          eval_steps=6, save_steps=6, early_stopping_patience=1000, save_total_limit=3)
    command = [sys.executable, "-m", "training.train", "--config", str(config)]
    first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = tmp_path / "run"
    deadline = time.time() + 240
    while time.time() < deadline and not list(run_dir.glob("checkpoint-*/trainer_state.json")):
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = max(int(p.name.split("-")[1]) for p in run_dir.glob("checkpoint-*"))
    total = 30 * 6  # 48 examples, batch 8, 30 epochs
    assert 0 < killed_at < total, "the run ended before it could be killed"
    assert not (tmp_path / "export").exists()

    resumed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {run_dir / f'checkpoint-{killed_at}'}" in resumed.stderr
    state = json.loads(max(run_dir.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1])).read_text())
    assert state["global_step"] == total
    assert (tmp_path / "export" / "model.safetensors").is_file()


@needs_corpora
def test_the_same_script_trains_under_torchrun_with_two_processes(tiny_model, tmp_path):
    import subprocess
    import sys

    config = smoke_config(tmp_path, tiny_model)
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "training.train", "--config", str(config)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        start_new_session=True)  # torchrun's signal handling must not reach the test runner
    assert result.returncode == 0, result.stderr[-3000:]
    assert "world size 2 (process 0)" in result.stderr and "world size 2 (process 1)" in result.stderr
    assert (tmp_path / "export" / "model.safetensors").is_file()


def test_written_option_keeps_only_the_named_written_files_and_refuses_unknown_ones():
    from datasets import Dataset

    from training.train import keep_written

    train = Dataset.from_dict({"text": ["甲", "乙", "丙", "丁"], "source": ["news", "written", "written", "provincial"],
                               "doc_id": ["a", "themes", "report-themes", "b"]})
    assert keep_written(train, ["themes"])["text"] == ["甲", "乙", "丁"]
    assert keep_written(train, [])["text"] == ["甲", "丁"]
    with pytest.raises(SystemExit, match="no-such-file"):
        keep_written(train, ["no-such-file"])
