"""Which agent may speak for which device: the collector's ``agents:`` map, bound to the inventory.

The broker's ACL stops an agent from publishing under another agent's id, but not from
naming, in its own batches, a device it does not poll. With a declared map (agent id →
``scope``, the same shape as the agent's own ``scope``), each inventory device is bound to
the agents whose scope covers it, and a sample any other agent sends for it is dropped
and counted (``foreign_device``): agent B cannot close agent A's outage with ``ok: true``.
An agent absent from the map may speak for nothing (``unknown_agent``).

Samples for devices that are not in the inventory at all are left to the engine, which
counts them as unknown devices: they cannot change any state.

Pure: built from settings and an inventory, rebuilt when the inventory is reloaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netmon.agent import wire
from netmon.config.inventory import InventoryIndex
from netmon.config.settings import Scope


@dataclass(frozen=True, slots=True)
class Split:
    """A batch's samples, parted by whether their agent may speak for their device.

    Attributes:
        kept: The samples to apply (in their order).
        foreign: The device ids of the samples dropped.
    """

    kept: list[wire.Sample]
    foreign: list[str]


@dataclass(frozen=True, slots=True)
class Binding:
    """Devices bound to agents.

    Attributes:
        devices_of: Per declared agent, the inventory devices it may speak for.
        known: Every inventory device id.
    """

    devices_of: Mapping[str, frozenset[str]]
    known: frozenset[str]

    @classmethod
    def build(cls, agents: Mapping[str, Scope], index: InventoryIndex) -> Binding:
        """Bind each device of ``index`` to the agents of ``agents`` whose scope covers it."""
        return cls(
            devices_of={agent: frozenset(d.id for d in scope.select(index)) for agent, scope in agents.items()},
            known=frozenset(index.devices),
        )

    def declares(self, agent: str) -> bool:
        """Whether ``agent`` is in the map."""
        return agent in self.devices_of

    def split(self, agent: str, samples: Sequence[wire.Sample]) -> Split:
        """The samples ``agent`` may send, and the devices of those it may not."""
        mine = self.devices_of.get(agent, frozenset())
        known = self.known
        if all(s.device in mine or s.device not in known for s in samples):  # the common case
            return Split(samples if isinstance(samples, list) else list(samples), [])
        kept: list[wire.Sample] = []
        foreign: list[str] = []
        for s in samples:
            if s.device in mine or s.device not in known:
                kept.append(s)
            else:
                foreign.append(s.device)
        return Split(kept, foreign)

    def unbound(self) -> list[str]:
        """Inventory devices no declared agent may speak for (their samples are all dropped)."""
        bound = frozenset().union(*self.devices_of.values())
        return sorted(self.known - bound)

    def shared(self) -> dict[str, list[str]]:
        """Devices that more than one agent may speak for, with those agents."""
        agents_of: dict[str, list[str]] = {}
        for agent, devices in sorted(self.devices_of.items()):
            for d in devices:
                agents_of.setdefault(d, []).append(agent)
        return {d: a for d, a in sorted(agents_of.items()) if len(a) > 1}
