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
import re
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

SCHEMA_VERSION = 1
DEFAULT_PREFIX = "netmon/v1"

#: Measurement timestamps further than this from the collector's clock are rejected.
MAX_FUTURE_SKEW_S = 300.0
#: The oldest timestamp a batch may carry (2020-01-01): older is a broken clock.
MIN_TIMESTAMP = 1_577_836_800.0

ProbeKind = Literal["icmp", "snmp", "tcp"]

# What a value can possibly be. Checked by msgspec while it decodes (in C: the constraints
# cost the collector nothing measurable, see BENCHMARKS.md); a value outside its range is
# rejected with the reason ``value``. Every float has an upper bound, which also rejects
# the infinity that a JSON number like 1e999 decodes to.
#: A duration the agent measured (RTT, jitter, SNMP response time): a poll times out
#: long before a day.
Seconds = Annotated[float, Meta(ge=0.0, le=86_400.0)]
#: A ratio (packet loss).
Ratio = Annotated[float, Meta(ge=0.0, le=1.0)]
#: An SNMP counter (Counter32 or Counter64). Not above 2^64 - 1 either, but that bound is
#: not checked: msgspec's bounds stop at int64 (a Counter64 may be larger), and a check in
#: Python cost a fifth of the decoding time of a batch with interface tables; the agent's
#: BER decoder cannot produce a larger one, and downstream it is only a big number.
Counter = Annotated[int, Meta(ge=0)]
#: An IF-MIB ifOperStatus / ifAdminStatus code: 1 up ... 7 lowerLayerDown.
IfStatus = Annotated[int, Meta(ge=1, le=7)]
#: A Unix time (a batch's send time, a status's time); the samples' times are checked
#: against the collector's clock in :func:`decode_batch` (reason ``timestamp``).
UnixTime = Annotated[float, Meta(ge=0.0, le=1e11)]


class Rtt(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Round-trip times of one probe round, in seconds; jitter is the mean absolute
    difference between consecutive RTTs (RFC 3550 style, without smoothing)."""

    min: Seconds
    avg: Seconds
    max: Seconds
    jitter: Seconds = 0.0


class Interface(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One interface as the agent saw it (IF-MIB ifTable + ifXTable).

    ``oper_status`` and ``admin_status`` are IF-MIB codes (1 up, 2 down, 3 testing,
    5 dormant, 6 notPresent, 7 lowerLayerDown). Counters are raw; ``in_bps``/``out_bps``
    are rates the agent computed from the previous poll, None when no valid rate exists
    (first poll, counter discontinuity, reboot, or a rate above the interface speed).
    """

    #: an OID sub-identifier (ifIndex is 1..2^31-1; a quirky agent's 0 is still a row)
    index: Annotated[int, Meta(ge=0, le=2**32 - 1)]
    name: str
    oper_status: IfStatus
    admin_status: IfStatus = 1
    alias: str = ""
    #: ifHighSpeed (Gauge32, Mbit/s) x 10^6 at most
    speed_bps: Annotated[int, Meta(ge=0, le=(2**32 - 1) * 10**6)] | None = None
    in_octets: Counter | None = None
    out_octets: Counter | None = None
    in_errors: Counter | None = None
    out_errors: Counter | None = None
    in_discards: Counter | None = None
    out_discards: Counter | None = None
    counter_bits: Annotated[int, Meta(ge=32, le=64, multiple_of=32)] = 64
    #: rates, bit/s: 10 Pbit/s is beyond any interface
    in_bps: Annotated[float, Meta(ge=0.0, le=1e16)] | None = None
    out_bps: Annotated[float, Meta(ge=0.0, le=1e16)] | None = None
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

    trap: Annotated[str, Meta(max_length=32)]
    sender: Annotated[str, Meta(max_length=128)]
    received_at: UnixTime
    if_index: Annotated[int, Meta(ge=0, le=2**32 - 1)] | None = None


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
    loss: Ratio | None = None
    sent: Annotated[int, Meta(ge=0, le=1_000_000)] | None = None
    response_s: Seconds | None = None
    #: sysUpTime (TimeTicks, 497 days at most) or snmpEngineTime (2^31 - 1 s)
    sys_uptime_s: Annotated[float, Meta(ge=0.0, le=2.0**31)] | None = None
    rebooted: bool = False
    sys_name: str | None = None
    sys_descr: str | None = None
    sys_object_id: str | None = None
    interfaces: Annotated[list[Interface], Meta(max_length=65_536)] | None = None
    rebooted_at: UnixTime | None = None
    unread: (
        Annotated[dict[Annotated[str, Meta(max_length=64)], Annotated[str, Meta(max_length=64)]], Meta(max_length=16)]
        | None
    ) = None
    trigger: Trigger | None = None


class SampleBatch(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A batch of samples from one agent; ``seq`` grows by one per batch per agent
    (and survives agent restarts), so the collector can drop QoS 1 redeliveries and
    outbox replays it has already applied."""

    v: int
    agent: str
    seq: Annotated[int, Meta(ge=0, le=2**63 - 1)]
    sent_at: UnixTime
    #: at most ``poll.batch_max_samples``' own upper bound
    samples: Annotated[list[Sample], Meta(max_length=100_000)]


class AgentStatus(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """The retained status message: the birth message on connect and the last will."""

    v: int
    agent: str
    state: Literal["online", "offline"]
    ts: UnixTime = 0.0
    version: str = ""
    devices: Annotated[int, Meta(ge=0, le=10_000_000)] = 0
    interval_s: Seconds = 0.0
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


@dataclass(frozen=True, slots=True)
class RejectedSample:
    """A sample the decoder refused while keeping the rest of its batch.

    Attributes:
        device: The device it names ("" when even that is unreadable).
        reason: ``value`` (a number outside what it can be) or ``schema`` (wrong shape).
        detail: What was wrong, and where (``$.samples[3].interfaces[0].oper_status``).
    """

    device: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """A batch with only its valid samples, and the samples left out."""

    batch: SampleBatch
    rejected: tuple[RejectedSample, ...] = ()


class _Envelope(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A batch whose samples are left undecoded: the slow path, one sample at a time."""

    v: int
    agent: str
    seq: Annotated[int, Meta(ge=0, le=2**63 - 1)]
    sent_at: UnixTime
    samples: Annotated[list[msgspec.Raw], Meta(max_length=100_000)]


class _DeviceOnly(msgspec.Struct):
    device: str = ""


_envelope_decoder = msgspec.json.Decoder(_Envelope)
_sample_decoder = msgspec.json.Decoder(Sample)
_device_decoder = msgspec.json.Decoder(_DeviceOnly)
#: msgspec's words for a constraint (``Expected `int` >= 0``, ``... that's a multiple of
#: 32``, ``... of length <= 5``, ``Number out of range``): the value is impossible, not
#: of the wrong type.
_CONSTRAINT = re.compile(r"Expected `[^`]+` (?:[<>]=? |that's a multiple of |of length )|Number out of range")
_IN_SAMPLE = re.compile(r"- at `\$\.samples\[(\d+)\]")


def _reason(message: str) -> str:
    return "value" if _CONSTRAINT.search(message) else "schema"


def _one_by_one(payload: bytes) -> tuple[SampleBatch, tuple[RejectedSample, ...]]:
    """Decode each sample on its own: one impossible value costs its sample, not its batch."""
    try:
        env = _envelope_decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise InvalidBatch(_reason(str(exc)), str(exc)[:200]) from None
    except RecursionError:  # skipping a sample nested thousands deep
        raise InvalidBatch("json", "nested too deep") from None
    kept: list[Sample] = []
    rejected: list[RejectedSample] = []
    for i, raw in enumerate(env.samples):
        try:
            kept.append(_sample_decoder.decode(raw))
        except msgspec.ValidationError as exc:
            try:
                device = _device_decoder.decode(raw).device
            except msgspec.ValidationError:
                device = ""
            message = str(exc).replace("- at `$", f"- at `$.samples[{i}]", 1)
            rejected.append(RejectedSample(device[:100], _reason(message), message[:200]))
    batch = SampleBatch(v=env.v, agent=env.agent, seq=env.seq, sent_at=env.sent_at, samples=kept)
    return batch, tuple(rejected)


def decode_samples(payload: bytes, *, topic_agent: str | None = None, now: float | None = None) -> DecodedBatch:
    """Decode and check a sample batch, leaving out the samples with impossible values.

    The fast path decodes the whole batch at once, every range checked by msgspec. Only
    when a sample fails is the batch decoded again sample by sample: a device that
    reports ``oper_status: 99`` loses that sample, not the other devices of its agent.
    A batch's own fields (version, agent, sequence number) and the agent's clock (every
    sample's time) are all-or-nothing: they are the agent's, not a device's.

    Args:
        payload: The MQTT payload.
        topic_agent: The agent id in the topic; the payload must name the same agent.
        now: The collector's clock; timestamps beyond it (plus skew) or before 2020 are absurd.

    Raises:
        InvalidBatch: With a reason among ``json``, ``schema``, ``version``,
            ``agent_mismatch``, ``timestamp``, ``value``.
    """
    rejected: tuple[RejectedSample, ...] = ()
    try:
        batch = _batch_decoder.decode(payload)
    except msgspec.ValidationError as exc:  # well-formed JSON of the wrong shape or range
        message = str(exc)
        if _IN_SAMPLE.search(message) is None:
            raise InvalidBatch(_reason(message), message[:200]) from None
        batch, rejected = _one_by_one(payload)
    except msgspec.DecodeError as exc:
        raise InvalidBatch("json", str(exc)[:200]) from None
    if batch.v != SCHEMA_VERSION:
        raise InvalidBatch("version", f"schema version {batch.v}, this collector speaks {SCHEMA_VERSION}")
    if topic_agent is not None and batch.agent != topic_agent:
        raise InvalidBatch("agent_mismatch", f"payload agent {batch.agent!r} on topic of {topic_agent!r}")
    latest = math.inf if now is None else now + MAX_FUTURE_SKEW_S
    for s in batch.samples:
        if not (MIN_TIMESTAMP <= s.ts <= latest) or not math.isfinite(s.ts):
            raise InvalidBatch("timestamp", f"device {s.device!r} measured at absurd time {s.ts!r}")
    return DecodedBatch(batch, rejected)


def decode_batch(payload: bytes, *, topic_agent: str | None = None, now: float | None = None) -> SampleBatch:
    """Decode and check a sample batch, all or nothing (:func:`decode_samples` keeps the
    valid samples of a batch that has invalid ones; this raises instead).

    Raises:
        InvalidBatch: With a reason among ``json``, ``schema``, ``version``,
            ``agent_mismatch``, ``timestamp``, ``value``.
    """
    decoded = decode_samples(payload, topic_agent=topic_agent, now=now)
    if decoded.rejected:
        first = decoded.rejected[0]
        raise InvalidBatch(first.reason, f"device {first.device!r}: {first.detail}")
    return decoded.batch


def decode_status(payload: bytes, *, topic_agent: str | None = None) -> AgentStatus:
    """Decode an agent status; raises :class:`InvalidBatch` like :func:`decode_batch`."""
    try:
        st = _status_decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise InvalidBatch(_reason(str(exc)), str(exc)[:200]) from None
    except msgspec.DecodeError as exc:
        raise InvalidBatch("schema", str(exc)[:200]) from None
    if st.v != SCHEMA_VERSION:
        raise InvalidBatch("version", f"schema version {st.v}")
    if topic_agent is not None and st.agent != topic_agent:
        raise InvalidBatch("agent_mismatch", f"payload agent {st.agent!r} on topic of {topic_agent!r}")
    return st
