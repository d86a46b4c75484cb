"""The packed re-play log gives back exactly the times and verdicts it was given."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netmon.collector.samplelog import SampleLog

#: Unix times as agents send them, and any other float (kept whole, but kept).
TIMES = st.one_of(st.floats(1.7e9, 1.8e9), st.floats(allow_nan=False), st.floats(0.0, 1e4))
SAMPLES = st.lists(st.tuples(TIMES, st.booleans()), max_size=60)


@given(SAMPLES)
def test_gives_back_what_it_was_given(samples: list[tuple[float, bool]]) -> None:
    log = SampleLog()
    for ts, ok in samples:
        log.append(ts, ok)
    assert list(log) == samples
    assert len(log) == len(samples)


@given(SAMPLES, TIMES, st.booleans(), TIMES)
def test_insert_and_drop_keep_time_order(
    samples: list[tuple[float, bool]], late: float, late_ok: bool, cut: float
) -> None:
    samples.sort(key=lambda s: s[0])
    log = SampleLog()
    for ts, ok in samples:
        log.append(ts, ok)
    log.insert(late, late_ok)
    i = len(samples)
    while i > 0 and samples[i - 1][0] > late:
        i -= 1
    samples.insert(i, (late, late_ok))
    assert list(log) == samples
    log.drop_before(cut)
    kept = [s for s in samples if s[0] >= cut]
    assert list(log) == kept
    assert len(log) == len(kept)


@given(SAMPLES, TIMES, SAMPLES)
def test_what_is_kept_after_a_drop_grows_as_before(
    samples: list[tuple[float, bool]], cut: float, more: list[tuple[float, bool]]
) -> None:
    samples.sort(key=lambda s: s[0])
    more.sort(key=lambda s: s[0])
    log = SampleLog()
    for ts, ok in samples:
        log.append(ts, ok)
    log.drop_before(cut)
    for ts, ok in more:
        log.append(ts, ok)
    assert list(log) == [s for s in samples if s[0] >= cut] + more


def test_a_national_round_takes_four_bytes_a_sample() -> None:
    log = SampleLog()
    t = 1_780_000_000.123456
    for r in range(200):
        log.append(t + r * 30, True)
        log.append(t + r * 30 + 0.2, r % 7 != 0)
    assert list(log) == [(t + r * 30 + d, d == 0 or r % 7 != 0) for r in range(200) for d in (0, 0.2)]
    assert log._steps.itemsize == 4
    assert log._whole is None  # every time a step from the first: nothing kept whole
