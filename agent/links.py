"""From neighbour tables to uplinks: which device hangs off which, and where the inventory
says otherwise.

Every device found (:class:`~netmon.agent.discovery.Finding`) and every inventory device
is a node; each LLDP/CDP neighbour entry is matched to a node by its management address,
then its chassis id, then its system name (an inventory device's id or name counts as a
system name) — or becomes a node of its own, a device the sweep did not reach. The links
form an undirected graph; the proposed parent of each node is its predecessor on a
breadth-first walk from the roots (the top of the tree: given, or the inventory's
highest-ranking devices among the nodes — the core router, else the district routers),
ties broken towards the higher-ranking neighbour. Pure: no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from netmon.agent.discovery import Finding
from netmon.agent.lldp import Neighbour
from netmon.config.inventory import Device, Role

#: Lower ranks stand higher in the tree.
ROLE_RANK: dict[Role, int] = {
    Role.CORE_ROUTER: 0,
    Role.DISTRICT_ROUTER: 1,
    Role.COMMUNE_ROUTER: 2,
    Role.SWITCH: 3,
    Role.CPE: 3,
    Role.SERVER: 4,
    Role.OTHER: 4,
}
UNRANKED = 5


@dataclass
class Node:
    """A device of the graph.

    Attributes:
        key: The inventory id, else ``addr:<address>``, else ``name:<sysName>``,
            else ``chassis:<id>``.
        device: The inventory device, when it is one.
        finding: What it showed, when it was probed and answered.
        addresses, names, chassis: What identifies it to its neighbours.
    """

    key: str
    device: Device | None = None
    finding: Finding | None = None
    addresses: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    chassis: set[str] = field(default_factory=set)

    @property
    def rank(self) -> int:
        """Its height in the tree by role (inventory devices only)."""
        return ROLE_RANK[self.device.role] if self.device is not None else UNRANKED

    def label(self) -> str:
        """Its id, or what is known of it."""
        if self.device is not None:
            return self.device.id
        f = self.finding
        name = f.sys_name if f and f.sys_name else next(iter(sorted(self.names)), "")
        addr = next(iter(sorted(self.addresses)), "")
        return " ".join(x for x in (name, f"({addr})" if addr else "") if x) or self.key


@dataclass(frozen=True, slots=True)
class Link:
    """Two nodes seen as neighbours, and how."""

    a: str
    b: str
    protocol: str
    local_port: str


@dataclass
class Graph:
    """The nodes and the links between them."""

    nodes: dict[str, Node]
    links: list[Link]

    def adjacent(self) -> dict[str, set[str]]:
        """Each node's neighbours (either side's table counts)."""
        out: dict[str, set[str]] = {k: set() for k in self.nodes}
        for link in self.links:
            out[link.a].add(link.b)
            out[link.b].add(link.a)
        return out


def _fold(name: str) -> str:
    return name.strip().casefold()


def _name_keys(name: str) -> set[str]:
    """A system name and its host part (``qng-pe-01.tslcd.vn`` → also ``qng-pe-01``);
    CDP device ids may carry a serial number in parentheses."""
    name = _fold(name.split("(", maxsplit=1)[0])
    return {n for n in (name, name.split(".")[0]) if n}


def build_graph(findings: Sequence[Finding], devices: Iterable[Device] = ()) -> Graph:
    """The graph of findings and inventory devices, linked by their neighbour tables."""
    nodes: dict[str, Node] = {}
    by_addr: dict[str, str] = {}
    by_name: dict[str, str] = {}
    by_chassis: dict[str, str] = {}

    def index(node: Node) -> None:
        for a in node.addresses:
            by_addr.setdefault(a, node.key)
        for n in node.names:
            by_name.setdefault(n, node.key)
        for c in node.chassis:
            by_chassis.setdefault(c.lower(), node.key)

    for dev in devices:
        node = Node(dev.id, device=dev, addresses={dev.address}, names=_name_keys(dev.id) | _name_keys(dev.name or ""))
        nodes[node.key] = node
        index(node)
    for f in findings:
        key = f.device or by_addr.get(f.address) or by_name.get(_fold(f.sys_name)) or f"addr:{f.address}"
        node = nodes.setdefault(key, Node(key))
        node.finding = f
        node.addresses.add(f.address)
        if f.sys_name:
            node.names |= _name_keys(f.sys_name)
        if f.chassis_id:
            node.chassis.add(f.chassis_id.lower())
        index(node)

    def resolve(n: Neighbour) -> str:
        for a in n.addresses:
            if a in by_addr:
                return by_addr[a]
        if n.chassis_id and n.chassis_id.lower() in by_chassis:
            return by_chassis[n.chassis_id.lower()]
        for name in _name_keys(n.sys_name):
            if name in by_name:
                return by_name[name]
        key = (
            f"addr:{n.addresses[0]}"
            if n.addresses
            else f"name:{_fold(n.sys_name)}"
            if n.sys_name
            else f"chassis:{n.chassis_id.lower()}"
        )
        node = nodes.setdefault(key, Node(key))
        node.addresses |= set(n.addresses)
        node.names |= _name_keys(n.sys_name)
        if n.chassis_id:
            node.chassis.add(n.chassis_id.lower())
        index(node)
        return key

    links: list[Link] = []
    seen: set[tuple[str, str]] = set()
    for key in list(nodes):
        seen_from = nodes[key].finding
        if seen_from is None:
            continue
        for n in seen_from.neighbours:
            other = resolve(n)
            if other == key:
                continue
            pair = (min(key, other), max(key, other))
            if pair not in seen:
                seen.add(pair)
                links.append(Link(key, other, n.protocol, n.local_port))
    return Graph(nodes, links)


def default_roots(graph: Graph) -> list[str]:
    """The highest-ranking inventory devices that have links; else the most linked node."""
    adj = graph.adjacent()
    linked = [n for n in graph.nodes.values() if adj[n.key]]
    ranked = [n for n in linked if n.device is not None]
    if ranked:
        top = min(n.rank for n in ranked)
        return sorted(n.key for n in ranked if n.rank == top)
    if linked:
        return [max(linked, key=lambda n: (len(adj[n.key]), n.key)).key]
    return []


def find_node(graph: Graph, text: str) -> str | None:
    """A node by inventory id, address or system name."""
    if text in graph.nodes:
        return text
    for node in graph.nodes.values():
        if text in node.addresses or _fold(text) in node.names:
            return node.key
    return None


def propose_parents(graph: Graph, roots: Sequence[str]) -> dict[str, str | None]:
    """Each linked node's proposed parent (None for the roots), breadth-first from the roots."""
    adj = graph.adjacent()
    parent: dict[str, str | None] = {r: None for r in roots if r in adj}
    depth = dict.fromkeys(parent, 0)
    queue = deque(sorted(parent, key=lambda k: (graph.nodes[k].rank, k)))
    while queue:
        cur = queue.popleft()
        # visit higher-ranking neighbours first so that, at equal depth, a device hangs off
        # the router rather than off a sibling CPE
        for nxt in sorted(adj[cur], key=lambda k: (graph.nodes[k].rank, k)):
            if nxt not in parent:
                parent[nxt] = cur
                depth[nxt] = depth[cur] + 1
                queue.append(nxt)
            elif depth[nxt] == depth[cur] + 1:
                current = parent[nxt]
                if current is not None and graph.nodes[cur].rank < graph.nodes[current].rank:
                    parent[nxt] = cur
    return parent


@dataclass(frozen=True, slots=True)
class Disagreement:
    """An inventory device whose parent is not the uplink the network shows.

    Attributes:
        device: The inventory device.
        inventory_parent: Its parent in the inventory (None: none).
        seen_parent: The parent the links imply (a node label; None: a root).
        seen_in_inventory: Whether the seen parent is an inventory device.
    """

    device: str
    inventory_parent: str | None
    seen_parent: str | None
    seen_in_inventory: bool


@dataclass
class Comparison:
    """The inventory against what LLDP/CDP shows."""

    disagreements: list[Disagreement] = field(default_factory=list)
    agreeing: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)
    not_in_inventory: list[str] = field(default_factory=list)


def compare(graph: Graph, parents: Mapping[str, str | None], devices: Iterable[Device]) -> Comparison:
    """Where the inventory's parents and the proposed ones differ.

    A device with no links at all is ``unseen`` (no neighbour table shows it and it shows
    none): nothing can be said of its parent. Nodes that are not inventory devices but
    have links are ``not_in_inventory``.
    """
    out = Comparison()
    for dev in devices:
        if dev.id not in parents:
            out.unseen.append(dev.id)
            continue
        seen = parents[dev.id]
        if seen is None:  # a root: its own uplink is outside what was seen
            out.agreeing.append(dev.id)
            continue
        node = graph.nodes[seen]
        label = node.device.id if node.device is not None else node.label()
        if dev.parent == label:
            out.agreeing.append(dev.id)
        else:
            out.disagreements.append(Disagreement(dev.id, dev.parent, label, node.device is not None))
    out.not_in_inventory = sorted(graph.nodes[k].label() for k in parents if graph.nodes[k].device is None)
    return out
