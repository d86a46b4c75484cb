"""Simulated SNMP devices: real responders on loopback addresses.

One asyncio process answers a whole province or country: one UDP socket per device
address (127.0.0.0/8 only; Linux routes the whole block to ``lo``), SNMP v1/v2c GET,
GETNEXT and GETBULK decoded and encoded by :mod:`netmon.demo.ber` from pre-encoded
recordings. Per device: sysName is its id, sysUpTime advances from its boot and resets
on a simulated reboot, interface octet counters advance with a steady simulated traffic
(Counter32 wraps). SNMPv3 is not simulated: the demo's credentials profile is v2c.

A device can be switched: down (no answer), lossy (drops a share of requests), slow
(answers after a delay), rebooting (down, then up with sysUpTime from zero). A device
also stops answering while any of its ancestors (its uplink chain) is down, as a commune
CPE behind a cut fibre does.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

from netmon.demo import ber
from netmon.demo.recording import Dyn, Recording

log = logging.getLogger("netmon.demo.simulator")

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
#: GETBULK responses are cut at this size (RFC 3416 4.2.3 allows it), as net-snmp's
#: snmpd cuts them for UDP: a real device answers a wide bulk request with a partial one.
MAX_RESPONSE_BYTES = 1472
_U32 = 1 << 32
_U64 = 1 << 64


class SimulatorError(Exception):
    """The simulator cannot start (an address outside 127/8, a port it cannot bind)."""


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """What to simulate: a device id, its loopback address, its recording and parent."""

    id: str
    address: str
    recording: Recording
    parent: str | None = None


@dataclass
class SimDevice:
    """One simulated device's mutable condition.

    Attributes:
        spec: What it is.
        boot_time: Unix time of its last boot (sysUpTime counts from here).
        holds: Active reasons it does not answer (``outage``, ``fibre_cut``, ...); it
            answers when there are none, here and up its parent chain.
        loss: Share of requests dropped (0..1).
        latency_s: Added delay before answering.
        rates: ifIndex -> (in, out) traffic in bytes per second.
    """

    spec: DeviceSpec
    boot_time: float
    holds: dict[str, int] = field(default_factory=dict)
    loss: float = 0.0
    latency_s: float = 0.0
    rates: dict[int, tuple[float, float]] = field(default_factory=dict)
    chain: tuple[SimDevice, ...] = ()
    requests: int = 0
    answered: int = 0
    name_tlv: bytes = b""

    @property
    def own_up(self) -> bool:
        """Whether the device itself is powered and working."""
        return not self.holds

    @property
    def answering(self) -> bool:
        """Whether a request reaches it and it answers: it and its uplinks are up."""
        if self.holds:
            return False
        return all(not a.holds for a in self.chain)

    def hold(self, reason: str) -> None:
        """Stop answering for ``reason`` (holds nest: two outages need two releases)."""
        self.holds[reason] = self.holds.get(reason, 0) + 1

    def release(self, reason: str, *, now: float | None = None, reboot: bool = False) -> None:
        """End one hold; with ``reboot`` (or a power-type hold) sysUpTime restarts."""
        n = self.holds.get(reason, 0) - 1
        if n <= 0:
            self.holds.pop(reason, None)
        else:
            self.holds[reason] = n
        if reboot:
            self.boot_time = time.time() if now is None else now

    def value(self, pos: int, now: float) -> bytes:
        """The value TLV at a recording position, computed for dynamic objects."""
        rec = self.spec.recording
        dyn = rec.dynamic.get(pos)
        if dyn is None:
            return rec.enc_values[pos]
        kind, if_index = dyn
        up_s = max(now - self.boot_time, 0.0)
        if kind is Dyn.SYS_UPTIME:
            return ber.encode_integer(int(up_s * 100) % _U32, ber.TIMETICKS)
        if kind is Dyn.SYS_NAME:
            return self.name_tlv
        rin, rout = self.rates.get(if_index, (0.0, 0.0))
        if kind is Dyn.IN_OCTETS:
            return ber.encode_integer(int(rin * up_s) % _U32, ber.COUNTER32)
        if kind is Dyn.OUT_OCTETS:
            return ber.encode_integer(int(rout * up_s) % _U32, ber.COUNTER32)
        if kind is Dyn.HC_IN_OCTETS:
            return ber.encode_integer(int(rin * up_s) % _U64, ber.COUNTER64)
        return ber.encode_integer(int(rout * up_s) % _U64, ber.COUNTER64)


def answer(dev: SimDevice, req: ber.Request, now: float) -> bytes:
    """The response to a request, per RFC 3416 (v2c exceptions) or RFC 1157 (v1 errors)."""
    rec = dev.spec.recording
    n = len(rec.oids)
    vbs: list[bytes] = []
    v1 = req.version == 0
    if req.pdu == ber.SET:
        return ber.encode_response(
            req.version,
            req.community,
            req.request_id,
            [],
            error_status=ber.READ_ONLY if v1 else ber.NOT_WRITABLE,
            error_index=1,
        )
    if req.pdu == ber.GET:
        for i, oid in enumerate(req.oids):
            pos = rec.position(oid)
            enc = ber.encode_oid(oid)
            if pos is None:
                if v1:
                    return _v1_error(req, i)
                within = rec.next_position(oid)
                is_object = within < n and rec.oids[within][: len(oid) - 1] == oid[:-1]
                vbs.append(ber.varbind(enc, bytes((ber.NO_SUCH_INSTANCE if is_object else ber.NO_SUCH_OBJECT, 0))))
            else:
                vbs.append(ber.varbind(rec.enc_oids[pos], dev.value(pos, now)))
        return ber.encode_response(req.version, req.community, req.request_id, vbs)
    if req.pdu == ber.GETNEXT:
        for i, oid in enumerate(req.oids):
            pos = rec.next_position(oid)
            if pos >= n:
                if v1:
                    return _v1_error(req, i)
                vbs.append(ber.varbind(ber.encode_oid(oid), bytes((ber.END_OF_MIB_VIEW, 0))))
            else:
                vbs.append(ber.varbind(rec.enc_oids[pos], dev.value(pos, now)))
        return ber.encode_response(req.version, req.community, req.request_id, vbs)
    # GETBULK: non-repeaters once, then max-repetitions rounds over the rest.
    nr = min(req.non_repeaters, len(req.oids))
    size = 0
    for oid in req.oids[:nr]:
        pos = rec.next_position(oid)
        vb = (
            ber.varbind(ber.encode_oid(oid), bytes((ber.END_OF_MIB_VIEW, 0)))
            if pos >= n
            else ber.varbind(rec.enc_oids[pos], dev.value(pos, now))
        )
        vbs.append(vb)
        size += len(vb)
    cursors = [rec.next_position(o) for o in req.oids[nr:]]
    names = list(req.oids[nr:])
    for _ in range(min(req.max_repetitions, 1000)):
        if not cursors:
            break
        all_end = True
        for j, pos in enumerate(cursors):
            if pos >= n:
                vb = ber.varbind(ber.encode_oid(names[j]), bytes((ber.END_OF_MIB_VIEW, 0)))
            else:
                all_end = False
                vb = ber.varbind(rec.enc_oids[pos], dev.value(pos, now))
                names[j] = rec.oids[pos]
                cursors[j] = pos + 1
            if size + len(vb) > MAX_RESPONSE_BYTES:
                return ber.encode_response(req.version, req.community, req.request_id, vbs)
            vbs.append(vb)
            size += len(vb)
        if all_end:
            break
    return ber.encode_response(req.version, req.community, req.request_id, vbs)


def _v1_error(req: ber.Request, index: int) -> bytes:
    vbs = [ber.varbind(ber.encode_oid(o), ber.tlv(ber.NULL, b"")) for o in req.oids]
    return ber.encode_response(
        req.version, req.community, req.request_id, vbs, error_status=ber.NO_SUCH_NAME, error_index=index + 1
    )


class _Responder(asyncio.DatagramProtocol):
    """The UDP endpoint of one simulated device."""

    def __init__(self, sim: Simulator, dev: SimDevice) -> None:
        self.sim = sim
        self.dev = dev
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector loop's datagram transport does not subclass DatagramTransport on 3.11.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        sim, dev = self.sim, self.dev
        sim.stats.requests += 1
        dev.requests += 1
        if not dev.answering:
            sim.stats.silent += 1
            return
        if dev.loss and sim.rng.random() < dev.loss:
            sim.stats.dropped += 1
            return
        try:
            req = ber.decode_request(data)
        except ber.BerError:
            sim.stats.malformed += 1
            return
        if req.community != sim.community:
            sim.stats.bad_community += 1
            return
        out = answer(dev, req, sim.clock())
        dev.answered += 1
        sim.stats.answered += 1
        if dev.latency_s > 0:
            asyncio.get_running_loop().call_later(dev.latency_s, self._send, out, addr)
        else:
            self._send(out, addr)

    def _send(self, out: bytes, addr: tuple[str | int, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(out, addr)


@dataclass
class SimulatorStats:
    """Counters of what the simulated devices received and did."""

    requests: int = 0
    answered: int = 0
    silent: int = 0
    dropped: int = 0
    malformed: int = 0
    bad_community: int = 0


class Simulator:
    """A set of simulated devices, each on its own loopback address.

    Args:
        specs: The devices; parents must be among them to take effect.
        community: The v2c/v1 community they accept.
        port: UDP port every device listens on (161 needs root; any port works).
        seed: Seeds the traffic rates and request loss, for reproducible runs.
        clock: Wall clock (sysUpTime and counters derive from it).
    """

    def __init__(
        self,
        specs: Iterable[DeviceSpec],
        *,
        community: str,
        port: int = 161,
        seed: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.community = community.encode()
        self.port = port
        self.clock = clock
        self.rng = random.Random(seed)
        self.stats = SimulatorStats()
        self.devices: dict[str, SimDevice] = {}
        self._transports: list[asyncio.DatagramTransport] = []
        now = clock()
        for spec in specs:
            if ipaddress.ip_address(spec.address) not in LOOPBACK:
                raise SimulatorError(f"device {spec.id}: address {spec.address} is outside 127.0.0.0/8")
            dev = SimDevice(spec=spec, boot_time=now - self.rng.uniform(3600, 90 * 86400))
            dev.name_tlv = ber.tlv(ber.OCTET_STRING, spec.id.encode())
            for if_index, speed in spec.recording.if_speeds.items():
                cap = (speed or 10_000_000) / 8
                dev.rates[if_index] = (cap * self.rng.uniform(0.01, 0.3), cap * self.rng.uniform(0.005, 0.1))
            self.devices[spec.id] = dev
        for dev in self.devices.values():
            chain: list[SimDevice] = []
            seen = {dev.spec.id}
            parent = dev.spec.parent
            while parent is not None and parent in self.devices and parent not in seen:
                seen.add(parent)
                chain.append(self.devices[parent])
                parent = self.devices[parent].spec.parent
            dev.chain = tuple(chain)

    async def start(self) -> None:
        """Bind every device's socket.

        Raises:
            SimulatorError: An address/port cannot be bound (port 161 needs root or
                ``CAP_NET_BIND_SERVICE``; pick another port).
        """
        loop = asyncio.get_running_loop()
        for dev in self.devices.values():
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda dev=dev: _Responder(self, dev),  # type: ignore[misc]
                    local_addr=(dev.spec.address, self.port),
                )
            except OSError as exc:
                self.close()
                raise SimulatorError(
                    f"cannot listen on {dev.spec.address}:{self.port} for {dev.spec.id}: {exc.strerror}"
                    + (" (port 161 needs root; use another port)" if self.port < 1024 else "")
                ) from None
            self._transports.append(transport)
        log.info("simulator listening devices=%d port=%d", len(self._transports), self.port)

    def close(self) -> None:
        """Close every socket (idempotent)."""
        for t in self._transports:
            t.close()
        self._transports.clear()

    def device(self, device_id: str) -> SimDevice:
        """A simulated device by id (KeyError if unknown)."""
        return self.devices[device_id]


def specs_for(
    devices: Sequence[tuple[str, str, str, str | None]], recording_for: Callable[[str], Recording]
) -> list[DeviceSpec]:
    """Device specs from ``(id, address, role, parent)`` rows and a role -> recording map."""
    return [DeviceSpec(id=i, address=a, recording=recording_for(r), parent=p) for i, a, r, p in devices]
