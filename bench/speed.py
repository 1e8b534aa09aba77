"""CPU inference speed: the plain transformers pipeline against paratheme's backends, in one run.

    python -m bench.speed [--model model] [--limit N]

On the gold test split (or its first N blocks) and on the seed page, prints blocks/s, ms per
page, each variant's label agreement with the pipeline at batch 1, and its macro-F1. Also
times ``paratheme predict`` as a whole process (model loading included) on the same rows.
The fp32 ONNX variant needs ``paratheme export-onnx --fp32``; variants without their file are skipped.

    python -m bench.speed --predict-only

times only ``paratheme predict`` (whole process, default backend and PyTorch) against the
pipeline at batch 32 on the same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def timed(fn) -> tuple[float, object]:
    """Seconds one call of ``fn`` took, and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def page_times_ms(fn, repeat: int) -> tuple[float, float]:
    """Median and best of ``repeat`` back-to-back calls, in ms. Both, because this 2-core VM runs
    faster for its first few seconds under load: the best is the burst, the median is sustained."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times)), min(times)


def page_stage_cost(clf, pages: list[bytes]) -> dict:
    """On saved HTML pages: ms per page to read the page (structure records included), to run the
    base model, and to run the page labeler; the page stage's share of the whole."""
    from paratheme.pages import read_page

    read_ms, model_ms, stage_ms = [], [], []
    for page in pages:
        t0 = time.perf_counter()
        blocks = read_page(page)
        t1 = time.perf_counter()
        probs = clf.predict_proba([b.text for b in blocks])
        t2 = time.perf_counter()
        clf.with_page_context(blocks, probs)
        t3 = time.perf_counter()
        read_ms.append((t1 - t0) * 1000)
        model_ms.append((t2 - t1) * 1000)
        stage_ms.append((t3 - t2) * 1000)
    total = np.array(read_ms) + np.array(model_ms) + np.array(stage_ms)
    return {"pages": len(pages), "read_ms_median": float(np.median(read_ms)), "model_ms_median": float(np.median(model_ms)),
            "page_stage_ms_median": float(np.median(stage_ms)), "page_ms_median": float(np.median(total)),
            "page_stage_share_median": float(np.median(np.array(stage_ms) / (np.array(read_ms) + np.array(model_ms))))}


def predict_seconds(model: Path, texts: list[str], backend: str = "auto") -> float:
    """Wall time of ``paratheme predict`` as a whole process (start-up and model loading included)."""
    with tempfile.TemporaryDirectory() as tmp:
        rows_path = Path(tmp) / "rows.jsonl"
        rows_path.write_text("".join(json.dumps({"id": i, "text": t}, ensure_ascii=False) + "\n"
                                     for i, t in enumerate(texts)), encoding="utf-8")
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "paratheme.cli", "predict", "--input", str(rows_path), "--output",
                        str(Path(tmp) / "out.jsonl"), "--model", str(model), "--backend", backend], check=True, cwd=REPO,
                       stderr=subprocess.DEVNULL)
        return time.perf_counter() - start


def pages_only(model: Path, test, corpora) -> int:
    from paratheme.classifier import Classifier
    from paratheme.corpus import html_file, load_document

    clf = Classifier.from_pretrained(model, backend="onnx-int8")
    pages = sorted({(e.source, e.doc_id) for e in test if e.source in ("news", "news2")})
    html_pages = [html_file(source, doc_id, corpora).read_bytes() for source, doc_id in pages]
    seed_page = "\n".join(b.text for b in load_document("seed", "taiyuan-163", corpora).blocks).encode("utf-8")
    clf.classify_page(seed_page)  # warm
    seed_ms = page_times_ms(lambda: clf.classify_page(seed_page), repeat=50)
    stage = page_stage_cost(clf, html_pages)
    print(f"{platform.machine()}, {os.cpu_count()} CPU cores, ONNX int8")
    print(f"seed page (text, 125 blocks), warm, whole classify_page: median {seed_ms[0]:.0f} ms, best {seed_ms[1]:.0f} ms "
          f"of 50")
    print(f"{stage['pages']} HTML test pages, median per page: read {stage['read_ms_median']:.1f} ms (structure records "
          f"included), base model {stage['model_ms_median']:.0f} ms, page labeler {stage['page_stage_ms_median']:.1f} ms; "
          f"the page labeler adds {stage['page_stage_share_median']:.1%} (median over pages) to reading and the base model")
    return 0


def predict_only(model: Path, texts: list[str]) -> int:
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(model))
    pipeline_seconds, _ = timed(lambda: pipe(texts, batch_size=32, truncation=True, max_length=512))
    del pipe
    print(f"{len(texts)} blocks of the gold test split; {platform.machine()}, {os.cpu_count()} CPU cores")
    print("| variant | seconds | blocks/s | against the pipeline at batch 32 |")
    print("|---|---|---|---|")
    print(f"| `pipeline` batch 32 (model loaded beforehand) | {pipeline_seconds:.1f} | {len(texts) / pipeline_seconds:.1f} | 1.0x |")
    for backend in ("auto", "pytorch"):
        seconds = predict_seconds(model, texts, backend)
        name = "default backend (onnx-int8)" if backend == "auto" else f"--backend {backend}"
        print(f"| `paratheme predict`, {name}, whole process | {seconds:.1f} | {len(texts) / seconds:.1f} | "
              f"{pipeline_seconds / seconds:.1f}x |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "model")
    parser.add_argument("--limit", type=int, help="use only the first N test blocks")
    parser.add_argument("--corpora", help="corpora folder (default ../shared/corpora)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--predict-only", action="store_true", help="only paratheme predict against the pipeline at batch 32")
    parser.add_argument("--pages-only", action="store_true",
                        help="only the page stage's cost on the test HTML pages and the seed page's time (ONNX int8)")
    args = parser.parse_args(argv)

    from sklearn.metrics import f1_score
    from transformers import pipeline

    from paratheme.classifier import ONNX_FILES, Classifier
    from paratheme.corpus import load_document
    from paratheme.data import load_examples
    from paratheme.labels import LABELS

    test = load_examples(REPO / "data", args.corpora)["test"][: args.limit]
    texts, gold = [e.text for e in test], [e.label for e in test]
    if args.predict_only:
        return predict_only(args.model, texts)
    if args.pages_only:
        return pages_only(args.model, test, args.corpora)
    seed = [b.text for b in load_document("seed", "taiyuan-163", args.corpora).blocks]
    seed_page = "\n".join(seed).encode("utf-8")
    from paratheme.corpus import html_file

    html_pages = sorted({(e.source, e.doc_id) for e in test if e.source in ("news", "news2")})
    html_pages = [html_file(source, doc_id, args.corpora).read_bytes() for source, doc_id in html_pages]

    rows = []
    stage = None

    def record(name, seconds, labels, seed_ms):
        rows.append({"variant": name, "blocks_per_second": len(texts) / seconds, "seed_page_ms_median": seed_ms[0],
                     "seed_page_ms_best": seed_ms[1], "labels": labels})

    pipe = pipeline("text-classification", model=str(args.model))
    for batch_size in (1, 32):
        run = lambda: [r["label"] for r in pipe(texts, batch_size=batch_size, truncation=True, max_length=512)]
        seconds, labels = timed(run)
        seed_ms = page_times_ms(lambda: pipe(seed, batch_size=batch_size, truncation=True, max_length=512), repeat=5)
        record(f"pipeline batch {batch_size}", seconds, labels, seed_ms)
    del pipe

    backends = ["pytorch"] + [name for name, file in ONNX_FILES.items() if (args.model / file).is_file()][::-1]
    for backend in backends:
        clf = Classifier.from_pretrained(args.model, backend=backend)
        clf.classify_page(seed_page)  # warm
        seconds, labels = timed(lambda: clf.predict(texts))
        seed_ms = page_times_ms(lambda: clf.classify_page(seed_page), repeat=50)
        record(f"paratheme {backend}", seconds, labels, seed_ms)
        if backend == "onnx-int8" and html_pages:
            stage = page_stage_cost(clf, html_pages)
        del clf

    reference = rows[0]["labels"]
    by_name = {row["variant"]: row["labels"] for row in rows}
    int8_vs_fp32 = (float(np.mean([a == b for a, b in zip(by_name["paratheme onnx-int8"], by_name["paratheme onnx-fp32"])]))
                    if {"paratheme onnx-int8", "paratheme onnx-fp32"} <= set(by_name) else None)
    for row in rows:
        row["agreement_with_pipeline_batch_1"] = float(np.mean([a == b for a, b in zip(row["labels"], reference)]))
        row["macro_f1"] = float(f1_score(gold, row["labels"], labels=list(LABELS), average="macro", zero_division=0))
        del row["labels"]

    whole = len(texts) / predict_seconds(args.model, texts)
    pipeline_32 = next(r for r in rows if r["variant"] == "pipeline batch 32")

    import torch

    print(f"hardware: {platform.machine()}, {os.cpu_count()} CPU cores ({platform.processor() or 'CPU'}); "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"data: {len(texts)} blocks of the gold test split; seed page {len(seed)} blocks")
    print("| variant | blocks/s | seed page ms, warm: median / best | label agreement with pipeline batch 1 | macro-F1 (test) |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['variant']} | {row['blocks_per_second']:.1f} | {row['seed_page_ms_median']:.0f} / {row['seed_page_ms_best']:.0f} | "
              f"{row['agreement_with_pipeline_batch_1']:.4f} | {row['macro_f1']:.4f} |")
    if int8_vs_fp32 is not None:
        print(f"ONNX int8 gives the fp32 label for {int8_vs_fp32:.4f} of the blocks")
    print(f"`paratheme predict`, whole process: {whole:.1f} blocks/s "
          f"({whole / pipeline_32['blocks_per_second']:.1f}x the pipeline at batch 32, whose time excludes loading)")
    if stage:
        print(f"HTML test pages ({stage['pages']}), ONNX int8, median per page: read {stage['read_ms_median']:.1f} ms "
              f"(structure records included), base model {stage['model_ms_median']:.0f} ms, page labeler "
              f"{stage['page_stage_ms_median']:.1f} ms: the page stage adds {stage['page_stage_share_median']:.1%} "
              f"(median over pages) to reading and the base model")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "int8_agreement_with_fp32": int8_vs_fp32,
                                         "predict_whole_process_blocks_per_second": whole, "page_stage": stage}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
