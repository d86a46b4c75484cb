"""Prometheus exposition of the collector's snapshot.

:class:`SnapshotCollector` is a prometheus-client *custom collector*: at scrape time it reads
one immutable :class:`collector.model.Snapshot` and yields metric families built from it, so
nothing is registered or updated per sample and a scrape sees one consistent state. The
registry is injected (tests never touch the global one).

Rendering: prometheus-client's ``generate_latest`` formats each sample's label set anew
(about 4.6 µs per sample with three labels on the reference machine, 0.8 s for 60,000
OpenMetrics samples with five labels), which cannot expose 30,000 devices with ten series
each in under a second. :func:`render` writes the same formats (text 0.0.4 and OpenMetrics
1.0.0), but :func:`build_families` formats each label block once (one per device, shared by
all its series) and writes the sample lines as text; families from other collectors in the
registry are formatted sample by sample. Tests check that the
output parses to the same families as prometheus-client's own and that ``promtool check
metrics`` accepts it.

A national scrape (30,000 devices, 10,000 communes, about 400,000 lines) is done on the
collector's ingest core, so it is kept cheap (about 0.35 s of CPU): devices are read as
:class:`~collector.model.DeviceSeries` (no views made); the collector's handler prepares
the families on the event loop a hundred devices a step, taking from the previous scrape
the lines that cannot have changed (:class:`ScrapeCache`); the text is encoded a family at
a time in a worker thread.

Metric families: every family is one :class:`~config.metricspec.MetricSpec` line below
(name, type, help, label names), in exposition order; :func:`build_families` emits through
the specs, and the README's table is generated from them (``python -m netmon.metrics_doc``;
a test fails when they differ). To add a family: one ``TABLE.family(...)`` line in its group
and its values in :func:`build_families`; a counter of :class:`collector.model.IngestCounters`
is one ``TABLE.stat(..., "ingest", field)`` line and nothing else. Then
``python -m netmon.metrics_doc --write`` updates the README.

Label choices: device series carry only ``device``; where a device is (province, district,
commune) and what it is (role, name) are on ``netmon_device_info``, to join on ``device``.
The 2025 structure has no districts; ``netmon_device_info`` and every commune series still
carry ``district`` (empty), which Prometheus treats as absent, so label sets are the same
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
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Sample

from netmon.collector.model import STANDARD_WINDOWS_S, STATE_CODE, Availability, CommuneView, Counts, Snapshot, State
from netmon.collector.steps import run_on_loop, run_to_end
from netmon.config.metricspec import MetricSpec, MetricTable, MetricType, escape_label, label_block

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


_escape_label = escape_label


def _block(labels: Mapping[str, str]) -> str:
    """The ``{k="v",...}`` block of a label set, escaped."""
    return label_block(labels.items())


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


GAUGE: MetricType = "gauge"
COUNTER: MetricType = "counter"
INFO: MetricType = "info"

# Label sets. Device series carry only ``device`` (the place is on netmon_device_info),
# which keeps a national scrape (30,000 devices) under a second.
DEVICE = ("device",)
DEVICE_INFO = ("device", "role", "province", "district", "commune", "commune_name", "name")
INTERFACE = ("device", "interface")
COMMUNE = ("province", "district", "commune", "commune_name")
DISTRICT = ("province", "district", "district_name")
PROVINCE = ("province", "province_name")
AGENT = ("agent",)

#: Every family of the collector's snapshot, in exposition order (describe() returns them).
TABLE = MetricTable()
FAMILIES = TABLE.families

# One line per family; `fmt: off` keeps each on its line (a merge adds or drops a line).
# fmt: off
DEVICE_INFO_FAMILY = TABLE.family("netmon_device", INFO, "Inventory metadata of a monitored device: where it is and what it does.", DEVICE_INFO)
DEVICE_STATE = TABLE.family("netmon_device_state", GAUGE, f"Device state: {STATE_HELP}.", DEVICE)
DEVICE_UP = TABLE.family("netmon_device_up", GAUGE, "1 when the device is up, 0 in any other state.", DEVICE)
DEVICE_SINCE = TABLE.family("netmon_device_state_since_timestamp_seconds", GAUGE, "Unix time the device entered its current state.", DEVICE)
DEVICE_FLAPPING = TABLE.family("netmon_device_flapping", GAUGE, "1 while the device's state flaps (its alerts are held back).", DEVICE)
DEVICE_RTT = TABLE.family("netmon_device_rtt_seconds", GAUGE, "Average round-trip time of the last ICMP/TCP probe round.", DEVICE)
DEVICE_JITTER = TABLE.family("netmon_device_jitter_seconds", GAUGE, "Jitter of the last probe round (mean absolute RTT difference).", DEVICE)
DEVICE_LOSS = TABLE.family("netmon_device_loss_ratio", GAUGE, "Packet loss of the last probe round, 0..1.", DEVICE)
DEVICE_SNMP_RESPONSE = TABLE.family("netmon_device_snmp_response_seconds", GAUGE, "SNMP response time of the last poll.", DEVICE)
DEVICE_OUTAGES = TABLE.family("netmon_device_outages", COUNTER, "Outages (periods down or unreachable) started since collection began.", DEVICE)
DEVICE_REBOOTS = TABLE.family("netmon_device_reboots", COUNTER, "Reboots (SNMP sysUpTime starting again) since collection began, outages or not.", DEVICE)
INTERFACE_OPER_STATUS = TABLE.family("netmon_interface_oper_status", GAUGE, "IF-MIB ifOperStatus: 1 up, 2 down, 3 testing, 5 dormant, 6 notPresent, 7 lowerLayerDown.", INTERFACE)
INTERFACE_RECEIVE = TABLE.family("netmon_interface_receive_bytes", COUNTER, "Octets received (ifHCInOctets, or ifInOctets on 32-bit agents).", INTERFACE)
INTERFACE_TRANSMIT = TABLE.family("netmon_interface_transmit_bytes", COUNTER, "Octets transmitted (ifHCOutOctets, or ifOutOctets).", INTERFACE)
COMMUNE_CONNECTED = TABLE.family("netmon_commune_connected", GAUGE, "1 when at least one access device of the commune is up.", COMMUNE)
COMMUNE_PROVISIONED = TABLE.family("netmon_commune_provisioned", GAUGE, "1 when the commune has an access device in the inventory.", COMMUNE)
COMMUNE_STATE = TABLE.family("netmon_commune_state", GAUGE, f"Commune state: {STATE_HELP}.", COMMUNE)
COMMUNE_SINCE = TABLE.family("netmon_commune_state_since_timestamp_seconds", GAUGE, "Unix time the commune entered its current state.", COMMUNE)
COMMUNE_AVAILABILITY = TABLE.family("netmon_commune_availability_ratio", GAUGE, "Share of the window the commune was connected (unknown time excluded).", (*COMMUNE, "window"))
DISTRICT_COMMUNES = TABLE.family("netmon_district_communes", GAUGE, "Communes of the district in the inventory.", DISTRICT)
DISTRICT_CONNECTED = TABLE.family("netmon_district_communes_connected", GAUGE, "Communes of the district connected now.", DISTRICT)
DISTRICT_PROVISIONED = TABLE.family("netmon_district_communes_provisioned", GAUGE, "Communes of the district with an access device.", DISTRICT)
DISTRICT_COVERAGE = TABLE.family("netmon_district_coverage_ratio", GAUGE, "Connected communes / communes of the district.", DISTRICT)
DISTRICT_PROVISIONED_RATIO = TABLE.family("netmon_district_provisioned_ratio", GAUGE, "Provisioned communes / communes of the district.", DISTRICT)
DISTRICT_BY_STATE = TABLE.family("netmon_district_communes_by_state", GAUGE, "Communes of the district in each state.", (*DISTRICT, "state"))
DISTRICT_AVAILABILITY = TABLE.family("netmon_district_availability_ratio", GAUGE, "Availability of the district's communes over the window.", (*DISTRICT, "window"))
DISTRICT_OBSERVED = TABLE.family("netmon_district_availability_observed_seconds", GAUGE, "Seconds of the window the district's communes were observed (up, down or unreachable), summed over communes: the weight that combines availability_ratio across collectors.", (*DISTRICT, "window"))
PROVINCE_COMMUNES = TABLE.family("netmon_province_communes", GAUGE, "Communes of the province in the inventory.", PROVINCE)
PROVINCE_CONNECTED = TABLE.family("netmon_province_communes_connected", GAUGE, "Communes of the province connected now.", PROVINCE)
PROVINCE_PROVISIONED = TABLE.family("netmon_province_communes_provisioned", GAUGE, "Communes of the province with an access device.", PROVINCE)
PROVINCE_COVERAGE = TABLE.family("netmon_province_coverage_ratio", GAUGE, "Connected communes / communes of the province.", PROVINCE)
PROVINCE_PROVISIONED_RATIO = TABLE.family("netmon_province_provisioned_ratio", GAUGE, "Provisioned communes / communes of the province.", PROVINCE)
PROVINCE_BY_STATE = TABLE.family("netmon_province_communes_by_state", GAUGE, "Communes of the province in each state.", (*PROVINCE, "state"))
PROVINCE_AVAILABILITY = TABLE.family("netmon_province_availability_ratio", GAUGE, "Availability of the province's communes over the window.", (*PROVINCE, "window"))
PROVINCE_OBSERVED = TABLE.family("netmon_province_availability_observed_seconds", GAUGE, "Seconds of the window the province's communes were observed (up, down or unreachable), summed over communes: the weight that combines availability_ratio across collectors.", (*PROVINCE, "window"))
COVERAGE_TARGET = TABLE.family("netmon_coverage_target_ratio", GAUGE, "The coverage objective: share of communes that must be connected.", PROVINCE)
AGENT_UP = TABLE.family("netmon_agent_up", GAUGE, "1 while the agent's retained status says online.", AGENT)
AGENT_LAST_SEEN = TABLE.family("netmon_agent_last_seen_timestamp_seconds", GAUGE, "Unix time of the last message from the agent.", AGENT)
AGENT_DEVICES = TABLE.family("netmon_agent_devices", GAUGE, "Devices the agent reports polling.", AGENT)
AGENT_INFO = TABLE.family("netmon_agent", INFO, "Version of an agent.", (*AGENT, "version"))
TABLE.stat("netmon_collector_batches", COUNTER, "Sample batches applied.", (), "ingest", "batches")
TABLE.stat("netmon_collector_samples", COUNTER, "Samples applied.", (), "ingest", "samples")
TABLE.stat("netmon_collector_duplicate_batches", COUNTER, "Batches dropped as already applied (redelivery or replay).", (), "ingest", "duplicates")
TABLE.stat("netmon_collector_late_samples", COUNTER, "Samples older than the reorder window.", (), "ingest", "late_samples")
TABLE.stat("netmon_collector_unknown_device_samples", COUNTER, "Samples for devices not in the inventory.", (), "ingest", "unknown_devices")
INVALID_BATCHES = TABLE.family("netmon_collector_invalid_batches", COUNTER, "Payloads rejected, by reason.", ("reason",))
TABLE.stat("netmon_collector_dead_letters", COUNTER, "Payloads kept in the dead-letter table.", (), "ingest", "dead_letters")
REJECTED_SAMPLES = TABLE.family("netmon_collector_rejected_samples", COUNTER, "Samples left out of applied batches, by reason: value (impossible value), schema, foreign_device (a device outside its agent's declared scope).", ("reason",))
LEDGER_GAPS = TABLE.family("netmon_collector_ledger_gaps", GAUGE, "Open gaps in the agents' batch sequence numbers.")
MISSING_BATCHES = TABLE.family("netmon_agent_missing_batches", GAUGE, "Batches of the agent not received: gaps in its sequence numbers (a backlog draining, or lost).", AGENT)
STORE_UP = TABLE.family("netmon_collector_store_up", GAUGE, "1 while the store takes writes; 0 while they fail (full disk): nothing is lost, batches wait at the broker.")
STORE_WRITE_FAILURES = TABLE.family("netmon_collector_store_write_failures", COUNTER, "Store writes that failed (batches and ticks), each done again later.")
SNAPSHOT_TAKEN = TABLE.family("netmon_snapshot_timestamp_seconds", GAUGE, "Unix time the exported snapshot was taken.")
# fmt: on

#: The counts of a district or a province, in the order :func:`_counts` writes them.
_UNIT_COUNTS = {
    "district": (
        DISTRICT_COMMUNES,
        DISTRICT_CONNECTED,
        DISTRICT_PROVISIONED,
        DISTRICT_COVERAGE,
        DISTRICT_PROVISIONED_RATIO,
        DISTRICT_BY_STATE,
    ),
    "province": (
        PROVINCE_COMMUNES,
        PROVINCE_CONNECTED,
        PROVINCE_PROVISIONED,
        PROVINCE_COVERAGE,
        PROVINCE_PROVISIONED_RATIO,
        PROVINCE_BY_STATE,
    ),
}

#: Every metric name a scrape can contain (sample names, suffixes included).
METRIC_NAMES: frozenset[str] = frozenset(spec.sample_name for spec in FAMILIES)


def _pieces(spec: MetricSpec) -> tuple[str, ...]:
    """The literal text around the values of the family's label block, in the spec's label
    order (``'{device="'``, ``'"}'``): the hot loop joins them with the values, so the
    label names come from the spec and unpacking fails if their number changes."""
    return tuple(spec.block(*["\x00"] * len(spec.labels)).split("\x00"))


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def build_families(snap: Snapshot, coverage_target: float = 1.0) -> list[Metric]:
    """The metric families of a snapshot (pure).

    Args:
        snap: The collector's state.
        coverage_target: The coverage objective, exported as ``netmon_coverage_target_ratio``.

    Returns:
        One family per spec of :data:`FAMILIES`, in that order; series whose value is
        unknown (no RTT for a device that never answered) are left out rather than
        exported as NaN.
    """
    return run_to_end(family_steps(snap, coverage_target, devices_per_step=0))


def family_steps(
    snap: Snapshot, coverage_target: float = 1.0, *, devices_per_step: int, cache: ScrapeCache | None = None
) -> Generator[None, None, list[Metric]]:
    """:func:`build_families` in steps of ``devices_per_step`` devices (0: one step), so
    that the event loop can apply batches between them (a national snapshot's families
    take 0.2-0.3 s; in a worker thread they took the interpreter from the loop as long).
    With a ``cache``, what has not changed since the scrape that last used it is taken
    from it (:class:`ScrapeCache`)."""
    step = devices_per_step or 2**62
    cache = cache if cache is not None else ScrapeCache()
    fam = {spec.name: _Family(spec.name, spec.help, spec.type) for spec in FAMILIES}
    prov = _escape_label(snap.province_code)
    communes = snap.communes
    avail = snap.availability
    windows = [(w, WINDOW_LABEL[w]) for w in STANDARD_WINDOWS_S]

    # The device loop is the hot path at national scale (30,000 devices, ten series each):
    # one label block per device (from the spec's label names), lines written with f-strings
    # around each spec's sample name, no intermediate objects.
    def writer(spec: MetricSpec) -> tuple[Callable[[str], None], str]:
        return fam[spec.name].lines.append, spec.sample_name

    info, n_info = writer(DEVICE_INFO_FAMILY)
    state, n_state = writer(DEVICE_STATE)
    up, n_up = writer(DEVICE_UP)
    since, n_since = writer(DEVICE_SINCE)
    flap, n_flap = writer(DEVICE_FLAPPING)
    rtt, n_rtt = writer(DEVICE_RTT)
    jitter, n_jitter = writer(DEVICE_JITTER)
    loss, n_loss = writer(DEVICE_LOSS)
    resp, n_resp = writer(DEVICE_SNMP_RESPONSE)
    outages, n_outages = writer(DEVICE_OUTAGES)
    reboots, n_reboots = writer(DEVICE_REBOOTS)
    ifo, n_ifo = writer(INTERFACE_OPER_STATUS)
    ifrx, n_ifrx = writer(INTERFACE_RECEIVE)
    iftx, n_iftx = writer(INTERFACE_TRANSMIT)
    i0, i1, i2, i3, i4, i5, i6, i7 = _pieces(DEVICE_INFO_FAMILY)
    d0, d1 = _pieces(DEVICE_STATE)
    f0, f1, f2 = _pieces(INTERFACE_OPER_STATUS)
    # every device family has the label set of netmon_device_state; the interface ones of oper_status
    assert all(
        s.labels == DEVICE
        for s in (DEVICE_UP, DEVICE_SINCE, DEVICE_FLAPPING, DEVICE_RTT, DEVICE_OUTAGES, DEVICE_REBOOTS)
    )
    assert INTERFACE_RECEIVE.labels == INTERFACE_TRANSMIT.labels == INTERFACE
    outage_counts = snap.outage_counts
    reboot_counts = snap.reboot_counts
    codes = {st: f" {code}\n" for st, code in STATE_CODE.items()}
    up_state = State.UP
    isfinite = math.isfinite
    esc = _escape_label
    # A device's info line is made of the inventory alone: the previous scrape's while the
    # inventory is the same.
    same_inventory = snap.inventory_key is not None and snap.inventory_key is cache.inventory_key
    info_lines = cache.device_info if same_inventory else {}
    for k, dev in enumerate(snap.device_series(), 1):
        if k % step == 0:
            yield
        line = info_lines.get(dev.id)
        if line is None:
            commune = communes.get(dev.commune) if dev.commune else None
            district = dev.district or (commune.district if commune else None) or ""
            # in the order of DEVICE_INFO: device, role, province, district, commune, commune_name, name
            m = [
                esc(x)
                for x in (dev.id, dev.role, district, dev.commune or "", commune.name if commune else "", dev.name)
            ]
            line = info_lines[dev.id] = (
                f"{n_info}{i0}{m[0]}{i1}{m[1]}{i2}{prov}{i3}{m[2]}{i4}{m[3]}{i5}{m[4]}{i6}{m[5]}{i7} 1\n"
            )
        info(line)
        dev_id = esc(dev.id)
        b = f"{d0}{dev_id}{d1}"
        state(f"{n_state}{b}{codes[dev.state]}")
        up(f"{n_up}{b} 1\n" if dev.state == up_state else f"{n_up}{b} 0\n")
        since(f"{n_since}{b} {int(dev.since):d}\n")
        flap(f"{n_flap}{b} 1\n" if dev.flapping else f"{n_flap}{b} 0\n")
        outages(f"{n_outages}{b} {outage_counts.get(dev.id, 0):d}\n")
        reboots(f"{n_reboots}{b} {reboot_counts.get(dev.id, 0):d}\n")
        # Measurements older than the device's last round (a device that stopped answering,
        # or one nothing is heard of) are None: a stale series would say "up".
        v = dev.rtt_avg_s
        if v is not None and isfinite(v):
            rtt(f"{n_rtt}{b} {float(v)!r}\n")
        v = dev.jitter_s
        if v is not None and isfinite(v):
            jitter(f"{n_jitter}{b} {float(v)!r}\n")
        v = dev.loss_ratio
        if v is not None and isfinite(v):
            loss(f"{n_loss}{b} {float(v)!r}\n")
        v = dev.response_s
        if v is not None and isfinite(v):
            resp(f"{n_resp}{b} {float(v)!r}\n")
        for itf in dev.interfaces or ():
            ib = f"{f0}{dev_id}{f1}{esc(itf.label)}{f2}"
            ifo(f"{n_ifo}{ib} {itf.oper_status:d}\n")
            if itf.in_octets is not None:
                ifrx(f"{n_ifrx}{ib} {itf.in_octets:d}\n")
            if itf.out_octets is not None:
                iftx(f"{n_iftx}{ib} {itf.out_octets:d}\n")

    # Communes: a commune's view is the same object while it does not change, and the
    # availability the same mapping until its next refresh (once a minute): their lines are
    # the previous scrape's where both are (10,000 communes, eight series each).
    fresh = cache.availability is not avail
    kept: dict[str, CommuneLines] = {}
    previous = cache.communes
    c_conn, c_prov, c_state, c_since, c_avail = (
        fam[spec.name].lines.append
        for spec in (COMMUNE_CONNECTED, COMMUNE_PROVISIONED, COMMUNE_STATE, COMMUNE_SINCE, COMMUNE_AVAILABILITY)
    )
    for c in communes.values():
        lines = previous.get(c.code)
        if lines is None or lines.view is not c:
            cb = COMMUNE_STATE.block(snap.province_code, c.district or "", c.code, c.name)
            kept_windows = lines.windows if lines is not None and lines.block == cb else None
            lines = CommuneLines(
                view=c,
                block=cb,
                connected=f"{COMMUNE_CONNECTED.sample_name}{cb} {1 if c.connected else 0}\n",
                provisioned=f"{COMMUNE_PROVISIONED.sample_name}{cb} {1 if c.provisioned else 0}\n",
                state=f"{COMMUNE_STATE.sample_name}{cb} {STATE_CODE[c.state]}\n",
                since=f"{COMMUNE_SINCE.sample_name}{cb} {_number(c.since)}\n",
                windows=kept_windows,
            )
        if lines.windows is None or fresh:
            key = ("commune", c.code)
            lines.windows = "".join(_window_lines(COMMUNE_AVAILABILITY.sample_name, lines.block, avail, key, windows))
        kept[c.code] = lines
        c_conn(lines.connected)
        c_prov(lines.provisioned)
        c_state(lines.state)
        c_since(lines.since)
        c_avail(lines.windows)
    cache.communes = kept
    cache.availability = avail
    cache.device_info = info_lines
    cache.inventory_key = snap.inventory_key

    for d in snap.districts.values():
        tb = DISTRICT_COMMUNES.block(snap.province_code, d.code, d.name)
        _counts(fam, "district", tb, d.counts)
        _windows(
            fam[DISTRICT_AVAILABILITY.name],
            tb,
            avail,
            ("district", d.code),
            windows,
            observed=fam[DISTRICT_OBSERVED.name],
        )

    pb = PROVINCE_COMMUNES.block(snap.province_code, snap.province_name)
    _counts(fam, "province", pb, snap.province)
    _windows(
        fam[PROVINCE_AVAILABILITY.name],
        pb,
        avail,
        ("province", snap.province_code),
        windows,
        observed=fam[PROVINCE_OBSERVED.name],
    )
    fam[COVERAGE_TARGET.name].add(pb, coverage_target)

    for a in snap.agents.values():
        ab = AGENT_UP.block(a.id)
        fam[AGENT_UP.name].add(ab, 1 if a.online else 0)
        if _finite(a.last_seen):
            fam[AGENT_LAST_SEEN.name].add(ab, a.last_seen)  # type: ignore[arg-type]
        fam[AGENT_DEVICES.name].add(ab, a.devices)
        fam[AGENT_INFO.name].add(AGENT_INFO.block(a.id, a.version), 1)

    ing = snap.ingest
    for stat in TABLE.stats:  # one series each: a field of the snapshot's IngestCounters
        if stat.source == "ingest":
            fam[stat.spec.name].add("", getattr(ing, stat.field))
    for reason, n in sorted(ing.invalid.items()):
        fam[INVALID_BATCHES.name].add(INVALID_BATCHES.block(reason), n)
    for reason, n in sorted(ing.rejected_samples.items()):
        fam[REJECTED_SAMPLES.name].add(REJECTED_SAMPLES.block(reason), n)
    fam[LEDGER_GAPS.name].add("", ing.ledger_gaps)
    for agent, n in sorted(ing.missing_batches.items()):
        fam[MISSING_BATCHES.name].add(MISSING_BATCHES.block(agent), n)
    fam[STORE_UP.name].add("", 1 if snap.store.ok else 0)
    fam[STORE_WRITE_FAILURES.name].add("", snap.store.failures)
    fam[SNAPSHOT_TAKEN.name].add("", snap.taken_at)
    return list(fam.values())


def _counts(fam: dict[str, _Family], unit: str, block: str, counts: Counts) -> None:
    communes, connected, provisioned, coverage, provisioned_ratio, by_state = _UNIT_COUNTS[unit]
    fam[communes.name].add(block, counts.communes)
    fam[connected.name].add(block, counts.connected)
    fam[provisioned.name].add(block, counts.provisioned)
    if counts.communes:  # a unit without communes (Lý Sơn) has no coverage, not 0
        fam[coverage.name].add(block, counts.coverage_ratio)
        fam[provisioned_ratio.name].add(block, counts.provisioned_ratio)
    for st in State:  # every state, zeros included, so panels and sums keep their series
        fam[by_state.name].add(f'{block[:-1]},state="{st.value}"}}', counts.by_state.get(st, 0))


def _window_lines(
    name: str,
    block: str,
    avail: Mapping[tuple[str, str, int], Availability],
    key: tuple[str, str],
    windows: list[tuple[int, str]],
) -> Iterator[str]:
    """The availability ratio's lines of a unit, one per window it has a finite ratio for."""
    for w, wl in windows:
        a = avail.get((*key, w))
        ratio = a.ratio if a is not None else None
        if ratio is not None and math.isfinite(ratio):
            yield f'{name}{block[:-1]},window="{wl}"}} {_number(ratio)}\n'


def _windows(
    family: _Family,
    block: str,
    avail: Mapping[tuple[str, str, int], Availability],
    key: tuple[str, str],
    windows: list[tuple[int, str]],
    *,
    observed: _Family,
) -> None:
    family.lines.extend(_window_lines(family.sample_name, block, avail, key, windows))
    for w, wl in windows:
        a = avail.get((*key, w))
        if a is not None:
            # Partitioned collectors each observe only their agents' communes: a unit's
            # availability is their ratios weighted by these seconds (exporters/alerts/netmon-combine.yml).
            observed.add(f'{block[:-1]},window="{wl}"}}', a.up_s + a.down_s + a.unreachable_s)


@dataclass(slots=True)
class CommuneLines:
    """A commune's series as a scrape wrote them, for the next one.

    Attributes:
        view: The commune's view they were written from (the engine reuses the object
            while the commune does not change).
        block: Its label block.
        connected, provisioned, state, since: The line of each family.
        windows: The lines of its availability over the standard windows (None: to write).
    """

    view: CommuneView
    block: str
    connected: str
    provisioned: str
    state: str
    since: str
    windows: str | None


@dataclass(slots=True)
class ScrapeCache:
    """What a scrape takes from the one before: each commune's lines, while its view and
    the availability figures (refreshed once a minute) are the objects they were written
    from, and each device's info line while the inventory is the same. A scrape without
    one (:func:`build_families`) writes every line."""

    communes: dict[str, CommuneLines] = field(default_factory=dict)
    #: The availability mapping the communes' window lines were written from.
    availability: object = None
    #: Each device's ``netmon_device_info`` line, of the inventory of ``inventory_key``.
    device_info: dict[str, str] = field(default_factory=dict)
    #: The snapshot's ``inventory_key`` the info lines were written from.
    inventory_key: object = None


#: Devices whose series a scrape makes between two turns of the event loop (about 1 ms). A
#: turn reads only a few messages from the broker (paho's ``loop_read``): with steps of
#: 1,000 devices (7 ms) the ingest fell behind 50,000 samples/s for the length of a scrape.
DEVICES_PER_STEP = 100


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
        # Lines a prepared scrape takes from the one before (only there: on the event loop).
        self._cache = ScrapeCache()

    async def prepare(self, *, devices_per_step: int = DEVICES_PER_STEP) -> None:
        """Take the snapshot now and make its families, for the following :meth:`collect`
        calls: ``devices_per_step`` devices at a time, the event loop applying batches
        between two steps.

        For a ``snapshot`` callable that must run on the thread owning the state (the
        engine's event loop): the handler awaits this there, then renders in a worker thread.
        """
        snap = self._snapshot()
        last = self._last
        if last is None or last[0] is not snap:
            steps = family_steps(snap, self._coverage_target, devices_per_step=devices_per_step, cache=self._cache)
            self._last = (snap, await run_on_loop(steps))
        self._prepared = snap

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
        return [Metric(spec.name, spec.help, spec.type) for spec in FAMILIES]


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
    # Encoded a family at a time: joined first, one family with Vietnamese names would make
    # the whole text a two-byte string, and its UTF-8 encoding the slow kind.
    return b"".join(chunk.encode() for chunk in _render_lines(registry.collect(), openmetrics))


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
            snapshots on the event loop (where the engine's state is consistent), makes
            their families there a step at a time (batches are applied between two) and
            renders the text in a worker thread, so a national-scale scrape (hundreds of
            milliseconds) does not stall the loop. Without it the handler renders on the loop: always safe,
            fine at province scale (a few milliseconds). Every other collector in the
            registry must then be safe to call from a worker thread.

    aiohttp compresses the body when the client accepts gzip.
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        om = wants_openmetrics(",".join(request.headers.getall("Accept", [])))
        if prepare:
            for collector in prepare:
                await collector.prepare()
            body = await asyncio.to_thread(render, registry, openmetrics=om)
        else:
            body = render(registry, openmetrics=om)
        resp = web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_OPENMETRICS if om else CONTENT_TYPE_TEXT})
        resp.enable_compression()
        return resp

    return handle
