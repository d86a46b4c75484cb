"""Find a province's communes and districts by the names people write.

An operator's spreadsheet says "xa Tinh Khe", "TỊNH KHÊ", "Tịnh Khê" or "21211"; each
must find Xã Tịnh Khê (21211), and a name that is not one commune's must say so with
the candidates rather than guess. Folding diacritics makes real names collide
(Quảng Ngãi 2021: Xã Bình Thạnh and Xã Bình Thanh in Bình Sơn, Thị trấn Ba Tơ and Xã Ba
Tô in Ba Tơ), and some names repeat across districts (Phường Nguyễn Nghiêm in the city of
Quảng Ngãi and in Đức Phổ), so matching goes from the strictest reading to the loosest
and stops at the first that names candidates:

1. the name as written (case and spacing aside), with its prefix;
2. the name with its diacritics, prefix optional;
3. the folded name (no diacritics) with its prefix;
4. the folded name, prefix optional;
5. close spellings (typos), accepted only when exactly one is close enough.

A district, when given, narrows each step. Pure: no I/O.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from netmon.config.geography import Edition, Unit
from netmon.config.names import UNIT_PREFIXES, fold

#: A close spelling is accepted at this similarity (difflib ratio of folded names
#: without prefix) when it is the only one: "tinh kee" for "tinh khe" (0.93) passes,
#: "binh minh" for "binh minh" plus "binh thanh" (0.74) does not.
CLOSE_ENOUGH = 0.88
#: Spellings at least this close are offered as candidates of an unmatched name.
SUGGEST = 0.75

_SPACE = re.compile(r"[\s\u00a0]+")


class How(StrEnum):
    """How a name was matched, strictest first."""

    CODE = "code"
    EXACT = "exact"
    DIACRITICS = "diacritics"
    FOLDED_PREFIX = "folded_prefix"
    FOLDED = "folded"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class Place:
    """A commune (or district) of the official list, with its district if it has one."""

    code: str
    name: str
    district_code: str | None = None
    district_name: str | None = None

    def label(self) -> str:
        """``Xã Bình Minh (21085, Huyện Bình Sơn)``."""
        where = f", {self.district_name}" if self.district_name else ""
        return f"{self.name} ({self.code}{where})"


@dataclass(frozen=True, slots=True)
class Match:
    """The outcome of a lookup.

    Attributes:
        place: The unit found, or None when none or several fit.
        candidates: The units that fit when several do (ambiguous), or the close
            spellings when none does.
        how: How ``place`` was found.
        note: Why nothing was found, in words, when ``place`` is None.
    """

    place: Place | None
    candidates: tuple[Place, ...] = ()
    how: How | None = None
    note: str = ""

    @property
    def ambiguous(self) -> bool:
        """Several units fit equally well."""
        return self.place is None and len(self.candidates) > 1 and self.how is not None


def _nfc_key(text: str) -> str:
    """Case and spacing aside, diacritics kept: ``"  XÃ  Tịnh Khê"`` → ``"xã tịnh khê"``."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text).casefold()).strip(" .,;:-")


def _prefix_words(text: str) -> int:
    """How many words of ``text`` are its unit prefix (0 if none)."""
    folded = fold(text)
    for prefix in UNIT_PREFIXES:
        if folded.startswith(prefix + " ") and len(folded) > len(prefix) + 1:
            return prefix.count(" ") + 1
    return 0


def _without_prefix(key: str) -> str:
    n = _prefix_words(key)
    return " ".join(key.split(" ")[n:]) if n else key


def _prefix(text: str) -> str:
    folded = fold(text)
    n = _prefix_words(text)
    return " ".join(folded.split(" ")[:n])


@dataclass(frozen=True, slots=True)
class _Keys:
    exact: str
    diacritics: str
    folded_prefix: str
    folded: str
    prefix: str

    @classmethod
    def of(cls, text: str) -> _Keys:
        exact = _nfc_key(text)
        folded = fold(text)
        core = _without_prefix(exact)
        return cls(exact, core, folded, fold(core), _prefix(text))


class Gazetteer:
    """The communes (and districts) of one province in one edition of the official lists.

    Args:
        province: The province as :func:`netmon.config.geography.province` gives it.
        edition: ``2021`` (districts hold communes) or ``2025`` (communes only).
    """

    def __init__(self, province: Unit, edition: Edition) -> None:
        self.province = province
        self.edition = edition
        communes: list[Place] = []
        districts: list[Place] = []
        if edition == "2021":
            for d in province.children:
                districts.append(Place(d.code, d.name))
                communes += [Place(c.code, c.name, d.code, d.name) for c in d.children]
        else:
            communes = [Place(c.code, c.name) for c in province.children]
        self.communes: tuple[Place, ...] = tuple(communes)
        self.districts: tuple[Place, ...] = tuple(districts)
        self._commune_keys = [(p, _Keys.of(p.name)) for p in self.communes]
        self._district_keys = [(p, _Keys.of(p.name)) for p in self.districts]
        self._by_code = {p.code: p for p in self.communes}
        self._district_by_code = {p.code: p for p in self.districts}

    def commune(self, text: str, district: Place | None = None) -> Match:
        """The commune ``text`` names (a name or a GSO code), within ``district`` if given."""
        return self._lookup(
            text,
            self._commune_keys,
            self._by_code,
            5,
            (lambda p: p.district_code == district.code) if district else None,
        )

    def district(self, text: str) -> Match:
        """The district ``text`` names (2021 edition; the 2025 structure has none)."""
        if not self.districts:
            return Match(None, note=f"the {self.edition} structure has no districts")
        return self._lookup(text, self._district_keys, self._district_by_code, 3, None)

    def _lookup(
        self,
        text: str,
        keyed: Sequence[tuple[Place, _Keys]],
        by_code: dict[str, Place],
        code_len: int,
        within: Callable[[Place], bool] | None,
    ) -> Match:
        raw = text.strip()
        if not raw:
            return Match(None, note="empty")
        if raw.isdigit():
            place = by_code.get(raw.zfill(code_len))
            if place is None:
                return Match(None, note=f"no unit with code {raw.zfill(code_len)} in {self.province.name}")
            if within is not None and not within(place):
                return Match(None, (place,), note=f"code {place.code} is {place.label()}, not in the district given")
            return Match(place, how=How.CODE)
        q = _Keys.of(raw)
        scoped = [(p, k) for p, k in keyed if within is None or within(p)]
        tiers: list[tuple[How, Callable[[_Keys], bool]]] = [
            (How.EXACT, lambda k: k.exact == q.exact),
            (How.DIACRITICS, lambda k: k.diacritics == q.diacritics and (not q.prefix or k.prefix == q.prefix)),
            (How.DIACRITICS, lambda k: k.diacritics == q.diacritics),
            (How.FOLDED_PREFIX, lambda k: k.folded_prefix == q.folded_prefix),
            (How.FOLDED, lambda k: k.folded == q.folded and (not q.prefix or k.prefix == q.prefix)),
            (How.FOLDED, lambda k: k.folded == q.folded),
        ]
        for how, test in tiers:
            hits = tuple(p for p, k in scoped if test(k))
            if len(hits) == 1:
                return Match(hits[0], how=how)
            if hits:
                return Match(None, hits, how=how, note="several units have this name")
        close = _close(q.folded, scoped, SUGGEST)
        good = [p for p, r in close if r >= CLOSE_ENOUGH]
        if len(good) == 1:
            return Match(good[0], how=How.CLOSE)
        if within is not None:
            elsewhere = self._lookup(raw, keyed, by_code, code_len, None)
            found = (elsewhere.place,) if elsewhere.place else elsewhere.candidates
            if found and elsewhere.how is not None and elsewhere.how is not How.CLOSE:
                return Match(None, found, note="not in the district given; found elsewhere")
        return Match(None, tuple(p for p, _ in close), note="no unit of this name")


def _close(folded: str, keyed: Iterable[tuple[Place, _Keys]], cutoff: float) -> list[tuple[Place, float]]:
    """Units whose folded name without prefix is at least ``cutoff`` similar, best first."""
    out: list[tuple[Place, float]] = []
    for p, k in keyed:
        ratio = difflib.SequenceMatcher(None, folded, k.folded, autojunk=False).ratio()
        if ratio >= cutoff:
            out.append((p, ratio))
    out.sort(key=lambda pr: (-pr[1], pr[0].code))
    return out[:5]
