"""`netmon collector` as a real process: Mosquitto in, page/API/metrics out, SIGHUP, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
import yaml

from netmon.agent import wire
from tests import services

ROOT = Path(__file__).resolve().parents[2]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _api(base: str, path: str) -> dict[str, object]:
    status, body = _get(base + path)
    assert status == 200, (path, status, body[:300])
    out: dict[str, object] = json.loads(body)
    return out


def _publish(port: int, topic: str, payload: bytes, *, retain: bool = False) -> None:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"test-pub-{time.monotonic_ns()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    info = client.publish(topic, payload, qos=1, retain=retain)
    info.wait_for_publish(5)
    client.loop_stop()
    client.disconnect()


def _batch(agent: str, seq: int, samples: list[wire.Sample]) -> bytes:
    return wire.encode(wire.SampleBatch(v=1, agent=agent, seq=seq, sent_at=time.time(), samples=samples))


class Collector:
    """A `netmon collector` subprocess with its settings in a temporary directory."""

    def __init__(self, tmp: Path, broker_port: int, influx_url: str | None = None) -> None:
        self.tmp = tmp
        self.http_port = services.free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        inv = yaml.safe_load((ROOT / "config" / "quang-ngai-2021.yaml").read_text(encoding="utf-8"))
        self.inventory = tmp / "inventory.yaml"
        self.inventory.write_text(yaml.safe_dump(inv, allow_unicode=True), encoding="utf-8")
        self.settings = tmp / "collector.yaml"
        self.settings.write_text(
            yaml.safe_dump(
                {
                    "collector_id": f"collector-{broker_port}",
                    "inventory": "inventory.yaml",
                    "broker": {"url": f"mqtt://127.0.0.1:{broker_port}"},
                    "store": {"path": "store.sqlite"},
                    "http": {"listen": f"127.0.0.1:{self.http_port}"},
                    "state": {"default_interval_s": 60, "down_after": 2},
                    "log": {"format": "json"},
                    **({"influx": {"url": influx_url, "flush_interval_s": 0.2}} if influx_url else {}),
                }
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / "collector.log"

    def start(self) -> None:
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "netmon", "collector", "-c", str(self.settings)],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        services.wait_until(
            lambda: _get(self.base + "/api/v1/overview")[0] == 200, 30, "collector", self.proc, self.log
        )

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[services.Service]:
    (tmp_path / "vm").mkdir()
    svc = services.start_victoriametrics(tmp_path / "vm")
    yield svc
    svc.stop()


@pytest.fixture
def collector(tmp_path: Path, mosquitto: services.Service, victoria: services.Service) -> Iterator[Collector]:
    col = Collector(tmp_path, mosquitto.port, influx_url=victoria.url)
    col.start()
    yield col
    if col.proc is not None and col.proc.poll() is None:
        col.proc.kill()
        col.proc.wait()


def _state(col: Collector, device: str) -> str:
    return str(_api(col.base, f"/api/v1/devices/{device}")["state"])


def test_collector_process_ingests_serves_reloads_and_stops_cleanly(
    collector: Collector, mosquitto: services.Service, victoria: services.Service
) -> None:
    agent = "agent-522"
    now = time.time()
    _publish(
        mosquitto.port,
        wire.status_topic(agent),
        wire.encode(wire.AgentStatus(v=1, agent=agent, state="online", ts=now, devices=2)),
        retain=True,
    )
    samples = [
        wire.Sample(device="d522-r1", probe="snmp", ts=now, ok=True, response_s=0.004, sys_uptime_s=1234.0),
        wire.Sample(device="c21010-cpe1", probe="snmp", ts=now, ok=True, response_s=0.006),
    ]
    _publish(mosquitto.port, wire.samples_topic(agent), _batch(agent, 1, samples))
    services.wait_until(
        lambda: _state(collector, "c21010-cpe1") == "up", 15, "device up", collector.proc, collector.log
    )
    assert _state(collector, "d522-r1") == "up"

    # a malformed payload is counted by reason and set aside, and ingestion goes on
    _publish(mosquitto.port, wire.samples_topic(agent), b"{not json")
    _publish(mosquitto.port, wire.samples_topic(agent), _batch(agent, 1, samples))  # a redelivery
    later = [wire.Sample(device="c21010-cpe1", probe="snmp", ts=time.time(), ok=True)]
    _publish(mosquitto.port, wire.samples_topic(agent), _batch(agent, 2, later))

    def counted() -> bool:
        text = _get(collector.base + "/metrics")[1].decode()
        return (
            'netmon_collector_invalid_batches_total{reason="json"} 1' in text
            and "netmon_collector_duplicate_batches_total 1" in text
        )

    services.wait_until(counted, 15, "invalid and duplicate counted", collector.proc, collector.log)
    metrics = _get(collector.base + "/metrics")[1].decode()
    up_lines = [x for x in metrics.splitlines() if x.startswith("netmon_device_up{") and 'device="c21010-cpe1"' in x]
    assert len(up_lines) == 1, up_lines
    assert up_lines[0].endswith(" 1") or up_lines[0].endswith(" 1.0")

    # the InfluxDB writer delivered the samples at their measurement time
    def exported() -> bool:
        _get(victoria.url + "/internal/force_flush")
        body = _get(victoria.url + '/api/v1/export?match[]={__name__=~"netmon_probe.*",device="d522-r1"}')[1]
        return (
            b"netmon_probe_response_s" in body and str(round(now * 1000)).encode() in body
        )  # millisecond precision, rounded

    services.wait_until(exported, 30, "points in VictoriaMetrics", collector.proc, collector.log)

    page_status, page = _get(collector.base + "/")
    assert page_status == 200
    assert "Quảng Ngãi" in page.decode()

    # SIGHUP: a commune added to the inventory appears without a restart, state kept
    inv = yaml.safe_load(collector.inventory.read_text(encoding="utf-8"))
    inv["districts"][0]["communes"].append(
        {
            "code": "99999",
            "name": "Xã Thử Nghiệm",
            "devices": [{"id": "c99999-cpe1", "role": "cpe", "address": "127.9.9.9", "snmp": "default"}],
        }
    )
    collector.inventory.write_text(yaml.safe_dump(inv, allow_unicode=True), encoding="utf-8")
    assert collector.proc is not None
    collector.proc.send_signal(signal.SIGHUP)
    services.wait_until(
        lambda: _get(collector.base + "/api/v1/communes/99999")[0] == 200, 15, "reload", collector.proc, collector.log
    )
    assert _state(collector, "c21010-cpe1") == "up"

    # a broken inventory on SIGHUP is refused with the reason, and the old one kept
    collector.inventory.write_text("province: {code: '51'}\n", encoding="utf-8")
    collector.proc.send_signal(signal.SIGHUP)
    services.wait_until(lambda: "inventory reload refused" in collector.log.read_text(), 15, "refusal logged")
    assert _get(collector.base + "/api/v1/communes/99999")[0] == 200

    assert collector.stop() == 0
    log_lines = [json.loads(line) for line in collector.log.read_text().splitlines() if line.startswith("{")]
    assert any(rec.get("msg") == "collector stopped" for rec in log_lines)

    # the state survives the restart: the device is still known UP from the store
    collector.inventory.write_text(yaml.safe_dump(inv, allow_unicode=True), encoding="utf-8")
    collector.start()
    assert _state(collector, "c21010-cpe1") == "up"


def test_collector_refuses_a_store_it_cannot_open(tmp_path: Path, mosquitto: services.Service) -> None:
    col = Collector(tmp_path, mosquitto.port)
    settings = yaml.safe_load(col.settings.read_text())
    settings["store"]["path"] = "no-such-dir/store.sqlite"
    col.settings.write_text(yaml.safe_dump(settings))
    out = subprocess.run(
        [sys.executable, "-m", "netmon", "collector", "-c", str(col.settings)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # a directory that does not exist is a settings problem, found by the start-up check
    assert out.returncode == 2
    assert "store.path: directory" in out.stderr
    assert "does not exist" in out.stderr
    assert "Traceback" not in out.stderr


def test_collector_names_the_bad_settings_line(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("inventory: x.yaml\nhttp:\n  listn: 1\n")
    out = subprocess.run(
        [sys.executable, "-m", "netmon", "collector", "-c", str(tmp_path / "c.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert "c.yaml:3: http.listn: unknown field" in out.stderr
