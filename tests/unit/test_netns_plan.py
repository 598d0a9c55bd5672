"""netns.py: the network plan derived from a spec (nothing is applied)."""

import ipaddress

from vcluster_ns.netns import (BRIDGE, SECONDARY_BRIDGE, NodeLink, host_ifname,
                               plan_network)
from vcluster_ns.spec import ClusterSpec


def test_shared_plan_puts_every_node_address_on_one_bridge():
    plan = plan_network(ClusterSpec(nodes=3, network="10.5.0.0/16", network_mode="shared"))
    assert not plan.isolated and plan.nodes == {}
    assert [s.name for s in plan.switches] == [BRIDGE]
    assert [str(a) for a in plan.shared_addresses] == ["10.5.0.10", "10.5.0.11", "10.5.0.12"]
    assert plan.unreachable == ipaddress.IPv4Network("10.5.0.0/16")
    # the cluster IP is not held by anyone before gnt-cluster init
    assert ipaddress.IPv4Address("10.5.0.1") not in plan.shared_addresses


def test_isolated_plan_cables_each_node_to_the_switch():
    plan = plan_network(ClusterSpec(nodes=3, network="10.5.0.0/16"))
    assert plan.isolated and plan.shared_addresses == () and plan.unreachable is None
    (switch,) = plan.switches
    assert (switch.name, str(switch.address), switch.prefixlen) == (BRIDGE, "10.5.0.2", 16)
    assert plan.nodes["node3"].links == (
        NodeLink(BRIDGE, "vn3", "eth0", ipaddress.IPv4Address("10.5.0.12"), 16),)
    # nobody holds the cluster IP until Ganeti's master-ip-setup adds it
    held = {link.address for n in plan.nodes.values() for link in n.links}
    assert ipaddress.IPv4Address("10.5.0.1") not in held


def test_secondary_network_is_a_second_switch_and_cable():
    spec = ClusterSpec(nodes=2, secondary_network="198.51.100.0/24")
    plan = plan_network(spec)
    assert [(s.name, str(s.address)) for s in plan.switches] == [
        (BRIDGE, "192.0.2.2"), (SECONDARY_BRIDGE, "198.51.100.2")]
    assert [(link.host_ifname, link.ifname, str(link.address))
            for link in plan.nodes["node2"].links] == [
        ("vn2", "eth0", "192.0.2.11"), ("vs2", "eth1", "198.51.100.11")]


def test_host_interface_names_fit_the_kernel_limit():
    spec = ClusterSpec(nodes=2000, network="198.18.0.0/15", domain="example.test")
    names = [host_ifname(spec, n, secondary) for n in spec.node_names
             for secondary in (False, True)]
    assert max(len(n) for n in names) <= 15 and len(set(names)) == 4000
