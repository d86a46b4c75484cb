"""``netmon check-config``."""

from __future__ import annotations

import argparse
import sys

from config.check import check_file, detect_kind
from config.credentials import Credentials
from config.errors import ConfigError, Problem
from config.loader import load_credentials, load_inventory, read_yaml, resolve_path


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
    if total:
        print(f"{total} problem{'s' if total != 1 else ''} found", file=sys.stderr)
        return 2
    return 0
