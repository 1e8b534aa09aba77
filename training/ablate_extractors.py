"""Would trafilatura's and GNE's main text help the page labeler's trees? A cross-validated ablation.

    python -m training.ablate_extractors [--out reports/page-model/extractor-features.json]

For every labeled HTML page of train and dev, each extractor's main text is mapped to blocks in
two ways: ``substring`` (a block is kept when its text, whitespace removed, occurs anywhere in
the main text: what ``eval.run`` scores) and ``ordered`` (a block must occur after the previous
kept block's match, and a short block within 200 characters of it, so that a lone ``首页`` does
not match a word of the article). Six columns per extractor join the shipped feature set: kept,
its ±1/2/5 window means, the page's kept share and whether the extractor found any text.

The folds are ``train_page_model``'s: 5 by document over the pages the base model has not seen,
each fitted on every other page. Only boilerplate and content F1 are scored: the trees decide
boilerplate, and the structure-only features need no base model, so none is loaded.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from eval.baselines import EXTRACTORS, extractor_main_text, in_main_text, squash
from paratheme.labels import LABELS
from paratheme.page_model import _window_mean, is_html
from training import train_page_model as stage

MAPPINGS = ("substring", "ordered")
SHORT_BLOCK = 8  # characters: shorter blocks must sit close after the previous match (ordered mapping)
SHORT_GAP = 200


def kept(blocks, main: str, mapping: str) -> np.ndarray:
    """1 for each block the extractor's ``main`` text holds, by ``mapping`` (see the module docstring)."""
    if mapping == "substring":
        return np.array(in_main_text(main, [b.text for b in blocks]), dtype=float)
    main = squash(main)
    out = np.zeros(len(blocks))
    cursor = 0
    for i, block in enumerate(blocks):
        text = squash(block.text)
        at = main.find(text, cursor) if text else -1
        if at >= 0 and (len(text) >= SHORT_BLOCK or at - cursor < SHORT_GAP):
            out[i] = 1
            cursor = at + len(text)
    return out


def extractor_columns(blocks, mains: dict[str, str], names: tuple[str, ...], mapping: str) -> tuple[np.ndarray, list[str]]:
    columns, column_names = [], []
    for name in names:
        k = kept(blocks, mains[name], mapping)
        columns += [k, *(_window_mean(k, r) for r in (1, 2, 5)), np.full(len(k), k.mean()),
                    np.full(len(k), float(bool(mains[name].strip())))]
        column_names += [f"{name}_kept", *(f"{name}_kept_mean_{r}" for r in (1, 2, 5)), f"{name}_page_share",
                         f"{name}_found"]
    return np.stack(columns, axis=1).astype(np.float32), column_names


def main(argv: list[str] | None = None) -> int:
    from paratheme.corpus import html_file
    from paratheme.pages import decode

    parser = argparse.ArgumentParser(prog="python -m training.ablate_extractors", description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the scores here (JSON)")
    args = parser.parse_args(argv)

    labels = tuple(LABELS)
    flat = lambda source, doc_id, texts: np.full((len(texts), len(labels)), 1 / len(labels), np.float32)  # noqa: E731
    pages = [p for p in stage.load_pages(("train", "dev"), labels, flat, args.corpora) if is_html(p.blocks)]
    held_out = [i for i, p in enumerate(pages) if stage.unseen_by_base_model(p, set(stage.BASE_TRAIN_SOURCES))]
    matrices, names = stage.page_matrix(pages, labels)
    mains, seconds = [], {name: [] for name in EXTRACTORS}
    for p in pages:
        html = decode(html_file(p.source, p.doc_id, args.corpora).read_bytes())
        found = {}
        for name in EXTRACTORS:
            start = time.perf_counter()
            found[name] = extractor_main_text(name, html)
            seconds[name].append(time.perf_counter() - start)
        mains.append(found)

    runs = {"shipped features": ((), "substring")}
    runs.update({f"+ {'+'.join(e)}, {m}": (e, m) for m in MAPPINGS for e in (("trafilatura",), ("gne",), EXTRACTORS)})
    results = {"pages": len(pages), "held_out_pages": len(held_out),
               "extractor_ms_median": {n: round(1000 * float(np.median(s)), 1) for n, s in seconds.items()}, "runs": {}}
    for run, (extractors, mapping) in runs.items():
        with_extra, extra_names = [], []
        for p, m, found in zip(pages, matrices, mains):
            extra, extra_names = (extractor_columns(p.blocks, found, extractors, mapping) if extractors
                                  else (np.zeros((len(p.blocks), 0), np.float32), []))
            with_extra.append(np.concatenate([m, extra], axis=1))
        cv = stage.cross_validate(pages, with_extra, names + extra_names, labels, held_out, stage.STRUCTURE_ONLY)
        row = {"boilerplate_f1": cv["boilerplate_f1"], "content_f1": cv["content_f1"],
               "content_f1_page_mean": cv["content_f1_page_mean"],
               **{f"{s}_content_f1": v["content_f1"] for s, v in cv["by_source"].items()}}
        results["runs"][run] = row
        print(f"{run:32s} " + "  ".join(f"{k} {v:.4f}" for k, v in row.items()), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
