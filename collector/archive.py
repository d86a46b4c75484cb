"""Windows older than the collector's memory, and reports, read in a process of their own.

A 90-day national window is hundreds of thousands of stored transitions merged into ten
thousand communes' timelines: seconds of Python. On a thread it would still hold the
interpreter lock half the time and ingest would wait (measured: p99 2.5 s at 20,000
samples/s, no better than on the event loop). The archive reader runs those reads in a
worker process (spawned on first use, on the other core) over the store's file, read-only,
with the same read model (:class:`collector.readmodel.History`); the collector's event
loop only waits for the answer. Work of a higher layer (a planner's report) runs there too:
:meth:`ArchiveReader.run` calls a function of its own in the worker, which reads through
:func:`worker_history`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from netmon.collector.devices import Topology
from netmon.collector.model import CoveragePoint, Scope, WindowFigures
from netmon.collector.readmodel import History
from netmon.collector.store import SCHEMA_VERSION, StoreReader
from netmon.config.inventory import Inventory
from netmon.config.settings import CollectorSettings

#: The read model of the worker process, and the settings it was built with.
_history: History | None = None
_settings: CollectorSettings | None = None

R = TypeVar("R")


def _open(inventory: Inventory, settings: CollectorSettings, store_path: str) -> None:
    global _history, _settings
    _settings = settings
    _history = History(Topology.build(inventory, settings), StoreReader.open(store_path, schema=SCHEMA_VERSION))


def worker_history() -> History:
    """In the worker process, its read model over the store (the topology and the store's
    reader are its ``topology`` and ``store``)."""
    if _history is None:
        raise RuntimeError("not in an archive worker process")
    return _history


_model = worker_history


def worker_settings() -> CollectorSettings:
    """In the worker process, the settings its read model was built with (state rules and
    maintenance windows; no secrets)."""
    if _settings is None:
        raise RuntimeError("not in an archive worker process")
    return _settings


def _ready() -> bool:
    return _history is not None


def _figures(scope: Scope, ident: str, start: float, end: float) -> WindowFigures:
    return _model().figures(scope, ident, start, end)


def _coverage(start: float, end: float, step_s: float) -> tuple[list[CoveragePoint], WindowFigures]:
    h = _model()
    province = h.topology.inventory.province.code
    return h.coverage_series(start, end, step_s), h.figures("province", province, start, end)


class ArchiveReader:
    """Reads of old windows, in a worker process over the store at ``store_path``.

    Args:
        inventory: The network (sent to the worker once).
        settings: The collector's settings (state rules and maintenance windows).
        store_path: The store's file.
    """

    def __init__(self, inventory: Inventory, settings: CollectorSettings, store_path: str) -> None:
        self._inventory = inventory
        # Only what the read model needs: no secrets cross to the worker.
        self._settings = CollectorSettings(inventory="-", state=settings.state, maintenance=settings.maintenance)
        self._path = store_path
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_open,
                initargs=(self._inventory, self._settings, self._path),
            )
        return self._pool

    def start(self) -> None:
        """Start the worker now (it loads the inventory), so that the first read is quick."""
        self._executor().submit(_ready)

    async def run(self, fn: Callable[..., R], *args: object) -> R:
        """``fn(*args)`` in the worker (a module-level function; arguments and result are
        pickled), e.g. a report reading through :func:`worker_history`."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), fn, *args)

    async def figures(self, scope: Scope, ident: str, start: float, end: float) -> WindowFigures:
        """Availability and time-weighted coverage of a unit over ``[start, end)``."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), _figures, scope, ident, start, end)

    async def coverage(self, start: float, end: float, step_s: float) -> tuple[list[CoveragePoint], WindowFigures]:
        """Province coverage sampled every ``step_s`` over ``[start, end]``, and the province's figures."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), _coverage, start, end, step_s)

    def reload(self, inventory: Inventory) -> None:
        """A new inventory: the next read starts a worker that knows it."""
        self._inventory = inventory
        self.close()

    def close(self) -> None:
        """Stop the worker (it is started again if needed)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
