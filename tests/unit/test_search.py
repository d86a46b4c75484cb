"""Search of communes and districts: diacritics, case, prefixes and codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netmon.collector.search import UNIT_PREFIXES, Entry, SearchIndex, fold, strip_prefix
from netmon.config.loader import load_inventory

INVENTORY = Path(__file__).resolve().parents[2] / "config" / "quang-ngai-2021.yaml"


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    inv = load_inventory(INVENTORY)
    entries = [Entry("district", d.code, d.name) for d in inv.districts]
    entries += [Entry("commune", c.code, c.name, d.code, d.name) for d in inv.districts for c in d.communes]
    return SearchIndex(entries)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("tinh khe", "21211"),
        ("Tịnh Khê", "21211"),
        ("TINH KHE", "21211"),
        ("xa tinh khe", "21211"),
        ("Xã Tịnh Khê", "21211"),
        ("21211", "21211"),
        ("ba to", "21484"),  # Thị trấn Ba Tơ (commune) before Huyện Ba Tơ
        ("huyen ba to", "535"),
        ("thi tran ba to", "21484"),
    ],
)
def test_finds_units_without_accents_or_prefix(index: SearchIndex, query: str, code: str) -> None:
    hits = index.search(query)
    assert hits, query
    assert hits[0].code == code


def test_d_with_stroke_folds_to_d(index: SearchIndex) -> None:
    names = {h.name for h in index.search("duc")}
    assert any("Đức" in n for n in names)
    assert fold("Đ") == "d"
    assert fold("đ") == "d"


def test_code_prefix_lists_every_commune_with_that_prefix(index: SearchIndex) -> None:
    hits = index.search("2121", limit=1000)
    assert hits
    assert all(h.code.startswith("2121") for h in hits)


def test_empty_or_unknown_query_finds_nothing(index: SearchIndex) -> None:
    assert index.search("") == []
    assert index.search("   ") == []
    assert index.search("zzzz qqqq") == []


def test_several_matches_are_all_listed(index: SearchIndex) -> None:
    # Many communes are named "Nghĩa ..."; the query must list several, each with a code.
    hits = index.search("nghia", limit=100)
    assert len(hits) > 5
    assert len({h.code for h in hits}) == len(hits)


names = st.text(
    alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyáàảãạấầẩẫậếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ ", min_size=1, max_size=30
).filter(lambda s: fold(s) != "")


@given(names)
def test_fold_is_idempotent_and_ascii(name: str) -> None:
    f = fold(name)
    assert fold(f) == f
    assert f.isascii()
    assert f == f.lower()


@given(names, st.sampled_from(["Xã", "Phường", "Thị trấn", "Huyện", "Thị xã", "Thành phố", "Quận"]))
def test_any_name_is_found_by_its_folded_core_and_in_any_case(name: str, prefix: str) -> None:
    full = f"{prefix} {name}"
    idx = SearchIndex([Entry("commune", "99999", full), Entry("commune", "99998", "Xã Khác Hẳn")])
    core = strip_prefix(fold(full))
    for query in (core, core.upper(), full, full.upper(), fold(full)):
        hits = idx.search(query)
        assert hits
        assert "99999" in {h.code for h in hits}
        assert next(h for h in hits if h.code == "99999").rank <= 1


@given(st.text(max_size=40))
def test_search_never_raises(query: str) -> None:
    idx = SearchIndex([Entry("commune", "21211", "Xã Tịnh Khê"), Entry("district", "522", "Thành phố Quảng Ngãi")])
    for hit in idx.search(query):
        assert hit.rank >= 0


def test_prefixes_are_folded() -> None:
    assert all(p == fold(p) for p in UNIT_PREFIXES)
