"""Settings of the agent and the collector; every default lives here, once.

Relative paths (every field typed :data:`config.paths.FilePath`) are relative to the
settings file; the loader resolves them. Listen addresses, URLs and ports are checked here,
so a value the process could not start with is a load error with its file, line and field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from netmon.config.addresses import check_topic_level, parse_listen, parse_url
from netmon.config.inventory import Device, InventoryIndex, Role
from netmon.config.paths import FilePath
from netmon.config.secrets import SecretRef


class _Strict(BaseModel):
    # hide_input_in_errors: a ValidationError's text must not echo a value (a URL with a password)
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


def _listen(value: str) -> str:
    parse_listen(value)
    return value


#: ``host:port`` a server listens on (:func:`config.addresses.parse_listen` splits it).
ListenText = Annotated[str, AfterValidator(_listen)]


class TlsSettings(_Strict):
    """TLS towards the broker; a client certificate is optional."""

    ca_file: FilePath | None = None
    cert_file: FilePath | None = None
    key_file: FilePath | None = None
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
        parse_url(v, ("mqtt", "mqtts"), path=False)
        return v

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        check_topic_level(v, "topic_prefix")
        if v.startswith("/") or v.endswith("/"):
            raise ValueError(f"topic_prefix {v!r} may not start or end with '/'")
        return v

    @model_validator(mode="after")
    def _backoff(self) -> BrokerSettings:
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s is larger than reconnect_max_s")
        return self

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


#: An agent's id: its MQTT user name and the middle of its topics.
AgentId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]


class Scope(_Strict):
    """Which part of the inventory an agent polls; empty means everything."""

    districts: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        """Whether the scope is empty, i.e. the whole inventory."""
        return not (self.districts or self.communes or self.devices)

    def select(self, index: InventoryIndex) -> list[Device]:
        """The inventory's devices in any of the scope's districts, communes or device ids
        (all of them when the scope is empty), in inventory order."""
        if self.everything:
            return list(index.devices.values())
        districts, communes, ids = set(self.districts), set(self.communes), set(self.devices)
        out: list[Device] = []
        for dev_id, dev in index.devices.items():
            place = index.placement[dev_id]
            if (
                dev_id in ids
                or (place.district is not None and place.district.code in districts)
                or (place.commune is not None and place.commune.code in communes)
            ):
                out.append(dev)
        return out


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

    path: FilePath = "netmon-outbox.sqlite"
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

    agent_id: AgentId
    inventory: FilePath
    credentials: FilePath | None = None
    scope: Scope = Scope()
    broker: BrokerSettings = BrokerSettings()
    poll: PollSettings = PollSettings()
    outbox: OutboxSettings = OutboxSettings()
    security: SecurityPolicy = SecurityPolicy()
    metrics_listen: ListenText | None = None
    traps: TrapSettings | None = None
    log: LogSettings = LogSettings()


class StateSettings(_Strict):
    """How samples become device states."""

    down_after: int = Field(default=3, ge=1, le=100)
    down_after_by_role: dict[Role, int] = Field(default_factory=dict)
    up_after: int = Field(default=1, ge=1, le=100)
    stale_after_intervals: float = Field(default=3.0, ge=1.0)
    default_interval_s: float = Field(default=60.0, gt=0)
    #: how far back a late sample still rewrites history. Agents send their backlog in
    #: order, so a sample is late only when another agent's came first (a parent polled by
    #: another agent, an agent whose broker link was cut): ten minutes cover that, at a
    #: few MB at national scale (an hour: ~40 MB)
    reorder_window_s: float = Field(default=600.0, ge=0)
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
        for name in ("start", "end", "until"):
            value: datetime | None = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone, e.g. 2026-11-01T22:00:00+07:00")
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

    path: FilePath = "netmon.sqlite"
    retention_days: int = Field(default=800, ge=1)
    #: dead letters kept (payloads that could not be applied), the newest; 0 keeps none
    dead_letter_max: int = Field(default=10_000, ge=0)
    #: and at most this many bytes of them (payload, detail and topic), the newest
    dead_letter_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)


class HttpSettings(_Strict):
    """The collector's web page, API and /metrics; read-only, localhost by default."""

    listen: ListenText = "127.0.0.1:8080"
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

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parse_url(v, ("http", "https"), path=True)
        return v


class ObjectiveSettings(_Strict):
    """The targets reports measure against."""

    coverage_target: float = Field(default=1.0, ge=0, le=1)
    availability_target: float = Field(default=0.99, ge=0, le=1)


#: An agent id as it appears in topics (the agent settings' ``agent_id`` pattern).
AGENT_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"


class CollectorSettings(_Strict):
    """The settings file of the collector.

    ``collector_id`` is also the MQTT client id under which the broker keeps this
    collector's session: two collectors of a hot-hot pair need two ids (and two stores).
    ``partition``: this collector subscribes to these agents only (empty: all).
    """

    #: Fields that no longer exist, with what to use instead: a file that still sets one
    #: gets this message at its line instead of a bare "unknown field".
    REMOVED_FIELDS: ClassVar[dict[str, str]] = {
        "share_group": (
            "removed: an MQTT shared subscription hands each batch to one member of the group, "
            "so one agent's batches were split between collectors and each kept a wrong history "
            "of that agent's devices. For a hot-hot pair, give each collector its own collector_id "
            "and store (both receive every batch); to split the load, list each collector's agents "
            "under `partition:` (see config/deploy/README.md, Several collectors)"
        ),
    }

    #: the MQTT client id: the broker keeps the collector's session under it
    collector_id: str = Field(default="collector", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
    inventory: FilePath
    broker: BrokerSettings = BrokerSettings()
    #: partitioning: subscribe to these agents only (empty: every agent, or every agent of
    #: ``agents`` when it is declared)
    partition: tuple[Annotated[str, StringConstraints(pattern=AGENT_ID_PATTERN)], ...] = ()
    #: which agent may speak for which devices, as each agent's ``scope`` says: a sample
    #: for a device outside its agent's scope is dropped and counted (``foreign_device``),
    #: a batch or status of an agent not listed is refused (``unknown_agent``). None (not
    #: declared): any agent may speak for any device, and the collector warns at start-up.
    agents: dict[AgentId, Scope] | None = None
    store: StoreSettings = StoreSettings()
    state: StateSettings = StateSettings()
    maintenance: tuple[MaintenanceWindow, ...] = ()
    http: HttpSettings = HttpSettings()
    influx: InfluxSettings | None = None
    objectives: ObjectiveSettings = ObjectiveSettings()
    credentials: FilePath | None = None
    log: LogSettings = LogSettings()
