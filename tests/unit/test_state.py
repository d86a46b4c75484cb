"""The pure device state machine: table-driven cases and hypothesis properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.collector.model import State
from netmon.collector.state import (
    AncestorChanged,
    Confirmed,
    Context,
    DeviceState,
    Event,
    Maintenance,
    Round,
    Rules,
    Stale,
    apply,
    initial,
    rules_for,
)
from netmon.config.inventory import Role
from netmon.config.settings import StateSettings

RULES = Rules(down_after=3, up_after=1, flap_transitions=4, flap_window_s=3600)


def run(events: list[Event], rules: Rules = RULES, ctx: Context | None = None, start: DeviceState | None = None):
    dev = start or initial(0.0)
    trs = []
    for ev in events:
        dev, out = apply(dev, ev, ev.ts, device="x", rules=rules, ctx=ctx or Context())
        trs.extend(out)
    return dev, trs


def rounds(oks: str, t0: float = 60.0, step: float = 60.0) -> list[Event]:
    """'1' good round, '0' failed round, one per step."""
    return [Round(t0 + i * step, c == "1", "" if c == "1" else "timeout") for i, c in enumerate(oks)]


def test_down_after_n_failed_rounds_dated_at_the_first_failure() -> None:
    dev, trs = run(rounds("1100"))
    assert dev.state == State.UP  # two failures are not yet an outage
    dev, trs = run(rounds("11000"))
    assert dev.state == State.DOWN
    assert [(t.old, t.new, t.ts) for t in trs] == [(State.UNKNOWN, State.UP, 60.0), (State.UP, State.DOWN, 180.0)]
    assert "3 failed rounds: timeout" in trs[-1].cause


def test_up_after_m_good_rounds() -> None:
    two = Rules(down_after=2, up_after=2)
    dev, trs = run(rounds("1001"), two)
    assert dev.state == State.DOWN
    dev, trs = run(rounds("10011"), two)
    assert dev.state == State.UP
    assert trs[-1].ts == 240.0  # the first good round of the streak
    dev, _ = run(rounds("100101"), two)
    assert dev.state == State.DOWN  # an interrupted good streak does not count


def test_per_role_threshold() -> None:
    s = StateSettings(down_after=3, down_after_by_role={Role.CPE: 5})
    assert rules_for(s, "cpe").down_after == 5
    assert rules_for(s, "district_router").down_after == 3


def test_lossy_link_stays_up() -> None:
    # A round with loss < 1 answered: the engine turns it into a good round.
    dev, trs = run(rounds("1" * 50))
    assert dev.state == State.UP
    assert len(trs) == 1


def test_flapping_is_a_flag_beside_the_facts() -> None:
    dev, trs = run(rounds("1000100010001000", step=60), Rules(down_after=3, flap_transitions=4, flap_window_s=3600))
    assert dev.flapping
    assert dev.state == State.DOWN  # the state is still the fact
    assert [t.new for t in trs][1:] == [State.DOWN, State.UP, State.DOWN, State.UP, State.DOWN, State.UP, State.DOWN]
    calm, _ = run(rounds("1000100010001000", step=3600), Rules(down_after=3, flap_transitions=4, flap_window_s=3600))
    assert not calm.flapping


def test_unreachable_under_a_down_ancestor_at_once_with_root_cause() -> None:
    ctx = Context(impaired_root="d522-r1")
    dev, _ = run(rounds("1"))
    dev, trs = run(rounds("0", t0=120), ctx=ctx, start=dev)
    assert dev.state == State.UNREACHABLE
    assert dev.root_cause == "d522-r1"
    assert trs[-1].root_cause == "d522-r1"
    assert trs[-1].ts == 120


def test_held_while_an_ancestor_is_suspect_then_unreachable() -> None:
    dev, _ = run(rounds("1000"), ctx=Context(suspect=True))
    assert dev.state == State.UP
    assert dev.fail_streak == 3
    dev, trs = run([AncestorChanged(300)], ctx=Context(impaired_root="d1"), start=dev)
    assert dev.state == State.UNREACHABLE
    assert trs[0].ts == 120


def test_held_then_down_when_the_ancestor_answers() -> None:
    dev, _ = run(rounds("1000"), ctx=Context(suspect=True))
    dev, trs = run([AncestorChanged(300)], ctx=Context(), start=dev)
    assert dev.state == State.DOWN
    assert trs[0].ts == 120
    assert trs[0].root_cause is None


def test_after_ancestor_recovery_fresh_evidence_decides() -> None:
    dev, _ = run(rounds("10"), ctx=Context(impaired_root="d1"))
    assert dev.state == State.UNREACHABLE
    dev, _ = run([AncestorChanged(200)], ctx=Context(), start=dev)
    assert dev.state == State.UNREACHABLE
    assert dev.fail_streak == 0
    up, _ = run(rounds("1", t0=240), start=dev)
    assert up.state == State.UP
    down, trs = run(rounds("000", t0=240), start=dev)
    assert down.state == State.DOWN
    assert trs[-1].ts == 240
    assert trs[-1].old == State.UNREACHABLE


def test_stale_is_unknown_and_forgets_streaks() -> None:
    dev, _ = run(rounds("100"))
    dev, trs = run([Stale(300, "agent a offline")], start=dev)
    assert dev.state == State.UNKNOWN
    assert dev.fail_streak == 0
    assert trs[-1].cause == "agent a offline"
    dev, _ = run(rounds("0", t0=400), start=dev)
    assert dev.state == State.UNKNOWN  # one failure after a silence is not an outage


def test_maintenance_overlays_and_exits_into_the_real_state() -> None:
    dev, _ = run(rounds("1"))
    dev, trs = run([Maintenance(100, True, "fibre work"), *rounds("0000", t0=120)], start=dev)
    assert dev.state == State.MAINTENANCE
    assert dev.base == State.DOWN
    assert [t.new for t in trs] == [State.MAINTENANCE]
    dev, trs = run([Maintenance(400, False)], start=dev)
    assert dev.state == State.DOWN
    assert trs[-1].ts == 400


def test_transitions_never_go_back_in_time() -> None:
    dev, _ = run(rounds("1"))
    dev, trs = run([Stale(500)], start=dev)
    dev, trs = run([Round(400, True)], start=dev)  # an older round cannot date a transition before 500
    assert all(t.ts >= 500 for t in trs)


EVENTS = st.lists(
    st.one_of(
        st.builds(lambda ok: ("round", ok), st.booleans()),
        st.just(("stale", None)),
        st.builds(lambda on: ("maint", on), st.booleans()),
        st.builds(lambda imp, sus: ("anc", (imp, sus)), st.booleans(), st.booleans()),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(EVENTS, st.integers(1, 4), st.integers(1, 3))
def test_property_transitions_are_ordered_and_consistent(evs, down_after, up_after) -> None:
    rules = Rules(down_after=down_after, up_after=up_after)
    dev = initial(0.0)
    prev = dev.state
    last_ts = 0.0
    ctx = Context()
    for i, (kind, arg) in enumerate(evs):
        t = 60.0 * (i + 1)
        if kind == "round":
            ev: Event = Round(t, arg)
        elif kind == "stale":
            ev = Stale(t)
        elif kind == "maint":
            ev = Maintenance(t, arg)
        else:
            ctx = Context(impaired_root="p" if arg[0] else None, suspect=arg[1] and not arg[0])
            ev = AncestorChanged(t)
        dev, trs = apply(dev, ev, t, device="x", rules=rules, ctx=ctx)
        for tr in trs:
            assert tr.old == prev
            assert tr.new != tr.old
            assert tr.ts >= last_ts
            prev, last_ts = tr.new, tr.ts
        assert dev.state == prev
        assert (dev.state == State.MAINTENANCE) == dev.maint
        if dev.state == State.UNREACHABLE:
            assert dev.root_cause == "p"
        if not dev.maint:
            assert dev.state == dev.base


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.0, 0.99), min_size=1, max_size=200))
def test_property_no_outage_from_loss_alone(losses) -> None:
    # Every round answered with some loss: never DOWN.
    dev, trs = run([Round(60.0 * (i + 1), loss < 1.0) for i, loss in enumerate(losses)])
    assert all(t.new == State.UP for t in trs)
    assert dev.state == State.UP


def test_an_own_outage_is_not_rewritten_when_the_ancestor_fails_later() -> None:
    dev, _ = run(rounds("1000"))
    assert dev.state == State.DOWN
    dev, trs = run([*rounds("00", t0=300), AncestorChanged(400)], ctx=Context(impaired_root="d1"), start=dev)
    assert dev.state == State.DOWN
    assert trs == []


def test_a_confirmed_failure_is_down_at_once_dated_at_its_notification() -> None:
    # Up, then an SNMP linkDown made the agent probe the device out of schedule and it did
    # not answer: DOWN now (not after down_after rounds), dated at the notification.
    dev, trs = run([*rounds("11"), Confirmed(150.0, "linkDown", "timeout")])
    assert dev.state is State.DOWN
    assert (trs[-1].ts, trs[-1].cause) == (150.0, "linkDown trap, probe failed: timeout")
    # A failed round already under way dates the outage from its own first failure.
    dev, trs = run([*rounds("110"), Confirmed(200.0, "linkDown", "timeout")])
    assert (dev.state, trs[-1].ts) == (State.DOWN, 180.0)
    # The next good round brings it back.
    dev, _ = run([*rounds("11"), Confirmed(150.0, "linkDown"), Round(180.0, True)])
    assert dev.state is State.UP


def test_a_confirmed_failure_follows_its_ancestors_as_rounds_do() -> None:
    up, _ = run(rounds("11"))
    dev, trs = run([Confirmed(150.0, "linkDown", "timeout")], ctx=Context(impaired_root="d1"), start=up)
    assert (dev.state, dev.root_cause) == (State.UNREACHABLE, "d1")
    held, trs = run([Confirmed(150.0, "linkDown", "timeout")], ctx=Context(suspect=True), start=up)
    assert (held.state, trs) == (State.UP, [])  # held: the failing uplink's verdict decides
    assert held.fail_streak >= RULES.down_after
