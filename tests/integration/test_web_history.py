"""Windows older than the collector's memory are read off the event loop, on the store's
own read-only connection, and give the same figures as the memory would.

(Before: asking for a window older than the in-memory log loaded the whole transition log
synchronously on the event loop — ~80 MB at national scale, twice for a district or the
province — and ingest waited for it.)
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from netmon.agent import wire
from netmon.collector.archive import ArchiveReader
from netmon.collector.engine import Engine
from netmon.collector.readmodel import MEMORY_S, StoredModel
from netmon.collector.store import SqliteStore
from netmon.collector.web import build_app
from tests.unit.test_engine import IV, T0, collector_settings, small_inventory

DEVICES = ("core", "d1", "a", "b", "b2")


def _engine(path: Path) -> tuple[Engine, list[float]]:
    """An engine whose store holds 40 days of a device going down every other day."""
    clock = [T0]
    eng = Engine(small_inventory(), collector_settings(), SqliteStore.open(path), clock=lambda: clock[0])
    seq = 0
    for day in range(40):
        for k, ok in ((0, True), (1, day % 2 == 0), (2, day % 2 == 0), (3, day % 2 == 0), (4, True)):
            t = T0 + day * 86400 + k * IV
            samples = [wire.Sample(device=d, probe="icmp", ts=t + i, ok=ok or d != "a") for i, d in enumerate(DEVICES)]
            clock[0] = t + 10
            eng.apply_batch(wire.SampleBatch(v=1, agent="ag", seq=seq, sent_at=t, samples=samples), clock[0])
            seq += 1
    eng.tick(clock[0])
    return eng, clock


async def test_old_windows_are_read_off_the_loop_and_agree_with_a_fresh_read(tmp_path: Path) -> None:
    eng, clock = _engine(tmp_path / "s.sqlite")
    loop_thread = threading.current_thread()
    threads: list[threading.Thread] = []
    figures = eng.figures

    def watched(*args: Any) -> Any:
        threads.append(threading.current_thread())
        return figures(*args)

    eng.figures = watched  # type: ignore[method-assign]
    client = TestClient(TestServer(build_app(eng)))
    await client.start_server()
    try:
        old = clock[0] - MEMORY_S - 5 * 86400
        assert eng.reads_store(old)
        resp = await client.get(
            "/api/v1/availability", params={"scope": "commune", "id": "00001", "from": str(old), "to": str(clock[0])}
        )
        body = await resp.json()
        assert resp.status == 200, body
        assert threads[-1] is not loop_thread  # read on a thread
        recent = clock[0] - 86400
        assert not eng.reads_store(recent)
        resp = await client.get(
            "/api/v1/availability", params={"scope": "district", "id": "001", "from": str(recent), "to": str(clock[0])}
        )
        assert resp.status == 200
        assert threads[-1] is loop_thread  # from memory, on the loop
        cov = await client.get("/api/v1/coverage", params={"from": str(old), "to": str(clock[0])})
        assert cov.status == 200
    finally:
        await client.close()
    # What the store gave for the old window, device by device, equals what a read model
    # with the whole log from then on in memory gives (the report's way).
    full = StoredModel(eng.topology, eng._store.reader, old, clock[0])  # type: ignore[union-attr]
    ref = full.availability("commune", "00001", old, clock[0])
    assert body["availability"]["down_s"] == ref.down_s
    assert body["availability"]["ratio"] == ref.ratio
    assert ref.down_s > 0
    eng.close()


async def test_with_an_archive_old_windows_are_read_in_its_worker_process(tmp_path: Path) -> None:
    eng, clock = _engine(tmp_path / "s.sqlite")

    def not_here(*args: Any) -> Any:
        raise AssertionError("an old window was read in the collector's own process")

    old = clock[0] - MEMORY_S - 5 * 86400
    ref = StoredModel(eng.topology, eng._store.reader, old, clock[0])  # type: ignore[union-attr]
    archive = ArchiveReader(small_inventory(), collector_settings(), str(tmp_path / "s.sqlite"))
    eng.figures = not_here  # type: ignore[method-assign]
    eng.coverage_series = not_here  # type: ignore[method-assign]
    client = TestClient(TestServer(build_app(eng, archive=archive)))
    await client.start_server()
    try:
        window = {"from": str(old), "to": str(clock[0])}
        resp = await client.get("/api/v1/availability", params={"scope": "district", "id": "001", **window})
        body = await resp.json()
        assert resp.status == 200, body
        assert body["availability"]["down_s"] == ref.availability("district", "001", old, clock[0]).down_s
        assert body["time_weighted_coverage"] == ref.time_weighted_coverage("district", "001", old, clock[0])
        cov = await (await client.get("/api/v1/coverage", params={**window, "step": "86400"})).json()
        expected = ref.coverage_series(old, clock[0], 86400)
        assert [p["connected"] for p in cov["points"]] == [p.connected for p in expected]
    finally:
        await client.close()
        archive.close()
    eng.close()
