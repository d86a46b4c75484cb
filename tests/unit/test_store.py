"""The SQLite store: clear errors at start-up, the exactly-once ledger, dead letters,
atomic commits, retention, and surviving SIGKILL (a real subprocess)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from netmon.collector.model import Outage, State, Transition
from netmon.collector.store import Commit, SqliteStore, StoreError


@pytest.fixture
def store(tmp_path: Path):
    s = SqliteStore.open(tmp_path / "netmon.sqlite", retention_days=30, dead_letter_max=5)
    yield s
    s.close()


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "netmon.sqlite"
    bad.write_bytes(b"this is not a database\n" * 500)
    with pytest.raises(StoreError, match=r"not a database.*move it aside"):
        SqliteStore.open(bad)


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        SqliteStore.open(tmp_path / "nope" / "netmon.sqlite")


def test_read_only_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "netmon.sqlite"
    SqliteStore.open(path).close()
    if os.geteuid() == 0:
        # root ignores permission bits; the immutable attribute stops root too.
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o444)
    try:
        with pytest.raises(StoreError, match="read-only"):
            SqliteStore.open(path)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)


def test_cli_start_up_error_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "netmon.sqlite"
    bad.write_bytes(b"garbage" * 1000)
    code = f"from collector.store import SqliteStore, StoreError\ntry:\n    SqliteStore.open({str(bad)!r})\nexcept StoreError as e:\n    print(e)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Traceback" not in out.stdout + out.stderr
    assert str(bad) in out.stdout


def test_ledger_exactly_once_in_order_and_out_of_order(store: SqliteStore) -> None:
    assert not store.is_duplicate("a", 10)
    store.commit(Commit(ledger=("a", 10)))
    assert store.is_duplicate("a", 10)
    assert not store.is_duplicate("a", 11)
    assert not store.is_duplicate("a", 9)
    store.commit(Commit(ledger=("a", 12)))
    store.commit(Commit(ledger=("a", 9)))
    assert store.is_duplicate("a", 12)
    assert store.is_duplicate("a", 9)
    assert not store.is_duplicate("a", 11)
    store.commit(Commit(ledger=("a", 11)))
    assert all(store.is_duplicate("a", s) for s in (9, 10, 11, 12))
    assert not store.is_duplicate("b", 10)  # per agent


def test_ledger_accepts_a_backlog_far_behind_live_batches(store: SqliteStore) -> None:
    for seq in range(5000, 5010):  # live batches first, after a long outage
        store.commit(Commit(ledger=("a", seq)))
    for seq in range(1, 5000):  # the backlog drains afterwards, none of it a duplicate
        assert not store.is_duplicate("a", seq)
        store.commit(Commit(ledger=("a", seq)))
    assert all(store.is_duplicate("a", s) for s in (1, 2500, 4999, 5009))
    assert not store.is_duplicate("a", 5010)


def test_ledger_survives_reopen(tmp_path: Path) -> None:
    s = SqliteStore.open(tmp_path / "s.sqlite")
    s.commit(Commit(ledger=("a", 5)))
    s.commit(Commit(ledger=("a", 7)))
    s.close()
    s = SqliteStore.open(tmp_path / "s.sqlite")
    assert s.is_duplicate("a", 5)
    assert s.is_duplicate("a", 7)
    assert not s.is_duplicate("a", 6)
    s.close()


def test_failed_commit_writes_nothing_not_even_the_ledger(store: SqliteStore) -> None:
    bad = Commit(
        transitions=[Transition("d", 1.0, State.UP, State.DOWN)],
        devices={"d": "not bytes"},  # type: ignore[dict-item]
        ledger=("a", 1),
        history=[("d", 1.0, True, None, None, None, "one too many")],  # type: ignore[list-item]
    )
    with pytest.raises(Exception):  # noqa: B017, PT011 - any database error will do
        store.commit(bad)
    assert not store.is_duplicate("a", 1)
    assert store.reader.transitions("d", 0, 10) == []


def test_outages_follow_transitions_and_rewrites(store: SqliteStore) -> None:
    def tr(ts: float, old: State, new: State) -> Transition:
        return Transition("d", ts, old, new, "why", "r" if new == State.UNREACHABLE else None)

    def opened(ts: float, state: State) -> Outage:
        return Outage("d", "c", "x", state, ts, None, "why", "r" if state == State.UNREACHABLE else None)

    store.commit(
        Commit(
            transitions=[tr(10, State.UNKNOWN, State.UP), tr(20, State.UP, State.DOWN)], opened=[opened(20, State.DOWN)]
        )
    )
    store.commit(Commit(transitions=[tr(30, State.DOWN, State.UNREACHABLE)], opened=[opened(30, State.UNREACHABLE)]))
    store.commit(Commit(transitions=[tr(50, State.UNREACHABLE, State.UP)]))
    outs = store.reader.outages(0, 100)
    assert [(o.state, o.start, o.end, o.root_cause) for o in outs] == [
        (State.UNREACHABLE, 30, 50, "r"),
        (State.DOWN, 20, 30, None),
    ]
    assert [o.start for o in store.reader.outages(35, 40)] == [30]
    assert store.reader.outages(0, 100, commune="c", limit=1)[0].start == 30
    assert store.reader.outages(0, 100, device="other") == []
    # Late samples rewrite from 30: the UNREACHABLE is forgotten and the DOWN is open again.
    store.commit(Commit(rewrite_from={"d": 30.0}))
    assert [(o.start, o.end) for o in store.reader.outages(0, 100)] == [(20, None)]
    assert [t.ts for t in store.reader.transitions("d", 0, 100)] == [10, 20]
    assert store.reader.timelines(15) == {"d": [(10.0, State.UP), (20.0, State.DOWN)]}


def test_an_outage_open_in_the_file_or_before_a_failed_commit_is_ended(tmp_path: Path) -> None:
    # The store skips ending outages of devices it knows have none open: what it knows must
    # come from the file on opening, and survive a commit that failed.
    path = tmp_path / "o.sqlite"
    first = SqliteStore.open(path)
    first.commit(
        Commit(
            transitions=[Transition("d", 20, State.UP, State.DOWN)],
            opened=[Outage("d", "c", "x", State.DOWN, 20, None, "why", None)],
        )
    )
    first.close()
    store = SqliteStore.open(path)
    with pytest.raises(sqlite3.ProgrammingError, match="bindings"):
        store.commit(
            Commit(
                transitions=[Transition("d", 30, State.DOWN, State.UP)],
                history=[("d", 1.0, True, None, None, None, "one too many")],  # type: ignore[list-item]
            )
        )
    assert [o.end for o in store.reader.outages(0, 100)] == [None]
    store.commit(Commit(transitions=[Transition("d", 40, State.DOWN, State.UP)]))
    assert [(o.start, o.end) for o in store.reader.outages(0, 100)] == [(20, 40)]
    store.close()


def test_dead_letters_are_bounded(store: SqliteStore) -> None:
    for i in range(8):
        store.dead_letter(float(i), "netmon/v1/agents/a/samples", "json", f"bad {i}", b"{")
    letters = store.dead_letters(10)
    assert [d.detail for d in letters] == [f"bad {i}" for i in range(7, 2, -1)]
    assert letters[0].payload == b"{"
    assert letters[0].reason == "json"


def dead_bytes(path: Path) -> int:
    """What the dead letters hold in the file: payload, detail and topic bytes."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(length(payload) + length(CAST(detail AS BLOB)) + length(CAST(topic AS BLOB))), 0) "
            "FROM dead_letters"
        ).fetchone()
    return int(row[0])


def test_dead_letters_are_bounded_by_bytes_keeping_the_newest(tmp_path: Path) -> None:
    path = tmp_path / "netmon.sqlite"
    limit = 1_000_000
    store = SqliteStore.open(path, dead_letter_max_bytes=limit)
    topic = "netmon/v1/agents/a/samples"
    for i in range(60):  # 60 payloads of 100 kB: 6 MB offered, 1 MB kept
        store.dead_letter(float(i), topic, "json", f"bad {i}", bytes([i]) * 100_000)
    letters = store.dead_letters(100)
    assert dead_bytes(path) <= limit
    assert [d.detail for d in letters] == [f"bad {i}" for i in range(59, 59 - len(letters), -1)]  # the newest
    assert len(letters) == 9  # as many of the newest as fit
    store.close()
    store = SqliteStore.open(path, dead_letter_max_bytes=limit)  # the byte count survives a restart
    for i in range(60, 65):
        store.dead_letter(float(i), topic, "json", f"bad {i}", bytes([i]) * 100_000)
    assert dead_bytes(path) <= limit
    assert store.dead_letters(1)[0].detail == "bad 64"
    # one payload larger than the whole bound is cut to fit, never kept whole
    store.dead_letter(99.0, topic, "json", "huge", b"x" * 5_000_000)
    assert dead_bytes(path) <= limit
    assert [d.detail for d in store.dead_letters(100)] == ["huge"]
    store.close()


def test_the_default_dead_letter_bound_is_64_mib() -> None:
    from netmon.config.settings import StoreSettings

    assert StoreSettings().dead_letter_max_bytes == 64 * 1024 * 1024


def test_retention_keeps_the_state_at_the_cut(store: SqliteStore) -> None:
    day = 86400.0
    now = 100 * day
    store.commit(
        Commit(
            transitions=[
                Transition("d", 1 * day, State.UNKNOWN, State.UP),
                Transition("d", 2 * day, State.UP, State.DOWN),
                Transition("d", 90 * day, State.DOWN, State.UP),
            ],
            history=[("d", 1.0, True, 0.1, 0.0, 0.0), ("d", now - 10, True, 0.1, 0.0, 0.0)],
        )
    )
    store.prune(now, history_keep_s=3600)
    assert [t.ts for t in store.reader.transitions("d", 0, now)] == [
        2 * day,
        90 * day,
    ]  # the DOWN still says how the log begins
    assert [h.ts for h in store.reader.history("d", 0)] == [now - 10]


KILL_CHILD = textwrap.dedent(
    """
    import sys
    from netmon.agent import wire
    from netmon.collector.engine import Engine
    from netmon.collector.store import SqliteStore
    from netmon.config.inventory import Inventory
    from netmon.config.settings import CollectorSettings, StateSettings

    inv = Inventory.model_validate({"province": {"code": "51", "name": "P"}, "communes": [
        {"code": "00001", "name": "A", "devices": [{"id": "a", "role": "cpe", "address": "127.0.0.1"}]}]})
    settings = CollectorSettings(inventory="-", state=StateSettings(down_after=1, default_interval_s=60))
    store = SqliteStore.open(sys.argv[1])
    engine = Engine(inv, settings, store, clock=lambda: 1_800_000_000.0)
    for seq in range(100000):
        ts = 1_800_000_000.0 + 60 * seq
        engine.apply_batch(wire.SampleBatch(v=1, agent="ag", seq=seq, sent_at=ts, samples=[
            wire.Sample(device="a", probe="icmp", ts=ts, ok=seq % 2 == 0)]), ts)
        print(seq, flush=True)
    """
)


def test_survives_sigkill_with_batches_applied_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "netmon.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    last = -1
    for line in proc.stdout:
        last = int(line)
        if last >= 300:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = SqliteStore.open(path)
    try:
        # Every batch reported applied is recorded; the ledger and the effects agree. Batch 0
        # makes UNKNOWN -> UP and each good batch after it ends the failed round before it
        # (UP -> DOWN, then DOWN -> UP). A failed batch opens a round that only the next
        # sample (or the tick) decides, so a last applied batch that failed has no
        # transition yet.
        assert store.is_duplicate("ag", last)
        applied = store._seen["ag"].count()
        assert list(store._seen["ag"].ranges()) == [(0, applied - 1)]
        trs = store.reader.transitions("a", 0, 2e10)
        last_applied = applied - 1
        assert len(trs) == (applied if last_applied % 2 == 0 else applied - 1)
        assert [t.new for t in trs[:3]] == [State.UP, State.DOWN, State.UP]
        assert len(store.load_devices()) <= 1
    finally:
        store.close()


def test_damaged_pages_are_a_clear_error_when_the_engine_starts(tmp_path: Path) -> None:
    from netmon.collector.engine import Engine
    from netmon.config.inventory import Inventory
    from netmon.config.settings import CollectorSettings

    path = tmp_path / "netmon.sqlite"
    s = SqliteStore.open(path)
    s.commit(
        Commit(transitions=[Transition(f"d{i}", float(i), State.UNKNOWN, State.UP, "x" * 200) for i in range(3000)])
    )
    s.close()
    data = bytearray(path.read_bytes())
    page = 4096
    for off in range(3 * page, len(data), page):  # keep the header and the schema, damage the rest
        data[off : off + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    inv = Inventory.model_validate({"province": {"code": "51", "name": "P"}})

    def start() -> None:
        # Whether opening notices (it writes a page) or the engine's first reads do,
        # the error is a StoreError that names the file and says what to do.
        Engine(inv, CollectorSettings(inventory="-"), SqliteStore.open(path))

    with pytest.raises(StoreError, match=r"netmon.sqlite: .*(damaged|corrupt)"):
        start()
