"""The network of a cluster, with pyroute2, in one of two shapes.

The plan is data built from the spec; the ``apply``/``connect``/``configure``
functions perform it.  Nothing here touches the host: everything runs in
network namespaces the cluster's user namespace owns.

**isolated** (the default): every node has its own network namespace, as a
real machine has, joined to the cluster's switch::

    cluster root netns (supervisor)        node3's netns
      vcbr0  switch, 192.0.2.2/24 ─── vn3 ═══ eth0  192.0.2.12/24  (+ master IP)
      vcbr1  secondary switch ──────── vs3 ═══ eth1  secondary address
                                               lo    127.0.0.1: node3's own
                                               vcbr0 local bridge for instance NICs

  Daemons keep their default bind address (0.0.0.0), ``127.0.0.1`` on a node
  reaches that node only, and the master IP moves between nodes' ``eth0``.
  Faults act on the switch side (``vn3``): see faults.py.

**shared** (vcluster-setup's design): one namespace, one bridge carrying every
node address as a /32; daemons bind their node's address with ``-b``.

An address nobody holds must not hang: ``gnt-cluster init`` TCP-pings the
cluster IP and refuses to run if it answers.  Shared mode routes the cluster
prefix to ``unreachable``; an isolated master gets an unreachable route to
the cluster IP alone while init runs (ganeti.cluster_ip_route_argv), since
ARP would give up only after the kernel's 3 s.  The kernel's ARP timing is
otherwise kept: a 250 ms retransmit time made that 0.75 s, but under full
load, with 100 nodes being added, a real neighbour's answer came too late
and ``gnt-node add`` failed with "Node not reachable by ping".

pyroute2's synchronous API is kept out of the trio loop: pid 1 calls this
before the supervisor starts.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from .spec import ClusterSpec

BRIDGE = "vcbr0"              # the switch (shared: the only bridge)
SECONDARY_BRIDGE = "vcbr1"    # the replication switch (isolated only)
NODE_BRIDGE = BRIDGE          # in each isolated node: where instance NICs link
PRIMARY_IFNAME, SECONDARY_IFNAME = "eth0", "eth1"


@dataclasses.dataclass(frozen=True)
class Switch:
    name: str
    address: ipaddress.IPv4Address | None
    prefixlen: int


@dataclasses.dataclass(frozen=True)
class NodeLink:
    """One cable: ``host_ifname`` on ``switch``, ``ifname`` inside the node."""

    switch: str
    host_ifname: str
    ifname: str
    address: ipaddress.IPv4Address
    prefixlen: int


@dataclasses.dataclass(frozen=True)
class NodeNetwork:
    node: str
    links: tuple[NodeLink, ...]


@dataclasses.dataclass(frozen=True)
class NetworkPlan:
    mode: str
    switches: tuple[Switch, ...]
    shared_addresses: tuple[ipaddress.IPv4Address, ...]  # shared mode: on BRIDGE
    unreachable: ipaddress.IPv4Network | None
    nodes: dict[str, NodeNetwork]

    @property
    def isolated(self) -> bool:
        return self.mode == "isolated"


def host_ifname(spec: ClusterSpec, node: str, secondary: bool = False) -> str:
    """The switch end of a node's cable (names are limited to 15 bytes)."""
    return f"{'vs' if secondary else 'vn'}{spec.node_index(node)}"


def plan_network(spec: ClusterSpec) -> NetworkPlan:
    net = spec.ip_network
    if not spec.isolated:
        return NetworkPlan(
            mode="shared",
            switches=(Switch(BRIDGE, None, 32),),
            shared_addresses=tuple(spec.node_ips.values()),
            unreachable=net,
            nodes={},
        )
    switches = [Switch(BRIDGE, spec.switch_ip, net.prefixlen)]
    secondary = spec.secondary_ip_network
    if secondary is not None:
        switches.append(Switch(SECONDARY_BRIDGE, spec.secondary_switch_ip,
                               secondary.prefixlen))
    nodes = {}
    for node, ip in spec.node_ips.items():
        links = [NodeLink(BRIDGE, host_ifname(spec, node), PRIMARY_IFNAME, ip, net.prefixlen)]
        if secondary is not None:
            links.append(NodeLink(SECONDARY_BRIDGE, host_ifname(spec, node, True),
                                  SECONDARY_IFNAME, spec.node_secondary_ip(node),
                                  secondary.prefixlen))
        nodes[node] = NodeNetwork(node, tuple(links))
    return NetworkPlan("isolated", tuple(switches), (), None, nodes)


def _up(ipr, ifname: str) -> int:
    index = ipr.link_lookup(ifname=ifname)[0]
    ipr.link("set", index=index, state="up")
    return index


def apply_plan(plan: NetworkPlan) -> None:
    """Build the cluster's root network namespace (run inside it)."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        _up(ipr, "lo")
        for switch in plan.switches:
            ipr.link("add", ifname=switch.name, kind="bridge")
            index = _up(ipr, switch.name)
            if switch.address is not None:
                ipr.addr("add", index=index, address=str(switch.address),
                         prefixlen=switch.prefixlen)
        bridge = ipr.link_lookup(ifname=BRIDGE)[0]
        for address in plan.shared_addresses:
            ipr.addr("add", index=bridge, address=str(address), prefixlen=32)
        if plan.unreachable is not None:
            ipr.route("add", dst=str(plan.unreachable.network_address),
                      dst_len=plan.unreachable.prefixlen, type="unreachable")


def connect_node(node_net: NodeNetwork, pid: int, ipr=None) -> None:
    """Cable the node whose network namespace ``pid`` holds to its switches.

    Runs in the cluster's root namespace; each veth's inner end is created
    straight inside the node's namespace, so names never clash here.
    """
    from pyroute2 import IPRoute

    own = ipr is None
    ipr = ipr or IPRoute()
    try:
        for link in node_net.links:
            ipr.link("add", ifname=link.host_ifname, kind="veth",
                     peer={"ifname": link.ifname, "net_ns_pid": pid})
            switch = ipr.link_lookup(ifname=link.switch)[0]
            index = ipr.link_lookup(ifname=link.host_ifname)[0]
            ipr.link("set", index=index, master=switch, state="up")
    finally:
        if own:
            ipr.close()


def configure_node(node_net: NodeNetwork) -> None:
    """Inside a node's fresh network namespace: loopback, addresses, bridge."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        _up(ipr, "lo")
        for link in node_net.links:
            index = _up(ipr, link.ifname)
            ipr.addr("add", index=index, address=str(link.address),
                     prefixlen=link.prefixlen)
        ipr.link("add", ifname=NODE_BRIDGE, kind="bridge")
        _up(ipr, NODE_BRIDGE)

