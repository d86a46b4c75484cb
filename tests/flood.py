"""A flooding MQTT client: garbage at a fixed rate from one login, for the flood test and bench.

Pre-encoded MQTT 3.1.1 PUBLISH packets are written in bulk (one write per 5 ms tick), so
one Python process offers tens of thousands of messages a second without the per-message
cost of a client library; PUBACKs are read and thrown away. TLS with a client certificate
and a password, as the shipped broker configuration requires.

    python -m tests.flood --port 8883 --user d523 --password ... --ca ca.crt \\
        --cert d523.crt --key d523.key --topic netmon/v1/agents/d523/samples \\
        --rate 20000 --duration 8 --qos 1

Prints one JSON line: ``{"sent": ..., "seconds": ..., "rate": ...}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import ssl
import struct
import time

#: Messages are written in one chunk per tick.
TICK_S = 0.005


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(b: bytes) -> bytes:
    return struct.pack("!H", len(b)) + b


def connect_packet(client_id: str, user: str | None, password: str | None) -> bytes:
    """An MQTT 3.1.1 CONNECT (clean session, keepalive 60 s)."""
    flags = 0x02 | (0x80 if user is not None else 0) | (0x40 if password is not None else 0)
    body = _str(b"MQTT") + bytes([4, flags]) + struct.pack("!H", 60) + _str(client_id.encode())
    if user is not None:
        body += _str(user.encode())
    if password is not None:
        body += _str(password.encode())
    return b"\x10" + _varint(len(body)) + body


def publish_packet(topic: str, payload: bytes, qos: int, packet_id: int) -> bytes:
    """An MQTT PUBLISH."""
    body = _str(topic.encode()) + (struct.pack("!H", packet_id) if qos else b"") + payload
    return bytes([0x30 | (qos << 1)]) + _varint(len(body)) + body


def garbage(i: int, size: int) -> bytes:
    """Not JSON: what a broken or hostile client sends."""
    head = b"\x00garbage %d " % i
    return (head + os.urandom(max(0, size - len(head))))[:size]


def _drain(sock: socket.socket) -> None:
    """Read and drop whatever the broker sent (PUBACKs) without blocking."""
    sock.setblocking(False)
    try:
        while sock.recv(65536):
            pass
    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
        pass
    finally:
        sock.setblocking(True)


def flood(args: argparse.Namespace) -> dict[str, float]:
    """Connect, flood for ``args.duration`` seconds at ``args.rate`` messages a second."""
    raw = socket.create_connection((args.host, args.port), timeout=10)
    sock: socket.socket = raw
    if args.ca:
        ctx = ssl.create_default_context(cafile=args.ca)
        if args.cert:
            ctx.load_cert_chain(args.cert, args.key)
        sock = ctx.wrap_socket(raw, server_hostname=args.host)
    sock.sendall(connect_packet(args.client_id, args.user, args.password))
    connack = sock.recv(4)
    if len(connack) < 4 or connack[0] != 0x20 or connack[3] != 0:
        raise SystemExit(f"flood: the broker refused the connection: {connack!r}")
    per_tick = max(1, round(args.rate * TICK_S))
    payloads = [garbage(i, args.size) for i in range(64)]
    sent, packet_id = 0, 1
    start = time.monotonic()
    deadline = start + args.duration
    tick = start
    while (now := time.monotonic()) < deadline:
        chunk = bytearray()
        for _ in range(per_tick):
            chunk += publish_packet(args.topic, payloads[sent % len(payloads)], args.qos, packet_id)
            packet_id = packet_id % 65535 + 1
            sent += 1
        sock.sendall(chunk)
        _drain(sock)
        tick += TICK_S
        if tick > now:
            time.sleep(tick - now)  # pacing the offered rate, not waiting for an event
    seconds = time.monotonic() - start
    sock.sendall(b"\xe0\x00")  # DISCONNECT: the broker closes once it has read everything before it
    sock.settimeout(60)
    with contextlib.suppress(OSError):
        while sock.recv(65536):  # PUBACKs, then the broker's end of the connection
            pass
    sock.close()
    return {"sent": sent, "seconds": round(seconds, 3), "rate": round(sent / seconds)}


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--client-id", default="flooder")
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--topic", required=True)
    ap.add_argument("--rate", type=float, default=20_000)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--qos", type=int, choices=(0, 1), default=1)
    ap.add_argument("--size", type=int, default=120)
    print(json.dumps(flood(ap.parse_args())), flush=True)


if __name__ == "__main__":
    main()
