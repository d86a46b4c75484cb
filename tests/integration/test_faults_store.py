"""The collector's store on a full disk and on a read-only disk: defined, told, recoverable.

Each scenario runs in a child process inside a private mount namespace (``unshare -rm``;
no privilege needed) where a tiny tmpfs is the disk: it really fills up (ENOSPC) and
really turns read-only (``mount -o remount,ro``). The child prints what happened as JSON.

Defined behaviour:

* a store on a read-only disk does not open: :class:`collector.store.StoreError` says the
  file or directory is read-only and what to do;
* when the disk fills, applying a batch fails loudly (an ERROR in the log that says the
  disk is full), the batch is NOT recorded as applied, so when the broker redelivers it
  after space was freed it is applied once; nothing the store committed before is lost.

(Before these tests, the store's ROLLBACK after SQLITE_FULL raised "cannot rollback - no
transaction is active": that hid the real error and skipped reloading the in-memory ledger,
so the failed batch counted as applied and its redelivery was dropped as a duplicate; and
the engine's memory had advanced with the failed batch, so the redelivery wrote fewer
transitions than a store that never filled. Both fixed.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests import services

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import io, json, logging, os, subprocess, sys, time
    from netmon.agent import wire
    from netmon.collector.engine import Engine
    from netmon.collector.ingest import Ingestor
    from netmon.collector.store import SqliteStore, StoreError
    from netmon.config.loader import load_inventory
    from netmon.config.settings import CollectorSettings

    disk, scenario = sys.argv[1], sys.argv[2]
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk], check=True)
    log = io.StringIO()
    logging.basicConfig(stream=log, level=logging.INFO)
    out = {}
    path = os.path.join(disk, "netmon.sqlite")

    if scenario == "readonly":
        SqliteStore.open(path).close()
        subprocess.run(["mount", "-o", "remount,ro", disk], check=True)
        try:
            SqliteStore.open(path)
            out["opened"] = True
        except StoreError as exc:
            out["error"] = str(exc)
        try:
            SqliteStore.open(os.path.join(disk, "new.sqlite"))
            out["opened_new"] = True
        except StoreError as exc:
            out["error_new"] = str(exc)

    if scenario == "full":
        inv = load_inventory(sys.argv[3])
        now = 1_800_000_000.0
        store = SqliteStore.open(path)
        engine = Engine(inv, CollectorSettings(inventory="x"), store, clock=lambda: now)
        ingest = Ingestor(engine, store, clock=lambda: now)
        devices = sorted(inv.index.devices)
        # leave only a little room: the filler is what the operator would delete
        filler = os.path.join(disk, "filler")
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"x" * 4096)
            except OSError:
                pass
        os.truncate(filler, os.path.getsize(filler) - 96 * 1024)

        def batch(seq):
            return wire.SampleBatch(v=1, agent="d522", seq=seq, sent_at=now, samples=[
                wire.Sample(device=d, probe="icmp", ts=now - 600 + seq, ok=(seq + i) % 3 != 0, loss=0.0,
                            rtt=wire.Rtt(0.01, 0.02, 0.03), sys_descr="x" * 200)
                for i, d in enumerate(devices)])

        seq, failed_at = 0, None
        while seq < 500:
            before = ingest.counters().batches
            ingest.handle(wire.samples_topic("d522"), wire.encode(batch(seq)))
            if ingest.counters().batches == before:
                failed_at = seq
                break
            seq += 1
        out["failed_at"] = failed_at
        out["applied_before"] = ingest.counters().batches
        out["failed_is_duplicate"] = store.is_duplicate("d522", failed_at)
        out["log"] = log.getvalue()
        # the operator frees space; the broker redelivers the batch that was not applied
        os.remove(filler)
        ingest.handle(wire.samples_topic("d522"), wire.encode(batch(failed_at)))
        out["applied_after"] = ingest.counters().batches
        out["duplicate_after"] = store.is_duplicate("d522", failed_at)
        ingest.handle(wire.samples_topic("d522"), wire.encode(batch(failed_at)))
        out["duplicates"] = ingest.counters().duplicates
        store.close()
        reopened = SqliteStore.open(path)
        out["ledger_survives"] = all(reopened.is_duplicate("d522", s) for s in range(failed_at + 1))
        reopened.close()
        # the same batches into a store that never filled: the recovered store must agree
        ref_store = SqliteStore.open(os.path.join(sys.argv[4], "ref.sqlite"))
        ref = Engine(inv, CollectorSettings(inventory="x"), ref_store, clock=lambda: now)
        for s in range(failed_at + 1):
            ref.apply_batch(batch(s), now)
        recovered = SqliteStore.open(path)
        out["transitions_equal"] = all(
            recovered.reader.transitions(d, 0, 2e9) == ref_store.reader.transitions(d, 0, 2e9) for d in devices)
        out["transitions_counts"] = [
            sum(len(st.reader.transitions(d, 0, 2e9)) for d in devices) for st in (recovered, ref_store)]
    print(json.dumps(out))
    """
)


def run_child(tmp_path: Path, scenario: str, *args: str) -> dict[str, Any]:
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    run = subprocess.run(
        [services.require("unshare"), "-rm", sys.executable, str(script), str(disk), scenario, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def test_store_on_a_read_only_disk_does_not_open_and_says_why(tmp_path: Path) -> None:
    out = run_child(tmp_path, "readonly")
    assert "opened" not in out
    assert "opened_new" not in out
    assert "read-only" in out["error"], out["error"]
    assert "netmon.sqlite" in out["error"]
    # a new file in a read-only directory: SQLite only says it cannot open it
    assert "new.sqlite: cannot open" in out["error_new"], out["error_new"]


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The full-disk scenario, run once for the tests below."""
    work = tmp_path_factory.mktemp("full")
    return run_child(work, "full", str(ROOT / "config" / "quang-ngai-2021.yaml"), str(work))


def test_full_disk_fails_loudly_and_does_not_record_the_batch(full_disk: dict[str, Any]) -> None:
    assert full_disk["failed_at"] is not None, "the disk never filled"
    assert full_disk["applied_before"] == full_disk["failed_at"] > 0
    assert full_disk["failed_is_duplicate"] is False  # not recorded as applied
    assert "ERROR" in full_disk["log"]
    assert "disk is full" in full_disk["log"]  # the operator is told why


def test_after_space_is_freed_the_redelivered_batch_is_applied_once(full_disk: dict[str, Any]) -> None:
    assert full_disk["applied_after"] == full_disk["applied_before"] + 1
    assert full_disk["duplicate_after"] is True
    assert full_disk["duplicates"] == 1
    assert full_disk["ledger_survives"] is True  # nothing committed before was lost


def test_full_disk_error_itself_names_the_full_disk(full_disk: dict[str, Any]) -> None:
    last_error = next(line for line in full_disk["log"].splitlines() if line.startswith("sqlite3."))
    assert "database or disk is full" in last_error
    assert "cannot rollback" not in full_disk["log"]


def test_recovered_store_agrees_with_one_that_never_filled(full_disk: dict[str, Any]) -> None:
    assert full_disk["transitions_equal"] is True, full_disk["transitions_counts"]
