"""How far the shipped int8 ONNX model is from the fp32 model it was quantised from.

    python -m eval.onnx_agreement [--model model] [--out reports/onnx-int8]

Needs ``<model>/onnx/model.onnx`` too (``paratheme export-onnx --fp32``; not shipped). On the gold
test split, labels each block with the PyTorch, ONNX fp32 and ONNX int8 backends (base model, no
page context) and writes ``summary.json``: the int8 file's SHA-256 and size, each backend's
macro-F1, and the share of blocks where int8 gives the same label as fp32 and as PyTorch. The
model card renders it (``python -m eval.model_card``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def agreement(a: list[str], b: list[str]) -> float:
    return sum(x == y for x, y in zip(a, b)) / len(a)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.onnx_agreement", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "model")
    parser.add_argument("--out", type=Path, default=REPO / "reports" / "onnx-int8")
    parser.add_argument("--corpora", help="corpora folder (default ../shared/corpora)")
    args = parser.parse_args(argv)

    from sklearn.metrics import f1_score

    from paratheme.classifier import ONNX_FILES, Classifier
    from paratheme.data import load_examples
    from paratheme.labels import LABELS

    test = load_examples(REPO / "data", args.corpora)["test"]
    texts, gold = [e.text for e in test], [e.label for e in test]
    labels = {backend: Classifier.from_pretrained(args.model, backend=backend).predict(texts)
              for backend in ("pytorch", "onnx-fp32", "onnx-int8")}
    int8 = args.model / ONNX_FILES["onnx-int8"]
    summary = {
        "file": ONNX_FILES["onnx-int8"],
        "sha256": sha256(int8),
        "bytes": int8.stat().st_size,
        "test_blocks": len(texts),
        "macro_f1": {b: round(float(f1_score(gold, l, labels=list(LABELS), average="macro", zero_division=0)), 4)
                     for b, l in labels.items()},
        "int8_agreement_with_fp32": round(agreement(labels["onnx-int8"], labels["onnx-fp32"]), 4),
        "int8_agreement_with_pytorch": round(agreement(labels["onnx-int8"], labels["pytorch"]), 4),
        "fp32_agreement_with_pytorch": round(agreement(labels["onnx-fp32"], labels["pytorch"]), 4),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
