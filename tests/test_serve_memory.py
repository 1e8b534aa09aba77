"""serve/memory.py: the glibc arena cap and the periodic trim that keep the server's RSS flat."""

import asyncio
import sys

import pytest

from serve import memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_the_arena_cap_is_taken_on_glibc():
    if memory._glibc() is None:
        pytest.skip("not glibc")
    assert memory.limit_malloc_arenas() is True


def test_freed_memory_is_returned_periodically_until_cancelled(monkeypatch):
    class FakeLibc:
        calls = 0

        def malloc_trim(self, pad):
            assert pad == 0
            FakeLibc.calls += 1

    monkeypatch.setattr(memory, "_glibc", lambda: FakeLibc())

    async def run():
        task = asyncio.create_task(memory.return_freed_memory(every_s=0.01))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        calls = FakeLibc.calls
        await asyncio.sleep(0.05)
        return calls

    calls = asyncio.run(run())
    assert calls >= 3 and FakeLibc.calls == calls


def test_without_glibc_nothing_is_called(monkeypatch):
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.limit_malloc_arenas() is False
    asyncio.run(asyncio.wait_for(memory.return_freed_memory(every_s=0.01), timeout=1))  # returns at once
