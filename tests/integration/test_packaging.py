"""The package builds a wheel that carries its data, and the command answers."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_builds_and_carries_inventories_and_geography(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("netmon-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "config/data/divisions-2021.json.gz",
        "config/data/divisions-2025.json.gz",
        "config/quang-ngai-2021.yaml",
        "config/quang-ngai-2025.yaml",
        "netmon/cli.py",
        "agent/wire.py",
        "collector/model.py",
        "exporters/alerts/netmon-rules.yml",
        "exporters/alerts/alertmanager.yml",
        "exporters/grafana/dashboards/vi/netmon-province.json",
        "exporters/grafana/dashboards/en/netmon-province.json",
        "exporters/templates/report.html.j2",
        "collector/web/templates/base.html.j2",
        "collector/web/static/netmon.css",
        "netmon/demo/scenarios/default.yaml",
        "config/deploy/Containerfile",
    ):
        assert needed in names, needed
    assert not any(n.startswith("tests/") for n in names)


def test_every_subcommand_has_help() -> None:
    from netmon.cli import _HANDLERS

    for cmd in _HANDLERS:
        out = subprocess.run([sys.executable, "-m", "netmon", cmd, "--help"], capture_output=True, text=True, check=False)
        assert out.returncode == 0, (cmd, out.stderr)
        assert "usage: netmon " + cmd in out.stdout


def test_version() -> None:
    from netmon import __version__

    out = subprocess.run([sys.executable, "-m", "netmon", "--version"], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == f"netmon {__version__}"
