"""A collector told to stop stops, even when a cancellation was dropped on the way."""

from __future__ import annotations

import asyncio
import contextlib

from netmon.collector.subscriber import honour_cancellation


async def test_a_dropped_cancellation_is_honoured_at_the_next_check() -> None:
    dropped = asyncio.Event()

    async def subscriber() -> None:
        # As Python 3.11's wait_for does when the operation completes as it is cancelled:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(30)
        dropped.set()
        honour_cancellation()
        await asyncio.sleep(30)  # subscribing forever: never reached

    task = asyncio.create_task(subscriber())
    await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert dropped.is_set()
    assert task in done, "the task went on after its cancellation was dropped"
    assert task.cancelled()
    task.cancel()


async def test_no_cancellation_no_error() -> None:
    honour_cancellation()  # outside any cancellation: nothing happens
