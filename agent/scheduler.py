"""When each device is polled: spread evenly, bounded, overruns counted.

Each device is due at ``k * interval + phase`` (wall-clock seconds), its phase derived
from a hash of its id: deterministic across restarts and agents, and uniform, so a
thousand devices with a 60 s interval start about 17 ms apart instead of all at once.
One heap holds the next due time of every device; one loop sleeps until the earliest.
At most ``concurrency`` polls run at once (a semaphore); a device whose previous poll
is still running when it is due again is not polled twice: the due time is counted as
an overrun and a skipped poll.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
import math
from collections.abc import Awaitable, Callable

from netmon.agent.selfmetrics import PollStats

log = logging.getLogger(__name__)


def phase(device_id: str, interval_s: float) -> float:
    """The device's offset within its interval, in [0, interval)."""
    h = int.from_bytes(hashlib.blake2b(device_id.encode(), digest_size=8).digest(), "big")
    return (h / 2**64) * interval_s


def next_due(now: float, interval_s: float, offset: float) -> float:
    """The first ``k * interval + offset`` strictly after ``now``."""
    k = math.floor((now - offset) / interval_s) + 1
    return k * interval_s + offset


class Scheduler:
    """Runs ``poll(device_id)`` for every device at its own interval.

    Args:
        poll: Coroutine function polling one device; must not raise (the scheduler
            counts and logs a bug if it does, and goes on).
        intervals: Interval of each device id.
        concurrency: Polls running at once.
        stats: Where overruns, skips, lag and queue depth are counted.
        clock: Wall clock (for the phase); the event loop's clock paces the sleeps.
    """

    def __init__(
        self,
        poll: Callable[[str], Awaitable[None]],
        intervals: dict[str, float],
        concurrency: int,
        stats: PollStats,
        clock: Callable[[], float],
    ) -> None:
        self._poll = poll
        self._intervals = dict(intervals)
        self._sem = asyncio.Semaphore(concurrency)
        self._stats = stats
        self._clock = clock
        self._heap: list[tuple[float, str]] = []
        self._running: set[str] = set()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        stats.devices = len(self._intervals)

    def update(self, intervals: dict[str, float]) -> None:
        """Replace the device set (reload); new devices get their next due time."""
        self._intervals = dict(intervals)
        self._stats.devices = len(self._intervals)
        self._wake.set()

    def _schedule_missing(self, loop_now: float, wall_now: float) -> None:
        scheduled = {d for _, d in self._heap}
        for dev, iv in self._intervals.items():
            if dev not in scheduled:
                due_wall = next_due(wall_now, iv, phase(dev, iv))
                heapq.heappush(self._heap, (loop_now + (due_wall - wall_now), dev))

    async def run(self) -> None:
        """Schedule forever (until cancelled); in-flight polls are cancelled with it."""
        loop = asyncio.get_running_loop()
        self._schedule_missing(loop.time(), self._clock())
        try:
            while True:
                if self._wake.is_set():
                    self._wake.clear()
                    self._heap = [(t, d) for t, d in self._heap if d in self._intervals]
                    heapq.heapify(self._heap)
                    self._schedule_missing(loop.time(), self._clock())
                if not self._heap:
                    await self._wake.wait()
                    continue
                due, dev = self._heap[0]
                delay = due - loop.time()
                if delay > 0:
                    try:
                        async with asyncio.timeout(delay):
                            await self._wake.wait()
                    except TimeoutError:
                        pass
                    continue
                heapq.heappop(self._heap)
                iv = self._intervals.get(dev)
                if iv is None:
                    continue
                heapq.heappush(self._heap, (due + iv, dev))
                if dev in self._running:
                    self._stats.overruns += 1
                    self._stats.skipped += 1
                    continue
                self._running.add(dev)
                task = asyncio.create_task(self._one(dev, due), name=f"netmon.poll[{dev}]")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        finally:
            for t in list(self._tasks):
                t.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _one(self, dev: str, due: float) -> None:
        loop = asyncio.get_running_loop()
        acquired = False
        self._stats.queue_depth += 1
        try:
            async with self._sem:
                acquired = True
                self._stats.queue_depth -= 1
                self._stats.lag.observe(max(0.0, loop.time() - due))
                self._stats.in_flight += 1
                try:
                    await self._poll(dev)
                except Exception:  # a bug in one poll must not stop the others
                    self._stats.internal_errors += 1
                    log.exception("poll failed device=%s", dev)
                finally:
                    self._stats.in_flight -= 1
        finally:
            if not acquired:  # cancelled while waiting for a slot
                self._stats.queue_depth -= 1
            self._running.discard(dev)
