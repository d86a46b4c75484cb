"""Secrets: referenced from the environment or a file, never printed.

A secret in a settings or credentials file is a reference, ``{env: NAME}`` or
``{file: path}`` (relative to the file that names it, see :mod:`config.paths`); a literal
``{value: ...}`` is accepted for demos and tests. The resolved value is held in a
:class:`Secret` whose ``str`` and ``repr`` are ``<secret>``.

A secret file is read only if it is a regular file (a symbolic link to one is fine: that
is how Kubernetes and systemd credentials look), of at most :data:`MAX_SECRET_BYTES`:
``/dev/zero``, a FIFO or a directory is refused at once rather than read forever. An
empty secret is an error, never an empty password (an empty HTTP token would let
``Authorization: Bearer`` with nothing after it in).
"""

from __future__ import annotations

import os
import stat
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from netmon.config.paths import FilePath

#: The largest secret file read: a password, a token or a key is far smaller.
MAX_SECRET_BYTES = 64 * 1024


class Secret:
    """A resolved secret value that never shows itself in logs, repr or output."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret for the one call that needs it (a library's argument)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('<secret>')"

    def __str__(self) -> str:
        return "<secret>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SecretRef(BaseModel):
    """Where a secret comes from: exactly one of ``env``, ``file`` or ``value``."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: FilePath | None = Field(default=None, min_length=1)
    value: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [k for k in ("env", "file", "value") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a secret is exactly one of {env: NAME}, {file: PATH} or {value: ...}")
        return self

    def describe(self) -> str:
        """Say where the secret comes from, without its value."""
        if self.env is not None:
            return f"env:{self.env}"
        if self.file is not None:
            return f"file:{self.file}"
        return "<inline secret>"

    def resolve(self) -> Secret:
        """Read the secret (a relative ``file`` was made relative to its file by the loader).

        Raises:
            ValueError: The variable is unset or empty, or the file cannot be read, is not
                a regular file, is too large, empty or not UTF-8; the message names the
                reference, never a value.
        """
        if self.env is not None:
            val = os.environ.get(self.env)
            if val is None:
                raise ValueError(f"environment variable {self.env} is not set")
            if not val:
                raise ValueError(f"environment variable {self.env} is empty")
            return Secret(val)
        if self.file is not None:
            return Secret(read_secret_file(self.file))
        assert self.value is not None
        return Secret(self.value)

    def __repr__(self) -> str:
        return f"SecretRef({self.describe()})"

    __str__ = __repr__

    def __repr_args__(self) -> Any:  # pydantic's repr must not show a literal value
        return [(None, self.describe())]


def read_secret_file(path: str) -> str:
    """The text of a secret file, stripped of surrounding white space.

    Opened without blocking (a FIFO with no writer would block ``open``), then checked
    on the open descriptor, so the file cannot be swapped between check and read.

    Raises:
        ValueError: See :meth:`SecretRef.resolve`.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a directory" if stat.S_ISDIR(mode) else "a device, FIFO or socket"
            raise ValueError(f"secret file {path} is {kind}, not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_SECRET_BYTES:
            chunk = os.read(fd, MAX_SECRET_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if size > MAX_SECRET_BYTES:
        raise ValueError(f"secret file {path} is larger than {MAX_SECRET_BYTES} bytes")
    try:
        text = b"".join(chunks).decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"secret file {path} is not UTF-8 text") from None
    if not text:
        raise ValueError(f"secret file {path} is empty")
    return text
