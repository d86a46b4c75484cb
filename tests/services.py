"""Real services for the integration tests, started on free loopback ports.

Each launcher starts the real program (Mosquitto, net-snmp snmpd, Prometheus,
VictoriaMetrics) in a temporary directory, waits until it answers (an event, not a
sleep), and stops it on ``stop()``. A missing program is a failure, never a skip: in CI
``./dev test`` installs them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 right now (TCP by default, or UDP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def require(program: str) -> str:
    """Path of a program the test needs; fail (not skip) when it is missing."""
    path = shutil.which(program) or next(
        (p for p in (f"/usr/sbin/{program}", f"/usr/bin/{program}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        raise RuntimeError(f"{program} is not installed: run ./dev test, which installs it")
    return path


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Poll ``check`` until true; fail with the service's log when it dies or times out."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail}")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(delay)  # polling a process we do not control: there is no event to await
        delay = min(delay * 2, 0.2)
    tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    raise TimeoutError(f"{what} did not come up in {timeout}s:\n{tail}")


def tcp_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port."""
    with socket.create_connection((host, port), timeout=0.5):
        return True


def http_ok(url: str) -> bool:
    """Whether a GET on url answers 200."""
    with urllib.request.urlopen(url, timeout=2) as resp:
        return bool(resp.status == 200)


@dataclass
class Service:
    """A running service process."""

    name: str
    argv: list[str]
    workdir: Path
    port: int
    env: dict[str, str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / f"{self.name}.log"

    def start(self, ready: Callable[[], bool], timeout: float = 30.0) -> Service:
        """Start the process and wait until ``ready``."""
        fh = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env={**os.environ, **(self.env or {})},
            start_new_session=True,
        )
        fh.close()
        wait_until(ready, timeout, self.name, self.proc, self.log)
        return self

    def kill(self) -> None:
        """SIGKILL: the crash case."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def url(self) -> str:
        """http://127.0.0.1:port"""
        return f"http://127.0.0.1:{self.port}"


def start_mosquitto(
    workdir: Path, port: int | None = None, extra_conf: str = "", listener: str | None = None
) -> Service:
    """A Mosquitto broker on 127.0.0.1; anonymous allowed unless ``extra_conf``/``listener`` say otherwise."""
    exe = require("mosquitto")
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / f"mosquitto-{port}.conf"
    conf.write_text(
        "user root\n"
        "persistence true\n"
        f"persistence_location {workdir}/\n"
        f"persistence_file mosquitto-{port}.db\n"
        "autosave_interval 1\n"
        "log_dest stdout\n"
        "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        "max_queued_messages 100000\n"
        + (listener if listener is not None else f"listener {port} 127.0.0.1\nallow_anonymous true\n")
        + extra_conf
    )
    svc = Service("mosquitto", [exe, "-c", str(conf)], workdir, port)
    return svc.start(lambda: tcp_open(port))


SNMP_V3_USER = "netmon"
SNMP_V3_AUTH = "authpass-2026"
SNMP_V3_PRIV = "privpass-2026"
SNMP_COMMUNITY = "netmon-ro"


def snmp_answers(port: int, community: str = SNMP_COMMUNITY, host: str = "127.0.0.1") -> bool:
    """Whether an SNMP agent answers a v2c GET of sysUpTime on host:port."""
    out = subprocess.run(
        [
            require("snmpget"),
            "-v2c",
            "-c",
            community,
            "-t",
            "0.5",
            "-r",
            "0",
            "-On",
            f"udp:{host}:{port}",
            "1.3.6.1.2.1.1.3.0",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.returncode == 0


def start_snmpd(
    workdir: Path,
    port: int | None = None,
    *,
    v3_users: Sequence[tuple[str, str, str, str, str]] = (),
    extra_conf: str = "",
) -> Service:
    """net-snmp's snmpd on 127.0.0.1 (UDP), with a v2c community and SNMPv3 users.

    ``v3_users``: (user, auth protocol, auth pass, priv protocol, priv pass), e.g.
    ``("netmon", "SHA-256", "...", "AES", "...")``; by default one SHA/AES authPriv user.
    """
    exe = require("snmpd")
    port = port or free_port(socket.SOCK_DGRAM)
    workdir.mkdir(parents=True, exist_ok=True)
    users = list(v3_users) or [(SNMP_V3_USER, "SHA", SNMP_V3_AUTH, "AES", SNMP_V3_PRIV)]
    persist = workdir / f"snmpd-{port}"
    persist.mkdir(exist_ok=True)
    conf = workdir / f"snmpd-{port}.conf"
    lines = [
        f"rocommunity {SNMP_COMMUNITY} 127.0.0.1",
        "sysLocation Quang Ngai",
        "sysContact noc@netmon.invalid",
        "sysName netmon-test-snmpd",
    ]
    for user, ap, apass, pp, ppass in users:
        lines.append(f'createUser {user} {ap} "{apass}" {pp} "{ppass}"')
        lines.append(f"rouser {user} priv")
    conf.write_text("\n".join(lines) + "\n" + extra_conf)
    svc = Service(
        "snmpd",
        [exe, "-f", "-Lo", "-C", "-c", str(conf), "-p", str(workdir / f"snmpd-{port}.pid"), f"udp:127.0.0.1:{port}"],
        workdir,
        port,
        env={"SNMP_PERSISTENT_DIR": str(persist), "MIBDIRS": "/nonexistent", "MIBS": ""},
    )
    return svc.start(lambda: snmp_answers(port))


def start_victoriametrics(workdir: Path, port: int | None = None) -> Service:
    """VictoriaMetrics, which accepts InfluxDB line protocol on /write and /api/v2/write."""
    exe = require("victoria-metrics")
    port = port or free_port()
    data = workdir / f"vm-{port}"
    svc = Service(
        "victoria-metrics",
        [
            exe,
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={data}",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
            "-search.disableCache",
        ],
        workdir,
        port,
    )
    return svc.start(lambda: http_ok(f"http://127.0.0.1:{port}/health"))


def start_prometheus(workdir: Path, config_yaml: str, port: int | None = None) -> Service:
    """A Prometheus server with the given configuration file text."""
    exe = require("prometheus")
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / f"prometheus-{port}.yml"
    conf.write_text(config_yaml)
    svc = Service(
        "prometheus",
        [
            exe,
            f"--config.file={conf}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={workdir / f'prom-{port}'}",
            "--web.enable-lifecycle",
        ],
        workdir,
        port,
    )
    return svc.start(lambda: http_ok(f"http://127.0.0.1:{port}/-/ready"), timeout=60)
