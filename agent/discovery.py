"""What answers on the network, and what each device says of its neighbours.

``netmon inventory discover`` sweeps subnets from an agent's settings (its SNMP
credential profiles and security policy) at a bounded rate: each address gets an ICMP
echo (when the agent may send one) and an SNMP GET of the system group with each
profile in turn until one answers (no retries: a dead address costs one request per
profile). What answers SNMP is identified (vendor and model from sysObjectID) and its
LLDP-MIB and CDP neighbour tables are walked. ``netmon inventory diff`` runs the same
inspection on the inventory's own devices.

The SNMP client is the agent's own (:class:`netmon.agent.snmp.SnmpClient`); the table
walk here reads tables whose rows have indexes of any length (LLDP's are three numbers
and more), which the client's interface walk does not, through the client's request
method — the one place this module reaches inside the client.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from netmon.agent import lldp
from netmon.agent.icmp import IcmpMode, Pinger, icmp_round
from netmon.agent.lldp import Neighbour, Oid
from netmon.agent.poller import policy_violations
from netmon.agent.snmp import (
    END_OF_MIB_VIEW,
    MAX_WALK_PDUS,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    PDU_BULK,
    PDU_GET,
    PDU_NEXT,
    ResolvedProfile,
    SnmpClient,
    SnmpConfigError,
    resolve_profile,
)
from netmon.agent.vendors import identify
from netmon.config.credentials import SnmpProfile
from netmon.config.settings import SecurityPolicy

#: A sweep larger than this many addresses must be asked for explicitly.
DEFAULT_MAX_ADDRESSES = 4096


class DiscoveryError(ValueError):
    """The sweep cannot be run as asked (too many addresses, a bad subnet)."""


@dataclass(frozen=True, slots=True)
class Walk:
    """Columns walked: column -> {row index: value}; ``reason`` says why it stopped early."""

    columns: dict[Oid, dict[Oid, object]]
    reason: str = ""
    pdus: int = 0


async def walk_columns(
    client: SnmpClient,
    address: str,
    resolved: ResolvedProfile,
    columns: Sequence[Oid],
    *,
    max_pdus: int = MAX_WALK_PDUS,
) -> Walk:
    """Walk table columns (GETBULK, GETNEXT on v1) whose rows have indexes of any length.

    Each column ends where the agent leaves its subtree or says endOfMibView; a
    non-increasing OID (a broken agent would loop) ends the walk, as does ``max_pdus``.
    Never raises for the device's failure.
    """
    data: dict[Oid, dict[Oid, object]] = {c: {} for c in columns}
    try:
        tgt = await client._target(address, resolved)
    except (OSError, ValueError) as exc:
        return Walk(data, f"resolve: {exc}")
    p = resolved.profile
    pdu = PDU_NEXT if p.version == "1" else PDU_BULK
    last = list(columns)
    open_cols = list(range(len(columns)))
    max_rep = p.max_repetitions
    pdus = 0
    while open_cols:
        if pdus >= max_pdus:
            return Walk(data, "truncated", pdus)
        pdus += 1
        resp = await client._request(tgt, pdu, [last[c] for c in open_cols], max_rep)
        if resp.reason:
            return Walk(data, resp.reason, pdus)
        if resp.status:
            if resp.status == 1 and max_rep > 1:  # tooBig
                max_rep = max(1, max_rep // 2)
                continue
            if resp.status == 2 and 1 <= resp.index <= len(open_cols):  # v1 noSuchName: that column ended
                del open_cols[resp.index - 1]
                continue
            return Walk(data, f"error_status_{resp.status}", pdus)
        if not resp.varbinds:
            return Walk(data, "empty", pdus)
        width = len(open_cols)
        done: set[int] = set()
        progressed = False
        for i, (oid, val) in enumerate(resp.varbinds):
            col = open_cols[i % width]
            if col in done:
                continue
            base = columns[col]
            n = len(base)
            if val is END_OF_MIB_VIEW or len(oid) <= n or oid[:n] != base:
                done.add(col)
                continue
            if oid <= last[col]:
                return Walk(data, "oid_not_increasing", pdus)
            last[col] = oid
            progressed = True
            if val is NO_SUCH_OBJECT or val is NO_SUCH_INSTANCE:
                continue
            data[base][oid[n:]] = val
        if not progressed and not done:
            return Walk(data, "oid_not_increasing", pdus)
        open_cols = [c for c in open_cols if c not in done]
    return Walk(data, "", pdus)


async def get_scalars(
    client: SnmpClient, address: str, resolved: ResolvedProfile, oids: Sequence[Oid]
) -> dict[Oid, object]:
    """GET some scalars; those the device lacks are left out (empty on any failure)."""
    try:
        tgt = await client._target(address, resolved)
    except (OSError, ValueError):
        return {}
    resp = await client._request(tgt, PDU_GET, list(oids))
    if resp.reason or resp.status:
        return {}
    return {oid: val for oid, val in resp.varbinds if val not in (NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW)}


@dataclass(frozen=True, slots=True)
class Finding:
    """What one address (or inventory device) showed.

    Attributes:
        address: The address probed.
        device: The inventory device at this address, when known.
        icmp: Whether it answered an ICMP echo (None: not tried).
        rtt_s: The echo's round trip.
        snmp_profile: The credential profile it answered (empty: none did).
        reason: Why SNMP failed, when it did.
        sys_name, sys_descr, sys_object_id: Its system group.
        vendor, model: From sysObjectID (and sysDescr).
        chassis_id: Its own LLDP chassis id.
        neighbours: What its LLDP and CDP tables show.
        walk_reason: Why the neighbour walk stopped early, if it did.
    """

    address: str
    device: str = ""
    icmp: bool | None = None
    rtt_s: float | None = None
    snmp_profile: str = ""
    reason: str = ""
    sys_name: str = ""
    sys_descr: str = ""
    sys_object_id: str = ""
    vendor: str = ""
    model: str = ""
    chassis_id: str = ""
    neighbours: tuple[Neighbour, ...] = field(default=())
    walk_reason: str = ""

    @property
    def answered(self) -> bool:
        """It answered SNMP or ICMP."""
        return bool(self.snmp_profile) or bool(self.icmp)

    def to_data(self) -> dict[str, Any]:
        """Plain data (YAML/JSON), empty fields left out."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if name == "neighbours":
                value = [
                    {k: (list(v) if isinstance(v, tuple) else v) for k, v in _fields(n).items() if v} for n in value
                ]
            if value not in ("", None, [], ()):
                out[name] = value
        return out

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Finding:
        """Inverse of :meth:`to_data`."""
        kw = dict(data)
        kw["neighbours"] = tuple(
            Neighbour(**{**n, "addresses": tuple(n.get("addresses", ()))}) for n in kw.get("neighbours", ())
        )
        return cls(**kw)


def _fields(n: Neighbour) -> dict[str, Any]:
    return {name: getattr(n, name) for name in n.__slots__}


async def inspect(
    client: SnmpClient, address: str, resolved: ResolvedProfile, *, device: str = "", icmp: bool | None = None
) -> Finding:
    """One device: its system group, identity and LLDP/CDP neighbours."""
    res = await client.poll(address, resolved, interfaces=False)
    if not res.ok:
        return Finding(address, device, icmp, reason=res.reason)
    who = identify(res.sys_object_id, res.sys_descr)
    walk = await walk_columns(client, address, resolved, (lldp.IF_NAME, *lldp.LLDP_COLUMNS, *lldp.CDP_COLUMNS))
    if_names = {idx[0]: lldp.text(v) for idx, v in walk.columns[lldp.IF_NAME].items() if len(idx) == 1}
    scalars = await get_scalars(client, address, resolved, lldp.LLDP_LOCAL_SCALARS)
    chassis, _ = lldp.local_identity(scalars)
    neighbours = (*lldp.lldp_neighbours(walk.columns, if_names), *lldp.cdp_neighbours(walk.columns, if_names))
    return Finding(
        address,
        device,
        icmp,
        snmp_profile=resolved.name,
        sys_name=res.sys_name or "",
        sys_descr=(res.sys_descr or "").strip(),
        sys_object_id=res.sys_object_id or "",
        vendor=who.vendor,
        model=who.model,
        chassis_id=chassis,
        neighbours=neighbours,
        walk_reason=walk.reason,
    )


class RateLimit:
    """Starts at most ``rate`` operations a second, evenly spaced (no bursts)."""

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise DiscoveryError("the rate must be positive")
        self._interval = 1.0 / rate
        self._next = time.monotonic()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        """Wait for the next slot."""
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(self._next, now) + self._interval


def addresses_of(subnets: Iterable[str], limit: int = DEFAULT_MAX_ADDRESSES) -> list[str]:
    """The host addresses of the subnets, in order, without repeats.

    Raises:
        DiscoveryError: A subnet that does not parse, or more than ``limit`` addresses.
    """
    out: dict[str, None] = {}
    for text in subnets:
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise DiscoveryError(f"{text!r}: not a subnet ({exc})") from None
        if net.num_addresses > limit + 2:
            raise DiscoveryError(f"{text}: {net.num_addresses} addresses, more than the limit of {limit}")
        hosts = [net.network_address] if net.num_addresses == 1 else list(net.hosts())
        for a in hosts:
            out[str(a)] = None
            if len(out) > limit:
                raise DiscoveryError(f"more than {limit} addresses in {', '.join(subnets)}")
    return list(out)


@dataclass
class SweepStats:
    """Counters of a sweep."""

    addresses: int = 0
    icmp_answered: int = 0
    snmp_answered: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0


async def sweep(
    client: SnmpClient,
    addresses: Sequence[str],
    profiles: Sequence[ResolvedProfile],
    *,
    rate: float,
    concurrency: int,
    icmp_mode: IcmpMode = "off",
    timeout_s: float = 1.0,
    stats: SweepStats | None = None,
) -> list[Finding]:
    """Probe every address at most ``rate`` a second, ``concurrency`` at a time.

    Returns:
        The findings of the addresses that answered anything, in address order.
    """
    limit = RateLimit(rate)
    slots = asyncio.Semaphore(concurrency)
    stats = stats if stats is not None else SweepStats()
    stats.addresses = len(addresses)
    stats.started_at = time.monotonic()
    pinger = Pinger(privileged=icmp_mode == "privileged") if icmp_mode in ("unprivileged", "privileged") else None
    found: dict[str, Finding] = {}

    async def probe(address: str) -> None:
        async with slots:
            await limit.wait()
            echo: bool | None = None
            rtt: float | None = None
            if pinger is not None and icmp_mode in ("unprivileged", "privileged"):
                sample = await icmp_round(
                    address,
                    address,
                    mode=icmp_mode,
                    count=1,
                    interval_s=0.0,
                    timeout_s=timeout_s,
                    ts=time.time(),
                    pinger=pinger,
                )
                echo = sample.ok
                rtt = sample.rtt.avg if sample.ok and sample.rtt is not None else None
                stats.icmp_answered += bool(sample.ok)
            finding = Finding(address, icmp=echo, rtt_s=rtt)
            for resolved in profiles:
                got = await inspect(client, address, resolved, icmp=echo)
                if got.snmp_profile:
                    finding = replace(got, rtt_s=rtt)
                    stats.snmp_answered += 1
                    break
                client.forget(address, resolved.profile.port, resolved.name)  # a sweep must not keep dead targets
            if finding.answered:
                found[address] = finding

    try:
        async with asyncio.TaskGroup() as tg:
            for address in addresses:
                tg.create_task(probe(address), name=f"netmon.discover[{address}]")
    finally:
        if pinger is not None:
            pinger.close()
        stats.finished_at = time.monotonic()
    return [found[a] for a in addresses if a in found]


@dataclass
class Profiles:
    """The credential profiles a sweep may use, and those it may not (with why)."""

    usable: list[ResolvedProfile] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def sweep_profiles(
    profiles: Mapping[str, SnmpProfile], names: Sequence[str] | None, policy: SecurityPolicy, *, timeout_s: float
) -> Profiles:
    """Resolve the agent's SNMP profiles for a sweep: only ``names`` if given, those the
    agent's security policy refuses left out (and said), no retries and at most
    ``timeout_s`` (a dead address should cost one short request per profile)."""
    out = Profiles()
    for name in names or list(profiles):
        prof = profiles.get(name)
        if prof is None:
            out.refused.append(f"{name}: no such SNMP profile in the credentials file")
            continue
        refused = policy_violations(prof, policy)
        if refused:
            out.refused.append(f"{name}: refused by the agent's security policy: " + "; ".join(refused))
            continue
        try:
            secrets = {k: ref.resolve() for k in ("community", "auth_key", "priv_key") if (ref := getattr(prof, k))}
            quick = prof.model_copy(update={"retries": 0, "timeout_s": min(prof.timeout_s, timeout_s)})
            out.usable.append(resolve_profile(name, quick, secrets))
        except (ValueError, SnmpConfigError) as exc:
            out.refused.append(f"{name}: {exc}")
    return out
