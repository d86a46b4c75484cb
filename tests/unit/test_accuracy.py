"""Accuracy against ground truth: 30 simulated days on the real Quảng Ngãi inventory.

A known schedule — device outages, a district uplink cut taking its communes with it,
20 % packet loss on every link, an agent silent (dead, last will sent) for an hour — is
turned into the sample stream agents would have sent (:mod:`collector.truth`), run
through the engine, and the results compared with the truth:

* availability of every device, every district and the province within 0.1 percentage
  point; time-weighted coverage likewise;
* every true outage longer than ``down_after + 1`` intervals detected;
* no false outage from loss alone (every detected outage overlaps a true failure);
* the communes under the cut uplink UNREACHABLE with the district router as root cause.

The default run polls every 10 minutes (fast); the ``slow`` variant every minute.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest

from netmon.agent import wire
from netmon.collector import availability as av
from netmon.collector.engine import Engine
from netmon.collector.model import State
from netmon.collector.truth import Failure, Schedule, Silence, rounds, true_timeline
from netmon.config.inventory import Inventory
from netmon.config.loader import load_inventory
from netmon.config.settings import CollectorSettings, StateSettings

DAY = 86400.0
START = 1_790_000_000.0
END = START + 30 * DAY
CUT_DISTRICT = "525"  # its router's uplink is cut for three hours


@dataclass
class Run:
    inv: Inventory
    schedule: Schedule
    engine: Engine
    interval: float


def build_schedule(inv: Inventory, interval: float, seed: int = 7) -> Schedule:
    rng = random.Random(seed)
    cpes = sorted(d for d in inv.index.devices if d.startswith("c"))
    failures: list[Failure] = []
    for d in rng.sample(cpes, 25):
        t = START + rng.uniform(DAY, 28 * DAY)
        failures.append(Failure(d, t, t + rng.choice([5 * interval, 1800.0, 7200.0, 5 * 3600.0, 2 * DAY / 3])))
    for d in rng.sample(cpes, 5):  # short blips, below detection: they must not matter much
        t = START + rng.uniform(DAY, 28 * DAY)
        failures.append(Failure(d, t, t + interval * 0.8))
    cut = START + 12.3 * DAY
    failures.append(Failure(f"d{CUT_DISTRICT}-r1", cut, cut + 3 * 3600))
    silence = START + 20.1 * DAY
    return Schedule(
        start=START,
        end=END,
        interval_s=interval,
        failures=tuple(failures),
        silences=(Silence(silence, silence + 3600),),
        loss=0.2,
        seed=seed,
    )


def simulate(interval: float) -> Run:
    inv = load_inventory("config/quang-ngai-2021.yaml")
    schedule = build_schedule(inv, interval)
    clock = [START]
    settings = CollectorSettings(
        inventory="-", state=StateSettings(default_interval_s=interval, reorder_window_s=2 * interval)
    )
    # Thirty days go by in seconds: no latency charts, and measurements saved once a day.
    engine = Engine(inv, settings, None, clock=lambda: clock[0], history_step_s=math.inf, checkpoint_s=DAY)
    silence = schedule.silences[0]
    said_offline = False
    for batch in rounds(schedule, inv, agent="qn-agent"):
        t = batch.sent_at
        if not said_offline and t >= silence.start:
            engine.agent_status(
                wire.AgentStatus(v=1, agent="qn-agent", state="offline", ts=silence.start), silence.start
            )
            said_offline = True
        clock[0] = t
        engine.apply_batch(batch, t)
        engine.tick(t)
    clock[0] = END
    engine.tick(END)
    return Run(inv, schedule, engine, interval)


@pytest.fixture(scope="module")
def run() -> Run:
    return simulate(600.0)


def truth_availability(r: Run, device: str):
    return av.device_availability(true_timeline(r.schedule, r.inv, device), START, END)


def check_availability(r: Run) -> None:
    worst = 0.0
    for d in r.inv.index.devices:
        got = r.engine.availability("device", d, START, END).ratio
        want = truth_availability(r, d).ratio
        assert got is not None
        assert want is not None
        worst = max(worst, abs(got - want))
    assert worst <= 0.001, f"worst device availability error {worst:.5f}"
    for code, communes in ((d, [c.code for c in r.inv.index.districts[d].communes]) for d in r.inv.index.districts):
        truth = av.total(
            av.device_availability(
                av.commune_timeline([true_timeline(r.schedule, r.inv, dev) for dev in (f"c{c}-cpe1",)]), START, END
            )
            for c in communes
        )
        got = r.engine.availability("district", code, START, END)
        assert got.ratio == pytest.approx(truth.ratio, abs=0.001), code
    prov = r.engine.availability("province", r.inv.province.code, START, END)
    assert prov.unknown_s > 0  # the silent hour (and the first round) are beside the ratio
    assert prov.down_s + prov.unreachable_s > 0


def check_detection(r: Run) -> None:
    down_after = 3
    outages = r.engine.outages(START, END)
    by_dev: dict[str, list] = {}
    for o in outages:
        by_dev.setdefault(o.device, []).append(o)
    for f in r.schedule.failures:
        if f.end - f.start <= (down_after + 1) * r.interval:
            continue
        found = [o for o in by_dev.get(f.device, []) if o.start < f.end and (o.end or END) > f.start]
        assert found, f"missed outage of {f.device} at {f.start - START:.0f} s for {f.end - f.start:.0f} s"
        assert found[0].state == State.DOWN
    # No false outage: each detected one overlaps a true failure of the device or an ancestor.
    for o in outages:
        path = (o.device, *r.inv.index.ancestors(o.device))
        assert any(
            f.device in path and o.start < f.end + r.interval and (o.end or END) > f.start for f in r.schedule.failures
        ), f"false outage {o}"


def check_attribution(r: Run) -> None:
    router = f"d{CUT_DISTRICT}-r1"
    cut = next(f for f in r.schedule.failures if f.device == router)
    communes = [c.code for c in r.inv.index.districts[CUT_DISTRICT].communes]
    assert len(communes) > 5
    for c in communes:
        outs = [o for o in r.engine.outages(cut.start, cut.end, commune=c) if o.start < cut.end]
        assert outs, c
        assert all(o.state == State.UNREACHABLE and o.root_cause == router for o in outs), outs
    assert len(r.engine.outages(cut.start, cut.end, device=router)) == 1
    # Coverage over the cut: those communes were not connected, exactly as long as the truth says.
    got = r.engine.time_weighted_coverage("district", CUT_DISTRICT, cut.start - 3600, cut.end + 3600)
    assert got == pytest.approx(3600 * 2 / (3 * 3600 + 3600 * 2), abs=2 * r.interval / (5 * 3600))


def test_availability_within_a_tenth_of_a_point(run: Run) -> None:
    check_availability(run)


def test_every_long_outage_detected_and_none_false(run: Run) -> None:
    check_detection(run)


def test_cut_uplink_attributed(run: Run) -> None:
    check_attribution(run)


def test_province_coverage_matches_truth(run: Run) -> None:
    r = run
    communes = list(r.inv.index.communes)
    truth = sum(
        av.device_availability(true_timeline(r.schedule, r.inv, f"c{c}-cpe1"), START, END).up_s for c in communes
    ) / (len(communes) * (END - START))
    got = r.engine.time_weighted_coverage("province", r.inv.province.code, START, END)
    # The engine counts the silent hour as not connected (unknown): allow for it.
    assert got == pytest.approx(truth, abs=0.001 + 3600 / (END - START))
    assert got < truth


@pytest.mark.slow
def test_full_resolution_thirty_days() -> None:
    r = simulate(60.0)
    check_availability(r)
    check_detection(r)
    check_attribution(r)
