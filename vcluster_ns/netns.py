"""The network inside a cluster's network namespace, with pyroute2.

The plan is data built from the spec; ``apply_plan`` performs it and must run
inside the new network namespace (as namespace root).  Shape:

* ``lo`` up (Ganeti's tools talk to 127.0.0.1);
* one bridge, the cluster switch, carrying every node address as a /32.  A
  bridge is used rather than ``dummy`` links because the dummy module is
  missing on some kernels; bridges are everywhere.  Instances in bridged NIC
  mode link to the same bridge;
* an ``unreachable`` route for the whole cluster prefix, so that addresses
  nobody holds (the cluster IP before ``gnt-cluster init``, instance IPs)
  fail fast instead of timing out: ``gnt-cluster init`` TCP-pings the cluster
  IP and refuses to run if it answers.

pyroute2's synchronous API is kept out of the trio loop: the supervisor calls
this before the loop starts.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from .spec import ClusterSpec

BRIDGE = "vcbr0"


@dataclasses.dataclass(frozen=True)
class NetworkPlan:
    bridge: str
    addresses: tuple[ipaddress.IPv4Address, ...]
    unreachable: ipaddress.IPv4Network


def plan_network(spec: ClusterSpec) -> NetworkPlan:
    return NetworkPlan(
        bridge=BRIDGE,
        addresses=tuple(spec.node_ips.values()),
        unreachable=spec.ip_network,
    )


def apply_plan(plan: NetworkPlan) -> None:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        lo = ipr.link_lookup(ifname="lo")[0]
        ipr.link("set", index=lo, state="up")
        ipr.link("add", ifname=plan.bridge, kind="bridge")
        bridge = ipr.link_lookup(ifname=plan.bridge)[0]
        ipr.link("set", index=bridge, state="up")
        for address in plan.addresses:
            ipr.addr("add", index=bridge, address=str(address), prefixlen=32)
        ipr.route(
            "add",
            dst=str(plan.unreachable.network_address),
            dst_len=plan.unreachable.prefixlen,
            type="unreachable",
        )
