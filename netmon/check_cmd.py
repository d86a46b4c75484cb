"""``netmon check-config``."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from netmon.config import agents_map
from netmon.config.check import CheckedFile, SecretScope, inspect_file
from netmon.config.credentials import Credentials
from netmon.config.errors import Problem
from netmon.config.inventory import Device, Inventory, InventoryIndex
from netmon.config.loader import read_yaml
from netmon.config.settings import AgentSettings, CollectorSettings

#: Policy errors listed one device each, up to this many per agent file, then counted.
MAX_POLICY_DEVICES = 20


def in_scope(settings: AgentSettings, index: InventoryIndex) -> list[Device]:
    """The devices an agent polls: its scope's districts, communes and devices (empty: all)."""
    return settings.scope.select(index)


def _assessable(checked: CheckedFile) -> tuple[AgentSettings | CollectorSettings, Credentials, Inventory] | None:
    """The loaded settings, credentials and inventory of a settings file, if all are valid."""
    if checked.settings is None or checked.credentials is None or checked.inventory is None:
        return None
    return checked.settings, checked.credentials, checked.inventory


def policy_problems(path: str, checked: CheckedFile) -> list[Problem]:
    """Devices an agent would poll with a profile its ``security`` policy refuses.

    The agent refuses to start with such a device (its poller enforces the same
    :func:`agent.poller.policy_violations`); ``check-config`` says so before deployment,
    naming each device and its profile. Files that are not valid agent settings give no
    problems here (:func:`config.check.inspect_file` reports them).
    """
    from netmon.agent.poller import policy_violations

    loaded = _assessable(checked)
    if loaded is None:
        return []
    settings, creds, inv = loaded
    if not isinstance(settings, AgentSettings):
        return []
    policy = settings.security
    if policy.allow_community and policy.allow_weak_algorithms:
        return []
    line = read_yaml(path)[0].line_of(("security",))
    found: list[Problem] = []
    refused = 0
    for dev in in_scope(settings, inv.index):
        if dev.snmp is None or dev.snmp not in creds.snmp:
            continue
        why = policy_violations(creds.snmp[dev.snmp], policy)
        if not why:
            continue
        refused += 1
        if refused <= MAX_POLICY_DEVICES:
            message = f"device {dev.id!r} ({dev.address}) uses SNMP profile {dev.snmp!r}, refused: {'; '.join(why)}"
            found.append(Problem(str(path), line, "security", message))
    if refused > MAX_POLICY_DEVICES:
        found.append(
            Problem(
                str(path),
                line,
                "security",
                f"and {refused - MAX_POLICY_DEVICES} more devices refused by this policy "
                "(netmon check-config --security-report lists them all)",
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class SecurityReport:
    """Devices on weak SNMP settings, from the settings files that could be assessed.

    Attributes:
        weak: One line per device and weakness.
        assessed: Settings files whose settings, credentials and inventory all loaded.
    """

    weak: list[str]
    assessed: int


def security_report(checked: list[CheckedFile]) -> SecurityReport:
    """Devices whose SNMP profile uses v1/v2c or weak algorithms, one line each.

    Every device of the inventory a settings file names (an agent's scope aside: the report
    is the province's). Files that are not valid settings, or that name invalid files, are
    not assessed.
    """
    lines: list[str] = []
    assessed = 0
    for one in checked:
        loaded = _assessable(one)
        if loaded is None:
            continue
        _, creds, inv = loaded
        assessed += 1
        for dev in inv.index.devices.values():
            profile = creds.snmp.get(dev.snmp) if dev.snmp is not None else None
            if profile is None:
                continue
            lines += [f"{dev.id} ({dev.address}) profile {dev.snmp}: {weakness}" for weakness in profile.weaknesses()]
    return SecurityReport(list(dict.fromkeys(lines)), assessed)


def cli_main(args: argparse.Namespace) -> int:
    """Check every file; print problems as ``file:line: field: message``; exit 2 on any.

    With ``--security-report``, list the devices on weak SNMP settings; the verdict that
    every device is on strong settings is given only when every file is valid and at
    least one settings file names credentials and an inventory.
    """
    total = 0
    seen: set[Problem] = set()
    checked: list[CheckedFile] = []
    for path in args.files:
        one = inspect_file(
            path,
            secrets=SecretScope.NONE if args.no_secrets else SecretScope.ALL,
            host=not args.no_host_checks,
        )
        checked.append(one)
        found = one.problems + policy_problems(path, one)
        problems = [p for p in found if p not in seen]
        seen.update(problems)
        for p in problems:
            print(p, file=sys.stderr)
        total += len(problems)
        if not found:
            print(f"{path}: ok ({one.kind})")
    if args.security_report:
        report = security_report(checked)
        for line in report.weak:
            print(f"weak: {line}")
        if total:
            print("security: no verdict while the files have problems", file=sys.stderr)
        elif not report.assessed:
            print("security: no verdict: no agent or collector settings with credentials and an inventory given")
        elif not report.weak:
            print("security: every device uses SNMPv3 with strong algorithms")
        for line in agents_map.report_files({path: one.kind for path, one in zip(args.files, checked, strict=True)}):
            print(f"security: {line}")
    if total:
        print(f"{total} problem{'s' if total != 1 else ''} found", file=sys.stderr)
        return 2
    return 0
