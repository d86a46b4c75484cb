"""The wire contract between agents and collectors, version 1.

One module, imported by both ends. Topics::

    {prefix}/agents/{agent_id}/status    retained AgentStatus; the last will says offline
    {prefix}/agents/{agent_id}/samples   SampleBatch, QoS 1

The agent id is in the topic so the broker's ACL (``pattern write
netmon/v1/agents/%u/#``) can stop one agent from speaking for another; the collector also
checks that the payload's agent equals the topic's.

Payloads are JSON, decoded strictly by msgspec (unknown fields rejected, types checked):
several times faster than pydantic, which matters on the collector's hot path.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

SCHEMA_VERSION = 1
DEFAULT_PREFIX = "netmon/v1"

#: Measurement timestamps further than this from the collector's clock are rejected.
MAX_FUTURE_SKEW_S = 300.0
#: The oldest timestamp a batch may carry (2020-01-01): older is a broken clock.
MIN_TIMESTAMP = 1_577_836_800.0

ProbeKind = Literal["icmp", "snmp", "tcp"]


class Rtt(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Round-trip times of one probe round, in seconds; jitter is the mean absolute
    difference between consecutive RTTs (RFC 3550 style, without smoothing)."""

    min: float
    avg: float
    max: float
    jitter: float = 0.0


class Interface(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One interface as the agent saw it (IF-MIB ifTable + ifXTable).

    ``oper_status`` and ``admin_status`` are IF-MIB codes (1 up, 2 down, 3 testing,
    5 dormant, 6 notPresent, 7 lowerLayerDown). Counters are raw; ``in_bps``/``out_bps``
    are rates the agent computed from the previous poll, None when no valid rate exists
    (first poll, counter discontinuity, reboot, or a rate above the interface speed).
    """

    index: int
    name: str
    oper_status: int
    admin_status: int = 1
    alias: str = ""
    speed_bps: int | None = None
    in_octets: int | None = None
    out_octets: int | None = None
    in_errors: int | None = None
    out_errors: int | None = None
    in_discards: int | None = None
    out_discards: int | None = None
    counter_bits: int = 64
    in_bps: float | None = None
    out_bps: float | None = None
    rate_invalid: str = ""


class Trigger(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Why the agent probed a device out of schedule: an SNMP notification it validated
    (known sender, right community or USM user).

    Attributes:
        trap: ``linkDown``, ``linkUp``, ``coldStart`` or ``warmStart``.
        sender: Device id that sent it: the sample's device, or its parent (a link trap
            from the uplink makes the agent probe the devices behind it too).
        received_at: Unix time the agent received it.
        if_index: The interface a link trap names, when it names one.
    """

    trap: str
    sender: str
    received_at: float
    if_index: int | None = None


class Sample(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One probe of one device.

    Attributes:
        device: Device id from the inventory.
        probe: Which probe produced this sample.
        ts: Unix time of the measurement (not of delivery).
        ok: Whether the device answered.
        reason: Why it did not (``timeout``, ``refused``, ``auth``, ``malformed``, ...).
        rtt: ICMP/TCP round-trip statistics.
        loss: Loss ratio of the round, 0..1.
        sent: Packets sent in the round.
        response_s: SNMP response time (a second latency signal).
        sys_uptime_s: SNMP sysUpTime in seconds.
        rebooted: The agent saw the device restart since its last poll (hrSystemUptime,
            snmpEngineBoots or sysUpTime; a 2^32 rollover or a frozen uptime is not one).
        rebooted_at: When it restarted, by the agent's estimate (``ts`` minus the uptime
            of the reading that saw the restart); set with ``rebooted``.
        sys_name: SNMP sysName, sent when it changes (and on the first poll).
        sys_descr: SNMP sysDescr, likewise.
        sys_object_id: SNMP sysObjectID, likewise.
        interfaces: Interface table, when polled.
        unread: MIB tables the agent could not read completely this poll (``ifTable``,
            ``ifXTable``) with the reason (``timeout``, ``truncated``, ``error_status_5``,
            ...): ``interfaces`` is then absent, or partial when the reason is
            ``truncated`` or ``empty``. Absent when everything asked was read.
        trigger: Set when an SNMP notification made the agent take this sample out of
            schedule (see :class:`Trigger`); absent for scheduled polls.
    """

    device: str
    probe: ProbeKind
    ts: float
    ok: bool
    reason: str = ""
    rtt: Rtt | None = None
    loss: float | None = None
    sent: int | None = None
    response_s: float | None = None
    sys_uptime_s: float | None = None
    rebooted: bool = False
    sys_name: str | None = None
    sys_descr: str | None = None
    sys_object_id: str | None = None
    interfaces: list[Interface] | None = None
    rebooted_at: float | None = None
    unread: dict[str, str] | None = None
    trigger: Trigger | None = None


class SampleBatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A batch of samples from one agent; ``seq`` grows by one per batch per agent
    (and survives agent restarts), so the collector can drop QoS 1 redeliveries and
    outbox replays it has already applied."""

    v: int
    agent: str
    seq: int
    sent_at: float
    samples: list[Sample]


class AgentStatus(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """The retained status message: the birth message on connect and the last will."""

    v: int
    agent: str
    state: Literal["online", "offline"]
    ts: float = 0.0
    version: str = ""
    devices: int = 0
    interval_s: float = 0.0
    scope: str = ""


class InvalidBatch(ValueError):
    """A payload that is not a valid batch; ``reason`` is a short, bounded code for metrics."""

    #: The detail goes into logs and the dead-letter table; a hostile payload (a 1 MB agent
    #: name) must not make it large.
    MAX_DETAIL = 300

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        if len(detail) > self.MAX_DETAIL:
            detail = detail[: self.MAX_DETAIL] + "…"
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


_batch_decoder = msgspec.json.Decoder(SampleBatch)
_status_decoder = msgspec.json.Decoder(AgentStatus)
_encoder = msgspec.json.Encoder()


def samples_topic(agent_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Topic of an agent's sample batches."""
    return f"{prefix}/agents/{agent_id}/samples"


def status_topic(agent_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """Topic of an agent's retained status."""
    return f"{prefix}/agents/{agent_id}/status"


def parse_topic(topic: str, prefix: str = DEFAULT_PREFIX) -> tuple[str, str] | None:
    """``(agent_id, kind)`` of a netmon topic, kind ``samples`` or ``status``; else None."""
    head = prefix + "/agents/"
    if not topic.startswith(head):
        return None
    rest = topic[len(head) :].split("/")
    if len(rest) != 2 or not rest[0] or rest[1] not in ("samples", "status"):
        return None
    return rest[0], rest[1]


def encode(msg: SampleBatch | AgentStatus) -> bytes:
    """Serialise a message to JSON bytes."""
    return _encoder.encode(msg)


def _finite(x: float | None) -> bool:
    return x is None or math.isfinite(x)


def decode_batch(payload: bytes, *, topic_agent: str | None = None, now: float | None = None) -> SampleBatch:
    """Decode and check a sample batch.

    Args:
        payload: The MQTT payload.
        topic_agent: The agent id in the topic; the payload must name the same agent.
        now: The collector's clock; timestamps beyond it (plus skew) or before 2020 are absurd.

    Raises:
        InvalidBatch: With a reason among ``json``, ``schema``, ``version``,
            ``agent_mismatch``, ``timestamp``, ``value``.
    """
    try:
        batch = _batch_decoder.decode(payload)
    except msgspec.ValidationError as exc:  # well-formed JSON of the wrong shape
        raise InvalidBatch("schema", str(exc)[:200]) from None
    except msgspec.DecodeError as exc:
        raise InvalidBatch("json", str(exc)[:200]) from None
    if batch.v != SCHEMA_VERSION:
        raise InvalidBatch("version", f"schema version {batch.v}, this collector speaks {SCHEMA_VERSION}")
    if topic_agent is not None and batch.agent != topic_agent:
        raise InvalidBatch("agent_mismatch", f"payload agent {batch.agent!r} on topic of {topic_agent!r}")
    if batch.seq < 0:
        raise InvalidBatch("value", "negative sequence number")
    for s in batch.samples:
        if (
            not (s.ts >= MIN_TIMESTAMP)
            or (now is not None and s.ts > now + MAX_FUTURE_SKEW_S)
            or not math.isfinite(s.ts)
        ):
            raise InvalidBatch("timestamp", f"device {s.device!r} measured at absurd time {s.ts!r}")
        if s.loss is not None and not (0.0 <= s.loss <= 1.0):
            raise InvalidBatch("value", f"device {s.device!r} loss {s.loss!r} outside 0..1")
        if not (_finite(s.response_s) and _finite(s.sys_uptime_s)) or (
            s.rtt is not None
            and not all(math.isfinite(x) and x >= 0 for x in (s.rtt.min, s.rtt.avg, s.rtt.max, s.rtt.jitter))
        ):
            raise InvalidBatch("value", f"device {s.device!r} has a non-finite or negative time")
    return batch


def decode_status(payload: bytes, *, topic_agent: str | None = None) -> AgentStatus:
    """Decode an agent status; raises :class:`InvalidBatch` like :func:`decode_batch`."""
    try:
        st = _status_decoder.decode(payload)
    except msgspec.DecodeError as exc:
        raise InvalidBatch("schema", str(exc)[:200]) from None
    if st.v != SCHEMA_VERSION:
        raise InvalidBatch("version", f"schema version {st.v}")
    if topic_agent is not None and st.agent != topic_agent:
        raise InvalidBatch("agent_mismatch", f"payload agent {st.agent!r} on topic of {topic_agent!r}")
    return st
