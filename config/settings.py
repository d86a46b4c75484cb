"""Settings of the agent and the collector; every default lives here, once."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from netmon.config.inventory import Role
from netmon.config.secrets import SecretRef


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsSettings(_Strict):
    """TLS towards the broker; a client certificate is optional."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure_skip_verify: bool = False

    @model_validator(mode="after")
    def _pair(self) -> TlsSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class BrokerSettings(_Strict):
    """Where the MQTT broker is and how to log in.

    ``url`` is ``mqtt://host:port`` or ``mqtts://host:port`` (TLS). ``credential`` names
    an MQTT login in the credentials file; ``username``/``password`` give one inline.
    """

    url: str = "mqtt://127.0.0.1:1883"
    protocol: Literal["5", "3.1.1"] = "5"
    credential: str | None = None
    username: str | None = None
    password: SecretRef | None = None
    tls: TlsSettings | None = None
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    topic_prefix: str = "netmon/v1"
    reconnect_min_s: float = Field(default=1.0, gt=0)
    reconnect_max_s: float = Field(default=60.0, gt=0)

    @field_validator("protocol", mode="before")
    @classmethod
    def _proto_str(cls, v: object) -> object:
        return str(v) if isinstance(v, int | float) else v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"broker url {v!r} must look like mqtt://host:1883 or mqtts://host:8883")
        return v

    @property
    def host(self) -> str:
        """Broker host name."""
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        """Broker port (1883 plain, 8883 TLS by default)."""
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def uses_tls(self) -> bool:
        """Whether the connection is TLS."""
        return urlsplit(self.url).scheme == "mqtts" or self.tls is not None


class LogSettings(_Strict):
    """Logging: plain text for people, JSON lines for log shippers."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class Scope(_Strict):
    """Which part of the inventory an agent polls; empty means everything."""

    districts: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()


class PollSettings(_Strict):
    """How the agent polls."""

    interval_s: float = Field(default=60.0, gt=0, le=86400)
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=10)
    concurrency: int = Field(default=64, ge=1, le=4096)
    icmp_count: int = Field(default=3, ge=1, le=100)
    icmp_interval_s: float = Field(default=0.2, ge=0, le=10)
    icmp_mode: Literal["auto", "unprivileged", "privileged", "tcp", "off"] = "auto"
    batch_max_samples: int = Field(default=500, ge=1, le=100_000)
    batch_max_delay_s: float = Field(default=2.0, gt=0, le=600)


class OutboxSettings(_Strict):
    """The agent's durable on-disk queue of batches not yet acknowledged."""

    path: str = "netmon-outbox.sqlite"
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    max_age_s: float = Field(default=7 * 86400, gt=0)
    drain_rate_per_s: float = Field(default=50.0, gt=0)
    inflight: int = Field(default=20, ge=1, le=1000)


class SecurityPolicy(_Strict):
    """What the agent refuses: v1/v2c communities and weak SNMPv3 algorithms (MD5, DES)."""

    allow_community: bool = True
    allow_weak_algorithms: bool = True


class TrapSettings(_Strict):
    """SNMP notifications (traps and informs, v1/v2c/v3 USM) the agent listens for.

    A notification is accepted only from a device of the agent's inventory, with that
    device's own community or SNMPv3 user (and security level); linkDown, linkUp,
    coldStart and warmStart make the agent probe the device at once (and, for a link
    trap, the devices whose parent it is), with ``probe_timeout_s`` and no retry.
    """

    listen: str = "0.0.0.0:10162"
    #: SNMPv3 informs are sent to this engine; default ``80000000 04`` + "netmon:" + agent id.
    engine_id: str | None = Field(default=None, pattern=r"^(0x)?([0-9a-fA-F]{2}){5,32}$")
    probe_timeout_s: float = Field(default=1.5, gt=0, le=60)
    repoll_children: bool = True
    min_repoll_interval_s: float = Field(default=1.0, ge=0, le=3600)
    queue: int = Field(default=1024, ge=1, le=1_000_000)
    concurrency: int = Field(default=32, ge=1, le=4096)

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"traps.listen {v!r} must look like 0.0.0.0:10162 or [::]:10162")
        return v


class AgentSettings(_Strict):
    """The settings file of one agent."""

    agent_id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    inventory: str
    credentials: str | None = None
    scope: Scope = Scope()
    broker: BrokerSettings = BrokerSettings()
    poll: PollSettings = PollSettings()
    outbox: OutboxSettings = OutboxSettings()
    security: SecurityPolicy = SecurityPolicy()
    metrics_listen: str | None = None
    traps: TrapSettings | None = None
    log: LogSettings = LogSettings()


class StateSettings(_Strict):
    """How samples become device states."""

    down_after: int = Field(default=3, ge=1, le=100)
    down_after_by_role: dict[Role, int] = Field(default_factory=dict)
    up_after: int = Field(default=1, ge=1, le=100)
    stale_after_intervals: float = Field(default=3.0, ge=1.0)
    default_interval_s: float = Field(default=60.0, gt=0)
    #: how far back late samples (an outbox replay after a broker outage, sent behind live
    #: data) still rewrite history: an hour costs ~45 MB at national scale (30,000 devices)
    reorder_window_s: float = Field(default=3600.0, ge=0)
    flap_transitions: int = Field(default=5, ge=2)
    flap_window_s: float = Field(default=3600.0, gt=0)


class MaintenanceWindow(_Strict):
    """A declared maintenance window, one-off or recurring.

    Exactly one target (``device``, ``commune`` or ``district``). ``start``/``end`` bound a
    one-off window; with ``every`` (daily or weekly) the window recurs from ``start`` for
    ``duration_s`` each time, until ``until`` if given.
    """

    device: str | None = None
    commune: str | None = None
    district: str | None = None
    start: datetime
    end: datetime | None = None
    every: Literal["daily", "weekly"] | None = None
    duration_s: float | None = Field(default=None, gt=0)
    until: datetime | None = None
    reason: str = ""

    @model_validator(mode="after")
    def _shape(self) -> MaintenanceWindow:
        targets = [t for t in (self.device, self.commune, self.district) if t is not None]
        if len(targets) != 1:
            raise ValueError("a maintenance window has exactly one of device, commune, district")
        if self.start.tzinfo is None:
            raise ValueError("start needs a time zone, e.g. 2026-11-01T22:00:00+07:00")
        if self.every is None:
            if self.end is None:
                raise ValueError("a one-off window needs end")
            if self.end <= self.start:
                raise ValueError("end must be after start")
        elif self.duration_s is None:
            raise ValueError("a recurring window needs duration_s")
        return self


class StoreSettings(_Strict):
    """The collector's store: SQLite in WAL mode by default."""

    path: str = "netmon.sqlite"
    retention_days: int = Field(default=800, ge=1)
    dead_letter_max: int = Field(default=10_000, ge=0)


class HttpSettings(_Strict):
    """The collector's web page, API and /metrics; read-only, localhost by default."""

    listen: str = "127.0.0.1:8080"
    token: SecretRef | None = None
    language: Literal["vi", "en"] = "vi"


class InfluxSettings(_Strict):
    """Where the InfluxDB writer sends points (InfluxDB 2/3 or any v2 write API)."""

    url: str
    org: str = "netmon"
    bucket: str = "netmon"
    token: SecretRef | None = None
    batch_size: int = Field(default=5000, ge=1)
    flush_interval_s: float = Field(default=5.0, gt=0)
    max_buffer: int = Field(default=200_000, ge=1)


class ObjectiveSettings(_Strict):
    """The targets reports measure against."""

    coverage_target: float = Field(default=1.0, ge=0, le=1)
    availability_target: float = Field(default=0.99, ge=0, le=1)


class CollectorSettings(_Strict):
    """The settings file of the collector."""

    collector_id: str = "collector"
    inventory: str
    broker: BrokerSettings = BrokerSettings()
    share_group: str | None = None
    store: StoreSettings = StoreSettings()
    state: StateSettings = StateSettings()
    maintenance: tuple[MaintenanceWindow, ...] = ()
    http: HttpSettings = HttpSettings()
    influx: InfluxSettings | None = None
    objectives: ObjectiveSettings = ObjectiveSettings()
    credentials: str | None = None
    log: LogSettings = LogSettings()
