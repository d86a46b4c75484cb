"""The agent's durable outbox: every batch is on disk before it is published.

A batch is written (and its sequence number allocated) in one SQLite transaction, then
published; it leaves the outbox only when the broker acknowledged it (PUBACK). SQLite in
WAL mode with ``synchronous=NORMAL`` survives a killed process (SIGKILL, OOM): a
committed transaction is in the WAL file, which the next open replays. (A power cut may
lose the last transactions; ``synchronous=FULL`` would close that at a higher cost per
batch, and the collector's de-duplication makes a replay harmless either way.)

The sequence number is a counter in the same database, so it keeps growing across
restarts even when the queue is empty. A brand-new outbox starts at the current time in
milliseconds rather than at 0: if an outbox file is lost and recreated, its numbers still
start above everything the old one sent (unless it sent more than a thousand batches per
second on average), so the collector's de-duplication does not mistake new batches for
old ones.

Bounded by size and age: when a bound is exceeded the oldest batches are dropped first,
and every drop is counted (persisted, exported by the agent's self-metrics) — never
silent. Synchronous and small on purpose: one insert per batch (not per sample), a few
hundred microseconds, called from the event loop.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from netmon.agent import wire
from netmon.config.settings import OutboxSettings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    samples INTEGER NOT NULL,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL
);
"""


class OutboxError(RuntimeError):
    """The outbox file cannot be opened or written (corrupt, read-only, disk full)."""


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """What is queued and what was dropped (drops are totals since the file was created).

    Attributes:
        depth: Batches waiting for a PUBACK.
        bytes: Their encoded size.
        oldest_age_s: Age of the oldest waiting batch, 0 when empty.
        dropped_batches: Batches dropped by the size/age bounds, ever.
        dropped_samples: Samples in those batches.
        next_seq: The sequence number the next batch gets.
    """

    depth: int
    bytes: int
    oldest_age_s: float
    dropped_batches: int
    dropped_samples: int
    next_seq: int


@dataclass(frozen=True, slots=True)
class Queued:
    """One queued batch: its sequence number and the encoded payload to publish."""

    seq: int
    payload: bytes
    created: float


class Outbox:
    """A durable FIFO of encoded :class:`~agent.wire.SampleBatch` payloads.

    Args:
        path: SQLite file (created if missing).
        settings: Bounds (``max_bytes``, ``max_age_s``).
        agent_id: Written into every batch.
        clock: Unix time.
    """

    def __init__(
        self,
        path: str | Path,
        settings: OutboxSettings,
        agent_id: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.agent_id = agent_id
        self._clock = clock
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('next_seq', ?)", (int(clock() * 1000),))
            for key in ("dropped_batches", "dropped_samples"):
                self._db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, 0)", (key,))
            row = self._db.execute("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM batches").fetchone()
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"cannot open outbox {path}: {exc}") from None
        # Kept in memory so the hot paths (append, ack, drain) never scan the table.
        self._bytes = int(row[0])
        self._depth = int(row[1])

    def close(self) -> None:
        """Close the file (everything committed is already durable)."""
        self._db.close()

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    def append(self, samples: Sequence[wire.Sample]) -> Queued:
        """Allocate the next sequence number, encode the batch and store it, atomically.

        Then enforce the bounds (which may drop the oldest batches, counted).

        Raises:
            OutboxError: The write failed (disk full, read-only file).
        """
        now = self._clock()
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                seq = self._meta("next_seq")
                batch = wire.SampleBatch(
                    v=wire.SCHEMA_VERSION, agent=self.agent_id, seq=seq, sent_at=now, samples=list(samples)
                )
                payload = wire.encode(batch)
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (seq + 1,))
                self._db.execute(
                    "INSERT INTO batches(seq, created, samples, size, payload) VALUES (?, ?, ?, ?, ?)",
                    (seq, now, len(samples), len(payload), payload),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot write to the outbox: {exc}") from None
        self._bytes += len(payload)
        self._depth += 1
        self.enforce_bounds(now)
        return Queued(seq, payload, now)

    def enforce_bounds(self, now: float | None = None) -> int:
        """Drop batches older than ``max_age_s``, then the oldest while over ``max_bytes``.

        Returns:
            How many batches were dropped (also added to the persisted totals).
        """
        now = self._clock() if now is None else now
        cutoff = now - self.settings.max_age_s
        if self._bytes <= self.settings.max_bytes:
            oldest = self._db.execute("SELECT created FROM batches ORDER BY seq LIMIT 1").fetchone()
            if oldest is None or oldest[0] >= cutoff:
                return 0  # the common case: one indexed lookup
        drop: list[tuple[int, int, int]] = self._db.execute(
            "SELECT seq, samples, size FROM batches WHERE created < ? ORDER BY seq", (cutoff,)
        ).fetchall()
        excess = self._bytes - sum(r[2] for r in drop) - self.settings.max_bytes
        if excess > 0:
            after = drop[-1][0] if drop else -1
            for seq, n, size in self._db.execute(
                "SELECT seq, samples, size FROM batches WHERE seq > ? ORDER BY seq", (after,)
            ):
                if excess <= 0:
                    break
                drop.append((seq, n, size))
                excess -= size
        if not drop:
            return 0
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute("DELETE FROM batches WHERE seq <= ?", (drop[-1][0],))
            self._db.execute("UPDATE meta SET value = value + ? WHERE key = 'dropped_batches'", (len(drop),))
            self._db.execute(
                "UPDATE meta SET value = value + ? WHERE key = 'dropped_samples'", (sum(r[1] for r in drop),)
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._bytes -= sum(r[2] for r in drop)
        self._depth -= len(drop)
        return len(drop)

    def next_after(self, seq: int, *, upto: int | None = None, limit: int = 1) -> list[Queued]:
        """The oldest queued batches with a sequence number above ``seq`` (and at most ``upto``)."""
        hi = upto if upto is not None else 2**62
        rows = self._db.execute(
            "SELECT seq, payload, created FROM batches WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (seq, hi, limit),
        ).fetchall()
        return [Queued(int(r[0]), bytes(r[1]), float(r[2])) for r in rows]

    def last_seq(self) -> int:
        """The highest queued sequence number, or -1 when empty."""
        row = self._db.execute("SELECT MAX(seq) FROM batches").fetchone()
        return -1 if row[0] is None else int(row[0])

    @property
    def depth(self) -> int:
        """Batches waiting for a PUBACK (no query)."""
        return self._depth

    def ack(self, seq: int) -> None:
        """The broker acknowledged batch ``seq``: forget it (a no-op if already dropped)."""
        row = self._db.execute("DELETE FROM batches WHERE seq = ? RETURNING size", (seq,)).fetchone()
        if row is not None:
            self._bytes -= int(row[0])
            self._depth -= 1

    def stats(self) -> OutboxStats:
        """Depth, size, age and drop totals."""
        row = self._db.execute("SELECT created FROM batches ORDER BY seq LIMIT 1").fetchone()
        oldest = row[0] if row is not None else None
        return OutboxStats(
            depth=self._depth,
            bytes=self._bytes,
            oldest_age_s=max(0.0, self._clock() - oldest) if oldest is not None else 0.0,
            dropped_batches=self._meta("dropped_batches"),
            dropped_samples=self._meta("dropped_samples"),
            next_seq=self._meta("next_seq"),
        )
