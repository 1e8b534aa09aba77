"""What the token window costs: macro-F1 with each window size, plain truncation against head + tail.

    python -m bench.truncation [--split dev|test] [--lengths 128,192,256,512] [--backend auto]

For each window (``max_length``) and each way of cutting a longer block (plain truncation keeps
the head; head + tail keeps the first 3/4 and the last 1/4), prints macro-F1 and accuracy on the
blocks longer than the training length (128 tokens), and macro-F1 on the whole split with the
page-context stage. Choose the default window on dev; report test.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
TRAINING_LENGTH = 128


def main(argv: list[str] | None = None) -> int:
    from sklearn.metrics import accuracy_score, f1_score

    from paratheme.classifier import Classifier
    from paratheme.data import load_examples

    parser = argparse.ArgumentParser(prog="python -m bench.truncation", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "model")
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--lengths", default="128,192,256,512", help="windows to compare, comma-separated")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--corpora", help="corpora folder (default ../shared/corpora)")
    args = parser.parse_args(argv)

    examples = load_examples(REPO / "data", args.corpora)[args.split]
    pages = defaultdict(list)
    for i, e in enumerate(examples):
        pages[(e.source, e.doc_id)].append(i)
    gold = np.array([e.label for e in examples])
    long = None
    print(f"split: {args.split}, {len(examples)} blocks")
    print("| tokens kept | cut | long blocks: macro-F1 / accuracy | whole split macro-F1 (page context) |")
    print("|---|---|---|---|")
    for length in (int(x) for x in args.lengths.split(",")):
        for cut, head_fraction in (("plain truncation", 1.0), ("head + tail", 0.75)):
            clf = Classifier.from_pretrained(args.model, backend=args.backend, max_length=length,
                                             head_fraction=head_fraction)
            if long is None:  # blocks the training window could not hold: where the cut matters
                token_counts = [len(e.ids) for e in clf.tokenizer.encode_batch([e.text for e in examples])]
                long = np.array(token_counts) > TRAINING_LENGTH
                print(f"({int(long.sum())} blocks are longer than {TRAINING_LENGTH} tokens)")
            predicted = np.empty(len(examples), dtype=object)
            for indices in pages.values():
                indices.sort(key=lambda i: examples[i].position)
                probs = clf.predict_page_proba([examples[i].text for i in indices])
                predicted[indices] = [clf.labels[j] for j in probs.argmax(axis=1)]
            print(f"| {length} | {cut} | {f1_score(gold[long], predicted[long], average='macro'):.3f} / "
                  f"{accuracy_score(gold[long], predicted[long]):.3f} | {f1_score(gold, predicted, average='macro'):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
