"""Keep the server's memory where its work is: glibc's heap arenas capped, freed pages returned.

A 10-minute soak at concurrency 32 (``python -m serve.bench --soak``) grew the server from 175 MB
after its warm-up to 226 MB, and it was still creeping at the end. Two glibc habits caused most
of it:

- each thread that allocates under contention gets a heap arena of its own (up to eight per core),
  and memory freed in one arena is not reused by another; requests hop between the event loop,
  the model thread, the reader threads and the tokenizer's threads;
- freed memory stays in the heap, counted in the RSS, until ``malloc_trim`` hands it back.

Both calls do nothing where the C library is not glibc.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util

ARENAS = 2  # what MALLOC_ARENA_MAX=2 gives
TRIM_EVERY_S = 10.0
_M_ARENA_MAX = -8  # glibc's malloc.h


def _glibc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def limit_malloc_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's heap arenas, as ``MALLOC_ARENA_MAX`` does; False where that is not possible.
    Call it before the model is loaded: arenas made already stay."""
    libc = _glibc()
    return bool(libc and libc.mallopt(_M_ARENA_MAX, arenas))


async def return_freed_memory(every_s: float = TRIM_EVERY_S) -> None:
    """Hand the heap's free pages back to the OS every ``every_s`` seconds, until cancelled.
    ``malloc_trim`` walks the heap (a few milliseconds), so it runs off the event loop."""
    libc = _glibc()
    if libc is None:
        return
    while True:
        await asyncio.sleep(every_s)
        await asyncio.to_thread(libc.malloc_trim, 0)
