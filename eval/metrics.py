"""Evaluation figures, as plain functions of gold labels, predictions and probabilities.

Labels are names (strings); probability columns follow ``paratheme.labels.LABELS``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score, precision_recall_fscore_support

from paratheme.labels import BOILERPLATE, LABELS

CONTENT_LABELS = tuple(label for label in LABELS if label != BOILERPLATE)
LENGTH_BUCKETS = ((0, 20, "<20 chars"), (20, 100, "20-99"), (100, 300, "100-299"), (300, 10**9, ">=300"))


def classification(gold: list[str], predicted: list[str]) -> dict:
    """Accuracy, macro-F1 over the seven labels, per-label P/R/F1/support, confusion matrix."""
    report = classification_report(gold, predicted, labels=list(LABELS), output_dict=True, zero_division=0)
    return {
        "blocks": len(gold),
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=list(LABELS), average="macro", zero_division=0)),
        "per_label": {label: {k: float(v) if k != "support" else int(v) for k, v in report[label].items()}
                      for label in LABELS},
        "confusion": confusion_matrix(gold, predicted, labels=list(LABELS)).tolist(),
    }


def boilerplate_binary(gold: list[str], predicted: list[str]) -> dict:
    """Precision, recall and F1 of boilerplate against everything else."""
    p, r, f, _ = precision_recall_fscore_support(
        [g == BOILERPLATE for g in gold], [x == BOILERPLATE for x in predicted], average="binary", zero_division=0)
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def content_binary(gold: list[str], predicted: list[str]) -> dict:
    """Precision, recall and F1 of article content (anything but boilerplate): "article blocks kept"."""
    p, r, f, _ = precision_recall_fscore_support(
        [g != BOILERPLATE for g in gold], [x != BOILERPLATE for x in predicted], average="binary", zero_division=0)
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def theme_macro_f1(gold: list[str], predicted: list[str]) -> float | None:
    """Macro-F1 over the five themes and other, on blocks whose gold label is content."""
    pairs = [(g, x) for g, x in zip(gold, predicted) if g != BOILERPLATE]
    if not pairs:
        return None
    g, x = zip(*pairs)
    present = [label for label in CONTENT_LABELS if label in g]
    return float(f1_score(g, x, labels=present, average="macro", zero_division=0))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> tuple[float, list[dict]]:
    """ECE over equal-width confidence bins (right-closed: (i/bins, (i+1)/bins]), and the bins.

    ECE = sum over bins of (blocks in bin / all blocks) * |accuracy in bin - mean confidence in bin|.
    """
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        members = index == b
        if not members.any():
            continue
        accuracy, mean_conf = float(correct[members].mean()), float(confidence[members].mean())
        ece += members.sum() / len(confidence) * abs(accuracy - mean_conf)
        table.append({"low": b / bins, "high": (b + 1) / bins, "blocks": int(members.sum()),
                      "accuracy": accuracy, "confidence": mean_conf})
    return float(ece), table


def bootstrap_macro_f1(gold: list[str], predicted: list[str], samples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of macro-F1, resampling blocks with replacement."""
    rng = np.random.default_rng(seed)
    gold_a, pred_a = np.asarray(gold), np.asarray(predicted)
    scores = []
    for _ in range(samples):
        pick = rng.integers(0, len(gold_a), len(gold_a))
        scores.append(f1_score(gold_a[pick], pred_a[pick], labels=list(LABELS), average="macro", zero_division=0))
    low, high = np.percentile(scores, [2.5, 97.5])
    return float(low), float(high)


@dataclass(frozen=True)
class PageBlocks:
    """One page's blocks: text, gold label, and whether a system kept the block as content."""

    texts: list[str]
    gold: list[str]
    kept: list[bool]
    name: str = ""


def character_weighted(pages: list[PageBlocks]) -> dict:
    """Main-content extraction scores, weighted by characters.

    recall: the share of the article's characters (gold content) that is kept;
    precision: the share of kept characters that is article content.
    ``micro`` pools all pages' characters; ``page_mean`` averages per-page scores.
    """
    def scores(kept_content: int, kept: int, content: int) -> dict:
        p = kept_content / kept if kept else 0.0
        r = kept_content / content if content else 0.0
        return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}

    totals = np.zeros(3)
    per_page = []
    for page in pages:
        chars = np.array([len(t) for t in page.texts])
        content = np.array([g != BOILERPLATE for g in page.gold])
        kept = np.array(page.kept, dtype=bool)
        counts = np.array([chars[kept & content].sum(), chars[kept].sum(), chars[content].sum()])
        totals += counts
        if counts[2]:
            per_page.append(scores(*counts))
    mean = {k: float(np.mean([s[k] for s in per_page])) if per_page else 0.0 for k in ("precision", "recall", "f1")}
    return {"pages": len(pages), "micro": scores(*totals), "page_mean": mean}


def per_page(pages: list[PageBlocks]) -> list[dict]:
    """Per page: blocks, article blocks and characters, and the share of each that was kept
    (recall) with the character-level F1; pages without article content have recall None."""
    rows = []
    for page in pages:
        chars = np.array([len(t) for t in page.texts])
        content = np.array([g != BOILERPLATE for g in page.gold])
        kept = np.array(page.kept, dtype=bool)
        kept_chars, content_chars = chars[kept].sum(), chars[content].sum()
        both = chars[kept & content].sum()
        p = both / kept_chars if kept_chars else (1.0 if not content_chars else 0.0)
        r = both / content_chars if content_chars else None
        rows.append({"page": page.name, "blocks": len(page.texts), "article_blocks": int(content.sum()),
                     "article_chars": int(content_chars),
                     "blocks_kept": float((kept & content).sum() / content.sum()) if content.sum() else None,
                     "chars_kept": None if r is None else float(r), "chars_precision": float(p),
                     "chars_f1": None if r is None else (2 * p * r / (p + r) if p + r else 0.0),
                     "chrome_kept_chars": int(chars[kept & ~content].sum())})
    return rows


def length_bucket(text: str) -> str:
    return next(name for low, high, name in LENGTH_BUCKETS if low <= len(text) < high)
