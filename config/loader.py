"""Load YAML configuration strictly, naming file, line and field in every error.

YAML is composed into a node tree first (PyYAML keeps each node's line), then built into
plain data and validated by the pydantic models; a validation error's location is walked
back through the node tree to the line that holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from netmon.config import inventory as inv_mod
from netmon.config.credentials import Credentials
from netmon.config.errors import ConfigError, Problem
from netmon.config.inventory import Inventory
from netmon.config.paths import resolve_paths
from netmon.config.settings import AgentSettings, CollectorSettings

try:  # libyaml is several times faster on a national inventory
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


def field_path(loc: Sequence[str | int]) -> str:
    """``('communes', 41, 'devices', 0, 'parent')`` → ``communes[41].devices[0].parent``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _parse_path(path: str) -> Loc:
    """Inverse of :func:`field_path` for the paths the checks produce."""
    loc: list[str | int] = []
    for chunk in path.split("."):
        name, _, rest = chunk.partition("[")
        if name:
            loc.append(name)
        while rest:
            num, _, rest = rest.partition("]")
            loc.append(int(num))
            rest = rest.removeprefix("[")
    return tuple(loc)


@dataclass
class YamlDoc:
    """A parsed YAML file: its data and the node tree that knows the lines."""

    file: str
    data: Any
    root: yaml.Node | None

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """1-based line of the deepest node along ``loc`` that exists."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in loc:
            nxt: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                        nxt = v
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                nxt = node.value[part]
            if nxt is None:
                break
            node = nxt
            line = node.start_mark.line + 1
        return line


def _duplicate_keys(node: yaml.Node, loc: Loc, out: list[tuple[Loc, int, str]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            if key in seen:
                out.append(((*loc, key), k.start_mark.line + 1, f"duplicate key {key!r}"))
            seen.add(key)
            _duplicate_keys(v, (*loc, key), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _duplicate_keys(v, (*loc, i), out)


#: A document may expand through YAML aliases to at most this many nodes; more is an alias
#: bomb ("billion laughs": 90 lines that expand to 10^9 values and hang validation). A
#: national inventory is well under 10^6 nodes.
MAX_EXPANDED_NODES = 5_000_000


def _node_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _alias_problem(root: yaml.Node) -> str | None:
    """Why the node graph is unsafe to build (a recursive alias, an alias bomb), or None.

    Counts the expanded size of the graph in linear time (each node once, memoised), with
    an explicit stack so a deep document cannot exhaust Python's recursion limit.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = _node_children(node)
        if finished:
            on_path.discard(key)
            sizes[key] = min(1 + sum(sizes[id(c)] for c in children), MAX_EXPANDED_NODES + 1)
            continue
        if key in sizes:
            continue
        on_path.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in on_path:
                return "a YAML alias refers to a node that contains it (recursive anchor)"
            if id(child) not in sizes:
                stack.append((child, False))
    if sizes[id(root)] > MAX_EXPANDED_NODES:
        return f"the document expands through YAML aliases to more than {MAX_EXPANDED_NODES} values"
    return None


def read_yaml(path: str | Path) -> tuple[YamlDoc, list[Problem]]:
    """Parse a YAML file, reporting syntax errors and duplicate keys as problems."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return YamlDoc(file, None, None), [Problem(file, None, "", f"cannot read: {exc.strerror}")]
    except UnicodeDecodeError as exc:
        return YamlDoc(file, None, None), [Problem(file, None, "", f"not UTF-8 text: {exc.reason}")]
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        return YamlDoc(file, None, None), [Problem(file, line, "", f"YAML syntax: {exc.problem}")]
    except yaml.YAMLError as exc:  # the reader's errors (control characters) carry no mark
        return YamlDoc(file, None, None), [Problem(file, None, "", f"YAML syntax: {str(exc).splitlines()[0]}")]
    if root is None:
        return YamlDoc(file, {}, None), []
    unsafe = _alias_problem(root)
    if unsafe is not None:
        return YamlDoc(file, None, None), [Problem(file, None, "", unsafe)]
    dups: list[tuple[Loc, int, str]] = []
    _duplicate_keys(root, (), dups)
    loader = _Loader("")
    try:
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:  # unknown tags (!!python/...), unhashable keys
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        return YamlDoc(file, None, None), [Problem(file, line, "", f"YAML: {exc.problem or exc.context}")]
    except ValueError as exc:  # an integer of thousands of digits
        return YamlDoc(file, None, None), [Problem(file, None, "", f"YAML value: {exc}")]
    problems = [Problem(file, line, field_path(loc), msg) for loc, line, msg in dups]
    return YamlDoc(file, data, root), problems


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def validate(doc: YamlDoc, model: type[M]) -> tuple[M | None, list[Problem]]:
    """Validate a parsed document against a model; every error becomes a Problem."""
    if doc.data is None:
        return None, []
    if not isinstance(doc.data, dict):
        return None, [Problem(doc.file, doc.line_of(()), "", "expected a mapping at the top level")]
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            # pydantic puts the tag of a union member in loc; drop non-path parts
            loc = tuple(p for p in err["loc"] if isinstance(p, int) or not str(p).startswith("function-"))
            msg = _message(err)
            if err["type"] == "extra_forbidden":  # a field that was removed says what replaces it
                msg = getattr(model, "REMOVED_FIELDS", {}).get(field_path(loc), msg)
            problems.append(Problem(doc.file, doc.line_of(loc), field_path(loc), msg))
        return None, problems


def _load(path: str | Path, model: type[M]) -> M:
    doc, problems = read_yaml(path)
    obj, more = validate(doc, model)
    problems += more
    if problems or obj is None:
        raise ConfigError(problems or [Problem(str(path), None, "", "empty file")])
    return obj


def load_credentials(path: str | Path) -> Credentials:
    """Load and check a credentials file (secrets stay references until resolved; a
    relative ``{file: ...}`` is made relative to the credentials file)."""
    return resolve_paths(_load(path, Credentials), path)


def check_inventory_doc(doc: YamlDoc, inv: Inventory, snmp_profiles: set[str] | None) -> list[Problem]:
    """Cross-checks of a parsed inventory as Problems with lines."""
    return [
        Problem(doc.file, doc.line_of(_parse_path(path)), path, msg) for path, msg in inv_mod.check(inv, snmp_profiles)
    ]


def raw_inventory_problems(doc: YamlDoc) -> list[Problem]:
    """Cross-checks of an inventory that failed validation, from its raw data."""
    return [Problem(doc.file, doc.line_of(_parse_path(path)), path, msg) for path, msg in inv_mod.check_raw(doc.data)]


def load_inventory(path: str | Path, credentials: Credentials | None = None) -> Inventory:
    """Load an inventory and cross-check it (against the SNMP profiles, when given).

    Raises:
        ConfigError: With every problem found, each naming file, line and field.
    """
    doc, problems = read_yaml(path)
    inv, more = validate(doc, Inventory)
    problems += more
    if inv is not None:
        profiles = set(credentials.snmp) if credentials is not None else None
        problems += check_inventory_doc(doc, inv, profiles)
    else:
        problems += raw_inventory_problems(doc)
    if problems or inv is None:
        raise ConfigError(problems or [Problem(str(path), None, "", "empty file")])
    return inv


def load_agent_settings(path: str | Path) -> AgentSettings:
    """Load an agent settings file; relative paths in it are relative to the file."""
    return resolve_paths(_load(path, AgentSettings), path)


def load_collector_settings(path: str | Path) -> CollectorSettings:
    """Load a collector settings file; relative paths in it are relative to the file."""
    return resolve_paths(_load(path, CollectorSettings), path)
