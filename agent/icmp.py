"""Reachability probes: ICMP echo rounds (icmplib, asyncio) and a TCP-connect fallback.

ICMP needs either an unprivileged datagram socket, which Linux allows to the groups in
``net.ipv4.ping_group_range``, or a raw socket (root / CAP_NET_RAW). :func:`choose_mode`
picks once at start-up and the agent logs ONE line saying which mode it uses; where
neither is allowed it falls back to a TCP connect, which proves the host answers (a
refused connection is an answer too).

Each probe is its own coroutine: a dead host only waits for its own timeout. In
privileged mode every raw socket sees every echo reply, so each concurrent round gets
its own ICMP identifier (icmplib matches replies by it).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import os
import socket
import time
from collections.abc import Sequence
from typing import Literal

import icmplib

from agent import wire

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


async def icmp_round(
    device: str,
    address: str,
    *,
    mode: Literal["unprivileged", "privileged"],
    count: int,
    interval_s: float,
    timeout_s: float,
    ts: float,
) -> wire.Sample:
    """Send ``count`` echo requests and summarise the replies; failures are data."""
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
