"""The one rule for paths in configuration files: relative to the file that names them.

A field typed :data:`FilePath` (the inventory, the credentials file, the store, the
outbox, TLS files, ``{file: ...}`` secrets, ...) holds a path as written in its file;
:func:`resolve_paths` rewrites every such field of a loaded model, at any depth, against
the directory of that file. A new path setting only needs the type.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel

__all__ = ["FilePath", "resolve_path", "resolve_paths"]


class _RelativeToFile:
    """Marks a string field as a path relative to the file it is written in."""

    def __repr__(self) -> str:
        return "RELATIVE_TO_FILE"


RELATIVE_TO_FILE = _RelativeToFile()

#: A path in a configuration file, taken relative to that file's directory.
FilePath = Annotated[str, RELATIVE_TO_FILE]

M = TypeVar("M", bound=BaseModel)


def resolve_path(value: str, named_in: str | Path) -> str:
    """A path written in the file ``named_in``, relative to that file's directory.

    Absolute paths stay as they are; ``~`` is not expanded (a service has no home).
    """
    if Path(value).is_absolute():
        return value
    return str(Path(named_in).parent / value)


def _marked(annotation: Any) -> bool:
    """Whether a field's type is FilePath, or an optional or union holding it."""
    if typing.get_origin(annotation) is Annotated:
        return any(m is RELATIVE_TO_FILE for m in annotation.__metadata__)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_marked(a) for a in typing.get_args(annotation))
    return False


def _resolved(value: Any, named_in: str | Path) -> Any:
    """``value`` with the FilePath fields of every model in it resolved."""
    if isinstance(value, BaseModel):
        return resolve_paths(value, named_in)
    if isinstance(value, tuple):
        return tuple(_resolved(v, named_in) for v in value)
    if isinstance(value, dict):
        return {k: _resolved(v, named_in) for k, v in value.items()}
    return value


def resolve_paths(model: M, named_in: str | Path) -> M:
    """A copy of ``model`` whose path fields, at any depth, are relative to ``named_in``.

    Args:
        model: A validated model (settings, credentials, a secret reference).
        named_in: The file the model was read from.
    """
    update: dict[str, Any] = {}
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, str) and (RELATIVE_TO_FILE in info.metadata or _marked(info.annotation)):
            new = resolve_path(value, named_in)
        else:
            new = _resolved(value, named_in)
        if new is not value:
            update[name] = new
    return model.model_copy(update=update) if update else model
