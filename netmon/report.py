"""``netmon report``: the coverage and availability report for a period, from the store.

The collector's store is opened read-only beside a running collector (SQLite WAL lets both
read): the report reads through the read model (:class:`collector.readmodel.StoredModel`),
without a write engine, and writes nothing into the store.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netmon.collector.devices import Topology
from netmon.collector.readmodel import StoredModel
from netmon.collector.store import SCHEMA_VERSION, StoreError, StoreReader
from netmon.config.errors import ConfigError
from netmon.config.loader import load_collector_settings, load_inventory
from netmon.exporters.report import NoData, PeriodError, build_report, period_from
from netmon.exporters.report_render import partial_warning, write_report
from netmon.exporters.structures import split_for_report


def cli_main(args: argparse.Namespace) -> int:
    """Build the report for the chosen period and write it in the chosen formats.

    Exit 0 with the files written (a warning on stderr when the data covers only part of the
    period), 1 when the store has no data for the period (nothing written), 2 on a bad
    period, settings file or store.
    """
    err = Console(stderr=True)
    try:
        period = period_from(month=args.month, quarter=args.quarter, start=args.start, end=args.end, tz=args.tz)
        settings = load_collector_settings(args.config)
        inventory = load_inventory(settings.inventory)
        store = StoreReader.open(settings.store.path, schema=SCHEMA_VERSION)
    except (PeriodError, ConfigError, StoreError) as exc:
        print(f"netmon report: {exc}", file=sys.stderr)
        return 2
    try:
        model_reader = StoredModel(Topology.build(inventory, settings), store, period.start, time.time())
        with Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as progress:
            task = progress.add_task(f"report {period.label}", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            model = build_report(
                model_reader,
                period,
                poll_interval_s=settings.state.default_interval_s,
                availability_target=settings.objectives.availability_target,
                coverage_target=settings.objectives.coverage_target,
                progress=advance,
            )
            model = replace(model, structures=split_for_report(inventory, settings, store, model_reader, model))
        formats = ["html", "csv", "xlsx"] if args.format == "all" else [args.format]
        written = write_report(model, Path(args.output), formats=formats, lang=args.lang)
    except NoData as exc:
        print(f"netmon report: {exc.message(args.lang)}", file=sys.stderr)
        return 1
    finally:
        store.close()
    warning = partial_warning(model, args.lang)
    if warning is not None:
        print(f"netmon report: {warning}", file=sys.stderr)
    for path in written:
        print(path)
    return 0
