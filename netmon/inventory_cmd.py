"""``netmon inventory``: generate inventories from the official lists, or summarise one."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from netmon.config import geography
from netmon.config.errors import ConfigError
from netmon.config.loader import load_inventory


def cli_main(args: argparse.Namespace) -> int:
    """Dispatch ``generate`` and ``stats``."""
    if args.inventory_command == "generate":
        return _generate(args)
    return _stats(args)


def _generate(args: argparse.Namespace) -> int:
    address = geography.loopback_address if args.addresses == "loopback" else geography.placeholder_address
    try:
        inv = geography.generate(
            args.province, args.edition, address=address, snmp_profile=args.snmp_profile, source=args.source
        )
    except geography.GeographyError as exc:
        print(f"netmon inventory generate: {exc}", file=sys.stderr)
        return 2
    header = (
        f"netmon inventory: {inv['province']['name']} ({inv['province']['code']}), {args.edition} structure.\n"
        f"Codes and names: General Statistics Office, via vietnam-provinces {geography.PACKAGE_VERSION[args.edition]}.\n"
        + (
            "Addresses are placeholders (*.placeholder.invalid): replace each with the device's address.\n"
            if args.addresses == "placeholder"
            else "Addresses are loopback addresses for simulation.\n"
        )
    )
    text = geography.to_yaml(inv, header=header)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _stats(args: argparse.Namespace) -> int:
    try:
        inv = load_inventory(args.file)
    except ConfigError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        return 2
    idx = inv.index
    roles = Counter(d.role.value for d in idx.devices.values())
    provisioned = sum(1 for c in idx.communes.values() if any(d.is_access for d in c.devices))
    print(f"{inv.province.name} ({inv.province.code}), edition {inv.edition or '?'}")
    print(f"districts: {len(idx.districts)}  communes: {len(idx.communes)}  provisioned: {provisioned}")
    print("devices: " + ", ".join(f"{n} {r}" for r, n in sorted(roles.items())))
    return 0
