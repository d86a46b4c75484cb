"""SNMPv3 against real snmpd: the USM algorithm matrix, failures as data, and recovery
after the agent restarts (engineBoots up, engineTime reset; or a new engine ID)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from netmon.agent.snmp import ResolvedProfile, SnmpClient, resolve_profile
from netmon.config.credentials import AuthProtocol, PrivProtocol, SnmpProfile
from netmon.config.secrets import Secret, SecretRef
from tests import services
from tests.services_snmp import start_snmpd_persistent

REF = SecretRef(value="unused")  # the secrets are passed resolved below

# (user, snmpd auth, our auth, snmpd priv, our priv); Debian's net-snmp has no 3DES.
MATRIX = [
    ("u-sha-aes", "SHA", AuthProtocol.SHA, "AES", PrivProtocol.AES128),
    ("u-sha224-aes", "SHA-224", AuthProtocol.SHA224, "AES", PrivProtocol.AES128),
    ("u-sha256-aes192", "SHA-256", AuthProtocol.SHA256, "AES-192", PrivProtocol.AES192),
    ("u-sha384-aes256", "SHA-384", AuthProtocol.SHA384, "AES-256", PrivProtocol.AES256),
    ("u-sha512-aes", "SHA-512", AuthProtocol.SHA512, "AES", PrivProtocol.AES128),
    ("u-md5-des", "MD5", AuthProtocol.MD5, "DES", PrivProtocol.DES),  # last: DES is pysnmp's
]
AUTH, PRIV = "auth-secret-1", "priv-secret-1"


def v3(
    user: str, port: int, auth: AuthProtocol, priv: PrivProtocol | None, *, auth_key: str = AUTH, priv_key: str = PRIV
) -> ResolvedProfile:
    prof = SnmpProfile(
        version="3",
        user=user,
        auth_protocol=auth,
        auth_key=REF,
        priv_protocol=priv,
        priv_key=REF if priv else None,
        port=port,
        timeout_s=0.4,
        retries=0,
    )
    secrets = {"auth_key": Secret(auth_key)} | ({"priv_key": Secret(priv_key)} if priv else {})
    return resolve_profile(user, prof, secrets)


@pytest.fixture(scope="module")
def matrix_snmpd(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    users = [(u, sa, AUTH, sp, PRIV) for u, sa, _a, sp, _p in MATRIX]
    svc = services.start_snmpd(tmp_path_factory.mktemp("snmpd-v3"), v3_users=users)
    yield svc
    svc.stop()


@pytest.mark.parametrize("fast", [True, False], ids=["own-usm", "pysnmp"])
async def test_usm_matrix_auth_and_priv_algorithms(matrix_snmpd: services.Service, fast: bool) -> None:
    """Every algorithm pair against snmpd; with ``fast`` only DES goes through pysnmp."""
    client = SnmpClient(fast=fast)
    try:
        for user, _sa, auth, _sp, priv in MATRIX:
            res = await client.poll("127.0.0.1", v3(user, matrix_snmpd.port, auth, priv))
            assert res.ok, (user, res.reason, res.detail)
            assert res.interfaces, user
            assert client.uses_pysnmp is (not fast or priv == PrivProtocol.DES), user  # DES comes last
    finally:
        client.close()


@pytest.mark.parametrize("fast", [True, False], ids=["own-usm", "pysnmp"])
async def test_wrong_keys_and_unknown_user_are_data(matrix_snmpd: services.Service, fast: bool) -> None:
    client = SnmpClient(fast=fast)
    port = matrix_snmpd.port
    try:
        bad_auth = await client.poll(
            "127.0.0.1", v3("u-sha-aes", port, AuthProtocol.SHA, PrivProtocol.AES128, auth_key="wrong-auth-1")
        )
        unknown = await client.poll("127.0.0.1", v3("nobody", port, AuthProtocol.SHA, PrivProtocol.AES128))
        wrong_algo = await client.poll("127.0.0.1", v3("u-sha-aes", port, AuthProtocol.SHA256, PrivProtocol.AES128))
    finally:
        client.close()
    assert (bad_auth.ok, bad_auth.reason) == (False, "auth")
    assert (unknown.ok, unknown.reason) == (False, "unknown_user")
    assert (wrong_algo.ok, wrong_algo.reason) == (False, "auth")


@pytest.mark.parametrize("fast", [True, False], ids=["own-usm", "pysnmp"])
async def test_recovers_after_restart_with_new_boots(tmp_path: Path, fast: bool) -> None:
    """A restart keeps the engine ID and raises engineBoots: the next poll must succeed."""
    port = services.free_port(socket.SOCK_DGRAM)
    svc = start_snmpd_persistent(tmp_path, port)
    client = SnmpClient(fast=fast)
    prof = v3(
        services.SNMP_V3_USER,
        port,
        AuthProtocol.SHA,
        PrivProtocol.AES128,
        auth_key=services.SNMP_V3_AUTH,
        priv_key=services.SNMP_V3_PRIV,
    )
    try:
        before = await client.poll("127.0.0.1", prof, interfaces=False)
        assert before.ok, before
        for _ in range(2):  # two restarts: boots 1 -> 2 -> 3
            svc.stop()
            svc = start_snmpd_persistent(tmp_path, port)
            after = await client.poll("127.0.0.1", prof)
            assert after.ok, (after.reason, after.detail)
            assert after.sys_uptime_cs is not None
            assert before.sys_uptime_cs is not None
            assert after.sys_uptime_cs < before.sys_uptime_cs + 3000  # a fresh agent
            assert after.interfaces
    finally:
        client.close()
        svc.stop()


@pytest.mark.parametrize("fast", [True, False], ids=["own-usm", "pysnmp"])
async def test_recovers_when_engine_id_changes(tmp_path: Path, fast: bool) -> None:
    """A re-installed agent comes back with a new engine ID (``-C``: nothing persisted);
    pysnmp would drop its reports for 300 s, the client rediscovers at once."""
    port = services.free_port(socket.SOCK_DGRAM)
    svc = services.start_snmpd(tmp_path, port)
    client = SnmpClient(fast=fast)
    prof = v3(
        services.SNMP_V3_USER,
        port,
        AuthProtocol.SHA,
        PrivProtocol.AES128,
        auth_key=services.SNMP_V3_AUTH,
        priv_key=services.SNMP_V3_PRIV,
    )
    try:
        assert (await client.poll("127.0.0.1", prof, interfaces=False)).ok
        svc.stop()
        svc = services.start_snmpd(tmp_path, port)
        after = await client.poll("127.0.0.1", prof, interfaces=False)
        assert after.ok, (after.reason, after.detail)
        assert client.resyncs == 1
        assert client.uses_pysnmp is not fast
    finally:
        client.close()
        svc.stop()
