"""SNMP polling on pysnmp 7 (asyncio): the system group by GET, the interface tables by
GETBULK walk (GETNEXT for v1).

Why it looks the way it does (costs measured on the project's build machine):

* ONE :class:`SnmpEngine` per process (an engine costs ~60 ms of CPU to build).
* The command generators are driven directly (``pysnmp.entity.rfc3413.cmdgen``) with
  prebuilt ``(ObjectName, Null)`` var-binds, the same path the high-level ``bulk_cmd``
  takes minus its MIB var-bind (un)making: no MIB lookup is ever done, values come back
  as raw pysnmp types and are converted here once.
* The walk is ours, not ``bulk_walk_cmd``'s: it requests only the columns still open,
  stops each column when it leaves its subtree, treats noSuchObject/noSuchInstance/
  endOfMibView as "no data", and stops on a non-increasing OID (a broken agent would
  otherwise loop forever).
* Failures are data: every poll returns a :class:`SnmpResult` whose ``reason`` says
  what went wrong (``timeout``, ``auth``, ``unknown_user``, ``decrypt``, ``malformed``,
  ...); nothing is raised into the poller except :class:`SnmpConfigError` at build time.
* SNMPv3 engine discovery and time-window synchronisation are pysnmp's; when a device
  restarts (engineBoots changes) the first request after it may come back as
  ``notInTimeWindow`` or ``unknownEngineID``. pysnmp has learnt the new boots/time from
  that report, so the request is retried once at once; if that fails too the target's
  cached engine data is dropped and rediscovered.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyasn1.type import univ
from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.hlapi.v3arch.asyncio import auth as hauth
from pysnmp.hlapi.v3arch.asyncio.lcd import CommandGeneratorLcdConfigurator
from pysnmp.hlapi.v3arch.asyncio.transport import UdpTransportTarget
from pysnmp.proto import errind, rfc1902, rfc1905

from agent.counters import RawInterface
from config.credentials import AuthProtocol, PrivProtocol, SnmpProfile
from config.secrets import Secret

log = logging.getLogger(__name__)

# --- OIDs -------------------------------------------------------------------------------

SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_OBJECT_ID = (1, 3, 6, 1, 2, 1, 1, 2, 0)
SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)
SYSTEM_OIDS = (SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, SYS_NAME)

_IF = (1, 3, 6, 1, 2, 1, 2, 2, 1)
_IFX = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)

#: The interface columns walked, by our field name.
IF_COLUMNS: dict[str, tuple[int, ...]] = {
    "descr": (*_IF, 2),
    "speed": (*_IF, 5),
    "admin_status": (*_IF, 7),
    "oper_status": (*_IF, 8),
    "in_octets32": (*_IF, 10),
    "in_discards": (*_IF, 13),
    "in_errors": (*_IF, 14),
    "out_octets32": (*_IF, 16),
    "out_discards": (*_IF, 19),
    "out_errors": (*_IF, 20),
    "name": (*_IFX, 1),
    "in_octets64": (*_IFX, 6),
    "out_octets64": (*_IFX, 10),
    "high_speed": (*_IFX, 15),
    "alias": (*_IFX, 18),
}

#: Walks stop after this many PDUs: a device with more interfaces than this allows is
#: reported as truncated rather than allowed to hold a poll slot forever.
MAX_WALK_PDUS = 400

_AUTH = {
    AuthProtocol.MD5: hauth.USM_AUTH_HMAC96_MD5,
    AuthProtocol.SHA: hauth.USM_AUTH_HMAC96_SHA,
    AuthProtocol.SHA224: hauth.USM_AUTH_HMAC128_SHA224,
    AuthProtocol.SHA256: hauth.USM_AUTH_HMAC192_SHA256,
    AuthProtocol.SHA384: hauth.USM_AUTH_HMAC256_SHA384,
    AuthProtocol.SHA512: hauth.USM_AUTH_HMAC384_SHA512,
}
# AES-192/256 use the Blumenthal key extension, as net-snmp's AES192/AES256 do. Cisco's
# "AES-192/256" (Reeder key extension) is a different algorithm of the same name.
_PRIV = {
    PrivProtocol.DES: hauth.USM_PRIV_CBC56_DES,
    PrivProtocol.DES3: hauth.USM_PRIV_CBC168_3DES,
    PrivProtocol.AES128: hauth.USM_PRIV_CFB128_AES,
    PrivProtocol.AES192: hauth.USM_PRIV_CFB192_AES_BLUMENTHAL,
    PrivProtocol.AES256: hauth.USM_PRIV_CFB256_AES_BLUMENTHAL,
}

_NO_VALUE = (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView, univ.Null)
_NULL = univ.Null("")


_community_index: dict[tuple[str, int], str] = {}


class SnmpConfigError(ValueError):
    """A profile that cannot be used (missing secret, missing crypto library)."""


@dataclass(frozen=True, slots=True)
class ResolvedProfile:
    """An :class:`SnmpProfile` with its secrets read; built once, when the poller is built."""

    name: str
    profile: SnmpProfile
    auth_data: Any  # CommunityData | UsmUserData: pysnmp's classes are untyped

    @property
    def version(self) -> str:
        """``1``, ``2c`` or ``3``."""
        return self.profile.version


def resolve_profile(name: str, profile: SnmpProfile, secrets: dict[str, Secret] | None = None) -> ResolvedProfile:
    """Build pysnmp credentials for a profile.

    Args:
        name: Profile name (for messages).
        profile: The profile.
        secrets: Resolved secrets by field (``community``, ``auth_key``, ``priv_key``).

    Raises:
        SnmpConfigError: A secret is missing, or privacy is asked for but the
            ``cryptography`` package (which pysnmp needs and does not declare) is absent.
    """
    secrets = secrets or {}

    def need(key: str) -> str:
        sec = secrets.get(key)
        if sec is None:
            raise SnmpConfigError(f"SNMP profile {name!r}: {key} is not resolved")
        return sec.reveal()

    if profile.version in ("1", "2c"):
        community = need("community")
        mp_model = 0 if profile.version == "1" else 1
        # pysnmp maps a response's community back to a table entry by the community
        # string: two entries with the same string make it pick one whose tag may not
        # match, and it drops the other's responses. One entry per (string, version).
        index = _community_index.setdefault((community, mp_model), f"netmon-c{len(_community_index)}")
        return ResolvedProfile(name, profile, hauth.CommunityData(index, community, mpModel=mp_model))
    if profile.priv_protocol is not None and importlib.util.find_spec("cryptography") is None:
        raise SnmpConfigError(
            f"SNMP profile {name!r} uses privacy {profile.priv_protocol.value}, which needs the Python "
            "package 'cryptography' (pysnmp does not install it): pip install cryptography"
        )
    kwargs: dict[str, Any] = {}
    if profile.auth_protocol is not None:
        kwargs["authKey"] = need("auth_key")
        kwargs["authProtocol"] = _AUTH[profile.auth_protocol]
    if profile.priv_protocol is not None:
        kwargs["privKey"] = need("priv_key")
        kwargs["privProtocol"] = _PRIV[profile.priv_protocol]
    assert profile.user is not None  # the profile's validator guarantees it
    return ResolvedProfile(name, profile, hauth.UsmUserData(profile.user, **kwargs))


@dataclass(frozen=True, slots=True)
class SnmpResult:
    """The outcome of one device poll.

    Attributes:
        ok: The system group was read.
        reason: Failure code when not ok (bounded set, used as a metric label).
        detail: Human detail of the failure.
        response_s: Wall time of the system-group GET (a latency signal).
        sys_uptime_cs: sysUpTime in centiseconds (TimeTicks).
        interfaces: Interface rows, None when not walked or the walk failed.
        walk_reason: Why the walk failed or was cut short, if it did.
        pdus: Request PDUs sent (GET + walk).
    """

    ok: bool
    reason: str = ""
    detail: str = ""
    response_s: float | None = None
    sys_uptime_cs: int | None = None
    sys_name: str | None = None
    sys_descr: str | None = None
    sys_object_id: str | None = None
    interfaces: tuple[RawInterface, ...] | None = None
    walk_reason: str = ""
    pdus: int = 0


def classify(indication: object) -> str:
    """A short failure code for a pysnmp error indication."""
    match indication:
        case errind.RequestTimedOut():
            return "timeout"
        case errind.UnknownUserName() | errind.UnknownSecurityName():
            return "unknown_user"
        case errind.WrongDigest() | errind.AuthenticationFailure() | errind.AuthenticationError():
            return "auth"
        case errind.DecryptionError():
            return "decrypt"
        case errind.NotInTimeWindow():
            return "not_in_time_window"
        case errind.UnknownEngineID():
            return "unknown_engine"
        case errind.UnsupportedSecurityLevel():
            return "security_level"
        case errind.EncryptionError() | errind.NoEncryption() | errind.UnsupportedPrivProtocol():
            return "crypto"
        case errind.DeserializationError() | errind.InvalidMsg():
            return "malformed"
        case errind.EmptyResponse():
            return "empty"
        case _:
            return "snmp_error"


def _text(value: Any) -> str:
    if isinstance(value, _NO_VALUE):
        return ""
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets()).decode("utf-8", errors="replace")
    return str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, univ.Integer):
        return int(value)
    return None


def _oid_text(value: Any) -> str | None:
    if isinstance(value, univ.ObjectIdentifier):
        return ".".join(map(str, value.asTuple()))
    return None


class _Response:
    __slots__ = ("error", "index", "status", "varbinds")

    def __init__(self, error: object, status: int, index: int, varbinds: Sequence[Any]) -> None:
        self.error = error
        self.status = status
        self.index = index
        self.varbinds = varbinds


def _on_response(
    _engine: Any, _handle: Any, error: Any, status: Any, index: Any, varbinds: Any, fut: asyncio.Future[_Response]
) -> None:
    if not fut.done():
        fut.set_result(_Response(error, int(status or 0), int(index or 0), varbinds or ()))


@dataclass
class _Target:
    addr_name: str
    resolved: ResolvedProfile
    transport: Any = field(repr=False)
    answered: bool = False


class SnmpClient:
    """Polls devices over SNMP with one shared engine.

    Args:
        engine: An engine to share (a new one by default).
    """

    _lcd = CommandGeneratorLcdConfigurator()

    def __init__(self, engine: SnmpEngine | None = None) -> None:
        self.engine = engine or SnmpEngine()
        self._targets: dict[tuple[str, int, str], _Target] = {}
        self._get = cmdgen.GetCommandGenerator()
        self._bulk = cmdgen.BulkCommandGeneratorSingleRun()
        self._next = cmdgen.NextCommandGeneratorSingleRun()
        self._sys_vbs = [(rfc1902.ObjectName(o), _NULL) for o in SYSTEM_OIDS]
        self._col_names = list(IF_COLUMNS)
        self._col_oids = [rfc1902.ObjectName(o) for o in IF_COLUMNS.values()]
        self.requests = 0
        self.resyncs = 0
        self.malformed = 0
        self.rx_from: Counter[tuple[str, int]] = Counter()
        self.malformed_from: Counter[tuple[str, int]] = Counter()
        self._parse_sym: Any = None
        self._install_tap()

    def parse_errors(self) -> int:
        """SNMP messages the engine could not decode so far (snmpInASNParseErrs)."""
        sym = self._parse_errs_sym()
        return int(sym.syntax) if sym is not None else 0

    def _parse_errs_sym(self) -> Any:
        if self._parse_sym is None:
            try:
                (self._parse_sym,) = self.engine.get_mib_builder().import_symbols("__SNMPv2-MIB", "snmpInASNParseErrs")
            except Exception:  # a renamed MIB symbol must not break polling
                return None
        return self._parse_sym

    def _install_tap(self) -> None:
        """Count received datagrams and undecodable ones per source address.

        pysnmp drops a garbage reply, a truncated one or one with a foreign request id
        silently, and the request then times out. Counting what arrived from the
        device's address lets a poll tell "nothing came back" (``timeout``) from "the
        device answered with junk" (``malformed``, or ``bad_response`` for well-formed
        messages matching no request).
        """
        md = self.engine.message_dispatcher
        original = md.receive_message

        def tap(engine: Any, domain: Any, address: Any, whole: Any) -> Any:
            sym = self._parse_errs_sym()
            before = int(sym.syntax) if sym is not None else 0
            key = tuple(address)[:2]
            self.rx_from[key] += 1
            try:
                out = original(engine, domain, address, whole)
            except Exception as exc:  # pyasn1 raises TypeError and the like on some garbage
                log.debug("undecodable SNMP message from %s: %r", key, exc)
                out, bad = b"", True
            else:
                bad = sym is not None and int(sym.syntax) > before
            if bad:
                self.malformed_from[key] += 1
                self.malformed += 1
            return out

        md.receive_message = tap

    async def _target(self, address: str, resolved: ResolvedProfile) -> _Target:
        p = resolved.profile
        key = (address, p.port, resolved.name)
        tgt = self._targets.get(key)
        if tgt is None:
            transport = await UdpTransportTarget.create((address, p.port), timeout=p.timeout_s, retries=p.retries)
            addr_name, _params = self._lcd.configure(self.engine, resolved.auth_data, transport, p.context)
            tgt = _Target(addr_name, resolved, transport)
            self._targets[key] = tgt
        return tgt

    def forget(self, address: str, port: int, profile_name: str) -> None:
        """Drop a cached target (after a profile change)."""
        self._targets.pop((address, port, profile_name), None)

    async def _request(self, tgt: _Target, kind: str, varbinds: list[Any], max_rep: int = 0) -> _Response:
        p = tgt.resolved.profile
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[_Response] = loop.create_future()
        ctx = p.context
        self.requests += 1
        if kind == "get":
            self._get.send_varbinds(self.engine, tgt.addr_name, None, ctx, varbinds, _on_response, fut)
        elif kind == "bulk":
            self._bulk.send_varbinds(self.engine, tgt.addr_name, None, ctx, 0, max_rep, varbinds, _on_response, fut)
        else:
            self._next.send_varbinds(self.engine, tgt.addr_name, None, ctx, varbinds, _on_response, fut)
        # pysnmp times out on its own; this bound only guards against a lost callback.
        async with asyncio.timeout(p.timeout_s * (p.retries + 1) + 2.0):
            return await fut

    def forget_engine(self, address: str, port: int) -> int:
        """Drop pysnmp's cached SNMPv3 engine ID of a peer so the next request rediscovers it.

        pysnmp keeps a peer's engine ID for 300 s and silently drops the reports of an
        agent whose engine ID changed (re-installed, replaced, or one that does not
        persist it): every request times out until the cache expires. The cache is
        private, so this reaches into it by name; if pysnmp renames it, nothing is
        dropped and recovery falls back to pysnmp's 300 s expiry. Returns entries dropped.
        """
        mp = next((m for k, m in self.engine.message_processing_subsystems.items() if int(k) == 3), None)
        cache = getattr(mp, "_SnmpV3MessageProcessingModel__engineIdCache", None)
        queue = getattr(mp, "_SnmpV3MessageProcessingModel__engineIdCacheExpQueue", None)
        if not isinstance(cache, dict):
            return 0
        gone = [k for k in cache if tuple(k[1])[:2] == (address, port)]
        for k in gone:
            del cache[k]
        if isinstance(queue, dict):  # the expiry would otherwise delete a missing key
            for keys in queue.values():
                keys[:] = [k for k in keys if k not in gone]
        return len(gone)

    async def _request_resync(self, tgt: _Target, kind: str, varbinds: list[Any], max_rep: int = 0) -> _Response:
        resp = await self._request(tgt, kind, varbinds, max_rep)
        err = resp.error
        if tgt.resolved.version != "3" or not err:
            if not err:
                tgt.answered = True
            return resp
        # A device that answered before and now fails this way has most likely restarted:
        # - notInTimeWindow / unknownEngineID: the report carried its new engineBoots/
        #   engineTime, which pysnmp has taken, so asking again succeeds;
        # - timeout: its engine ID changed and pysnmp drops its reports (see
        #   forget_engine), so rediscover and ask again.
        resync = isinstance(err, errind.NotInTimeWindow | errind.UnknownEngineID) or (
            tgt.answered and isinstance(err, errind.RequestTimedOut)
        )
        if not resync:
            return resp
        host, port = tgt.transport.transport_address[:2]
        dropped = self.forget_engine(host, port)
        log.info("snmp v3 resync target=%s:%s reason=%s engine_cache_dropped=%d", host, port, classify(err), dropped)
        self.resyncs += 1
        resp = await self._request(tgt, kind, varbinds, max_rep)
        tgt.answered = not resp.error
        return resp

    async def poll(self, address: str, resolved: ResolvedProfile, *, interfaces: bool = True) -> SnmpResult:
        """Read the system group and, if asked, the interface tables of one device.

        Never raises for a device's failure (only :class:`asyncio.CancelledError`).
        """
        try:
            tgt = await self._target(address, resolved)
        except Exception as exc:
            return SnmpResult(False, "resolve", str(exc)[:200])
        peer = tuple(tgt.transport.transport_address)[:2]
        rx0, bad0 = self.rx_from[peer], self.malformed_from[peer]
        t0 = time.perf_counter()
        try:
            resp = await self._request_resync(tgt, "get", self._sys_vbs)
        except TimeoutError:
            return SnmpResult(False, "timeout", "no callback", pdus=1)
        response_s = time.perf_counter() - t0
        if resp.error:
            reason = classify(resp.error)
            if reason == "timeout" and self.rx_from[peer] > rx0:
                # Something came back from the device, and none of it was an answer.
                bad = self.malformed_from[peer] > bad0
                n = self.rx_from[peer] - rx0
                return SnmpResult(False, "malformed" if bad else "bad_response", f"{n} unusable replies", pdus=1)
            return SnmpResult(False, reason, str(resp.error)[:200], pdus=1)
        if resp.status:
            # v1 agents answer a GET naming one unknown OID with noSuchName for the PDU.
            return SnmpResult(False, "error_status", f"error-status {resp.status} at {resp.index}", response_s, pdus=1)
        values = {tuple(oid.asTuple()): val for oid, val in resp.varbinds}
        uptime = _int(values.get(SYS_UPTIME))
        result = SnmpResult(
            True,
            response_s=response_s,
            sys_uptime_cs=uptime,
            sys_name=_text(values.get(SYS_NAME)) if SYS_NAME in values else None,
            sys_descr=_text(values.get(SYS_DESCR)) if SYS_DESCR in values else None,
            sys_object_id=_oid_text(values.get(SYS_OBJECT_ID)),
            pdus=1,
        )
        if not interfaces:
            return result
        try:
            rows, walk_reason, pdus = await self.walk_interfaces(tgt)
        except TimeoutError:
            rows, walk_reason, pdus = None, "timeout", 0
        return SnmpResult(
            True,
            response_s=response_s,
            sys_uptime_cs=uptime,
            sys_name=result.sys_name,
            sys_descr=result.sys_descr,
            sys_object_id=result.sys_object_id,
            interfaces=rows,
            walk_reason=walk_reason,
            pdus=1 + pdus,
        )

    async def walk_interfaces(self, tgt: _Target) -> tuple[tuple[RawInterface, ...] | None, str, int]:
        """Walk the interface columns; returns (rows or None, failure reason, PDUs sent)."""
        p = tgt.resolved.profile
        v1 = p.version == "1"
        n_cols = len(self._col_oids)
        last: list[Any] = list(self._col_oids)  # per column: the OID to continue from
        open_cols = list(range(n_cols))
        data: dict[int, dict[str, Any]] = {}
        max_rep = p.max_repetitions
        pdus = 0
        while open_cols:
            if pdus >= MAX_WALK_PDUS:
                return self._rows(data), "truncated", pdus
            vbs = [(last[c], _NULL) for c in open_cols]
            pdus += 1
            resp = await self._request_resync(tgt, "next" if v1 else "bulk", vbs, max_rep)
            if resp.error:
                return None, classify(resp.error), pdus
            if resp.status:
                if resp.status == 1 and max_rep > 1:  # tooBig: ask for fewer rows
                    max_rep = max(1, max_rep // 2)
                    continue
                if resp.status == 2 and 1 <= resp.index <= len(open_cols):  # v1 noSuchName: column ended
                    del open_cols[resp.index - 1]
                    continue
                return None, f"error_status_{resp.status}", pdus
            if not resp.varbinds:
                return self._rows(data), "empty", pdus
            still_open = self._absorb(resp.varbinds, open_cols, last, data)
            if still_open is None:
                return self._rows(data), "oid_not_increasing", pdus
            open_cols = still_open
        return self._rows(data), "", pdus

    def _absorb(
        self, varbinds: Sequence[Any], open_cols: list[int], last: list[Any], data: dict[int, dict[str, Any]]
    ) -> list[int] | None:
        """Fold one response into ``data``; the columns still open, or None on a loop."""
        width = len(open_cols)
        done: set[int] = set()
        progressed = False
        for i, (oid, val) in enumerate(varbinds):
            col = open_cols[i % width]
            if col in done:
                continue
            base = self._col_oids[col]
            if isinstance(val, rfc1905.EndOfMibView) or not base.isPrefixOf(oid) or len(oid) != len(base) + 1:
                done.add(col)
                continue
            if oid <= last[col]:
                return None
            last[col] = oid
            progressed = True
            if isinstance(val, rfc1905.NoSuchObject | rfc1905.NoSuchInstance):
                continue
            data.setdefault(int(oid[-1]), {})[self._col_names[col]] = val
        if not progressed and not done:
            return None
        return [c for c in open_cols if c not in done]

    @staticmethod
    def _rows(data: dict[int, dict[str, Any]]) -> tuple[RawInterface, ...]:
        rows = []
        for index in sorted(data):
            d = data[index]
            hc_in, hc_out = _int(d.get("in_octets64")), _int(d.get("out_octets64"))
            bits = 64 if hc_in is not None and hc_out is not None else 32
            high = _int(d.get("high_speed"))
            speed = _int(d.get("speed"))
            # ifSpeed saturates at 4294967295 on links above 4 Gbit/s; ifHighSpeed (Mbit/s) is right then.
            speed_bps = high * 1_000_000 if high else speed
            descr = _text(d.get("descr"))
            rows.append(
                RawInterface(
                    index=index,
                    name=_text(d.get("name")) or descr or str(index),
                    descr=descr,
                    alias=_text(d.get("alias")),
                    admin_status=_int(d.get("admin_status")) or 1,
                    oper_status=_int(d.get("oper_status")) or 4,
                    speed_bps=speed_bps,
                    in_octets=hc_in if bits == 64 else _int(d.get("in_octets32")),
                    out_octets=hc_out if bits == 64 else _int(d.get("out_octets32")),
                    counter_bits=bits,
                    in_errors=_int(d.get("in_errors")),
                    out_errors=_int(d.get("out_errors")),
                    in_discards=_int(d.get("in_discards")),
                    out_discards=_int(d.get("out_discards")),
                )
            )
        return tuple(rows)

    def close(self) -> None:
        """Close the engine's sockets."""
        dispatcher = self.engine.transport_dispatcher
        if dispatcher is not None:
            dispatcher.close_dispatcher()
