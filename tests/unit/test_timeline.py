"""The packed timeline reads and changes exactly like the list of points it replaces."""

from __future__ import annotations

import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.collector import availability as av
from netmon.collector.model import State
from netmon.collector.timeline import Point, Timeline

STATES = st.sampled_from(list(State))

# One step on both: ("append", state), ("pop",), ("cut", i) (del [i:]), ("set", i, state),
# ("slice", i) (keep [i:], as the recent log's trim does).
OPS = st.one_of(
    st.tuples(st.just("append"), STATES),
    st.tuples(st.just("pop")),
    st.tuples(st.just("cut"), st.integers(0, 40)),
    st.tuples(st.just("set"), st.integers(-40, 40), STATES),
    st.tuples(st.just("slice"), st.integers(0, 40)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(OPS, max_size=60), st.integers(0, 10_000))
def test_same_as_a_list_of_points(ops: list[tuple], start: int) -> None:
    model: list[Point] = []
    tl = Timeline()
    ts = float(start)
    for op in ops:
        if op[0] == "append":
            ts += 1.5
            model.append(Point(ts, op[1]))
            tl.append(Point(ts, op[1]))
        elif op[0] == "pop":
            if model:
                assert tl.pop() == model.pop()
        elif op[0] == "cut":
            del model[op[1] :]
            del tl[op[1] :]
        elif op[0] == "set":
            if -len(model) <= op[1] < len(model):
                p = Point(model[op[1]].ts, op[2])
                model[op[1]] = p
                tl[op[1]] = p
        else:
            model = model[op[1] :]
            tl = tl[op[1] :]
        assert len(tl) == len(model)
        assert list(tl) == model
        assert tl == model
        assert bool(tl) == bool(model)
        if model:
            assert tl[-1] == model[-1]
            assert tl[0] == model[0]
            assert tl.state(-1) is model[-1].state
    assert Timeline(model) == tl
    assert tl.copy() == tl
    assert tl.copy() is not tl


def test_a_copy_changes_apart() -> None:
    tl = Timeline([(1.0, State.UP)])
    c = tl.copy()
    c.append((2.0, State.DOWN))
    assert len(tl) == 1
    assert len(c) == 2


def test_points_are_points() -> None:
    tl = Timeline([(1.0, State.UP), (2.0, State.DOWN)])
    p = tl[1]
    assert isinstance(p, Point)
    assert p.ts == 2.0
    assert p.state is State.DOWN
    assert tl != [(1.0, State.UP)]
    assert tl == [(1.0, State.UP), (2.0, State.DOWN)]


def test_packed_is_smaller_than_the_list_it_replaces() -> None:
    points = [(1_780_000_000.0 + 60 * i, State.UP if i % 2 else State.DOWN) for i in range(10)]
    as_list = [Point(ts, s) for ts, s in points]
    list_bytes = sys.getsizeof(as_list) + sum(sys.getsizeof(p) + sys.getsizeof(p.ts) for p in as_list)
    tl = Timeline(points)
    packed_bytes = sys.getsizeof(tl) + sys.getsizeof(tl.times) + sys.getsizeof(tl.codes)
    assert packed_bytes * 3 < list_bytes


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.tuples(st.integers(0, 1000), STATES), max_size=12), min_size=1, max_size=4),
    st.integers(0, 1000),
    st.integers(0, 1000),
)
def test_functions_read_packed_and_lists_alike(raw: list[list[tuple[int, State]]], a: int, b: int) -> None:
    lists = [[(float(t), s) for t, s in sorted(dict(tl).items())] for tl in raw]
    packed = [Timeline(tl) for tl in lists]
    start, end = float(min(a, b)), float(max(a, b))
    for lst, tl in zip(lists, packed, strict=True):
        assert av.device_availability(lst, start, end) == av.device_availability(tl, start, end)
        assert av.state_at(lst, start) is av.state_at(tl, start)
    assert av.commune_timeline(lists) == av.commune_timeline(packed)
