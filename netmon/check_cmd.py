"""``netmon check-config``."""

from __future__ import annotations

import argparse
import sys

from netmon.config import agents_map
from netmon.config.check import check_file, detect_kind
from netmon.config.credentials import Credentials
from netmon.config.errors import ConfigError, Problem
from netmon.config.inventory import Device, InventoryIndex
from netmon.config.loader import load_agent_settings, load_credentials, load_inventory, read_yaml, resolve_path
from netmon.config.settings import AgentSettings

#: Policy errors listed one device each, up to this many per agent file, then counted.
MAX_POLICY_DEVICES = 20


def in_scope(settings: AgentSettings, index: InventoryIndex) -> list[Device]:
    """The devices an agent polls: its scope's districts, communes and devices (empty: all)."""
    return settings.scope.select(index)


def policy_problems(path: str) -> list[Problem]:
    """Devices an agent would poll with a profile its ``security`` policy refuses.

    The agent refuses to start with such a device (engineer A's poller enforces the same
    :func:`agent.poller.policy_violations`); ``check-config`` says so before deployment,
    naming each device and its profile. Files that are not valid agent settings give no
    problems here (:func:`config.check.check_file` reports them).
    """
    from netmon.agent.poller import policy_violations

    doc, _ = read_yaml(path)
    if detect_kind(doc.data) != "agent":
        return []
    try:
        settings = load_agent_settings(path)
        if settings.credentials is None:
            return []
        creds = load_credentials(settings.credentials)
        inv = load_inventory(settings.inventory, creds)
    except ConfigError:
        return []
    policy = settings.security
    if policy.allow_community and policy.allow_weak_algorithms:
        return []
    line = doc.line_of(("security",))
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


def security_report(files: list[str]) -> list[str]:
    """Devices whose SNMP profile uses v1/v2c or weak algorithms, one line each."""
    lines: list[str] = []
    for path in files:
        doc, _ = read_yaml(path)
        if detect_kind(doc.data) not in ("agent", "collector") or not isinstance(doc.data, dict):
            continue
        creds_path = doc.data.get("credentials")
        if not creds_path:
            continue
        try:
            creds: Credentials = load_credentials(resolve_path(creds_path, path))
            inv = load_inventory(resolve_path(doc.data["inventory"], path), creds)
        except ConfigError:
            continue
        for dev in inv.index.devices.values():
            if dev.snmp is None:
                continue
            for weakness in creds.snmp[dev.snmp].weaknesses():
                lines.append(f"{dev.id} ({dev.address}) profile {dev.snmp}: {weakness}")
    return lines


def cli_main(args: argparse.Namespace) -> int:
    """Check every file; print problems as ``file:line: field: message``; exit 2 on any."""
    total = 0
    seen: set[Problem] = set()
    for path in args.files:
        kind, found = check_file(path, resolve_secrets=not args.no_secrets)
        if kind == "agent":
            found += policy_problems(path)
        problems = [p for p in found if p not in seen]
        seen.update(problems)
        for p in problems:
            print(p, file=sys.stderr)
        total += len(problems)
        if not problems:
            print(f"{path}: ok ({kind})")
    if args.security_report:
        weak = security_report(args.files)
        for line in weak:
            print(f"weak: {line}")
        if not weak:
            print("security: every device uses SNMPv3 with strong algorithms")
        for line in agents_map.report_files({path: detect_kind(read_yaml(path)[0].data) for path in args.files}):
            print(f"security: {line}")
    if total:
        print(f"{total} problem{'s' if total != 1 else ''} found", file=sys.stderr)
        return 2
    return 0
