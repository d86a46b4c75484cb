"""Scenarios: what happens to the simulated network, as a YAML file, made reproducible.

A scenario is a list of events with times relative to the demo's start (seconds); the
format is documented in ``netmon/demo/scenarios/README.md``. :func:`plan` turns a
scenario, an inventory and a seed into a :class:`Plan`: a time-ordered list of
:class:`Action` on simulated devices and agents, the maintenance windows to declare to
the collector, and notes on what could not be applied. It is pure: the same scenario,
inventory, seed and start give the same plan, so the ground truth
(:mod:`netmon.demo.truth`) and the run agree by construction.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from netmon.config.inventory import Inventory, Role
from netmon.config.settings import MaintenanceWindow, Scope

#: The mountain districts of Quảng Ngãi, where links are longer and worse.
MOUNTAIN_DISTRICTS = ("Ba Tơ", "Sơn Tây", "Minh Long", "Sơn Hà", "Trà Bồng")

EventKind = Literal["outage", "reboot", "fibre_cut", "flap", "degrade", "maintenance", "agent_silent"]
Span = float | tuple[float, float]


class ScenarioError(ValueError):
    """A scenario file that cannot be read or does not fit the inventory."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """Which devices an event hits.

    ``device`` names one device; otherwise the devices of ``commune``/``district``/
    ``districts`` (GSO code or name, with or without diacritics), or all devices, are
    filtered by ``role`` and, with ``count``, a seeded random ``count`` of them is drawn.
    """

    device: str | None = None
    commune: str | None = None
    district: str | None = None
    districts: tuple[str, ...] = ()
    role: Role | None = None
    count: int | None = Field(default=None, ge=1)


class Event(_Strict):
    """One thing that happens; see the scenarios README for each kind's fields."""

    kind: EventKind
    at: Span = 0.0
    duration: Span | None = None
    target: Target = Target()
    agent: str | None = None
    reboot: bool = False
    period: float = Field(default=20.0, gt=0)
    down_share: float = Field(default=0.5, gt=0, lt=1)
    latency_ms: float = Field(default=0.0, ge=0)
    loss: float = Field(default=0.0, ge=0, le=1)
    down: bool = True
    reason: str = ""

    @field_validator("at", "duration", mode="before")
    @classmethod
    def _span(cls, v: object) -> object:
        if isinstance(v, list):
            if len(v) != 2 or not all(isinstance(x, int | float) for x in v) or v[0] > v[1]:
                raise ValueError("a range is [low, high] seconds")
            return (float(v[0]), float(v[1]))
        return v

    @model_validator(mode="after")
    def _shape(self) -> Event:
        if self.kind in ("flap", "maintenance", "agent_silent") and self.duration is None:
            raise ValueError(f"a {self.kind} event needs a duration")
        if self.kind == "agent_silent" and self.agent is None and self.target.district is None:
            raise ValueError("agent_silent needs agent (an agent id) or target.district")
        if self.kind == "degrade" and self.latency_ms == 0 and self.loss == 0:
            raise ValueError("degrade needs latency_ms or loss")
        return self


class Scenario(_Strict):
    """A scenario file."""

    name: str
    description: str = ""
    time_scale: float = Field(default=1.0, gt=0)
    events: tuple[Event, ...] = ()


ActionOp = Literal["hold", "release", "degrade", "restore", "agent_down", "agent_up"]


@dataclass(frozen=True, slots=True)
class Action:
    """One change at one instant (Unix time ``t``) to a device or an agent.

    ``hold``/``release`` start and end a reason the device does not answer (``reboot``
    on a release restarts its sysUpTime); ``degrade``/``restore`` set its latency and
    loss; ``agent_down``/``agent_up`` cut and restore an agent's broker connection.
    """

    t: float
    op: ActionOp
    target: str
    reason: str = ""
    reboot: bool = False
    latency_s: float = 0.0
    loss: float = 0.0
    event: int = -1


@dataclass(frozen=True)
class Plan:
    """A scenario made concrete for one inventory, seed and start time."""

    scenario: str
    seed: int
    start: float
    time_scale: float
    actions: list[Action]
    maintenance: list[MaintenanceWindow]
    notes: list[str] = field(default_factory=list)


def fold(text: str) -> str:
    """Lower case without diacritics or the unit's prefix: 'Huyện Ba Tơ' -> 'ba to'."""
    t = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    t = "".join(c for c in t if unicodedata.category(c) != "Mn").lower().strip()
    for prefix in ("thanh pho ", "thi xa ", "huyen ", "quan ", "phuong ", "thi tran ", "xa "):
        if t.startswith(prefix):
            return t[len(prefix) :]
    return t


def load(path: str | Path | None) -> Scenario:
    """Read a scenario file, or the built-in default one when ``path`` is None.

    Raises:
        ScenarioError: The file is missing, not YAML, or not a valid scenario.
    """
    try:
        if path is None:
            text = (resources.files("netmon.demo") / "scenarios" / "default.yaml").read_text(encoding="utf-8")
            where = "default.yaml"
        else:
            text = Path(path).read_text(encoding="utf-8")
            where = str(path)
        data = yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ScenarioError(f"{where}: {problems}") from None


def agent_scopes(inv: Inventory, *, districts_per_agent: int = 1, communes_per_agent: int = 25) -> dict[str, Scope]:
    """The demo's agents and what each polls.

    One per district (``demo-d<code>``) by default, or one per ``districts_per_agent``
    districts (``demo-g<n>``, for the national scale); one per ``communes_per_agent``
    communes without a district (2025 structure, ``demo-c<n>``); one for the
    province-level devices (``demo-p<code>``).
    """
    out: dict[str, Scope] = {}
    if inv.devices:
        out[f"demo-p{inv.province.code}"] = Scope(devices=tuple(d.id for d in inv.devices))
    codes = [d.code for d in inv.districts]
    if districts_per_agent <= 1:
        for code in codes:
            out[f"demo-d{code}"] = Scope(districts=(code,))
    else:
        for i in range(0, len(codes), districts_per_agent):
            out[f"demo-g{i // districts_per_agent + 1}"] = Scope(districts=tuple(codes[i : i + districts_per_agent]))
    communes = [c.code for c in inv.communes]
    for i in range(0, len(communes), communes_per_agent):
        out[f"demo-c{i // communes_per_agent + 1}"] = Scope(communes=tuple(communes[i : i + communes_per_agent]))
    return out


def _span(v: Span | None, rng: random.Random) -> float | None:
    if v is None:
        return None
    if isinstance(v, tuple):
        return rng.uniform(*v)
    return float(v)


def _districts(inv: Inventory, keys: Sequence[str]) -> list[str]:
    folded = {fold(k) for k in keys}
    return [d.code for d in inv.districts if d.code in keys or fold(d.name) in folded]


def resolve(target: Target, inv: Inventory, rng: random.Random) -> list[str]:
    """Device ids an event's target names (empty when its selector matches nothing).

    Raises:
        ScenarioError: An explicit ``device`` that the inventory does not have.
    """
    idx = inv.index
    if target.device is not None:
        if target.device not in idx.devices:
            raise ScenarioError(f"unknown device {target.device!r}")
        return [target.device]
    ids = list(idx.devices)
    if target.commune is not None:
        key = fold(target.commune)
        codes = {c.code for c in idx.communes.values() if target.commune == c.code or fold(c.name) == key}
        ids = [i for i in ids if (p := idx.placement[i].commune) is not None and p.code in codes]
    keys = [*target.districts, *([target.district] if target.district else [])]
    if keys:
        codes = set(_districts(inv, keys))
        ids = [i for i in ids if (dp := idx.placement[i].district) is not None and dp.code in codes]
    if target.role is not None:
        ids = [i for i in ids if idx.devices[i].role == target.role]
    if target.count is not None and target.count < len(ids):
        ids = sorted(rng.sample(ids, target.count))
    return ids


def plan(
    scenario: Scenario,
    inv: Inventory,
    *,
    seed: int,
    start: float,
    horizon_s: float | None = None,
    time_scale: float | None = None,
    agents: Mapping[str, Scope] | None = None,
) -> Plan:
    """Make a scenario concrete.

    Args:
        scenario: The parsed scenario.
        inv: The simulated inventory.
        seed: Seeds every random choice (each event draws from its own stream, so
            editing one event does not reshuffle the others).
        start: Unix time of the demo's start; event times are relative to it.
        horizon_s: Length of the run (scenario seconds, before scaling), if known:
            open-ended events last until then.
        time_scale: Multiplies every time of the scenario (overrides the file's).
        agents: The demo's agents and their scopes (default :func:`agent_scopes`).

    Raises:
        ScenarioError: An event names a device or agent that does not exist.
    """
    scale = time_scale if time_scale is not None else scenario.time_scale
    actions: list[Action] = []
    windows: list[MaintenanceWindow] = []
    notes: list[str] = []
    agents = dict(agents) if agents is not None else agent_scopes(inv)
    for n, ev in enumerate(scenario.events):
        rng = random.Random(f"{seed}:{n}")
        at = _span(ev.at, rng)
        assert at is not None
        dur = _span(ev.duration, rng)
        t0 = start + at * scale
        t1 = None if dur is None else t0 + dur * scale
        if horizon_s is not None and at >= horizon_s:
            continue
        if ev.kind == "agent_silent":
            if ev.agent is not None:
                if ev.agent not in agents:
                    raise ScenarioError(f"event {n}: unknown agent {ev.agent!r} (agents: {', '.join(agents)})")
                who = [ev.agent]
            else:
                codes = set(_districts(inv, [ev.target.district or ""]))
                who = [a for a, sc in agents.items() if codes & set(sc.districts)]
            if not who:
                notes.append(f"event {n} (agent_silent): no agent for {ev.target.district!r} in this inventory")
            for a in who:
                actions.append(Action(t0, "agent_down", a, event=n))
                if t1 is not None:
                    actions.append(Action(t1, "agent_up", a, event=n))
            continue
        if ev.kind == "fibre_cut":
            # The uplink of a district: its router stops answering, and with it every
            # device behind it (the simulator follows the parent chain).
            tgt = (
                ev.target if ev.target.role is not None else ev.target.model_copy(update={"role": Role.DISTRICT_ROUTER})
            )
            devices = resolve(tgt, inv, rng)
        else:
            devices = resolve(ev.target, inv, rng)
        if not devices:
            notes.append(f"event {n} ({ev.kind}): its target matches no device of this inventory; skipped")
            continue
        reason = ev.reason or ev.kind
        if ev.kind in ("outage", "reboot", "fibre_cut"):
            if ev.kind == "reboot" and t1 is None:
                t1 = t0 + 30.0 * scale
            for d in devices:
                actions.append(Action(t0, "hold", d, reason, event=n))
                if t1 is not None:
                    actions.append(Action(t1, "release", d, reason, reboot=ev.reboot or ev.kind == "reboot", event=n))
        elif ev.kind == "flap":
            assert t1 is not None
            per = ev.period * scale
            for d in devices:
                # Each device flaps with its own phase, so a district does not flap in step.
                t = t0 + rng.uniform(0, per)
                while t < t1:
                    actions.append(Action(t, "hold", d, reason, event=n))
                    actions.append(Action(min(t + per * ev.down_share, t1), "release", d, reason, event=n))
                    t += per
        elif ev.kind == "degrade":
            for d in devices:
                actions.append(Action(t0, "degrade", d, reason, latency_s=ev.latency_ms / 1000, loss=ev.loss, event=n))
                if t1 is not None:
                    actions.append(Action(t1, "restore", d, reason, event=n))
        elif ev.kind == "maintenance":
            assert t1 is not None
            for d in devices:
                windows.append(
                    MaintenanceWindow(
                        device=d,
                        start=datetime.fromtimestamp(t0, UTC),
                        end=datetime.fromtimestamp(t1, UTC),
                        reason=ev.reason or "demo maintenance",
                    )
                )
                if ev.down:
                    # The work itself: the device is off for the middle of the window.
                    actions.append(Action(t0 + (t1 - t0) * 0.2, "hold", d, reason, event=n))
                    actions.append(Action(t0 + (t1 - t0) * 0.7, "release", d, reason, reboot=True, event=n))
    actions.sort(key=lambda a: (a.t, a.op in ("hold", "agent_down", "degrade"), a.target))
    return Plan(scenario.name, seed, start, scale, actions, windows, notes)
