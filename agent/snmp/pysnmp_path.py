"""The pysnmp 7 path: SNMPv3 with DES/3DES privacy (not in :mod:`netmon.agent.snmp.usm`),
or every profile when the client is built with ``fast=False``.

ONE :class:`SnmpEngine` per client, built on first use (an engine costs ~60 ms of CPU),
driven through its command generators with prebuilt var-binds and no MIB lookup.
pysnmp applies its own USM to these profiles; its failures are translated here into the
agent's failure codes (:func:`classify`), and its silent drops of garbage are counted
through a tap on its message dispatcher.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from pyasn1.type import univ
from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import cmdgen
from pysnmp.hlapi.v3arch.asyncio.lcd import CommandGeneratorLcdConfigurator
from pysnmp.hlapi.v3arch.asyncio.transport import UdpTransportTarget
from pysnmp.proto import errind, rfc1902, rfc1905

from netmon.agent.ber import Oid
from netmon.agent.snmp.codec import END_OF_MIB_VIEW, NO_SUCH_INSTANCE, NO_SUCH_OBJECT, NULL, PDU_BULK, PDU_GET, Value
from netmon.agent.snmp.profile import ResolvedProfile
from netmon.agent.snmp.result import Reply, Traffic

log = logging.getLogger(__name__)

_NULL = univ.Null("")


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


def plain(value: Any) -> Value:
    """A pysnmp value as a plain :data:`~netmon.agent.snmp.codec.Value`."""
    if isinstance(value, rfc1905.EndOfMibView):
        return END_OF_MIB_VIEW
    if isinstance(value, rfc1905.NoSuchObject):
        return NO_SUCH_OBJECT
    if isinstance(value, rfc1905.NoSuchInstance):
        return NO_SUCH_INSTANCE
    if isinstance(value, univ.Integer):
        return int(value)
    if isinstance(value, univ.OctetString):
        return bytes(value.asOctets())
    if isinstance(value, univ.ObjectIdentifier):
        return tuple(value.asTuple())
    return NULL


def _on_response(
    _engine: Any, _handle: Any, error: Any, status: Any, index: Any, varbinds: Any, fut: asyncio.Future[Any]
) -> None:
    if not fut.done():
        fut.set_result((error, int(status or 0), int(index or 0), varbinds or ()))


@dataclass(frozen=True, slots=True)
class PysnmpTarget:
    """A device as pysnmp's local configuration knows it."""

    addr_name: str
    peer: tuple[str, int]
    transport: Any


class PysnmpPath:
    """Requests through pysnmp's command generators.

    Args:
        traffic: Where messages received are counted (shared with the built-in path).
        engine: A pysnmp engine to share (built on first use by default).
    """

    _lcd = CommandGeneratorLcdConfigurator()

    def __init__(self, traffic: Traffic, engine: SnmpEngine | None = None) -> None:
        self._traffic = traffic
        self._engine = engine
        self._get = cmdgen.GetCommandGenerator()
        self._bulk = cmdgen.BulkCommandGeneratorSingleRun()
        self._next = cmdgen.NextCommandGeneratorSingleRun()
        self._parse_sym: Any = None
        if engine is not None:
            self._install_tap()

    @property
    def built(self) -> bool:
        """Whether the pysnmp engine has been built."""
        return self._engine is not None

    @property
    def engine(self) -> SnmpEngine:
        """The pysnmp engine (built on first use)."""
        if self._engine is None:
            self._engine = SnmpEngine()
            self._install_tap()
        return self._engine

    def parse_errors(self) -> int:
        """SNMP messages pysnmp could not decode so far (snmpInASNParseErrs)."""
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
        """Count messages pysnmp receives, and undecodable ones, per source address.

        pysnmp drops a garbage reply, a truncated one or one with a foreign request id
        silently, and the request then times out. Counting what arrived from the
        device's address lets a poll tell "nothing came back" (``timeout``) from "the
        device answered with junk" (``malformed``, or ``bad_response`` for well-formed
        messages matching no request).
        """
        assert self._engine is not None
        md = self._engine.message_dispatcher
        original = md.receive_message
        traffic = self._traffic

        def tap(engine: Any, domain: Any, address: Any, whole: Any) -> Any:
            sym = self._parse_errs_sym()
            before = int(sym.syntax) if sym is not None else 0
            key = tuple(address)[:2]
            traffic.rx_from[key] += 1
            try:
                out = original(engine, domain, address, whole)
            except Exception as exc:  # pyasn1 raises TypeError and the like on some garbage
                log.debug("undecodable SNMP message from %s: %r", key, exc)
                out, bad = b"", True
            else:
                bad = sym is not None and int(sym.syntax) > before
            if bad:
                traffic.bad(key)
            return out

        md.receive_message = tap

    async def target(self, address: str, resolved: ResolvedProfile) -> PysnmpTarget:
        """Configure pysnmp for a device and profile."""
        p = resolved.profile
        transport = await UdpTransportTarget.create((address, p.port), timeout=p.timeout_s, retries=p.retries)
        addr_name, _params = self._lcd.configure(self.engine, resolved.auth_data, transport, p.context)
        peer = tuple(transport.transport_address)[:2]
        return PysnmpTarget(addr_name, (str(peer[0]), int(peer[1])), transport)

    async def request(
        self, tgt: PysnmpTarget, resolved: ResolvedProfile, pdu: int, oids: list[Oid], max_rep: int, *, answered: bool
    ) -> tuple[Reply, bool]:
        """One request; returns the reply and whether an SNMPv3 resync was needed."""
        resp = await self._once(tgt, resolved, pdu, oids, max_rep)
        err = resp[0]
        resynced = False
        if resolved.version == "3" and err:
            # A device that answered before and now fails this way has most likely
            # restarted: notInTimeWindow / unknownEngineID reports carried its new
            # engineBoots/engineTime, which pysnmp has taken, so asking again succeeds;
            # a timeout means its engine ID changed and pysnmp drops its reports (see
            # forget_engine), so rediscover and ask again.
            resync = isinstance(err, errind.NotInTimeWindow | errind.UnknownEngineID) or (
                answered and isinstance(err, errind.RequestTimedOut)
            )
            if resync:
                dropped = self.forget_engine(*tgt.peer)
                log.info(
                    "snmp v3 resync target=%s:%s reason=%s engine_cache_dropped=%d",
                    tgt.peer[0],
                    tgt.peer[1],
                    classify(err),
                    dropped,
                )
                resynced = True
                resp = await self._once(tgt, resolved, pdu, oids, max_rep)
                err = resp[0]
        if err:
            return Reply(classify(err), detail=str(err)[:200]), resynced
        _err, status, index, varbinds = resp
        return Reply("", status, index, [(tuple(o.asTuple()), plain(v)) for o, v in varbinds]), resynced

    async def _once(self, tgt: PysnmpTarget, resolved: ResolvedProfile, pdu: int, oids: list[Oid], max_rep: int) -> Any:
        p = resolved.profile
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        vbs = [(rfc1902.ObjectName(o), _NULL) for o in oids]
        engine, ctx = self.engine, p.context
        if pdu == PDU_GET:
            self._get.send_varbinds(engine, tgt.addr_name, None, ctx, vbs, _on_response, fut)
        elif pdu == PDU_BULK:
            self._bulk.send_varbinds(engine, tgt.addr_name, None, ctx, 0, max_rep, vbs, _on_response, fut)
        else:
            self._next.send_varbinds(engine, tgt.addr_name, None, ctx, vbs, _on_response, fut)
        # pysnmp times out on its own; this bound only guards against a lost callback.
        try:
            async with asyncio.timeout(p.timeout_s * (p.retries + 1) + 2.0):
                return await fut
        except TimeoutError:
            return (errind.requestTimedOut, 0, 0, ())

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

    def close(self) -> None:
        """Close pysnmp's dispatcher, if it was built."""
        if self._engine is not None:
            dispatcher = self._engine.transport_dispatcher
            if dispatcher is not None:
                dispatcher.close_dispatcher()
