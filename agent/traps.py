"""SNMP notifications from the inventory's devices: traps and informs, v1, v2c and v3 USM.

A notification is worth acting on only if it is genuine, so each datagram is judged
(:class:`TrapValidator`, no socket, the clocks passed in) before anything happens:

* its source address must be the address of a device the agent polls (names are
  resolved when the receiver starts and on reload);
* v1/v2c: the community must be that device's own (compared in constant time), and
  the device's profile must be v1/v2c: a device polled over SNMPv3 is not believed
  over a community;
* v3: the user must be the device's profile user and the message must come at that
  profile's security level; the digest is checked with the keys localized to the
  engine that is authoritative for the message: the sender's for a trap (learnt from
  its first authentic trap: the profile holds passwords, not localized keys), ours for
  an inform. The time window is RFC 3414 3.2 step 7: 7b for traps (a
  :class:`~netmon.agent.snmp.usm.RemoteEngine` per sender and engine ID, so a trap
  replayed more than 150 s late is refused), 7a for informs (our boots and a time within
  150 s of ours, else an authenticated notInTimeWindow report that lets the sender
  resynchronise). An inform sender's discovery probe from a known address gets the
  unknownEngineID report that tells it our engine ID, boots and time;
* a refused datagram is counted by reason (``unknown_source``, ``bad_community``,
  ``not_v3``, a USM error, ``malformed``) and logged once per source and reason; it
  gets no answer beyond what RFC 3414 requires.

An accepted inform is acknowledged (v2c Response, or a v3 Response at the same security
level). linkDown, linkUp, coldStart and warmStart become :class:`TrapEvent` values for the
re-poller (:mod:`netmon.agent.trap_polls`); other notifications are acknowledged and
counted as ``ignored``. SNMPv3 profiles with DES/3DES privacy cannot be checked here
(:mod:`netmon.agent.snmp.usm` has no DES): their notifications are refused as
``unsupported_privacy``.

Our engine's snmpEngineBoots is the number of seconds from 2020 to the start of the
process: it grows at every start without a file to keep, as RFC 3414 2.2 requires of it
(unless the clock is set back across a restart).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from netmon.agent.ber import BerError, Oid, encode_integer, encode_oid, tlv
from netmon.agent.selfmetrics import PollStats
from netmon.agent.snmp import ResolvedProfile
from netmon.agent.snmp.codec import (
    GENERIC_TRAPS,
    PDU_INFORM,
    PDU_REPORT,
    PDU_TRAP,
    Notification,
    decode_community_notification,
    encode_inform_ack,
    notification_from_pdu,
    response_pdu,
)
from netmon.agent.snmp.usm import (
    AES_KEY_LEN,
    FLAG_REPORTABLE,
    Envelope,
    LocalEngine,
    RemoteEngine,
    ScopedPdu,
    UserKeys,
    UsmError,
    UsmFailure,
    encode_v3,
    open_v3,
    parse_v3,
    user_keys,
    verify,
)
from netmon.config.inventory import Device

log = logging.getLogger(__name__)

#: The notifications the agent acts on, by snmpTrapOID (RFC 3418, RFC 2863).
KNOWN_TRAPS: Final[dict[Oid, str]] = {
    GENERIC_TRAPS[0]: "coldStart",
    GENERIC_TRAPS[1]: "warmStart",
    GENERIC_TRAPS[2]: "linkDown",
    GENERIC_TRAPS[3]: "linkUp",
}
LINK_TRAPS: Final = frozenset({"linkDown", "linkUp"})
#: ifIndex, ifAdminStatus, ifOperStatus: a link trap's var-binds name the interface.
_IF_COLUMNS: Final = ((1, 3, 6, 1, 2, 1, 2, 2, 1, 1), (1, 3, 6, 1, 2, 1, 2, 2, 1, 7), (1, 3, 6, 1, 2, 1, 2, 2, 1, 8))
#: Engines and localized keys remembered for v3 senders, at most.
CACHE_MAX = 4096
#: Refusals logged once per (source, reason); this many pairs are remembered.
LOGGED_MAX = 4096
_EPOCH_2020 = 1_577_836_800


@dataclass(frozen=True, slots=True)
class Sender:
    """A device that may send us notifications, with the profile it is polled with."""

    device: str
    profile: ResolvedProfile


@dataclass(frozen=True, slots=True)
class TrapEvent:
    """A genuine notification the agent acts on.

    Attributes:
        device: The device that sent it.
        trap: ``linkDown``, ``linkUp``, ``coldStart`` or ``warmStart``.
        version: ``1``, ``2c`` or ``3``.
        received_at: Unix time it was received.
        if_index: The interface a link trap names, if it names one.
    """

    device: str
    trap: str
    version: str
    received_at: float
    if_index: int | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one datagram.

    Attributes:
        result: ``accepted``, ``ignored`` (genuine, of a kind not acted on),
            ``discovery`` (an inform sender's probe, answered), or why it was refused.
        version: The SNMP version it claimed (``?`` when unreadable).
        events: What to act on.
        reply: The datagram to send back (an inform's acknowledgement, a report).
        detail: Words for the log.
    """

    result: str
    version: str
    events: tuple[TrapEvent, ...] = ()
    reply: bytes | None = None
    detail: str = ""


def local_engine(agent_id: str, engine_id_hex: str | None, wall: float, mono: float) -> LocalEngine:
    """Our engine for informs: the configured engine ID, or ``80000000 04 "netmon:" agent id``
    (RFC 3411 text format); boots from the wall clock (see the module docstring)."""
    if engine_id_hex:
        engine_id = bytes.fromhex(engine_id_hex.removeprefix("0x"))
    else:
        engine_id = b"\x80\x00\x00\x00\x04" + (b"netmon:" + agent_id.encode("utf-8"))[:27]
    return LocalEngine(engine_id, max(1, int(wall) - _EPOCH_2020), mono)


def _host(address: str) -> str:
    """An address as the socket reports it, IPv4-mapped IPv6 unwrapped."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


async def senders_by_address(
    pairs: Iterable[tuple[Device, ResolvedProfile]], *, timeout_s: float = 5.0
) -> dict[str, list[Sender]]:
    """The devices that may send notifications, by source address (host names resolved;
    a name that does not resolve is left out and logged)."""
    loop = asyncio.get_running_loop()
    out: dict[str, list[Sender]] = {}

    async def resolve(dev: Device, prof: ResolvedProfile) -> None:
        try:
            addrs = {_host(dev.address)} if _is_ip(dev.address) else await _lookup(loop, dev.address, timeout_s)
        except (OSError, TimeoutError) as exc:
            log.info("trap sender not resolved device=%s address=%s: %s", dev.id, dev.address, exc)
            return
        for a in addrs:
            out.setdefault(a, []).append(Sender(dev.id, prof))

    await asyncio.gather(*(resolve(d, p) for d, p in pairs))
    return out


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


async def _lookup(loop: asyncio.AbstractEventLoop, name: str, timeout_s: float) -> set[str]:
    async with asyncio.timeout(timeout_s):
        infos = await loop.getaddrinfo(name, None, type=socket.SOCK_DGRAM)
    return {_host(str(i[4][0])) for i in infos}


def _if_index(varbinds: Sequence[tuple[Oid, Any]]) -> int | None:
    """The interface a link trap's var-binds name (ifIndex.N, ifAdminStatus.N, ifOperStatus.N)."""
    for oid, _value in varbinds:
        for col in _IF_COLUMNS:
            if len(oid) == len(col) + 1 and oid[: len(col)] == col:
                index = oid[-1]
                return index if 1 <= index <= 2**31 - 1 else None
    return None


class TrapValidator:
    """Judges notification datagrams against the devices that may send them.

    Args:
        engine: Our engine (authoritative for informs).
        senders: Devices by source address (:func:`senders_by_address`).
    """

    def __init__(self, engine: LocalEngine, senders: Mapping[str, list[Sender]]) -> None:
        self.engine = engine
        self._senders = dict(senders)
        self._remotes: OrderedDict[tuple[str, bytes], RemoteEngine] = OrderedDict()
        self._keys: OrderedDict[tuple[str, bytes], UserKeys] = OrderedDict()
        self._salt = int.from_bytes(engine.engine_id[-4:], "big") << 32

    def update(self, senders: Mapping[str, list[Sender]]) -> None:
        """Replace the senders (inventory or credentials reloaded)."""
        self._senders = dict(senders)
        self._keys.clear()  # a profile's passwords may have changed

    def judge(self, data: bytes, source: str, wall: float, mono: float) -> Verdict:
        """The verdict on one datagram from ``source`` received at ``wall``/``mono``."""
        senders = self._senders.get(_host(source))
        if not senders:
            return Verdict("unknown_source", "?", detail=f"from {source}")
        if len(data) > 4 and b"\x02\x01\x03" in data[:8]:  # SNMPv3: the version INTEGER 3 up front
            return self._usm(data, senders, wall, mono)
        return self._community(data, senders, wall)

    # --- v1 / v2c --------------------------------------------------------------------

    def _community(self, data: bytes, senders: list[Sender], wall: float) -> Verdict:
        try:
            n = decode_community_notification(data)
        except BerError as exc:
            return Verdict("malformed", "?", detail=str(exc)[:200])
        polled = [s for s in senders if s.profile.version in ("1", "2c")]
        if not polled:
            return Verdict("not_v3", n.version, detail="the device is polled over SNMPv3")
        match = [s for s in polled if hmac.compare_digest(s.profile.community, n.community)]
        if not match:
            return Verdict("bad_community", n.version)
        reply = encode_inform_ack(1, n.community, n.request_id, n.varbind_list) if n.pdu == PDU_INFORM else None
        return _accept(n, match, wall, reply)

    # --- v3 ----------------------------------------------------------------------------

    def _message(self, env: Envelope, pdu: bytes, keys: UserKeys, mono: float, scope: ScopedPdu | None = None) -> bytes:
        """A message from our engine in answer to ``env`` (in the scope of the request's
        contextEngineID and contextName, when known: RFC 3413 3.2)."""
        self._salt = (self._salt + 1) & 0xFFFFFFFFFFFFFFFF
        eng = self.engine
        return encode_v3(
            msg_id=env.msg_id,
            engine_id=eng.engine_id,
            boots=eng.boots,
            engine_time=eng.time(mono),
            user=env.user,
            keys=keys,
            context_engine_id=scope.context_engine_id if scope is not None else None,
            context=scope.context if scope is not None else b"",
            pdu=pdu,
            salt=self._salt,
            reportable=False,
        )

    def _report(self, env: Envelope, error: UsmError, keys: UserKeys, mono: float) -> bytes:
        vb = tlv(0x30, encode_oid(error.oid) + encode_integer(1, 0x41))
        pdu = tlv(PDU_REPORT, encode_integer(0) + encode_integer(0) + encode_integer(0) + tlv(0x30, vb))
        return self._message(env, pdu, keys, mono)

    def _user_keys(self, sender: Sender, engine_id: bytes) -> UserKeys:
        key = (sender.profile.name, engine_id)
        keys = self._keys.get(key)
        if keys is None:
            r, p = sender.profile, sender.profile.profile
            keys = user_keys(p.auth_protocol, p.priv_protocol, r.auth_pass, r.priv_pass, engine_id)
            self._keys[key] = keys
            if len(self._keys) > CACHE_MAX:
                self._keys.popitem(last=False)
        return keys

    def _remote(self, device: str, engine_id: bytes) -> RemoteEngine:
        key = (device, engine_id)
        eng = self._remotes.get(key)
        if eng is None:
            eng = self._remotes[key] = RemoteEngine(engine_id=engine_id)
            if len(self._remotes) > CACHE_MAX:
                self._remotes.popitem(last=False)
        self._remotes.move_to_end(key)
        return eng

    def _usm(self, data: bytes, senders: list[Sender], wall: float, mono: float) -> Verdict:
        try:
            env = parse_v3(data)
        except UsmFailure as exc:
            return Verdict(exc.error.value, "3", detail=str(exc))
        except BerError as exc:
            return Verdict("malformed", "3", detail=str(exc)[:200])
        v3 = [s for s in senders if s.profile.version == "3"]
        if not env.engine_id:
            # RFC 3414 4: an inform sender discovering our engine ID (an unauthenticated,
            # reportable probe). Answered with the report that tells it.
            if env.authenticated or not env.flags & FLAG_REPORTABLE or not v3:
                return Verdict(UsmError.UNKNOWN_ENGINE_IDS.value, "3", detail="not a discovery probe")
            reply = self._report(env, UsmError.UNKNOWN_ENGINE_IDS, UserKeys(), mono)
            return Verdict("discovery", "3", reply=reply)
        users = [s for s in v3 if (s.profile.profile.user or "").encode("utf-8") == env.user]
        if not users:
            return Verdict(UsmError.UNKNOWN_USER_NAMES.value, "3", detail=f"user {env.user!r}")
        failure: UsmFailure | None = None
        for sender in users:
            prof = sender.profile.profile
            if prof.priv_protocol is not None and prof.priv_protocol not in AES_KEY_LEN:
                return Verdict("unsupported_privacy", "3", detail=f"{prof.priv_protocol} privacy")
            keys = self._user_keys(sender, env.engine_id)
            try:
                verify(data, env, keys)
            except UsmFailure as exc:
                failure = exc
                continue
            return self._authentic(data, env, sender, keys, wall=wall, mono=mono)
        assert failure is not None
        return Verdict(failure.error.value, "3", detail=str(failure))

    def _authentic(
        self, data: bytes, env: Envelope, sender: Sender, keys: UserKeys, *, wall: float, mono: float
    ) -> Verdict:
        """The rest of RFC 3414 3.2 for a message whose digest checked (or that has none)."""
        ours = env.engine_id == self.engine.engine_id
        if env.authenticated:
            if ours:
                late = self.engine.check(env.boots, env.time, mono)
                if late is not None:
                    # 3.2 step 7a: answered at authNoPriv, so the sender can trust our clock.
                    auth_only = UserKeys(keys.auth, None, keys.auth_key)
                    return Verdict(late.value, "3", reply=self._report(env, late, auth_only, mono))
            elif (late := self._remote(sender.device, env.engine_id).check(env.boots, env.time, mono)) is not None:
                return Verdict(late.value, "3", detail=f"boots {env.boots} time {env.time}")
        try:
            scoped = open_v3(data, env, keys, (PDU_TRAP, PDU_INFORM), checked=True)
        except UsmFailure as exc:
            return Verdict(exc.error.value, "3", detail=str(exc))
        except BerError as exc:
            return Verdict("malformed", "3", detail=str(exc)[:200])
        try:
            n = notification_from_pdu("3", scoped.pdu)
        except BerError as exc:
            return Verdict("malformed", "3", detail=str(exc)[:200])
        reply = None
        if n.pdu == PDU_INFORM:
            if not ours:  # an inform is sent to its receiver's engine: tell the sender ours
                return Verdict(
                    UsmError.UNKNOWN_ENGINE_IDS.value,
                    "3",
                    reply=self._report(env, UsmError.UNKNOWN_ENGINE_IDS, UserKeys(), mono),
                )
            reply = self._message(env, response_pdu(n.request_id, n.varbind_list), keys, mono, scoped)
        return _accept(n, [sender], wall, reply)


def _accept(n: Notification, senders: Sequence[Sender], wall: float, reply: bytes | None) -> Verdict:
    name = KNOWN_TRAPS.get(n.trap_oid)
    if name is None:
        return Verdict("ignored", n.version, reply=reply, detail=".".join(map(str, n.trap_oid)))
    if_index = _if_index(n.varbinds) if name in LINK_TRAPS else None
    events = tuple(TrapEvent(s.device, name, n.version, wall, if_index) for s in senders)
    return Verdict("accepted", n.version, events, reply)


class TrapReceiver(asyncio.DatagramProtocol):
    """The UDP endpoint: judges each datagram, answers, counts, logs, hands events on.

    Args:
        validator: The judge.
        on_event: Called with each accepted notification's events (never blocks).
        stats: Where notifications are counted (``traps`` by version and result).
        clock: Wall clock; ``mono``: monotonic clock.
    """

    def __init__(
        self,
        validator: TrapValidator,
        on_event: Callable[[TrapEvent], None],
        stats: PollStats,
        *,
        clock: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
    ) -> None:
        self.validator = validator
        self._on_event = on_event
        self._stats = stats
        self._clock = clock
        self._mono = mono
        self._logged: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.DatagramTransport", transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        source = str(addr[0])
        try:
            v = self.validator.judge(data, source, self._clock(), self._mono())
        except Exception:  # a bug must not stop the receiver: counted and logged
            self._stats.internal_errors += 1
            log.exception("trap judged badly source=%s", source)
            return
        self._stats.traps[(v.version, v.result)] += 1
        if v.reply is not None and self.transport is not None:
            self.transport.sendto(v.reply, addr)
        for ev in v.events:
            log.info("trap device=%s trap=%s version=%s if_index=%s", ev.device, ev.trap, ev.version, ev.if_index)
            self._on_event(ev)
        if v.result not in ("accepted", "ignored", "discovery") and (source, v.result) not in self._logged:
            self._logged[(source, v.result)] = None
            if len(self._logged) > LOGGED_MAX:
                self._logged.popitem(last=False)
            log.warning("trap refused source=%s reason=%s %s", source, v.result, v.detail)

    def error_received(self, exc: Exception) -> None:
        log.debug("trap socket error: %s", exc)
