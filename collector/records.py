"""Every device's mutable records beside the inventory's facts, and how they come back from
the store after a restart (or a crash: whatever the last committed batch had moved)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

from netmon.collector.devices import Live, Measured, Topology, decode_saved, decode_tails
from netmon.collector.model import AgentView
from netmon.collector.state import DeviceState, initial
from netmon.collector.tails import TailSaves

log = logging.getLogger(__name__)

_agent_decoder = msgspec.json.Decoder(AgentView)


@dataclass(slots=True)
class DeviceRecords:
    """The write path's tables.

    Attributes:
        core: Per device, its core state.
        live: Per device, what the shell tracks beside it.
        measured: Per device, its latest measurements (display only, not saved).
        watermark: Per device, the newest sample time applied (older samples are late).
        agents: Per agent, what the collector knows of it.
        gen: The number of the last commit.
        tails: How much of the live tails is saved, and the rolling whole save under way.
    """

    core: dict[str, DeviceState] = field(default_factory=dict)
    live: dict[str, Live] = field(default_factory=dict)
    measured: dict[str, Measured] = field(default_factory=dict)
    watermark: dict[str, float] = field(default_factory=dict)
    agents: dict[str, AgentView] = field(default_factory=dict)
    gen: int = 0
    tails: TailSaves = field(default_factory=TailSaves)

    def forget(self, dev_id: str) -> None:
        """A device left the inventory."""
        self.core.pop(dev_id, None)
        self.live.pop(dev_id, None)
        self.measured.pop(dev_id, None)
        self.watermark.pop(dev_id, None)


class SavedRecords(Protocol):
    """What loading needs of the store."""

    def load_devices(self) -> dict[str, bytes]:
        """Every device's saved record."""
        ...

    def load_tails(self) -> list[tuple[int, bytes]]:
        """The live tails saved since the last whole save, ``(gen, data)`` in commit order."""
        ...

    def load_agents(self) -> dict[str, bytes]:
        """Every agent's saved view."""
        ...


def load_records(store: SavedRecords, topology: Topology, now: float) -> DeviceRecords:
    """The records of ``topology``'s devices as the store has them; a device the store does
    not know (or saved by another version) starts UNKNOWN since ``now``."""
    rec = DeviceRecords()
    saved = store.load_devices()
    # One immutable state for all the devices nothing is known of (30,000 at national
    # scale): the first checkpoints of their re-play logs keep it for an hour.
    fresh = initial(now)
    gens: dict[str, int] = {}
    for dev_id in topology.facts:
        raw = saved.get(dev_id)
        if raw is not None:
            try:
                s = decode_saved(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                # A state saved by another version: start this device afresh (UNKNOWN).
                log.warning("device=%s saved state unreadable, starting UNKNOWN: %s", dev_id, exc)
            else:
                rec.core[dev_id] = s.core
                rec.live[dev_id] = s.live
                gens[dev_id] = s.gen
                rec.gen = max(rec.gen, s.gen)
                continue
        rec.core[dev_id] = fresh
        rec.live[dev_id] = Live()
    # The batches committed since each device's record was saved moved its rounds and
    # silences on: bring the records up to the last committed batch.
    for gen, raw in store.load_tails():
        rec.gen = max(rec.gen, gen)
        rec.tails.tail_bytes += len(raw)
        try:
            tails = decode_tails(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("saved live tails of commit %d unreadable, skipped: %s", gen, exc)
            continue
        for tail in tails:
            live = rec.live.get(tail.device)
            if live is not None and gen > gens.get(tail.device, -1):
                tail.onto(live)
    for dev_id, live in rec.live.items():
        if live.last_seen is not None:
            rec.watermark[dev_id] = live.last_seen
    for agent_id, raw in store.load_agents().items():
        try:
            rec.agents[agent_id] = _agent_decoder.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("agent=%s saved view unreadable, forgotten: %s", agent_id, exc)
    return rec
