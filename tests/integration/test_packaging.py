"""The package builds a wheel that carries its data, and the command answers."""

from __future__ import annotations

import os
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from tests import services

ROOT = Path(__file__).resolve().parents[2]
#: Top-level names that other distributions on the package index really ship.
GENERIC = ("config", "agent", "collector", "exporters")
_NOT_SOURCES = (
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".hypothesis",
    "test-artifacts",
)


def test_wheel_builds_and_carries_inventories_and_geography(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "netmon/config/data/divisions-2021.json.gz",
        "netmon/config/data/divisions-2025.json.gz",
        "netmon/config/data/reform-2025.json.gz",
        "netmon/config/quang-ngai-2021.yaml",
        "netmon/config/quang-ngai-2025.yaml",
        "netmon/cli.py",
        "netmon/agent/wire.py",
        "netmon/collector/model.py",
        "netmon/exporters/alerts/netmon-rules.yml",
        "netmon/exporters/alerts/alertmanager.yml",
        "netmon/exporters/grafana/dashboards/vi/netmon-province.json",
        "netmon/exporters/grafana/dashboards/en/netmon-province.json",
        "netmon/exporters/templates/report.html.j2",
        "netmon/collector/web/templates/base.html.j2",
        "netmon/collector/web/static/netmon.css",
        "netmon/demo/scenarios/default.yaml",
        "netmon/config/deploy/Containerfile",
    ):
        assert needed in names, needed
    # Nothing but netmon and its metadata at the top of the wheel.
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"netmon"}, tops


def _build(src: Path, out: Path, name: str) -> Path:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = out.glob(f"{name}-*.whl")
    return wheel


def _wheel(out: Path) -> Path:
    # From a copy of the sources: a checkout's build/ folder keeps what older layouts built.
    src = out / "netmon-src"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(*_NOT_SOURCES))
    return _build(src, out, "netmon")


def _squatter(out: Path) -> Path:
    """A distribution that ships the generic top-level packages netmon must not claim."""
    src = out / "squatter-src"
    for name in GENERIC:
        (src / name).mkdir(parents=True)
        (src / name / "__init__.py").write_text(f"OWNER = 'squatter'\nNAME = {name!r}\n")
    (src / "pyproject.toml").write_text(
        "[build-system]\nrequires = ['setuptools']\nbuild-backend = 'setuptools.build_meta'\n"
        "[project]\nname = 'squatter'\nversion = '1.0'\n"
        f"[tool.setuptools]\npackages = {list(GENERIC)!r}\n"
    )
    return _build(src, out, "squatter")


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with netmon's wheel installed beside a distribution that ships top-level
    ``config``, ``agent``, ``collector`` and ``exporters``. netmon's dependencies come from
    this environment's site-packages through a path file (no network), not netmon itself."""
    tmp = tmp_path_factory.mktemp("wheel")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Plain path lines: the editable install's own path hooks in this site-packages are not run.
    deps = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if Path(p).is_dir()]
    (Path(purelib) / "deps.pth").write_text("\n".join(deps) + "\n")
    for wheel in (_squatter(tmp), _wheel(tmp)):
        done = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    return venv


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        [str(venv / "bin" / "netmon"), *args], cwd=cwd, capture_output=True, text=True, check=False, env=env
    )


def test_installed_wheel_coexists_with_generic_top_level_packages(clean_venv: Path, tmp_path: Path) -> None:
    from netmon import __version__

    # A working directory with a config.py of its own must not shadow netmon's modules.
    (tmp_path / "config.py").write_text("raise SystemExit('the working directory config.py was imported')\n")
    out = _run(clean_venv, tmp_path, "--version")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"netmon {__version__}"
    # The installed netmon is the wheel's, not this checkout's.
    where = subprocess.run(
        [
            str(clean_venv / "bin" / "python"),
            "-c",
            "import netmon.config, config; print(netmon.config.__file__, config.OWNER)",
        ],
        cwd=ROOT / "tests",
        capture_output=True,
        text=True,
        check=False,
    )
    assert where.returncode == 0, where.stderr
    path, owner = where.stdout.split()
    assert Path(path).is_relative_to(clean_venv)
    assert owner == "squatter"
    for name in ("quang-ngai-2021.yaml", "agent.example.yaml"):
        (tmp_path / name).write_bytes((ROOT / "config" / name).read_bytes())
    checked = _run(clean_venv, tmp_path, "check-config", "quang-ngai-2021.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_installed_wheel_runs_the_collector(clean_venv: Path, tmp_path: Path, mosquitto: services.Service) -> None:
    (tmp_path / "config.py").write_text("raise SystemExit('the working directory config.py was imported')\n")
    (tmp_path / "inventory.yaml").write_bytes((ROOT / "config" / "quang-ngai-2021.yaml").read_bytes())
    port = services.free_port()
    (tmp_path / "collector.yaml").write_text(
        yaml.safe_dump(
            {
                "inventory": "inventory.yaml",
                "broker": {"url": f"mqtt://127.0.0.1:{mosquitto.port}"},
                "store": {"path": "store.sqlite"},
                "http": {"listen": f"127.0.0.1:{port}"},
            }
        )
    )
    log = tmp_path / "collector.log"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [str(clean_venv / "bin" / "netmon"), "collector", "-c", "collector.yaml"],
            cwd=tmp_path,
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        services.wait_until(
            lambda: services.http_ok(f"http://127.0.0.1:{port}/api/v1/overview"), 60, "collector", proc, log
        )
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail("the collector did not stop within 60 s of SIGTERM:\n" + log.read_text()[-3000:])
        assert code == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_every_subcommand_has_help() -> None:
    from netmon.cli import _HANDLERS

    for cmd in _HANDLERS:
        out = subprocess.run(
            [sys.executable, "-m", "netmon", cmd, "--help"], capture_output=True, text=True, check=False
        )
        assert out.returncode == 0, (cmd, out.stderr)
        assert "usage: netmon " + cmd in out.stdout


def test_version() -> None:
    from netmon import __version__

    out = subprocess.run([sys.executable, "-m", "netmon", "--version"], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == f"netmon {__version__}"
