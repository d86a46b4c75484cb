"""Hostile configuration files: the loader raises ConfigError and nothing else, quickly.

Arbitrary bytes, arbitrary YAML documents, mutated valid files, and the classic YAML
attacks (alias bomb, recursive anchor, deep nesting, unhashable keys, tags).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netmon.check_cmd import cli_main as check_config_main
from netmon.config.check import check_file
from netmon.config.errors import ConfigError
from netmon.config.loader import load_agent_settings, load_collector_settings, load_credentials, load_inventory

LOADERS: list[Callable[[Path], Any]] = [load_inventory, load_credentials, load_agent_settings, load_collector_settings]

VALID_AGENT = """\
agent_id: d522
inventory: inventory.yaml
credentials: credentials.yaml
scope: {districts: ['522']}
broker: {url: 'mqtts://127.0.0.1:8883', protocol: '5', tls: {insecure_skip_verify: true}}
poll: {interval_s: 60, timeout_s: 2, retries: 1, concurrency: 64}
outbox: {path: outbox.sqlite, max_bytes: 1048576, max_age_s: 3600}
security: {allow_community: true, allow_weak_algorithms: false}
log: {level: INFO, format: json}
"""

VALID_INVENTORY = """\
edition: '2021'
province: {code: '51', name: Tỉnh Quảng Ngãi}
devices:
- {id: p51-core, role: core_router, address: 127.0.0.1, snmp: default}
districts:
- code: '522'
  name: Thành phố Quảng Ngãi
  devices:
  - {id: d522-r1, role: district_router, address: 127.0.0.2, snmp: default, parent: p51-core}
  communes:
  - code: '21010'
    name: Phường Lê Hồng Phong
    devices:
    - {id: c21010-cpe1, role: cpe, address: 127.0.0.3, snmp: legacy, parent: d522-r1}
"""

VALID_COLLECTOR = """\
collector_id: collector-1
inventory: inventory.yaml
credentials: credentials.yaml
broker: {url: 'mqtt://127.0.0.1:1883', credential: collector}
http: {listen: '127.0.0.1:8080', token: {file: token.txt}}
influx: {url: 'http://127.0.0.1:8428', token: {value: influx-token}}
maintenance:
- {device: d522-r1, start: '2026-11-01T22:00:00+07:00', every: weekly, duration_s: 3600}
store: {path: netmon.sqlite}
"""

VALID_CREDENTIALS = """\
snmp:
  default: {version: 3, user: netmon, auth_protocol: SHA-256, auth_key: {value: auth-key-1},
            priv_protocol: AES-128, priv_key: {file: priv.txt}}
  legacy: {version: 2c, community: {file: token.txt}}
mqtt:
  collector: {username: collector, password: {value: mqtt-password-1}}
"""

#: Secret references that once hung or crashed a check: devices, FIFOs, directories, empty names.
HOSTILE_REFS = st.sampled_from(
    [
        {"file": "/dev/zero"},
        {"file": "/dev/stdin"},
        {"file": "."},
        {"file": ""},
        {"file": "fifo"},
        {"env": ""},
        {"env": "HOME"},
        {"value": ""},
        {"file": "token.txt", "env": "X"},
    ]
)

ATTACKS = {
    "alias-bomb": "a: &a [x,x,x,x,x,x,x,x,x]\n"
    + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)),
    "recursive-anchor": "a: &a [*a]\n",
    "recursive-mapping": "a: &a {b: *a}\n",
    "deep-nesting": "[" * 5000 + "]" * 5000,
    "unhashable-key": "? [a, b]\n: 1\n",
    "python-tag": "!!python/object/apply:os.system ['echo pwned']\n",
    "unknown-tag": "agent_id: !custom d522\n",
    "binary": "agent_id: !!binary aGVsbG8=\n",
    "huge-int": "agent_id: d522\ninventory: x\npoll: {interval_s: " + "9" * 5000 + "}\n",
    "nul-bytes": "agent_id: d\x00522\n",
    "bom-and-crlf": "\ufeffagent_id: d522\r\ninventory: x\r\n",
    "merge-key-bomb": "a: &a {x: 1}\nb: {<<: [*a, *a, *a, *a]}\n",
    "timestamp": "agent_id: 2026-01-01\ninventory: 2026-01-01T00:00:00Z\n",
    "multi-doc": "agent_id: d522\n---\nagent_id: d523\n",
    "not-utf8": "agent_id: caf\xe9\n",
}


def assert_only_config_errors(path: Path) -> None:
    for load in LOADERS:
        started = time.monotonic()
        try:
            load(path)
        except ConfigError as exc:
            assert exc.problems, "a ConfigError carries its problems"
            assert all(p.file == str(path) or p.file.endswith((".yaml", ".pem")) for p in exc.problems)
        assert time.monotonic() - started < 10, f"{load.__name__} took too long"
    for resolve_secrets in (False, True):
        started = time.monotonic()
        check_file(path, resolve_secrets=resolve_secrets)
        assert time.monotonic() - started < 10


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_yaml_attacks_give_config_errors(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.yaml"
    text = ATTACKS[name]
    path.write_bytes(text.encode("latin-1") if name == "not-utf8" else text.encode("utf-8"))
    assert_only_config_errors(path)


def test_python_tag_never_runs_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f"!!python/object/apply:pathlib.Path.touch [!!python/object/apply:pathlib.Path ['{marker}']]\n")
    with pytest.raises(ConfigError):
        load_agent_settings(path)
    assert not marker.exists()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    assert_only_config_errors(path)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | HOSTILE_REFS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=json_values)
def test_arbitrary_yaml_documents(tmp_path: Path, doc: Any) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert_only_config_errors(path)


def _mutate(base: str, data: st.DataObject) -> str:
    """Replace one value of a valid file by an arbitrary one, or delete/duplicate a line."""
    doc = yaml.safe_load(base)
    path: list[Any] = []
    node = doc
    while isinstance(node, dict | list) and node and data.draw(st.booleans(), label="deeper"):
        key = data.draw(st.sampled_from(list(node) if isinstance(node, dict) else list(range(len(node)))))
        path.append(key)
        node = node[key]
    replacement = data.draw(json_values, label="replacement")
    if not path:
        return yaml.safe_dump(replacement, allow_unicode=True)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = replacement
    return yaml.safe_dump(doc, allow_unicode=True)


def _companions(directory: Path) -> None:
    """The files the valid settings name: inventory, credentials, secrets, a FIFO."""
    (directory / "inventory.yaml").write_text(VALID_INVENTORY, encoding="utf-8")
    (directory / "credentials.yaml").write_text(VALID_CREDENTIALS, encoding="utf-8")
    (directory / "token.txt").write_text("http-token-1\n", encoding="utf-8")
    (directory / "priv.txt").write_text("priv-key-1\n", encoding="utf-8")
    if not (directory / "fifo").exists():
        os.mkfifo(directory / "fifo")


BASES = [VALID_AGENT, VALID_INVENTORY, VALID_COLLECTOR, VALID_CREDENTIALS]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), base=st.sampled_from(BASES))
def test_mutated_valid_files(tmp_path: Path, data: st.DataObject, base: str) -> None:
    _companions(tmp_path)
    path = tmp_path / "fuzz.yaml"
    path.write_text(_mutate(base, data), encoding="utf-8")
    assert_only_config_errors(path)


def run_check_config(*files: Path) -> tuple[int, str]:
    """``netmon check-config --security-report FILES`` in this process: exit code and output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = check_config_main(
            argparse.Namespace(
                files=[str(f) for f in files], no_secrets=False, no_host_checks=False, security_report=True
            )
        )
    return code, out.getvalue()


def test_the_fuzzed_files_are_valid_before_mutation(tmp_path: Path) -> None:
    _companions(tmp_path)
    (tmp_path / "collector.yaml").write_text(VALID_COLLECTOR, encoding="utf-8")
    (tmp_path / "agent.yaml").write_text(VALID_AGENT, encoding="utf-8")
    code, output = run_check_config(tmp_path / "collector.yaml", tmp_path / "agent.yaml")
    assert code == 0, output
    assert "weak: c21010-cpe1 (127.0.0.3) profile legacy: SNMP v2c" in output
    assert "every device uses SNMPv3" not in output


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), base=st.sampled_from(BASES), companion=st.sampled_from(["credentials.yaml", "inventory.yaml"]))
def test_check_config_with_a_security_report_never_tracebacks(
    tmp_path: Path, data: st.DataObject, base: str, companion: str
) -> None:
    """Mutate a settings file, or a file it names; check-config reports, never raises, and
    gives no security verdict unless every file is valid."""
    _companions(tmp_path)
    settings_file = tmp_path / ("fuzz.yaml" if base in (VALID_AGENT, VALID_COLLECTOR) else "collector.yaml")
    if base in (VALID_AGENT, VALID_COLLECTOR):
        settings_file.write_text(_mutate(base, data), encoding="utf-8")
    else:
        settings_file.write_text(VALID_COLLECTOR, encoding="utf-8")
        (tmp_path / companion).write_text(_mutate(base, data), encoding="utf-8")
    started = time.monotonic()
    code, output = run_check_config(settings_file)
    assert time.monotonic() - started < 10
    assert code in (0, 2), output
    if code == 2:
        assert "every device uses SNMPv3" not in output
