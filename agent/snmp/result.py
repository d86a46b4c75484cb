"""The outcomes the SNMP client returns: of one request (:class:`Reply`) and of one
device poll (:class:`SnmpResult`). Failures are values here, never exceptions."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from netmon.agent.counters import RawInterface
from netmon.agent.snmp.codec import VarBind


class Reply:
    """The outcome of one request: a reason when it failed, else the PDU's fields."""

    __slots__ = ("detail", "index", "reason", "status", "varbinds")

    def __init__(
        self, reason: str, status: int = 0, index: int = 0, varbinds: Sequence[VarBind] = (), detail: str = ""
    ) -> None:
        self.reason = reason
        self.status = status
        self.index = index
        self.varbinds = varbinds
        self.detail = detail


TIMED_OUT = Reply("timeout", detail="no response before timeout")


@dataclass(frozen=True, slots=True)
class SnmpResult:
    """The outcome of one device poll.

    Attributes:
        ok: The system group was read.
        reason: Failure code when not ok (bounded set, used as a metric label).
        detail: Human detail of the failure.
        response_s: Wall time of the system-group GET (a latency signal).
        sys_uptime_cs: sysUpTime in centiseconds (TimeTicks).
        hr_uptime_cs: hrSystemUptime in centiseconds, when the device has it.
        engine_boots: snmpEngineBoots (SNMPv3 header, or read over v1/v2c).
        engine_time: snmpEngineTime in seconds, likewise.
        interfaces: Interface rows, None when not walked or the walk failed.
        unread: Tables the walk could not read completely (``ifTable``, ``ifXTable``)
            with the reason (``timeout``, ``truncated``, ``error_status_5``, ...).
        rejected: Fields whose value the device sent was impossible (dropped).
        pdus: Request PDUs sent (GET + walk).
    """

    ok: bool
    reason: str = ""
    detail: str = ""
    response_s: float | None = None
    sys_uptime_cs: int | None = None
    sys_name: str | None = None
    sys_descr: str | None = None
    sys_object_id: str | None = None
    hr_uptime_cs: int | None = None
    engine_boots: int | None = None
    engine_time: int | None = None
    interfaces: tuple[RawInterface, ...] | None = None
    unread: Mapping[str, str] = field(default_factory=dict)
    rejected: tuple[str, ...] = ()
    pdus: int = 0


@dataclass(slots=True)
class Traffic:
    """What came back from devices, counted per source address (shared by both paths).

    Attributes:
        rx_from: Messages received per source address.
        malformed_from: Undecodable messages per source address.
        malformed: Undecodable messages in all.
    """

    rx_from: Counter[tuple[str, int]] = field(default_factory=Counter)
    malformed_from: Counter[tuple[str, int]] = field(default_factory=Counter)
    malformed: int = 0

    def bad(self, peer: tuple[str, int]) -> None:
        """Count an undecodable message from ``peer``."""
        self.malformed_from[peer] += 1
        self.malformed += 1
