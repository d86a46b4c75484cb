"""Secrets never show: not in check-config's output, not in the logs of a real run, not in
the web page or the API.

Each test sets distinctive secret values and greps everything the program said for them.
The log test does NOT register the secrets with the redacting filter: it proves the code
itself does not log them (the filter is a second line of defence, tested in
``tests/unit/test_logsetup.py``).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from netmon.agent import wire
from netmon.agent.outbox import Outbox
from netmon.agent.poller import Poller
from netmon.agent.publisher import Publisher
from netmon.agent.sink import MemorySink
from netmon.collector.web import build_app
from netmon.config.credentials import AuthProtocol, PrivProtocol, SnmpProfile
from netmon.config.inventory import Device, Probe, Role
from netmon.config.logsetup import forget_secrets, setup_logging
from netmon.config.secrets import Secret, SecretRef
from netmon.config.settings import BrokerSettings, HttpSettings, LogSettings, OutboxSettings, PollSettings
from tests import services
from tests.people_scenario import NOW, engine_at, inventory

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "NETMON_SNMP_AUTH_KEY": "sEcReT-auth-4f1c9a",
    "NETMON_SNMP_PRIV_KEY": "sEcReT-priv-8b2d7e",
    "NETMON_MQTT_PASSWORD": "sEcReT-mqtt-3a9f0c",
    "NETMON_HTTP_TOKEN": "sEcReT-http-6c5e1b",
    "NETMON_INFLUX_TOKEN": "sEcReT-influx-0d4a2f",
}


def leaked(text: str, values: object = None) -> list[str]:
    """The secret values (default: all of :data:`SECRETS`) that appear in ``text``."""
    vals = list(values) if isinstance(values, list | tuple) else list(SECRETS.values())
    return [v for v in vals if v in text]


# ---------------------------------------------------------------------------- check-config


def write_configs(d: Path) -> list[Path]:
    """Valid and broken files whose secrets are env refs, files and (broken) literals."""
    inv = (ROOT / "config" / "quang-ngai-2021.yaml").read_text(encoding="utf-8")
    # one CPE on a community profile, so the security report has something to say
    inv = inv.replace("      snmp: default\n      parent: d522-r1", "      snmp: legacy-v2c\n      parent: d522-r1", 1)
    assert "legacy-v2c" in inv
    (d / "inventory.yaml").write_text(inv, encoding="utf-8")
    (d / "community.txt").write_text("sEcReT-community-file-77\n", encoding="utf-8")
    (d / "credentials.yaml").write_text(
        "snmp:\n"
        "  default: {version: 3, user: netmon, auth_protocol: SHA-256, auth_key: {env: NETMON_SNMP_AUTH_KEY},\n"
        "            priv_protocol: AES-128, priv_key: {env: NETMON_SNMP_PRIV_KEY}}\n"
        "  legacy-v2c: {version: 2c, community: {file: community.txt}}\n"
        "mqtt:\n"
        "  d522: {username: d522, password: {env: NETMON_MQTT_PASSWORD}}\n"
        "  collector: {username: collector, password: {env: NETMON_MQTT_PASSWORD}}\n",
        encoding="utf-8",
    )
    # a wrong shape around a literal secret: the error must name the field, not echo it
    (d / "credentials-broken.yaml").write_text(
        "snmp:\n"
        "  a: {version: 2c, community: sEcReT-literal-bare-11}\n"
        "  b: {version: 2c, community: {value: sEcReT-literal-both-22, env: X}}\n"
        "  c: {version: 3, user: u, auth_protocol: SHA, auth_key: {value: sEcReT-literal-noproto-33}, priv_key: {value: sEcReT-literal-noproto-44}}\n"
        "  d: {version: 9, community: {value: sEcReT-literal-version-55}}\n"
        "mqtt:\n"
        "  x: {username: u, password: sEcReT-literal-mqtt-66, colour: red}\n",
        encoding="utf-8",
    )
    (d / "agent-d522.yaml").write_text(
        "agent_id: d522\ninventory: inventory.yaml\ncredentials: credentials.yaml\n"
        "scope: {districts: ['522']}\n"
        "broker: {url: 'mqtts://127.0.0.1:8883', credential: d522}\n"
        "security: {allow_community: true, allow_weak_algorithms: false}\n",
        encoding="utf-8",
    )
    (d / "collector.yaml").write_text(
        "inventory: inventory.yaml\ncredentials: credentials.yaml\n"
        "broker: {url: 'mqtts://127.0.0.1:8883', credential: collector}\n"
        "http: {listen: '127.0.0.1:8080', token: {env: NETMON_HTTP_TOKEN}}\n"
        "influx: {url: 'http://127.0.0.1:8086', token: {env: NETMON_INFLUX_TOKEN}}\n",
        encoding="utf-8",
    )
    (d / "collector-broken.yaml").write_text(
        "inventory: inventory.yaml\n"
        "http: {listen: '127.0.0.1:8080', token: sEcReT-literal-token-88}\n"
        "broker: {url: 'mqtt://u:sEcReT-in-url-99@127.0.0.1', password: {value: x, file: y}}\n",
        encoding="utf-8",
    )
    return [
        d / n
        for n in (
            "credentials.yaml",
            "credentials-broken.yaml",
            "agent-d522.yaml",
            "collector.yaml",
            "collector-broken.yaml",
        )
    ]


def test_check_config_never_prints_a_secret(tmp_path: Path) -> None:
    files = write_configs(tmp_path)
    literals = re.findall(r"sEcReT-[a-z-]+-\d+", "".join(f.read_text() for f in files))
    literals.append("sEcReT-community-file-77")
    env = {**os.environ, **SECRETS}
    outputs = []
    for extra in ([], ["--security-report"], ["--no-secrets"]):
        run = subprocess.run(
            [sys.executable, "-m", "netmon", "check-config", *extra, *map(str, files)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            cwd=tmp_path,
        )
        outputs.append(run.stdout + run.stderr)
        assert run.returncode == 2  # the broken files are reported ...
        assert "credentials-broken.yaml:" in run.stderr
        assert "collector-broken.yaml:" in run.stderr
    text = "\n".join(outputs)
    assert "weak: " in text  # the report ran (legacy-v2c devices exist)
    # ... and no value, from the environment, a file or a literal, is ever shown
    assert leaked(text) == []
    assert leaked(text, literals) == []


def test_check_config_with_an_unset_secret_names_the_variable_only(tmp_path: Path) -> None:
    files = write_configs(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env["NETMON_SNMP_AUTH_KEY"] = SECRETS["NETMON_SNMP_AUTH_KEY"]
    run = subprocess.run(
        [sys.executable, "-m", "netmon", "check-config", str(files[3])],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert run.returncode == 2
    assert "NETMON_HTTP_TOKEN is not set" in run.stderr
    assert leaked(run.stdout + run.stderr) == []


# ---------------------------------------------------------------------------- logs of a run


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Every logger at DEBUG, JSON lines into a buffer; no secret registered for redaction."""
    forget_secrets()
    buf = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    setup_logging(LogSettings(level="DEBUG", format="json"), stream=buf)
    yield buf
    for h in list(root.handlers):
        if h not in saved[0]:
            root.removeHandler(h)
    root.setLevel(saved[1])


async def test_a_run_logs_no_secret_at_debug(debug_log: io.StringIO, snmpd: services.Service, tmp_path: Path) -> None:
    # SNMP: a good v3 authPriv profile, one with wrong keys, a v2c community
    v3_good = SnmpProfile(
        version="3",
        user=services.SNMP_V3_USER,
        auth_protocol=AuthProtocol.SHA,
        auth_key=SecretRef(value=services.SNMP_V3_AUTH),
        priv_protocol=PrivProtocol.AES128,
        priv_key=SecretRef(value=services.SNMP_V3_PRIV),
        port=snmpd.port,
    )
    # another user name: one snmpd has one engine id, and a USM user is keyed by (user, engine)
    v3_bad = v3_good.model_copy(
        update={
            "user": "netmon-x",
            "auth_key": SecretRef(env="NETMON_SNMP_AUTH_KEY"),
            "priv_key": SecretRef(env="NETMON_SNMP_PRIV_KEY"),
        }
    )
    v2c = SnmpProfile(version="2c", community=SecretRef(value="sEcReT-community-x1"), port=snmpd.port, timeout_s=0.3)
    profiles = {"good": v3_good, "bad": v3_bad, "v2c": v2c}
    devices = [
        Device(id=f"r-{name}", role=Role.CPE, address="127.0.0.1", snmp=name, probes=(Probe.SNMP,)) for name in profiles
    ]
    os.environ.update({k: SECRETS[k] for k in ("NETMON_SNMP_AUTH_KEY", "NETMON_SNMP_PRIV_KEY")})
    try:
        poller = Poller(devices, profiles, PollSettings(timeout_s=2.0, retries=0, icmp_mode="off"), MemorySink())
        samples = {s.device: s for s in await poller.poll_all_once()}
    finally:
        for k in ("NETMON_SNMP_AUTH_KEY", "NETMON_SNMP_PRIV_KEY"):
            os.environ.pop(k, None)
    assert samples["r-good"].ok
    assert not samples["r-bad"].ok
    assert not samples["r-v2c"].ok

    # MQTT: a broker with a password file; the publisher first with a wrong password
    pw_file = tmp_path / "passwd"
    pw_file.write_text(f"d522:{SECRETS['NETMON_MQTT_PASSWORD']}\n")
    await asyncio.to_thread(subprocess.run, [services.require("mosquitto_passwd"), "-U", str(pw_file)], check=True)
    port = services.free_port()
    broker = services.start_mosquitto(
        tmp_path / "mq", port, listener=f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {pw_file}\n"
    )
    outbox = Outbox(tmp_path / "outbox.sqlite", OutboxSettings(), "d522")
    try:
        outbox.append([wire.Sample(device="r-good", probe="snmp", ts=1_800_000_000.0, ok=True)])
        settings = BrokerSettings(url=f"mqtt://127.0.0.1:{port}", reconnect_min_s=0.05, reconnect_max_s=0.1)
        for password in ("sEcReT-wrong-mqtt-x2", SECRETS["NETMON_MQTT_PASSWORD"]):
            pub = Publisher(settings, "d522", outbox, OutboxSettings(), username="d522", password=Secret(password))
            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(pub.run(), name="publisher")
                if password.startswith("sEcReT-wrong"):
                    async with asyncio.timeout(10):
                        while pub.stats.connect_failures < 2:  # noqa: ASYNC110 - a counter, no event exists
                            await asyncio.sleep(0.02)
                else:
                    assert await pub.drain(10)
                pub.stop()
                task.cancel()
    finally:
        outbox.close()
        broker.stop()

    text = debug_log.getvalue()
    assert "refused" in text  # the wrong password was logged, with the broker's reason
    assert "connected to broker" in text
    assert len(text.splitlines()) >= 5
    assert (
        leaked(text, [services.SNMP_V3_AUTH, services.SNMP_V3_PRIV, "sEcReT-community-x1", "sEcReT-wrong-mqtt-x2"])
        == []
    )
    assert leaked(text) == []


# ---------------------------------------------------------------------------- web page and API

TOKEN = SECRETS["NETMON_HTTP_TOKEN"]


async def test_web_page_and_api_never_show_the_token_and_are_read_only() -> None:
    inv = inventory()
    app = build_app(engine_at(NOW), token=Secret(TOKEN))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        district = inv.districts[0]
        commune = district.communes[0]
        device = commune.devices[0].id
        paths = [
            "/",
            f"/district/{district.code}",
            f"/commune/{commune.code}",
            "/search?q=Tinh",
            "/api/v1/overview",
            f"/api/v1/districts/{district.code}",
            f"/api/v1/communes/{commune.code}",
            f"/api/v1/devices/{device}",
            "/api/v1/search?q=Tinh",
            "/api/v1/outages",
            "/api/v1/availability",
            "/api/v1/coverage",
            "/api/v1/openapi.json",
            "/api/v1/nope",
            "/district/nope",
        ]
        bodies = []
        for path in paths:
            ok = await client.get(path, headers=auth)
            bodies.append(f"{dict(ok.headers)} {await ok.text()}")
            assert ok.status < 500, path
            denied = await client.get(path)
            assert denied.status == 401, path
            bodies.append(f"{dict(denied.headers)} {await denied.text()}")
            wrong = await client.get(path, headers={"Authorization": f"Bearer {TOKEN[:-1]}"})
            assert wrong.status == 401, path
            bodies.append(await wrong.text())
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                write = await client.request(method, path.split("?")[0], headers=auth, data=b"{}")
                assert write.status in (401, 404, 405), (method, path, write.status)
        assert sum(TOKEN not in b for b in bodies) == len(bodies)
        assert leaked("\n".join(bodies)) == []
    finally:
        await client.close()


def test_web_listens_on_localhost_by_default() -> None:
    assert HttpSettings().listen.startswith("127.0.0.1:")
    assert HttpSettings().token is None
