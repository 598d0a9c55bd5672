"""The description of one virtual cluster: names, addresses and paths.

A ``ClusterSpec`` is pure data, validated on construction and persisted as
``<cluster dir>/cluster.json``.  Naming follows Ganeti's ``vcluster-setup``:
nodes ``node1..nodeN``, the cluster itself named ``cluster``; in the network
the cluster (master) IP is host address 1, nodes start at host address 10 and
instances ``instance1..M`` at host address 100 (or right after the last node
when there are more than 90 nodes).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
from pathlib import Path

from .errors import InvalidInput, OperationFailed

SPEC_VERSION = 1
DEFAULT_NETWORK = "192.0.2.0/24"
LARGE_NETWORK_EXAMPLE = "198.18.0.0/16"
DEFAULT_NODES = 3
DEFAULT_INSTANCES = 20
MAX_NODES = 2000
# Seconds between ganeti-watcher runs on every node, as cron does on real
# nodes (0: never).  The watcher restarts Ganeti daemons that are missing.
DEFAULT_WATCHER_INTERVAL = 300
CLUSTER_HOST_OFFSET = 1
# In isolated mode the cluster's switch (the bridge in the cluster's root
# network namespace, where the supervisor lives) holds this address.
SWITCH_HOST_OFFSET = 2
NODE_HOST_OFFSET = 10
INSTANCE_HOST_OFFSET = 100

# Directory names and Ganeti host names share these rules: lowercase DNS
# labels, so they are safe as path components and as host names at once.
# "isolated": one network namespace per node, on a switch, as real machines.
# "shared": every node's address in one namespace (vcluster-setup's design);
# lighter, but daemons must bind their node's address and nodes can reach
# each other's loopback.
NETWORK_MODES = ("isolated", "shared")
DEFAULT_NETWORK_MODE = "isolated"

# Ganeti's node group that gnt-cluster init creates.
DEFAULT_GROUP = "default"
# Per-node settings: sizes in MiB, roles at creation.
NODE_KEYS = ("memory", "memory_reserved", "cpus", "disk", "group",
             "drained", "offline", "master_capable")

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_label(kind: str, value: str) -> str:
    """Validate a single lowercase DNS label (cluster or node name)."""
    if not _LABEL.match(value or ""):
        raise InvalidInput(
            f"invalid {kind} {value!r}",
            "use lowercase letters, digits and '-', at most 63 characters, "
            "starting and ending with a letter or digit",
        )
    return value


def check_domain(domain: str) -> str:
    if domain == "":
        return domain
    labels = domain.split(".")
    if len(domain) > 200 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(
            f"invalid domain {domain!r}",
            "use dot-separated lowercase labels such as 'example.test'",
        )
    return domain


def parse_slice(text: str, nodes: int) -> tuple[int, int]:
    """``--slice`` "4-6" (or "4") of node1..node``nodes``: (first, last)."""
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", str(text or ""))
    if not match:
        raise InvalidInput(f"invalid slice {text!r}",
                           "give a node range such as 4-6 (node4..node6)")
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if not 1 <= first <= last <= nodes:
        raise InvalidInput(f"slice {text} is not within node1..node{nodes}",
                           f"give a range from 1 to {nodes}, first node first")
    return first, last


def parse_join(text: str) -> tuple[str | None, str, int | None]:
    """``--join`` "[user@]host[:port]": (user, host, port)."""
    match = re.fullmatch(r"(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])"
                         r"(?::(\d{1,5}))?", str(text or ""))
    if not match or (match.group(3) and not 0 < int(match.group(3)) < 65536):
        raise InvalidInput(f"invalid --join {text!r}",
                           "give the master slice's machine as [user@]host[:port], "
                           "reachable with ssh")
    port = int(match.group(3)) if match.group(3) else None
    return match.group(1), match.group(2).strip("[]"), port


def parse_network(text: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        raise InvalidInput(
            f"invalid network {text!r}: {exc}",
            f"give an IPv4 prefix such as {DEFAULT_NETWORK}",
        ) from None
    if network.version != 4:
        raise InvalidInput(
            f"IPv6 network {text!r} is not supported",
            f"give an IPv4 prefix such as {LARGE_NETWORK_EXAMPLE}",
        )
    return network


@dataclasses.dataclass(frozen=True)
class ClusterSpec:
    name: str = "default"
    nodes: int = DEFAULT_NODES
    network: str = DEFAULT_NETWORK
    domain: str = ""
    instances: int = DEFAULT_INSTANCES
    cluster_name: str = "cluster"
    watcher_interval: int = DEFAULT_WATCHER_INTERVAL
    rapi_port: int | None = None  # host loopback port for RAPI (0: any free one)
    network_mode: str = DEFAULT_NETWORK_MODE
    secondary_network: str | None = None  # Ganeti's replication network
    # Which Ganeti runs (ganeti/install.py): None for the system's, else the
    # absolute path of an installation tree (--ganeti); the version read from
    # it at creation; more trees installed beside it (--ganeti-extra).
    ganeti: str | None = None
    ganeti_version: str | None = None
    ganeti_extra: tuple[str, ...] = ()
    # Nodes that differ (clusterfile.py; the keys are listed in NODE_KEYS):
    # per-node settings by full node name, extra node groups, the instances
    # ``up`` creates (SEED_KEYS) and options of gnt-cluster init (INIT_KEYS).
    node_settings: dict = dataclasses.field(default_factory=dict)
    groups: tuple[str, ...] = ()
    seed: dict | None = None
    init_params: dict = dataclasses.field(default_factory=dict)
    # Slices (docs/slices.md): this machine runs nodes ``slice`` ("4-6") of
    # node1..nodeN (None: all of them).  ``join`` is how the slice reaches
    # the master's slice ("[user@]host[:port]", through ssh; None: this is
    # the master's slice), ``join_command`` the vcluster-ns command there.
    slice: str | None = None
    join: str | None = None
    join_command: str | None = None

    def __post_init__(self) -> None:
        # JSON has lists; a frozen spec keeps tuples.
        object.__setattr__(self, "ganeti_extra", tuple(self.ganeti_extra or ()))
        object.__setattr__(self, "groups", tuple(self.groups or ()))
        for tree in (self.ganeti, *self.ganeti_extra):
            if tree is not None and (not isinstance(tree, str) or not os.path.isabs(tree)):
                raise InvalidInput(f"invalid Ganeti tree {tree!r}", "give an absolute path")
        check_label("cluster name", self.name)
        check_label("Ganeti cluster name", self.cluster_name)
        check_domain(self.domain)
        if not _is_int(self.nodes) or self.nodes < 1:
            raise InvalidInput(
                f"invalid node count {self.nodes!r}", "give at least 1 node"
            )
        if self.nodes > MAX_NODES:
            raise InvalidInput(
                f"node count {self.nodes} is above the supported {MAX_NODES}"
            )
        if not _is_int(self.watcher_interval) or self.watcher_interval < 0:
            raise InvalidInput(
                f"invalid watcher interval {self.watcher_interval!r}",
                "give seconds, or 0 to never run ganeti-watcher")
        if self.rapi_port is not None and (
                not _is_int(self.rapi_port) or not 0 <= self.rapi_port <= 65535):
            raise InvalidInput(f"invalid RAPI port {self.rapi_port!r}",
                               "give a port number from 1024 to 65535, or 0 for a free one")
        if not _is_int(self.instances) or self.instances < 0:
            raise InvalidInput(
                f"invalid instance count {self.instances!r}", "give 0 or more"
            )
        if self.network_mode not in NETWORK_MODES:
            raise InvalidInput(f"invalid network mode {self.network_mode!r}",
                               "use 'isolated' or 'shared'")
        net = parse_network(self.network)
        if self.secondary_network is not None:
            self._check_secondary(net)
        needed = self.last_host_offset()
        available = net.num_addresses - 2
        if net.prefixlen > 30 or needed > available:
            raise InvalidInput(
                f"network {net} is too small for {self.nodes} nodes and "
                f"{self.instances} instances (needs {needed} host addresses, "
                f"has {max(available, 0)})",
                f"use a larger one, e.g. --network {LARGE_NETWORK_EXAMPLE}",
            )

        self._check_topology()
        self._check_slice()

    def _check_slice(self) -> None:
        if self.slice is None:
            if self.join is not None:
                raise InvalidInput("--join needs --slice",
                                   "give the nodes this machine runs, e.g. --slice 4-6")
            return
        first, last = parse_slice(self.slice, self.nodes)
        if self.network_mode != "isolated":
            raise InvalidInput("slices need a network namespace per node",
                               "drop --network-mode shared")
        if self.join is None and first != 1:
            raise InvalidInput(f"slice {self.slice} does not hold node1, where Ganeti is "
                               "initialised", "give --join HOST of the master's slice, "
                               "or a slice starting at 1")
        if self.join is not None and first == 1:
            raise InvalidInput(f"slice {self.slice} holds node1, the master's slice",
                               "start it without --join; other slices join it")
        if self.join is not None:
            parse_join(self.join)
            if self.rapi_port is not None:
                raise InvalidInput("--rapi-port needs the master's slice (a joining "
                                   "slice's switch has no address to forward from)",
                                   "give --rapi-port on the machine that runs node1")

    @property
    def sliced(self) -> bool:
        return self.slice is not None

    @property
    def joins(self) -> bool:
        """Does this slice join another (the master's)?"""
        return self.join is not None

    @property
    def slice_range(self) -> tuple[int, int]:
        return parse_slice(self.slice, self.nodes) if self.slice else (1, self.nodes)

    @property
    def lead_node(self) -> str:
        """The local node whose files tell whether this slice has joined
        Ganeti: node1 (init runs there), or a joining slice's first node."""
        return self.node_names[0]

    def is_local(self, node: str) -> bool:
        return node in self.node_names

    def _check_topology(self) -> None:
        """What clusterfile.py checked with key paths, checked again for
        specs made in Python or read from cluster.json."""
        for group in self.groups:
            check_label("node group name", group)
        if len(set(self.groups)) != len(self.groups) or DEFAULT_GROUP in self.groups:
            raise InvalidInput(f"duplicate node group in {list(self.groups)}",
                               f"name each group once ({DEFAULT_GROUP!r} always exists)")
        names = set(self.all_node_names)
        for node, settings in self.node_settings.items():
            if node not in names:
                raise InvalidInput(f"settings for unknown node {node!r}",
                                   f"this cluster has {self.node_names[0]}..{self.node_names[-1]}")
            unknown = set(settings) - set(NODE_KEYS)
            if unknown:
                raise InvalidInput(f"unknown setting {sorted(unknown)[0]!r} of node {node}",
                                   f"use {', '.join(NODE_KEYS)}")
            group = settings.get("group", DEFAULT_GROUP)
            if group != DEFAULT_GROUP and group not in self.groups:
                raise InvalidInput(f"node {node} is in group {group!r}, which does not exist",
                                   "declare it among the groups")
            for key in ("memory", "cpus", "disk"):
                if key in settings and (not _is_int(settings[key]) or settings[key] < 1):
                    raise InvalidInput(f"invalid {key} {settings[key]!r} of node {node}",
                                       "give a positive whole number (MiB, or CPUs)")
        if self.seed is not None:
            count = self.seed.get("count", 0)
            if not _is_int(count) or not 0 <= count <= self.instances:
                raise InvalidInput(
                    f"{count!r} seeded instances do not fit {self.instances} instance names",
                    "raise the instance count")

    def settings_of(self, node: str) -> dict:
        """A node's settings (empty: the host's figures, default group)."""
        return self.node_settings.get(node, {})

    def group_of(self, node: str) -> str:
        return self.settings_of(node).get("group", DEFAULT_GROUP)

    def _check_secondary(self, primary: ipaddress.IPv4Network) -> None:
        if self.network_mode != "isolated":
            raise InvalidInput(
                "a secondary network needs per-node network namespaces",
                "drop --network-mode shared")
        secondary = parse_network(self.secondary_network)
        if secondary.overlaps(primary):
            raise InvalidInput(
                f"secondary network {secondary} overlaps the network {primary}",
                "choose a separate prefix, e.g. --secondary-network 198.51.100.0/24")
        needed = NODE_HOST_OFFSET + self.nodes - 1
        if secondary.prefixlen > 30 or needed > secondary.num_addresses - 2:
            raise InvalidInput(
                f"secondary network {secondary} is too small for {self.nodes} nodes "
                f"(needs {needed} host addresses)",
                f"use a larger one, e.g. --secondary-network {LARGE_NETWORK_EXAMPLE}")

    @property
    def isolated(self) -> bool:
        """Does every node have its own network namespace?"""
        return self.network_mode == "isolated"

    # -- names -------------------------------------------------------------
    def fqdn(self, short: str) -> str:
        return f"{short}.{self.domain}" if self.domain else short

    @property
    def all_node_names(self) -> list[str]:
        """Every node of the Ganeti cluster, whichever machine runs it."""
        return [self.fqdn(f"node{i}") for i in range(1, self.nodes + 1)]

    @property
    def node_names(self) -> list[str]:
        """The nodes this machine runs (its slice; all without one);
        also each node's directory name."""
        first, last = self.slice_range
        return [self.fqdn(f"node{i}") for i in range(first, last + 1)]

    @property
    def instance_names(self) -> list[str]:
        return [self.fqdn(f"instance{i}") for i in range(1, self.instances + 1)]

    @property
    def cluster_fqdn(self) -> str:
        return self.fqdn(self.cluster_name)

    @property
    def master_node(self) -> str:
        """The node Ganeti is initialised on (node1, in the master's slice)."""
        return self.all_node_names[0]

    def resolve_node(self, name: str) -> str:
        """Accept a short or full node name (of any slice); return the full one."""
        for full in self.all_node_names:
            if name in (full, full.split(".")[0]):
                return full
        raise InvalidInput(
            f"unknown node {name!r}",
            f"this cluster has {self.node_names[0]}..{self.node_names[-1]}",
        )

    # -- addresses ---------------------------------------------------------
    @property
    def ip_network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.network)

    def _host(self, offset: int) -> ipaddress.IPv4Address:
        return self.ip_network.network_address + offset

    @property
    def cluster_ip(self) -> ipaddress.IPv4Address:
        return self._host(CLUSTER_HOST_OFFSET)

    def instance_host_offset(self) -> int:
        return max(INSTANCE_HOST_OFFSET, NODE_HOST_OFFSET + self.nodes)

    def last_host_offset(self) -> int:
        if self.instances:
            return self.instance_host_offset() + self.instances - 1
        return NODE_HOST_OFFSET + self.nodes - 1

    def node_ip(self, node: str) -> ipaddress.IPv4Address:
        # From the index among all nodes: every slice agrees on every address.
        return self._host(NODE_HOST_OFFSET + self.node_index(node) - 1)

    @property
    def node_ips(self) -> dict[str, ipaddress.IPv4Address]:
        """The addresses of the nodes this machine runs."""
        return {n: self.node_ip(n) for n in self.node_names}

    @property
    def all_node_ips(self) -> dict[str, ipaddress.IPv4Address]:
        return {n: self.node_ip(n) for n in self.all_node_names}

    @property
    def switch_ip(self) -> ipaddress.IPv4Address | None:
        """The switch's own address; a joining slice's switch has none (the
        master's slice holds it: two would collide on the one segment)."""
        return None if self.joins else self._host(SWITCH_HOST_OFFSET)

    @property
    def secondary_ip_network(self) -> ipaddress.IPv4Network | None:
        if self.secondary_network is None:
            return None
        return ipaddress.IPv4Network(self.secondary_network)

    def node_secondary_ip(self, node: str) -> ipaddress.IPv4Address | None:
        net = self.secondary_ip_network
        if net is None:
            return None
        return net.network_address + NODE_HOST_OFFSET + self.node_index(node) - 1

    @property
    def secondary_switch_ip(self) -> ipaddress.IPv4Address | None:
        net = self.secondary_ip_network
        return None if net is None else net.network_address + SWITCH_HOST_OFFSET

    def node_index(self, node: str) -> int:
        """1 for node1: names host-side links (interface names are short)."""
        short = node.split(".")[0]
        index = int(short[4:]) if short[:4] == "node" and short[4:].isdigit() else 0
        if not 1 <= index <= self.nodes or self.fqdn(short) != node:
            raise ValueError(f"{node!r} is not a node of this cluster")
        return index

    @property
    def instance_ips(self) -> dict[str, ipaddress.IPv4Address]:
        start = self.instance_host_offset()
        return {n: self._host(start + i) for i, n in enumerate(self.instance_names)}

    # -- persistence -------------------------------------------------------
    def to_json(self) -> str:
        data = {"version": SPEC_VERSION, **dataclasses.asdict(self)}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str = "cluster.json") -> "ClusterSpec":
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            version = data.pop("version", None)
            if version != SPEC_VERSION:
                raise ValueError(f"unsupported version {version!r}")
            # Clusters made before per-node namespaces existed keep the shared
            # network their Ganeti configuration was initialised for.
            data.setdefault("network_mode", "shared")
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise OperationFailed(
                f"corrupted {where}: {exc}",
                "fix or remove the file, or 'vcluster-ns destroy' the cluster",
            ) from None
        except InvalidInput as exc:
            raise OperationFailed(
                f"corrupted {where}: {exc.message}",
                "fix or remove the file, or 'vcluster-ns destroy' the cluster",
            ) from None

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "ClusterSpec":
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            raise OperationFailed(
                f"corrupted {path}: not text",
                "fix or remove the file, or 'vcluster-ns destroy' the cluster",
            ) from None
        except OSError as exc:
            raise OperationFailed(
                f"cannot read {path}: {exc.strerror}",
                "fix its permissions, or 'vcluster-ns destroy' the cluster",
            ) from None
        return cls.from_json(text, str(path))

    def differences(self, other: "ClusterSpec", fields: set[str]) -> list[str]:
        """Names of the given fields whose values differ from ``other``'s."""
        return [
            f for f in sorted(fields) if getattr(self, f) != getattr(other, f)
        ]
