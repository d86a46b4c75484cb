"""Configuration errors that name the file, the line and the field."""

from __future__ import annotations

from dataclasses import dataclass

from netmon.config.addresses import redact_userinfo


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a configuration file.

    Attributes:
        file: The file's path as the user gave it.
        line: 1-based line of the offending node, or None when the file itself is at fault.
        field: Dotted path of the field, e.g. ``communes[41].devices[0].parent``.
        message: What is wrong, in words an operator can act on.
    """

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        text = f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        return redact_userinfo(text)  # a URL echoed by a library's message keeps no password


class ConfigError(Exception):
    """Raised when configuration files have problems; carries all of them at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
