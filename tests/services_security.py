"""A throwaway PKI and a Mosquitto started with netmon's shipped security configuration.

The broker reads ``config/deploy/mosquitto/conf.d/netmon.conf`` and ``.../acl`` as shipped;
only the file locations under ``/etc/mosquitto/netmon/`` and the listener's port and
address are rewritten to the test's directory and a free loopback port.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import subprocess
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from netmon.agent.outbox import Outbox
from netmon.agent.publisher import Publisher
from netmon.config.secrets import Secret
from netmon.config.settings import BrokerSettings, OutboxSettings, TlsSettings
from tests import services

DEPLOY = Path(__file__).resolve().parent.parent / "config" / "deploy"
MOSQUITTO_CONF = DEPLOY / "mosquitto" / "conf.d" / "netmon.conf"
MOSQUITTO_ACL = DEPLOY / "mosquitto" / "acl"
SHIPPED_DIR = "/etc/mosquitto/netmon/"


@dataclass(frozen=True)
class Pki:
    """Files of a test PKI: the netmon CA, the broker's certificate, client certificates
    signed by the CA, and one client certificate signed by a rogue CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    clients: Mapping[str, tuple[Path, Path]]
    rogue_client: tuple[Path, Path]


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path.with_suffix(".crt"), path.with_suffix(".key")


def _ca(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    cn: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, *, server: bool
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = _key()
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(ca_key, hashes.SHA256()), key


def make_pki(directory: Path, clients: tuple[str, ...]) -> Pki:
    """Generate a CA, a broker certificate for 127.0.0.1/localhost and client certificates."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _ca("netmon test CA")
    (directory / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    server_cert, server_key = _write(directory / "server", *_leaf("localhost", ca, ca_key, server=True))
    issued = {name: _write(directory / f"client-{name}", *_leaf(name, ca, ca_key, server=False)) for name in clients}
    rogue_ca, rogue_key = _ca("rogue CA")
    rogue = _write(directory / "rogue-client", *_leaf(clients[0], rogue_ca, rogue_key, server=False))
    return Pki(directory / "ca.crt", server_cert, server_key, issued, rogue)


def write_password_file(path: Path, users: Mapping[str, str]) -> Path:
    """A Mosquitto password file made by ``mosquitto_passwd -U`` (hashed, as in production)."""
    path.write_text("".join(f"{u}:{p}\n" for u, p in users.items()))
    subprocess.run([services.require("mosquitto_passwd"), "-U", str(path)], check=True, capture_output=True)
    return path


def shipped_listener(etc: Path, port: int) -> str:
    """The shipped netmon.conf, with its files under ``etc`` and its listener on 127.0.0.1:port."""
    text = MOSQUITTO_CONF.read_text().replace(SHIPPED_DIR, f"{etc}/")
    lines = []
    for line in text.splitlines():
        is_listener = line.strip().startswith("listener ")
        lines.append(f"listener {port} 127.0.0.1" if is_listener else line)
    return "\n".join(lines) + "\n"


def start_secure_mosquitto(workdir: Path, users: Mapping[str, str], pki: Pki) -> services.Service:
    """Mosquitto with the shipped TLS listener, password file and ACL."""
    etc = workdir / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    for src, name in (
        (pki.ca, "ca.crt"),
        (pki.server_cert, "server.crt"),
        (pki.server_key, "server.key"),
        (MOSQUITTO_ACL, "acl"),
    ):
        (etc / name).write_bytes(src.read_bytes())
    write_password_file(etc / "passwd", users)
    port = services.free_port()
    return services.start_mosquitto(workdir, port, listener=shipped_listener(etc, port))


def client_broker_settings(pki: Pki, port: int, user: str) -> BrokerSettings:
    """netmon's broker settings for ``user`` on the secured broker: TLS with its certificate."""
    cert, key = pki.clients[user]
    return BrokerSettings(
        url=f"mqtts://127.0.0.1:{port}",
        username=user,
        tls=TlsSettings(ca_file=str(pki.ca), cert_file=str(cert), key_file=str(key)),
        reconnect_min_s=0.05,
        reconnect_max_s=0.5,
    )


@contextlib.asynccontextmanager
async def running_agent(
    broker: BrokerSettings, name: str, password: str, outbox_path: Path, *, drain_s: float
) -> AsyncIterator[tuple[Outbox, Publisher]]:
    """The real agent path (outbox and publisher) logged in as ``name``; on exit, waits
    until the broker acknowledged every batch (or fails), then stops."""
    outbox = Outbox(outbox_path, OutboxSettings(), name)
    pub = Publisher(broker, name, outbox, OutboxSettings(), username=name, password=Secret(password))
    task = asyncio.create_task(pub.run(), name=f"agent[{name}]")
    try:
        yield outbox, pub
        if not await pub.drain(drain_s):
            raise AssertionError(f"{name}: the broker did not acknowledge every batch, {outbox.depth} left")
    finally:
        pub.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        outbox.close()
