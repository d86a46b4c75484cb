"""The poller: probes every device on schedule and hands typed samples to a sink.

Usage::

    poller = Poller(devices, profiles, settings.poll, sink, policy=settings.security)
    await poller.run()                   # forever, spread over each device's interval
    samples = await poller.poll_all_once()  # or one round of everything, now

Secrets: the poller resolves every :class:`~config.secrets.SecretRef` of the profiles its
devices use when it is built (and on :meth:`Poller.reload`); the loader made relative
file references relative to the credentials file. A missing secret, an
unknown profile, a profile the :class:`~config.settings.SecurityPolicy` refuses, or
privacy without the ``cryptography`` package raises :class:`PollerConfigError` then,
naming the device and the profile: a bad configuration fails at start, not at 3 a.m.

Per device and round the poller emits one sample per probe (``icmp`` or its ``tcp``
fallback, ``snmp``, ``tcp``); a down device is a sample with ``ok=False`` and a reason.
An SNMP poll that answered but could not read a table says so in the sample
(``unread``), is counted, and is logged when that changes for the device, as are
impossible values a device sent (dropped, counted) and uptimes that are neither normal
nor a restart. :meth:`Poller.poll_device` with a ``trigger`` is the out-of-schedule
probe the trap receiver asks for: its samples carry the trigger and are handed over at
once (``on_urgent``), not when the batch's delay runs out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

from netmon.agent import wire
from netmon.agent.counters import DeviceCounters, advance
from netmon.agent.icmp import DEFAULT_TCP_PORT, IcmpMode, Pinger, choose_mode, icmp_round, tcp_probe
from netmon.agent.scheduler import Scheduler
from netmon.agent.selfmetrics import PollStats
from netmon.agent.sink import SampleSink
from netmon.agent.snmp import ResolvedProfile, SnmpClient, SnmpConfigError, SnmpResult, resolve_profile
from netmon.agent.uptime import UptimeReading
from netmon.config.credentials import WEAK_AUTH, WEAK_PRIV, SnmpProfile
from netmon.config.inventory import Device, Probe
from netmon.config.secrets import Secret
from netmon.config.settings import PollSettings, SecurityPolicy

log = logging.getLogger(__name__)


class PollerConfigError(ValueError):
    """The devices and profiles given to the poller cannot be polled as configured."""


def policy_violations(profile: SnmpProfile, policy: SecurityPolicy) -> list[str]:
    """What ``policy`` refuses in ``profile``, in words (empty: allowed).

    SNMPv3 without authentication or privacy counts as weaker than a weak algorithm,
    so ``allow_weak_algorithms: false`` refuses it too.
    """
    out: list[str] = []
    if profile.version != "3":
        if not policy.allow_community:
            out.append(f"SNMP v{profile.version} community (security.allow_community is false)")
        return out
    if policy.allow_weak_algorithms:
        return out
    if profile.auth_protocol is None or profile.auth_protocol in WEAK_AUTH:
        out.append(f"authentication {profile.auth_protocol or 'none'} (security.allow_weak_algorithms is false)")
    if profile.priv_protocol is None or profile.priv_protocol in WEAK_PRIV:
        out.append(f"privacy {profile.priv_protocol or 'none'} (security.allow_weak_algorithms is false)")
    return out


def _resolve_secrets(name: str, profile: SnmpProfile) -> dict[str, Secret]:
    out: dict[str, Secret] = {}
    for key in ("community", "auth_key", "priv_key"):
        ref = getattr(profile, key)
        if ref is not None:
            try:
                out[key] = ref.resolve()
            except ValueError as exc:
                raise PollerConfigError(f"SNMP profile {name!r}: {key}: {exc}") from None
    return out


@dataclass
class _DeviceState:
    counters: DeviceCounters | None = None
    identity: tuple[str | None, str | None, str | None] | None = None
    last_reason: str = ""
    unread: dict[str, str] = field(default_factory=dict)
    rejected: tuple[str, ...] = ()
    anomaly: str = ""


class Poller:
    """Polls devices and submits samples.

    Args:
        devices: Devices to poll.
        profiles: SNMP profiles by name (secrets as references, resolved here).
        poll: Poll settings (interval, timeouts, concurrency, ICMP).
        sink: Where samples go.
        policy: Security policy; profiles it refuses make the constructor raise.
        clock: Wall clock for sample timestamps and schedule phases.
        snmp: An SNMP client to share (several pollers in one process, the demo).
        on_urgent: Called after the samples of a triggered probe were submitted (the
            service passes the batcher's flush, so they go out at once).

    Raises:
        PollerConfigError: See the module docstring.
    """

    def __init__(
        self,
        devices: Sequence[Device],
        profiles: Mapping[str, SnmpProfile],
        poll: PollSettings,
        sink: SampleSink,
        *,
        policy: SecurityPolicy | None = None,
        clock: Callable[[], float] = time.time,
        snmp: SnmpClient | None = None,
        on_urgent: Callable[[], None] | None = None,
    ) -> None:
        self._settings = poll
        self._sink = sink
        self._policy = policy or SecurityPolicy()
        self._clock = clock
        self.stats = PollStats()
        self._snmp = snmp or SnmpClient()
        self._mode: IcmpMode | None = None
        self._pinger: Pinger | None = None
        self._devices: dict[str, Device] = {}
        self._resolved: dict[str, ResolvedProfile] = {}
        self._state: dict[str, _DeviceState] = {}
        self._scheduler: Scheduler | None = None
        self._malformed_seen = self._snmp.malformed
        self._usm_seen: Counter[tuple[str, str]] = Counter()
        self._on_urgent = on_urgent
        self._children: dict[str, list[str]] = {}
        self._configure(devices, profiles)

    # -- configuration ------------------------------------------------------------------

    def _configure(self, devices: Sequence[Device], profiles: Mapping[str, SnmpProfile]) -> None:
        resolved: dict[str, ResolvedProfile] = {}
        problems: list[str] = []
        for dev in devices:
            if Probe.SNMP not in dev.probes:
                continue
            if dev.snmp is None:
                problems.append(f"device {dev.id!r}: probe snmp needs an snmp profile")
                continue
            prof = profiles.get(dev.snmp)
            if prof is None:
                problems.append(f"device {dev.id!r}: unknown SNMP profile {dev.snmp!r}")
                continue
            refused = policy_violations(prof, self._policy)
            if refused:
                problems.append(
                    f"device {dev.id!r}: SNMP profile {dev.snmp!r} refused by the security policy: "
                    + "; ".join(refused)
                )
                continue
            if dev.snmp not in resolved:
                try:
                    secrets = _resolve_secrets(dev.snmp, prof)
                    resolved[dev.snmp] = resolve_profile(dev.snmp, prof, secrets)
                except (PollerConfigError, SnmpConfigError) as exc:
                    problems.append(f"device {dev.id!r}: {exc}")
        if problems:
            raise PollerConfigError("; ".join(problems))
        for name, old in self._resolved.items():
            if resolved.get(name) is not None and resolved[name].profile != old.profile:
                for dev in self._devices.values():
                    if dev.snmp == name:
                        self._snmp.forget(dev.address, old.profile.port, name)
        self._devices = {d.id: d for d in devices}
        self._children = {}
        for d in devices:
            if d.parent is not None and d.parent in self._devices:
                self._children.setdefault(d.parent, []).append(d.id)
        self._resolved = resolved
        self._state = {d: self._state.get(d, _DeviceState()) for d in self._devices}

    def reload(self, devices: Sequence[Device], profiles: Mapping[str, SnmpProfile]) -> None:
        """Replace devices and profiles; raises :class:`PollerConfigError` and keeps the
        old configuration when the new one is refused."""
        self._configure(devices, profiles)
        if self._scheduler is not None:
            self._scheduler.update(self._intervals())

    def _intervals(self) -> dict[str, float]:
        return {d.id: d.interval_s or self._settings.interval_s for d in self._devices.values()}

    @property
    def icmp_mode(self) -> IcmpMode:
        """The reachability mode, chosen (and logged) on first use."""
        if self._mode is None:
            self._mode = choose_mode(self._settings.icmp_mode)
            self.stats.icmp_mode = self._mode
        return self._mode

    @property
    def devices(self) -> list[Device]:
        """The devices polled."""
        return list(self._devices.values())

    def children(self, device_id: str) -> list[str]:
        """Polled devices whose parent (uplink) is ``device_id``."""
        return list(self._children.get(device_id, ()))

    def senders(self) -> list[tuple[Device, ResolvedProfile]]:
        """Devices with an SNMP profile, and the profile: who may send us notifications."""
        return [(d, self._resolved[d.snmp]) for d in self._devices.values() if d.snmp in self._resolved]

    # -- polling ------------------------------------------------------------------------

    async def poll_device(
        self, device_id: str, *, trigger: wire.Trigger | None = None, timeout_s: float | None = None
    ) -> list[wire.Sample]:
        """Poll one device now (all its probes, concurrently) and submit the samples.

        Args:
            device_id: The device.
            trigger: The notification that asked for this probe (None: a scheduled poll);
                its samples carry it, and ``on_urgent`` is called once they are submitted.
            timeout_s: Each probe's timeout, without retries (None: the poll settings and
                the SNMP profile's timeout and retries).
        """
        dev = self._devices.get(device_id)
        if dev is None:
            return []
        t0 = time.perf_counter()
        ts = self._clock()
        timeout = self._settings.timeout_s if timeout_s is None else timeout_s
        coros = []
        if Probe.ICMP in dev.probes and self.icmp_mode != "off":
            coros.append(self._reachability(dev, ts, timeout))
        if Probe.SNMP in dev.probes and dev.snmp in self._resolved:
            coros.append(self._snmp_probe(dev, ts, timeout_s))
        if Probe.TCP in dev.probes:
            coros.append(
                tcp_probe(
                    dev.id,
                    dev.address,
                    dev.tcp_port or DEFAULT_TCP_PORT,
                    timeout_s=timeout,
                    ts=ts,
                    refused_is_up=False,
                )
            )
        results = await asyncio.gather(*coros, return_exceptions=True)
        samples: list[wire.Sample] = []
        for res in results:
            if isinstance(res, wire.Sample):
                samples.append(res if trigger is None else msgspec.structs.replace(res, trigger=trigger))
            elif isinstance(res, asyncio.CancelledError):
                raise res
            else:  # a bug in a probe: counted and logged, the other probes' samples still go out
                self.stats.internal_errors += 1
                log.error("probe failed device=%s", dev.id, exc_info=res)
        self.stats.duration.observe(time.perf_counter() - t0)
        for s in samples:
            self.stats.record(s.probe, s.ok, s.reason)
            self._sink.submit(s)
        if trigger is not None:
            self.stats.trap_polls[trigger.trap] += 1
            if self._on_urgent is not None:
                self._on_urgent()
            self.stats.trap_latency.observe(max(0.0, self._clock() - trigger.received_at))
        return samples

    async def _reachability(self, dev: Device, ts: float, timeout_s: float) -> wire.Sample:
        mode = self.icmp_mode
        p = self._settings
        if mode == "tcp":
            return await tcp_probe(
                dev.id, dev.address, dev.tcp_port or DEFAULT_TCP_PORT, timeout_s=timeout_s, ts=ts, refused_is_up=True
            )
        assert mode in ("unprivileged", "privileged")
        if self._pinger is None:
            try:
                self._pinger = Pinger(privileged=mode == "privileged")
            except OSError as exc:
                log.error("cannot open the shared ICMP socket mode=%s: %s; using one socket per round", mode, exc)
        return await icmp_round(
            dev.id,
            dev.address,
            mode=mode,
            count=p.icmp_count,
            interval_s=p.icmp_interval_s,
            timeout_s=timeout_s,
            ts=ts,
            pinger=self._pinger,
        )

    async def _snmp_probe(self, dev: Device, ts: float, timeout_s: float | None) -> wire.Sample:
        assert dev.snmp is not None
        retries = None if timeout_s is None else 0
        res = await self._snmp.poll(dev.address, self._resolved[dev.snmp], timeout_s=timeout_s, retries=retries)
        self._note_client_counters()
        st = self._state.setdefault(dev.id, _DeviceState())
        if not res.ok:
            if res.reason != st.last_reason:  # log changes, not every poll of a dead device
                level = (
                    logging.WARNING
                    if res.reason in ("malformed", "bad_response", "auth", "unknown_user")
                    else logging.INFO
                )
                log.log(level, "snmp poll failed device=%s reason=%s detail=%s", dev.id, res.reason, res.detail)
            st.last_reason = res.reason
            return wire.Sample(device=dev.id, probe="snmp", ts=ts, ok=False, reason=res.reason)
        st.last_reason = ""
        self._note_partial(dev, st, res)
        reading = UptimeReading(res.sys_uptime_cs, res.hr_uptime_cs, res.engine_boots, res.engine_time)
        st.counters, interfaces, up = advance(st.counters, ts, reading, res.interfaces)
        rebooted_at = None
        if up.rebooted:
            self.stats.reboots += 1
            rebooted_at = ts - up.uptime_s if up.uptime_s is not None else None
            log.info("device rebooted device=%s source=%s uptime_s=%s", dev.id, up.source, up.uptime_s)
        anomaly = up.anomaly or ""
        if anomaly:
            self.stats.uptime_anomalies[anomaly] += 1
        if anomaly != st.anomaly:
            if anomaly:
                log.warning(
                    "uptime neither normal nor a restart device=%s kind=%s source=%s", dev.id, anomaly, up.source
                )
            else:
                log.info("uptime normal again device=%s", dev.id)
            st.anomaly = anomaly
        identity = (res.sys_name, res.sys_descr, res.sys_object_id)
        changed = identity != st.identity
        st.identity = identity
        return wire.Sample(
            device=dev.id,
            probe="snmp",
            ts=ts,
            ok=True,
            response_s=res.response_s,
            sys_uptime_s=res.sys_uptime_cs / 100.0 if res.sys_uptime_cs is not None else None,
            rebooted=up.rebooted,
            rebooted_at=rebooted_at,
            sys_name=res.sys_name if changed else None,
            sys_descr=res.sys_descr if changed else None,
            sys_object_id=res.sys_object_id if changed else None,
            interfaces=interfaces,
            unread=dict(res.unread) or None,
        )

    def _note_partial(self, dev: Device, st: _DeviceState, res: SnmpResult) -> None:
        """Count what a poll could not read or refused, and log it when it changes."""
        for table, reason in res.unread.items():
            self.stats.unread[(table, reason)] += 1
        if dict(res.unread) != st.unread:
            if res.unread:
                log.warning(
                    "snmp tables not read device=%s %s",
                    dev.id,
                    " ".join(f"{t}={r}" for t, r in sorted(res.unread.items())),
                )
            else:
                log.info("snmp tables read again device=%s", dev.id)
            st.unread = dict(res.unread)
        for name in res.rejected:
            self.stats.rejected_values[name] += 1
        if res.rejected and res.rejected != st.rejected:
            log.warning("impossible values from device dropped device=%s fields=%s", dev.id, ",".join(res.rejected))
        st.rejected = res.rejected

    def _note_client_counters(self) -> None:
        """Carry the SNMP client's counters (it may be shared) into this poller's stats."""
        seen = self._snmp.malformed
        if seen > self._malformed_seen:
            self.stats.malformed += seen - self._malformed_seen
            self._malformed_seen = seen
        for (err, origin), n in self._snmp.usm_errors.items():
            key = (err.value, origin)
            if n > self._usm_seen[key]:
                self.stats.usm_errors[key] += n - self._usm_seen[key]
                self._usm_seen[key] = n

    async def poll_all_once(self) -> list[wire.Sample]:
        """Poll every device once now, at most ``concurrency`` at a time; returns all samples."""
        sem = asyncio.Semaphore(self._settings.concurrency)

        async def one(dev_id: str) -> list[wire.Sample]:
            async with sem:
                return await self.poll_device(dev_id)

        out: list[wire.Sample] = []
        for samples in await asyncio.gather(*(one(d) for d in list(self._devices))):
            out.extend(samples)
        return out

    async def _scheduled(self, device_id: str) -> None:
        await self.poll_device(device_id)

    async def run(self) -> None:
        """Poll forever on each device's schedule (until cancelled)."""
        _ = self.icmp_mode  # log the mode at start, not at the first poll
        self._scheduler = Scheduler(
            self._scheduled, self._intervals(), self._settings.concurrency, self.stats, self._clock
        )
        try:
            await self._scheduler.run()
        finally:
            self._scheduler = None

    def close(self) -> None:
        """Release the SNMP and ICMP sockets."""
        self._snmp.close()
        if self._pinger is not None:
            self._pinger.close()
            self._pinger = None
