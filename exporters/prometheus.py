"""Prometheus exposition of the collector's snapshot.

:class:`SnapshotCollector` is a prometheus-client *custom collector*: at scrape time it reads
one immutable :class:`collector.model.Snapshot` and yields metric families built from it, so
nothing is registered or updated per sample and a scrape sees one consistent state. The
registry is injected (tests never touch the global one).

Rendering: prometheus-client's ``generate_latest`` formats each sample's label set anew
(about 4.6 µs per sample with three labels on the reference machine, 0.8 s for 60,000
OpenMetrics samples with five labels), which cannot expose 30,000 devices with ten series
each in under a second. :func:`render` writes the same formats (text 0.0.4 and OpenMetrics
1.0.0) but formats a label set once per scrape: the collector shares one label dict between
all the series of a device, and the renderer caches the formatted string by that dict.
Families from other collectors in the registry render the same way. Tests check that the
output parses to the same families as prometheus-client's own and that ``promtool check
metrics`` accepts it.

Metric families (labels in braces; ``D`` = province, district, commune, commune_name,
device, role; ``C`` = province, district, commune, commune_name; ``T`` = province, district,
district_name; ``P`` = province, province_name):

============================================== ===========================================
netmon_device_info{D,name,address,agent}       1 per inventory device (metadata)
netmon_device_state{D}                         numeric state, see :data:`STATE_HELP`
netmon_device_up{D}                            1 when the device is UP, else 0
netmon_device_state_since_timestamp_seconds{D} when the device entered its state
netmon_device_flapping{D}                      1 while the device flaps (alerts stay quiet)
netmon_device_rtt_seconds{D}                   ICMP/TCP average round-trip time
netmon_device_jitter_seconds{D}                ICMP jitter (mean abs. difference of RTTs)
netmon_device_loss_ratio{D}                    packet loss of the last round, 0..1
netmon_device_snmp_response_seconds{D}         SNMP response time
netmon_device_outages_total{D}                 outages (DOWN/UNREACHABLE periods) started
netmon_device_availability_ratio{D,window}     up/(up+down+unreachable) over 1h/1d/7d/30d
netmon_interface_oper_status{D,interface}      IF-MIB ifOperStatus code (1 up, 2 down, ...)
netmon_interface_speed_bytes_per_second{...}   interface speed
netmon_interface_receive_bytes_total{...}      ifHCInOctets (ifInOctets on 32-bit agents)
netmon_interface_transmit_bytes_total{...}     ifHCOutOctets
netmon_interface_receive_errors_total{...}     ifInErrors
netmon_interface_transmit_errors_total{...}    ifOutErrors
netmon_commune_connected{C}                    1 when an access device of the commune is UP
netmon_commune_provisioned{C}                  1 when the commune has an access device
netmon_commune_state{C}                        numeric state of the commune
netmon_commune_state_since_timestamp_seconds   when the commune entered its state
netmon_commune_availability_ratio{C,window}    connected share of time over the window
netmon_district_communes{T}                    communes in the inventory
netmon_district_communes_connected{T}          communes connected now
netmon_district_communes_provisioned{T}        communes with an access device
netmon_district_coverage_ratio{T}              connected / communes
netmon_district_provisioned_ratio{T}           provisioned / communes
netmon_district_communes_by_state{T,state}     communes in each state
netmon_district_availability_ratio{T,window}   over 1h/1d/7d/30d
netmon_province_*{P}                           the same seven, for the province
netmon_coverage_target_ratio{P}                the coverage objective (1 = every commune)
netmon_agent_up{agent}                         1 while the agent's status is online
netmon_agent_last_seen_timestamp_seconds       last message from the agent
netmon_agent_devices{agent}                    devices the agent says it polls
netmon_agent_info{agent,version}               1
netmon_collector_*_total                       ingest: batches, samples, duplicate batches,
                                               late samples, unknown-device samples, dead
                                               letters, invalid batches {reason}
netmon_collector_rejected_samples_total        samples left out of applied batches {reason}:
                                               value, schema, foreign_device
netmon_collector_ledger_gaps                   open gaps in the agents' sequence numbers
netmon_agent_missing_batches{agent}            batches in those gaps (a backlog, or lost)
netmon_snapshot_timestamp_seconds              when the exported snapshot was taken
============================================== ===========================================

Label choices: the 2025 structure has no districts; every device and commune series still
carries ``district`` (empty), which Prometheus treats as absent, so label sets are the same
for both editions and ``sum by (district)`` works for both. Labels take only inventory ids
and names, IF-MIB interface names (bounded per device), state names and window names — no
free text (interface aliases, causes) and no timestamps.

The state is exported as one numeric series (codes in :data:`collector.model.STATE_CODE`)
and an ``up`` series, not one-hot: one-hot would cost five series per device (150,000 at
national scale) for what ``netmon_device_state == 2`` already selects, and state changes
would not create new series.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from aiohttp import web
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Sample

from netmon.collector.model import STANDARD_WINDOWS_S, STATE_CODE, Availability, Counts, Snapshot, State

__all__ = [
    "CONTENT_TYPE_OPENMETRICS",
    "CONTENT_TYPE_TEXT",
    "STATE_HELP",
    "WINDOW_LABEL",
    "SnapshotCollector",
    "metrics_handler",
    "render",
]

CONTENT_TYPE_TEXT = "text/plain; version=0.0.4; charset=utf-8"
CONTENT_TYPE_OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

#: The ``window`` label of each standard availability window.
WINDOW_LABEL: dict[int, str] = {3600: "1h", 86400: "1d", 7 * 86400: "7d", 30 * 86400: "30d"}
assert set(WINDOW_LABEL) == set(STANDARD_WINDOWS_S)

#: The state mapping, as written in the HELP text of the ``*_state`` families.
STATE_HELP = ", ".join(f"{code}={state.value}" for state, code in sorted(STATE_CODE.items(), key=lambda kv: kv[1]))


def _escape_label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _block(labels: Mapping[str, str]) -> str:
    """The ``{k="v",...}`` block of a label set, escaped."""
    return "{" + ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items()) + "}" if labels else ""


class _Family(Metric):
    """A metric family whose sample lines are written once, when a series is added.

    The lines are the same in the text and OpenMetrics formats. ``samples`` is
    materialised only when asked (by prometheus-client's own exposition or a test), by
    parsing the lines back; :func:`render` writes the lines directly.
    """

    def __init__(self, name: str, doc: str, typ: str) -> None:
        super().__init__(name, doc, typ)
        # Counters' and infos' samples carry a suffix; the family name does not.
        self.sample_name = name + "_total" if typ == "counter" else name + "_info" if typ == "info" else name
        self.lines: list[str] = []

    @property
    def samples(self) -> list[Sample]:
        """The samples, parsed back from the lines."""
        return [s for f in text_string_to_metric_families("".join(self.lines)) for s in f.samples]

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        if value:
            raise TypeError("add series with add()")

    def add(self, block: str, value: float) -> None:
        """Add a series; ``block`` is ``_block(labels)``, formatted once by the caller and
        shared by every family of the same label set."""
        self.lines.append(f"{self.sample_name}{block} {_number(value)}\n")


# (name, help, type) of every family, in exposition order; describe() returns these.
_SPECS: tuple[tuple[str, str, str], ...] = (
    ("netmon_device", "Inventory metadata of a monitored device: where it is and what it does.", "info"),
    ("netmon_device_state", f"Device state: {STATE_HELP}.", "gauge"),
    ("netmon_device_up", "1 when the device is up, 0 in any other state.", "gauge"),
    ("netmon_device_state_since_timestamp_seconds", "Unix time the device entered its current state.", "gauge"),
    ("netmon_device_flapping", "1 while the device's state flaps (its alerts are held back).", "gauge"),
    ("netmon_device_rtt_seconds", "Average round-trip time of the last ICMP/TCP probe round.", "gauge"),
    ("netmon_device_jitter_seconds", "Jitter of the last probe round (mean absolute RTT difference).", "gauge"),
    ("netmon_device_loss_ratio", "Packet loss of the last probe round, 0..1.", "gauge"),
    ("netmon_device_snmp_response_seconds", "SNMP response time of the last poll.", "gauge"),
    ("netmon_device_outages", "Outages (periods down or unreachable) started since collection began.", "counter"),
    (
        "netmon_interface_oper_status",
        "IF-MIB ifOperStatus: 1 up, 2 down, 3 testing, 5 dormant, 6 notPresent, 7 lowerLayerDown.",
        "gauge",
    ),
    ("netmon_interface_receive_bytes", "Octets received (ifHCInOctets, or ifInOctets on 32-bit agents).", "counter"),
    ("netmon_interface_transmit_bytes", "Octets transmitted (ifHCOutOctets, or ifOutOctets).", "counter"),
    ("netmon_commune_connected", "1 when at least one access device of the commune is up.", "gauge"),
    ("netmon_commune_provisioned", "1 when the commune has an access device in the inventory.", "gauge"),
    ("netmon_commune_state", f"Commune state: {STATE_HELP}.", "gauge"),
    ("netmon_commune_state_since_timestamp_seconds", "Unix time the commune entered its current state.", "gauge"),
    (
        "netmon_commune_availability_ratio",
        "Share of the window the commune was connected (unknown time excluded).",
        "gauge",
    ),
    *(
        spec
        for unit in ("district", "province")
        for spec in (
            (f"netmon_{unit}_communes", f"Communes of the {unit} in the inventory.", "gauge"),
            (f"netmon_{unit}_communes_connected", f"Communes of the {unit} connected now.", "gauge"),
            (f"netmon_{unit}_communes_provisioned", f"Communes of the {unit} with an access device.", "gauge"),
            (f"netmon_{unit}_coverage_ratio", f"Connected communes / communes of the {unit}.", "gauge"),
            (f"netmon_{unit}_provisioned_ratio", f"Provisioned communes / communes of the {unit}.", "gauge"),
            (f"netmon_{unit}_communes_by_state", f"Communes of the {unit} in each state.", "gauge"),
            (f"netmon_{unit}_availability_ratio", f"Availability of the {unit}'s communes over the window.", "gauge"),
        )
    ),
    ("netmon_coverage_target_ratio", "The coverage objective: share of communes that must be connected.", "gauge"),
    ("netmon_agent_up", "1 while the agent's retained status says online.", "gauge"),
    ("netmon_agent_last_seen_timestamp_seconds", "Unix time of the last message from the agent.", "gauge"),
    ("netmon_agent_devices", "Devices the agent reports polling.", "gauge"),
    ("netmon_agent", "Version of an agent.", "info"),
    ("netmon_collector_batches", "Sample batches applied.", "counter"),
    ("netmon_collector_samples", "Samples applied.", "counter"),
    ("netmon_collector_duplicate_batches", "Batches dropped as already applied (redelivery or replay).", "counter"),
    ("netmon_collector_late_samples", "Samples older than the reorder window.", "counter"),
    ("netmon_collector_unknown_device_samples", "Samples for devices not in the inventory.", "counter"),
    ("netmon_collector_invalid_batches", "Payloads rejected, by reason.", "counter"),
    ("netmon_collector_dead_letters", "Payloads kept in the dead-letter table.", "counter"),
    (
        "netmon_collector_rejected_samples",
        "Samples left out of applied batches, by reason: value (impossible value), schema, "
        "foreign_device (a device outside its agent's declared scope).",
        "counter",
    ),
    ("netmon_collector_ledger_gaps", "Open gaps in the agents' batch sequence numbers.", "gauge"),
    (
        "netmon_agent_missing_batches",
        "Batches of the agent not received: gaps in its sequence numbers (a backlog draining, or lost).",
        "gauge",
    ),
    ("netmon_snapshot_timestamp_seconds", "Unix time the exported snapshot was taken.", "gauge"),
)

#: Every metric name a scrape can contain (sample names, suffixes included).
METRIC_NAMES: frozenset[str] = frozenset(
    name + "_total" if typ == "counter" else name + "_info" if typ == "info" else name for name, _, typ in _SPECS
)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def build_families(snap: Snapshot, coverage_target: float = 1.0) -> list[Metric]:
    """The metric families of a snapshot (pure).

    Args:
        snap: The collector's state.
        coverage_target: The coverage objective, exported as ``netmon_coverage_target_ratio``.

    Returns:
        Families in a fixed order; series whose value is unknown (no RTT for a device that
        never answered) are left out rather than exported as NaN.
    """
    fam = {name: _Family(name, doc, typ) for name, doc, typ in _SPECS}
    prov = _escape_label(snap.province_code)
    communes = snap.communes
    avail = snap.availability
    windows = [(w, WINDOW_LABEL[w]) for w in STANDARD_WINDOWS_S]

    # The device loop is the hot path at national scale (30,000 devices, ten series each):
    # one label block per device, lines written with f-strings, no intermediate objects.
    info = fam["netmon_device"].lines.append
    state = fam["netmon_device_state"].lines.append
    up = fam["netmon_device_up"].lines.append
    since = fam["netmon_device_state_since_timestamp_seconds"].lines.append
    flap = fam["netmon_device_flapping"].lines.append
    rtt = fam["netmon_device_rtt_seconds"].lines.append
    jitter = fam["netmon_device_jitter_seconds"].lines.append
    loss = fam["netmon_device_loss_ratio"].lines.append
    resp = fam["netmon_device_snmp_response_seconds"].lines.append
    outages = fam["netmon_device_outages"].lines.append
    ifo = fam["netmon_interface_oper_status"].lines.append
    ifrx = fam["netmon_interface_receive_bytes"].lines.append
    iftx = fam["netmon_interface_transmit_bytes"].lines.append
    outage_counts = snap.outage_counts
    codes = {st: f" {code}\n" for st, code in STATE_CODE.items()}
    up_state = State.UP
    isfinite = math.isfinite
    esc = _escape_label
    for dev in snap.devices.values():
        commune = communes.get(dev.commune) if dev.commune else None
        district = dev.district or (commune.district if commune else None) or ""
        meta = (dev.id, str(dev.role), district, dev.commune or "", commune.name if commune else "", dev.name)
        raw = "".join(meta)
        if '"' in raw or "\\" in raw or "\n" in raw:  # rare: inventory text with quotes
            meta = tuple(esc(x) for x in meta)  # type: ignore[assignment]
        dev_id = meta[0]
        info(
            f'netmon_device_info{{device="{dev_id}",role="{meta[1]}",province="{prov}",district="{meta[2]}",'
            f'commune="{meta[3]}",commune_name="{meta[4]}",name="{meta[5]}"}} 1\n'
        )
        b = f'{{device="{dev_id}"}}'
        state(f"netmon_device_state{b}{codes[dev.state]}")
        up(f"netmon_device_up{b} 1\n" if dev.state == up_state else f"netmon_device_up{b} 0\n")
        since(f"netmon_device_state_since_timestamp_seconds{b} {int(dev.since):d}\n")
        flap(f"netmon_device_flapping{b} 1\n" if dev.flapping else f"netmon_device_flapping{b} 0\n")
        v = dev.rtt_avg_s
        if v is not None and isfinite(v):
            rtt(f"netmon_device_rtt_seconds{b} {float(v)!r}\n")
        v = dev.jitter_s
        if v is not None and isfinite(v):
            jitter(f"netmon_device_jitter_seconds{b} {float(v)!r}\n")
        v = dev.loss_ratio
        if v is not None and isfinite(v):
            loss(f"netmon_device_loss_ratio{b} {float(v)!r}\n")
        v = dev.response_s
        if v is not None and isfinite(v):
            resp(f"netmon_device_snmp_response_seconds{b} {float(v)!r}\n")
        outages(f"netmon_device_outages_total{b} {outage_counts.get(dev.id, 0):d}\n")
        for itf in dev.interfaces:
            ib = f'{{device="{dev_id}",interface="{esc(itf.name or str(itf.index))}"}}'
            ifo(f"netmon_interface_oper_status{ib} {itf.oper_status:d}\n")
            if itf.in_octets is not None:
                ifrx(f"netmon_interface_receive_bytes_total{ib} {itf.in_octets:d}\n")
            if itf.out_octets is not None:
                iftx(f"netmon_interface_transmit_bytes_total{ib} {itf.out_octets:d}\n")

    for c in communes.values():
        cb = _block(
            {"province": snap.province_code, "district": c.district or "", "commune": c.code, "commune_name": c.name}
        )
        fam["netmon_commune_connected"].add(cb, 1 if c.connected else 0)
        fam["netmon_commune_provisioned"].add(cb, 1 if c.provisioned else 0)
        fam["netmon_commune_state"].add(cb, STATE_CODE[c.state])
        fam["netmon_commune_state_since_timestamp_seconds"].add(cb, c.since)
        _windows(fam["netmon_commune_availability_ratio"], cb, avail, ("commune", c.code), windows)

    for d in snap.districts.values():
        tb = _block({"province": snap.province_code, "district": d.code, "district_name": d.name})
        _counts(fam, "netmon_district", tb, d.counts)
        _windows(fam["netmon_district_availability_ratio"], tb, avail, ("district", d.code), windows)

    pb = _block({"province": snap.province_code, "province_name": snap.province_name})
    _counts(fam, "netmon_province", pb, snap.province)
    _windows(fam["netmon_province_availability_ratio"], pb, avail, ("province", snap.province_code), windows)
    fam["netmon_coverage_target_ratio"].add(pb, coverage_target)

    for a in snap.agents.values():
        ab = _block({"agent": a.id})
        fam["netmon_agent_up"].add(ab, 1 if a.online else 0)
        if _finite(a.last_seen):
            fam["netmon_agent_last_seen_timestamp_seconds"].add(ab, a.last_seen)  # type: ignore[arg-type]
        fam["netmon_agent_devices"].add(ab, a.devices)
        fam["netmon_agent"].add(_block({"agent": a.id, "version": a.version}), 1)

    ing = snap.ingest
    for name, value in (
        ("netmon_collector_batches", ing.batches),
        ("netmon_collector_samples", ing.samples),
        ("netmon_collector_duplicate_batches", ing.duplicates),
        ("netmon_collector_late_samples", ing.late_samples),
        ("netmon_collector_unknown_device_samples", ing.unknown_devices),
        ("netmon_collector_dead_letters", ing.dead_letters),
    ):
        fam[name].add("", value)
    for reason, n in sorted(ing.invalid.items()):
        fam["netmon_collector_invalid_batches"].add(_block({"reason": reason}), n)
    for reason, n in sorted(ing.rejected_samples.items()):
        fam["netmon_collector_rejected_samples"].add(_block({"reason": reason}), n)
    fam["netmon_collector_ledger_gaps"].add("", ing.ledger_gaps)
    for agent, n in sorted(ing.missing_batches.items()):
        fam["netmon_agent_missing_batches"].add(_block({"agent": agent}), n)
    fam["netmon_snapshot_timestamp_seconds"].add("", snap.taken_at)
    return list(fam.values())


def _counts(fam: dict[str, _Family], prefix: str, block: str, counts: Counts) -> None:
    fam[f"{prefix}_communes"].add(block, counts.communes)
    fam[f"{prefix}_communes_connected"].add(block, counts.connected)
    fam[f"{prefix}_communes_provisioned"].add(block, counts.provisioned)
    fam[f"{prefix}_coverage_ratio"].add(block, counts.coverage_ratio)
    fam[f"{prefix}_provisioned_ratio"].add(block, counts.provisioned_ratio)
    for st in State:  # every state, zeros included, so panels and sums keep their series
        fam[f"{prefix}_communes_by_state"].add(f'{block[:-1]},state="{st.value}"}}', counts.by_state.get(st, 0))


def _windows(
    family: _Family,
    block: str,
    avail: Mapping[tuple[str, str, int], Availability],
    key: tuple[str, str],
    windows: list[tuple[int, str]],
) -> None:
    for w, wl in windows:
        a = avail.get((*key, w))
        ratio = a.ratio if a is not None else None
        if _finite(ratio):
            family.add(f'{block[:-1]},window="{wl}"}}', ratio)  # type: ignore[arg-type]


class SnapshotCollector(Collector):
    """A prometheus-client custom collector exporting the collector's current snapshot.

    Args:
        snapshot: Returns the current immutable snapshot; called once per scrape.
        coverage_target: The coverage objective (``ObjectiveSettings.coverage_target``).
    """

    def __init__(self, snapshot: Callable[[], Snapshot], *, coverage_target: float = 1.0) -> None:
        self._snapshot = snapshot
        self._coverage_target = coverage_target
        # The families of the last snapshot: the engine hands out the same immutable object
        # until something changes, so a second Prometheus (an HA pair) costs nothing.
        self._last: tuple[Snapshot, list[Metric]] | None = None
        self._prepared: Snapshot | None = None

    def prepare(self) -> None:
        """Take the snapshot now, for the following :meth:`collect` calls.

        For a ``snapshot`` callable that must run on the thread owning the state (the
        engine's event loop): the handler calls this there, then renders in a worker thread.
        """
        self._prepared = self._snapshot()

    def collect(self) -> Iterable[Metric]:
        """The families of the snapshot current at scrape time (or the prepared one)."""
        # Once prepared, always the prepared one: a concurrent scrape must not call the
        # snapshot callable from a worker thread.
        snap = self._prepared if self._prepared is not None else self._snapshot()
        last = self._last
        if last is not None and last[0] is snap:
            return last[1]
        families = build_families(snap, self._coverage_target)
        self._last = (snap, families)
        return families

    def describe(self) -> Iterable[Metric]:
        """The families without samples: lets the registry detect name clashes on register
        without taking a snapshot."""
        return [Metric(name, doc, typ) for name, doc, typ in _SPECS]


def _number(value: float) -> str:
    """A value in the exposition's number syntax."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _render_lines(metrics: Iterable[Metric], openmetrics: bool) -> Iterator[str]:
    for m in metrics:
        typ = m.type
        name = m.name
        if openmetrics:
            doc = m.documentation.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
        else:
            doc = m.documentation.replace("\\", r"\\").replace("\n", r"\n")
            # The text format has no family/sample name distinction: like prometheus-client,
            # name the family after its samples and map the types it lacks.
            if typ == "counter":
                name += "_total"
            elif typ == "info":
                name += "_info"
                typ = "gauge"
            elif typ == "stateset":
                typ = "gauge"
            elif typ == "unknown":
                typ = "untyped"
            elif typ == "gaugehistogram":
                typ = "histogram"
        yield f"# HELP {name} {doc}\n# TYPE {name} {typ}\n"
        if openmetrics and m.unit:
            yield f"# UNIT {name} {m.unit}\n"
        if isinstance(m, _Family):
            yield "".join(m.lines)
            continue
        for s in m.samples:
            if not openmetrics and s.name.endswith("_created"):
                continue  # prometheus-client leaves _created out of the text format too
            yield f"{s.name}{_block(s.labels)} {_number(s.value)}\n"
    if openmetrics:
        yield "# EOF\n"


def render(registry: Collector, *, openmetrics: bool = False) -> bytes:
    """Every family of the registry in the text format 0.0.4 or OpenMetrics 1.0.0.

    Pure with respect to the collectors' state; the handler calls it in a worker thread.
    """
    return "".join(_render_lines(registry.collect(), openmetrics)).encode()


def wants_openmetrics(accept: str) -> bool:
    """Whether an Accept header asks for OpenMetrics (Prometheus does by default)."""
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media == "application/openmetrics-text":
            q = next((p[2:] for p in params if p.startswith("q=")), "1")
            try:
                if float(q) > 0:
                    return True
            except ValueError:
                continue
    return False


def metrics_handler(
    registry: CollectorRegistry, *, prepare: Sequence[SnapshotCollector] = ()
) -> Callable[[web.Request], Any]:
    """An aiohttp handler serving the registry as text or OpenMetrics by the Accept header.

    Args:
        registry: What to expose.
        prepare: The registry's snapshot collectors. When given, the handler takes their
            snapshots on the event loop (where the engine's state is consistent) and renders
            in a worker thread, so a national-scale scrape (hundreds of milliseconds) does
            not stall the loop. Without it the handler renders on the loop: always safe,
            fine at province scale (a few milliseconds). Every other collector in the
            registry must then be safe to call from a worker thread.

    aiohttp compresses the body when the client accepts gzip.
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        om = wants_openmetrics(",".join(request.headers.getall("Accept", [])))
        if prepare:
            for collector in prepare:
                collector.prepare()
            body = await asyncio.to_thread(render, registry, openmetrics=om)
        else:
            body = render(registry, openmetrics=om)
        resp = web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_OPENMETRICS if om else CONTENT_TYPE_TEXT})
        resp.enable_compression()
        return resp

    return handle
