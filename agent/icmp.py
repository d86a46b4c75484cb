"""Reachability probes: ICMP echo rounds (icmplib, asyncio) and a TCP-connect fallback.

ICMP needs either an unprivileged datagram socket, which Linux allows to the groups in
``net.ipv4.ping_group_range``, or a raw socket (root / CAP_NET_RAW). :func:`choose_mode`
picks once at start-up and the agent logs ONE line saying which mode it uses; where
neither is allowed it falls back to a TCP connect, which proves the host answers (a
refused connection is an answer too).

Each probe is its own coroutine: a dead host only waits for its own timeout.

IPv4 echoes all go through ONE socket per mode (:class:`Pinger`), replies matched by
(source, sequence number) and, on raw sockets, our identifier. icmplib opens a socket
per round; with a thousand rounds in flight every raw socket receives every reply (the
kernel copies each to all raw ICMP sockets), the receive buffers overflow and two thirds
of the replies were lost (measured, 1,000 hosts x 3), and 1,000 sockets cost CPU even
in datagram mode. icmplib remains for IPv6 and names.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import os
import socket
import struct
import time
from collections.abc import Sequence
from typing import Literal

import icmplib

from netmon.agent import wire

log = logging.getLogger(__name__)

IcmpMode = Literal["unprivileged", "privileged", "tcp", "off"]

#: Port of the TCP fallback when a device names none (SSH answers on most routers).
DEFAULT_TCP_PORT = 22

_ids = itertools.count(int.from_bytes(os.urandom(2), "big"))


def _can_open(kind: int) -> bool:
    try:
        with socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP):
            return True
    except OSError:
        return False


def choose_mode(requested: str = "auto") -> IcmpMode:
    """The ICMP mode to use, from ``PollSettings.icmp_mode``, logged once.

    ``auto`` takes unprivileged datagram sockets when the kernel allows them to this
    process, else raw sockets when privileged, else the TCP-connect fallback.
    """
    mode: IcmpMode
    if requested == "auto":
        if _can_open(socket.SOCK_DGRAM):
            mode, why = "unprivileged", "datagram ICMP sockets allowed by net.ipv4.ping_group_range"
        elif _can_open(socket.SOCK_RAW):
            mode, why = "privileged", "raw sockets (root or CAP_NET_RAW); ping_group_range excludes this group"
        else:
            mode, why = (
                "tcp",
                (
                    "neither datagram ICMP (net.ipv4.ping_group_range) nor raw sockets are allowed; "
                    "reachability falls back to TCP connect"
                ),
            )
    elif requested in ("unprivileged", "privileged", "tcp", "off"):
        mode = requested  # type: ignore[assignment]  # checked just above
        why = "as configured"
    else:
        raise ValueError(f"unknown icmp_mode {requested!r}")
    log.info("reachability probe mode=%s (%s)", mode, why)
    return mode


def jitter(rtts: Sequence[float]) -> float:
    """Mean absolute difference between consecutive RTTs (0 with fewer than two)."""
    if len(rtts) < 2:
        return 0.0
    return sum(abs(b - a) for a, b in itertools.pairwise(rtts)) / (len(rtts) - 1)


def round_sample(
    device: str, ts: float, sent: int, rtts_s: Sequence[float], probe: wire.ProbeKind = "icmp"
) -> wire.Sample:
    """The sample of one probe round from the RTTs (seconds) of the replies received."""
    received = len(rtts_s)
    loss = 1.0 - received / sent if sent else 1.0
    if not rtts_s:
        return wire.Sample(device=device, probe=probe, ts=ts, ok=False, reason="timeout", loss=loss, sent=sent)
    rtt = wire.Rtt(min=min(rtts_s), avg=sum(rtts_s) / received, max=max(rtts_s), jitter=jitter(rtts_s))
    return wire.Sample(device=device, probe=probe, ts=ts, ok=True, rtt=rtt, loss=loss, sent=sent)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    """An ICMP echo request (type 8) with its checksum."""
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, seq) + payload


#: Receive buffer of the shared ICMP socket: a round of a thousand hosts arrives at once.
RCVBUF_BYTES = 4 * 1024 * 1024
_PAYLOAD = b"netmon-agent-echo" + bytes(39)  # 56 bytes, as ping sends


class Pinger:
    """One ICMP socket for every IPv4 echo of the process.

    Args:
        privileged: Raw socket (root / CAP_NET_RAW) instead of a datagram ICMP socket.

    Raises:
        OSError: The socket cannot be opened (no privilege, ping_group_range).
    """

    def __init__(self, privileged: bool) -> None:
        self.privileged = privileged
        kind = socket.SOCK_RAW if privileged else socket.SOCK_DGRAM
        self._sock = socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
            self._sock.setblocking(False)
        except OSError:
            self._sock.close()
            raise
        # Datagram sockets: the kernel sets the identifier (the socket's "port").
        self._ident = os.getpid() & 0xFFFF
        self._seq = itertools.count(int.from_bytes(os.urandom(2), "big"))
        self._pending: dict[tuple[str, int], tuple[float, asyncio.Future[float]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.replies = 0
        self.strays = 0

    def _attach(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._sock.fileno())
            loop.add_reader(self._sock.fileno(), self._readable)
            self._loop = loop
        return loop

    def _readable(self) -> None:
        for _ in range(512):  # bounded, so a reply flood cannot starve the loop
            try:
                data, addr = self._sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # an ICMP error queued on the socket: the round times out
                continue
            now = time.perf_counter()
            icmp = data[(data[0] & 0x0F) * 4 :] if self.privileged and data else data
            if len(icmp) < 8 or icmp[0] != 0:  # not an echo reply (raw sockets see all ICMP)
                continue
            ident, seq = struct.unpack_from("!HH", icmp, 4)
            if self.privileged and ident != self._ident:
                continue  # another process's ping
            entry = self._pending.pop((addr[0], seq), None)
            if entry is None:
                self.strays += 1
                continue
            sent, fut = entry
            if not fut.done():
                self.replies += 1
                fut.set_result(now - sent)

    async def round(self, ip: str, count: int, interval_s: float, timeout_s: float) -> tuple[list[float], str]:
        """Echo ``ip`` ``count`` times; the RTTs of the replies, and a send error if any."""
        loop = self._attach()
        waits: list[tuple[tuple[str, int], asyncio.Future[float]]] = []
        error = ""
        try:
            for i in range(count):
                if i:
                    await asyncio.sleep(interval_s)
                seq = next(self._seq) & 0xFFFF
                key = (ip, seq)
                fut: asyncio.Future[float] = loop.create_future()
                self._pending[key] = (time.perf_counter(), fut)
                waits.append((key, fut))
                try:
                    self._sock.sendto(echo_request(self._ident, seq, _PAYLOAD), (ip, 0))
                except OSError as exc:
                    error = "unreachable" if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH) else "socket"
                    fut.cancel()
            pending = [f for _, f in waits if not f.done()]
            if pending:
                await asyncio.wait(pending, timeout=timeout_s)
        finally:
            for key, fut in waits:
                if not fut.done():
                    fut.cancel()
                    self._pending.pop(key, None)
        return [f.result() for _, f in waits if f.done() and not f.cancelled()], error

    def close(self) -> None:
        """Close the socket."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()


def _ipv4(address: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET, address)
    except OSError:
        return False
    return True


async def icmp_round(
    device: str,
    address: str,
    *,
    mode: Literal["unprivileged", "privileged"],
    count: int,
    interval_s: float,
    timeout_s: float,
    ts: float,
    pinger: Pinger | None = None,
) -> wire.Sample:
    """Send ``count`` echo requests and summarise the replies; failures are data.

    With a :class:`Pinger` (of the same mode) IPv4 addresses use its shared socket;
    names and IPv6 go through icmplib.
    """
    if pinger is not None and _ipv4(address):
        rtts, error = await pinger.round(address, count, interval_s, timeout_s)
        if error and not rtts:
            return wire.Sample(device=device, probe="icmp", ts=ts, ok=False, reason=error, loss=1.0, sent=count)
        return round_sample(device, ts, count, rtts)
    try:
        async with asyncio.timeout(count * (interval_s + timeout_s) + 1.0):
            host = await icmplib.async_ping(
                address,
                count=count,
                interval=interval_s,
                timeout=timeout_s,
                id=next(_ids) & 0xFFFF,
                privileged=mode == "privileged",
            )
    except icmplib.NameLookupError:
        return wire.Sample(device=device, probe="icmp", ts=ts, ok=False, reason="resolve", loss=1.0, sent=count)
    except (icmplib.SocketPermissionError, icmplib.SocketUnavailableError):
        return wire.Sample(device=device, probe="icmp", ts=ts, ok=False, reason="socket", sent=count)
    except (icmplib.ICMPLibError, OSError):
        return wire.Sample(device=device, probe="icmp", ts=ts, ok=False, reason="unreachable", loss=1.0, sent=count)
    except TimeoutError:
        return wire.Sample(device=device, probe="icmp", ts=ts, ok=False, reason="timeout", loss=1.0, sent=count)
    return round_sample(device, ts, host.packets_sent or count, [r / 1000.0 for r in host.rtts])


async def tcp_connect(address: str, port: int, timeout_s: float) -> tuple[bool, str, float]:
    """Connect once; ``(answered, reason, seconds)``. A refusal is an answer (the host is up)."""
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            _reader, writer = await asyncio.open_connection(address, port)
    except TimeoutError:
        return False, "timeout", time.perf_counter() - t0
    except ConnectionRefusedError:
        return True, "refused", time.perf_counter() - t0
    except OSError as exc:
        reason = "unreachable" if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH) else "error"
        return False, reason, time.perf_counter() - t0
    rtt = time.perf_counter() - t0
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, "", rtt


async def tcp_probe(
    device: str, address: str, port: int, *, timeout_s: float, ts: float, refused_is_up: bool
) -> wire.Sample:
    """One TCP-connect probe as a sample.

    Args:
        refused_is_up: For reachability (ICMP fallback) a refusal proves the host is up;
            for a service check (``probes: [tcp]``) it is a failure with reason ``refused``.
    """
    answered, reason, rtt_s = await tcp_connect(address, port, timeout_s)
    if answered and (reason == "" or refused_is_up):
        return wire.Sample(
            device=device, probe="tcp", ts=ts, ok=True, rtt=wire.Rtt(min=rtt_s, avg=rtt_s, max=rtt_s), loss=0.0, sent=1
        )
    return wire.Sample(device=device, probe="tcp", ts=ts, ok=False, reason=reason, loss=1.0, sent=1)
