"""The de-duplication ledger: any order of arrival, exact membership, bounded size, no poisoning."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.collector.ledger import MAX_GAP, Gaps, SeenSequences


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


def test_the_bound_forgets_the_least_recently_extended_range_and_fills_no_gap() -> None:
    seen = SeenSequences(max_ranges=4)
    for s in (1, 3, 5, 7, 9, 11):  # 2, 4, 6, 8, 10 never come
        seen.add(s)
    assert seen.ranges() == [(5, 5), (7, 7), (9, 9), (11, 11)]
    assert 2 not in seen  # no gap was closed: a number not seen is never taken as applied
    assert 1 not in seen  # forgotten: only its de-duplication is lost


#: A legitimate agent's outbox numbering: the current time in milliseconds, then +1.
REAL = 1_764_000_000_000


@pytest.mark.parametrize(
    ("real", "forged"),
    [
        (1, [10**12 + 2 * k for k in range(1030)]),  # the measured attack, on an agent numbering from 1
        (REAL, [10**12 + 2 * k for k in range(1030)]),  # the same numbers, behind an outbox's own
        (REAL, [REAL + 100 + 2 * k for k in range(1030)]),  # just ahead of the agent's own
        (REAL, [REAL + 10**9 * (k + 1) for k in range(1030)]),  # far ahead, spread out
    ],
    ids=["near-1e12", "near-1e12-behind", "just-ahead", "far-ahead"],
)
def test_forged_numbers_never_make_a_real_batch_a_duplicate(real: int, forged: list[int]) -> None:
    seen = SeenSequences()
    for s in range(real, real + 10):
        seen.add(s)
    for s in forged:
        seen.add(s)
    taken = set(forged)
    for s in range(real + 10, real + 3000):  # the agent's next batches (not the forged numbers)
        if s in taken:
            continue
        assert s not in seen
        seen.add(s)
        assert s in seen
    assert all(s in seen for s in range(real + 2900, real + 3000))  # its recent batches still de-duplicate
    assert len(seen.ranges()) <= seen.max_ranges


@settings(max_examples=300, deadline=None)
@given(
    seqs=st.lists(st.integers(min_value=0, max_value=60), max_size=200),
    max_ranges=st.integers(min_value=1, max_value=6),
)
def test_only_numbers_added_are_ever_in_the_ledger(seqs: list[int], max_ranges: int) -> None:
    seen = SeenSequences(max_ranges=max_ranges)
    added: set[int] = set()
    for s in seqs:
        seen.add(s)
        added.add(s)
        assert s in seen  # the number just added is always kept
        assert all(x in added for lo, hi in seen.ranges() for x in range(lo, hi + 1))
        assert len(seen.ranges()) <= max_ranges


def test_gaps_count_missing_batches_and_jumps_apart() -> None:
    seen = SeenSequences()
    for s in [*range(1, 11), *range(15, 21), 30]:  # 11..14 and 21..29 missing
        seen.add(s)
    assert seen.gaps() == Gaps(gaps=2, missing=4 + 9, jumps=0)
    seen.add(REAL)  # a new outbox starts at the time in milliseconds: a jump, not loss
    seen.add(REAL + 1)
    assert seen.gaps() == Gaps(gaps=2, missing=13, jumps=1)
    for s in range(11, 15):  # the backlog arrives
        seen.add(s)
    assert seen.gaps() == Gaps(gaps=1, missing=9, jumps=1)
    assert SeenSequences(ranges=[(1, 5), (5 + MAX_GAP + 1, 5 + MAX_GAP + 1)]).gaps() == Gaps(1, MAX_GAP, 0)


def test_encoding_keeps_which_range_was_extended_last() -> None:
    seen = SeenSequences(max_ranges=3)
    for s in (10, 20, 30):
        seen.add(s)
    seen.add(11)  # the range at 10 is the most recent now
    again = SeenSequences.decode(seen.encode(), max_ranges=3)
    again.add(40)  # over the bound: 20 goes (extended least recently), not 10
    assert again.ranges() == [(10, 11), (30, 30), (40, 40)]


def test_the_older_encoding_still_reads() -> None:
    assert SeenSequences.decode("[[1,5],[9,9]]").ranges() == [(1, 5), (9, 9)]
