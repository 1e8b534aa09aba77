"""The Ray engine of ``paratheme label``: the same pages, the same ``label_page``, on Ray Data.

Pages are read by Ray (``read_binary_files`` for files, ``read_json`` for a JSONL source), labeled
by a pool of actors that each load the classifier once (``LabelActor``), and written by Ray
(``write_parquet``, or JSONL lines identical to the local engine's). Ray is imported here only,
so the rest of paratheme runs without it.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .batch import (BatchError, LabeledPage, Page, PartsFolder, Source, Summary, done_pages, jsonl_lines, label_page,
                    page_from_row, rows_table)
from .classifier import Classifier

# Ray Data's read and write tasks each ask for this share of a CPU. With the actors' requests
# sized to leave one CPU free (see plan_actors), several of them fit beside the actors.
IO_TASK_CPUS = 0.25


@dataclass(frozen=True)
class ActorPlan:
    actors: int
    threads: int  # model threads inside each actor
    cpus: float  # what each actor asks Ray for


def plan_actors(cluster_cpus: float, actors: int | None = None, threads: int | None = None) -> ActorPlan:
    """Size the actor pool from the cluster's CPUs.

    The actors' requests leave one CPU (half of a 2-CPU machine) to Ray's read and write tasks:
    on a 2-CPU local Ray, two actors asking for one CPU each left the read stage nothing, and the
    job hung forever at "3/2 CPU". A request is a scheduling share only; each actor still runs
    ``threads`` model threads: by default one per actor and one actor per CPU, or the CPUs
    shared between the actors asked for.
    """
    if threads is None:
        threads = max(1, int(cluster_cpus // actors)) if actors else 1
    actors = max(1, actors or int(cluster_cpus // threads))
    free = cluster_cpus - min(1.0, cluster_cpus / 2)
    cpus = math.floor(min(float(threads), free / actors) * 1000) / 1000  # rounded down: the sum must fit
    return ActorPlan(actors, threads, max(cpus, 0.001))


class LabelActor:
    """One Ray actor: loads the classifier once, then labels batches of pages with ``label_page``."""

    def __init__(self, model: str, backend: str, threads: int, root: str, skip: frozenset[str]):
        self.classifier = Classifier.from_pretrained(model, backend=backend, threads=threads)
        self.root = root
        self.skip = skip

    def __call__(self, batch):
        if "bytes" in batch.column_names:  # read_binary_files(include_paths=True)
            pages = [Page(Path(os.path.relpath(path, self.root)).as_posix(), content=content)
                     for path, content in zip(batch.column("path").to_pylist(), batch.column("bytes").to_pylist())]
        else:  # read_json: one row per page
            pages = [page_from_row(row) for row in batch.to_pylist()]
            pages = [page for page in pages if page.id not in self.skip]
        rows = [row for page in pages for row in label_page(self.classifier, page).rows()]
        return rows_table(rows, self.classifier.labels)


def label_with_ray(source: Source, folder: Path, fmt: str, model: Path, backend: str = "auto",
                   actors: int | None = None, threads: int | None = None, batch_pages: int = 1) -> Summary:
    """Label ``source`` into the output ``folder`` on Ray, skipping pages the folder holds already.

    ``batch_pages`` pages go to an actor at a time. One keeps the actors evenly busy, since pages
    differ a hundredfold in blocks: on 12 and 42 news pages with 2 actors, batches of 4 pages took
    33% and 10% longer than batches of one.

    Connects to ``$RAY_ADDRESS`` when it is set, uses a Ray session this process has started
    already (tests), and otherwise starts a local Ray for the run.
    """
    import ray

    started = _connect(ray)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        done = done_pages(folder)
        before = {p.name for p in folder.iterdir()}
        plan = plan_actors(ray.cluster_resources().get("CPU", 1.0), actors, threads)
        print(f"paratheme: Ray with {plan.actors} actor(s), {plan.threads} thread(s) and {plan.cpus} CPU each",
              file=sys.stderr)
        summary = Summary(skipped=len(done))
        if source.jsonl is None:
            todo = [path for path in source.files if source.page_id(path) not in done]
            unreadable = {path for path in todo if not os.access(path, os.R_OK)}
            if unreadable:  # Ray would stop the whole job on a file it cannot open.
                _write_errors(folder, fmt, [(source.page_id(p), "Permission denied") for p in sorted(unreadable)], model)
                todo = [path for path in todo if path not in unreadable]
            if todo:
                dataset = ray.data.read_binary_files([str(p.resolve()) for p in todo], include_paths=True,
                                                     num_cpus=IO_TASK_CPUS)
                _run(ray, dataset, folder, fmt, model, backend, plan, batch_pages, str(source.root.resolve()), frozenset())
            expected = {source.page_id(p) for p in todo}
        else:
            dataset = ray.data.read_json(str(source.jsonl), lines=True, num_cpus=IO_TASK_CPUS)
            try:
                _run(ray, dataset, folder, fmt, model, backend, plan, batch_pages, "", frozenset(done))
            except Exception as exc:  # noqa: BLE001 - Ray wraps the reader's error in its own types
                cause = _root_cause(exc)
                raise BatchError(f"the Ray job stopped on {source.jsonl} ({cause}). Ray's JSON reader stops on a "
                                 "malformed line or on ids of mixed types; --engine local writes those lines as "
                                 "error rows. Pages finished so far are kept.") from exc
            expected = set()
        new_parts = [p for p in folder.iterdir() if p.name not in before]
        returned = _summarise(new_parts, summary)
        # Every page sent to Ray must come back; one that did not is reported, not lost.
        missing = sorted(expected - returned)
        if missing:
            print(f"paratheme: warning: {len(missing)} page(s) did not come back from Ray; written as error rows",
                  file=sys.stderr)
            errors = [(page, "not labeled by the Ray job") for page in missing]
            _write_errors(folder, fmt, errors, model)
            summary.errors.extend(errors)
            summary.pages += len(missing)
        return summary
    finally:
        if started:
            ray.shutdown()


def _root_cause(exc: BaseException) -> str:
    """The innermost ``SomeError: message`` line of a Ray error, whose text is a remote traceback."""
    lines = [line.strip() for line in str(exc).splitlines() if re.match(r"\s*[\w.]+(Error|Exception): ", line)]
    return lines[-1] if lines else type(exc).__name__


def _connect(ray) -> bool:
    """Connect to Ray; True when this call started it (and so must shut it down)."""
    if ray.is_initialized():
        return False
    address = os.environ.get("RAY_ADDRESS")
    # "local" starts a fresh Ray even when another one runs on this machine.
    ray.init(address=address or "local", logging_level=logging.WARNING, include_dashboard=False)
    return True


def _run(ray, dataset, folder: Path, fmt: str, model: Path, backend: str, plan: ActorPlan, batch_pages: int,
         root: str, skip: frozenset[str]) -> None:
    labeled = dataset.map_batches(
        LabelActor, batch_size=batch_pages, batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=plan.actors), num_cpus=plan.cpus,
        fn_constructor_kwargs={"model": str(Path(model).resolve()), "backend": backend, "threads": plan.threads,
                               "root": root, "skip": skip})
    if fmt == "parquet":
        labeled.write_parquet(str(folder), ray_remote_args={"num_cpus": IO_TASK_CPUS})
    else:
        labeled.write_datasink(_JsonlSink(str(folder)), ray_remote_args={"num_cpus": IO_TASK_CPUS})


def _jsonl_sink_class():
    from ray.data.datasource import BlockBasedFileDatasink

    class JsonlSink(BlockBasedFileDatasink):
        """Writes the local engine's JSONL lines (Ray's write_json would turn null positions into floats)."""

        def __init__(self, path: str):
            super().__init__(path, file_format="jsonl")

        def write_block_to_file(self, block, file) -> None:
            file.write(jsonl_lines(block.to_arrow().to_pylist()).encode("utf-8"))

    return JsonlSink


def _JsonlSink(path: str):  # noqa: N802 - a class built on first use, so that importing needs no Ray
    return _jsonl_sink_class()(path)


def _write_errors(folder: Path, fmt: str, errors: list[tuple[str, str]], model: Path) -> None:
    writer = PartsFolder(folder, fmt, _labels(model))
    for page, error in errors:
        writer.add(LabeledPage(page, error=error))
    writer.close()


def _labels(model: Path) -> tuple[str, ...]:
    import json

    config = json.loads((Path(model) / "config.json").read_text(encoding="utf-8"))
    return tuple(config["id2label"][str(i)] for i in range(len(config["id2label"])))


def _summarise(parts: list[Path], summary: Summary) -> set[str]:
    """Count the pages, blocks and error pages in the parts a run wrote; return their page ids."""
    seen: set[str] = set()
    for part in parts:
        for page, error in _page_errors(part):
            summary.blocks += error is None
            if page not in seen:
                seen.add(page)
                summary.pages += 1
                if error is not None:
                    summary.errors.append((page, error))
    return seen


def _page_errors(part: Path):
    if part.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(part, columns=["page", "error"])
        return zip(table.column("page").to_pylist(), table.column("error").to_pylist())
    if part.suffix in (".jsonl", ".json"):
        import json

        with open(part, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return [(row["page"], row["error"]) for row in rows]
    return []
