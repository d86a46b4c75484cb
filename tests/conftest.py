"""Shared fixtures: real services on free ports, stopped after the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[services.Service]:
    """A fresh Mosquitto on a free port, anonymous access, persistence on."""
    svc = services.start_mosquitto(tmp_path / "mosquitto")
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Service]:
    """net-snmp snmpd with a v2c community and a SHA/AES authPriv v3 user."""
    svc = services.start_snmpd(tmp_path_factory.mktemp("snmpd"))
    yield svc
    svc.stop()
