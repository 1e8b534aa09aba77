"""One command that says how good a model is, beside its baselines.

    python -m eval.run --model model --split test
    python -m eval.run --model model --data rows.jsonl        # rows {"text", "label"[, "source", "doc_id"]}
    python -m eval.run --model model --pages DIR              # DIR/x.html (or .txt) + DIR/x.tsv label files

Writes ``reports/<name>/`` with ``report.md``, ``metrics.json``, ``confusion.png`` and
``reliability.png`` and prints the headline table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from paratheme.classifier import Classifier
from paratheme.data import Example, load_examples
from paratheme.jsonl import RowError, read_rows
from paratheme.labels import BOILERPLATE, LABELS
from paratheme.pages import Block

from . import metrics as M
from .baselines import EXTRACTORS, KeywordRules, TfidfLogisticRegression, extractor_kept

REPO = Path(__file__).resolve().parent.parent
SOURCE_NAMES = {"seed": "seed page", "news": "news pages", "news2": "news pages v2 (new sites)",
                "provincial": "provincial reports 2026", "national": "national reports (traditional)"}
PAGE_SOURCES = ("news", "news2", "seed", "pages")  # whole pages, chrome included


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m eval.run", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "model", help="model folder (default: the shipped model/)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--split", choices=("dev", "test"), default="test")
    what.add_argument("--data", type=Path, help="JSONL rows with text and gold label")
    what.add_argument("--pages", type=Path, help="folder of pages with a label file (.tsv) beside each")
    parser.add_argument("--name", help="report name (default: <model folder>-<split>)")
    parser.add_argument("--out", type=Path, default=REPO / "reports")
    parser.add_argument("--corpora", help="corpora folder (default ../shared/corpora)")
    parser.add_argument("--no-baselines", action="store_true", help="evaluate the model only")
    parser.add_argument("--backend", default="auto", help="inference backend: auto, pytorch, onnx-int8, onnx-fp32")
    parser.add_argument("--device", default="cpu", help="cpu, or a PyTorch device such as cuda (pytorch backend)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the macro-F1 interval")
    parser.add_argument("--withhold-text", action="store_true",
                        help="name mistakes by document, position and text hash instead of quoting corpus text "
                             "(for reports that are committed: the corpora may not be copied into the repository)")
    return parser.parse_args(argv)


def load_eval_examples(args, blocks_by_page: dict | None = None) -> list[Example]:
    """The examples to evaluate; with ``--pages``, ``blocks_by_page`` (if given) receives each page's
    blocks, structure records included, by page name."""
    if args.data:
        examples = []
        try:
            for number, row in read_rows(args.data):
                if row.get("label") not in LABELS or not isinstance(row.get("text"), str):
                    raise SystemExit(f"{args.data}:{number}: needs a string text and a label among {', '.join(LABELS)}")
                examples.append(Example(row["text"], row["label"], row.get("source", "data"),
                                        str(row.get("doc_id", "rows")), int(row.get("position", number)), "read"))
        except RowError as exc:
            raise SystemExit(str(exc)) from exc
        return examples
    if args.pages:
        from paratheme.labelfiles import check_against, read_label_file
        from paratheme.pages import read_page

        examples = []
        for labels_path in sorted(args.pages.glob("*.tsv")):
            page = next((p for p in labels_path.parent.glob(labels_path.stem + ".*") if p.suffix != ".tsv"), None)
            if page is None:
                raise SystemExit(f"{labels_path}: no page file beside it")
            blocks = read_page(page.read_bytes())
            labels = read_label_file(labels_path)
            check_against(labels_path, labels, blocks)
            if blocks_by_page is not None:
                blocks_by_page[page.stem] = blocks
            examples += [Example(blocks[l.position].text, l.label, "pages", page.stem, l.position, l.how) for l in labels]
        return examples
    return load_examples(REPO / "data", args.corpora)[args.split]


def document_blocks(examples: list[Example], corpora: str | None) -> list[Block]:
    """The blocks of one document's examples (given in page order). Corpus documents are read
    again so that HTML blocks carry their structure record, as they do when a user classifies the
    saved page; rows from a JSONL file are blocks without one."""
    from paratheme.corpus import SOURCES, load_document

    first = examples[0]
    if first.source in SOURCES:
        blocks = load_document(first.source, first.doc_id, corpora).blocks
        return [blocks[e.position] for e in examples]
    return [Block(e.position, e.text) for e in examples]


def predict_by_document(classifier: Classifier, examples: list[Example], corpora: str | None = None,
                        blocks_of=None) -> tuple[np.ndarray, dict]:
    """Model probabilities for every example, timed one document (page) at a time."""
    probs = np.zeros((len(examples), len(LABELS)))
    by_doc: dict[tuple, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by_doc[(e.source, e.doc_id)].append(i)
    classifier.predict_proba(["预热"])  # the first call pays one-off costs; keep them out of the timing
    page_ms = []
    start = time.perf_counter()
    for indices in by_doc.values():
        t0 = time.perf_counter()
        # A document's examples are in page order, so the model's page labeler applies.
        blocks = (blocks_of or document_blocks)([examples[i] for i in indices], corpora)
        probs[indices] = reorder(classifier.predict_page_proba(blocks), classifier.labels)
        page_ms.append((time.perf_counter() - t0) * 1000)
    seconds = time.perf_counter() - start
    speed = {
        "blocks_per_second": len(examples) / seconds, "ms_per_page_mean": float(np.mean(page_ms)),
        "ms_per_page_median": float(np.median(page_ms)), "pages": len(page_ms), "backend": classifier.backend_name,
        "hardware": hardware(classifier),
    }
    return probs, speed


def hardware(classifier: Classifier) -> str:
    import torch

    device = getattr(classifier.backend, "device", None)
    accelerator = (torch.cuda.get_device_name(device) if device is not None and device.type == "cuda"
                   else "no GPU")
    return (f"{platform.machine()}, {os.cpu_count()} CPU cores ({platform.processor() or 'unknown CPU'}), "
            f"torch {torch.__version__} with {torch.get_num_threads()} threads, {accelerator}")


def reorder(probs: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """Columns in LABELS order, whatever order the model's config uses."""
    return probs[:, [labels.index(label) for label in LABELS]]


def system_metrics(examples: list[Example], probs: np.ndarray, bootstrap: int) -> dict:
    gold = [e.label for e in examples]
    predicted = [LABELS[i] for i in probs.argmax(axis=1)]
    result = M.classification(gold, predicted)
    result["boilerplate"] = M.boilerplate_binary(gold, predicted)
    result["content"] = M.content_binary(gold, predicted)
    result["theme_macro_f1_on_content"] = M.theme_macro_f1(gold, predicted)
    result["macro_f1_95ci"] = M.bootstrap_macro_f1(gold, predicted, samples=bootstrap) if bootstrap else None
    confidence = probs.max(axis=1)
    result["ece"], result["reliability"] = M.expected_calibration_error(confidence, np.array(gold) == np.array(predicted))
    result["by_source"] = slice_scores(examples, gold, predicted, lambda e: e.source)
    result["by_length"] = slice_scores(examples, gold, predicted, lambda e: M.length_bucket(e.text))
    pages = page_blocks(examples, [p != BOILERPLATE for p in predicted])
    result["page_character_weighted"] = M.character_weighted(pages) if pages else None
    result["pages"] = M.per_page(pages) if pages else []
    html = [i for i, e in enumerate(examples) if e.source in ("news", "news2", "pages")]
    result["html_pages_blocks"] = {
        "blocks": len(html), "content": M.content_binary([gold[i] for i in html], [predicted[i] for i in html]),
        "boilerplate": M.boilerplate_binary([gold[i] for i in html], [predicted[i] for i in html]),
    } if html else None
    return result


def slice_scores(examples, gold, predicted, key) -> dict:
    """Accuracy and macro-F1 (over the labels present in the slice's gold) per slice."""
    from sklearn.metrics import f1_score

    groups: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        groups[key(e)].append(i)
    out = {}
    for name, indices in groups.items():
        g, p = [gold[i] for i in indices], [predicted[i] for i in indices]
        present = [label for label in LABELS if label in g]
        out[name] = {"blocks": len(indices), "accuracy": float(np.mean([a == b for a, b in zip(g, p)])),
                     "macro_f1": float(f1_score(g, p, labels=present, average="macro", zero_division=0))}
    return out


def page_blocks(examples: list[Example], kept: list[bool]) -> list[M.PageBlocks]:
    """Whole pages (news and seed documents) for the character-weighted page score."""
    pages: dict[tuple, M.PageBlocks] = {}
    for e, k in zip(examples, kept):
        if e.source in PAGE_SOURCES:
            page = pages.setdefault((e.source, e.doc_id), M.PageBlocks([], [], [], f"{e.source}/{e.doc_id}"))
            page.texts.append(e.text)
            page.gold.append(e.label)
            page.kept.append(k)
    return list(pages.values())


def extractor_metrics(examples: list[Example], corpora: str | None) -> dict:
    """trafilatura and GNE on the split's HTML pages, mapped to blocks."""
    from paratheme.corpus import corpora_root, html_file

    html_docs: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for e in examples:
        if e.source in ("news", "news2"):
            html_docs[(e.source, e.doc_id)].append(e)
    if not html_docs:
        return {}
    corpora_root(corpora)  # a clear error when the corpora are missing
    out = {}
    for name in EXTRACTORS:
        gold, kept, pages = [], [], []
        for (source, doc_id), doc_examples in html_docs.items():
            html = html_file(source, doc_id, corpora).read_bytes()
            texts = [e.text for e in doc_examples]
            doc_kept = extractor_kept(name, html, texts)
            gold += [e.label for e in doc_examples]
            kept += doc_kept
            pages.append(M.PageBlocks(texts, [e.label for e in doc_examples], doc_kept, f"{source}/{doc_id}"))
        predicted = [BOILERPLATE if not k else "content" for k in kept]
        out[name] = {"blocks": len(gold), "boilerplate": M.boilerplate_binary(gold, predicted),
                     "content": M.content_binary(gold, predicted),
                     "page_character_weighted": M.character_weighted(pages), "pages": M.per_page(pages)}
    return out


def top_mistakes(examples, probs, n=30, withhold_text=False) -> list[dict]:
    predicted = probs.argmax(axis=1)
    wrong = [i for i, e in enumerate(examples) if LABELS[predicted[i]] != e.label]
    wrong.sort(key=lambda i: -probs[i].max())
    return [{"source": examples[i].source, "doc_id": examples[i].doc_id, "position": examples[i].position,
             "gold": examples[i].label, "predicted": LABELS[predicted[i]], "confidence": float(probs[i].max()),
             "text": withheld(examples[i].text) if withhold_text else examples[i].text} for i in wrong[:n]]


def withheld(text: str) -> str:
    from paratheme.pages import text_hash

    return f"(text withheld: {len(text)} characters, hash {text_hash(text)}; see python -m training.label_tool dump)"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    blocks_by_page: dict = {}
    examples = load_eval_examples(args, blocks_by_page)
    if not examples:
        raise SystemExit("no examples to evaluate")
    split = args.split if not (args.data or args.pages) else (args.data or args.pages).stem
    name = args.name or f"{args.model.resolve().name}-{split}"
    out_dir = args.out / name
    out_dir.mkdir(parents=True, exist_ok=True)

    classifier = Classifier.from_pretrained(args.model, backend=args.backend, device=args.device)
    blocks_of = (lambda doc, _: [blocks_by_page[doc[0].doc_id][e.position] for e in doc]) if args.pages else None
    probs, speed = predict_by_document(classifier, examples, args.corpora, blocks_of)
    systems = {"model": system_metrics(examples, probs, args.bootstrap)}
    if not args.no_baselines:
        train = load_examples(REPO / "data", args.corpora)["train"]
        for baseline in (TfidfLogisticRegression(), KeywordRules()):
            baseline.fit([e.text for e in train], [e.label for e in train])
            systems[baseline.name] = system_metrics(examples, baseline.predict_proba([e.text for e in examples]), 0)
        extractors = extractor_metrics(examples, args.corpora)
    else:
        extractors = {}

    training_info = args.model / "training_info.json"
    result = {
        "name": name, "model": str(args.model), "split": split, "blocks": len(examples),
        "documents": len({(e.source, e.doc_id) for e in examples}),
        "training": json.loads(training_info.read_text()) if training_info.exists() else None,
        "systems": systems, "extractors": extractors, "speed": speed,
        "mistakes": top_mistakes(examples, probs, withhold_text=args.withhold_text),
    }
    (out_dir / "metrics.json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    from .report import write_report

    headline = write_report(result, out_dir)
    print(headline)
    print(f"\nreport: {out_dir / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
