"""Training runs side by side: dev and test scores from their evaluation reports, and the size and
CPU speed of the model folders, measured in one run.

    python -m eval.compare --runs runs.yaml --out reports/base-comparison

``runs.yaml`` lists ``runs`` as ``name: {config, hardware, dev: DIR, test: DIR, model: FOLDER}``,
where DIR is an ``eval.run`` report folder and FOLDER, optional, a model folder to size and time
(optional too: ``dev_cv: context.json``, the page-context stage's dev cross-validation);
and ``class_weighting`` as ``{config, <scheme>: dev_results.json, ...}`` (the Trainer's dev scores of
runs that differ only in class weighting). Writes ``summary.json`` (what ``eval.model_card``
renders) and ``README.md`` with the tables.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

from .report import fmt

REPO = Path(__file__).resolve().parent.parent
SPEED_BLOCKS = 1000  # the first blocks of the gold test split, page by page, PyTorch backend


def scores(report_dir: str | None) -> dict | None:
    if not report_dir:
        return None
    result = json.loads((REPO / report_dir / "metrics.json").read_text(encoding="utf-8"))
    model = result["systems"]["model"]
    return {
        "macro_f1": model["macro_f1"], "macro_f1_95ci": model.get("macro_f1_95ci"),
        "boilerplate_f1": model["boilerplate"]["f1"],
        "per_label_f1": {label: row["f1-score"] for label, row in model["per_label"].items()},
        "by_source_macro_f1": {source: row["macro_f1"] for source, row in model["by_source"].items()},
    }


def sizes_and_speeds(folders: dict[str, str], texts: list[str], rounds: int = 3) -> dict[str, dict]:
    """Parameters, fp16 size and CPU blocks/s per model folder. The models take turns, ``rounds``
    times, and each keeps its best round: this machine's speed drifts over minutes."""
    from safetensors.torch import load_file

    from paratheme.classifier import Classifier

    classifiers, best = {}, {}
    for name, folder in folders.items():
        classifiers[name] = Classifier.from_pretrained(REPO / folder, backend="pytorch")
        classifiers[name].predict_proba(texts[:8])  # one-off costs out of the timing
    for _ in range(rounds):
        for name, classifier in classifiers.items():
            start = time.perf_counter()
            classifier.predict_proba(texts)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - start)
    out = {}
    for name, folder in folders.items():
        path = REPO / folder / "model.safetensors"
        out[name] = {"parameters": sum(t.numel() for t in load_file(str(path)).values()),
                     "megabytes_fp16": path.stat().st_size / 1e6, "cpu_blocks_per_second": len(texts) / best[name]}
    return out


def context_cv(context_json: str | None) -> float | None:
    """Dev macro-F1 of base model and page-context stage, 5-fold by document, from ``train_context``."""
    if not context_json:
        return None
    info = json.loads((REPO / context_json).read_text(encoding="utf-8"))["info"]
    return info["cv_5_fold_by_document"]["boilerplate and theme stages"]["macro_f1"]


def table(summary: dict) -> str:
    with_cv = any(run.get("dev_cv") is not None for run in summary["runs"].values())
    lines = ["| run | config | trained on | dev macro-F1 | " + ("dev macro-F1, 5-fold CV with the page-context stage | " if with_cv else "")
             + "test macro-F1 (95% CI) | test boilerplate F1 | test national / news / provincial / seed | size | CPU blocks/s |",
             "|---|---|---|---|---|---|---|---|---|" + ("---|" if with_cv else "")]
    for name, run in summary["runs"].items():
        dev, test, speed = run.get("dev"), run.get("test"), run.get("model")
        ci = test and test["macro_f1_95ci"]
        sources = test and " / ".join(fmt(test["by_source_macro_f1"].get(s)) for s in ("national", "news", "provincial", "seed"))
        lines.append(" | ".join([
            f"| {name}", f"`{run['config']}`", run["hardware"], fmt(dev and dev["macro_f1"]),
            *([fmt(run.get("dev_cv"))] if with_cv else []),
            (f"{fmt(test['macro_f1'])}" + (f" ({fmt(ci[0])}–{fmt(ci[1])})" if ci else "")) if test else "–",
            fmt(test and test["boilerplate_f1"]), sources or "–",
            f"{speed['parameters'] / 1e6:.1f} M, {speed['megabytes_fp16']:.0f} MB" if speed else "–",
            f"{speed['cpu_blocks_per_second']:.0f}" if speed else "–"]) + " |")
    return "\n".join(lines) + "\n"


def class_weighting_table(weighting: dict) -> str:
    from paratheme.labels import LABELS

    schemes = [k for k in weighting if k != "config"]
    lines = ["| class weighting | macro-F1 | " + " | ".join(LABELS) + " |", "|---" * (len(LABELS) + 2) + "|"]
    for scheme in schemes:
        dev = weighting[scheme]
        lines.append(f"| {scheme} | {fmt(dev['eval_macro_f1'])} | "
                     + " | ".join(fmt(dev.get(f"eval_f1_{label}")) for label in LABELS) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.compare", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--corpora", help="corpora folder (default ../shared/corpora), for the speed sample")
    args = parser.parse_args(argv)
    spec = yaml.safe_load(args.runs.read_text(encoding="utf-8"))
    runs = spec["runs"]

    summary = {"speed_sample": f"first {SPEED_BLOCKS} blocks of the gold test split, PyTorch backend, "
                               "models taking turns, best of 3 rounds", "runs": {}}
    for name, run in runs.items():
        summary["runs"][name] = {"config": run["config"], "hardware": run["hardware"], "note": run.get("note"),
                                 "dev": scores(run.get("dev")), "test": scores(run.get("test"))}
        if run.get("dev_cv"):
            summary["runs"][name]["dev_cv"] = context_cv(run["dev_cv"])
    folders = {name: run["model"] for name, run in runs.items() if run.get("model")}
    if folders:
        from paratheme.data import load_examples

        texts = [e.text for e in load_examples(REPO / "data", args.corpora)["test"]][:SPEED_BLOCKS]
        for name, measured in sizes_and_speeds(folders, texts).items():
            summary["runs"][name]["model"] = measured
    if spec.get("class_weighting"):
        summary["class_weighting"] = {k: (v if k == "config" else json.loads((REPO / v).read_text(encoding="utf-8")))
                                      for k, v in spec["class_weighting"].items()}

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    notes = "".join(f"- {name}: {run['note']}\n" for name, run in summary["runs"].items() if run.get("note"))
    (args.out / "README.md").write_text(
        f"# Training runs compared\n\nWritten by `python -m eval.compare --runs {args.runs} --out {args.out}`. "
        f"Scores: the evaluation reports (page-context stage included); speed: {summary['speed_sample']}, "
        "this machine.\n\n" + table(summary) + ("\n" + notes if notes else "")
        + (f"\n## Class weighting\n\nDev per-label F1 ({summary['class_weighting']['config']}):\n\n"
           + class_weighting_table(summary["class_weighting"]) if "class_weighting" in summary else ""),
        encoding="utf-8")
    print(table(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
