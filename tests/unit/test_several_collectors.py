"""Several collectors: ``agents`` partitions, the removed ``share_group``, the weights that combine them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.model import State
from netmon.collector.subscriber import topic_filters
from netmon.config import geography
from netmon.config.errors import ConfigError
from netmon.config.loader import load_collector_settings, load_inventory
from netmon.exporters.prometheus import WINDOW_LABEL, build_families
from tests.services_collectors import metric_value
from tests.services_exporters import scenario_snapshot
from tests.unit.test_engine import IV, T0, collector_settings, small_inventory


def render_families(families: list[Any]) -> str:
    return "".join(line for f in families for line in f.lines)


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text("collector_id: c1\ninventory: inv.yaml\n" + body)
    return path


@pytest.mark.parametrize("value", ["netmon", "null"])
def test_share_group_is_refused_naming_file_line_and_what_to_use(tmp_path: Path, value: str) -> None:
    path = _write(tmp_path, f"store: {{path: s.sqlite}}\nshare_group: {value}\n")
    with pytest.raises(ConfigError) as err:
        load_collector_settings(path)
    text = str(err.value)
    assert f"{path}:4: share_group: removed" in text
    assert "partition:" in text  # the partitioning that replaces it
    assert "collector_id" in text  # and the hot-hot pair


def test_check_config_refuses_share_group_with_exit_2(tmp_path: Path) -> None:
    path = _write(tmp_path, "share_group: netmon\n")
    out = subprocess.run(
        [sys.executable, "-m", "netmon", "check-config", str(path)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 2
    assert "c.yaml:3: share_group: removed" in out.stdout + out.stderr


def test_agents_partition_is_read_and_checked(tmp_path: Path) -> None:
    ok = load_collector_settings(_write(tmp_path, "partition: [d522, d523]\n"))
    assert ok.partition == ("d522", "d523")
    assert load_collector_settings(_write(tmp_path, "")).partition == ()
    with pytest.raises(ConfigError) as err:
        load_collector_settings(_write(tmp_path, "partition:\n  - d522\n  - 'd5/+'\n"))
    assert "c.yaml:5: partition[1]:" in str(err.value)


@pytest.mark.parametrize(
    ("agents", "expected"),
    [
        ((), ["p/agents/+/samples", "p/agents/+/status"]),
        (("a1",), ["p/agents/a1/samples", "p/agents/a1/status"]),
        (("a1", "a2"), ["p/agents/a1/samples", "p/agents/a1/status", "p/agents/a2/samples", "p/agents/a2/status"]),
    ],
)
def test_topic_filters_cover_exactly_the_listed_agents(agents: tuple[str, ...], expected: list[str]) -> None:
    assert topic_filters("p", agents) == expected


def test_observed_seconds_weigh_each_units_availability() -> None:
    """``*_availability_observed_seconds`` is up + down + unreachable of the same window, so
    that partitions' ratios combine (exporters/alerts/netmon-combine.yml)."""
    inv = load_inventory(Path(geography.__file__).parent / "quang-ngai-2021.yaml")
    snap = scenario_snapshot(inv, 1_790_000_000.0, states={"d535-r1": State.DOWN})
    text = render_families(build_families(snap))
    for unit, ident in (("province", inv.province.code), ("district", "535"), ("district", "522")):
        for w, label in WINDOW_LABEL.items():
            a = snap.availability[(unit, ident, w)]
            key = "province" if unit == "province" else "district"
            observed = metric_value(
                text, f"netmon_{unit}_availability_observed_seconds", **{key: ident, "window": label}
            )
            ratio = metric_value(text, f"netmon_{unit}_availability_ratio", **{key: ident, "window": label})
            assert observed == a.up_s + a.down_s + a.unreachable_s
            assert ratio is not None
            assert observed is not None
            assert abs(ratio * observed - a.up_s) < 1e-6 * w


def _down_cause(order: list[int]) -> str:
    """The cause stored for CPE ``a``'s DOWN when rounds 0..5 arrive in ``order`` (it fails
    rounds 1..4 with "timeout"; the others answer throughout)."""
    engine = Engine(small_inventory(), collector_settings(), clock=lambda: T0)
    for seq, k in enumerate(order):
        t = T0 + k * IV
        samples = [
            wire.Sample(
                device=d, probe="snmp", ts=t, ok=not (d == "a" and 1 <= k <= 4), reason="" if d != "a" else "timeout"
            )
            for d in ("core", "d1", "a", "b", "b2")
        ]
        engine.apply_batch(wire.SampleBatch(v=1, agent="ag", seq=seq + 1, sent_at=t, samples=samples), t)
    downs = [tr for tr in engine.transitions("a", T0, T0 + 10 * IV) if tr.new is State.DOWN]
    assert len(downs) == 1
    return downs[0].cause


def test_a_replayed_down_keeps_the_probes_reason() -> None:
    # Two collectors fed the same batches store the same history, cause texts included: a
    # device re-played (a sample that came after its round was closed, e.g. by one
    # collector's own tick) names the probe's reason, as the live path did.
    in_order = _down_cause([0, 1, 2, 3, 4, 5])
    assert in_order == "3 failed rounds: timeout"
    assert _down_cause([0, 1, 3, 2, 4, 5]) == in_order  # round 2's batch came late
