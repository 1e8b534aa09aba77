"""Fit the page labeler of a model folder and write ``page_model.txt`` and ``page_model.json``.

    python -m training.train_page_model --model model

The base model is fixed; only the page stage is fitted (``paratheme/page_model.py``): LightGBM
trees for boilerplate over each HTML block's structure (and, if cross-validation prefers them,
the base model's scores), and the two theme weights. The trees are fitted on the labeled HTML
pages of the train and dev splits, the theme weights on all their pages and reports (test is never
read); text pages keep the base model's boilerplate probability. The base model has seen the train split's documents, so its scores there are more
confident than on new pages; cross-validation therefore holds out only documents the base model
has not seen (dev, and the ``news2`` pages it was not trained on), in folds grouped by document,
and fits every fold on everything else. The ablation (text only, structure only, both) is printed
and written into ``page_model.json``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paratheme.page_model import is_html, revised
from paratheme.trees import Trees

REPO = Path(__file__).resolve().parent.parent

PARAMS = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20,
          "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
          "verbosity": -1, "deterministic": True, "num_threads": 1}
ROUNDS = 300
PAGE_BLOCKS = 400
# Sources whose train documents the shipped base model was trained on (it has seen no news2 page).
BASE_TRAIN_SOURCES = ("seed", "news", "provincial", "national")
# Features that come from the base model, and those that come from the page alone: the ablation
# drops one group or the other.
TEXT_ONLY = "text only"
STRUCTURE_ONLY = "structure only"
BOTH = "text and structure"


@dataclass
class Page:
    source: str
    doc_id: str
    split: str
    blocks: tuple
    gold: np.ndarray  # label indices in the classifier's label order
    probs: np.ndarray  # the base model's probabilities


def load_pages(splits: tuple[str, ...], labels: tuple[str, ...], probabilities, corpora=None) -> list[Page]:
    """Every labeled corpus document of ``splits`` as a page; ``probabilities(source, doc_id, texts)``
    gives the base model's scores."""
    from paratheme.corpus import load_document
    from paratheme.data import read_splits_file
    from paratheme.labelfiles import GOLD_HOWS, check_against, read_label_file

    assignment = read_splits_file(REPO / "data" / "splits.yaml")
    pages = []
    for path in sorted((REPO / "data" / "labels").glob("*/*.tsv")):
        source, doc_id = path.parent.name, path.stem
        split = assignment.get(f"{source}/{doc_id}", "train")
        if split not in splits:
            continue
        blocks = load_document(source, doc_id, corpora).blocks
        file_labels = read_label_file(path)
        check_against(path, file_labels, blocks)
        if split != "train" and any(label.how not in GOLD_HOWS for label in file_labels):
            continue  # a gold page must be read whole
        gold = np.array([labels.index(label.label) for label in sorted(file_labels, key=lambda x: x.position)])
        pages.append(Page(source, doc_id, split, blocks, gold, probabilities(source, doc_id, [b.text for b in blocks])))
    return pages


def unseen_by_base_model(page: Page, base_train_sources: set[str]) -> bool:
    return page.split != "train" or page.source not in base_train_sources


def feature_columns(names: list[str], labels, group: str) -> list[int]:
    from paratheme.page_model import STRUCTURE_FEATURES

    model_features = {f"p_{label}" for label in labels} | {"p_theme_max", "content_prev", "content_next"}
    model_features |= {n for n in names if n.startswith("content_mean_")}
    structure = set(STRUCTURE_FEATURES) | {n for n in names if n.startswith(("link_share_mean", "in_list_mean"))}
    if group == TEXT_ONLY:
        return [i for i, n in enumerate(names) if n not in structure]
    if group == STRUCTURE_ONLY:
        return [i for i, n in enumerate(names) if n not in model_features]
    return list(range(len(names)))


def page_weights(pages: list[Page]) -> np.ndarray:
    """Per block: 1, or less on pages of over ``PAGE_BLOCKS`` blocks, so that each page weighs at most
    as much as ``PAGE_BLOCKS`` blocks. One 3,000-block encyclopedia page or listing would otherwise
    outweigh dozens of ordinary news pages."""
    return np.concatenate([np.full(len(p.gold), min(1.0, PAGE_BLOCKS / len(p.gold))) for p in pages])


def fit_boilerplate(x: np.ndarray, y: np.ndarray, names: list[str], weights: np.ndarray | None = None,
                    seed: int = 42) -> Trees:
    """LightGBM's trees, read back as the classifier applies them (so that CV scores what ships)."""
    import lightgbm

    data = lightgbm.Dataset(x, label=y, weight=weights, feature_name=names, free_raw_data=False)
    booster = lightgbm.train({**PARAMS, "seed": seed}, data, num_boost_round=ROUNDS)
    return Trees.from_text(booster.model_to_string())


def fit_theme_weights(pages: list[Page], b: int) -> tuple[float, float]:
    """The two theme weights (own, neighbours) that minimise the log loss of the gold content
    labels of content blocks, shrunk a little towards (1, 0), the base model unchanged."""
    from scipy.optimize import minimize

    from paratheme.page_model import theme_distribution, theme_features

    own, neighbours, gold = [], [], []
    for page in pages:
        o, n = theme_features(page.probs, b)
        keep = page.gold != b
        own.append(o[keep])
        neighbours.append(n[keep])
        gold.append(page.gold[keep] - (page.gold[keep] > b))  # index among the content labels
    own, neighbours, gold = np.concatenate(own), np.concatenate(neighbours), np.concatenate(gold)
    prior = np.array([1.0, 0.0])

    def loss(w):
        p = theme_distribution(own, neighbours, w)[np.arange(len(gold)), gold]
        return -np.log(np.clip(p, 1e-12, None)).mean() + 1e-3 * np.sum((w - prior) ** 2)

    return tuple(float(v) for v in minimize(loss, prior, method="L-BFGS-B").x)


def page_matrix(pages: list[Page], labels):
    from paratheme.page_model import page_features

    features = [page_features(p.blocks, p.probs, labels) for p in pages]
    return [f for f, _ in features], features[0][1]


def scores(gold: np.ndarray, predicted: np.ndarray, n_labels: int, b: int) -> dict:
    from sklearn.metrics import f1_score

    return {"macro_f1": round(float(f1_score(gold, predicted, labels=range(n_labels), average="macro", zero_division=0)), 4),
            "boilerplate_f1": round(float(f1_score(gold == b, predicted == b)), 4),
            "content_f1": round(float(f1_score(gold != b, predicted != b)), 4)}


def cross_validate(pages, matrices, names, labels, held_out: list[int], group: str, folds: int = 5) -> dict:
    """Scores of documents in ``held_out``, each predicted by a stage fitted without its fold."""
    b = list(labels).index("boilerplate")
    columns = feature_columns(names, labels, group)
    predicted, gold, by_source, page_content_f1 = [], [], {}, []
    for k in range(folds):
        test = [i for j, i in enumerate(held_out) if j % folds == k]
        train = [i for i in range(len(pages)) if i not in set(test)]
        html = [i for i in train if is_html(pages[i].blocks)]
        trees = fit_boilerplate(np.concatenate([matrices[i][:, columns] for i in html]),
                                np.concatenate([pages[i].gold == b for i in html]), [names[c] for c in columns],
                                page_weights([pages[i] for i in html]))
        weights = fit_theme_weights([pages[i] for i in train], b)
        for i in test:
            p_bp = trees.predict(matrices[i][:, columns]) if is_html(pages[i].blocks) else pages[i].probs[:, b]
            page_predicted = revised(pages[i].probs, p_bp, weights, b).argmax(axis=1)
            predicted.append(page_predicted)
            gold.append(pages[i].gold)
            if (pages[i].gold != b).any():
                page_content_f1.append(scores(pages[i].gold, page_predicted, len(labels), b)["content_f1"])
            by_source.setdefault(pages[i].source, []).append((pages[i].gold, page_predicted))
    result = scores(np.concatenate(gold), np.concatenate(predicted), len(labels), b)
    # Pooled scores are dominated by a few huge pages (a 3,000-block encyclopedia page, listings of
    # 1,500 headlines); the mean over pages weighs every page alike.
    result["content_f1_page_mean"] = round(float(np.mean(page_content_f1)), 4)
    result["by_source"] = {s: scores(np.concatenate([g for g, _ in v]), np.concatenate([p for _, p in v]), len(labels), b)
                           for s, v in sorted(by_source.items())}
    return result


def cached_probabilities(classifier, cache: Path | None):
    """``probabilities(source, doc_id, texts)``, read from ``cache/probs-<source>.npz`` when present
    (written by an earlier run with the same model), else computed."""
    loaded: dict[str, dict] = {}

    def probabilities(source, doc_id, texts):
        if cache is not None:
            path = cache / f"probs-{source}.npz"
            if source not in loaded:
                loaded[source] = dict(np.load(path)) if path.is_file() else {}
            if doc_id in loaded[source] and len(loaded[source][doc_id]) == len(texts):
                return loaded[source][doc_id]
        return classifier.predict_proba(texts)

    return probabilities


def main(argv: list[str] | None = None) -> int:
    from paratheme.classifier import Classifier
    from paratheme.page_model import PageModel

    parser = argparse.ArgumentParser(prog="python -m training.train_page_model", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "model")
    parser.add_argument("--corpora", default=None)
    parser.add_argument("--backend", default="auto", help="backend for the base model's scores")
    parser.add_argument("--probs-cache", type=Path, default=None,
                        help="folder of probs-<source>.npz with the base model's scores, to skip recomputing them")
    parser.add_argument("--base-train-sources", default=",".join(BASE_TRAIN_SOURCES),
                        help="sources whose train documents the base model was trained on")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    classifier = Classifier.from_pretrained(args.model, backend=args.backend)
    labels = classifier.labels
    b = labels.index("boilerplate")
    pages = load_pages(("train", "dev"), labels, cached_probabilities(classifier, args.probs_cache), args.corpora)
    base_train = set(args.base_train_sources.split(","))
    held_out = [i for i, p in enumerate(pages) if unseen_by_base_model(p, base_train)]
    matrices, names = page_matrix(pages, labels)

    gold = np.concatenate([pages[i].gold for i in held_out])
    base = np.concatenate([pages[i].probs.argmax(axis=1) for i in held_out])
    cv = {"base model alone": scores(gold, base, len(labels), b)}
    for group in (TEXT_ONLY, STRUCTURE_ONLY, BOTH):
        cv[group] = cross_validate(pages, matrices, names, labels, held_out, group)
        print(f"  cross-validated: {group}", flush=True)
    print(f"5-fold cross-validation by document over {len(held_out)} documents the base model has not seen "
          f"({len(gold)} blocks); each fold fitted on the other {len(pages)} - fold documents:")
    for name, s in cv.items():
        print(f"  {name:22s} macro-F1 {s['macro_f1']:.4f}  boilerplate F1 {s['boilerplate_f1']:.4f}  "
              f"content F1 {s['content_f1']:.4f} (mean over pages {s.get('content_f1_page_mean', float('nan')):.4f})")

    # The feature group with the best cross-validated macro-F1 is the one shipped.
    chosen = max((TEXT_ONLY, STRUCTURE_ONLY, BOTH), key=lambda group: cv[group]["macro_f1"])
    columns = feature_columns(names, labels, chosen)
    html = [i for i, p in enumerate(pages) if is_html(p.blocks)]
    trees = fit_boilerplate(np.concatenate([matrices[i][:, columns] for i in html]),
                            np.concatenate([pages[i].gold == b for i in html]), [names[c] for c in columns],
                            page_weights([pages[i] for i in html]), args.seed)
    info = {"features": chosen,"documents": len(pages), "blocks": int(sum(len(p.gold) for p in pages)),
            "splits": sorted({p.split for p in pages}), "held_out_documents": len(held_out),
            "lightgbm": {**PARAMS, "rounds": ROUNDS, "seed": args.seed}, "cv_5_fold_by_document": cv}
    model = PageModel(trees, fit_theme_weights(pages, b), info)
    model.save(args.model)
    print(f"wrote {args.model}/page_model.txt and page_model.json ({chosen}; theme weights {model.theme_weights})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
