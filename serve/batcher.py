"""Micro-batching: concurrent requests' texts go to the model together, off the event loop.

Each request submits its texts and awaits its own rows of probabilities. When the model is idle
the collector waits ``max_wait_ms`` for more requests; then each model call takes up to
``max_batch_chars`` characters (a proxy for tokens: the Chinese tokenizer gives about one token
per character), from the requests with the least work left first. A big page is thus cut
across several model calls, and a one-sentence request sent while it runs waits for the call
in progress, not for the whole page. Model calls run in one worker thread, so the event loop
keeps accepting requests while the model works and the model never runs twice at once.

No request can hurt another:

- when a model call over several requests raises, each request's texts are run again alone, so
  only the request whose text breaks the model gets the error;
- requests larger than one model call (big pages) and the rest wait in two lanes, each bounded
  by ``max_queued_chars``: ``submit`` raises ``Overloaded`` at once when its lane would pass it,
  so a flood of big pages cannot shut out short requests; and after ``timeout_s`` of waiting;
- a request that times out, or whose caller is cancelled (its client went away), has its
  remaining texts dropped from the queue.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from .limits import Overloaded


class _Job:
    """One request's texts; they go to the model in order, in one or more pieces."""

    def __init__(self, texts: list[str], future: asyncio.Future, big: bool):
        self.texts = texts
        self.future = future
        self.big = big  # in the lane of requests larger than one model call
        self.next = 0  # the first text not yet sent to the model
        self.chars_left = sum(len(t) for t in texts)  # characters not yet sent
        self.rows: list[np.ndarray] = []  # answers so far, in text order

    def take(self, budget: int, first: bool) -> tuple[int, int]:
        """The next texts that fit in ``budget`` characters (at least one if ``first`` in its call)."""
        start = end = self.next
        while end < len(self.texts) and (len(self.texts[end]) <= budget or (first and end == start)):
            budget -= len(self.texts[end])
            end += 1
        self.next = end
        self.chars_left -= sum(len(t) for t in self.texts[start:end])
        return start, end

    def answer(self, rows: np.ndarray) -> None:
        self.rows.append(rows)
        if sum(len(r) for r in self.rows) == len(self.texts) and not self.future.done():
            self.future.set_result(np.concatenate(self.rows))

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


class MicroBatcher:
    def __init__(self, predict: Callable[[list[str]], np.ndarray], max_wait_ms: float = 5.0,
                 max_batch_chars: int = 4_096, on_batch: Callable[[int], None] | None = None,
                 max_queued_chars: int = 1_000_000, timeout_s: float = 30.0):
        self.predict = predict
        self.max_wait = max_wait_ms / 1000
        self.max_batch_chars = max_batch_chars
        self.on_batch = on_batch
        self.max_queued_chars = max_queued_chars
        self.timeout_s = timeout_s
        self._waiting: list[_Job] = []  # jobs with texts not yet sent to the model
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    @property
    def queued_chars(self) -> int:
        return sum(job.chars_left for job in self._waiting)

    def _lane_chars(self, big: bool) -> int:
        return sum(job.chars_left for job in self._waiting if job.big == big)

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._collect())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, texts: list[str]) -> np.ndarray:
        """Probabilities for ``texts``, shape ``(len(texts), n_labels)``.

        Raises:
            Overloaded: the queue is full, or the texts waited more than ``timeout_s``.
        """
        chars = sum(len(t) for t in texts)
        big = chars > self.max_batch_chars
        queued = self._lane_chars(big)
        if queued and queued + chars > self.max_queued_chars:
            raise Overloaded(f"the server is busy: {queued:,} characters of {'big' if big else 'short'} requests "
                             "are waiting for the model")
        job = _Job(texts, asyncio.get_running_loop().create_future(), big)
        self._waiting.append(job)
        self._wake.set()
        try:
            return await asyncio.wait_for(job.future, self.timeout_s)
        except asyncio.TimeoutError:
            raise Overloaded(f"the server is busy: the texts waited {self.timeout_s:g} s for the model") from None
        finally:  # answered, failed, timed out or cancelled: nothing of it stays queued
            if job in self._waiting:
                self._waiting.remove(job)

    async def _collect(self) -> None:
        while True:
            if not self._waiting:
                self._wake.clear()
                await self._wake.wait()
                await asyncio.sleep(self.max_wait)  # let concurrent requests join this call
            pieces = self._take_pieces()
            try:
                await self._run(pieces)
            except Exception as exc:  # e.g. rows of the wrong shape: fail these requests, keep collecting
                for job, _, _ in pieces:
                    job.fail(exc)
                    if job in self._waiting:
                        self._waiting.remove(job)

    def _take_pieces(self) -> list[tuple[_Job, int, int]]:
        """One model call's worth of texts, least work left first: ``(job, start, end)`` each."""
        budget = self.max_batch_chars
        pieces = []
        for job in sorted(self._waiting, key=lambda j: j.chars_left):
            if budget <= 0:
                break
            start, end = job.take(budget, first=not pieces)
            if end > start:
                pieces.append((job, start, end))
                budget -= sum(len(t) for t in job.texts[start:end])
            if job.next == len(job.texts):
                self._waiting.remove(job)
        return pieces

    async def _run(self, pieces: list[tuple[_Job, int, int]]) -> None:
        pieces = [p for p in pieces if not p[0].future.done()]  # dropped while waiting
        if not pieces:
            return
        texts = [t for job, start, end in pieces for t in job.texts[start:end]]
        if self.on_batch:
            self.on_batch(len(texts))
        try:
            probs = await asyncio.get_running_loop().run_in_executor(self._executor, self.predict, texts)
        except Exception as exc:
            if len(pieces) == 1:
                job = pieces[0][0]
                job.fail(exc)  # the route logs it
                if job in self._waiting:
                    self._waiting.remove(job)
                return
            # A call over several requests failed: run each alone, so the error stays with its cause.
            for piece in pieces:
                await self._run([piece])
            return
        at = 0
        for job, start, end in pieces:
            job.answer(probs[at:at + end - start])
            at += end - start
