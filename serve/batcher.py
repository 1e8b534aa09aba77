"""Micro-batching: concurrent requests' texts go to the model together, off the event loop.

Each request submits its texts and awaits its own rows of probabilities. A collector waits
up to ``max_wait_ms`` for more requests, then runs one model call with everything gathered,
up to ``max_batch_chars`` characters (a proxy for tokens: the Chinese tokenizer gives about one
token per character). Model calls run in one worker thread, so the event loop keeps
accepting requests while the model works and the model never runs twice at once.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class _Job:
    texts: list[str]
    future: asyncio.Future
    chars: int = field(init=False)

    def __post_init__(self):
        self.chars = sum(len(t) for t in self.texts)


class MicroBatcher:
    def __init__(self, predict: Callable[[list[str]], np.ndarray], max_wait_ms: float = 5.0,
                 max_batch_chars: int = 16_384, on_batch: Callable[[int], None] | None = None):
        self.predict = predict
        self.max_wait = max_wait_ms / 1000
        self.max_batch_chars = max_batch_chars
        self.on_batch = on_batch
        self._queue: asyncio.Queue[_Job] | None = None
        self._task: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._collect())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, texts: list[str]) -> np.ndarray:
        """Probabilities for ``texts``, shape ``(len(texts), n_labels)``."""
        job = _Job(texts, asyncio.get_running_loop().create_future())
        await self._queue.put(job)
        return await job.future

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        carry: _Job | None = None
        while True:
            jobs = [carry or await self._queue.get()]
            carry = None
            chars = jobs[0].chars
            deadline = loop.time() + self.max_wait
            while chars < self.max_batch_chars:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), timeout)
                except asyncio.TimeoutError:
                    break
                if chars + job.chars > self.max_batch_chars:
                    carry = job  # starts the next batch
                    break
                jobs.append(job)
                chars += job.chars
            await self._run(jobs, loop)

    async def _run(self, jobs: list[_Job], loop) -> None:
        texts = [t for job in jobs for t in job.texts]
        if self.on_batch:
            self.on_batch(len(texts))
        try:
            probs = await loop.run_in_executor(self._executor, self.predict, texts)
        except Exception as exc:  # the model failed: every waiting request gets the error
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        start = 0
        for job in jobs:
            if not job.future.done():  # the client may have gone away
                job.future.set_result(probs[start:start + len(job.texts)])
            start += len(job.texts)
