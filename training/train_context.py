"""Fit the page-context stage of a model folder on the dev split, and write ``context.json``.

    python -m training.train_context --model model

The base model is fixed; only the small second stage is fitted (``paratheme/context.py``): the
boilerplate-vs-content regression and the two theme weights, on the base model's probabilities
for whole dev documents. The regression's regularisation is chosen, and the whole stage scored,
by 5-fold cross-validation grouped by document. Test is never read.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def page_probabilities(classifier, examples):
    """The base model's probabilities, block lengths and gold label indices, one page at a time."""
    by_doc = defaultdict(list)
    for e in examples:
        by_doc[(e.source, e.doc_id)].append(e)
    pages = []
    for doc in by_doc.values():
        doc.sort(key=lambda e: e.position)
        texts = [e.text for e in doc]
        pages.append((classifier.predict_proba(texts), np.array([len(t) for t in texts]),
                      np.array([classifier.labels.index(e.label) for e in doc])))
    return pages


def fit_boilerplate(pages, b, c):
    """The boilerplate-vs-content regression: (mean, scale, weights, bias)."""
    from sklearn.linear_model import LogisticRegression

    from paratheme.context import features

    x = np.concatenate([features(probs, lengths, b) for probs, lengths, _ in pages])
    y = np.concatenate([gold == b for _, _, gold in pages])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    fitted = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y)
    return mean, scale, fitted.coef_[0], float(fitted.intercept_[0])


def fit_theme_weights(pages, b) -> tuple[float, float]:
    """The two theme weights (own, neighbours) that minimise the log loss of the gold content
    labels of content blocks, shrunk a little towards (1, 0), the base model unchanged."""
    from scipy.optimize import minimize

    from paratheme.context import theme_distribution, theme_features

    own, neighbours, gold = [], [], []
    for probs, _, labels in pages:
        o, n = theme_features(probs, b)
        keep = labels != b
        own.append(o[keep])
        neighbours.append(n[keep])
        gold.append(labels[keep] - (labels[keep] > b))  # index among the content labels
    own, neighbours, gold = np.concatenate(own), np.concatenate(neighbours), np.concatenate(gold)
    prior = np.array([1.0, 0.0])

    def loss(w):
        p = theme_distribution(own, neighbours, w)[np.arange(len(gold)), gold]
        return -np.log(np.clip(p, 1e-12, None)).mean() + 1e-3 * np.sum((w - prior) ** 2)

    return tuple(float(v) for v in minimize(loss, prior, method="L-BFGS-B").x)


def fit(pages, b, c, themes=True):
    from paratheme.context import ContextModel

    return ContextModel(*fit_boilerplate(pages, b, c), theme_weights=fit_theme_weights(pages, b) if themes else None)


def cross_validated(pages, labels, b, c, themes, folds=5):
    """Held-out predictions of the whole stage, documents split into ``folds`` groups."""
    predicted = [None] * len(pages)
    for k in range(folds):
        model = fit([p for i, p in enumerate(pages) if i % folds != k], b, c, themes)
        for i in range(k, len(pages), folds):
            probs, lengths, _ = pages[i]
            predicted[i] = model.apply(probs, lengths, labels).argmax(axis=1)
    return np.concatenate(predicted)


def main(argv: list[str] | None = None) -> int:
    from sklearn.metrics import f1_score

    from paratheme.classifier import Classifier
    from paratheme.data import load_examples

    parser = argparse.ArgumentParser(prog="python -m training.train_context")
    parser.add_argument("--model", type=Path, default=REPO / "model")
    parser.add_argument("--split", default="dev", choices=("train", "dev"))
    parser.add_argument("--corpora", default=None)
    parser.add_argument("--device", default="cpu", help="cpu, or a PyTorch device such as cuda")
    parser.add_argument("--no-themes", action="store_true", help="revise boilerplate only, keep the base model's themes")
    args = parser.parse_args(argv)

    classifier = Classifier.from_pretrained(args.model, backend="pytorch", device=args.device)
    examples = [e for e in load_examples(REPO / "data", args.corpora)[args.split] if e.source != "written"]
    pages = page_probabilities(classifier, examples)
    labels, b = classifier.labels, classifier.labels.index("boilerplate")
    gold = np.concatenate([g for _, _, g in pages])
    base = np.concatenate([p.argmax(axis=1) for p, _, _ in pages])

    def scores(predicted):
        return {"macro_f1": round(float(f1_score(gold, predicted, labels=range(len(labels)), average="macro")), 4),
                "boilerplate_f1": round(float(f1_score(gold == b, predicted == b)), 4)}

    by_c = {c: scores(cross_validated(pages, labels, b, c, themes=False)) for c in (0.01, 0.1, 1.0, 10.0)}
    best = max(by_c, key=lambda c: by_c[c]["boilerplate_f1"])
    cv = {"base model": scores(base), "boilerplate stage": by_c[best]}
    if not args.no_themes:
        cv["boilerplate and theme stages"] = scores(cross_validated(pages, labels, b, best, themes=True))
    model = fit(pages, b, best, themes=not args.no_themes)
    info = {"split": args.split, "blocks": int(len(gold)), "documents": len(pages), "C": best,
            "cv_boilerplate_f1_by_C": {str(c): v["boilerplate_f1"] for c, v in by_c.items()},
            "cv_5_fold_by_document": cv}
    model.save(args.model, info)
    print(f"{args.split}, 5-fold cross-validation by document ({len(pages)} documents, {len(gold)} blocks):")
    for name, s in cv.items():
        print(f"  {name:30s} macro-F1 {s['macro_f1']:.4f}  boilerplate F1 {s['boilerplate_f1']:.4f}")
    print(f"wrote {args.model / 'context.json'} (C={best}, theme weights {model.theme_weights})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
