"""Listen addresses, URLs and ports named in settings: parsed once, checked strictly, and
shown only with their passwords redacted.

Every check here is pure (no name resolution, no socket): the settings models call them
so that a value the processes cannot use at start-up is a load error naming file, line
and field. ``check-config`` adds the checks that need the host (is a listen address one
of its own?) in :mod:`config.check`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

__all__ = ["REDACTED", "ListenAddress", "check_topic_level", "parse_listen", "parse_url", "redact_userinfo"]

REDACTED = "<secret>"

# A URL's scheme and "//", then the authority up to its last "@" (a password may hold an
# "@"; a "/", "?", "#", quote or blank ends the authority, as in urllib's parsing).
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s'\"<>]*@")


def redact_userinfo(text: str) -> str:
    """``text`` with the user information of every URL in it replaced by ``<secret>``.

    The one function for showing a URL (or a message or log line that may hold one):
    ``mqtt://admin:pw@host:1883`` → ``mqtt://<secret>@host:1883``. The user name goes
    too: some services take a token as the user name.
    """
    if "@" not in text or "://" not in text:
        return text
    return _USERINFO.sub(lambda m: m.group("scheme") + REDACTED + "@", text)


# RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _check_host(host: str) -> str:
    """``host`` if it is an IP address or a host name, else ValueError saying why."""
    if not host:
        raise ValueError("the host is missing")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    name = host.removesuffix(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise ValueError(f"{host!r} is neither an IP address nor a host name")
    return host


def _check_port(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"port {text!r} is not a number")
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 1-65535")
    return port


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """Where a server listens: ``host`` (an IP address or a name) and ``port``."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> ListenAddress:
    """``"127.0.0.1:8080"``, ``"[::1]:8080"`` or ``"localhost:8080"`` as a ListenAddress.

    Raises:
        ValueError: The text is not ``host:port`` with a valid host and a port in 1-65535;
            the message says what to write instead.
    """
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError(f"listen address {text!r} needs a port: host:port, e.g. 127.0.0.1:8080")
    if host.startswith("[") and host.endswith("]"):
        inner = host[1:-1]
        try:
            ipaddress.IPv6Address(inner)
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address in brackets") from None
        host = inner
    elif ":" in host:
        raise ValueError(f"write an IPv6 listen address in brackets, e.g. [::1]:8080 (got {text!r})")
    elif not host:
        raise ValueError(f"listen address {text!r} has no host: 0.0.0.0:PORT listens on every interface")
    else:
        _check_host(host)
    return ListenAddress(host, _check_port(port))


def parse_url(text: str, schemes: tuple[str, ...], *, path: bool) -> SplitResult:
    """Check a URL a process will connect to and return its parts.

    Args:
        text: The URL.
        schemes: The schemes accepted, e.g. ``("mqtt", "mqtts")``.
        path: Whether a path is allowed (an HTTP API behind a proxy prefix) or not (MQTT).

    Raises:
        ValueError: What is wrong, with the URL redacted. A password in the URL is an error:
            it would sit in the settings file in clear, where a secret reference belongs.
    """
    shown = redact_userinfo(text)
    try:
        parts = urlsplit(text)
        port = parts.port  # parses the port: ValueError when not a number or out of range
    except ValueError as exc:
        raise ValueError(f"{shown!r} is not a valid URL: {exc}") from None
    if parts.scheme not in schemes:
        want = " or ".join(f"{s}://" for s in schemes)
        raise ValueError(f"{shown!r} must start with {want}")
    if "@" in parts.netloc:
        raise ValueError(f"{shown!r} carries a user or password: give them as a secret reference instead")
    host = parts.hostname or ""
    try:
        _check_host(host)
    except ValueError as exc:
        raise ValueError(f"{shown!r}: {exc}") from None
    if port == 0 or parts.netloc.endswith(":"):
        raise ValueError(f"{shown!r}: give a port in 1-65535 or none for the default")
    if parts.query or parts.fragment or "?" in text or "#" in text:
        raise ValueError(f"{shown!r} may not have a query or a fragment")
    if not path and parts.path not in ("", "/"):
        raise ValueError(f"{shown!r} may not have a path")
    return parts


def check_topic_level(text: str, what: str) -> str:
    """``text`` if it can stand in an MQTT topic and topic filter, else ValueError.

    The wildcards ``+`` and ``#`` and the NUL character are not allowed in a topic name
    (the client refuses to publish); ``what`` names the setting in the message.
    """
    bad = [c for c in ("+", "#", "\x00") if c in text]
    if bad:
        raise ValueError(f"{what} {text!r} may not contain {' or '.join(repr(c) for c in bad)}")
    if not text:
        raise ValueError(f"{what} is empty")
    return text
