"""`netmon collector` on a disk that fills up: it keeps running, says so, and loses nothing.

The collector runs as a real process in a private mount namespace (``unshare -rm``, no
privilege needed) whose store lies on a small tmpfs; a keeper process in the same
namespace fills the disk and frees it on command. Batches come through a real Mosquitto.

(Before: ingest refused to acknowledge on "database or disk is full", as it should, but
about twenty seconds later the tick's commit raised and the collector exited.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from netmon.agent import wire
from tests import services
from tests.e2e.test_collector_process import _batch, _get, _publish

ROOT = Path(__file__).resolve().parents[2]
AGENT = "d522"

#: Runs inside the namespace: mounts the disk, starts the collector, obeys the test.
KEEPER = textwrap.dedent(
    """
    import os, signal, subprocess, sys
    disk, settings, log = sys.argv[1], sys.argv[2], sys.argv[3]
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", disk], check=True)
    with open(log, "ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "netmon", "collector", "-c", settings],
                                stdout=fh, stderr=subprocess.STDOUT)
    filler = os.path.join(disk, "filler")
    print("started", flush=True)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "fill":
            with open(filler, "ab", buffering=0) as f:
                try:
                    while True:
                        f.write(b"x" * 4096)
                except OSError:
                    pass
        elif cmd == "free":
            os.remove(filler)
        elif cmd == "alive":
            pass
        elif cmd == "stop":
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        print(f"{cmd} {proc.poll()}", flush=True)
        if cmd == "stop":
            break
    """
)


class Keeper:
    def __init__(self, tmp: Path, broker_port: int) -> None:
        self.http_port = services.free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        disk = tmp / "disk"
        disk.mkdir()
        (tmp / "inventory.yaml").write_bytes((ROOT / "config" / "quang-ngai-2021.yaml").read_bytes())
        settings = tmp / "collector.yaml"
        settings.write_text(
            yaml.safe_dump(
                {
                    "collector_id": f"collector-disk-{broker_port}",
                    "inventory": "inventory.yaml",
                    "broker": {"url": f"mqtt://127.0.0.1:{broker_port}", "reconnect_max_s": 1.0},
                    "store": {"path": str(disk / "store.sqlite")},
                    "http": {"listen": f"127.0.0.1:{self.http_port}"},
                    "log": {"format": "json"},
                }
            )
        )
        (tmp / "keeper.py").write_text(KEEPER)
        self.log = tmp / "collector.log"
        self.proc = subprocess.Popen(
            [
                services.require("unshare"),
                "-rm",
                sys.executable,
                str(tmp / "keeper.py"),
                str(disk),
                str(settings),
                str(self.log),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self._line() == "started"

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def do(self, cmd: str) -> int | None:
        """Send a command; returns the collector's exit code (None: it is running)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        word, code = self._line().split()
        assert word == cmd
        return None if code == "None" else int(code)

    def metric(self, name: str) -> float | None:
        status, body = _get(self.base + "/metrics")
        if status != 200:
            return None
        for line in body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None


@pytest.fixture
def keeper(tmp_path: Path, mosquitto: services.Service) -> Iterator[Keeper]:
    k = Keeper(tmp_path, mosquitto.port)
    try:
        services.wait_until(lambda: _get(k.base + "/api/v1/overview")[0] == 200, 60, "collector", None, k.log)
        yield k
    finally:
        if k.proc.poll() is None:
            k.proc.kill()
            k.proc.wait()


def _samples(t: float) -> list[wire.Sample]:
    devices = ["d522-r1", "c21010-cpe1", "c21013-cpe1", "c21016-cpe1"]
    return [
        wire.Sample(device=d, probe="icmp", ts=t + i, ok=True, loss=0.0, sys_descr="x" * 200)
        for i, d in enumerate(devices)
    ]


def test_a_full_disk_degrades_the_collector_and_loses_nothing(keeper: Keeper, mosquitto: services.Service) -> None:
    topic = wire.samples_topic(AGENT)
    seq = 0

    def publish(n: int) -> None:
        nonlocal seq
        for _ in range(n):
            _publish(mosquitto.port, topic, _batch(AGENT, seq, _samples(time.time())))
            seq += 1

    publish(3)
    services.wait_until(lambda: keeper.metric("netmon_collector_batches_total") == 3, 30, "3 batches applied")
    assert keeper.metric("netmon_collector_store_up") == 1
    assert keeper.do("fill") is None
    publish(5)  # not applied while the disk is full: the broker keeps them
    services.wait_until(lambda: keeper.metric("netmon_collector_store_up") == 0, 30, "degraded status")
    # Ticks come and go (one a second) with the disk full: the collector stays up...
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        assert keeper.do("alive") is None, keeper.log.read_text()[-3000:]
        time.sleep(0.5)  # letting ticks fail for a while: there is no event to wait for
    # ...and says why, on the page and in the API.
    with urllib.request.urlopen(keeper.base + "/?lang=en", timeout=5) as resp:
        page = resp.read().decode()
    assert "cannot write to its store" in page
    assert "disk is full" in page
    overview = json.loads(_get(keeper.base + "/api/v1/overview")[1])
    assert overview["store"]["ok"] is False
    assert keeper.metric("netmon_collector_store_write_failures_total") >= 1  # type: ignore[operator]
    # Space comes back: everything the broker kept is applied, once, without a restart.
    assert keeper.do("free") is None
    services.wait_until(lambda: keeper.metric("netmon_collector_batches_total") == 8, 60, "all 8 batches applied")
    services.wait_until(lambda: keeper.metric("netmon_collector_store_up") == 1, 30, "store up again")
    assert keeper.metric("netmon_collector_duplicate_batches_total") == 0
    assert json.loads(_get(keeper.base + "/api/v1/overview")[1])["store"]["ok"] is True
    assert keeper.do("stop") == 0
