"""Grafana's queries with a hot-hot pair: the same answers as with one collector.

Two collectors of a pair export the same series (they hold the same history). Here one
exposition (a scenario snapshot: a CPE down, Ba Tơ's router down and its communes
unreachable) is served on two ports; a real Prometheus scrapes both as a pair, another
scrapes one. Every query of the province, district and site boards must answer the same on
both — no series twice, no join broken by two copies of a device — apart from the
``instance`` label. The health board is about each collector and keeps them apart.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from netmon.collector.model import State
from netmon.config.loader import load_inventory
from netmon.exporters.grafana.dashboards import LANGUAGES, build
from netmon.exporters.prometheus import CONTENT_TYPE_TEXT, SnapshotCollector, render
from tests.services import Service, free_port, start_prometheus, wait_until
from tests.services_exporters import scenario_snapshot

ROOT = Path(__file__).resolve().parents[2]
VARIABLES = {"$district": "535", "$device": "c21013-cpe1", "$__rate_interval": "10s", "$__range": "1m"}


def _exposition() -> bytes:
    inv = load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")
    ba_to = inv.index.districts["535"]
    states = {"c21010-cpe1": State.DOWN, "d535-r1": State.DOWN}
    states |= {d.id: State.UNREACHABLE for c in ba_to.communes for d in c.devices}
    snap = scenario_snapshot(inv, time.time(), states=states, outage_counts={"c21010-cpe1": 1})
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(lambda: snap))
    return render(reg)


def _serve(body: bytes) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_TEXT)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, name=f"metrics-{port}", daemon=True).start()
    return server, port


def _config(targets: list[str]) -> str:
    return yaml.safe_dump(
        {
            "global": {"scrape_interval": "1s"},
            "scrape_configs": [{"job_name": "netmon", "static_configs": [{"targets": targets}]}],
        }
    )


def _query(prom: Service, expr: str, at: float) -> list[tuple[tuple[tuple[str, str], ...], str]]:
    url = f"{prom.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": at})
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.load(resp)
    assert body["status"] == "success", (expr, body)
    return sorted(
        (tuple(sorted((k, v) for k, v in r["metric"].items() if k != "instance")), r["value"][1])
        for r in body["data"]["result"]
    )


@pytest.fixture(scope="module")
def prometheus_pair_and_single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, Service]]:
    body = _exposition()
    servers = [_serve(body) for _ in range(2)]
    work = tmp_path_factory.mktemp("dashboards-pair")
    targets = [f"127.0.0.1:{port}" for _, port in servers]
    pair = start_prometheus(work / "pair", _config(targets))
    single = start_prometheus(work / "single", _config(targets[:1]))
    try:

        def scraped(prom: Service, targets: int) -> bool:
            # every target scraped a few times (rate() and increase() need two points)
            return len(_query(prom, "count_over_time(up[1m]) >= 4", time.time())) == targets

        wait_until(lambda: scraped(pair, 2) and scraped(single, 1), 60, "scrapes")
        yield pair, single
    finally:
        pair.stop()
        single.stop()
        for server, _ in servers:
            server.shutdown()


def test_every_network_query_answers_the_same_for_a_pair_as_for_one(
    prometheus_pair_and_single: tuple[Service, Service],
) -> None:
    pair, single = prometheus_pair_and_single
    at = time.time()
    checked = 0
    for lang in LANGUAGES:
        for name, board in build(lang).items():
            if "health" in name:
                continue
            for panel in board["panels"]:
                for target in panel["targets"]:
                    expr = target["expr"]
                    for var, value in VARIABLES.items():
                        expr = expr.replace(var, value)
                    one = _query(single, expr, at)
                    assert one, (panel["title"], expr)  # the scenario gives every query an answer
                    assert _query(pair, expr, at) == one, (name, panel["title"], expr)
                    checked += 1
    assert checked > 40
