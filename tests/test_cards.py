"""The model card and data card state what the evaluation and the loader say, not typed numbers."""

import re

from conftest import REPO, needs_corpora
from eval.model_card import CARD, METRICS, MODEL_README, render


def test_model_card_and_model_readme_match_the_latest_metrics():
    card, readme = render(METRICS)
    assert CARD.read_text(encoding="utf-8") == card, "model_card.md is stale: run python -m eval.model_card"
    assert MODEL_README.read_text(encoding="utf-8") == readme, "model/README.md is stale: run python -m eval.model_card"


def test_model_readme_front_matter_has_the_hub_metadata():
    front = MODEL_README.read_text(encoding="utf-8").split("---\n")[1]
    for key in ("language:", "license:", "pipeline_tag: text-classification", "base_model:", "datasets:",
                "metrics:", "model-index:"):
        assert key in front
    value = float(re.search(r"name: macro-F1 \(7 labels\)\n\s+value: ([0-9.]+)", front).group(1))
    import json

    assert value == round(json.loads(METRICS.read_text())["systems"]["model"]["macro_f1"], 4)


@needs_corpora
def test_data_card_counts_are_the_loaders_own():
    from paratheme.data import load_examples, summary

    card = (REPO / "data" / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- generated:split-counts -->\n(.*?)<!-- /generated:split-counts -->", card, re.S).group(1)
    assert block.strip() == summary(load_examples(REPO / "data")).strip()


def test_comparison_summary_matches_its_reports(tmp_path):
    """reports/base-comparison/summary.json holds the scores of the reports that runs.yaml names."""
    import json

    import yaml

    from eval.compare import main as compare

    spec = yaml.safe_load((REPO / "reports" / "base-comparison" / "runs.yaml").read_text(encoding="utf-8"))
    for run in spec["runs"].values():
        run.pop("model", None)  # sizes and speeds are measured, not recomputed here
    runs_file = tmp_path / "runs.yaml"
    runs_file.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    assert compare(["--runs", str(runs_file), "--out", str(tmp_path / "out")]) == 0
    fresh = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    committed = json.loads((REPO / "reports" / "base-comparison" / "summary.json").read_text(encoding="utf-8"))
    for name, run in fresh["runs"].items():
        assert committed["runs"][name]["dev"] == run["dev"] and committed["runs"][name]["test"] == run["test"]
    assert committed["class_weighting"] == fresh["class_weighting"]
    assert "| none |" in (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
