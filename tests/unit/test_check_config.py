"""``check-config`` never says ok for settings the processes cannot start with.

Each bad value below passed ``check-config`` once and then crashed ``netmon collector`` or
``netmon agent`` at start-up (a ValueError on a listen address, a TLS file opened outside
any error handling, a naive datetime compared with an aware one, ...). Now check-config
names file, line and field, and the process refuses to start with the same line.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from netmon.agent import service as agent_service
from netmon.collectord import cli_main as collector_main
from netmon.config.check import check_file, inspect_file
from netmon.config.loader import load_agent_settings, load_collector_settings, load_credentials
from netmon.config.secrets import MAX_SECRET_BYTES, SecretRef
from tests.services_security import make_pki

INVENTORY = """\
province: {code: '51', name: Tỉnh Quảng Ngãi}
devices:
- {id: p51-core, role: core_router, address: 127.0.0.1, probes: [icmp]}
districts:
- code: '522'
  name: Thành phố Quảng Ngãi
  communes:
  - code: '21010'
    name: Phường Lê Hồng Phong
    devices:
    - {id: c21010-cpe1, role: cpe, address: 127.0.0.3, probes: [icmp], parent: p51-core}
"""

COLLECTOR = "inventory: inventory.yaml\n"  # the case's lines follow, from line 2
AGENT = "agent_id: a1\ninventory: inventory.yaml\n"  # from line 3
UNSET = "NETMON_TEST_SURELY_UNSET"

# (kind, lines added to the settings file, "file:line: field" expected, words of the message)
CASES = [
    ("collector", "http: {listen: nowhere}", "s.yaml:2: http.listen", "needs a port"),
    ("collector", "http: {listen: '127.0.0.1:99999'}", "s.yaml:2: http.listen", "out of range"),
    ("collector", "http: {listen: '::1:8080'}", "s.yaml:2: http.listen", "in brackets"),
    ("collector", "http: {listen: '192.0.2.1:8080'}", "s.yaml:2: http.listen", "cannot listen on 192.0.2.1"),
    ("collector", "broker: {url: 'mqtt://127.0.0.1:notaport'}", "s.yaml:2: broker.url", "not a valid URL"),
    ("collector", "broker: {url: 'mqtt://127.0.0.1:70000'}", "s.yaml:2: broker.url", "not a valid URL"),
    ("collector", "broker: {url: 'tcp://admin:hunter22@127.0.0.1'}", "s.yaml:2: broker.url", "must start with"),
    ("collector", "broker: {url: 'mqtt://admin:hunter22@127.0.0.1'}", "s.yaml:2: broker.url", "user or password"),
    ("collector", "broker: {topic_prefix: 'netmon/#'}", "s.yaml:2: broker.topic_prefix", "may not contain '#'"),
    ("collector", "broker: {reconnect_min_s: 30, reconnect_max_s: 5}", "s.yaml:2: broker", "larger than"),
    ("collector", "broker: {tls: {ca_file: missing.pem}}", "s.yaml:2: broker.tls.ca_file", "No such file"),
    ("collector", "broker: {tls: {ca_file: garbage.pem}}", "s.yaml:2: broker.tls.ca_file", "not a CA certificate"),
    ("collector", "broker: {tls: {ca_file: /dev/zero}}", "s.yaml:2: broker.tls.ca_file", "not a regular file"),
    ("collector", "share_group: a", "s.yaml:2: share_group", "removed"),
    ("collector", "collector_id: ''", "s.yaml:2: collector_id", "pattern"),
    ("collector", "influx: {url: nowhere}", "s.yaml:2: influx.url", "must start with http:// or https://"),
    ("collector", "influx: {url: 'http://127.0.0.1:0'}", "s.yaml:2: influx.url", "give a port"),
    ("collector", "store: {path: missing-dir/netmon.sqlite}", "s.yaml:2: store.path", "does not exist"),
    ("collector", "store: {path: pki}", "s.yaml:2: store.path", "not a regular file"),
    ("collector", f"http: {{token: {{env: {UNSET}}}}}", "s.yaml:2: http.token", f"{UNSET} is not set"),
    (
        "collector",
        "maintenance:\n- {device: p51-core, start: '2026-11-01T22:00:00+07:00', end: '2026-11-01T23:00:00'}",
        "s.yaml:3: maintenance[0]",
        "end needs a time zone",
    ),
    (
        "collector",
        "maintenance:\n- {device: p51-core, start: '2026-11-01T22:00:00+07:00', every: daily, duration_s: 60,"
        " until: '2027-01-01T00:00:00'}",
        "s.yaml:3: maintenance[0]",
        "until needs a time zone",
    ),
    (
        "collector",
        "maintenance:\n- {device: p51-kore, start: '2026-11-01T22:00:00+07:00', every: daily, duration_s: 60}",
        "s.yaml:3: maintenance[0].device",
        "not in the inventory: 'p51-kore'",
    ),
    ("agent", "metrics_listen: '127.0.0.1:notaport'", "s.yaml:3: metrics_listen", "not a number"),
    ("agent", "metrics_listen: ':9101'", "s.yaml:3: metrics_listen", "has no host"),
    (
        "agent",
        "broker: {url: 'mqtts://127.0.0.1:8883', tls: {cert_file: pki/client-a.crt, key_file: missing.key}}",
        "s.yaml:3: broker.tls.key_file",
        "No such file",
    ),
    (
        "agent",
        "broker: {url: 'mqtts://127.0.0.1:8883', tls: {cert_file: pki/client-a.crt, key_file: pki/client-b.key}}",
        "s.yaml:3: broker.tls.cert_file",
        "cannot load the client certificate and key",
    ),
    (
        "agent",
        "broker: {url: 'mqtts://127.0.0.1:8883', tls: {cert_file: pki/client-a.crt, key_file: pki/encrypted.key}}",
        "s.yaml:3: broker.tls.cert_file",
        "the key is encrypted",  # OpenSSL would ask for a passphrase on the terminal
    ),
    ("agent", "outbox: {path: pki}", "s.yaml:3: outbox.path", "not a regular file"),
    ("agent", "broker: {password: {file: /dev/zero}}", "s.yaml:3: broker.password", "not a regular file"),
]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "inventory.yaml").write_text(INVENTORY, encoding="utf-8")
    (tmp_path / "garbage.pem").write_text("not a certificate\n", encoding="utf-8")
    pki = make_pki(tmp_path / "pki", ("a", "b"))
    key = serialization.load_pem_private_key(pki.clients["a"][1].read_bytes(), None)
    (tmp_path / "pki" / "encrypted.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    monkeypatch.delenv(UNSET, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def start(kind: str, path: Path) -> int:
    """Run ``netmon collector|agent -c path`` in this process (it returns at once when refused)."""
    if kind == "collector":
        return collector_main(argparse.Namespace(config=str(path)))
    return agent_service.cli_main(argparse.Namespace(config=str(path), jsonl=None, once=False))


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("kind", "lines", "where", "words"), CASES, ids=[c[2] + ":" + c[3] for c in CASES])
def test_what_would_fail_at_start_up_is_a_problem_with_file_line_and_field(
    workdir: Path, capsys: pytest.CaptureFixture[str], kind: str, lines: str, *, where: str, words: str
) -> None:
    path = workdir / "s.yaml"
    path.write_text((COLLECTOR if kind == "collector" else AGENT) + lines + "\n", encoding="utf-8")
    found, problems = check_file("s.yaml")
    assert found == kind
    shown = [str(p) for p in problems]
    assert any(line.startswith(where) and words in line for line in shown), shown
    # the process refuses to start with the same line, and without a traceback
    assert start(kind, Path("s.yaml")) == 2
    err = capsys.readouterr().err
    assert any(line.startswith(where) and words in line for line in err.splitlines()), err
    assert "Traceback" not in err
    assert "hunter22" not in err + "\n".join(shown)


def test_valid_listen_forms_pass(workdir: Path) -> None:
    for listen in ("127.0.0.1:8080", "[::1]:8080", "localhost:8080", "0.0.0.0:8080"):
        (workdir / "s.yaml").write_text(f"{COLLECTOR}http: {{listen: '{listen}'}}\n", encoding="utf-8")
        assert check_file("s.yaml") == ("collector", []), listen


def test_host_checks_can_be_left_out_where_the_process_does_not_run(workdir: Path) -> None:
    (workdir / "s.yaml").write_text(
        f"{COLLECTOR}broker: {{tls: {{ca_file: /etc/netmon/ca.pem}}}}\nstore: {{path: /var/lib/nm/s.sqlite}}\n"
        "http: {listen: '192.0.2.1:8080'}\n",
        encoding="utf-8",
    )
    assert len(check_file("s.yaml")[1]) == 3
    assert check_file("s.yaml", host=False) == ("collector", [])


def test_a_process_started_with_another_kind_of_file_says_so(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (workdir / "s.yaml").write_text(AGENT, encoding="utf-8")
    assert start("collector", Path("s.yaml")) == 2
    assert "s.yaml:1: this is not collector settings but agent settings" in capsys.readouterr().err


# ----------------------------------------------------------------------------- secrets (issue 15, item 5)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: "/dev/zero", "a device, FIFO or socket"),
        (lambda d: (os.mkfifo(d / "fifo"), str(d / "fifo"))[1], "a device, FIFO or socket"),
        (str, "a directory"),
        (lambda d: str(d / "missing.txt"), "No such file or directory"),
        (lambda d: ((d / "big").write_bytes(b"x" * (MAX_SECRET_BYTES + 1)), str(d / "big"))[1], "larger than"),
        (lambda d: ((d / "blank").write_text(" \n"), str(d / "blank"))[1], "is empty"),
        (lambda d: ((d / "latin1").write_bytes(b"caf\xe9"), str(d / "latin1"))[1], "not UTF-8"),
    ],
    ids=["dev-zero", "fifo", "directory", "missing", "too-large", "empty", "not-utf8"],
)
def test_unreadable_secret_files_are_refused_at_once(tmp_path: Path, make: object, words: str) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(ValueError, match=words):
        SecretRef(file=path).resolve()


def test_a_secret_file_behind_a_symlink_is_read(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("s3cret-value\n", encoding="utf-8")
    (tmp_path / "link").symlink_to(tmp_path / "real")  # how Kubernetes and systemd credentials look
    assert SecretRef(file=str(tmp_path / "link")).resolve().reveal() == "s3cret-value"
    big = "x" * MAX_SECRET_BYTES
    (tmp_path / "max").write_text(big, encoding="utf-8")
    assert SecretRef(file=str(tmp_path / "max")).resolve().reveal() == big


def test_an_empty_environment_variable_is_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(UNSET, "")
    with pytest.raises(ValueError, match="is empty"):
        SecretRef(env=UNSET).resolve()


def test_missing_secrets_are_reported_with_every_other_error_at_once(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / "credentials.yaml").write_text(
        "snmp:\n"
        "  v2: {version: 2c, community: {file: community.txt}}\n"  # line 2: missing file
        "  v3: {version: 3}\n"  # line 3: invalid profile
        "mqtt:\n"
        f"  collector: {{username: c, password: {{env: {UNSET}_MQTT}}}}\n",  # line 5: unset
        encoding="utf-8",
    )
    (workdir / "s.yaml").write_text(
        "inventory: inventory.yaml\n"
        "credentials: credentials.yaml\n"
        "colour: red\n"  # line 3: unknown field
        f"broker: {{credential: collector, password: {{env: {UNSET}}}}}\n"  # line 4: unset
        "influx: {url: 'http://127.0.0.1:8086', token: {file: influx-token.txt}}\n",  # line 5: missing file
        encoding="utf-8",
    )
    shown = [str(p) for p in check_file("s.yaml")[1]]
    expected = [
        "s.yaml:3: colour: unknown field",
        f"s.yaml:4: broker.password: environment variable {UNSET} is not set",
        "s.yaml:5: influx.token: cannot read secret file influx-token.txt: No such file or directory",
        "credentials.yaml:3: snmp.v3: SNMPv3 needs a user",
        "credentials.yaml:2: snmp.v2.community: cannot read secret file community.txt: No such file or directory",
        f"credentials.yaml:5: mqtt.collector.password: environment variable {UNSET}_MQTT is not set",
    ]
    for want in expected:
        assert any(want in line for line in shown), (want, shown)


# ----------------------------------------------------------------------------- paths (issue 15, item 6)


def test_every_relative_path_is_relative_to_the_file_that_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    etc = tmp_path / "etc"
    for d in ("inv", "creds", "data", "secrets"):
        (etc / d).mkdir(parents=True)
    pki = make_pki(etc / "pki", ("collector",))
    (etc / "inv" / "inventory.yaml").write_text(INVENTORY.replace("probes: [icmp]", "snmp: v2"), encoding="utf-8")
    (etc / "creds" / "credentials.yaml").write_text(
        "snmp:\n  v2: {version: 2c, community: {file: community.txt}}\n"
        "mqtt:\n  collector: {username: c, password: {file: mqtt.txt}}\n",
        encoding="utf-8",
    )
    secrets = {
        etc / "creds" / "community.txt": "community-beside-the-credentials",
        etc / "creds" / "mqtt.txt": "mqtt-beside-the-credentials",
        etc / "secrets" / "token.txt": "token-beside-the-settings",
        etc / "secrets" / "influx.txt": "influx-beside-the-settings",
        etc / "secrets" / "agent-mqtt.txt": "agent-mqtt-beside-the-settings",
    }
    for path, value in secrets.items():
        path.write_text(value + "\n", encoding="utf-8")
    tls = "tls: {ca_file: pki/ca.crt, cert_file: pki/client-collector.crt, key_file: pki/client-collector.key}"
    (etc / "collector.yaml").write_text(
        "inventory: inv/inventory.yaml\ncredentials: creds/credentials.yaml\n"
        f"broker: {{url: 'mqtts://127.0.0.1:8883', credential: collector, {tls}}}\n"
        "store: {path: data/netmon.sqlite}\n"
        "http: {token: {file: secrets/token.txt}}\n"
        "influx: {url: 'http://127.0.0.1:8428', token: {file: secrets/influx.txt}}\n",
        encoding="utf-8",
    )
    (etc / "agent.yaml").write_text(
        "agent_id: a1\ninventory: inv/inventory.yaml\ncredentials: creds/credentials.yaml\n"
        f"broker: {{url: 'mqtts://127.0.0.1:8883', username: a1, password: {{file: secrets/agent-mqtt.txt}}, {tls}}}\n"
        "outbox: {path: data/outbox.sqlite}\n",
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # nothing may resolve against the working directory

    c = load_collector_settings(etc / "collector.yaml")
    a = load_agent_settings(etc / "agent.yaml")
    creds = load_credentials(c.credentials or "")
    assert c.broker.tls is not None
    assert a.broker.tls is not None
    assert c.influx is not None
    paths = {
        "inventory": (c.inventory, etc / "inv" / "inventory.yaml"),
        "credentials": (c.credentials, etc / "creds" / "credentials.yaml"),
        "store": (c.store.path, etc / "data" / "netmon.sqlite"),
        "outbox": (a.outbox.path, etc / "data" / "outbox.sqlite"),
        "ca_file": (c.broker.tls.ca_file, pki.ca),
        "cert_file": (a.broker.tls.cert_file, pki.clients["collector"][0]),
        "key_file": (a.broker.tls.key_file, pki.clients["collector"][1]),
    }
    for name, (got, want) in paths.items():
        assert got == str(want), name
    resolved = {
        "http.token": (c.http.token, "token-beside-the-settings"),
        "influx.token": (c.influx.token, "influx-beside-the-settings"),
        "agent broker.password": (a.broker.password, "agent-mqtt-beside-the-settings"),
        "credentials community": (creds.snmp["v2"].community, "community-beside-the-credentials"),
        "credentials mqtt": (creds.mqtt["collector"].password, "mqtt-beside-the-credentials"),
    }
    for name, (ref, value) in resolved.items():
        assert ref is not None
        assert ref.resolve().reveal() == value, name
    # check-config finds every file where the processes will
    assert check_file(etc / "collector.yaml") == ("collector", [])
    assert check_file(etc / "agent.yaml") == ("agent", [])
    checked = inspect_file(etc / "collector.yaml")
    assert checked.settings == c
    assert checked.credentials == creds
