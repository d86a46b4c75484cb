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
from netmon.config.inventory import Inventory
from netmon.config.loader import load_collector_settings, load_inventory
from netmon.config.reform import previous_structure
from netmon.config.settings import CollectorSettings
from netmon.exporters.report import PeriodError, ReportModel, build_report, period_from, write_report
from netmon.exporters.structures import StructureSplit, structure_split


def cli_main(args: argparse.Namespace) -> int:
    """Build the report for the chosen period and write it in the chosen formats."""
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
                availability_target=settings.objectives.availability_target,
                coverage_target=settings.objectives.coverage_target,
                progress=advance,
            )
            model = replace(model, structures=_structures(inventory, settings, store, model_reader, model))
        formats = ["html", "csv", "xlsx"] if args.format == "all" else [args.format]
        written = write_report(model, Path(args.output), formats=formats, lang=args.lang)
    finally:
        store.close()
    for path in written:
        print(path)
    return 0


def _structures(
    inventory: Inventory, settings: CollectorSettings, store: StoreReader, current: StoredModel, model: ReportModel
) -> StructureSplit | None:
    """Both structures' figures when the inventory was migrated and the period began before
    the switch (the former structure rebuilt from the communes' ``formerly``)."""
    prev = inventory.previous
    start, end = model.period.start, model.effective_end
    if prev is None or start >= prev.until.timestamp():
        return None  # not migrated, or the whole period is in the current structure
    previous = [
        StoredModel(Topology.build(old, settings), store, start, time.time()) for old in previous_structure(inventory)
    ]
    return structure_split(
        current, previous, until=prev.until.timestamp(), previous_edition=prev.edition, start=start, end=end
    )
