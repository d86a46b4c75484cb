"""The ``netmon`` command: one entry point, a subcommand per job.

Subcommands import their modules lazily, so ``netmon --help`` stays fast and a
technician's ``netmon site`` does not load pysnmp.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from netmon import __version__

#: subcommand -> "module:function" taking the parsed arguments and returning an exit code.
_HANDLERS = {
    "agent": "netmon.agent.service:cli_main",
    "collector": "netmon.collectord:cli_main",
    "demo": "netmon.demo:cli_main",
    "site": "netmon.site:cli_main",
    "report": "netmon.report:cli_main",
    "inventory": "netmon.inventory_cmd:cli_main",
    "check-config": "netmon.check_cmd:cli_main",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(
        prog="netmon",
        description="Monitoring for a province's dedicated state data network: "
        "commune connectivity, device state, uptime and coverage.",
    )
    p.add_argument("--version", action="version", version=f"netmon {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    a = sub.add_parser(
        "agent",
        help="poll devices over SNMP/ICMP and publish samples over MQTT",
        description="Run an agent: poll the devices of its scope and publish to the broker. "
        "SIGHUP reloads the inventory, SIGTERM flushes the outbox and stops.",
    )
    a.add_argument("-c", "--config", required=True, help="agent settings file (YAML)")
    a.add_argument("--once", action="store_true", help="poll every device once, publish, and exit")
    a.add_argument(
        "--jsonl", metavar="FILE", help="write batches as JSON lines to FILE ('-' for stdout) instead of MQTT"
    )

    c = sub.add_parser(
        "collector",
        help="turn samples into states, outages, uptime and coverage; serve the page, API and /metrics",
        description="Run the collector: subscribe to all agents, keep the store, serve the status page, "
        "the JSON API and /metrics, write to InfluxDB when configured.",
    )
    c.add_argument("-c", "--config", required=True, help="collector settings file (YAML)")

    d = sub.add_parser(
        "demo",
        help="the whole system on this machine, on a simulated province",
        description="Simulated SNMP devices on loopback addresses, an embedded MQTT broker, "
        "one agent per district, the collector, exporters and the web page, in one process tree.",
    )
    d.add_argument("--inventory", help="inventory file to simulate (default: Quảng Ngãi, 2021 structure)")
    d.add_argument("--edition", choices=["2021", "2025"], default="2021", help="structure of the default inventory")
    d.add_argument(
        "--scale",
        choices=["province", "national"],
        default="province",
        help="'national': every commune of the country (10,051 in 2021, 3,321 in 2025)",
    )
    d.add_argument("--scenario", help="scenario file (YAML); default: the built-in one")
    d.add_argument("--seed", type=int, default=1, help="random seed of the scenario")
    d.add_argument(
        "--broker",
        help="use this MQTT broker (mqtt://host:port), or 'embedded' to force the embedded one "
        "(default: one answering on localhost:1883, else embedded)",
    )
    d.add_argument("--http", default="127.0.0.1:8080", help="listen address of the web page, API and /metrics")
    d.add_argument("--interval", type=float, default=5.0, help="poll interval in seconds (default 5)")
    d.add_argument("--duration", type=float, help="stop after this many seconds (for scripted runs)")
    d.add_argument("--workdir", help="where the store, outboxes and ground truth go (default: a temporary directory)")
    d.add_argument("--truth", help="write the scenario's ground truth (JSON) to this file")
    d.add_argument("--time-scale", type=float, help="multiply every time of the scenario (e.g. 0.1: ten times faster)")
    d.add_argument("--snmp-port", type=int, help="UDP port of the simulated devices (default: 161 as root, else 16161)")
    d.add_argument(
        "--districts-per-agent",
        type=int,
        help="districts polled by one agent (default: 1; 12 with --scale national)",
    )

    s = sub.add_parser(
        "site",
        help="is this commune's equipment OK? (for technicians)",
        description="Ask the collector about a commune or district by name (with or without "
        "diacritics) or GSO code, and print its devices, latency, loss, interfaces and outages.",
    )
    s.add_argument("query", help="commune/district name or code, e.g. 'tinh khe' or 21211")
    s.add_argument("--url", default="http://127.0.0.1:8080", help="collector base URL")
    s.add_argument("--token", help="API token, if the collector requires one (or NETMON_TOKEN)")
    s.add_argument(
        "--watch", type=float, nargs="?", const=10.0, metavar="SECONDS", help="refresh every SECONDS (default 10)"
    )
    s.add_argument(
        "--lang", choices=["vi", "en"], default=None, help="language (default: NETMON_LANG, else Vietnamese)"
    )
    s.add_argument("--json", action="store_true", help="print the API's JSON instead")

    r = sub.add_parser(
        "report",
        help="coverage and availability report for a period (HTML, CSV, XLSX)",
        description="Coverage and availability per district and province for a period, from the "
        "collector's store: communes provisioned and connected, time-weighted coverage, "
        "availability, outages, worst communes, progress towards 100% of communes.",
    )
    r.add_argument("-c", "--config", required=True, help="collector settings file (names the store and inventory)")
    period = r.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", help="e.g. 2026-10")
    period.add_argument("--quarter", help="e.g. 2026Q3")
    period.add_argument("--from", dest="start", help="start (ISO date or time); with --to")
    r.add_argument("--to", dest="end", help="end (ISO date or time, exclusive)")
    r.add_argument("--format", choices=["html", "csv", "xlsx", "all"], default="all")
    r.add_argument("--lang", choices=["vi", "en"], default="vi")
    r.add_argument("-o", "--output", default=".", help="output directory")
    r.add_argument("--tz", default="Asia/Ho_Chi_Minh", help="time zone of the period's boundaries")

    i = sub.add_parser(
        "inventory",
        help="inventories: generate from the GSO lists, import a spreadsheet, discover, diff, migrate to 2025",
    )
    from netmon.inventory_cmd import add_arguments as inventory_arguments

    inventory_arguments(i)

    k = sub.add_parser(
        "check-config",
        help="check configuration files; print every problem with file:line",
        description="Check inventories, credentials and settings files. Exit 0 when all are "
        "valid, 2 when any has a problem. Secrets are never printed.",
    )
    k.add_argument("files", nargs="+")
    k.add_argument("--no-secrets", action="store_true", help="do not try to resolve secret references")
    k.add_argument(
        "--no-host-checks",
        action="store_true",
        help="not on the host that runs the process: skip TLS files, directories and listen addresses",
    )
    k.add_argument(
        "--security-report",
        action="store_true",
        help="list devices whose SNMP profile uses v1/v2c or weak algorithms (MD5, DES)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``netmon`` command."""
    args = build_parser().parse_args(argv)
    target = _HANDLERS[args.command]
    mod_name, func_name = target.split(":")
    func = getattr(importlib.import_module(mod_name), func_name)
    try:
        code: int = func(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
