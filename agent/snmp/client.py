"""The SNMP client: one device poll is the system group by GET and the interface tables
by GETBULK walk (GETNEXT for v1), over the built-in codec and USM, with pysnmp for DES/3DES
privacy or when asked (``SnmpClient(fast=False)``).

* One UDP socket per address family (:mod:`~netmon.agent.snmp.transport`); responses
  are matched to requests by request id (msgID for SNMPv3) *and* source address;
  anything else is counted.
* SNMPv3 follows RFC 3414 4: discovery learns the engine ID from an unauthenticated
  Report (and nothing else: a Response to the discovery probe is refused), then the
  first authenticated request, sent with boots and time 0, earns an authenticated
  ``notInTimeWindow`` report that synchronises the clock. After that only authentic
  messages move the engine's boots and time (:class:`~netmon.agent.snmp.usm.RemoteEngine`).
  A device that restarts answers with an authenticated ``notInTimeWindow`` report
  carrying its new boots (learnt, the request is sent again); one re-installed with a
  new engine ID answers ``unknownEngineID`` or nothing, and is discovered again, once
  per request. Every USM refusal, reported by the device or found here, is counted by
  its :class:`~netmon.agent.snmp.usm.UsmError` in :attr:`SnmpClient.usm_errors`.
* ifNumber is read with the system group and sizes GETBULK's max-repetitions, so a
  small CPE's whole interface table usually arrives in one PDU.
* The walk requests only the columns still open, stops each column when it leaves its
  subtree, treats noSuchObject/noSuchInstance/endOfMibView as "no data", halves
  max-repetitions on tooBig, and stops on a non-increasing OID (a broken agent would
  otherwise loop forever). A walk that fails names the tables it could not finish.
* Failures are data: every poll returns an :class:`~netmon.agent.snmp.result.SnmpResult`
  whose ``reason`` says what went wrong; nothing is raised into the poller except
  :class:`~netmon.agent.snmp.profile.SnmpConfigError` at build time.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pysnmp.entity.engine import SnmpEngine

from netmon.agent.ber import BerError, Oid
from netmon.agent.snmp.codec import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    PDU_BULK,
    PDU_GET,
    PDU_NEXT,
    PDU_REPORT,
    PDU_RESPONSE,
    Value,
    encode_request,
    request_pdu,
)
from netmon.agent.snmp.profile import ResolvedProfile
from netmon.agent.snmp.pysnmp_path import PysnmpPath, PysnmpTarget
from netmon.agent.snmp.result import TIMED_OUT, Reply, SnmpResult, Traffic
from netmon.agent.snmp.tables import (
    COLUMN_TABLE,
    HR_SYSTEM_UPTIME,
    IF_COLUMNS,
    SYSTEM_OIDS,
    UPTIME_OIDS,
    Checked,
    interface_rows,
    system_group,
)
from netmon.agent.snmp.transport import RCVBUF_BYTES, Budget, UdpClient, send_with_retries
from netmon.agent.snmp.usm import (
    AES_KEY_LEN,
    ENGINE_ID_MAX,
    ENGINE_ID_MIN,
    RemoteEngine,
    UserKeys,
    UsmError,
    UsmFailure,
    encode_v3,
    open_v3,
    parse_v3,
    report_error,
    user_keys,
    verify,
)

log = logging.getLogger(__name__)

#: Walks stop after this many PDUs: a device with more interfaces than this allows is
#: reported as truncated rather than allowed to hold a poll slot forever.
MAX_WALK_PDUS = 400
NO_KEYS = UserKeys()


@dataclass
class _Target:
    """One device as polled with one profile."""

    resolved: ResolvedProfile
    peer: tuple[str, int]
    family: int = socket.AF_INET
    usm: RemoteEngine | None = None
    pysnmp: PysnmpTarget | None = None
    answered: bool = False
    #: Uptime OIDs still asked (a v1 device's noSuchName removes one for good).
    uptime_oids: list[Oid] = field(default_factory=list)


class SnmpClient:
    """Polls devices over SNMP: v1/v2c and v3 (AES) on one socket of its own, v3 with
    DES/3DES through one pysnmp engine.

    Args:
        engine: A pysnmp engine to share (built on first use by default).
        fast: Speak with the built-in codec and USM (default) rather than pysnmp.
        clock: Monotonic clock for SNMPv3 engine time (tests pass their own).

    Attributes:
        requests: Request PDUs sent.
        resyncs: SNMPv3 re-synchronisations after an agent restart.
        usm_errors: SNMPv3 refusals by ``(error, origin)``: origin ``report`` when the
            device refused our request, ``local`` when we refused its reply.
        traffic: Messages received and undecodable ones, per source address.
    """

    def __init__(
        self, engine: SnmpEngine | None = None, *, fast: bool = True, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fast = fast
        self._clock = clock
        self.traffic = Traffic()
        self._pysnmp = PysnmpPath(self.traffic, engine)
        self._targets: dict[tuple[str, int, str], _Target] = {}
        self._udp: dict[int, UdpClient] = {}
        self._col_names = list(IF_COLUMNS)
        self._col_oids = list(IF_COLUMNS.values())
        self._col_tables = [COLUMN_TABLE[n] for n in self._col_names]
        self._request_ids = itertools.count(int.from_bytes(os.urandom(3), "big"))
        self._salt = int.from_bytes(os.urandom(8), "big")
        self.requests = 0
        self.resyncs = 0
        self.usm_errors: Counter[tuple[UsmError, str]] = Counter()

    # Counters kept under their historical names.
    @property
    def malformed(self) -> int:
        """Undecodable messages received."""
        return self.traffic.malformed

    @property
    def rx_from(self) -> Counter[tuple[str, int]]:
        """Messages received per source address."""
        return self.traffic.rx_from

    @property
    def malformed_from(self) -> Counter[tuple[str, int]]:
        """Undecodable messages per source address."""
        return self.traffic.malformed_from

    @property
    def uses_pysnmp(self) -> bool:
        """Whether the pysnmp engine has been built (DES/3DES profiles, or ``fast=False``)."""
        return self._pysnmp.built

    @property
    def engine(self) -> SnmpEngine:
        """The pysnmp engine (built on first use)."""
        return self._pysnmp.engine

    def parse_errors(self) -> int:
        """SNMP messages pysnmp could not decode so far (snmpInASNParseErrs)."""
        return self._pysnmp.parse_errors()

    def forget_engine(self, address: str, port: int) -> int:
        """Drop pysnmp's cached engine ID of a peer (see :meth:`PysnmpPath.forget_engine`)."""
        return self._pysnmp.forget_engine(address, port)

    async def _udp_client(self, family: int) -> UdpClient:
        client = self._udp.get(family)
        if client is None:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
                sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))  # the client's own ephemeral port
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            client = UdpClient(self.traffic)
            await asyncio.get_running_loop().create_datagram_endpoint(lambda: client, sock=sock)
            self._udp[family] = client
        return client

    async def _target(self, address: str, resolved: ResolvedProfile) -> _Target:
        p = resolved.profile
        key = (address, p.port, resolved.name)
        tgt = self._targets.get(key)
        if tgt is None:
            if self._fast and (p.version in ("1", "2c") or p.priv_protocol in (None, *AES_KEY_LEN)):
                infos = await asyncio.get_running_loop().getaddrinfo(address, p.port, type=socket.SOCK_DGRAM)
                family, _t, _p, _c, sockaddr = infos[0]
                usm = RemoteEngine() if p.version == "3" else None
                # An SNMPv3 reply carries the engine's boots and time in its header.
                uptime: list[Oid] = [HR_SYSTEM_UPTIME] if usm is not None else list(UPTIME_OIDS)
                tgt = _Target(resolved, (str(sockaddr[0]), int(sockaddr[1])), family, usm, uptime_oids=uptime)
            else:
                pt = await self._pysnmp.target(address, resolved)
                tgt = _Target(resolved, pt.peer, pysnmp=pt, uptime_oids=list(UPTIME_OIDS))
            self._targets[key] = tgt
        return tgt

    def forget(self, address: str, port: int, profile_name: str) -> None:
        """Drop a cached target (after a profile change)."""
        self._targets.pop((address, port, profile_name), None)

    def engine_id(self, address: str, port: int, profile_name: str) -> bytes | None:
        """The SNMPv3 engine ID learnt for a device, if any (the trap receiver's hint)."""
        tgt = self._targets.get((address, port, profile_name))
        return tgt.usm.engine_id or None if tgt is not None and tgt.usm is not None else None

    async def _request(
        self, tgt: _Target, pdu: int, oids: list[Oid], max_rep: int = 0, budget: Budget | None = None
    ) -> Reply:
        # Also called by the inventory discovery's table walk (agent.discovery), with the
        # profile's own timeout and retries: keep this signature.
        if budget is None:
            p = tgt.resolved.profile
            budget = Budget(p.timeout_s, p.retries)
        self.requests += 1
        if tgt.usm is not None:
            return await self._v3_request(tgt, pdu, oids, max_rep, budget)
        if tgt.pysnmp is None:
            return await self._fast_request(tgt, pdu, oids, max_rep, budget)
        reply, resynced = await self._pysnmp.request(
            tgt.pysnmp, tgt.resolved, pdu, oids, max_rep, answered=tgt.answered
        )
        self.resyncs += resynced
        tgt.answered = not reply.reason
        return reply

    async def _fast_request(self, tgt: _Target, pdu: int, oids: list[Oid], max_rep: int, budget: Budget) -> Reply:
        client = await self._udp_client(tgt.family)
        version = 0 if tgt.resolved.profile.version == "1" else 1
        request_id = next(self._request_ids) & 0x7FFFFFFF
        packet = encode_request(version, tgt.resolved.community, pdu, request_id, oids, max_rep=max_rep)
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        client.pending[request_id] = (fut, tgt.peer, version)
        try:
            return await send_with_retries(client, tgt.peer, packet, fut, timed_out=TIMED_OUT, budget=budget)
        finally:
            client.pending.pop(request_id, None)

    # --- SNMPv3 (RFC 3414) -----------------------------------------------------------

    async def _exchange(self, tgt: _Target, packet: bytes, msg_id: int, budget: Budget) -> bytes | None:
        """Send an SNMPv3 message with retries; the raw reply, or None on timeout."""
        client = await self._udp_client(tgt.family)
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        client.pending_v3[msg_id] = (fut, tgt.peer)
        try:
            return (await send_with_retries(client, tgt.peer, packet, fut, timed_out=b"", budget=budget)) or None
        finally:
            client.pending_v3.pop(msg_id, None)

    def _refused(self, error: UsmError, origin: str, detail: str) -> Reply:
        self.usm_errors[(error, origin)] += 1
        return Reply(error.reason, detail=detail)

    async def _discover(self, tgt: _Target, budget: Budget) -> Reply | None:
        """Learn the device's engine ID (RFC 3414 4); None when done.

        The reply must be a Report (a Response to the probe is refused) and its engine ID
        5 to 32 octets; it is unauthenticated, so boots and time are not taken from it:
        the first authenticated request synchronises them.
        """
        eng = tgt.usm
        assert eng is not None
        msg_id = next(self._request_ids) & 0x7FFFFFFF
        probe = request_pdu(PDU_GET, msg_id, ())
        packet = encode_v3(
            msg_id=msg_id, engine_id=b"", boots=0, engine_time=0, user=b"", keys=NO_KEYS, context=b"", pdu=probe
        )
        raw = await self._exchange(tgt, packet, msg_id, budget)
        if raw is None:
            return TIMED_OUT
        try:
            env = parse_v3(raw)
            open_v3(raw, env, NO_KEYS, (PDU_REPORT,))
        except UsmFailure as exc:
            return self._refused(exc.error, "local", f"discovery: {exc}")
        except BerError as exc:
            self.traffic.bad(tgt.peer)
            return Reply("malformed", detail=f"discovery: {exc}")
        if not ENGINE_ID_MIN <= len(env.engine_id) <= ENGINE_ID_MAX:
            self.traffic.bad(tgt.peer)
            return Reply("malformed", detail="discovery report without a valid engine ID")
        p, r = tgt.resolved.profile, tgt.resolved
        eng.forget()
        eng.engine_id = env.engine_id
        eng.keys = user_keys(p.auth_protocol, p.priv_protocol, r.auth_pass, r.priv_pass, env.engine_id)
        return None

    def _judge_v3(self, tgt: _Target, raw: bytes, msg_id: int) -> Reply | UsmError:
        """A reply as a result, or the report to act on (time window, unknown engine)."""
        eng = tgt.usm
        assert eng is not None
        user = (tgt.resolved.profile.user or "").encode("utf-8")
        try:
            env = parse_v3(raw)
            if env.authenticated:
                # Authentic messages only: our engine's keys, ID and user, then RFC 3414
                # 3.2 step 7b (which may advance our notion of its boots and time).
                if env.engine_id != eng.engine_id:
                    raise UsmFailure(UsmError.UNKNOWN_ENGINE_IDS, "authenticated reply from another engine")
                verify(raw, env, eng.keys)
                if env.user != user:
                    raise UsmFailure(UsmError.UNKNOWN_USER_NAMES, "authenticated reply for another user")
                late = eng.check(env.boots, env.time, self._clock())
                if late is not None:
                    raise UsmFailure(late, f"boots {env.boots} time {env.time}")
            scoped = open_v3(raw, env, eng.keys, (PDU_RESPONSE, PDU_REPORT), checked=True)
        except UsmFailure as exc:
            return self._refused(exc.error, "local", f"reply: {exc}")
        except BerError as exc:
            self.traffic.bad(tgt.peer)
            return Reply("malformed", detail=f"reply: {exc}")
        pdu = scoped.pdu
        if pdu.tag == PDU_REPORT:
            err = report_error(pdu)
            first = ".".join(map(str, pdu.varbinds[0][0])) if pdu.varbinds else ""
            if err is None:
                return Reply("report", detail=f"report {first}")
            if (err is UsmError.NOT_IN_TIME_WINDOWS and env.authenticated) or err is UsmError.UNKNOWN_ENGINE_IDS:
                return err
            return self._refused(err, "report", f"report {first}")
        if pdu.request_id != msg_id:
            return Reply("bad_response", detail="request id mismatch")
        tgt.answered = True
        return Reply("", pdu.status, pdu.index, pdu.varbinds)

    async def _v3_request(self, tgt: _Target, pdu: int, oids: list[Oid], max_rep: int, budget: Budget) -> Reply:
        eng = tgt.usm
        assert eng is not None
        if not eng.engine_id:
            failed = await self._discover(tgt, budget)
            if failed is not None:
                return failed
        p = tgt.resolved.profile
        user, context = (p.user or "").encode("utf-8"), p.context.encode("utf-8")
        timed = rediscovered = False
        while True:
            msg_id = next(self._request_ids) & 0x7FFFFFFF
            self._salt = (self._salt + 1) & 0xFFFFFFFFFFFFFFFF
            boots, etime = eng.outgoing(self._clock())
            packet = encode_v3(
                msg_id=msg_id,
                engine_id=eng.engine_id,
                boots=boots,
                engine_time=etime,
                user=user,
                keys=eng.keys,
                context=context,
                pdu=request_pdu(pdu, msg_id, oids, max_rep=max_rep),
                salt=self._salt,
            )
            raw = await self._exchange(tgt, packet, msg_id, budget)
            if raw is None:
                if not rediscovered and tgt.answered:
                    # It answered before: it may have come back with a new engine ID
                    # whose reports we cannot read as ours. Rediscover and ask again.
                    rediscovered, tgt.answered = True, False
                    self.resyncs += 1
                    log.info("snmp v3 resync target=%s:%s reason=timeout", *tgt.peer)
                    failed = await self._discover(tgt, budget)
                    if failed is None:
                        continue
                return TIMED_OUT
            verdict = self._judge_v3(tgt, raw, msg_id)
            if isinstance(verdict, Reply):
                return verdict
            if verdict is UsmError.NOT_IN_TIME_WINDOWS and not timed:
                # An authenticated report has set our notion of its clock (RFC 3414 4:
                # time synchronisation, or a restart with more boots): ask again.
                timed = True
                if tgt.answered:
                    self.resyncs += 1
                    log.info("snmp v3 resync target=%s:%s reason=not_in_time_window", *tgt.peer)
                continue
            if verdict is UsmError.UNKNOWN_ENGINE_IDS and not rediscovered:
                # Unauthenticated: it may not change what we know, only make us discover
                # again (a re-installed or replaced device has a new engine ID).
                rediscovered, timed, tgt.answered = True, False, False
                self.resyncs += 1
                log.info("snmp v3 resync target=%s:%s reason=unknown_engine", *tgt.peer)
                failed = await self._discover(tgt, budget)
                if failed is None:
                    continue
                return failed
            return self._refused(verdict, "report", "still refused after a resync")

    # --- polling ---------------------------------------------------------------------

    async def poll(
        self,
        address: str,
        resolved: ResolvedProfile,
        *,
        interfaces: bool = True,
        timeout_s: float | None = None,
        retries: int | None = None,
    ) -> SnmpResult:
        """Read the system group and, if asked, the interface tables of one device.

        ``timeout_s`` and ``retries`` replace the profile's for this poll (a probe that
        must answer quickly: the trap receiver's); the pysnmp path keeps the profile's.
        Never raises for a device's failure (only :class:`asyncio.CancelledError`).
        """
        try:
            tgt = await self._target(address, resolved)
        except (OSError, ValueError) as exc:
            return SnmpResult(False, "resolve", str(exc)[:200])
        p = resolved.profile
        budget = Budget(p.timeout_s if timeout_s is None else timeout_s, p.retries if retries is None else retries)
        peer = tgt.peer
        rx0, bad0 = self.traffic.rx_from[peer], self.traffic.malformed_from[peer]
        t0 = time.perf_counter()
        oids: list[Oid] = [*SYSTEM_OIDS, *tgt.uptime_oids]
        pdus = 0
        while True:
            pdus += 1
            resp = await self._request(tgt, PDU_GET, oids, 0, budget)
            # SNMPv1 answers a GET naming one unknown OID with noSuchName for the whole
            # PDU: drop that OID and ask again (v2c says noSuchObject per var-bind).
            if resp.reason or resp.status != 2 or not 1 <= resp.index <= len(oids) or len(oids) == 1:
                break
            gone = oids.pop(resp.index - 1)
            if gone in tgt.uptime_oids:
                tgt.uptime_oids.remove(gone)  # optional: not asked again
        response_s = time.perf_counter() - t0
        if resp.reason:
            if resp.reason == "timeout" and self.traffic.rx_from[peer] > rx0:
                # Something came back from the device, and none of it was an answer.
                bad = self.traffic.malformed_from[peer] > bad0
                n = self.traffic.rx_from[peer] - rx0
                return SnmpResult(False, "malformed" if bad else "bad_response", f"{n} unusable replies", pdus=pdus)
            return SnmpResult(False, resp.reason, resp.detail, pdus=pdus)
        if resp.status:
            return SnmpResult(
                False, "error_status", f"error-status {resp.status} at {resp.index}", response_s, pdus=pdus
            )
        chk = Checked()
        sg = system_group(dict(resp.varbinds), chk)
        boots, etime = sg.engine_boots, sg.engine_time
        if tgt.usm is not None and tgt.usm.synced:  # from the authenticated reply's header
            boots, etime = tgt.usm.boots, tgt.usm.now(self._clock())
        rows: tuple[Any, ...] | None = None
        unread: dict[str, str] = {}
        walk_pdus = 0
        if interfaces:
            rows, unread, walk_pdus = await self.walk_interfaces(tgt, budget, sg.if_number, chk)
        return SnmpResult(
            True,
            response_s=response_s,
            sys_uptime_cs=sg.sys_uptime_cs,
            sys_name=sg.sys_name,
            sys_descr=sg.sys_descr,
            sys_object_id=sg.sys_object_id,
            hr_uptime_cs=sg.hr_uptime_cs,
            engine_boots=boots,
            engine_time=etime,
            interfaces=rows,
            unread=unread,
            rejected=tuple(chk.rejected),
            pdus=pdus + walk_pdus,
        )

    async def walk_interfaces(
        self, tgt: _Target, budget: Budget, if_number: int | None = None, chk: Checked | None = None
    ) -> tuple[tuple[Any, ...] | None, dict[str, str], int]:
        """Walk the interface columns; returns (rows or None, unread tables, PDUs sent).

        Rows are None when the walk failed before its end (a partial table is not
        shown as if it were the device's); ``unread`` names the tables whose columns
        were still open then, with the reason. A walk cut at :data:`MAX_WALK_PDUS`
        (``truncated``) or ended by an empty response (``empty``) keeps its rows.

        ``if_number`` (ifNumber, when known) sizes max-repetitions: a GETBULK of 15
        columns x 25 repetitions against a 4-port CPE returns 375 var-binds of which 60
        are wanted, and decoding var-binds is most of the client's CPU. With ifNumber + 1
        repetitions the whole table usually comes in one PDU, each column seeing its end.
        """
        chk = chk if chk is not None else Checked()
        p = tgt.resolved.profile
        pdu = PDU_NEXT if p.version == "1" else PDU_BULK
        last: list[Oid] = list(self._col_oids)  # per column: the OID to continue from
        open_cols = list(range(len(last)))
        data: dict[int, dict[str, Value]] = {}
        max_rep = p.max_repetitions
        if if_number is not None and if_number >= 0:
            max_rep = max(1, min(max_rep, if_number + 1))
        pdus = 0

        def unread(reason: str) -> dict[str, str]:
            return {self._col_tables[c]: reason for c in open_cols}

        while open_cols:
            if pdus >= MAX_WALK_PDUS:
                return interface_rows(data, chk), unread("truncated"), pdus
            pdus += 1
            resp = await self._request(tgt, pdu, [last[c] for c in open_cols], max_rep, budget)
            if resp.reason:
                return None, unread(resp.reason), pdus
            if resp.status:
                if resp.status == 1 and max_rep > 1:  # tooBig: ask for fewer rows
                    max_rep = max(1, max_rep // 2)
                    continue
                if resp.status == 2 and 1 <= resp.index <= len(open_cols):  # v1 noSuchName: column ended
                    del open_cols[resp.index - 1]
                    continue
                return None, unread(f"error_status_{resp.status}"), pdus
            if not resp.varbinds:  # some agents end a walk so instead of with endOfMibView
                return interface_rows(data, chk), unread("empty"), pdus
            still_open = self._absorb(resp.varbinds, open_cols, last, data)
            if still_open is None:
                return None, unread("oid_not_increasing"), pdus
            open_cols = still_open
        return interface_rows(data, chk), {}, pdus

    def _absorb(
        self,
        varbinds: Sequence[tuple[Oid, Value]],
        open_cols: list[int],
        last: list[Oid],
        data: dict[int, dict[str, Value]],
    ) -> list[int] | None:
        """Fold one response into ``data``; the columns still open, or None on a loop."""
        width = len(open_cols)
        done: set[int] = set()
        progressed = False
        names, bases = self._col_names, self._col_oids
        for i, (oid, val) in enumerate(varbinds):
            col = open_cols[i % width]
            if col in done:
                continue
            base = bases[col]
            n = len(base)
            if val is END_OF_MIB_VIEW or len(oid) != n + 1 or oid[:n] != base:
                done.add(col)
                continue
            if oid <= last[col]:
                return None
            last[col] = oid
            progressed = True
            if val is NO_SUCH_OBJECT or val is NO_SUCH_INSTANCE:
                continue
            row = data.get(oid[n])
            if row is None:
                row = data[oid[n]] = {}
            row[names[col]] = val
        if not progressed and not done:
            return None
        return [c for c in open_cols if c not in done]

    def close(self) -> None:
        """Close the sockets."""
        for client in self._udp.values():
            if client.transport is not None:
                client.transport.close()
        self._udp.clear()
        self._pysnmp.close()
