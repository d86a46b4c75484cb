"""The deployment files: systemd units that systemd accepts and rates as hardened, an
example /etc/netmon layout that ``netmon check-config`` accepts, a sysctl drop-in for
capability-free ICMP, and a Containerfile whose every COPY source exists.

(The container cannot be built here, there is no container engine: it is checked
statically. The Mosquitto configuration is proven on a real broker in
``test_security_mqtt.py``.)
"""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import services

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "config" / "deploy"
UNITS = DEPLOY / "systemd"
NETMON_BIN = Path(sys.executable).parent / "netmon"
#: systemd's own judgement (`systemd-analyze security`): below 2.0 is "OK", 10 is "UNSAFE".
MAX_EXPOSURE = 2.0


def unit_copy(tmp_path: Path, name: str, instance: str | None = None, text: str | None = None) -> Path:
    """A unit in a temporary directory, its ExecStart pointed at this environment's netmon."""
    body = text if text is not None else (UNITS / name).read_text()
    body = body.replace("/usr/local/bin/netmon", str(NETMON_BIN))
    target = tmp_path / (name.replace("@.", f"@{instance}.") if instance else name)
    target.write_text(body)
    return target


def parse_unit(path: Path) -> dict[str, list[str]]:
    """``Section.Key -> [values]`` (systemd keys may repeat)."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out


def verify(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [services.require("systemd-analyze"), "verify", str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=path.parent,
    )


@pytest.mark.parametrize(("name", "instance"), [("netmon-agent@.service", "d522"), ("netmon-collector.service", None)])
def test_units_pass_systemd_analyze_verify(tmp_path: Path, name: str, instance: str | None) -> None:
    path = unit_copy(tmp_path, name, instance)
    run = verify(path)
    assert run.returncode == 0, run.stderr
    # systemd ignores a directive it cannot parse with a warning only: there must be none
    assert path.name not in run.stderr, run.stderr


def test_verify_would_catch_a_broken_unit(tmp_path: Path) -> None:
    # the control: a misspelt directive fails, so the test above can fail
    broken = (UNITS / "netmon-collector.service").read_text().replace("ProtectSystem=strict", "ProtectSystem=stric")
    path = unit_copy(tmp_path, "netmon-collector.service", text=broken)
    run = verify(path)
    assert f"{path.name}:" in run.stderr
    assert "stric" in run.stderr


@pytest.mark.parametrize(("name", "instance"), [("netmon-agent@.service", "d522"), ("netmon-collector.service", None)])
def test_units_are_hardened_by_systemds_own_measure(tmp_path: Path, name: str, instance: str | None) -> None:
    path = unit_copy(tmp_path, name, instance)
    run = subprocess.run(
        [services.require("systemd-analyze"), "security", "--offline=true", "--no-pager", str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", run.stdout + run.stderr)
    assert found, run.stdout + run.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, run.stdout


@pytest.mark.parametrize("name", ["netmon-agent@.service", "netmon-collector.service"])
def test_units_drop_every_privilege(name: str) -> None:
    unit = parse_unit(UNITS / name)
    assert unit["Service.DynamicUser"] == ["yes"]
    assert unit["Service.ProtectSystem"] == ["strict"]
    assert unit["Service.NoNewPrivileges"] == ["yes"]
    assert unit["Service.CapabilityBoundingSet"] == [""]
    assert unit["Service.AmbientCapabilities"] == [""]
    assert unit["Service.StateDirectory"]
    assert unit["Service.KillSignal"] == ["SIGTERM"]
    assert unit["Service.ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    argv = shlex.split(unit["Service.ExecStart"][0])
    assert argv[1] in ("agent", "collector")
    assert argv[2] == "--config"


def test_only_the_icmp_drop_in_grants_a_capability() -> None:
    dropin = parse_unit(UNITS / "netmon-agent@.service.d" / "icmp-raw.conf")
    assert dropin["Service.CapabilityBoundingSet"] == ["CAP_NET_RAW"]
    assert dropin["Service.AmbientCapabilities"] == ["CAP_NET_RAW"]
    assert len(dropin) == 2


def test_sysctl_drop_in_lets_dynamic_users_ping() -> None:
    conf = configparser.ConfigParser()
    conf.read_string("[s]\n" + (DEPLOY / "sysctl.d" / "60-netmon-ping.conf").read_text())
    low, high = map(int, conf["s"]["net.ipv4.ping_group_range"].split())
    # systemd allocates DynamicUser ids in 61184..65519
    assert low <= 61184
    assert high >= 65519
    assert high <= 2**31 - 1


def layout(tmp_path: Path) -> Path:
    """The example /etc/netmon, with the shipped inventory as its inventory.yaml."""
    etc = tmp_path / "etc-netmon"
    shutil.copytree(DEPLOY / "etc" / "netmon", etc)
    shutil.copy(ROOT / "config" / "quang-ngai-2021.yaml", etc / "inventory.yaml")
    return etc


def env_of(path: Path) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(pairs)


@pytest.mark.parametrize(
    ("settings", "envfile"),
    [("agent-d522.yaml", "agent-d522.env.example"), ("collector.yaml", "collector.env.example")],
)
def test_example_layout_passes_check_config_without_printing_secrets(
    tmp_path: Path, settings: str, envfile: str
) -> None:
    etc = layout(tmp_path)
    secrets = env_of(etc / envfile)
    run = subprocess.run(
        # the TLS files and the state directory exist on the deployed host only (systemd
        # makes them when it starts the unit; the process checks them then)
        [sys.executable, "-m", "netmon", "check-config", "--no-host-checks", "--security-report", str(etc / settings)],
        capture_output=True,
        text=True,
        env={**os.environ, **secrets},
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "ok (" in run.stdout
    assert "every device uses SNMPv3 with strong algorithms" in run.stdout
    assert [v for v in secrets.values() if v in run.stdout + run.stderr] == []


def test_example_agent_logs_in_as_its_own_id_and_writes_only_to_its_state_directory() -> None:
    etc = DEPLOY / "etc" / "netmon"
    agent = yaml.safe_load((etc / "agent-d522.yaml").read_text())
    creds = yaml.safe_load((etc / "credentials.yaml").read_text())
    # the broker's ACL (`pattern write netmon/v1/agents/%u/#`) needs user name == agent id
    assert creds["mqtt"][agent["broker"]["credential"]]["username"] == agent["agent_id"]
    unit = parse_unit(UNITS / "netmon-agent@.service")
    state = "/var/lib/" + unit["Service.StateDirectory"][0].replace("%i", agent["agent_id"])
    assert agent["outbox"]["path"].startswith(state + "/")
    assert agent["broker"]["tls"]["key_file"].startswith(f"/run/credentials/netmon-agent@{agent['agent_id']}.service/")
    assert agent["security"] == {"allow_community": False, "allow_weak_algorithms": False}
    collector = yaml.safe_load((etc / "collector.yaml").read_text())
    cunit = parse_unit(UNITS / "netmon-collector.service")
    assert collector["store"]["path"].startswith("/var/lib/" + cunit["Service.StateDirectory"][0] + "/")
    assert collector["http"]["listen"].startswith("127.0.0.1:")


def containerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Containerfile, continuation lines joined."""
    text = (DEPLOY / "Containerfile").read_text().replace("\\\n", " ")
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            instr, _, args = line.partition(" ")
            out.append((instr.upper(), args.strip()))
    return out


def test_containerfile_copies_only_what_exists_and_runs_unprivileged() -> None:
    steps = containerfile()
    froms = [a for i, a in steps if i == "FROM"]
    assert froms
    assert all(a.split()[0] == "python:3.11-slim" for a in froms)
    copies = [a.split() for i, a in steps if i == "COPY" and not a.startswith("--from")]
    assert copies
    for args in copies:
        for src in args[:-1]:
            assert (ROOT / src).exists(), f"COPY {src}: not in the build context (the repository root)"
    # every top-level package that pyproject installs is copied
    copied = {Path(src).parts[0] for args in copies for src in args[:-1]}
    assert {"config", "agent", "collector", "exporters", "netmon", "pyproject.toml", "README.md"} <= copied
    assert any(i == "RUN" and "pip install ." in a for i, a in steps)
    users = [a for i, a in steps if i == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("0", "root")
    assert steps[-2][0] == "ENTRYPOINT"
    assert '"netmon"' in steps[-2][1]
