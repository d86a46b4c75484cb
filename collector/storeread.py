"""Queries over the store's log, on a connection of their own.

The write path holds the store's connection for every batch; a report or an API query over
90 days of a national log reads tens of megabytes. :class:`StoreReader` reads on its own
connection (read-only, SQLite WAL lets it read while the collector writes), under its own
lock, so such a query never waits for a batch nor makes one wait, and may run on a thread.
``netmon report`` opens one on the collector's file without writing anything.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import urllib.parse
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

import msgspec

from netmon.collector.devices import SavedDevice, decode_saved
from netmon.collector.model import AgentView, HistoryPoint, Outage, Reboot, State, Transition
from netmon.collector.timeline import Timeline


class StoreError(Exception):
    """The store cannot be used (corrupt, read-only, missing directory, wrong schema)."""


_STATES = {s.value: s for s in State}
_agent_decoder = msgspec.json.Decoder(AgentView)

#: A device list longer than this is filtered in Python, not in the query (SQLite caps the
#: number of parameters of a statement).
_MAX_IN_QUERY = 500

#: A stretch continues another when the device's previous stretch ended as it began (a
#: change of state or of root cause within one outage).
_CONTINUES = "EXISTS (SELECT 1 FROM outages p WHERE p.device = o.device AND p.end_ts = o.start AND p.id != o.id)"


class StoreReader:
    """Read-only queries over a store.

    Args:
        conn: The connection to read on.
        path: The store's path (for messages).
        lock: Held around every query (one connection is not used by two threads at once).
    """

    def __init__(self, conn: sqlite3.Connection, path: str, lock: threading.RLock | None = None) -> None:
        self._conn = conn
        self.path = path
        self._lock = lock or threading.RLock()

    @classmethod
    def open(cls, path: str | Path, *, schema: str) -> StoreReader:
        """Open the store at ``path`` read-only (nothing is ever written to it).

        Raises:
            StoreError: The file is missing, not a store, or of another schema version.
        """
        spath = str(path)
        if not Path(spath).is_file():
            raise StoreError(f"store {spath}: no such file (has the collector run with this store.path?)")
        uri = f"file:{urllib.parse.quote(str(Path(spath).resolve()))}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=10.0)
            row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"store {spath}: cannot read: {exc}") from None
        if row is None or row[0] != schema:
            conn.close()
            found = "none" if row is None else row[0]
            raise StoreError(f"store {spath}: schema version {found}, this netmon reads {schema}")
        return cls(conn, spath)

    @contextlib.contextmanager
    def reading(self, what: str) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock; a damaged file is a :class:`StoreError` that says so."""
        with self._lock:
            try:
                yield self._conn
            except sqlite3.DatabaseError as exc:
                raise StoreError(
                    f"store {self.path}: cannot read {what}: {exc}; the file is damaged: "
                    "move it aside (the collector starts a new one) or restore a backup"
                ) from None

    def timelines(self, since: float, devices: Iterable[str] | None = None) -> dict[str, Timeline]:
        """Per device (all, or those named), its transitions from ``since`` on, preceded by
        the last one before."""
        out: dict[str, Timeline] = {}
        states = _STATES
        if devices is not None:
            wanted = list(devices)
            with self.reading("the transition log") as c:
                for dev in wanted:
                    row = c.execute(
                        "SELECT ts, new FROM transitions WHERE device = ? AND ts < ? ORDER BY ts DESC, rowid DESC LIMIT 1",
                        (dev, since),
                    ).fetchone()
                    tl = Timeline([(float(row[0]), states[row[1]])] if row is not None else ())
                    for ts, new in c.execute(
                        "SELECT ts, new FROM transitions WHERE device = ? AND ts >= ? ORDER BY ts, rowid",
                        (dev, since),
                    ):
                        tl.append((float(ts), states[new]))
                    if tl:
                        out[dev] = tl
            return out
        # Row by row, not fetchall(): a fetched list of rows would leave most of its memory
        # stranded once packed.
        with self.reading("the transition log") as c:
            for device, ts, new in c.execute(
                "SELECT device, max(ts), new FROM transitions WHERE ts < ? GROUP BY device", (since,)
            ):
                out[device] = Timeline([(float(ts), states[new])])
            for device, ts, new in c.execute(
                "SELECT device, ts, new FROM transitions WHERE ts >= ? ORDER BY device, ts, rowid", (since,)
            ):
                found = out.get(device)
                if found is None:
                    found = out[device] = Timeline()
                found.append((float(ts), states[new]))
        return out

    def transitions(self, device: str, start: float, end: float) -> list[Transition]:
        """A device's transitions in ``[start, end)``, oldest first."""
        with self.reading("the transition log") as c:
            rows = c.execute(
                "SELECT device, ts, old, new, cause, root_cause FROM transitions "
                "WHERE device = ? AND ts >= ? AND ts < ? ORDER BY ts, rowid",
                (device, start, end),
            ).fetchall()
        return [Transition(r[0], float(r[1]), State(r[2]), State(r[3]), r[4], r[5]) for r in rows]

    def outages(
        self,
        start: float,
        end: float,
        *,
        device: str | None = None,
        commune: str | None = None,
        district: str | None = None,
        limit: int | None = None,
    ) -> list[Outage]:
        """Outage stretches overlapping ``[start, end)``, newest first."""
        sql = (
            f"SELECT device, commune, district, state, start, end_ts, cause, root_cause, {_CONTINUES} "
            "FROM outages o WHERE start < ? AND (end_ts IS NULL OR end_ts > ?)"
        )
        args: list[object] = [end, start]
        for col, val in (("device", device), ("commune", commune), ("district", district)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(val)
        sql += " ORDER BY start DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self.reading("outages") as c:
            rows = c.execute(sql, args).fetchall()
        return [
            Outage(
                r[0],
                r[1],
                r[2],
                State(r[3]),
                float(r[4]),
                None if r[5] is None else float(r[5]),
                r[6],
                r[7],
                bool(r[8]),
            )
            for r in rows
        ]

    def outage_counts(self) -> dict[str, int]:
        """Number of outages per device (a stretch that continues another counts once)."""
        with self.reading("outages") as c:
            return {
                r[0]: int(r[1])
                for r in c.execute(f"SELECT device, count(*) FROM outages o WHERE NOT {_CONTINUES} GROUP BY device")
            }

    def _has_reboots(self, c: sqlite3.Connection) -> bool:
        """Whether the store has its reboots table: a store an older collector wrote, read
        before a newer one opened it, has none (and so no reboots)."""
        row = c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'reboots'").fetchone()
        return row is not None

    def reboots(
        self, start: float, end: float, *, devices: Collection[str] | None = None, limit: int | None = None
    ) -> list[Reboot]:
        """Reboots that came back in ``[start, end)`` (of ``devices`` only, when given),
        newest first, not judged (``counted_as`` None)."""
        if devices is not None and not devices:
            return []
        sql = "SELECT device, ts, reported_at, agent, uptime_s FROM reboots WHERE ts >= ? AND ts < ?"
        args: list[object] = [start, end]
        in_query = devices is not None and len(devices) <= _MAX_IN_QUERY
        if devices is not None and in_query:
            sql += f" AND device IN ({', '.join('?' * len(devices))})"
            args.extend(devices)
        sql += " ORDER BY ts DESC, rowid DESC"
        if limit is not None and (devices is None or in_query):
            sql += " LIMIT ?"
            args.append(limit)
        with self.reading("reboots") as c:
            rows = c.execute(sql, args).fetchall() if self._has_reboots(c) else []
        found = [Reboot(r[0], float(r[1]), float(r[2]), r[3], None if r[4] is None else float(r[4])) for r in rows]
        if devices is not None and not in_query:
            wanted = set(devices)
            found = [r for r in found if r.device in wanted][:limit]
        return found

    def reboot_counts(self) -> dict[str, tuple[int, float]]:
        """Per device, its reboots in the store and when the last one came back."""
        with self.reading("reboots") as c:
            if not self._has_reboots(c):
                return {}
            return {
                r[0]: (int(r[1]), float(r[2]))
                for r in c.execute("SELECT device, count(*), max(ts) FROM reboots GROUP BY device")
            }

    def reboot_times(self, since: float) -> dict[str, list[float]]:
        """Per device, when its reboots from ``since`` on came back, in time order."""
        out: dict[str, list[float]] = {}
        with self.reading("reboots") as c:
            if not self._has_reboots(c):
                return out
            for device, ts in c.execute("SELECT device, ts FROM reboots WHERE ts >= ? ORDER BY ts", (since,)):
                out.setdefault(device, []).append(float(ts))
        return out

    def history(self, device: str, since: float) -> list[HistoryPoint]:
        """A device's latency points from ``since``, oldest first."""
        with self.reading("latency history") as c:
            rows = c.execute(
                "SELECT ts, ok, rtt, loss, jitter FROM history WHERE device = ? AND ts >= ? ORDER BY ts",
                (device, since),
            ).fetchall()
        return [HistoryPoint(float(r[0]), bool(r[1]), r[2], r[3], r[4]) for r in rows]

    def saved_devices(self) -> dict[str, SavedDevice]:
        """Every device's record as last saved (records of another version left out)."""
        out: dict[str, SavedDevice] = {}
        with self.reading("device states") as c:
            for dev_id, raw in c.execute("SELECT id, data FROM devices"):
                try:
                    out[dev_id] = decode_saved(bytes(raw))
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue
        return out

    def saved_agents(self) -> dict[str, AgentView]:
        """Every agent's view as last saved (views of another version left out)."""
        out: dict[str, AgentView] = {}
        with self.reading("agents") as c:
            for agent_id, raw in c.execute("SELECT id, data FROM agents"):
                try:
                    out[agent_id] = _agent_decoder.decode(bytes(raw))
                except (msgspec.DecodeError, msgspec.ValidationError):
                    continue
        return out

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()
