"""Flag likely label errors for re-reading: out-of-fold probabilities and cleanlab.

    python -m training.find_label_issues --out data/audit/flagged.tsv [--probs-cache DIR]

Every labeled corpus block (written text excluded) gets probabilities from a model that did not
see it in training:

- documents the shipped base model was not trained on (dev, test, and every news2 page): the
  shipped model's own probabilities;
- documents it was trained on (the train split of the older sources): 5 folds by document of the
  character TF-IDF logistic regression (``eval.baselines``), each fold fitted on the other folds
  and the written text. Refitting the BERT recipe five times needs a GPU; this is the stand-in.

``cleanlab.filter.find_label_issues`` then flags the blocks whose given label is unlikely under
those probabilities. The output lists each flagged block by source, document, position and text
hash (never its text, never the model's guess: the re-reader must not see it), ranked by
cleanlab's self-confidence.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from training.train_page_model import BASE_TRAIN_SOURCES

REPO = Path(__file__).resolve().parent.parent


def out_of_fold_probabilities(splits, classifier, cache: Path | None, folds: int = 5):
    """(examples, probabilities in LABELS order, which model gave each row)."""
    from eval.baselines import TfidfLogisticRegression
    from eval.run import reorder
    from training.train_page_model import cached_probabilities

    examples = [(split, e) for split in ("train", "dev", "test") for e in splits[split] if e.source != "written"]
    written = [e for e in splits["train"] if e.source == "written"]
    seen = [i for i, (split, e) in enumerate(examples) if split == "train" and e.source in BASE_TRAIN_SOURCES]
    seen_set = set(seen)
    probs = np.zeros((len(examples), 7))
    origin = ["shipped model"] * len(examples)

    by_doc: dict[tuple, list[int]] = {}
    for i, (_, e) in enumerate(examples):
        by_doc.setdefault((e.source, e.doc_id), []).append(i)
    probabilities = cached_probabilities(classifier, cache)
    for (source, doc_id), indices in by_doc.items():
        if indices[0] in seen_set:
            continue
        indices.sort(key=lambda i: examples[i][1].position)
        probs[indices] = reorder(probabilities(source, doc_id, [examples[i][1].text for i in indices]), classifier.labels)

    seen_docs = sorted({(examples[i][1].source, examples[i][1].doc_id) for i in seen})
    for k in range(folds):
        held = {d for j, d in enumerate(seen_docs) if j % folds == k}
        fit = [examples[i][1] for i in seen if (examples[i][1].source, examples[i][1].doc_id) not in held] + written
        model = TfidfLogisticRegression().fit([e.text for e in fit], [e.label for e in fit])
        rows = [i for i in seen if (examples[i][1].source, examples[i][1].doc_id) in held]
        probs[rows] = model.predict_proba([examples[i][1].text for i in rows])
        for i in rows:
            origin[i] = "tfidf out-of-fold"
    return examples, probs, origin


def main(argv: list[str] | None = None) -> int:
    from cleanlab.filter import find_label_issues

    from paratheme.classifier import Classifier
    from paratheme.data import load_examples
    from paratheme.labels import LABELS
    from paratheme.pages import text_hash

    parser = argparse.ArgumentParser(prog="python -m training.find_label_issues", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "model")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "audit" / "flagged.tsv")
    parser.add_argument("--corpora", default=None)
    parser.add_argument("--probs-cache", type=Path, default=None, help="folder of probs-<source>.npz (see train_page_model)")
    args = parser.parse_args(argv)

    classifier = Classifier.from_pretrained(args.model)
    examples, probs, origin = out_of_fold_probabilities(load_examples(REPO / "data", args.corpora), classifier,
                                                        args.probs_cache)
    given = np.array([LABELS.index(e.label) for _, e in examples])
    ranked = find_label_issues(given, probs, filter_by="prune_by_noise_rate",
                               return_indices_ranked_by="self_confidence")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["rank", "split", "source", "doc_id", "position", "hash", "given", "probabilities_from"])
        for rank, i in enumerate(ranked, start=1):
            split, e = examples[i]
            writer.writerow([rank, split, e.source, e.doc_id, e.position, text_hash(e.text), e.label, origin[i]])
    print(f"{len(ranked)} of {len(examples)} blocks flagged; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
