"""The SNMP security policy as ``netmon check-config`` applies it, before deployment.

An agent whose ``security`` forbids community strings or weak algorithms, but whose scope
holds devices on such profiles, is a configuration error naming each device and profile
(the poller refuses it at run time too). ``--security-report`` lists every weak device.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from netmon.check_cmd import MAX_POLICY_DEVICES, cli_main, policy_problems
from netmon.config.check import inspect_file

INVENTORY = """\
edition: '2021'
province: {code: '51', name: Tỉnh Quảng Ngãi}
devices:
- {id: p51-core, role: core_router, address: 127.0.0.1, snmp: strong}
districts:
- code: '522'
  name: Thành phố Quảng Ngãi
  devices:
  - {id: d522-r1, role: district_router, address: 127.0.0.2, snmp: legacy, parent: p51-core}
  communes:
  - code: '21010'
    name: Phường Lê Hồng Phong
    devices:
    - {id: c21010-cpe1, role: cpe, address: 127.0.0.3, snmp: md5des, parent: d522-r1}
    - {id: c21010-cpe2, role: cpe, address: 127.0.0.4, snmp: strong, parent: d522-r1}
- code: '523'
  name: Huyện Bình Sơn
  devices:
  - {id: d523-r1, role: district_router, address: 127.0.0.5, snmp: legacy, parent: p51-core}
"""

CREDENTIALS = """\
snmp:
  strong: {version: 3, user: netmon, auth_protocol: SHA-256, auth_key: {value: auth-key-strong-1},
           priv_protocol: AES-128, priv_key: {value: priv-key-strong-1}}
  legacy: {version: 2c, community: {value: community-legacy-1}}
  md5des: {version: 3, user: old, auth_protocol: MD5, auth_key: {value: auth-key-md5-1},
           priv_protocol: DES, priv_key: {value: priv-key-des-1}}
"""


def write_agent(tmp_path: Path, security: str, scope: str = "districts: ['522']", inventory: str = INVENTORY) -> Path:
    """An agent settings file with its inventory and credentials next to it."""
    (tmp_path / "inventory.yaml").write_text(inventory, encoding="utf-8")
    (tmp_path / "credentials.yaml").write_text(CREDENTIALS, encoding="utf-8")
    path = tmp_path / "agent-d522.yaml"
    path.write_text(
        "agent_id: d522\n"
        "inventory: inventory.yaml\n"
        "credentials: credentials.yaml\n"
        f"scope: {{{scope}}}\n"
        f"security: {security}\n",
        encoding="utf-8",
    )
    return path


def run_check(path: Path, *, report: bool = False) -> int:
    return cli_main(argparse.Namespace(files=[str(path)], no_secrets=False, no_host_checks=False, security_report=report))


def test_permissive_policy_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_agent(tmp_path, "{allow_community: true, allow_weak_algorithms: true}")
    assert run_check(path) == 0
    assert "ok (agent)" in capsys.readouterr().out


def test_refusing_communities_names_the_v2c_device_and_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_agent(tmp_path, "{allow_community: false}")
    assert run_check(path) == 2
    err = capsys.readouterr().err
    assert "agent-d522.yaml:5: security: device 'd522-r1' (127.0.0.2) uses SNMP profile 'legacy'" in err
    assert "allow_community" in err
    assert "c21010-cpe1" not in err  # v3, and weak algorithms are still allowed
    assert "d523-r1" not in err  # another agent's district
    assert "1 problem found" in err


def test_refusing_weak_algorithms_names_md5_and_des(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_agent(tmp_path, "{allow_weak_algorithms: false}")
    assert run_check(path) == 2
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "c21010-cpe1" in x)
    assert "'md5des'" in line
    assert "MD5" in line
    assert "DES" in line
    assert "d522-r1" not in err  # a community profile is allow_community's business
    assert "c21010-cpe2" not in err


def test_scope_by_device_limits_the_check(tmp_path: Path) -> None:
    path = write_agent(
        tmp_path, "{allow_community: false, allow_weak_algorithms: false}", scope="devices: ['c21010-cpe2']"
    )
    assert policy_problems(str(path), inspect_file(path)) == []


def test_many_refused_devices_are_summarised(tmp_path: Path) -> None:
    extra = "".join(
        f"    - {{id: c21010-x{i}, role: cpe, address: 127.0.1.{i}, snmp: legacy, parent: d522-r1}}\n"
        for i in range(MAX_POLICY_DEVICES + 5)
    )
    inventory = INVENTORY.replace("- code: '523'", extra.rstrip("\n") + "\n- code: '523'", 1)
    path = write_agent(tmp_path, "{allow_community: false}", inventory=inventory)
    problems = policy_problems(str(path), inspect_file(path))
    assert len(problems) == MAX_POLICY_DEVICES + 1
    assert "and 6 more devices" in problems[-1].message


def test_security_report_lists_weak_devices_without_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_agent(tmp_path, "{}")
    assert run_check(path, report=True) == 0
    out = capsys.readouterr()
    weak = [x for x in out.out.splitlines() if x.startswith("weak: ")]
    assert {x.split()[1] for x in weak} == {"d522-r1", "c21010-cpe1", "d523-r1"}
    for secret in ("auth-key-strong-1", "priv-key-strong-1", "community-legacy-1", "auth-key-md5-1", "priv-key-des-1"):
        assert secret not in out.out + out.err


STRONG_ONLY = INVENTORY.replace("snmp: legacy", "snmp: strong").replace("snmp: md5des", "snmp: strong")
VERDICT = "every device uses SNMPv3 with strong algorithms"


def test_the_verdict_is_given_only_for_valid_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_agent(tmp_path, "{}", inventory=STRONG_ONLY)
    assert run_check(path, report=True) == 0
    assert VERDICT in capsys.readouterr().out
    # the same files with one error: no verdict, however strong the devices look
    path.write_text(path.read_text(encoding="utf-8") + "colour: red\n", encoding="utf-8")
    assert run_check(path, report=True) == 2
    out = capsys.readouterr()
    assert VERDICT not in out.out + out.err
    assert "no verdict" in out.err


@pytest.mark.parametrize(
    ("agent", "problem"),
    [
        ("agent_id: d522\ncredentials: credentials.yaml\n", "agent-d522.yaml:1: inventory: required field is missing"),
        ("agent_id: d522\ninventory: inventory.yaml\ncredentials: [a, b]\n", "agent-d522.yaml:3: credentials:"),
        ("agent_id: d522\ninventory: [inventory.yaml]\ncredentials: credentials.yaml\n", "agent-d522.yaml:2: inventory:"),
        ("agent_id: d522\ninventory: inventory.yaml\ncredentials: missing.yaml\n", "missing.yaml: cannot read"),
        ("agent_id: d522\ninventory: inventory.yaml\ncredentials: {file: x}\n", "agent-d522.yaml:3: credentials:"),
    ],
)
def test_the_security_report_never_tracebacks_and_gives_no_verdict_on_invalid_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], agent: str, problem: str
) -> None:
    path = write_agent(tmp_path, "{}", inventory=STRONG_ONLY)
    path.write_text(agent, encoding="utf-8")
    assert run_check(path, report=True) == 2
    out = capsys.readouterr()
    assert problem in out.err
    assert VERDICT not in out.out + out.err


def test_no_verdict_without_settings_to_assess(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_agent(tmp_path, "{}", inventory=STRONG_ONLY)
    assert run_check(tmp_path / "inventory.yaml", report=True) == 0
    out = capsys.readouterr().out
    assert VERDICT not in out
    assert "no verdict: no agent or collector settings" in out


def write_collector(tmp_path: Path, agents: str | None) -> Path:
    """A collector settings file, with ``agents:`` when given, next to the inventory."""
    (tmp_path / "inventory.yaml").write_text(INVENTORY, encoding="utf-8")
    (tmp_path / "credentials.yaml").write_text(CREDENTIALS, encoding="utf-8")
    path = tmp_path / "collector.yaml"
    path.write_text(
        "inventory: inventory.yaml\ncredentials: credentials.yaml\n" + (f"agents:\n{agents}" if agents else ""),
        encoding="utf-8",
    )
    return path


def test_without_an_agents_map_the_report_says_any_agent_may_speak_for_any_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_check(write_collector(tmp_path, None), report=True) == 0
    assert "any agent may speak for any device" in capsys.readouterr().out


def test_the_report_names_devices_no_agent_may_speak_for_and_agents_with_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_collector(tmp_path, "  d522: {districts: ['522']}\n  spare: {}\n")
    assert run_check(path, report=True) == 0
    out = capsys.readouterr().out
    assert "any agent may speak" not in out
    assert "spare may speak for every device" in out
    path = write_collector(tmp_path, "  d522: {districts: ['522']}\n")
    assert run_check(path, report=True) == 0
    out = capsys.readouterr().out
    assert "2 devices in no agent's scope" in out
    assert "p51-core, d523-r1" in out
    path = write_collector(
        tmp_path, "  d522: {districts: ['522'], devices: [p51-core]}\n  d523: {districts: ['523']}\n"
    )
    assert run_check(path, report=True) == 0
    assert "2 agents declared, every device bound" in capsys.readouterr().out


def test_an_agents_map_naming_what_the_inventory_lacks_is_an_error_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_collector(tmp_path, "  d522: {districts: ['522']}\n  d599:\n    districts: ['599']\n")
    assert run_check(path) == 2
    err = capsys.readouterr().err
    assert "collector.yaml:6: agents.d599.districts[0]: not in the inventory: '599'" in err
