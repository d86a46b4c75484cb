"""`netmon demo` end to end: a short scripted scenario, checked against its ground truth.

The demo runs as the user runs it (a subprocess of the ``netmon`` command) on a part of
the real Quảng Ngãi inventory (three districts, so that two-second polling stays cheap on
a two-core machine), with the ``e2e-short`` scenario at half speed: the Ba Tơ uplink is
cut, one CPE is down for twelve seconds, another until the end, a third is in a
maintenance window. The
checks go through the collector's JSON API and ``/metrics``, and compare with the truth
file the demo wrote.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from netmon.agent import wire
from netmon.config import geography
from netmon.demo import scenario, truth
from tests import services

INTERVAL = 2.0
SCALE = 2.0  # the scenario's seconds, doubled: every outage spans several polls
DURATION = 36.0
SCENARIO = Path(scenario.__file__).parent / "scenarios" / "e2e-short.yaml"
CUT_ROUTER = "d535-r1"  # Ba Tơ's district router


def subset_inventory(path: Path) -> None:
    """Three districts of the real inventory: the city, Ba Tơ (cut) and Lý Sơn."""
    doc = yaml.safe_load((Path(geography.__file__).parent / "quang-ngai-2021.yaml").read_text(encoding="utf-8"))
    doc["districts"] = [d for d in doc["districts"] if d["code"] in ("522", "535", "527")]
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def get(base: str, path: str) -> Any:
    with urllib.request.urlopen(base + path, timeout=5) as resp:
        body = resp.read()
    return body.decode() if path == "/metrics" else json.loads(body)


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{labels} not exported")


def forge_from_another_agent(demo_log: str, device: str) -> None:
    """Ba Tơ's agent, on its own topic, says a device of the city (which it does not poll) is up."""
    port = int(re.search(r"MQTT broker: mqtt://127\.0\.0\.1:(\d+)", demo_log).group(1))  # type: ignore[union-attr]
    now = time.time()
    sample = wire.Sample(device=device, probe="snmp", ts=now, ok=True)
    batch = wire.SampleBatch(v=1, agent="demo-d535", seq=1, sent_at=now, samples=[sample])
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="forger", protocol=paho.MQTTv311)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(wire.samples_topic("demo-d535"), wire.encode(batch), qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def test_demo_scenario_matches_ground_truth(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    subset_inventory(inv)
    port = services.free_port()
    base = f"http://127.0.0.1:{port}"
    truth_path = tmp_path / "truth.json"
    log_path = tmp_path / "demo.log"
    cmd = [
        sys.executable, "-m", "netmon", "demo",
        "--inventory", str(inv), "--scenario", str(SCENARIO),
        "--interval", str(INTERVAL), "--duration", str(DURATION), "--time-scale", str(SCALE),
        "--workdir", str(tmp_path / "work"), "--truth", str(truth_path),
        "--http", f"127.0.0.1:{port}", "--broker", "embedded",
        "--snmp-port", str(services.free_port(__import__("socket").SOCK_DGRAM)),
    ]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        services.wait_until(lambda: "ready in" in log_path.read_text(), 30, "netmon demo", proc, log_path)
        gt = truth.Truth.read(truth_path)
        behind = [d for d, p in gt.parents.items() if p == CUT_ROUTER]
        assert len(behind) >= 10

        # The scenario's last change inside the run (the CPE's return); the collector is
        # judged after it, once it shows what the truth says.
        last_change = max(t for t in gt.changes() if t < gt.start + DURATION)

        def settled() -> bool:
            if time.time() < last_change + INTERVAL:
                return False
            states = {d: get(base, f"/api/v1/devices/{d}")["state"] for d in (CUT_ROUTER, "c21013-cpe1", "c21010-cpe1")}
            return states == {CUT_ROUTER: "down", "c21013-cpe1": "down", "c21010-cpe1": "up"} and all(
                get(base, f"/api/v1/devices/{d}")["state"] == "unreachable" for d in behind
            )

        # Everything the scenario does has happened 20 s in; wait for the collector to see it.
        services.wait_until(settled, 25, "the collector to see the scenario", proc, log_path)
        forge_from_another_agent(log_path.read_text(), "c21013-cpe1")
        services.wait_until(
            lambda: (
                metric(get(base, "/metrics"), "netmon_collector_rejected_samples_total", reason="foreign_device") >= 1
            ),
            10,
            "the collector to drop the forged sample",
            proc,
            log_path,
        )
        now = time.time()
        assert now < gt.start + DURATION

        for d in behind:
            dev = get(base, f"/api/v1/devices/{d}")
            assert (dev["state"], dev["root_cause"]) == ("unreachable", CUT_ROUTER)
            period = gt.state_at(d, now)
            assert period is not None
            assert period.root_cause == CUT_ROUTER
        assert get(base, "/api/v1/devices/c21016-cpe1")["state"] == "maintenance"

        # The page speaks Vietnamese, even to a browser set to English; ICMP is off in the
        # demo, so latency is the SNMP response time.
        req = urllib.request.Request(base + "/commune/21010", headers={"Accept-Language": "en-US,en;q=0.9"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            page = resp.read().decode()
        assert '<html lang="vi">' in page
        assert "Độ trễ (phản hồi SNMP)" in page
        down = get(base, "/api/v1/devices/c21013-cpe1")
        assert down["cause_text"].startswith("mất kết nối từ ")
        assert "failed" not in down["cause_text"]
        assert get(base, "/api/v1/devices/c21010-cpe1")["latency_source"] == "snmp"

        # Coverage now equals the truth now (nothing changes after 20 s into the scenario).
        overview = get(base, "/api/v1/overview")
        counts = overview["province"]["counts"]
        connected, total = gt.coverage(now)
        differ = {
            c: get(base, f"/api/v1/communes/{c}")["state"]
            for c in gt.communes
            if get(base, f"/api/v1/communes/{c}")["connected"] != gt.connected(c, now)
        }
        assert (counts["connected"], counts["communes"]) == (connected, total), differ
        assert counts["by_state"]["unreachable"] == len(behind)

        metrics = get(base, "/metrics")
        assert metric(metrics, "netmon_province_communes_connected") == connected
        assert metric(metrics, "netmon_device_state", device="c21013-cpe1") == 2  # down
        assert metric(metrics, "netmon_device_state", device=behind[0]) == 3  # unreachable

        # Availability of each outage within one poll interval of the truth.
        for dev, kind in (("c21010-cpe1", "down_s"), ("c21013-cpe1", "down_s"), (behind[0], "unreachable_s")):
            api = get(base, f"/api/v1/availability?scope=device&id={dev}&from={gt.start}&to={now}")["availability"]
            expected = gt.availability(dev, gt.start, now)
            assert abs(api[kind] - getattr(expected, kind)) <= INTERVAL + 0.5, (dev, api, expected)

        proc.wait(timeout=DURATION + 30)
        assert proc.returncode == 0, log_path.read_text()[-3000:]
        final = truth.Truth.read(truth_path)
        assert final.end is not None
        text = log_path.read_text()
        assert "reachability comes from SNMP" in text
        assert "embedded amqtt" in text
        assert "no agents map" not in text  # the demo declares which agent polls what
        assert "Traceback" not in text, text[-3000:]
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def test_silent_agent_replays_its_outbox_then_sigterm_stops_cleanly(tmp_path: Path) -> None:
    """An agent whose broker connection is cut keeps polling into its outbox; the
    collector shows its devices UNKNOWN meanwhile, and when the connection returns the
    replayed samples replace that UNKNOWN with what really happened (UP). Then, without
    --duration, SIGTERM stops everything and the final ground truth is written."""
    doc = yaml.safe_load((Path(geography.__file__).parent / "quang-ngai-2021.yaml").read_text(encoding="utf-8"))
    doc["districts"] = [d for d in doc["districts"] if d["code"] == "527"]
    communes = len(doc["districts"][0]["communes"])
    device = doc["districts"][0]["communes"][0]["devices"][0]["id"]
    silent = tmp_path / "silent.yaml"
    silent.write_text(
        "name: silent\nevents:\n  - {kind: agent_silent, at: 4, duration: 8, agent: demo-d527}\n", encoding="utf-8"
    )
    inv = tmp_path / "inventory.yaml"
    inv.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    port = services.free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "demo.log"
    cmd = [
        sys.executable, "-m", "netmon", "demo", "--inventory", str(inv), "--interval", "1", "--scenario", str(silent),
        "--workdir", str(tmp_path / "work"), "--truth", str(tmp_path / "truth.json"),
        "--http", f"127.0.0.1:{port}", "--broker", "embedded",
        "--snmp-port", str(services.free_port(__import__("socket").SOCK_DGRAM)),
    ]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        services.wait_until(
            lambda: "Ctrl-C stops everything" in log_path.read_text(), 30, "netmon demo", proc, log_path
        )
        gt = truth.Truth.read(tmp_path / "truth.json")
        ((agent, cut, back),) = gt.silences
        assert agent == "demo-d527"
        assert back is not None
        services.wait_until(
            lambda: time.time() > cut and get(base, f"/api/v1/devices/{device}")["state"] == "unknown",
            20,
            "the silence seen",
            proc,
            log_path,
        )
        assert cut <= time.time() < back + 1
        services.wait_until(
            lambda: (
                time.time() > back + 3 and get(base, "/api/v1/overview")["province"]["counts"]["connected"] == communes
            ),
            30,
            "every commune connected again",
            proc,
            log_path,
        )
        # The outbox filled the silence: the collector now knows the device was up.
        api = get(base, f"/api/v1/availability?scope=device&id={device}&from={cut + 1}&to={back - 1}")
        assert api["availability"]["up_s"] >= (back - cut - 2) - 2, api
        assert gt.availability(device, cut, back).up_s == back - cut  # the truth: it never went down
        proc.terminate()
        assert proc.wait(timeout=20) == 0, log_path.read_text()[-3000:]
        assert truth.Truth.read(tmp_path / "truth.json").end is not None
        assert "stopped after" in log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
