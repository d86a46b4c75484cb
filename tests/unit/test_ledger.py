"""The de-duplication ledger: any order of arrival, exact membership, bounded size."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.collector.ledger import SeenSequences


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), max_size=300))
def test_membership_is_exactly_the_numbers_added(seqs: list[int]) -> None:
    seen = SeenSequences()
    for s in seqs:
        seen.add(s)
    assert all(s in seen for s in seqs)
    assert not any(s in seen for s in range(-5, 410) if s not in set(seqs))
    assert seen.count() == len(set(seqs))
    ranges = seen.ranges()
    assert all(lo <= hi for lo, hi in ranges)
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ranges))  # disjoint, not adjacent


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=200), max_size=200))
def test_encoding_round_trips(seqs: list[int]) -> None:
    seen = SeenSequences()
    for s in seqs:
        seen.add(s)
    again = SeenSequences.decode(seen.encode())
    assert again.ranges() == seen.ranges()


def test_live_far_ahead_of_a_long_backlog_loses_nothing() -> None:
    seen = SeenSequences()
    for live in range(100_000, 100_050):  # live batches run far ahead...
        seen.add(live)
    for old in range(1, 50_000):  # ...while a backlog of 50,000 drains oldest first
        assert old not in seen
        seen.add(old)
    assert len(seen.ranges()) == 2


def test_gaps_are_bounded_by_giving_up_the_oldest() -> None:
    seen = SeenSequences(max_ranges=4)
    for s in (1, 3, 5, 7, 9, 11):  # 2, 4, 6, 8, 10 never come
        seen.add(s)
    assert len(seen.ranges()) == 4
    assert 2 in seen  # the oldest gaps were closed
    assert 10 not in seen  # the newest are still open
