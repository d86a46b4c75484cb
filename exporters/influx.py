"""InfluxDB writer: every accepted sample batch, as points, to any InfluxDB v2 write API.

The ingest calls :meth:`InfluxWriter.offer` for each accepted batch (it is an
``Ingestor.listeners`` callback): the batch becomes line-protocol lines at once and goes into
a bounded buffer; when the buffer is full the OLDEST lines are dropped and counted, so
ingestion never blocks or fails because InfluxDB is slow or down. :meth:`InfluxWriter.run`
flushes the buffer in batches of ``batch_size`` lines, at least every ``flush_interval_s``,
retrying failed writes with exponential back-off (transient: connection errors, timeouts,
HTTP 429 and 5xx); a batch InfluxDB rejects as malformed (other 4xx) is dropped and counted.

Schema (timestamps are the MEASUREMENT time, ``Sample.ts``, at millisecond precision)::

    netmon_probe,device=<id>,probe=<icmp|snmp|tcp>,role=<role>,province=<code>[,district=<code>][,commune=<code>][,reason=<code>]
        ok=<bool>,up=<0|1>i[,rtt_min_s=..,rtt_avg_s=..,rtt_max_s=..,jitter_s=..][,loss_ratio=..][,sent=..i]
        [,response_s=..][,sys_uptime_s=..][,rebooted=true]  <ms>
    netmon_interface,device=<id>,interface=<ifName>,role=..,province=..[,district=..][,commune=..]
        oper_status=..i,admin_status=..i[,speed_bps=..i][,in_octets=..i,out_octets=..i]
        [,in_errors=..i,out_errors=..i,in_discards=..i,out_discards=..i][,in_bps=..,out_bps=..]  <ms>

Tags are the bounded, indexed dimensions (inventory ids and codes, the probe kind, the
failure reason code, the interface name); everything measured is a field. ``district`` and
``commune`` are left out when the device has none (2025 structure; province-level
devices), as InfluxDB has no empty tags. Samples of devices not in the inventory are not
written (their ids are unbounded input). Counters are raw; compute rates in the query
(``derivative``/``non_negative_derivative`` in InfluxQL/Flux, ``rate`` in PromQL).

Settings (``collector.yaml``, ``influx:``):

* InfluxDB 2.x: ``url: http://influx:8086``, ``org``, ``bucket``, ``token`` (an API token
  with write access to the bucket, e.g. ``token: {env: NETMON_INFLUX_TOKEN}``).
* InfluxDB 3.x (Core/Enterprise/Cloud): the same v2 write API — ``url`` of the server,
  ``bucket`` = the database name, ``org`` ignored (any value), ``token`` = a database token.
* VictoriaMetrics (tested): ``url: http://vm:8428``; org/bucket/token are accepted and
  ignored; fields become metrics named ``<measurement>_<field>`` (``netmon_probe_rtt_avg_s``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import aiohttp
from influxdb_client.client.exceptions import InfluxDBError
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from netmon.agent import wire
from netmon.config.inventory import Inventory
from netmon.config.metricspec import MetricTable
from netmon.config.secrets import Secret
from netmon.config.settings import InfluxSettings

__all__ = ["InfluxWriter", "WriterCollector", "WriterStats", "batch_lines"]

log = logging.getLogger(__name__)

#: Seconds a single write may take before it counts as failed.
WRITE_TIMEOUT_S = 30.0
_INT64_MAX = 2**63 - 1


def _tag(value: str) -> str:
    """A tag key or value escaped for line protocol (commas, equals signs, spaces)."""
    if any(c in value for c in ", =\\\n"):
        value = (
            value.replace("\n", " ").replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")
        )
    return value


def _int(value: int) -> str:
    # Counter64 values above int64 are written as floats rather than rejected.
    return f"{value}i" if -_INT64_MAX <= value <= _INT64_MAX else repr(float(value))


def _float(value: float) -> str | None:
    return repr(float(value)) if math.isfinite(value) else None


class _Tags:
    """The inventory's tag sets, formatted once per device."""

    def __init__(self, inventory: Inventory) -> None:
        index = inventory.index
        prov = inventory.province.code
        self.by_device: dict[str, str] = {}
        for dev_id, dev in index.devices.items():
            place = index.placement[dev_id]
            parts = [f"device={_tag(dev_id)}", f"role={_tag(str(dev.role))}", f"province={_tag(prov)}"]
            district = place.district or (index.commune_district.get(place.commune.code) if place.commune else None)
            if district is not None:
                parts.append(f"district={_tag(district.code)}")
            if place.commune is not None:
                parts.append(f"commune={_tag(place.commune.code)}")
            self.by_device[dev_id] = ",".join(parts)


def _sample_lines(s: wire.Sample, tags: str) -> Iterator[str]:
    ts_ms = round(s.ts * 1000)
    fields = [f"ok={'true' if s.ok else 'false'}", f"up={1 if s.ok else 0}i"]
    if s.rtt is not None:
        for name, v in (
            ("rtt_min_s", s.rtt.min),
            ("rtt_avg_s", s.rtt.avg),
            ("rtt_max_s", s.rtt.max),
            ("jitter_s", s.rtt.jitter),
        ):
            f = _float(v)
            if f is not None:
                fields.append(f"{name}={f}")
    for name, opt in (("loss_ratio", s.loss), ("response_s", s.response_s), ("sys_uptime_s", s.sys_uptime_s)):
        if opt is not None and (f := _float(opt)) is not None:
            fields.append(f"{name}={f}")
    if s.sent is not None:
        fields.append(f"sent={_int(s.sent)}")
    if s.rebooted:
        fields.append("rebooted=true")
    probe_tags = f"{tags},probe={_tag(s.probe)}"
    if s.reason:
        probe_tags += f",reason={_tag(s.reason[:32])}"
    yield f"netmon_probe,{probe_tags} {','.join(fields)} {ts_ms}"
    for itf in s.interfaces or ():
        f_itf = [f"oper_status={_int(itf.oper_status)}", f"admin_status={_int(itf.admin_status)}"]
        for name, iv in (
            ("speed_bps", itf.speed_bps),
            ("in_octets", itf.in_octets),
            ("out_octets", itf.out_octets),
            ("in_errors", itf.in_errors),
            ("out_errors", itf.out_errors),
            ("in_discards", itf.in_discards),
            ("out_discards", itf.out_discards),
        ):
            if iv is not None:
                f_itf.append(f"{name}={_int(iv)}")
        for name, fv in (("in_bps", itf.in_bps), ("out_bps", itf.out_bps)):
            if fv is not None and (f := _float(fv)) is not None:
                f_itf.append(f"{name}={f}")
        yield f"netmon_interface,{tags},interface={_tag(itf.name or str(itf.index))} {','.join(f_itf)} {ts_ms}"


def batch_lines(batch: wire.SampleBatch, tags: dict[str, str]) -> list[str]:
    """Line-protocol lines (millisecond timestamps) of a batch's samples; samples of devices
    without tags (not in the inventory) are left out. Pure."""
    out: list[str] = []
    for s in batch.samples:
        t = tags.get(s.device)
        if t is not None:
            out.extend(_sample_lines(s, t))
    return out


@dataclass
class WriterStats:
    """Counters of the writer (monotonic) and the buffer's current depth."""

    offered_points: int = 0
    written_points: int = 0
    dropped_points: int = 0
    rejected_points: int = 0
    unknown_device_samples: int = 0
    write_errors: int = 0
    retries: int = 0
    buffered: int = 0
    last_error: str = ""


class _Transient(Exception):
    """A write that may succeed if retried."""


class _Permanent(Exception):
    """A write the server will never accept (malformed data, bad bucket or token)."""


def classify(status: int | None) -> type[Exception]:
    """Whether an HTTP status (None: no response) is worth a retry."""
    if status is None or status == 429 or status >= 500:
        return _Transient
    return _Permanent


class InfluxWriter:
    """Batches accepted samples to an InfluxDB v2 write API.

    Args:
        settings: Where and how to write.
        inventory: Tags of each device.
        token: The API token (resolved from ``settings.token`` by the caller), or None.
        retry_initial_s: First back-off after a failed write; doubles up to ``retry_max_s``.
        retry_max_s: Longest back-off.
    """

    def __init__(
        self,
        settings: InfluxSettings,
        inventory: Inventory,
        token: Secret | None,
        *,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 60.0,
    ) -> None:
        self._settings = settings
        self._token = token
        self._tags = _Tags(inventory).by_device
        self._buffer: deque[str] = deque()
        self._wakeup = asyncio.Event()
        self._retry_initial_s = retry_initial_s
        self._retry_max_s = retry_max_s
        self.stats = WriterStats()

    def reload(self, inventory: Inventory) -> None:
        """Use a new inventory's tags for the batches offered from now on."""
        self._tags = _Tags(inventory).by_device

    def offer(self, batch: wire.SampleBatch) -> None:
        """Queue a batch's points; never blocks, never raises. When the buffer is full the
        oldest points are dropped (counted in ``stats.dropped_points``)."""
        lines = batch_lines(batch, self._tags)
        st = self.stats
        st.unknown_device_samples += sum(1 for s in batch.samples if s.device not in self._tags)
        st.offered_points += len(lines)
        buf = self._buffer
        buf.extend(lines)
        overflow = len(buf) - self._settings.max_buffer
        if overflow > 0:
            for _ in range(overflow):
                buf.popleft()
            st.dropped_points += overflow
        st.buffered = len(buf)
        if len(buf) >= self._settings.batch_size:
            self._wakeup.set()

    async def run(self) -> None:
        """Flush forever: a batch whenever ``batch_size`` points are waiting, and whatever
        is waiting every ``flush_interval_s``. Cancel to stop (then call :meth:`flush`)."""
        async with self._client() as client:
            write_api = client.write_api()
            while True:
                try:
                    async with asyncio.timeout(self._settings.flush_interval_s):
                        await self._wakeup.wait()
                except TimeoutError:
                    pass
                self._wakeup.clear()
                await self._drain(write_api, retry=True)

    async def flush(self) -> None:
        """Write everything buffered now, one attempt per batch (for shutdown and tests)."""
        async with self._client() as client:
            await self._drain(client.write_api(), retry=False)

    def _client(self) -> InfluxDBClientAsync:
        s = self._settings
        return InfluxDBClientAsync(
            url=s.url,
            token=self._token.reveal() if self._token is not None else "",
            org=s.org,
            timeout=int(WRITE_TIMEOUT_S * 1000),
            enable_gzip=True,
        )

    async def _drain(self, write_api: object, *, retry: bool) -> None:
        while self._buffer:
            n = min(len(self._buffer), self._settings.batch_size)
            lines = list(itertools.islice(self._buffer, n))
            delay = self._retry_initial_s
            while True:
                try:
                    await self._write(write_api, lines)
                except _Transient as exc:
                    self.stats.write_errors += 1
                    self.stats.last_error = str(exc)[:200]
                    if not retry:
                        return
                    self.stats.retries += 1
                    log.warning("influx write failed, retrying in %.1fs: %s", delay, self.stats.last_error)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._retry_max_s)
                    continue
                except _Permanent as exc:
                    self.stats.write_errors += 1
                    self.stats.rejected_points += n
                    self.stats.last_error = str(exc)[:200]
                    log.error("influx rejected %d points, dropping them: %s", n, self.stats.last_error)
                else:
                    self.stats.written_points += n
                break
            # The buffer may have overflowed while we waited: drop only what is still ours.
            for _ in range(min(n, len(self._buffer))):
                self._buffer.popleft()
            self.stats.buffered = len(self._buffer)

    async def _write(self, write_api: object, lines: list[str]) -> None:
        s = self._settings
        try:
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await write_api.write(  # type: ignore[attr-defined]
                    bucket=s.bucket, org=s.org, record="\n".join(lines), write_precision=WritePrecision.MS
                )
        except ApiException as exc:
            status = exc.status or None  # 0: no HTTP response at all
            raise classify(status)(f"HTTP {status}: {exc.reason} {str(exc.body)[:100]}") from None
        except InfluxDBError as exc:
            status = getattr(exc.response, "status", None)
            raise classify(status)(f"HTTP {status}: {exc.message}") from None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from None


#: The writer's families in the collector's /metrics (the README's table includes them).
TABLE = MetricTable()
# fmt: off
TABLE.stat("netmon_influx_points_offered", "counter", "Points offered to the InfluxDB writer.", (), "writer", "offered_points")
TABLE.stat("netmon_influx_points_written", "counter", "Points written to InfluxDB.", (), "writer", "written_points")
TABLE.stat("netmon_influx_points_dropped", "counter", "Points dropped because the buffer was full.", (), "writer", "dropped_points")
TABLE.stat("netmon_influx_points_rejected", "counter", "Points InfluxDB rejected as malformed.", (), "writer", "rejected_points")
TABLE.stat("netmon_influx_write_errors", "counter", "Failed write attempts.", (), "writer", "write_errors")
TABLE.stat("netmon_influx_buffered_points", "gauge", "Points waiting in the buffer.", (), "writer", "buffered")
# fmt: on


class WriterCollector(Collector):
    """The writer's self-metrics for the collector's /metrics (prometheus-client collector)."""

    def __init__(self, writer: InfluxWriter) -> None:
        self._writer = writer

    def collect(self) -> Iterable[Metric]:
        """``netmon_influx_*`` families from the writer's stats."""
        return TABLE.stat_families({"writer": self._writer.stats})
