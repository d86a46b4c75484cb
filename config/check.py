"""``netmon check-config``: every problem of every file, at once.

A settings file is checked with everything it names: the inventory, the credentials file,
secrets, TLS files, the store's directory, the listen addresses (are they this host's?),
maintenance targets and the agent's scope. Each problem names file, line and field, and
one missing secret does not hide the others, nor the other errors of its file: secrets are
looked up in the raw document, so they are reported even when the file fails validation.

The processes run the same checks at start-up (:func:`startup_problems`), so
``check-config`` says "ok" exactly when ``netmon agent`` / ``netmon collector`` would start.
"""

from __future__ import annotations

import enum
import os
import socket
import ssl
import stat
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from netmon.config.addresses import parse_listen
from netmon.config.agents_map import unknown_codes
from netmon.config.credentials import Credentials
from netmon.config.errors import Problem
from netmon.config.inventory import Inventory
from netmon.config.loader import (
    Loc,
    YamlDoc,
    check_inventory_doc,
    field_path,
    raw_inventory_problems,
    read_yaml,
    validate,
)
from netmon.config.paths import resolve_path, resolve_paths
from netmon.config.secrets import SecretRef
from netmon.config.settings import AgentSettings, CollectorSettings, MaintenanceWindow, Scope, TlsSettings

Kind = str
Settings = AgentSettings | CollectorSettings
P = TypeVar("P", bound=BaseModel)


class SecretScope(enum.Enum):
    """Which secret references a check reads."""

    #: every reference in the settings file and its credentials file (``check-config``)
    ALL = "all"
    #: those the process reads at start: the settings file's and its MQTT login's
    USED = "used"
    #: none (``check-config --no-secrets``, on a machine without the secrets)
    NONE = "none"


@dataclass
class CheckedFile:
    """What checking one file found, and what it loaded when the files were valid.

    Attributes:
        kind: ``agent``, ``collector``, ``inventory``, ``credentials`` or ``unknown``.
        problems: Every problem of the file and of the files it names.
        settings: The settings (paths resolved), when the settings file is valid.
        credentials: The credentials it names, when valid.
        inventory: The inventory it names (or the file itself), when valid.
    """

    kind: Kind
    problems: list[Problem] = field(default_factory=list)
    settings: Settings | None = None
    credentials: Credentials | None = None
    inventory: Inventory | None = None


def detect_kind(data: Any) -> Kind:
    """Guess a file's kind from its top-level keys."""
    if not isinstance(data, dict):
        return "unknown"
    if "province" in data:
        return "inventory"
    if "agent_id" in data:
        return "agent"
    if "inventory" in data:
        return "collector"
    if "snmp" in data or "mqtt" in data:
        return "credentials"
    return "unknown"


# ----------------------------------------------------------------------------- secrets


def _secret_refs(annotation: Any, raw: Any, loc: Loc) -> Iterator[tuple[Loc, SecretRef]]:
    """The well-formed secret references in raw data, found by the model's field types.

    Works on data that fails validation elsewhere, so an unset variable is reported with
    the file's other errors rather than after they are fixed.
    """
    origin = typing.get_origin(annotation)
    if annotation is SecretRef:
        if isinstance(raw, dict):
            try:
                ref = SecretRef.model_validate(raw)
            except ValidationError:
                return  # validation reports the malformed reference
            yield loc, ref
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if isinstance(raw, dict):
            for name, info in annotation.model_fields.items():
                if name in raw:
                    yield from _secret_refs(info.annotation, raw[name], (*loc, name))
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _secret_refs(arg, raw, loc)
    elif origin in (tuple, list) and isinstance(raw, list):
        for i, item in enumerate(raw):
            yield from _secret_refs(typing.get_args(annotation)[0], item, (*loc, i))
    elif origin is dict and isinstance(raw, dict):
        for key, item in raw.items():
            yield from _secret_refs(typing.get_args(annotation)[1], item, (*loc, str(key)))


def _secret_problems(doc: YamlDoc, model: type[BaseModel], only: Loc | None = None) -> list[Problem]:
    """Read the secret references of a document; one problem per unreadable secret.

    Args:
        doc: The parsed file.
        model: Its model.
        only: Read only the references under this location (a login of the credentials).
    """
    out: list[Problem] = []
    for loc, ref in _secret_refs(model, doc.data, ()):
        if only is not None and loc[: len(only)] != only:
            continue
        try:
            resolve_paths(ref, doc.file).resolve()
        except ValueError as exc:
            out.append(Problem(doc.file, doc.line_of(loc), field_path(loc), str(exc)))
    return out


# ----------------------------------------------------------------------------- files and sockets


def _not_regular(path: str) -> str | None:
    """Why ``path`` cannot be read as a regular file, or None."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    if not stat.S_ISREG(mode):
        return f"{path} is not a regular file"
    return None


def _refuse_passphrase() -> bytes:
    raise ValueError("the key is encrypted; netmon reads unencrypted keys only")


def tls_problems(tls: TlsSettings) -> list[tuple[str, str]]:
    """``(field, message)`` for each TLS file the processes could not load."""
    out: list[tuple[str, str]] = []
    if tls.ca_file is not None:
        why = _not_regular(tls.ca_file)
        if why is None:
            try:
                ssl.create_default_context(cafile=tls.ca_file)
            except (OSError, ssl.SSLError) as exc:
                why = f"{tls.ca_file} is not a CA certificate file: {exc}"
        if why is not None:
            out.append(("ca_file", why))
    if tls.cert_file is not None and tls.key_file is not None:
        bad = [(name, why) for name in ("cert_file", "key_file") if (why := _not_regular(getattr(tls, name)))]
        out += bad
        if not bad:
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(
                    tls.cert_file, tls.key_file, password=_refuse_passphrase
                )
            except (OSError, ssl.SSLError, ValueError) as exc:
                out.append(("cert_file", f"cannot load the client certificate and key: {exc}"))
    return out


def listen_problem(text: str) -> str | None:
    """Why a server could not listen on ``text`` on this host (port aside), or None.

    Binds each address the host resolves to on a free port: an address that is not this
    host's fails here as it would at start-up. The port itself is not tried (the running
    service holds it).
    """
    addr = parse_listen(text)
    try:
        infos = socket.getaddrinfo(addr.host, addr.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve {addr.host!r}: {exc.strerror}"
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as sock:
            try:
                sock.bind((sockaddr[0], 0, *sockaddr[2:]))
            except OSError as exc:
                return f"cannot listen on {addr.host}: {exc.strerror}"
    return None


def database_path_problem(path: str, *, creates_directory: bool) -> str | None:
    """Why a SQLite file (the store, the outbox) cannot be opened at ``path``, or None."""
    p = Path(path)
    if p.exists() and not p.is_file():
        return f"{path} exists and is not a regular file"
    parent = p.parent
    if creates_directory:
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    if not parent.is_dir():
        return f"directory {parent} does not exist"
    return None


# ----------------------------------------------------------------------------- settings


def _problem(doc: YamlDoc, loc: Loc, message: str) -> Problem:
    return Problem(doc.file, doc.line_of(loc), field_path(loc), message)


def _raw_at(doc: YamlDoc, loc: Loc) -> Any:
    """The raw value at ``loc``, or None where the document has none."""
    node = doc.data
    for key in loc:
        if isinstance(key, int):
            if not isinstance(node, list) or not 0 <= key < len(node):
                return None
        elif not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _part(doc: YamlDoc, loc: Loc, model: type[P]) -> P | None:
    """The part of the document at ``loc`` as a valid ``model`` (paths resolved), or None.

    Lets the host checks run on the valid parts of a file that has errors elsewhere.
    """
    raw = _raw_at(doc, loc)
    if raw is None:
        return None
    try:
        return resolve_paths(model.model_validate(raw), doc.file)
    except ValidationError:
        return None


def _host_problems(doc: YamlDoc, kind: Kind) -> list[Problem]:
    """What the settings name on this host: listen addresses, TLS files, database paths."""
    out: list[Problem] = []
    tls = _part(doc, ("broker", "tls"), TlsSettings)
    if tls is not None:
        out += [_problem(doc, ("broker", "tls", name), why) for name, why in tls_problems(tls)]
    listen_loc, db_loc = (
        (("http", "listen"), ("store", "path")) if kind == "collector" else (("metrics_listen",), ("outbox", "path"))
    )
    listen = _raw_at(doc, listen_loc)
    if isinstance(listen, str):
        try:
            why = listen_problem(listen)
        except ValueError:
            why = None  # validation reports it
        if why is not None:
            out.append(_problem(doc, listen_loc, why))
    db = _raw_at(doc, db_loc)
    if isinstance(db, str) and db:
        # the outbox makes its own directory; the store does not (a typo would hide the data)
        why = database_path_problem(resolve_path(db, doc.file), creates_directory=kind == "agent")
        if why is not None:
            out.append(_problem(doc, db_loc, why))
    return out


def _inventory_refs(doc: YamlDoc, kind: Kind, inv: Inventory) -> list[Problem]:
    """Codes and ids the settings name that the inventory lacks (scope, maintenance)."""
    idx = inv.index
    known: dict[str, Mapping[str, object]] = {
        "districts": idx.districts,
        "communes": idx.communes,
        "devices": idx.devices,
    }
    out: list[Problem] = []
    if kind == "agent":
        scope = _part(doc, ("scope",), Scope)
        for name, ids in known.items():
            for i, code in enumerate(getattr(scope, name) if scope is not None else ()):
                if code not in ids:
                    out.append(_problem(doc, ("scope", name, i), f"not in the inventory: {code!r}"))
        return out
    agents = _raw_at(doc, ("agents",))
    for agent in agents if isinstance(agents, dict) else ():  # the collector's agents map
        agent_scope = _part(doc, ("agents", agent), Scope)
        for name, i, code in unknown_codes(agent_scope, idx) if agent_scope is not None else ():
            out.append(_problem(doc, ("agents", agent, name, i), f"not in the inventory: {code!r}"))
    windows = _raw_at(doc, ("maintenance",))
    for i in range(len(windows) if isinstance(windows, list) else 0):
        window = _part(doc, ("maintenance", i), MaintenanceWindow)
        for name in ("device", "commune", "district"):
            code = getattr(window, name, None)
            if code is not None and code not in known[name + "s"]:
                out.append(_problem(doc, ("maintenance", i, name), f"not in the inventory: {code!r}"))
    return out


def _check_settings(doc: YamlDoc, kind: Kind, secrets: SecretScope, host: bool, out: CheckedFile) -> None:
    model: type[Settings] = AgentSettings if kind == "agent" else CollectorSettings
    raw: dict[str, Any] = doc.data
    settings, problems = validate(doc, model)
    out.problems += problems
    if secrets is not SecretScope.NONE:
        out.problems += _secret_problems(doc, model)
    if settings is not None:
        out.settings = resolve_paths(settings, doc.file)
    if host:
        out.problems += _host_problems(doc, kind)

    # The files it names are checked even when the settings are not valid: all at once.
    creds_path = raw.get("credentials")
    login = raw.get("broker", {}).get("credential") if isinstance(raw.get("broker"), dict) else None
    if isinstance(creds_path, str):
        cdoc, cprob = read_yaml(resolve_path(creds_path, doc.file))
        creds, more = validate(cdoc, Credentials)
        out.problems += cprob + more
        if cdoc.data is not None and secrets is SecretScope.ALL:
            out.problems += _secret_problems(cdoc, Credentials)
        elif cdoc.data is not None and secrets is SecretScope.USED and isinstance(login, str):
            out.problems += _secret_problems(cdoc, Credentials, only=("mqtt", login))
        if creds is not None:
            out.credentials = resolve_paths(creds, cdoc.file)
            if isinstance(login, str) and login not in creds.mqtt:
                out.problems.append(
                    _problem(doc, ("broker", "credential"), f"no MQTT credential {login!r} in {cdoc.file}")
                )
    elif isinstance(login, str) and creds_path is None:
        out.problems.append(
            _problem(doc, ("broker", "credential"), "names a credential but the file names no credentials file")
        )

    inv_path = raw.get("inventory")
    if isinstance(inv_path, str):
        idoc, iprob = read_yaml(resolve_path(inv_path, doc.file))
        inv, more = validate(idoc, Inventory)
        out.problems += iprob + more
        if inv is None:
            out.problems += raw_inventory_problems(idoc)
        else:
            profiles = set(out.credentials.snmp) if out.credentials is not None else None
            out.problems += check_inventory_doc(idoc, inv, profiles)
            out.inventory = inv
            out.problems += _inventory_refs(doc, kind, inv)


def inspect_file(
    path: str | Path, *, secrets: SecretScope = SecretScope.ALL, host: bool = True, kind: Kind | None = None
) -> CheckedFile:
    """Check one file of any kind; settings files also check the files they name.

    Args:
        path: The file.
        secrets: Which secret references to read.
        host: Whether to check what the settings name on this host (TLS files, the store's
            directory, listen addresses); not on a machine that will not run the process.
        kind: The kind the file must be (a process's own settings); None: detect it.
    """
    doc, problems = read_yaml(path)
    if doc.data is None:
        return CheckedFile("unknown", problems)
    found = detect_kind(doc.data)
    if kind is not None and found != kind:
        why = f"this is not {kind} settings" + (f" but {found} settings" if found in ("agent", "collector") else "")
        return CheckedFile(found, [*problems, Problem(doc.file, doc.line_of(()), "", why)])
    out = CheckedFile(found, problems)
    if found == "unknown":
        out.problems.append(
            Problem(
                doc.file,
                doc.line_of(()),
                "",
                "cannot tell what this file is: "
                "an inventory has 'province', agent settings 'agent_id', "
                "collector settings 'inventory', credentials 'snmp' or 'mqtt'",
            )
        )
    elif found == "inventory":
        inv, more = validate(doc, Inventory)
        out.problems += more
        out.problems += check_inventory_doc(doc, inv, None) if inv is not None else raw_inventory_problems(doc)
        out.inventory = inv
    elif found == "credentials":
        creds, more = validate(doc, Credentials)
        out.problems += more
        if secrets is not SecretScope.NONE:
            out.problems += _secret_problems(doc, Credentials)
        out.credentials = resolve_paths(creds, doc.file) if creds is not None else None
    else:
        _check_settings(doc, found, secrets, host, out)
    out.problems = _unique(out.problems)
    return out


def _unique(problems: list[Problem]) -> list[Problem]:
    """Problems in order, each once (several settings files may name the same inventory)."""
    return list(dict.fromkeys(problems))


def check_file(path: str | Path, *, resolve_secrets: bool = True, host: bool = True) -> tuple[Kind, list[Problem]]:
    """Check one file of any kind; settings files also check the files they name."""
    checked = inspect_file(path, secrets=SecretScope.ALL if resolve_secrets else SecretScope.NONE, host=host)
    return checked.kind, checked.problems


def startup_problems(path: str | Path, kind: Kind) -> list[Problem]:
    """The problems that stop a process from starting with the settings file ``path``.

    The checks of ``check-config``, reading only the secrets the process reads itself
    (the SNMP keys are the poller's, checked when it is built).
    """
    return inspect_file(path, secrets=SecretScope.USED, kind=kind).problems


def check_files(paths: list[str]) -> list[Problem]:
    """Check several files; problems of a file named twice are reported once."""
    return _unique([p for path in paths for p in check_file(path)[1]])
