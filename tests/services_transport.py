"""Launch helpers for the transport tests: a TLS / password-protected Mosquitto, test certificates."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests import services


@dataclass(frozen=True)
class Pki:
    """A throw-away CA, a server certificate for 127.0.0.1 and a client certificate."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([services.require("openssl"), *args], cwd=cwd, check=True, capture_output=True)


def make_pki(workdir: Path, name: str = "ca") -> Pki:
    """Generate a CA and server/client certificates (EC P-256, short-lived) with openssl."""
    workdir.mkdir(parents=True, exist_ok=True)
    w = workdir
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}.key", cwd=w)
    _openssl(
        "req", "-x509", "-new", "-key", f"{name}.key", "-subj", f"/CN=netmon test {name}", "-days", "2",
        "-out", f"{name}.pem", cwd=w,
    )  # fmt: skip
    for who, ext in (
        ("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f"{name}-{who}.key", cwd=w)
        _openssl("req", "-new", "-key", f"{name}-{who}.key", "-subj", f"/CN={who}", "-out", f"{name}-{who}.csr", cwd=w)
        (w / f"{name}-{who}.ext").write_text(ext + "\n")
        _openssl(
            "x509", "-req", "-in", f"{name}-{who}.csr", "-CA", f"{name}.pem", "-CAkey", f"{name}.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}-{who}.ext", "-out", f"{name}-{who}.pem", cwd=w,
        )  # fmt: skip
    return Pki(w / f"{name}.pem", w / f"{name}-server.pem", w / f"{name}-server.key", w / f"{name}-client.pem",
               w / f"{name}-client.key")  # fmt: skip


def start_tls_mosquitto(workdir: Path, pki: Pki, *, require_client_cert: bool = False) -> services.Service:
    """Mosquitto with only a TLS listener on a free port (anonymous allowed)."""
    port = services.free_port()
    listener = (
        f"listener {port} 127.0.0.1\nallow_anonymous true\n"
        f"cafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
        f"require_certificate {'true' if require_client_cert else 'false'}\n"
    )
    return services.start_mosquitto(workdir, port=port, listener=listener)


def start_password_mosquitto(workdir: Path, users: dict[str, str]) -> services.Service:
    """Mosquitto that requires a username and password (no anonymous access)."""
    workdir.mkdir(parents=True, exist_ok=True)
    pwfile = workdir / "passwd"
    pwfile.write_text("")
    for user, password in users.items():
        subprocess.run(
            [services.require("mosquitto_passwd"), "-b", str(pwfile), user, password], check=True, capture_output=True
        )
    port = services.free_port()
    listener = f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {pwfile}\n"
    return services.start_mosquitto(workdir, port=port, listener=listener)
