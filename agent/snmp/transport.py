"""The client's UDP socket: requests out, replies matched back to them.

One socket per address family with an 8 MiB receive buffer (hundreds of responses in
flight would overflow the default one). A v1/v2c response is matched to its request by
request id, source address and version; an SNMPv3 message by msgID and source address
(the USM checks it afterwards). Everything received is counted per source address, and
what cannot be decoded too, so a poll can tell "nothing came back" from "junk came back".
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from netmon.agent.ber import BerError
from netmon.agent.snmp.codec import decode_response
from netmon.agent.snmp.result import Reply, Traffic
from netmon.agent.snmp.usm import v3_msg_id

log = logging.getLogger(__name__)

#: Receive buffer of the client's socket: hundreds of responses in flight must not overflow it.
RCVBUF_BYTES = 8 * 1024 * 1024


class UdpClient(asyncio.DatagramProtocol):
    """One UDP socket for every request of one address family; responses matched by
    request id (msgID) and peer."""

    def __init__(self, traffic: Traffic) -> None:
        self._traffic = traffic
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[asyncio.Future[Reply], tuple[str, int], int]] = {}
        self.pending_v3: dict[int, tuple[asyncio.Future[bytes], tuple[str, int]]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.DatagramTransport", transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        key = (str(addr[0]), int(addr[1]))
        self._traffic.rx_from[key] += 1
        if len(data) > 4 and b"\x02\x01\x03" in data[:8]:  # SNMPv3: the version INTEGER 3 up front
            try:
                msg_id = v3_msg_id(data)
            except BerError:
                msg_id = -1
            v3 = self.pending_v3.get(msg_id)
            if v3 is not None and v3[1] == key:
                if not v3[0].done():
                    v3[0].set_result(data)
                return
        try:
            version, request_id, status, index, varbinds = decode_response(data)
        except BerError as exc:
            self._traffic.bad(key)
            log.debug("undecodable SNMP message from %s:%s: %s", key[0], key[1], exc)
            return
        entry = self.pending.get(request_id)
        if entry is None or entry[1] != key or entry[2] != version:
            return  # late, foreign or spoofed: counted in rx_from only (``bad_response``)
        fut = entry[0]
        if not fut.done():
            fut.set_result(Reply("", status, index, varbinds))

    def error_received(self, exc: Exception) -> None:
        log.debug("snmp socket error: %s", exc)


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Budget:
    """How long to wait for each answer, and how many times to ask again."""

    timeout_s: float
    retries: int


async def send_with_retries(
    client: UdpClient, peer: tuple[str, int], packet: bytes, fut: asyncio.Future[T], *, timed_out: T, budget: Budget
) -> T:
    """Send ``packet`` and wait for ``fut`` (resolved by the datagram protocol), resending
    after each timeout up to ``budget.retries`` times; ``timed_out`` when none is answered.
    Retries reuse the request id, so a late answer to an earlier try still counts."""
    transport = client.transport
    assert transport is not None
    loop = asyncio.get_running_loop()
    tries = budget.retries + 1
    timer: list[asyncio.TimerHandle] = []

    def resend() -> None:
        nonlocal tries
        if fut.done():
            return
        if tries == 0:
            fut.set_result(timed_out)
            return
        tries -= 1
        transport.sendto(packet, peer)
        timer[:] = [loop.call_later(budget.timeout_s, resend)]

    resend()
    try:
        return await fut
    finally:
        for t in timer:
            t.cancel()
