"""The Grafana dashboards and provisioning files: generated from one source, consistent."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from netmon.exporters.grafana.dashboards import DATASOURCE_UID, LANGUAGES, build

GRAFANA = Path(__file__).resolve().parents[2] / "exporters" / "grafana"


def test_committed_json_is_what_the_source_generates() -> None:
    """Regenerate with ``python -m exporters.grafana.dashboards --write``."""
    for lang in LANGUAGES:
        files = {
            p.name: json.loads(p.read_text(encoding="utf-8")) for p in (GRAFANA / "dashboards" / lang).glob("*.json")
        }
        assert files == build(lang), lang


def test_dashboards_are_well_formed() -> None:
    uids = set()
    for lang in LANGUAGES:
        for board in build(lang).values():
            assert board["uid"] not in uids
            uids.add(board["uid"])
            assert len(board["uid"]) <= 40  # Grafana's limit
            ids = [p["id"] for p in board["panels"]]
            assert len(ids) == len(set(ids))
            cells: set[tuple[int, int]] = set()
            for p in board["panels"]:
                g = p["gridPos"]
                assert g["x"] >= 0
                assert g["x"] + g["w"] <= 24
                area = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
                assert not area & cells, (board["uid"], p["title"])  # no overlapping panels
                cells |= area
                assert p["datasource"]["uid"] == DATASOURCE_UID
                assert all(t["datasource"]["uid"] == DATASOURCE_UID for t in p["targets"])
                refs = [t["refId"] for t in p["targets"]]
                assert len(refs) == len(set(refs))


def test_vietnamese_and_english_titles() -> None:
    vi = [p["title"] for b in build("vi").values() for p in b["panels"]]
    en = [p["title"] for b in build("en").values() for p in b["panels"]]
    assert len(vi) == len(en)
    assert all(a != b for a, b in zip(vi, en, strict=True) if a not in ("netmon",))
    assert "Tỷ lệ xã kết nối" in vi
    assert "Commune coverage" in en


def test_provisioning_files() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "netmon.yaml").read_text(encoding="utf-8"))
    assert [d["uid"] for d in ds["datasources"]] == [DATASOURCE_UID]
    assert ds["datasources"][0]["type"] == "prometheus"
    boards = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "netmon.yaml").read_text(encoding="utf-8"))
    paths = [p["options"]["path"] for p in boards["providers"]]
    # One provider per language, each pointing at a directory named like the shipped one.
    assert sorted(Path(p).name for p in paths) == sorted(LANGUAGES)
    assert all((GRAFANA / "dashboards" / Path(p).name).is_dir() for p in paths)
