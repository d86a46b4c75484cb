"""What the collector holds of each device: the inventory's facts, indexed once, and the
runtime records beside the core state (what was heard, the round under way, the latest
measurements), with the encoding in which they are saved.

Pure data: no I/O here. The write path (:mod:`collector.apply`) changes the records; the
read model (:mod:`collector.readmodel`) renders them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from netmon.agent import wire
from netmon.collector import coverage as cov
from netmon.collector import maintenance as mnt
from netmon.collector.model import Scope
from netmon.collector.state import DeviceState, Rules, rules_for
from netmon.config.inventory import Device, Inventory
from netmon.config.settings import CollectorSettings, MaintenanceWindow

_T = TypeVar("_T")


def _one(pool: dict[_T, _T], value: _T) -> _T:
    """The object equal to ``value`` already in ``pool`` (``value`` itself the first time)."""
    return pool.setdefault(value, value)


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What the inventory and the settings say of a device.

    Attributes:
        device: The inventory's device.
        rules: Its state thresholds (by role).
        interval_s: Its polling interval.
        stale_after_s: Silence after which it is UNKNOWN.
        ancestors: Its uplinks, nearest first.
        descendants: Every device that depends on it, breadth-first (ancestors before
            their descendants).
        commune: Its commune's code, if it is in one.
        district: Its district's code, if it is in one.
        windows: The maintenance windows that cover it.
    """

    device: Device
    rules: Rules
    interval_s: float
    stale_after_s: float
    ancestors: tuple[str, ...]
    descendants: tuple[str, ...]
    commune: str | None
    district: str | None
    windows: tuple[MaintenanceWindow, ...]


@dataclass(frozen=True, slots=True)
class Topology:
    """The inventory indexed for the engine: every device's facts, and the communes.

    Attributes:
        inventory: The network.
        facts: Per device id.
        access: Per commune code, its access devices (empty when not provisioned).
        district_communes: Per district code, its communes (none in the 2025 structure).
        communes: Every commune code.
        commune_of_access: Per access device, its commune.
    """

    inventory: Inventory
    facts: Mapping[str, DeviceFacts]
    access: Mapping[str, tuple[str, ...]]
    district_communes: Mapping[str, tuple[str, ...]]
    communes: tuple[str, ...]
    commune_of_access: Mapping[str, str]

    @classmethod
    def build(cls, inventory: Inventory, settings: CollectorSettings) -> Topology:
        """Index ``inventory`` under the collector's state and maintenance settings."""
        sset = settings.state
        idx = inventory.index
        children = idx.children()
        windows = mnt.windows_by_device(settings.maintenance, idx)
        facts: dict[str, DeviceFacts] = {}
        # Devices alike share their rules, uplink chains and intervals: one object each, not
        # one per device (a national inventory has 30,000 devices and a handful of kinds).
        rules: dict[str, Rules] = {}
        times: dict[float, float] = {}
        chains: dict[tuple[str, ...], tuple[str, ...]] = {}
        for dev_id, dev in idx.devices.items():
            place = idx.placement[dev_id]
            desc: list[str] = []
            queue = list(children.get(dev_id, ()))
            seen = {dev_id}
            while queue:  # breadth-first, so ancestors come before their descendants
                cur = queue.pop(0)
                if cur in seen:
                    continue
                seen.add(cur)
                desc.append(cur)
                queue.extend(children.get(cur, ()))
            interval = dev.interval_s or sset.default_interval_s
            role = dev.role.value
            if role not in rules:
                rules[role] = rules_for(sset, role)
            facts[dev_id] = DeviceFacts(
                device=dev,
                rules=rules[role],
                interval_s=_one(times, interval),
                stale_after_s=_one(times, sset.stale_after_intervals * interval),
                ancestors=_one(chains, tuple(idx.ancestors(dev_id))),
                descendants=tuple(desc),
                commune=place.commune.code if place.commune else None,
                district=place.district.code if place.district else None,
                windows=windows.get(dev_id, ()),
            )
        access = cov.access_devices(idx)
        return cls(
            inventory=inventory,
            facts=facts,
            access=access,
            district_communes=cov.communes_by_district(idx),
            communes=tuple(idx.communes),
            commune_of_access={d: c for c, devs in access.items() for d in devs},
        )

    def communes_of(self, scope: Scope, ident: str) -> Sequence[str]:
        """The communes a unit is made of (a device: none)."""
        if scope == "commune":
            return (ident,) if ident in self.access else ()
        if scope == "district":
            return self.district_communes.get(ident, ())
        if scope == "province":
            return self.communes
        return ()

    def devices_of(self, scope: Scope, ident: str) -> Sequence[str]:
        """The devices whose timelines a unit's figures are made of."""
        if scope == "device":
            return (ident,) if ident in self.facts else ()
        return [d for c in self.communes_of(scope, ident) for d in self.access.get(c, ())]


# gc=False (here and on the snapshot's structs: Measured, ViewInputs, the views, the series):
# they hold scalars, strings, frozen states and lists of interfaces, never a cycle, so the
# cyclic collector need not track the 90,000 a snapshot copies after every round. A field
# that could close a cycle must not be added to them.
class Live(msgspec.Struct, array_like=True, gc=False):
    """What the shell tracks of a device beside its core state.

    Attributes:
        agent: The agent that last spoke for it.
        last_seen: Measurement time of its newest sample.
        last_ok: Measurement time of its newest sample that answered.
        round_start: Time of the first sample of the probe round under way.
        round_ok: Whether a sample of that round answered.
        round_reason: Why the first failed sample of that round failed.
        maint_checked: Up to when maintenance boundaries were applied.
        pre_stale: Its core state before an UNKNOWN that nothing-heard declared (to be
            retracted if its samples turn out to continue without a gap).
        hist_last: Time of its newest latency point kept for the charts.
        sys_uptime_s: Its SNMP uptime, as last read.
        sys_name: Its sysName.
        sys_descr: Its sysDescr.
        uptime_at: When ``sys_uptime_s`` was read (the bound below a reboot reported next).
    """

    agent: str | None = None
    last_seen: float | None = None
    last_ok: float | None = None
    round_start: float | None = None
    round_ok: bool = False
    round_reason: str = ""
    maint_checked: float | None = None
    pre_stale: DeviceState | None = None
    hist_last: float = 0.0
    sys_uptime_s: float | None = None
    sys_name: str | None = None
    sys_descr: str | None = None
    uptime_at: float | None = None


class Measured(msgspec.Struct, gc=False):
    """A device's latest measurements, for display only (not saved: the next round refills
    them), and when each was measured: the ICMP/TCP probe behind the RTT and loss, the SNMP
    answer, the interface walk."""

    rtt_min_s: float | None = None
    rtt_avg_s: float | None = None
    rtt_max_s: float | None = None
    jitter_s: float | None = None
    loss_ratio: float | None = None
    response_s: float | None = None
    interfaces: list[wire.Interface] | None = None
    unread: dict[str, str] | None = None
    probe_at: float | None = None
    snmp_at: float | None = None
    interfaces_at: float | None = None


NOTHING_MEASURED = Measured()


class SavedDevice(msgspec.Struct, array_like=True):
    """A device as saved in the store: its core state, its live record, and the number of
    the commit that saved it (live tails of later commits bring the record up to date)."""

    core: DeviceState
    live: Live
    gen: int = 0


class LiveTail(msgspec.Struct, array_like=True):
    """What a batch moved of a device's live record, saved with the batch.

    A device's whole record is saved when its core state changes and at checkpoints; in
    between, every batch saves this much of each device it spoke of, in the same
    transaction as its effects, so that a collector killed at any moment comes back with
    the rounds and silences exactly as they were (a staleness dated from an older
    ``last_seen`` would rewrite windows that had closed).
    """

    device: str
    agent: str | None
    last_seen: float | None
    last_ok: float | None
    round_start: float | None
    round_ok: bool
    round_reason: str
    maint_checked: float | None

    @classmethod
    def of(cls, device: str, live: Live) -> LiveTail:
        """The part of ``live`` that a batch moves."""
        return cls(
            device,
            live.agent,
            live.last_seen,
            live.last_ok,
            live.round_start,
            live.round_ok,
            live.round_reason,
            live.maint_checked,
        )

    def onto(self, live: Live) -> None:
        """Bring a record loaded from an older save up to this one."""
        live.agent = self.agent
        live.last_seen = self.last_seen
        live.last_ok = self.last_ok
        live.round_start = self.round_start
        live.round_ok = self.round_ok
        live.round_reason = self.round_reason
        live.maint_checked = self.maint_checked


_saved_decoder = msgspec.msgpack.Decoder(SavedDevice)
_tails_decoder = msgspec.msgpack.Decoder(list[LiveTail])
_encoder = msgspec.msgpack.Encoder()


def encode_saved(core: DeviceState, live: Live, gen: int) -> bytes:
    """A device's record as the store keeps it, saved by commit number ``gen``."""
    return _encoder.encode(SavedDevice(core, live, gen))


def decode_saved(raw: bytes) -> SavedDevice:
    """A saved record (raises ``msgspec.DecodeError``/``ValidationError`` for another version's)."""
    return _saved_decoder.decode(raw)


def encode_tails(tails: list[LiveTail]) -> bytes:
    """A batch's live tails as the store keeps them."""
    return _encoder.encode(tails)


def decode_tails(raw: bytes) -> list[LiveTail]:
    """A batch's saved live tails."""
    return _tails_decoder.decode(raw)
