"""Search of communes and districts by name or GSO code, ignoring diacritics and case.

A technician types "tinh khe" on a phone keyboard without Vietnamese input; that must find
"Xã Tịnh Khê". Names are folded by :mod:`netmon.config.names` (no diacritics, no case) and
the administrative prefix is optional in a query. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from netmon.collector.model import Snapshot
from netmon.config.names import UNIT_PREFIXES, fold, strip_prefix

UnitKind = Literal["commune", "district"]

__all__ = ["UNIT_PREFIXES", "Entry", "Hit", "SearchIndex", "fold", "strip_prefix"]


@dataclass(frozen=True, slots=True)
class Entry:
    """A searchable unit."""

    kind: UnitKind
    code: str
    name: str
    district: str | None = None
    district_name: str | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result; lower ``rank`` is a better match."""

    kind: UnitKind
    code: str
    name: str
    district: str | None
    district_name: str | None
    rank: int


@dataclass(frozen=True, slots=True)
class _Folded:
    entry: Entry
    full: str
    core: str
    words: tuple[str, ...]


class SearchIndex:
    """Communes and districts, folded once, searched many times."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        """Index the given units."""
        self._items: tuple[_Folded, ...] = tuple(
            _Folded(e, fold(e.name), strip_prefix(fold(e.name)), tuple(strip_prefix(fold(e.name)).split()))
            for e in entries
        )

    @classmethod
    def from_snapshot(cls, snap: Snapshot) -> SearchIndex:
        """Index the communes and districts of a snapshot."""
        entries: list[Entry] = [Entry("district", d.code, d.name) for d in snap.districts.values()]
        for c in snap.communes.values():
            dist = snap.districts.get(c.district) if c.district else None
            entries.append(Entry("commune", c.code, c.name, c.district, dist.name if dist else None))
        return cls(entries)

    def __len__(self) -> int:
        return len(self._items)

    def search(self, query: str, limit: int = 20) -> list[Hit]:
        """Units matching ``query``, best first (then communes before districts, then by name).

        Ranks: 0 exact code or exact name (with or without prefix), 1 code prefix or name
        starting with the query, 2 every query word starts a word of the name, 3 the
        query appears anywhere in the name. An empty query matches nothing.
        """
        q_full = fold(query)
        if not q_full:
            return []
        q_core = strip_prefix(q_full)
        q_words = q_core.split()
        q_prefix = q_full[: len(q_full) - len(q_core)].strip()
        hits: list[Hit] = []
        for item in self._items:
            rank = _rank(item, q_full, q_core, q_words)
            if rank is None:
                continue
            # A query that names the kind of unit ("huyen ba to") prefers that kind.
            if q_prefix and not item.full.startswith(q_prefix + " "):
                rank += 1
            e = item.entry
            hits.append(Hit(e.kind, e.code, e.name, e.district, e.district_name, rank))
        hits.sort(key=lambda h: (h.rank, h.kind != "commune", fold(h.name), h.code))
        return hits[: max(0, limit)]


def _rank(item: _Folded, q_full: str, q_core: str, q_words: Sequence[str]) -> int | None:
    code = item.entry.code
    if q_full.isdigit():
        if code == q_full:
            return 0
        if code.startswith(q_full):
            return 1
        return None
    if q_full in (item.full, item.core) or q_core == item.core:
        return 0
    if item.core.startswith(q_core) or item.full.startswith(q_full):
        return 1
    if q_words and all(any(w.startswith(q) for w in item.words) for q in q_words):
        return 2
    if q_core in item.full:
        return 3
    return None
