"""Fit the page-context stage of a model folder on the dev split, and write ``context.json``.

    python -m training.train_context --model model

The base model is fixed; only the small boilerplate-vs-content regression is fitted, on the
base model's probabilities for whole dev documents (its regularisation chosen by 5-fold
cross-validation grouped by document). Test is never read.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def document_features(classifier, examples):
    """Features, boilerplate targets and document ids of ``examples``, document by document."""
    from paratheme.context import features

    by_doc = defaultdict(list)
    for e in examples:
        by_doc[(e.source, e.doc_id)].append(e)
    b = classifier.labels.index("boilerplate")
    xs, ys, groups = [], [], []
    for doc_index, doc in enumerate(by_doc.values()):
        doc.sort(key=lambda e: e.position)
        texts = [e.text for e in doc]
        probs = classifier.predict_proba(texts)
        xs.append(features(probs, np.array([len(t) for t in texts]), b))
        ys.append(np.array([e.label == "boilerplate" for e in doc]))
        groups.append(np.full(len(doc), doc_index))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(groups)


def main(argv: list[str] | None = None) -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GroupKFold

    from paratheme.classifier import Classifier
    from paratheme.context import ContextModel
    from paratheme.data import load_examples

    parser = argparse.ArgumentParser(prog="python -m training.train_context")
    parser.add_argument("--model", type=Path, default=REPO / "model")
    parser.add_argument("--split", default="dev", choices=("train", "dev"))
    parser.add_argument("--corpora", default=None)
    parser.add_argument("--device", default="cpu", help="cpu, or a PyTorch device such as cuda")
    args = parser.parse_args(argv)

    classifier = Classifier.from_pretrained(args.model, backend="pytorch", device=args.device)
    examples = [e for e in load_examples(REPO / "data", args.corpora)[args.split] if e.source != "written"]
    x, y, groups = document_features(classifier, examples)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    base_f1 = f1_score(y, x[:, 0] > 0)
    results = {}
    for c in (0.01, 0.1, 1.0, 10.0):
        predicted = np.zeros_like(y)
        for train_idx, test_idx in GroupKFold(n_splits=5).split(z, y, groups):
            fitted = LogisticRegression(C=c, max_iter=2000).fit(z[train_idx], y[train_idx])
            predicted[test_idx] = fitted.predict(z[test_idx])
        results[c] = f1_score(y, predicted)
    best = max(results, key=results.get)
    final = LogisticRegression(C=best, max_iter=2000).fit(z, y)
    model = ContextModel(mean, scale, final.coef_[0], float(final.intercept_[0]))
    info = {"split": args.split, "blocks": int(len(y)), "documents": int(groups.max() + 1), "C": best,
            "cv_boilerplate_f1": {str(k): round(v, 4) for k, v in results.items()},
            "base_boilerplate_f1": round(float(base_f1), 4)}
    model.save(args.model, info)
    print(f"boilerplate F1 on {args.split} (5-fold by document): base model {base_f1:.4f}; "
          + ", ".join(f"C={k}: {v:.4f}" for k, v in results.items()) + f"; wrote {args.model / 'context.json'} (C={best})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
