"""The ``paratheme`` command: parses arguments and hands the work to the package's modules."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path

from .classifier import BACKENDS, BlockPrediction, Classifier, ModelError, default_model_path
from .batch import FORMATS, BatchError
from .pages import PageError
from .viewer import ViewerError, write_views

PREVIEW_CHARS = 40


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="paratheme", description="Label every paragraph of a Chinese page with its theme.")
    sub = parser.add_subparsers(dest="command", required=True)

    classify = sub.add_parser("classify", help="label the blocks of one page (text or HTML); of many with --jsonl or --html")
    classify.add_argument("page", nargs="+", help="a page file, or - for standard input; with --jsonl, a folder, glob or JSONL "
                          "file; with --html, also several pages or a folder")
    classify.add_argument("--model", type=Path, default=None, help=f"model folder (default {default_model_path()})")
    shape = classify.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print every block as JSON")
    shape.add_argument("--content", action="store_true", help="print only the article (boilerplate dropped)")
    shape.add_argument("--html", type=Path, metavar="OUT", help="write the page viewer: the file OUT for one page; for several "
                       "pages or a folder, the folder OUT with one view per page and index.html")
    classify.add_argument("--structure", action="store_true",
                          help="with --json: add each block's structure record (tag path, link share, ...)")
    classify.add_argument("--kind", choices=("auto", "html", "text"), default="auto", help="how to read the page")
    classify.add_argument("--backend", choices=BACKENDS, default="auto", help="inference backend (default: fastest present)")
    classify.add_argument("--jsonl", type=Path, default=None, metavar="OUT",
                          help="label every page of a folder, glob or JSONL source into OUT, one row per block "
                               "(the simple form of `paratheme label`)")

    label = sub.add_parser("label", help="label a corpus: a folder, glob or JSONL of pages, locally or on Ray")
    label.add_argument("pages", help='a folder, a glob (quote it) or a JSONL file of rows {"id", "html" | "text"}')
    label.add_argument("--output", required=True, type=Path, help="output folder of part files; re-running resumes")
    label.add_argument("--format", choices=FORMATS, default="parquet")
    label.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: this process; ray: Ray Data ($RAY_ADDRESS, else a local Ray)")
    label.add_argument("--num-actors", type=int, default=None, help="Ray actors (default: the cluster's CPUs / threads)")
    label.add_argument("--threads", type=int, default=None,
                       help="model threads (local default: every core; Ray default: 1 per actor)")
    label.add_argument("--model", type=Path, default=None, help=f"model folder (default {default_model_path()})")
    label.add_argument("--backend", choices=BACKENDS, default="auto", help="inference backend (default: fastest present)")

    predict = sub.add_parser("predict", help="label rows of a JSONL file")
    predict.add_argument("--input", required=True, type=Path, help='JSONL rows {"id", "text"} (optional "doc_id", "position")')
    predict.add_argument("--output", required=True, type=Path, help='JSONL rows {"id", "label", "scores"}, same order')
    predict.add_argument("--model", type=Path, default=None, help=f"model folder (default {default_model_path()})")
    predict.add_argument("--batch-size", type=int, default=32)
    predict.add_argument("--chunk-rows", type=int, default=2048, help="rows read and labeled at a time (bounds memory)")
    predict.add_argument("--backend", choices=BACKENDS, default="auto", help="inference backend (default: fastest present)")

    onnx = sub.add_parser("export-onnx", help="write the int8 ONNX model <model>/onnx/model_quantized.onnx (fast on CPU)")
    onnx.add_argument("--model", type=Path, default=None, help=f"model folder (default {default_model_path()})")
    onnx.add_argument("--fp32", action="store_true", help="also keep the fp32 export, onnx/model.onnx")

    train = sub.add_parser("train", help="fine-tune a model from a config (same as python -m training.train)")
    train.add_argument("--config", required=True, type=Path)

    serve = sub.add_parser("serve", help="run the HTTP server (FastAPI on uvicorn)")
    serve.add_argument("--model", type=Path, default=None, help=f"model folder (default {default_model_path()})")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--token", default=None, help="bearer token required on every route but /health "
                       "(default: $PARATHEME_TOKEN; none means no authentication; an empty one is an error)")
    serve.add_argument("--max-body-bytes", type=int, default=2 * 1024 * 1024, help="larger bodies get 413")
    serve.add_argument("--max-items", type=int, default=256, help="most texts in one request (422 above)")
    serve.add_argument("--max-chars", type=int, default=20_000, help="most characters in one text (422 above)")
    serve.add_argument("--request-timeout", type=float, default=30.0, help="seconds a request may wait for the model (503 after)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "classify":
            return classify_batch(args) if args.jsonl else classify(args)
        if args.command == "label":
            return label(args)
        if args.command == "predict":
            return predict(args)
        if args.command == "train":
            from training.train import main as train_main

            return train_main(["--config", str(args.config)])
        if args.command == "export-onnx":
            try:
                import onnx  # noqa: F401
                import onnxscript  # noqa: F401
            except ImportError as exc:
                raise CLIError(f"{exc.name} is not installed. To fix: pip install -e '.[onnx]'") from exc
            from training.export import export_onnx

            folder = args.model or default_model_path()
            Classifier.from_pretrained(folder, backend="pytorch")  # a clear error for a bad folder
            for name, path in export_onnx(folder, keep_fp32=args.fp32).items():
                print(f"{name}: {path} ({path.stat().st_size / 1e6:.1f} MB)")
            return 0
        if args.command == "serve":
            try:
                from serve.app import Limits, resolve_token, serve
                from serve.memory import limit_malloc_arenas
            except ImportError as exc:
                raise CLIError(f"{exc.name} is not installed. To fix: pip install -e '.[serve]'") from exc

            try:
                token = resolve_token(args.token)
            except ValueError as exc:  # an empty token must not read as "no authentication"
                raise CLIError(str(exc)) from exc
            limits = Limits(max_body_bytes=args.max_body_bytes, max_items=args.max_items, max_chars=args.max_chars,
                            request_timeout_s=args.request_timeout)
            limit_malloc_arenas()
            # Loaded here so that a bad model folder is a one-line error, not a server that fails to start.
            serve(Classifier.from_pretrained(args.model), args.host, args.port, token, limits)
    except (CLIError, BatchError, ModelError, PageError, ViewerError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"paratheme: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def classify(args: argparse.Namespace) -> int:
    if args.html:
        return write_html_views(args)
    if len(args.page) > 1:
        raise CLIError("several pages need --html (one view per page and an index)")
    page = sys.stdin.buffer.read() if args.page[0] == "-" else _read_file(Path(args.page[0]))
    from .pages import read_page

    blocks = read_page(page, kind=args.kind)  # read before loading the model: a bad page fails fast
    classifier = Classifier.from_pretrained(args.model, backend=args.backend)
    predictions = classifier.classify_blocks(blocks)
    if args.json:
        json.dump({"blocks": [p.to_dict(structure=args.structure) for p in predictions]}, sys.stdout, ensure_ascii=False, indent=1)
        print()
    elif args.content:
        for p in predictions:
            if not p.boilerplate:
                print(f"[{p.label}] {p.text}")
    else:
        print(format_table(predictions))
        print(f"({len(predictions)} blocks; model {classifier.name}, {classifier.backend_name} backend)", file=sys.stderr)
    return 0


def write_html_views(args: argparse.Namespace) -> int:
    summaries = write_views(args.page, args.html, lambda: Classifier.from_pretrained(args.model, backend=args.backend),
                            kind=args.kind)
    unread = [s for s in summaries if s.error]
    if args.html.is_file():
        print(f"wrote {args.html}", file=sys.stderr)
    else:
        print(f"wrote {len(summaries) - len(unread)} page views and index.html to {args.html}"
              + (f"; {len(unread)} pages could not be read (listed in the index)" if unread else ""), file=sys.stderr)
    return 0


def format_table(predictions: list[BlockPrediction]) -> str:
    lines = [f"{'pos':>4}  {'label':<11}  {'conf':>5}  text"]
    for p in predictions:
        text = p.text if len(p.text) <= PREVIEW_CHARS else p.text[:PREVIEW_CHARS] + "…"
        lines.append(f"{p.position:>4}  {p.label:<11}  {p.score:5.2f}  {text}")
    return "\n".join(lines)


def label(args: argparse.Namespace) -> int:
    from . import batch

    output = args.output
    source = batch.open_source(args.pages).excluding(output)
    if args.engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError as exc:
            raise CLIError("ray is not installed. To fix: pip install -e '.[ray]'") from exc
        from .raylabel import label_with_ray

        batch.PartsFolder(output, args.format, ())  # a clear error for a bad output before Ray starts
        with _stop_on_sigterm():  # so that a Ray this run started is shut down
            summary = label_with_ray(source, output, args.format, args.model or default_model_path(), args.backend,
                                     args.num_actors, args.threads)
    else:
        classifier = Classifier.from_pretrained(args.model, backend=args.backend, threads=args.threads)
        writer = batch.PartsFolder(output, args.format, classifier.labels)
        done = batch.done_pages(output)
        with _stop_on_sigterm():
            try:
                summary = batch.label_local(classifier, batch.iter_pages(source, skip=done), writer,
                                            total=max(0, len(source) - len(done)), on_error=_report_page_error)
            finally:
                writer.close()  # the pages labeled so far are kept, for the next run to skip
        summary.skipped = len(done)
    _print_summary(summary, output)
    return 0


def classify_batch(args: argparse.Namespace) -> int:
    """``classify SOURCE --jsonl OUT``: the local engine of ``label``, into one JSONL file."""
    from . import batch

    if len(args.page) > 1:
        raise CLIError("--jsonl takes one source: a folder, a glob (quote it) or a JSONL file")
    if args.page[0] == "-":
        raise CLIError("--jsonl labels a folder, a glob or a JSONL file, not standard input")
    if args.kind != "auto":
        raise CLIError("--kind applies to one page; a batch reads each page by its content")
    source = batch.open_source(args.page[0])
    classifier = Classifier.from_pretrained(args.model, backend=args.backend)
    writer = batch.JsonlFile(args.jsonl)
    with _stop_on_sigterm():
        try:
            summary = batch.label_local(classifier, batch.iter_pages(source), writer, total=len(source),
                                        on_error=_report_page_error)
        except BaseException:
            writer.discard()
            raise
        writer.close()
    _print_summary(summary, args.jsonl)
    return 0


def _report_page_error(page: str, error: str) -> None:
    from tqdm import tqdm

    tqdm.write(f"paratheme: skipped {page}: {error}", file=sys.stderr)


def _print_summary(summary, output: Path) -> None:
    skipped = f"; {summary.skipped} already there" if summary.skipped else ""
    print(f"labeled {summary.pages - len(summary.errors)} pages ({summary.blocks} blocks) into {output}; "
          f"{len(summary.errors)} could not be read (error rows){skipped}", file=sys.stderr)


def predict(args: argparse.Namespace) -> int:
    from .batch import predict_file

    if args.batch_size < 1 or args.chunk_rows < 1:
        raise CLIError("--batch-size and --chunk-rows must be at least 1")
    if args.input.is_dir():
        raise CLIError(f"--input {args.input} is a folder, not a JSONL file")
    if not args.input.is_file():
        raise CLIError(f"input file {args.input} not found")
    if args.output.is_dir():
        raise CLIError(f"--output {args.output} is a folder; give a file name")
    if args.output.resolve() == args.input.resolve():
        raise CLIError("--output is the --input file; writing there would destroy the input")
    classifier = Classifier.from_pretrained(args.model, backend=args.backend, batch_size=args.batch_size)
    with _stop_on_sigterm():
        written = predict_file(classifier, args.input, args.output, args.chunk_rows)
    print(f"wrote {written} predictions to {args.output} ({classifier.backend_name} backend)", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _stop_on_sigterm():
    """Turn SIGTERM into SystemExit(143), so that cleanup (removing a ``.partial`` file, writing the
    pages done so far) runs as it does on Ctrl-C instead of the process dying mid-write."""
    def stop(signum, frame):
        raise SystemExit(128 + signal.SIGTERM)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _read_file(path: Path) -> bytes:
    if not path.exists():
        raise CLIError(f"page file {path} not found")
    if path.is_dir():
        raise CLIError(f"{path} is a folder, not a page file (to label every page in it: --jsonl OUT)")
    return path.read_bytes()


if __name__ == "__main__":
    sys.exit(main())
