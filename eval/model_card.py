"""Fills the model card's numbers from an evaluation's metrics.json, and renders model/README.md.

    python -m eval.model_card                  # rewrite model_card.md's generated blocks and model/README.md
    python -m eval.model_card --check          # exit 1 if either is out of date

Hand-written prose lives in ``model_card.md``; every figure sits between
``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` and comes from the metrics.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from .report import fmt, headline_table, page_table, per_label_table, slice_table

REPO = Path(__file__).resolve().parent.parent
CARD = REPO / "model_card.md"
METRICS = REPO / "reports" / "model-test" / "metrics.json"
MODEL_README = REPO / "model" / "README.md"
COMPARISON = REPO / "reports" / "base-comparison" / "summary.json"
WRITTEN_V2 = REPO / "reports" / "retrain-written-v2" / "summary.json"
COMPARISON_CONTEXT = REPO / "reports" / "base-comparison-context" / "summary.json"
FRESH_CLONE = REPO / "reports" / "retrain-fresh-clone" / "summary.json"
ONNX_INT8 = REPO / "reports" / "onnx-int8" / "summary.json"  # python -m eval.onnx_agreement
LICENSES = {"m3e-small": "other", "multilingual-e5-small": "mit"}
BASE_MODEL_IDS = {"m3e-small": "moka-ai/m3e-small", "multilingual-e5-small": "intfloat/multilingual-e5-small"}


def replace_generated(text: str, name: str, content: str) -> str:
    pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)", re.S)
    if not pattern.search(text):
        raise ValueError(f"no generated:{name} block")
    return pattern.sub(lambda m: m.group(1) + content.rstrip("\n") + "\n" + m.group(2), text)


def generated_blocks(result: dict) -> dict[str, str]:
    model = result["systems"]["model"]
    training = result.get("training") or {}
    config, dev = training.get("config", {}), training.get("dev", {})
    speed = result["speed"]
    return {
        "headline": headline_table(result),
        "per-label": per_label_table(model),
        "by-source": slice_table(result, "by_source", "source"),
        "pages": page_table(result),
        "training": "\n".join([
            f"- base model: {config.get('base_model')}; max length in training: {config.get('max_length')} tokens",
            f"- train examples (after dropping repeated chrome): {config.get('train_examples')}",
            f"- learning rate {config.get('learning_rate')}, up to {config.get('epochs')} epochs, seed {config.get('seed')}, "
            f"class weighting: {config.get('class_weighting')}",
            f"- best dev macro-F1: {fmt(dev.get('eval_macro_f1'))} (accuracy {fmt(dev.get('eval_accuracy'))}, epoch {dev.get('epoch')})",
            f"- training time: {fmt(training.get('train_seconds', 0) / 60, 0)} minutes on "
            f"{training.get('hardware', '2 CPU cores')}",
        ]),
        "speed": f"{speed['blocks_per_second']:.1f} blocks/s, {speed['ms_per_page_mean']:.0f} ms per document on average "
                 f"({speed.get('backend', 'pytorch')} backend). Hardware: {speed['hardware']}.",
        "test-size": f"{result['blocks']} blocks from {result['documents']} documents",
    }


def front_matter(result: dict) -> str:
    config = (result.get("training") or {}).get("config", {})
    base = config.get("base_model", "m3e-small")
    model = result["systems"]["model"]
    return "\n".join([
        "---",
        "language:",
        "- zh",
        f"license: {LICENSES.get(base, 'other')}",
        "library_name: transformers",
        "pipeline_tag: text-classification",
        f"base_model: {BASE_MODEL_IDS.get(base, base)}",
        "datasets:",
        "- paratheme-labels",
        "metrics:",
        "- f1",
        "- accuracy",
        "tags:",
        "- chinese",
        "- boilerplate-removal",
        "- government-reports",
        "model-index:",
        "- name: paratheme",
        "  results:",
        "  - task:",
        "      type: text-classification",
        "    dataset:",
        "      name: paratheme gold test split",
        "      type: paratheme-labels",
        "      split: test",
        "    metrics:",
        "    - type: f1",
        "      name: macro-F1 (7 labels)",
        f"      value: {model['macro_f1']:.4f}",
        "    - type: accuracy",
        f"      value: {model['accuracy']:.4f}",
        "---",
        "",
    ])


def onnx_block(summary: dict) -> str:
    f1 = summary["macro_f1"]
    return "\n".join([
        f"- file: `{summary['file']}`, {summary['bytes'] / 1e6:.1f} MB, SHA-256 `{summary['sha256']}`",
        f"- same label as the ONNX fp32 export on {summary['int8_agreement_with_fp32']:.2%} of the "
        f"{summary['test_blocks']:,} test blocks, as PyTorch on {summary['int8_agreement_with_pytorch']:.2%} "
        f"(fp32 and PyTorch: {summary['fp32_agreement_with_pytorch']:.2%})",
        f"- test macro-F1 of the base model (no page context): int8 {f1['onnx-int8']:.4f}, "
        f"fp32 {f1['onnx-fp32']:.4f}, PyTorch {f1['pytorch']:.4f}",
    ])


def comparison_blocks(summary: dict) -> dict[str, str]:
    from .compare import class_weighting_table, table

    return {"base-comparison": table(summary), "class-weighting": class_weighting_table(summary["class_weighting"])}


def render(metrics_path: Path = METRICS, card_path: Path = CARD, comparison_path: Path = COMPARISON) -> tuple[str, str]:
    """The model card with fresh numbers, and model/README.md (front matter + card)."""
    result = json.loads(metrics_path.read_text(encoding="utf-8"))
    card = card_path.read_text(encoding="utf-8")
    blocks = generated_blocks(result)
    blocks.update(comparison_blocks(json.loads(comparison_path.read_text(encoding="utf-8"))))
    from .compare import table

    for name, path in (("written-v2", WRITTEN_V2), ("base-comparison-context", COMPARISON_CONTEXT),
                       ("fresh-clone", FRESH_CLONE)):
        blocks[name] = table(json.loads(path.read_text(encoding="utf-8")))
    blocks["onnx-int8"] = onnx_block(json.loads(ONNX_INT8.read_text(encoding="utf-8")))
    for name, content in blocks.items():
        card = replace_generated(card, name, content)
    return card, front_matter(result) + card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.model_card")
    parser.add_argument("--metrics", type=Path, default=METRICS)
    parser.add_argument("--check", action="store_true", help="only check that the card matches the metrics")
    args = parser.parse_args(argv)
    card, readme = render(args.metrics)
    if args.check:
        stale = [p for p, text in ((CARD, card), (MODEL_README, readme))
                 if not p.exists() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"{path} does not match {args.metrics}; run python -m eval.model_card", file=sys.stderr)
        return 1 if stale else 0
    CARD.write_text(card, encoding="utf-8")
    MODEL_README.write_text(readme, encoding="utf-8")
    print(f"wrote {CARD} and {MODEL_README}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
