"""Several `netmon collector` processes for the scale-out and high-availability tests.

Each collector is the real command (``python -m netmon collector -c FILE``) with its own
settings file, store and HTTP port; the tests read its API and ``/metrics`` over HTTP and
its store (read-only) with sqlite3.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests import services


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """Status and body of a GET (an HTTP error is a status, not an exception)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """The value of the first series of ``name`` with these labels in an exposition, or None."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


@dataclass
class CollectorProcess:
    """One `netmon collector` subprocess; ``settings`` override the defaults below."""

    name: str
    workdir: Path
    broker_port: int
    inventory: Path
    settings: Mapping[str, Any] = field(default_factory=dict)
    http_port: int = field(default_factory=services.free_port)
    proc: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = self.workdir / "collector.log"
        self.config = self.workdir / "collector.yaml"
        doc: dict[str, Any] = {
            "collector_id": self.name,  # the MQTT client id: the broker keeps its session under it
            "inventory": str(self.inventory),
            "broker": {"url": f"mqtt://127.0.0.1:{self.broker_port}", "reconnect_min_s": 0.2, "reconnect_max_s": 1},
            "store": {"path": "store.sqlite"},
            "http": {"listen": f"127.0.0.1:{self.http_port}", "language": "en"},
            "log": {"format": "json"},
            **self.settings,
        }
        self.config.write_text(yaml.safe_dump(doc, allow_unicode=True))

    @property
    def base(self) -> str:
        """The web page's base URL."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def store(self) -> Path:
        """The collector's SQLite store."""
        return self.workdir / "store.sqlite"

    def spawn(self) -> None:
        """Start the process (use :meth:`wait_ready` before talking to it)."""
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "netmon", "collector", "-c", str(self.config)],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the web server answers and the subscriber is connected."""
        services.wait_until(self.subscribed, timeout, self.name, self.proc, self.log)

    def subscribed(self) -> bool:
        """Whether the page answers and the log says the subscription is up (since the last start)."""
        if http_get(self.base + "/api/v1/overview", 2)[0] != 200:
            return False
        return self.log.read_text(errors="replace").count('"subscribed') >= self.starts()

    def starts(self) -> int:
        """How many times the process was started (counted from its log)."""
        return self.log.read_text(errors="replace").count('"collector listening"')

    def start(self) -> CollectorProcess:
        """Spawn and wait until ready."""
        self.spawn()
        self.wait_ready()
        return self

    def alive(self) -> bool:
        """Whether the process runs."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL, the crash case."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int | None:
        """SIGTERM and wait; the exit code."""
        if not self.alive():
            return None if self.proc is None else self.proc.returncode
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def api(self, path: str) -> Any:
        """A JSON API answer (200 expected)."""
        status, body = http_get(self.base + path)
        assert status == 200, (self.name, path, status, body[:300])
        return json.loads(body)

    def metrics(self) -> str:
        """The ``/metrics`` exposition."""
        status, body = http_get(self.base + "/metrics")
        assert status == 200, (self.name, status)
        return body.decode()

    def device_state(self, device: str) -> str:
        """A device's state as the API gives it."""
        return str(self.api(f"/api/v1/devices/{device}")["state"])

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the store (safe while the collector runs: WAL)."""
        conn = sqlite3.connect(f"file:{self.store}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def ledger(self) -> dict[str, str]:
        """The applied ``(agent, seq)`` ranges, per agent, as the store holds them."""
        return {str(agent): str(ranges) for agent, ranges in self.query("SELECT agent, ranges FROM seen_batches")}

    def transitions(self) -> list[tuple[Any, ...]]:
        """The whole stored transition log, in a canonical order."""
        return self.query("SELECT device, ts, old, new, cause, root_cause FROM transitions ORDER BY device, ts, rowid")
