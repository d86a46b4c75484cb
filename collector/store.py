"""The collector's store: one SQLite file in WAL mode, no server.

What it keeps: the transition log (the source of truth for availability), outages (an
index over the log for queries), reboots (facts beside the log: a reboot too short to be an
outage is in no transition), each device's current state, the ingest ledger of
``(agent, seq)`` already applied, dead letters, and a bounded latency history for charts.

The engine writes everything one sample batch produces in **one transaction** with that
batch's ``(agent, seq)``, so after a crash (even SIGKILL) a batch is either fully applied
and recorded, or neither: the redelivery is then applied exactly once. WAL with
``synchronous=NORMAL`` survives a killed process; only a power cut can lose the last few
commits (never corrupt the file).

:class:`Store` is the small interface the engine needs, so a server database can
implement it later; :class:`SqliteStore` is the embedded default.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from netmon.collector.ledger import Gaps, SeenSequences
from netmon.collector.model import Outage, Reboot, Transition
from netmon.collector.storeread import StoreError, StoreReader
from netmon.config.settings import StoreSettings

__all__ = [
    "ENVIRONMENT_ERRORS",
    "Commit",
    "DeadLetter",
    "HistoryRow",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreReader",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS transitions (
    device TEXT NOT NULL, ts REAL NOT NULL, old TEXT NOT NULL, new TEXT NOT NULL,
    cause TEXT NOT NULL, root_cause TEXT
);
CREATE INDEX IF NOT EXISTS transitions_device_ts ON transitions (device, ts);
CREATE INDEX IF NOT EXISTS transitions_ts ON transitions (ts);
CREATE TABLE IF NOT EXISTS outages (
    id INTEGER PRIMARY KEY, device TEXT NOT NULL, commune TEXT, district TEXT, state TEXT NOT NULL,
    start REAL NOT NULL, end_ts REAL, cause TEXT NOT NULL, root_cause TEXT
);
CREATE INDEX IF NOT EXISTS outages_start ON outages (start);
CREATE INDEX IF NOT EXISTS outages_device ON outages (device, start);
CREATE INDEX IF NOT EXISTS outages_open ON outages (device) WHERE end_ts IS NULL;
CREATE INDEX IF NOT EXISTS outages_device_end ON outages (device, end_ts);
CREATE TABLE IF NOT EXISTS devices (id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen_batches (agent TEXT PRIMARY KEY, ranges TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agents (id TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY, ts REAL NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL,
    detail TEXT NOT NULL, payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    device TEXT NOT NULL, ts REAL NOT NULL, ok INTEGER NOT NULL, rtt REAL, loss REAL, jitter REAL
);
CREATE INDEX IF NOT EXISTS history_device_ts ON history (device, ts);
CREATE TABLE IF NOT EXISTS live_tails (gen INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS reboots (
    device TEXT NOT NULL, ts REAL NOT NULL, reported_at REAL NOT NULL, agent TEXT NOT NULL, uptime_s REAL
);
CREATE INDEX IF NOT EXISTS reboots_ts ON reboots (ts);
CREATE INDEX IF NOT EXISTS reboots_device_ts ON reboots (device, ts);
"""
#: Tables are only ever added (``IF NOT EXISTS``): a store of an older collector opens as
#: it is, and gains them. The version changes when an existing table changes.
SCHEMA_VERSION = "1"
#: The dead letters' default bound, in bytes (the settings' default).
DEAD_LETTER_MAX_BYTES = StoreSettings.model_fields["dead_letter_max_bytes"].default
#: The longest payload kept in one dead letter.
MAX_DEAD_PAYLOAD = 1_000_000
#: What a dead letter holds, in bytes, in SQL (``length`` of a blob reads no content).
_LETTER_BYTES = "length(payload) + length(CAST(detail AS BLOB)) + length(CAST(topic AS BLOB))"

#: Failures of the collector's environment, not of what it was given (full disk, I/O
#: error, locked or read-only store): the work is rolled back and done again later.
ENVIRONMENT_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, OSError, StoreError)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A payload that could not be applied, kept for inspection."""

    id: int
    ts: float
    topic: str
    reason: str
    detail: str
    payload: bytes


class HistoryRow(NamedTuple):
    """A latency point for the charts, as written."""

    device: str
    ts: float
    ok: bool
    rtt_avg_s: float | None
    loss_ratio: float | None
    jitter_s: float | None


@dataclass
class Commit:
    """Everything one batch (or one tick) changes, written in one transaction.

    Attributes:
        transitions: New transitions, in time order per device.
        opened: Outages that begin (``end`` None), one per transition into DOWN/UNREACHABLE.
        rewrite_from: ``device -> ts``: forget that device's transitions and outages from
            ``ts`` on before writing the new ones (late samples rewrote its history).
        devices: ``device -> serialized state`` to upsert.
        agents: ``agent -> serialized view`` to upsert.
        ledger: The ``(agent, seq)`` of the batch, recorded in the same transaction.
        history: Latency points for the charts.
        reboots: Reboots the batch reported (new ones only: see :mod:`collector.reboots`).
        gen: The commit's number (the engine's; records saved carry it).
        tails: The live tails of the devices the batch moved (encoded), saved with it.
        drop_tails: Forget every saved live tail (every device's record is in ``devices``).
        drop_tails_upto: Forget the live tails of the commits up to this one (every device's
            record has been saved whole since: see :mod:`collector.tails`).
    """

    transitions: list[Transition] = field(default_factory=list)
    opened: list[Outage] = field(default_factory=list)
    rewrite_from: dict[str, float] = field(default_factory=dict)
    devices: dict[str, bytes] = field(default_factory=dict)
    agents: dict[str, bytes] = field(default_factory=dict)
    ledger: tuple[str, int] | None = None
    history: list[HistoryRow] = field(default_factory=list)
    reboots: list[Reboot] = field(default_factory=list)
    gen: int = 0
    tails: bytes | None = None
    drop_tails: bool = False
    drop_tails_upto: int | None = None

    def has_effects(self) -> bool:
        """Whether there is anything to write."""
        return bool(
            self.transitions
            or self.devices
            or self.ledger is not None
            or self.agents
            or self.history
            or self.reboots
            or self.rewrite_from
            or self.tails is not None
            or self.drop_tails
            or self.drop_tails_upto is not None
        )


class Store(Protocol):
    """What the engine and the ingest need of a store (SQLite now, a server database later)."""

    #: Queries over the log, on a connection of their own.
    reader: StoreReader

    def is_duplicate(self, agent: str, seq: int) -> bool:
        """Whether the batch ``(agent, seq)`` was already applied."""
        ...

    def dead_letter(self, ts: float, topic: str, reason: str, detail: str, payload: bytes) -> None:
        """Keep a payload that could not be applied."""
        ...

    def dead_letters(self, limit: int) -> list[DeadLetter]:
        """The newest dead letters."""
        ...

    def commit(self, commit: Commit) -> None:
        """Write one batch's effects atomically."""
        ...

    def load_devices(self) -> dict[str, bytes]:
        """Every device's serialized state."""
        ...

    def load_agents(self) -> dict[str, bytes]:
        """Every agent's serialized view."""
        ...

    def load_tails(self) -> list[tuple[int, bytes]]:
        """The live tails saved since the last checkpoint: ``(gen, data)`` in commit order."""
        ...

    def prune(self, now: float, *, history_keep_s: float) -> None:
        """Drop what is older than the retention."""
        ...

    def close(self) -> None:
        """Flush and close."""
        ...


class SqliteStore:
    """The embedded store; thread-safe (one lock around one connection)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: str,
        retention_days: int,
        dead_letter_max: int,
        dead_letter_max_bytes: int = DEAD_LETTER_MAX_BYTES,
    ) -> None:
        self._conn = conn
        self.path = path
        self.retention_days = retention_days
        self.dead_letter_max = dead_letter_max
        self.dead_letter_max_bytes = dead_letter_max_bytes
        self._lock = threading.RLock()
        self._seen: dict[str, SeenSequences] = {}
        self._load_ledger(conn)
        #: Devices that may have an open outage (never fewer than have one): a transition of
        #: any other has no outage to end, and its commit skips the UPDATE (a device's first
        #: transitions at start-up are 30,000 of them at national scale).
        self._open: set[str] = set()
        self._load_open(conn)
        row = conn.execute(f"SELECT count(*), coalesce(sum({_LETTER_BYTES}), 0) FROM dead_letters").fetchone()
        self._dead_count, self._dead_bytes = int(row[0]), int(row[1])
        #: Queries over the log. A file store reads on a read-only connection of its own (a
        #: long query neither waits for a batch nor makes one wait); an in-memory one
        #: shares this connection and its lock.
        self.reader = StoreReader(conn, path, self._lock)
        if path != ":memory:":
            self.reader = StoreReader.open(path, schema=SCHEMA_VERSION)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        retention_days: int = 800,
        dead_letter_max: int = 10_000,
        dead_letter_max_bytes: int = DEAD_LETTER_MAX_BYTES,
    ) -> SqliteStore:
        """Open (creating if needed) the store at ``path``.

        Raises:
            StoreError: With a message saying what is wrong with the file and what to do.
        """
        spath = str(path)
        if spath != ":memory:":
            parent = Path(spath).parent
            if not parent.is_dir():
                raise StoreError(f"store {spath}: directory {parent} does not exist")
        try:
            conn = sqlite3.connect(spath, isolation_level=None, check_same_thread=False, timeout=10.0)
        except sqlite3.Error as exc:
            raise StoreError(f"store {spath}: cannot open: {exc}") from None
        try:
            conn.execute("PRAGMA schema_version").fetchone()  # reads the header: fails on a non-database
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise StoreError(
                    f"store {spath}: schema version {row[0]}, this collector uses {SCHEMA_VERSION}; "
                    "move the file aside or upgrade the collector"
                )
            if spath != ":memory:" and str(mode).lower() != "wal":
                raise StoreError(f"store {spath}: cannot switch to WAL mode (journal_mode={mode})")
            # A read-only file can still be read: prove that we can write.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('opened', datetime('now'))")
            conn.execute("COMMIT")
            return cls(conn, spath, retention_days, dead_letter_max, dead_letter_max_bytes)
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            msg = str(exc)
            if "readonly" in msg or "read-only" in msg or "unable to open" in msg:
                hint = "the file or its directory is read-only: fix the permissions or choose another store.path"
            elif "not a database" in msg or "malformed" in msg or "corrupt" in msg:
                hint = (
                    "the file is not a valid netmon store (corrupt?): move it aside, the collector will start a new one"
                )
            else:
                hint = "check the file, its permissions and the free disk space"
            raise StoreError(f"store {spath}: {msg}; {hint}") from None

    # --- ingest ledger ----------------------------------------------------------------

    def is_duplicate(self, agent: str, seq: int) -> bool:
        """Whether the batch ``(agent, seq)`` was already applied."""
        with self._lock:
            seen = self._seen.get(agent)
            return seen is not None and seq in seen

    def ledger_gaps(self) -> dict[str, Gaps]:
        """Per agent, the gaps in the sequence numbers applied (missing batches, jumps)."""
        with self._lock:
            return {agent: seen.gaps() for agent, seen in self._seen.items()}

    def _load_ledger(self, conn: sqlite3.Connection) -> None:
        rows = conn.execute("SELECT agent, ranges FROM seen_batches")
        self._seen = {agent: SeenSequences.decode(ranges) for agent, ranges in rows}

    def _load_open(self, conn: sqlite3.Connection) -> None:
        self._open = {device for (device,) in conn.execute("SELECT DISTINCT device FROM outages WHERE end_ts IS NULL")}

    def _record(self, agent: str, seq: int) -> None:
        seen = self._seen.setdefault(agent, SeenSequences())
        seen.add(seq)
        self._conn.execute("INSERT OR REPLACE INTO seen_batches (agent, ranges) VALUES (?, ?)", (agent, seen.encode()))

    # --- dead letters -------------------------------------------------------------------

    def dead_letter(self, ts: float, topic: str, reason: str, detail: str, payload: bytes) -> None:
        """Keep a payload that could not be applied.

        The newest are kept: the oldest go beyond ``dead_letter_max`` letters or
        ``dead_letter_max_bytes`` bytes (payload, detail and topic); a payload larger than
        the byte bound is cut to fit.
        """
        if self.dead_letter_max <= 0 or self.dead_letter_max_bytes <= 0:
            return
        topic, detail = topic[:1000], detail[:2000]
        overhead = len(topic.encode()) + len(detail.encode())
        payload = payload[: max(0, min(MAX_DEAD_PAYLOAD, self.dead_letter_max_bytes - overhead))]
        size = overhead + len(payload)
        with self._lock:
            c = self._conn
            c.execute("BEGIN")
            try:
                c.execute(
                    "INSERT INTO dead_letters (ts, topic, reason, detail, payload) VALUES (?, ?, ?, ?, ?)",
                    (ts, topic, reason, detail, payload),
                )
                count, held = self._dead_count + 1, self._dead_bytes + size
                count, held = self._evict_letters(c, count, held)
                c.execute("COMMIT")
                self._dead_count, self._dead_bytes = count, held
            except BaseException:
                # SQLite has already rolled back after SQLITE_FULL or an I/O error; a second
                # ROLLBACK would raise and hide the real error (and skip the ledger reload).
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

    def _evict_letters(self, c: sqlite3.Connection, count: int, held: int) -> tuple[int, int]:
        """Delete the oldest letters until both bounds hold; the new count and bytes."""
        while count > self.dead_letter_max or held > self.dead_letter_max_bytes:
            oldest = c.execute(f"SELECT id, {_LETTER_BYTES} FROM dead_letters ORDER BY id LIMIT 256").fetchall()
            cut = None
            for rid, size in oldest:
                if count <= self.dead_letter_max and held <= self.dead_letter_max_bytes:
                    break
                cut, count, held = rid, count - 1, held - int(size)
            if cut is None:
                break
            c.execute("DELETE FROM dead_letters WHERE id <= ?", (cut,))
        return count, held

    def dead_letters(self, limit: int) -> list[DeadLetter]:
        """The newest ``limit`` dead letters, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, ts, topic, reason, detail, payload FROM dead_letters ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [DeadLetter(int(r[0]), float(r[1]), r[2], r[3], r[4], bytes(r[5])) for r in rows]

    # --- writes -------------------------------------------------------------------------

    def commit(self, commit: Commit) -> None:
        """Write one batch's effects and its ledger entry in one transaction."""
        with self._lock:
            c = self._conn
            c.execute("BEGIN")
            try:
                for device, ts in commit.rewrite_from.items():
                    c.execute("DELETE FROM transitions WHERE device = ? AND ts >= ?", (device, ts))
                    c.execute("DELETE FROM outages WHERE device = ? AND start >= ?", (device, ts))
                    c.execute("UPDATE outages SET end_ts = NULL WHERE device = ? AND end_ts >= ?", (device, ts))
                    self._open.add(device)
                if commit.transitions:
                    c.executemany(
                        "INSERT INTO transitions (device, ts, old, new, cause, root_cause) VALUES (?, ?, ?, ?, ?, ?)",
                        [(t.device, t.ts, t.old.value, t.new.value, t.cause, t.root_cause) for t in commit.transitions],
                    )
                # In order: every transition ends the device's open outage (an outage is one
                # stretch of one state), then one into DOWN/UNREACHABLE opens the next. A batch
                # may hold both the start and the end of an outage.
                opening = {(o.device, o.start): o for o in commit.opened}
                for t in commit.transitions:
                    if t.device in self._open:
                        c.execute("UPDATE outages SET end_ts = ? WHERE device = ? AND end_ts IS NULL", (t.ts, t.device))
                        self._open.discard(t.device)
                    o = opening.pop((t.device, t.ts), None)
                    if o is not None:
                        if o.end is None:
                            self._open.add(o.device)
                        c.execute(
                            "INSERT INTO outages (device, commune, district, state, start, end_ts, cause, root_cause) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            (o.device, o.commune, o.district, o.state.value, o.start, o.end, o.cause, o.root_cause),
                        )
                if opening:  # outages without their transition in this commit (not made by the engine)
                    self._open.update(o.device for o in opening.values() if o.end is None)
                    c.executemany(
                        "INSERT INTO outages (device, commune, district, state, start, end_ts, cause, root_cause) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            (o.device, o.commune, o.district, o.state.value, o.start, o.end, o.cause, o.root_cause)
                            for o in opening.values()
                        ],
                    )
                if commit.devices:
                    c.executemany("INSERT OR REPLACE INTO devices (id, data) VALUES (?, ?)", commit.devices.items())
                if commit.agents:
                    c.executemany("INSERT OR REPLACE INTO agents (id, data) VALUES (?, ?)", commit.agents.items())
                if commit.history:
                    c.executemany(
                        "INSERT INTO history (device, ts, ok, rtt, loss, jitter) VALUES (?, ?, ?, ?, ?, ?)",
                        commit.history,
                    )
                if commit.reboots:
                    c.executemany(
                        "INSERT INTO reboots (device, ts, reported_at, agent, uptime_s) VALUES (?, ?, ?, ?, ?)",
                        [(r.device, r.ts, r.reported_at, r.agent, r.uptime_s) for r in commit.reboots],
                    )
                if commit.drop_tails:
                    c.execute("DELETE FROM live_tails")
                elif commit.drop_tails_upto is not None:
                    c.execute("DELETE FROM live_tails WHERE gen <= ?", (commit.drop_tails_upto,))
                if commit.tails is not None:
                    c.execute("INSERT OR REPLACE INTO live_tails (gen, data) VALUES (?, ?)", (commit.gen, commit.tails))
                if commit.ledger is not None:
                    self._record(*commit.ledger)
                c.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back after SQLITE_FULL or an I/O error; a second
                # ROLLBACK would raise and hide the real error (and skip the ledger reload).
                if c.in_transaction:
                    c.execute("ROLLBACK")
                # The in-memory ledger and open outages may be ahead of the database now: reload them.
                self._load_ledger(c)
                self._load_open(c)
                raise

    # --- reads --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        """Read on the writing connection, under the lock; a damaged file is a
        :class:`StoreError` that says so."""
        with StoreReader(self._conn, self.path, self._lock).reading(what):
            yield

    def load_devices(self) -> dict[str, bytes]:
        """Every device's serialized state."""
        with self._reading("device states"):
            return {r[0]: bytes(r[1]) for r in self._conn.execute("SELECT id, data FROM devices")}

    def load_agents(self) -> dict[str, bytes]:
        """Every agent's serialized view."""
        with self._reading("agents"):
            return {r[0]: bytes(r[1]) for r in self._conn.execute("SELECT id, data FROM agents")}

    def load_tails(self) -> list[tuple[int, bytes]]:
        """The live tails saved since the last checkpoint: ``(gen, data)`` in commit order."""
        with self._reading("live tails"):
            return [
                (int(r[0]), bytes(r[1])) for r in self._conn.execute("SELECT gen, data FROM live_tails ORDER BY gen")
            ]

    def prune(self, now: float, *, history_keep_s: float) -> None:
        """Drop transitions, outages and reboots older than the retention, and old latency points."""
        cutoff = now - self.retention_days * 86400.0
        with self._lock:
            c = self._conn
            c.execute("BEGIN")
            try:
                # Keep each device's last transition before the cutoff: it says what state
                # the device was in when the retained log begins.
                c.execute(
                    "DELETE FROM transitions WHERE ts < ? AND rowid NOT IN "
                    "(SELECT max(rowid) FROM transitions WHERE ts < ? GROUP BY device)",
                    (cutoff, cutoff),
                )
                c.execute("DELETE FROM outages WHERE end_ts IS NOT NULL AND end_ts < ?", (cutoff,))
                c.execute("DELETE FROM reboots WHERE ts < ?", (cutoff,))
                c.execute("DELETE FROM history WHERE ts < ?", (now - history_keep_s,))
                c.execute("COMMIT")
            except BaseException:
                # SQLite has already rolled back after SQLITE_FULL or an I/O error; a second
                # ROLLBACK would raise and hide the real error (and skip the ledger reload).
                if c.in_transaction:
                    c.execute("ROLLBACK")
                raise

    def forget_devices(self, keep: Iterable[str]) -> None:
        """Drop the saved state of devices no longer in the inventory (their log stays)."""
        keep_set = set(keep)
        with self._lock:
            gone = [r[0] for r in self._conn.execute("SELECT id FROM devices") if r[0] not in keep_set]
            if gone:
                self._conn.executemany("DELETE FROM devices WHERE id = ?", [(g,) for g in gone])

    def close(self) -> None:
        """Checkpoint the WAL and close."""
        with self._lock:
            if self.path != ":memory:":
                self.reader.close()
            with contextlib.suppress(sqlite3.Error):  # closing anyway; the WAL is replayed on the next open
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
