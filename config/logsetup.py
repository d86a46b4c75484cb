"""Structured logging for the agent and the collector, with secrets redacted.

Two formats, one record each line:

* ``text`` for people: ``2026-11-26T04:10:00.123Z INFO agent.poller device down device=d522-r1 agent=d522``
* ``json`` for log shippers: ``{"ts": ..., "level": ..., "logger": ..., "msg": ..., "device": ...}``

Context travels as ``extra=`` fields (``log.info("device down", extra={"device": dev.id})``);
every extra becomes ``key=value`` or a JSON member.

Secrets: a :class:`SecretFilter` sits on the handler (so it sees the records of every
library too, not only ours). A :class:`~config.secrets.Secret` passed as an argument or an
extra is rendered ``<secret>``, and its value is remembered; any remembered value, or one
given to :func:`register_secret` by the code that resolved it, is replaced by ``<secret>``
wherever it appears in the final line, tracebacks included, and so is the user information
of any URL (``mqtt://<secret>@host``, :func:`config.addresses.redact_userinfo`). Values shorter than
:data:`MIN_SECRET_LEN` are not searched for (they would redact ordinary words); such a value
is no secret anyway.

Hostile text (an SNMP ``sysDescr`` with a newline, say) cannot forge a log line: control
characters in messages and values are escaped, so one record is always one line (a text
traceback follows on indented lines).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any, TextIO

from netmon.config.addresses import REDACTED, redact_userinfo
from netmon.config.secrets import Secret
from netmon.config.settings import LogSettings

#: Shorter values are not searched for in log lines (see the module docstring).
MIN_SECRET_LEN = 4

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None)).keys() | {"message", "asctime", "taskName"}
)

_known_values: set[str] = set()
_known_lock = threading.Lock()
# Rebuilt on change so the hot path iterates a tuple without a lock; longest first, so a
# secret containing another is redacted whole.
_known_sorted: tuple[str, ...] = ()


def register_secret(secret: Secret | str) -> None:
    """Remember a secret's value so no log line ever shows it.

    Call it where a :class:`~config.secrets.SecretRef` is resolved into a value that may
    reach a library (an MQTT password, an SNMP key, an API token).
    """
    global _known_sorted
    value = secret.reveal() if isinstance(secret, Secret) else secret
    if len(value) < MIN_SECRET_LEN or value in _known_values:
        return
    with _known_lock:
        _known_values.add(value)
        _known_sorted = tuple(sorted(_known_values, key=len, reverse=True))


def forget_secrets() -> None:
    """Forget every remembered value (tests; a process never needs it)."""
    global _known_sorted
    with _known_lock:
        _known_values.clear()
        _known_sorted = ()


def redact(text: str) -> str:
    """``text`` with every remembered secret value, and the password of every URL in it,
    replaced by ``<secret>``."""
    for value in _known_sorted:
        if value in text:
            text = text.replace(value, REDACTED)
    return redact_userinfo(text)


def _scrub_value(value: Any) -> Any:
    """A value safe to keep on a record: secrets become ``<secret>`` (and are remembered)."""
    if isinstance(value, Secret):
        register_secret(value)
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub_value(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_scrub_value(v) for v in value)
    return value


class SecretFilter(logging.Filter):
    """Redact secrets in a record's message, arguments, extras and traceback.

    It renders the message itself (``msg % args``) so a secret revealed into an argument
    is caught, then drops the arguments; it never rejects a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; always keep it."""
        if isinstance(record.args, dict):
            record.args = {k: _scrub_value(v) for k, v in record.args.items()}
        elif record.args:
            record.args = tuple(_scrub_value(a) for a in record.args)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record (nor a secret)
            message = f"{record.msg!r} (unformattable arguments)"
        record.msg = redact(str(_scrub_value(message)))
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, _scrub_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


def _timestamp(created: float) -> str:
    whole = int(created)
    millis = int((created - whole) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


_ESCAPES = {ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord("\x1b"): "\\x1b"}


def _one_line(text: str) -> str:
    """Escape what could end a log line or drive a terminal (log injection)."""
    text = text.translate(_ESCAPES)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        text = "".join(c if ord(c) >= 0x20 and ord(c) != 0x7F else f"\\x{ord(c):02x}" for c in text)
    return text


def _text_value(value: Any) -> str:
    text = _one_line(value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False))
    if text == "" or any(c in text for c in ' "='):
        return json.dumps(text, ensure_ascii=False)
    return text


class TextFormatter(logging.Formatter):
    """``ts level logger msg key=value ...``, one line per record (traceback indented below)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record."""
        parts = [_timestamp(record.created), record.levelname, record.name, _one_line(record.getMessage())]
        parts += [f"{k}={_text_value(v)}" for k, v in _extras(record).items()]
        line = " ".join(parts)
        exc = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else "")
        if exc:
            line += "\n" + "\n".join("    " + _one_line(x) for x in exc.splitlines())
        return redact(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, extras, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record."""
        obj: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _extras(record).items():
            # an extra may not overwrite the four fields a shipper relies on
            obj[key if key not in obj else f"extra_{key}"] = value
        exc = record.exc_text or (self.formatException(record.exc_info) if record.exc_info else "")
        if exc:
            obj["exc"] = exc
        return redact(json.dumps(obj, default=str, ensure_ascii=False))


class _NetmonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler :func:`setup_logging` installed, so a second call replaces it."""


# Libraries that are chatty at INFO/DEBUG; their warnings still come through.
_QUIET = ("pysnmp", "pyasn1", "aiohttp.access", "asyncio")


def setup_logging(
    settings: LogSettings,
    *,
    stream: TextIO | None = None,
    secrets: Iterable[Secret] = (),
) -> None:
    """Configure the root logger once for the process (a second call replaces the first).

    Args:
        settings: Level and format (``text`` or ``json``).
        stream: Where lines go; standard error by default (journald and containers read it).
        secrets: Values to redact from the start, e.g. the resolved broker password.
    """
    for secret in secrets:
        register_secret(secret)
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _NetmonHandler)]:
        root.removeHandler(old)
        old.close()
    handler = _NetmonHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    handler.addFilter(SecretFilter())
    root.addHandler(handler)
    root.setLevel(settings.level)
    if settings.level != "DEBUG":
        for name in _QUIET:
            logging.getLogger(name).setLevel(logging.WARNING)
