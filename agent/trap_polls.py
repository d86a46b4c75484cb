"""Probing the devices a notification names, at once (the trap receiver's other half).

A linkDown from a district router means the communes behind that port may be cut off;
a coldStart from a CPE means it just came back. Either way the scheduled poll may be a
whole interval away, so the agent probes now: the sender, and for a link trap the devices
whose parent (uplink) it is. The probes are the device's normal ones (ICMP, SNMP, TCP)
with ``traps.probe_timeout_s`` and no retry, so that a confirmed failure is known in
seconds; their samples carry the :class:`~netmon.agent.wire.Trigger` and are handed to
the outbox at once.

Bounded: events wait in a queue of ``traps.queue`` (a full queue drops and counts); one
probe per device at a time, with at most one more pending (a burst of traps from a
flapping port becomes back-to-back probes, never a pile), and no more than one start per
``traps.min_repoll_interval_s`` per device; at most ``traps.concurrency`` probes at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from netmon.agent import wire
from netmon.agent.poller import Poller
from netmon.agent.traps import LINK_TRAPS, TrapEvent
from netmon.config.settings import TrapSettings

log = logging.getLogger(__name__)


class TrapPolls:
    """Turns :class:`~netmon.agent.traps.TrapEvent` values into immediate probes.

    Args:
        poller: Whose devices are probed (and whose stats count).
        settings: The ``traps`` settings.
        mono: Monotonic clock.
    """

    def __init__(self, poller: Poller, settings: TrapSettings, *, mono: Callable[[], float] = time.monotonic) -> None:
        self._poller = poller
        self._settings = settings
        self._mono = mono
        self._queue: asyncio.Queue[TrapEvent] = asyncio.Queue(settings.queue)
        self._pending: dict[str, wire.Trigger] = {}
        self._running: set[str] = set()
        self._last: dict[str, float] = {}
        self._sem = asyncio.Semaphore(settings.concurrency)
        self._idle = asyncio.Event()
        self._idle.set()

    def offer(self, event: TrapEvent) -> None:
        """Queue an event (never blocks: a full queue drops it and counts)."""
        try:
            self._queue.put_nowait(event)
            self._idle.clear()
        except asyncio.QueueFull:
            self._poller.stats.traps[(event.version, "dropped")] += 1

    def idle(self) -> bool:
        """No event waiting and no probe running or pending."""
        return self._queue.empty() and not self._running and not self._pending

    async def wait_idle(self) -> None:
        """Return once every event offered so far has been probed."""
        while not self.idle():
            self._idle.clear()
            await self._idle.wait()

    def targets(self, event: TrapEvent) -> list[str]:
        """The devices to probe for ``event``: the sender, and behind a link its children."""
        out = [event.device]
        if event.trap in LINK_TRAPS and self._settings.repoll_children:
            out += self._poller.children(event.device)
        return out

    async def run(self) -> None:
        """Probe for each event, forever (until cancelled)."""
        async with asyncio.TaskGroup() as tg:
            while True:
                event = await self._queue.get()
                trigger = wire.Trigger(
                    trap=event.trap, sender=event.device, received_at=event.received_at, if_index=event.if_index
                )
                for dev in self.targets(event):
                    if dev in self._running:
                        self._pending[dev] = trigger  # the latest one; the running probe is not disturbed
                        continue
                    self._running.add(dev)
                    tg.create_task(self._probe(dev, trigger), name=f"trap-poll[{dev}]")

    async def _probe(self, dev: str, trigger: wire.Trigger | None) -> None:
        try:
            while trigger is not None:
                wait = self._last.get(dev, float("-inf")) + self._settings.min_repoll_interval_s - self._mono()
                if wait > 0:
                    await asyncio.sleep(wait)  # a rate limit, not a synchronisation
                self._last[dev] = self._mono()
                async with self._sem:
                    try:
                        await self._poller.poll_device(dev, trigger=trigger, timeout_s=self._settings.probe_timeout_s)
                    except Exception:  # a bug in one probe must not stop the others
                        self._poller.stats.internal_errors += 1
                        log.exception("trap probe failed device=%s", dev)
                trigger = self._pending.pop(dev, None)
        finally:
            self._running.discard(dev)
            if self.idle():
                self._idle.set()
