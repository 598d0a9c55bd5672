"""Network faults on demand, for isolated clusters: partitions, dead links,
delay and loss.  Every fault is undoable, and ``heal`` undoes them all.

Each node is cabled to the cluster's switch by a veth whose switch end
(``vn3`` for node3, ``vs3`` on the secondary switch) lives in the cluster's
root network namespace, where the supervisor runs.  Faults act only on those
switch ends, so nothing inside a node changes and Ganeti sees what a real
node would see:

* ``partition NODE...``: the nodes' cables move to a new switch of their
  own (an *island*): they still reach each other, nobody else reaches them;
* ``down NODE`` / ``up NODE``: the cable's switch end goes down, so the
  node's ``eth0`` loses its carrier;
* ``delay NODE TIME`` / ``loss NODE PERCENT``: a ``netem`` qdisc on the
  switch end, so packets *to* the node are delayed or dropped (a round trip
  with the node takes TIME longer).  Needs the kernel's netem scheduler.

This module is pure: it keeps the state and turns each request into the
``ip``/``tc`` commands that perform it.  The supervisor runs them.
"""

from __future__ import annotations

import dataclasses
import re

from .errors import InvalidInput
from .netns import BRIDGE, SECONDARY_BRIDGE, host_ifname
from .spec import ClusterSpec

IP = "ip"
TC = "tc"
_DELAY = re.compile(r"^(\d+(\.\d+)?)(us|ms|s)$")
_LOSS = re.compile(r"^(\d+(\.\d+)?)%$")
ACTIONS = ("partition", "heal", "down", "up", "delay", "loss")


def check_delay(text: str) -> str:
    if not _DELAY.match(text or ""):
        raise InvalidInput(f"invalid delay {text!r}", "give a time such as 50ms, 1.5s or 200us")
    return text


def request(action: str, nodes: list[str], value: str | None = None) -> dict:
    """The supervisor's ``net`` request for ``action`` on ``nodes`` (full
    names), its value checked first."""
    if action == "delay":
        check_delay(value)
    elif action == "loss":
        check_loss(value)
    message = {"op": "net", "action": action, "nodes": nodes}
    if value is not None:
        message["value"] = value
    return message


def check_loss(text: str) -> str:
    match = _LOSS.match(text or "")
    if not match or float(match.group(1)) > 100:
        raise InvalidInput(f"invalid loss {text!r}", "give a percentage from 0% to 100%, e.g. 5%")
    return text


@dataclasses.dataclass
class NetworkFaults:
    """The faults in force on one cluster, and how to add or undo them."""

    spec: ClusterSpec
    islands: dict[int, list[str]] = dataclasses.field(default_factory=dict)
    down: set[str] = dataclasses.field(default_factory=set)
    netem: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    # -- names -------------------------------------------------------------
    def cables(self, node: str) -> list[tuple[str, str]]:
        """(switch end, normal switch) of every cable of ``node``."""
        cables = [(host_ifname(self.spec, node), BRIDGE)]
        if self.spec.secondary_network is not None:
            cables.append((host_ifname(self.spec, node, secondary=True), SECONDARY_BRIDGE))
        return cables

    @staticmethod
    def island_switch(number: int, normal: str) -> str:
        return f"vcisl{number}" + ("s" if normal == SECONDARY_BRIDGE else "")

    # -- requests ----------------------------------------------------------
    def partition(self, nodes: list[str]) -> list[list[str]]:
        if not nodes:
            raise InvalidInput("no node to cut off", "name one or more nodes")
        if set(nodes) == set(self.spec.node_names):
            raise InvalidInput("a partition of every node cuts nobody off",
                               "name the nodes that lose contact with the others")
        commands = []
        for island in self.islands.values():
            island[:] = [n for n in island if n not in nodes]
        for number in [k for k, members in self.islands.items() if not members]:
            commands += self._remove_island(number)
        number = max(self.islands, default=0) + 1
        self.islands[number] = list(nodes)
        for normal in self._switches():
            switch = self.island_switch(number, normal)
            commands += [[IP, "link", "add", switch, "type", "bridge"],
                         [IP, "link", "set", switch, "up"]]
        for node in nodes:
            for end, normal in self.cables(node):
                commands.append([IP, "link", "set", end, "master",
                                 self.island_switch(number, normal)])
        return commands

    def set_link(self, node: str, up: bool) -> list[list[str]]:
        if up:
            self.down.discard(node)
        else:
            self.down.add(node)
        return [[IP, "link", "set", end, "up" if up else "down"] for end, _ in self.cables(node)]

    def set_netem(self, node: str, kind: str, value: str) -> list[list[str]]:
        check = check_delay if kind == "delay" else check_loss
        params = self.netem.setdefault(node, {})
        params[kind] = check(value)
        words = [w for k in ("delay", "loss") if k in params for w in (k, params[k])]
        return [[TC, "qdisc", "replace", "dev", end, "root", "netem", *words]
                for end, _ in self.cables(node)]

    def commands(self, action: str, nodes: list[str], value: str = "") -> list[list[str]]:
        """The commands that apply ``action`` (one of ACTIONS) to ``nodes``."""
        if action == "partition":
            return self.partition(nodes)
        if action == "heal":
            return self.heal()
        if action in ("down", "up"):
            return [c for n in nodes for c in self.set_link(n, action == "up")]
        return [c for n in nodes for c in self.set_netem(n, action, value)]

    def heal(self) -> list[list[str]]:
        commands = []
        for number in list(self.islands):
            commands += self._remove_island(number)
        for node in sorted(self.down):
            commands += self.set_link(node, up=True)
        for node in sorted(self.netem):
            commands += [[TC, "qdisc", "del", "dev", end, "root"] for end, _ in self.cables(node)]
        self.netem.clear()
        return commands

    def _remove_island(self, number: int) -> list[list[str]]:
        commands = []
        for node in self.islands.pop(number):
            for end, normal in self.cables(node):
                commands.append([IP, "link", "set", end, "master", normal])
        for normal in self._switches():
            commands.append([IP, "link", "del", self.island_switch(number, normal)])
        return commands

    def _switches(self) -> list[str]:
        return [BRIDGE] + ([SECONDARY_BRIDGE] if self.spec.secondary_network else [])

    # -- reporting ---------------------------------------------------------
    def of_node(self, node: str) -> list[str]:
        """What is wrong with ``node``'s network, in words."""
        found = []
        for number, members in self.islands.items():
            if node in members:
                others = [n for n in members if n != node]
                found.append(f"partitioned (island {number}" +
                             (f" with {', '.join(others)})" if others else ")"))
        if node in self.down:
            found.append("link down")
        for kind, value in self.netem.get(node, {}).items():
            found.append(f"{kind} {value}")
        return found

    def as_dict(self) -> dict:
        return {
            "islands": [list(m) for _, m in sorted(self.islands.items())],
            "down": sorted(self.down),
            "netem": {n: dict(p) for n, p in sorted(self.netem.items())},
        }


NETEM_MISSING = ("netem is not supported by this kernel",
                 "delay and loss need the sch_netem qdisc (CONFIG_NET_SCH_NETEM); "
                 "partition, down and up work without it")


def is_netem_missing(stderr: str) -> bool:
    """tc's answer when the kernel has no netem scheduler (or cannot load it)."""
    text = stderr.lower()
    return "qdisc kind is unknown" in text or "unknown qdisc" in text or \
        "no such file or directory" in text
