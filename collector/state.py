"""The pure core of device state: ``apply(state, event, now, ...) -> (state, transitions)``.

Nothing here reads a clock, logs, or touches a socket; every function returns new
immutable values. The engine (:mod:`collector.engine`) groups samples into probe rounds,
works out each device's dependency context (is an ancestor down?) and feeds events in
measurement-time order.

The rules, in words:

* A device is judged per **probe round**: the samples (ICMP, TCP, SNMP) one agent took of
  it in one polling interval. A round is *good* when any sample of it answered — a lossy
  ICMP round (loss < 1) answered, so a lossy link is UP with its loss reported, never a
  flapping DOWN; an SNMP timeout beside a good ping is a management-plane problem, not an
  outage. A round is *failed* when none answered.
* ``down_after`` consecutive failed rounds (per role) make a device DOWN; the transition is
  dated at the **first** failed round of the streak, because that is when the outage
  began as far as anyone can know (this keeps availability exact rather than late by
  ``down_after`` intervals). ``up_after`` consecutive good rounds make it UP again, dated
  at the first good round.
* A failing device whose ancestor (``Inventory.index.ancestors``) is DOWN or UNREACHABLE is
  UNREACHABLE at once, with the **root cause** the ancestor that is actually DOWN. While an
  ancestor is itself failing but not yet confirmed ("suspect"), a child that reached its
  threshold is *held*: it turns UNREACHABLE if the ancestor is confirmed down, DOWN (dated
  at its own first failure) if the ancestor answers again. This is what keeps a cut uplink
  from raising one DOWN per commune.
* When the ancestor recovers, an UNREACHABLE child stays UNREACHABLE until it gives fresh
  evidence: one good round makes it UP, ``down_after`` failed rounds after the recovery
  make it DOWN (its own fault now).
* UNKNOWN (nothing heard, or the agent's last will) is a monitoring outage: streaks are
  forgotten and the next rounds decide afresh.
* MAINTENANCE overlays the state: the underlying (``base``) state is still tracked so the
  device comes out of maintenance in the state it is really in.
* Flapping (``flap_transitions`` changes between UP and DOWN/UNREACHABLE within
  ``flap_window_s``) is a flag beside the state; it suppresses alerts, it hides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from netmon.collector.model import State, Transition
from netmon.config.settings import StateSettings

IMPAIRED = frozenset({State.DOWN, State.UNREACHABLE})


@dataclass(frozen=True, slots=True)
class Rules:
    """The thresholds of one device (its role's ``down_after`` already chosen)."""

    down_after: int = 3
    up_after: int = 1
    flap_transitions: int = 5
    flap_window_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What the core knows of one device.

    Attributes:
        state: The effective state (MAINTENANCE overlays ``base``).
        since: When the effective state began.
        cause: Why, in words.
        root_cause: Id of the DOWN device that explains an UNREACHABLE state.
        base: The state ignoring maintenance.
        maint: Whether a maintenance window covers the device now.
        fail_streak: Consecutive failed rounds (since the last good one or the last reset).
        fail_start: Time of the first failed round of the streak.
        ok_streak: Consecutive good rounds.
        ok_start: Time of the first good round of that streak.
        flaps: Times of recent UP <-> DOWN/UNREACHABLE changes, within the flap window.
        flapping: Whether the device flaps.
        cause_since: When the root cause last changed within the current state (None:
            not since the state began).
    """

    state: State = State.UNKNOWN
    since: float = 0.0
    cause: str = "no data yet"
    root_cause: str | None = None
    base: State = State.UNKNOWN
    maint: bool = False
    fail_streak: int = 0
    fail_start: float | None = None
    ok_streak: int = 0
    ok_start: float | None = None
    flaps: tuple[float, ...] = ()
    flapping: bool = False
    cause_since: float | None = None

    @property
    def suspect(self) -> bool:
        """Failing but not (yet) confirmed DOWN/UNREACHABLE."""
        return self.fail_streak > 0 and self.base not in IMPAIRED


@dataclass(frozen=True, slots=True)
class Context:
    """What the engine tells the core about a device's ancestors at the time of an event.

    Attributes:
        impaired_root: Id of the DOWN device explaining an impaired ancestor, or None.
        suspect: An ancestor is failing but not yet confirmed.
    """

    impaired_root: str | None = None
    suspect: bool = False


NO_CONTEXT = Context()


# --- events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Round:
    """A probe round's verdict: ``ok`` when any sample answered."""

    ts: float
    ok: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Stale:
    """Nothing heard (data too old, or the agent's last will): UNKNOWN from ``ts``."""

    ts: float
    cause: str = "no data"


@dataclass(frozen=True, slots=True)
class AncestorChanged:
    """An ancestor's state changed at ``ts``; the context says what holds now."""

    ts: float


@dataclass(frozen=True, slots=True)
class Maintenance:
    """A maintenance window began (``on``) or ended at ``ts``."""

    ts: float
    on: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A failure confirmed out of schedule: an SNMP notification (``trap``, e.g. linkDown)
    made the agent probe the device at once, and it did not answer. It counts as a whole
    failure streak: DOWN now, dated at ``ts``, instead of after ``down_after`` rounds —
    unless an ancestor explains it (UNREACHABLE) or is itself failing (held), as for rounds.
    """

    ts: float
    trap: str
    reason: str = ""


Event = Round | Stale | AncestorChanged | Maintenance | Confirmed


def initial(since: float) -> DeviceState:
    """A device nothing has been heard of yet: UNKNOWN since ``since``."""
    return DeviceState(since=since)


def _move(
    dev: DeviceState,
    *,
    device: str,
    base: State,
    ts: float,
    now: float,
    cause: str,
    root: str | None,
    rules: Rules,
    **changes: object,
) -> tuple[DeviceState, tuple[Transition, ...]]:
    """Set a new base state at ``ts`` and emit the effective transition, if any.

    A new root cause of the same impaired state (the core answers again while the district
    uplink stays cut) is a transition too, from the state to itself, dated at ``now``: the
    outage goes on, but the fault that explains it is another from then on.
    """
    floor = dev.since if dev.cause_since is None else max(dev.since, dev.cause_since)
    ts = max(ts, floor)  # transitions of a device never go back in time
    effective = State.MAINTENANCE if dev.maint else base
    if effective == dev.state:
        new_root = root if base in IMPAIRED else None
        if not dev.maint and base in IMPAIRED and new_root != dev.root_cause:
            at = max(now, floor)
            tr = Transition(device=device, ts=at, old=dev.state, new=dev.state, cause=cause, root_cause=new_root)
            return replace(dev, base=base, cause=cause, root_cause=new_root, cause_since=at, **changes), (tr,)  # type: ignore[arg-type]
        # Same effective state (e.g. inside maintenance): no transition.
        keep_cause = dev.cause if dev.maint else cause
        return replace(dev, base=base, cause=keep_cause, root_cause=new_root, **changes), ()  # type: ignore[arg-type]
    flaps = dev.flaps
    if {dev.state, effective} & {State.UP} and {dev.state, effective} & IMPAIRED:
        horizon = max(now, ts) - rules.flap_window_s
        flaps = (*(f for f in flaps if f > horizon), ts)
    flapping = len(flaps) >= rules.flap_transitions
    tr = Transition(
        device=device,
        ts=ts,
        old=dev.state,
        new=effective,
        cause=cause,
        root_cause=root if effective in IMPAIRED else None,
    )
    new = replace(
        dev,
        state=effective,
        since=ts,
        cause=cause,
        root_cause=root if effective in (*IMPAIRED, State.MAINTENANCE) else None,
        base=base,
        flaps=flaps,
        flapping=flapping,
        cause_since=None,
        **changes,  # type: ignore[arg-type]
    )
    return new, (tr,)


def _judge_failure(
    dev: DeviceState, *, device: str, now: float, rules: Rules, ctx: Context, reason: str, cause: str | None = None
) -> tuple[DeviceState, tuple[Transition, ...]]:
    """Decide what a failing device is, given its streak and its ancestors (``cause``: the
    words of a DOWN, when not its failed rounds')."""
    start = dev.fail_start if dev.fail_start is not None else now
    if dev.base == State.DOWN:
        # Its own outage began first: an ancestor failing later does not rewrite that.
        return dev, ()
    if ctx.impaired_root is not None:
        # Explained by the ancestor: no need to wait for N rounds of our own.
        if dev.base == State.UNREACHABLE and dev.root_cause == ctx.impaired_root:
            return dev, ()
        return _move(
            dev,
            device=device,
            base=State.UNREACHABLE,
            ts=start,
            now=now,
            cause=f"unreachable: {ctx.impaired_root} is down",
            root=ctx.impaired_root,
            rules=rules,
        )
    if dev.fail_streak < rules.down_after:
        return dev, ()
    if ctx.suspect:
        return dev, ()  # held: the ancestor's verdict decides
    # (An UNREACHABLE device gets here with fresh evidence after its ancestor recovered.)
    cause = cause or f"{dev.fail_streak} failed rounds: {reason or 'no answer'}"
    return _move(dev, device=device, base=State.DOWN, ts=start, now=now, cause=cause, root=None, rules=rules)


def steady(dev: DeviceState) -> bool:
    """UP with no failure streak: a good round changes nothing (:func:`apply`'s common case,
    which the write path decides without making an event)."""
    return dev.base is State.UP and not dev.fail_streak


def apply(
    dev: DeviceState,
    event: Event,
    now: float,
    *,
    device: str,
    rules: Rules,
    ctx: Context = NO_CONTEXT,
) -> tuple[DeviceState, tuple[Transition, ...]]:
    """Apply one event to one device.

    Args:
        dev: The device's state before the event.
        event: What happened.
        now: The time of the event (measurement time, not delivery time).
        device: The device id (for the transitions emitted).
        rules: Its thresholds.
        ctx: Its ancestors' situation, as the engine sees it.

    Returns:
        The new state and the transitions of the effective state (zero or one; the
        engine stores them and propagates them to the device's dependants).
    """
    if isinstance(event, Round):
        ts = event.ts
        if event.ok:
            if steady(dev):
                return dev, ()  # the common case: nothing changes, nothing is allocated
            ok_streak = dev.ok_streak + 1
            ok_start = dev.ok_start if dev.ok_streak > 0 and dev.ok_start is not None else ts
            if dev.base != State.UP and ok_streak >= rules.up_after:
                cause = "answering again" if dev.base in IMPAIRED else "answering"
                return _move(
                    dev,
                    device=device,
                    base=State.UP,
                    ts=ok_start,
                    now=now,
                    cause=cause,
                    root=None,
                    rules=rules,
                    ok_streak=ok_streak,
                    ok_start=ok_start,
                    fail_streak=0,
                    fail_start=None,
                )
            return replace(dev, ok_streak=ok_streak, ok_start=ok_start, fail_streak=0, fail_start=None), ()
        fail_streak = dev.fail_streak + 1
        fail_start = dev.fail_start if dev.fail_streak > 0 and dev.fail_start is not None else ts
        failed = replace(dev, fail_streak=fail_streak, fail_start=fail_start, ok_streak=0, ok_start=None)
        return _judge_failure(failed, device=device, now=now, rules=rules, ctx=ctx, reason=event.reason)

    if isinstance(event, Confirmed):
        ts = event.ts
        fail_start = dev.fail_start if dev.fail_streak > 0 and dev.fail_start is not None else ts
        failed = replace(
            dev,
            fail_streak=max(dev.fail_streak + 1, rules.down_after),
            fail_start=min(fail_start, ts),
            ok_streak=0,
            ok_start=None,
        )
        why = f"{event.trap} trap, probe failed: {event.reason or 'no answer'}"
        return _judge_failure(failed, device=device, now=ts, rules=rules, ctx=ctx, reason=event.reason, cause=why)

    if isinstance(event, Stale):
        if dev.base == State.UNKNOWN:
            return dev, ()
        return _move(
            dev,
            device=device,
            base=State.UNKNOWN,
            ts=event.ts,
            now=now,
            cause=event.cause,
            root=None,
            rules=rules,
            fail_streak=0,
            fail_start=None,
            ok_streak=0,
            ok_start=None,
        )

    if isinstance(event, AncestorChanged):
        if dev.fail_streak == 0:
            return dev, ()
        if ctx.impaired_root is None and dev.base == State.UNREACHABLE:
            # The ancestor is back: demand fresh evidence before blaming this device.
            if ctx.suspect:
                return dev, ()
            return replace(dev, fail_streak=0, fail_start=None), ()
        return _judge_failure(dev, device=device, now=event.ts, rules=rules, ctx=ctx, reason="")

    # Maintenance
    if event.on == dev.maint:
        return dev, ()
    flipped = replace(dev, maint=event.on)
    if event.on:
        ts = max(event.ts, dev.since)
        tr = Transition(device=device, ts=ts, old=dev.state, new=State.MAINTENANCE, cause=event.reason or "maintenance")
        return replace(flipped, state=State.MAINTENANCE, since=ts, cause=event.reason or "maintenance"), (tr,)
    ts = max(event.ts, dev.since)
    cause = "maintenance ended"
    tr = Transition(device=device, ts=ts, old=State.MAINTENANCE, new=dev.base, cause=cause, root_cause=dev.root_cause)
    return replace(flipped, state=dev.base, since=ts, cause=cause), (tr,)


def rules_for(settings: StateSettings, role: str) -> Rules:
    """The rules of a device of ``role`` under the collector's state settings."""
    by_role: Mapping[str, int] = {str(k): v for k, v in settings.down_after_by_role.items()}
    return Rules(
        down_after=by_role.get(role, settings.down_after),
        up_after=settings.up_after,
        flap_transitions=settings.flap_transitions,
        flap_window_s=settings.flap_window_s,
    )
