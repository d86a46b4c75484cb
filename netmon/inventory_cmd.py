"""``netmon inventory``: inventories from the official lists, the operator's spreadsheet
and the network itself, and carried across the 2025 reform.

Actions: ``generate`` (from the GSO lists), ``stats``, ``import`` (a workbook or CSV),
``discover`` (an SNMP/ICMP sweep with LLDP/CDP neighbours), ``diff`` (the inventory's
parents against what LLDP/CDP sees), ``migrate`` (2021 → 2025 structure) and
``check-lists`` (the shipped lists against an installed ``vietnam-provinces``).

Module imports are lazy so that ``netmon --help`` stays fast: the parser is built for
every command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netmon.config.credentials import Credentials
    from netmon.config.inventory import Device, Inventory
    from netmon.config.settings import AgentSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``inventory`` actions and their options."""
    isub = parser.add_subparsers(dest="inventory_command", required=True, metavar="ACTION")
    g = isub.add_parser("generate", help="write an inventory for a province from the GSO lists")
    g.add_argument("--province", required=True, help="GSO province code, e.g. 51 (00: the whole country)")
    g.add_argument(
        "--edition",
        choices=["2021", "2025"],
        required=True,
        help="2021: province/district/commune; 2025: province/commune",
    )
    g.add_argument(
        "--source",
        choices=["shipped", "package"],
        default="shipped",
        help="'package': read the installed vietnam-provinces instead of the shipped lists",
    )
    g.add_argument(
        "--addresses",
        choices=["placeholder", "loopback"],
        default="placeholder",
        help="device addresses: reserved .invalid names to fill in, or loopback for simulation",
    )
    g.add_argument("--snmp-profile", default="default", help="SNMP credential profile the devices use")
    g.add_argument("-o", "--output", default="-", help="output file ('-': stdout)")
    st = isub.add_parser("stats", help="count units and devices of an inventory")
    st.add_argument("file")

    im = isub.add_parser(
        "import",
        help="build an inventory from the operator's spreadsheet (XLSX or CSV)",
        description="Read a device list (commune name or GSO code, device name, role, address, model, "
        "uplink; Vietnamese or English headers) and write an inventory of every commune of the province "
        "with the sheet's devices. Communes are matched diacritics- and case-insensitively, 'Xã/Phường/Thị "
        "trấn' optional; a district column tells communes of one name apart. Every row that cannot be "
        "matched, or is ambiguous, is listed with its row number and the candidates. Exit 0 when every "
        "row was imported, 2 otherwise (nothing is written unless --partial).",
    )
    im.add_argument("file", help="the workbook (.xlsx) or CSV file")
    im.add_argument("--province", required=True, help="GSO province code, e.g. 51")
    im.add_argument("--edition", choices=["2021", "2025"], required=True, help="the structure the sheet names")
    im.add_argument("--sheet", help="sheet name in a workbook (default: the first)")
    im.add_argument("--snmp-profile", default="default", help="SNMP profile of devices whose row names none")
    im.add_argument("--partial", action="store_true", help="write the rows that could be imported despite errors")
    im.add_argument("-o", "--output", default="-", help="output file ('-': stdout)")

    dc = isub.add_parser(
        "discover",
        help="sweep subnets from an agent's settings: what answers SNMP/ICMP, its LLDP/CDP neighbours",
        description="Probe every address of the subnets at a bounded rate with the agent's SNMP profiles "
        "(and ICMP), report sysName, sysDescr and vendor/model of what answers, read LLDP-MIB and CDP "
        "neighbour tables, and propose parent links.",
    )
    dc.add_argument("-c", "--config", required=True, help="agent settings file (its credentials and policy)")
    dc.add_argument("--subnet", action="append", required=True, metavar="CIDR", help="subnet to sweep (repeatable)")
    dc.add_argument("--rate", type=float, default=50.0, help="probes started per second at most (default 50)")
    dc.add_argument("--concurrency", type=int, default=32, help="probes in flight at most (default 32)")
    dc.add_argument("--profile", action="append", help="SNMP profile(s) to try (default: every profile)")
    dc.add_argument("--no-icmp", action="store_true", help="SNMP only")
    dc.add_argument("--max-addresses", type=int, default=4096, help="refuse larger sweeps (default 4096)")
    dc.add_argument(
        "--root", action="append", help="address or id of the top of the tree (default: from the inventory)"
    )
    dc.add_argument("-o", "--output", help="write the findings (YAML) to this file, for `inventory diff`")

    df = isub.add_parser(
        "diff",
        help="where the inventory's parents disagree with what LLDP/CDP sees",
        description="Read LLDP/CDP neighbours of the agent's devices (or take a `discover` output) and list "
        "every device whose parent in the inventory is not the uplink the network shows. Exit 0 when they "
        "agree, 1 when they differ, 2 on errors.",
    )
    df.add_argument("-c", "--config", required=True, help="agent settings file (inventory, scope, credentials)")
    df.add_argument("--discovery", help="a `discover -o` file instead of polling now")
    df.add_argument("--rate", type=float, default=50.0, help="devices polled per second at most (default 50)")
    df.add_argument("--concurrency", type=int, default=32)

    mg = isub.add_parser(
        "migrate",
        help="carry a 2021 inventory (or several) into the 2025 structure",
        description="Map every 2021 commune to its 2025 successor (official conversion list), keep every "
        "device and its id (so stored history stays), and report what merged.",
    )
    mg.add_argument("files", nargs="+", help="2021 inventories (e.g. the two provinces that merged)")
    mg.add_argument("--to", choices=["2025"], required=True, help="the structure to migrate to")
    mg.add_argument(
        "--effective",
        default="2025-07-01T00:00:00+07:00",
        help="when the collector switches to the new inventory (default: the reform's date, 1 July 2025)",
    )
    mg.add_argument("-o", "--output", default="-", help="output file ('-': stdout)")

    cl = isub.add_parser(
        "check-lists",
        help="say whether the shipped GSO lists differ from an installed vietnam-provinces",
        description="Compare the shipped lists (config/data) with the installed vietnam-provinces package. "
        "Exit 0 when they agree or the installed one is not newer, 1 when a newer installed release differs, "
        "2 when the package is missing.",
    )
    cl.add_argument("--province", help="only this province's differences (GSO code)")


def cli_main(args: argparse.Namespace) -> int:
    """Dispatch the ``inventory`` actions."""
    handlers = {
        "generate": _generate,
        "stats": _stats,
        "import": _import,
        "discover": _discover,
        "diff": _diff,
        "migrate": _migrate,
        "check-lists": _check_lists,
    }
    return handlers[args.inventory_command](args)


def _write(text: str, output: str) -> None:
    if output == "-":
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)


def _generate(args: argparse.Namespace) -> int:
    from netmon.config import geography

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
    _write(geography.to_yaml(inv, header=header), args.output)
    return 0


def _stats(args: argparse.Namespace) -> int:
    from collections import Counter

    from netmon.config.errors import ConfigError
    from netmon.config.loader import load_inventory

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


def _import(args: argparse.Namespace) -> int:
    from netmon.config import geography
    from netmon.config.gazetteer import Gazetteer
    from netmon.config.importer import import_sheet
    from netmon.config.sheet import SheetError, read_sheet

    try:
        sheet = read_sheet(args.file, args.sheet)
        prov = geography.province(args.province, args.edition)
    except (SheetError, geography.GeographyError) as exc:
        print(f"netmon inventory import: {exc}", file=sys.stderr)
        return 2
    if prov.code == geography.NATIONAL_CODE:
        print("netmon inventory import: give one province (--province), not the whole country", file=sys.stderr)
        return 2
    result = import_sheet(sheet, Gazetteer(prov, args.edition), snmp_profile=args.snmp_profile)
    for p in result.problems:
        print(p, file=sys.stderr)
    errors = len(result.errors)
    warnings = len(result.problems) - errors
    print(
        f"{sheet.source}: header on row {sheet.header_row}, {len(sheet.rows)} rows; "
        f"{result.devices} devices in {result.communes_with_devices} communes imported; "
        f"{errors} errors, {warnings} warnings",
        file=sys.stderr,
    )
    if sheet.ignored:
        print("columns not read: " + ", ".join(repr(c) for c in sheet.ignored), file=sys.stderr)
    if errors and not args.partial:
        print("nothing written: fix the rows above, or write the rest with --partial", file=sys.stderr)
        return 2
    assert result.inventory is not None
    header = (
        f"netmon inventory: {prov.name} ({prov.code}), {args.edition} structure, imported from {Path(args.file).name}.\n"
        f"Codes and names: General Statistics Office, via vietnam-provinces {geography.PACKAGE_VERSION[args.edition]};\n"
        "every commune of the province is listed, with the devices the sheet gives it.\n"
        + "".join(f"{p}\n" for p in result.problems)
    )
    _write(geography.to_yaml(result.inventory, header=header), args.output)
    return 2 if errors else 0


def _agent_files(path: str) -> tuple[AgentSettings, Credentials, Inventory] | None:
    """An agent's settings, credentials and inventory, or None (problems printed)."""
    from netmon.config.errors import ConfigError
    from netmon.config.loader import load_agent_settings, load_credentials, load_inventory

    try:
        settings = load_agent_settings(path)
        if settings.credentials is None:
            print(f"{path}: the agent names no credentials file: nothing to probe SNMP with", file=sys.stderr)
            return None
        creds = load_credentials(settings.credentials)
        inventory = load_inventory(settings.inventory, creds)
    except ConfigError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        return None
    return settings, creds, inventory


def _discover(args: argparse.Namespace) -> int:
    import asyncio
    from dataclasses import replace

    import yaml

    from netmon.agent import discovery, links
    from netmon.agent.icmp import choose_mode
    from netmon.agent.snmp import SnmpClient

    loaded = _agent_files(args.config)
    if loaded is None:
        return 2
    settings, creds, inventory = loaded
    try:
        addresses = discovery.addresses_of(args.subnet, args.max_addresses)
    except discovery.DiscoveryError as exc:
        print(f"netmon inventory discover: {exc}", file=sys.stderr)
        return 2
    profiles = discovery.sweep_profiles(creds.snmp, args.profile, settings.security, timeout_s=settings.poll.timeout_s)
    for line in profiles.refused:
        print(f"profile {line}", file=sys.stderr)
    if not profiles.usable:
        print("netmon inventory discover: no SNMP profile to probe with", file=sys.stderr)
        return 2
    mode = "off" if args.no_icmp else choose_mode(settings.poll.icmp_mode)
    stats = discovery.SweepStats()

    async def run() -> list[discovery.Finding]:
        client = SnmpClient()
        try:
            return await discovery.sweep(
                client,
                addresses,
                profiles.usable,
                rate=args.rate,
                concurrency=args.concurrency,
                icmp_mode=mode,
                timeout_s=settings.poll.timeout_s,
                stats=stats,
            )
        finally:
            client.close()

    found = asyncio.run(run())
    by_address = {d.address: d.id for d in inventory.index.devices.values()}
    found = [replace(f, device=by_address.get(f.address, "")) for f in found]
    graph = links.build_graph(found, inventory.index.devices.values())
    roots = [r for r in (links.find_node(graph, x) for x in args.root or ()) if r] or links.default_roots(graph)
    parents = links.propose_parents(graph, roots)
    elapsed = stats.finished_at - stats.started_at
    print(
        f"swept {stats.addresses} addresses in {elapsed:.1f} s (at most {args.rate:g}/s, {args.concurrency} at a time): "
        f"{stats.snmp_answered} answered SNMP, {stats.icmp_answered} answered ICMP"
        + ("" if mode in ("unprivileged", "privileged") else f" (ICMP not tried: {mode})")
    )
    for f in found:
        if not f.snmp_profile:
            print(f"{f.address:<16} ICMP only")
            continue
        what = " ".join(x for x in (f.vendor, f.model) if x) or f.sys_object_id
        known = f"  [inventory: {f.device}]" if f.device else "  [not in the inventory]"
        print(f"{f.address:<16} {f.sys_name or '?':<24} {what}{known}")
        print(f"{'':<16} {f.sys_descr.splitlines()[0][:100] if f.sys_descr else ''}")
        for n in f.neighbours:
            addr = ", ".join(n.addresses)
            print(f"{'':<16}   {n.protocol} {n.local_port}: {n.sys_name or n.chassis_id} {n.port} {addr}".rstrip())
    proposals = []
    print("proposed parents (from LLDP/CDP):")
    for key, parent in sorted(parents.items(), key=lambda kv: graph.nodes[kv[0]].label()):
        node = graph.nodes[key]
        up = graph.nodes[parent].label() if parent else "(top)"
        print(f"  {node.label()} <- {up}")
        proposals.append({"device": node.label(), "parent": graph.nodes[parent].label() if parent else None})
    if args.output:
        doc = {
            "subnets": list(args.subnet),
            "findings": [f.to_data() for f in found],
            "proposed_parents": proposals,
        }
        Path(args.output).write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _diff(args: argparse.Namespace) -> int:
    import asyncio

    import yaml

    from netmon.agent import discovery, links
    from netmon.agent.service import select_devices
    from netmon.agent.snmp import ResolvedProfile, SnmpClient

    loaded = _agent_files(args.config)
    if loaded is None:
        return 2
    settings, creds, inventory = loaded
    devices = select_devices(inventory, settings.scope)
    if args.discovery:
        try:
            doc = yaml.safe_load(Path(args.discovery).read_text(encoding="utf-8"))
            found = [discovery.Finding.from_data(f) for f in doc["findings"]]
        except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
            print(f"netmon inventory diff: {args.discovery}: not a `discover -o` file ({exc})", file=sys.stderr)
            return 2
    else:
        names = sorted({d.snmp for d in devices if d.snmp})
        profiles = discovery.sweep_profiles(creds.snmp, names, settings.security, timeout_s=settings.poll.timeout_s)
        for line in profiles.refused:
            print(f"profile {line}", file=sys.stderr)
        usable = {p.name: p for p in profiles.usable}

        async def run() -> list[discovery.Finding]:
            client = SnmpClient()
            limit = discovery.RateLimit(args.rate)
            slots = asyncio.Semaphore(args.concurrency)

            async def one(dev: Device, profile: ResolvedProfile) -> discovery.Finding:
                async with slots:
                    await limit.wait()
                    return await discovery.inspect(client, dev.address, profile, device=dev.id)

            try:
                return list(await asyncio.gather(*(one(d, usable[d.snmp]) for d in devices if d.snmp in usable)))
            finally:
                client.close()

        found = asyncio.run(run())
    graph = links.build_graph(found, inventory.index.devices.values())
    parents = links.propose_parents(graph, links.default_roots(graph))
    result = links.compare(graph, parents, devices)
    silent = [f.device or f.address for f in found if not f.snmp_profile]
    print(
        f"{len(devices)} devices of {settings.agent_id}: {len(result.agreeing)} agree with LLDP/CDP, "
        f"{len(result.disagreements)} disagree, {len(result.unseen)} not seen"
    )
    for d in result.disagreements:
        where = "" if d.seen_in_inventory else " (not in the inventory)"
        print(f"  {d.device}: inventory parent {d.inventory_parent or '(none)'}, LLDP/CDP shows {d.seen_parent}{where}")
    if result.unseen:
        print("  not seen by any neighbour table: " + ", ".join(result.unseen))
    if silent:
        print("  did not answer SNMP: " + ", ".join(silent))
    if result.not_in_inventory:
        print("  neighbours not in the inventory: " + ", ".join(result.not_in_inventory))
    return 1 if result.disagreements else 0


def _migrate(args: argparse.Namespace) -> int:
    from datetime import datetime

    from netmon.config import geography
    from netmon.config.errors import ConfigError
    from netmon.config.loader import load_inventory
    from netmon.config.reform import MigrationError, migrate

    try:
        until = datetime.fromisoformat(args.effective)
    except ValueError:
        print(
            f"netmon inventory migrate: --effective {args.effective!r}: expected an ISO date or time", file=sys.stderr
        )
        return 2
    if until.tzinfo is None:
        print(
            "netmon inventory migrate: --effective needs a time zone, e.g. 2025-07-01T00:00:00+07:00", file=sys.stderr
        )
        return 2
    inventories: list[Inventory] = []
    failed = False
    for path in args.files:
        try:
            inventories.append(load_inventory(path))
        except ConfigError as exc:
            failed = True
            for p in exc.problems:
                print(p, file=sys.stderr)
    if failed:
        return 2
    try:
        result = migrate(inventories, until)
    except MigrationError as exc:
        print(f"netmon inventory migrate: {exc}", file=sys.stderr)
        return 2
    if result.problems:
        for line in result.problems:
            print(f"error: {line}", file=sys.stderr)
        print("nothing written: the conversion list cannot place the communes above", file=sys.stderr)
        return 2
    summary = result.summary()
    for line in summary:
        print(line, file=sys.stderr)
    header = (
        f"netmon inventory: {result.new_province.name} ({result.new_province.code}), 2025 structure, migrated from "
        + ", ".join(Path(f).name for f in args.files)
        + ".\n"
        f"Codes and names: General Statistics Office, via vietnam-provinces {geography.PACKAGE_VERSION['2025']}.\n"
        f"Conversion: {result.inventory['previous']['source']}.\n"
        f"Device ids are unchanged; the collector switches to this file at {until.isoformat()} (previous.until).\n"
        + "".join(f"{line}\n" for line in summary[:2])
    )
    _write(geography.to_yaml(result.inventory, header=header), args.output)
    return 0


def _check_lists(args: argparse.Namespace) -> int:
    from netmon.config import geography

    print(
        "shipped lists: 2021 structure from vietnam-provinces "
        f"{geography.PACKAGE_VERSION['2021']}, 2025 structure from vietnam-provinces {geography.PACKAGE_VERSION['2025']}"
    )
    try:
        result = geography.check_installed(args.province)
    except geography.GeographyError as exc:
        print(f"netmon inventory check-lists: {exc}", file=sys.stderr)
        return 2
    if result.installed is None:
        print(
            "vietnam-provinces is not installed: install the release to compare with "
            "(pip install -U vietnam-provinces), then run this again",
            file=sys.stderr,
        )
        return 2
    where = f"province {args.province}" if args.province else "the whole country"
    if not result.differences:
        print(f"installed vietnam-provinces {result.installed} ({result.edition} structure): same list for {where}")
        return 0
    relation = "newer than" if result.newer else "not newer than"
    print(
        f"installed vietnam-provinces {result.installed} ({result.edition} structure) is {relation} the shipped "
        f"{result.shipped} and differs for {where} in {len(result.differences)} places:"
    )
    for line in result.differences:
        print(f"  {line}")
    if result.newer:
        print(
            f"to use it: `netmon inventory generate --source package ...`; to ship it, extract it into config/data "
            f"(divisions-{result.edition}.json.gz) and update PACKAGE_VERSION"
        )
        return 1
    return 0
