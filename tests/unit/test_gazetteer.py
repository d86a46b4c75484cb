"""Communes found by the names people write: table-driven on the real Quảng Ngãi lists,
and property-based over every commune of the 2021 and 2025 lists."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.config import geography
from netmon.config.gazetteer import Gazetteer, How
from netmon.config.names import core_name, fold

QN21 = Gazetteer(geography.province("51", "2021"), "2021")
QN25 = Gazetteer(geography.province("51", "2025"), "2025")


@pytest.mark.parametrize(
    ("text", "district", "code", "how"),
    [
        ("Xã Tịnh Khê", None, "21211", How.EXACT),
        ("  XÃ   TỊNH KHÊ ", None, "21211", How.EXACT),
        ("Tịnh Khê", None, "21211", How.DIACRITICS),
        ("tinh khe", None, "21211", How.FOLDED),
        ("xa tinh khe", None, "21211", How.FOLDED_PREFIX),
        ("21211", None, "21211", How.CODE),
        ("1211", None, None, None),  # zero-padded: 01211 is not in Quảng Ngãi
        # diacritics tell apart what folding merges: Bình Thạnh / Bình Thanh (both Bình Sơn)
        ("Bình Thạnh", None, "21046", How.DIACRITICS),
        ("Bình Thanh", None, "21091", How.DIACRITICS),
        # the prefix tells apart Thị trấn Ba Tơ and Xã Ba Tô (both Ba Tơ)
        ("thi tran ba to", None, "21484", How.FOLDED_PREFIX),
        ("xa ba to", None, "21523", How.FOLDED_PREFIX),
        # Phường Nguyễn Nghiêm is in the city and in Đức Phổ: the district decides
        ("Nguyễn Nghiêm", "Thị xã Đức Phổ", "21439", How.DIACRITICS),
        ("nguyen nghiem", "tp quang ngai", "21025", How.FOLDED),
        ("Phường Nguyễn Nghiêm", "522", "21025", How.EXACT),
        # a typo that fits one commune only is taken (as a close spelling)
        ("Tịnh Kê", None, "21211", How.CLOSE),
        ("Bình Minh", "Huyện Bình Sơn", "21085", How.DIACRITICS),
    ],
)
def test_commune_found(text: str, district: str | None, code: str | None, how: How | None) -> None:
    where = QN21.district(district).place if district else None
    if district:
        assert where is not None, district
    m = QN21.commune(text, where)
    assert (m.place.code if m.place else None) == code
    assert m.how == how


@pytest.mark.parametrize(
    ("text", "district", "candidates"),
    [
        ("binh thanh", None, {"21046", "21091"}),
        ("xa binh thanh", "Bình Sơn", {"21046", "21091"}),
        ("ba to", None, {"21484", "21523"}),
        ("Phường Nguyễn Nghiêm", None, {"21025", "21439"}),
        ("nguyen nghiem", None, {"21025", "21439"}),
    ],
)
def test_ambiguous_names_give_every_candidate(text: str, district: str | None, candidates: set[str]) -> None:
    where = QN21.district(district).place if district else None
    m = QN21.commune(text, where)
    assert m.place is None
    assert m.ambiguous
    assert {p.code for p in m.candidates} == candidates


def test_commune_in_another_district_says_where_it_is() -> None:
    son_tinh = QN21.district("Sơn Tịnh").place
    m = QN21.commune("Xã Tịnh Khê", son_tinh)
    assert m.place is None
    assert [p.code for p in m.candidates] == ["21211"]
    assert "elsewhere" in m.note


def test_unknown_name_offers_close_spellings_or_none() -> None:
    m = QN21.commune("Xã Bình Mi")
    assert m.place is None
    assert "21085" in {p.code for p in m.candidates}
    assert QN21.commune("Xã Không Có Thật").candidates == ()


def test_2025_list_has_no_districts() -> None:
    assert QN25.district("Bình Sơn").place is None
    assert QN25.commune("Đặc khu Lý Sơn").place is not None
    assert QN25.commune("ly son").how is How.FOLDED


def _places(gaz: Gazetteer) -> list[tuple[str, str, str | None]]:
    return [(p.code, p.name, p.district_name) for p in gaz.communes]


@settings(max_examples=300, deadline=None)
@given(
    place=st.sampled_from(_places(QN21) + _places(QN25)),
    upper=st.booleans(),
    pad=st.sampled_from(["", " ", "  ", "\u00a0"]),
    drop_prefix=st.booleans(),
    fold_it=st.booleans(),
)
def test_every_commune_is_found_as_people_write_it(
    place: tuple[str, str, str | None], upper: bool, pad: str, drop_prefix: bool, fold_it: bool
) -> None:
    """Each commune, written with or without diacritics, prefix or case, is found; when the
    spelling is shared (folding merges two names), it is among the candidates, never lost."""
    code, name, district = place
    gaz = QN21 if district else QN25
    text = core_name(name) if drop_prefix and fold_it else fold(name) if fold_it else name
    if drop_prefix and not fold_it:
        text = " ".join(name.split()[1:]) if not name.startswith("Thị trấn") else " ".join(name.split()[2:])
    if upper:
        text = text.upper()
    where = gaz.district(district).place if district else None
    m = gaz.commune(pad + text + pad, where)
    if m.place is not None:
        assert m.place.code == code
    else:
        assert code in {p.code for p in m.candidates}
    if not fold_it and not drop_prefix:
        assert m.place is not None
        assert m.place.code == code
        assert m.how is How.EXACT
