"""Secrets: referenced from the environment or a file, never printed.

A secret in a settings or credentials file is a reference, ``{env: NAME}`` or
``{file: path}``; a literal ``{value: ...}`` is accepted for demos and tests. The
resolved value is held in a :class:`Secret` whose ``str`` and ``repr`` are ``<secret>``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


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

    model_config = ConfigDict(extra="forbid", frozen=True)

    env: str | None = None
    file: str | None = None
    value: str | None = None

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

    def resolve(self, base_dir: Path | None = None) -> Secret:
        """Read the secret.

        Args:
            base_dir: Directory against which a relative ``file`` is resolved (the
                directory of the file that names it).

        Raises:
            ValueError: The variable is unset or the file cannot be read; the message
                names the reference, never a value.
        """
        if self.env is not None:
            val = os.environ.get(self.env)
            if val is None:
                raise ValueError(f"environment variable {self.env} is not set")
            return Secret(val)
        if self.file is not None:
            path = Path(self.file)
            if base_dir is not None and not path.is_absolute():
                path = base_dir / path
            try:
                return Secret(path.read_text(encoding="utf-8").strip())
            except OSError as exc:
                raise ValueError(f"cannot read secret file {path}: {exc.strerror}") from None
        assert self.value is not None
        return Secret(self.value)

    def __repr__(self) -> str:
        return f"SecretRef({self.describe()})"

    __str__ = __repr__

    def __repr_args__(self) -> Any:  # pydantic's repr must not show a literal value
        return [(None, self.describe())]
