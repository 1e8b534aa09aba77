"""Corpus labeling speed: pages/s of each engine of ``paratheme label`` and of a plain pipeline loop, in one run.

    python -m bench.batch [--pages N] [--model model] [--json out.json]

On the same N saved HTML pages (spread over the shared corpora's 192 news pages when present, else
pages built from the repository's example), times:
- the local engine, one process (every core);
- the Ray engine on a local Ray with every CPU, with 1 actor (every core) and with 2 actors
  (the cores split between them);
- the plain ``pipeline("text-classification", model=...)`` called on each page's blocks (the same
  blocks, read by paratheme), batch size 1 as a newcomer would call it.

Each figure is the whole job as a user runs it, start-up included (model loading; for Ray, the
actors' start and load, but not starting Ray itself). Start-up is also timed alone (a job of one
short paragraph) and "after start-up" is N pages over the rest, which is what a long corpus job sees.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def bench_pages(count: int, corpora: Path, folder: Path) -> str:
    """Copy ``count`` pages into ``folder``; say where they came from."""
    folder.mkdir(parents=True)
    old, new = corpora / "news-pages-html", corpora / "news-pages-html-v2"
    pages = sorted(old.glob("*.html")) + sorted(new.glob("*/*.html"))
    if pages:
        step = max(1, len(pages) // count)
        chosen = pages[::step][:count]  # spread over the sites, not the first site's pages
        for page in chosen:
            shutil.copy(page, folder / f"{page.parent.name}-{page.name}")
        return f"{len(chosen)} pages of {old} and {new} (every {step}th by name)"
    example = (REPO / "examples" / "portal-page.html").read_text(encoding="utf-8")
    for i in range(count):
        (folder / f"page-{i:03d}.html").write_text(example.replace("江城市", f"江城{i}市"), encoding="utf-8")
    return f"{count} copies of examples/portal-page.html (corpora not found)"


HEADER = f"{'variant':<22} {'seconds':>8} {'pages/s':>8} {'x local':>8} {'start-up s':>10} {'pages/s after':>13}  detail"


def format_row(r: dict, local_rate: float) -> str:
    startup, after = r["startup_seconds"], r["pages_per_second_after_startup"]
    return (f"{r['variant']:<22} {r['seconds']:8.1f} {r['pages_per_second']:8.2f} {r['pages_per_second'] / local_rate:8.2f} "
            f"{'' if startup is None else f'{startup:.1f}':>10} {'' if after is None else f'{after:.2f}':>13}  {r['detail']}")


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def cpu_timed(fn):
    """Wall seconds, and this process's CPU seconds (all threads): on a machine shared with other
    work, CPU seconds per page is the steadier measure of what a page costs."""
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batch", description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=12, help="pages to label (default 12)")
    parser.add_argument("--model", type=Path, default=REPO / "model")
    parser.add_argument("--corpora", type=Path, default=Path(os.environ.get("PARATHEME_CORPORA") or REPO.parent / "shared" / "corpora"))
    parser.add_argument("--skip-pipeline", action="store_true", help="leave out the (slow) pipeline loop")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    import ray

    from paratheme import Classifier
    from paratheme.batch import PartsFolder, iter_pages, label_local, open_source
    from paratheme.pages import read_page
    from paratheme.raylabel import label_with_ray

    work = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        origin = bench_pages(args.pages, args.corpora, work / "pages")
        source = open_source(work / "pages")
        (work / "start").mkdir()
        (work / "start" / "one.txt").write_text("江城今年新增城镇就业六万八千人。\n", encoding="utf-8")
        one_page = open_source(work / "start")  # start-up alone: one short paragraph
        blocks = sum(len(read_page(p.read_bytes())) for p in source.files)
        cpus = os.cpu_count() or 1
        results = []
        print(HEADER, flush=True)

        def record(name, seconds, startup, detail=""):
            results.append({"variant": name, "seconds": seconds, "pages_per_second": len(source) / seconds,
                            "startup_seconds": startup,
                            "pages_per_second_after_startup": (len(source) / (seconds - startup)
                                                               if startup is not None and seconds > startup else None),
                            "detail": detail})
            print(format_row(results[-1], results[0]["pages_per_second"]), flush=True)

        def local(src, out):
            classifier = Classifier.from_pretrained(args.model)
            writer = PartsFolder(out, "parquet", classifier.labels)
            label_local(classifier, iter_pages(src), writer, progress=False)
            writer.close()
            return classifier.backend_name

        startup, startup_cpu = cpu_timed(lambda: local(one_page, work / "local-1"))
        seconds, cpu = cpu_timed(lambda: local(source, work / "local"))
        backend = Classifier.from_pretrained(args.model).backend_name
        record("local, 1 process", seconds, startup,
               f"{backend}, {cpus} threads; {(cpu - startup_cpu) / len(source):.2f} CPU s/page after start-up")

        started = time.perf_counter()
        ray.init(num_cpus=cpus, include_dashboard=False, logging_level="WARNING", address="local")
        ray_start = time.perf_counter() - started
        try:
            for actors in (1, 2):
                run = lambda src, out: label_with_ray(src, out, "parquet", args.model, actors=actors)  # noqa: E731
                startup, _ = timed(lambda: run(one_page, work / f"ray{actors}-1"))
                seconds, _ = timed(lambda: run(source, work / f"ray{actors}"))
                record(f"Ray local, {actors} actor{'s' * (actors > 1)}", seconds, startup,
                       f"{backend}, {max(1, cpus // actors)} thread(s) per actor")
        finally:
            ray.shutdown()

        if not args.skip_pipeline:
            from transformers import pipeline

            def pipeline_loop():
                classify = pipeline("text-classification", model=str(args.model))
                for path in source.files:
                    classify([b.text for b in read_page(path.read_bytes())], truncation=True, max_length=512)

            seconds, cpu = cpu_timed(pipeline_loop)
            record("pipeline loop", seconds, None, f"PyTorch, batch 1, page by page; {cpu / len(source):.2f} CPU s/page")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{origin}: {blocks} blocks; {platform.machine()}, {cpus} CPUs; Ray local start {ray_start:.1f} s (not counted)")
    print(HEADER)
    for r in results:
        print(format_row(r, results[0]["pages_per_second"]))
    if args.json:
        args.json.write_text(json.dumps({"pages": len(source), "blocks": blocks, "source": origin, "cpus": cpus,
                                         "results": results}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
