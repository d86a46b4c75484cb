"""Availability from timelines (pure): exact sums, bounds, commune merging."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.collector import availability as av
from netmon.collector.model import STANDARD_WINDOWS_S, Availability, StandardAvailability, State

STATES = st.sampled_from(list(State))


@st.composite
def timelines(draw: st.DrawFn) -> list[tuple[float, State]]:
    times = sorted(set(draw(st.lists(st.integers(0, 10_000), max_size=30))))
    return [(float(t), draw(STATES)) for t in times]


def test_seconds_exact_to_the_second() -> None:
    tl = [(100.0, State.UP), (400.0, State.DOWN), (460.0, State.UP), (1000.0, State.UNKNOWN)]
    a = av.device_availability(tl, 0.0, 1200.0)
    assert (a.up_s, a.down_s, a.unknown_s) == (840.0, 60.0, 300.0)
    assert a.ratio == pytest.approx(840 / 900)
    inner = av.device_availability(tl, 410.0, 470.0)
    assert (inner.down_s, inner.up_s) == (50.0, 10.0)


def test_nothing_observed_has_no_ratio() -> None:
    a = av.device_availability([], 0.0, 100.0)
    assert a.unknown_s == 100.0
    assert a.ratio is None


def test_unknown_and_maintenance_are_beside_the_ratio() -> None:
    tl = [(0.0, State.UP), (50.0, State.MAINTENANCE), (70.0, State.UNKNOWN), (90.0, State.UP)]
    a = av.device_availability(tl, 0.0, 100.0)
    assert a.ratio == 1.0
    assert a.maintenance_s == 20.0
    assert a.unknown_s == 20.0


@settings(max_examples=300, deadline=None)
@given(timelines(), st.integers(-100, 11_000), st.integers(0, 11_000))
def test_property_time_in_states_sums_to_the_window(tl, start, length) -> None:
    a = av.device_availability(tl, float(start), float(start + length))
    assert a.total_s == pytest.approx(length)
    assert a.ratio is None or 0.0 <= a.ratio <= 1.0
    assert min(a.up_s, a.down_s, a.unreachable_s, a.unknown_s, a.maintenance_s) >= 0


@settings(max_examples=200, deadline=None)
@given(timelines(), st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10_000))
def test_property_windows_add_up(tl, a, b, c) -> None:
    t0, t1, t2 = sorted(float(x) for x in (a, b, c))
    whole = av.device_availability(tl, t0, t2)
    parts = av.add(av.device_availability(tl, t0, t1), av.device_availability(tl, t1, t2))
    for f in ("up_s", "down_s", "unreachable_s", "unknown_s", "maintenance_s"):
        assert getattr(whole, f) == pytest.approx(getattr(parts, f))


def test_commune_is_up_while_any_access_device_is_up() -> None:
    a = [(0.0, State.UP), (100.0, State.DOWN), (300.0, State.UP)]
    b = [(0.0, State.UP), (200.0, State.UNREACHABLE), (400.0, State.UP)]
    tl = av.commune_timeline([a, b])
    assert tl == [(0.0, State.UP), (200.0, State.DOWN), (300.0, State.UP)]
    assert av.device_availability(tl, 0.0, 500.0).down_s == 100.0


@settings(max_examples=200, deadline=None)
@given(st.lists(timelines(), min_size=1, max_size=4), st.integers(0, 10_000))
def test_property_commune_state_matches_its_devices(tls, t) -> None:
    merged = av.commune_timeline(tls)
    expected = av.commune_state(av.state_at(tl, float(t)) for tl in tls)
    assert av.state_at(merged, float(t)) == expected


def test_commune_precedence() -> None:
    assert av.commune_state([State.DOWN, State.UP]) == State.UP
    assert av.commune_state([State.UNKNOWN, State.UNREACHABLE]) == State.UNREACHABLE
    assert av.commune_state([State.UNREACHABLE, State.DOWN]) == State.DOWN
    assert av.commune_state([State.MAINTENANCE, State.DOWN]) == State.MAINTENANCE
    assert av.commune_state([]) == State.UNKNOWN


def test_standard_availability_reads_as_a_dict_keyed_by_scope_id_and_window() -> None:
    up, down = Availability(up_s=1.0), Availability(down_s=1.0)
    n = len(STANDARD_WINDOWS_S)
    m = StandardAvailability(
        {"device": {"r1": (up,) * n, "r2": (down,) * (n - 1) + (up,)}, "province": {"51": (up,) * n}}
    )
    as_dict = {("device", "r1", w): up for w in STANDARD_WINDOWS_S}
    as_dict |= {("device", "r2", w): down for w in STANDARD_WINDOWS_S[:-1]}
    as_dict[("device", "r2", STANDARD_WINDOWS_S[-1])] = up
    as_dict |= {("province", "51", w): up for w in STANDARD_WINDOWS_S}
    assert dict(m) == as_dict
    assert len(m) == len(as_dict)
    assert m == as_dict
    assert m.get(("device", "r3", 3600)) is None
    assert m.get(("district", "x", 3600)) is None
    assert m.get(("device", "r1", 60)) is None


def test_standard_availability_keeps_a_scopes_own_windows() -> None:
    up, down = Availability(up_s=1.0), Availability(down_s=1.0)
    n = len(STANDARD_WINDOWS_S)
    m = StandardAvailability({"device": {"r1": (down,)}, "province": {"51": (up,) * n}}, {"device": (86400,)})
    assert m[("device", "r1", 86400)] is down
    assert m.get(("device", "r1", 3600)) is None
    assert len(m) == 1 + n
    assert set(m) == {("device", "r1", 86400)} | {("province", "51", w) for w in STANDARD_WINDOWS_S}
