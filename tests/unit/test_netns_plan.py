"""netns.py: the network plan derived from a spec (nothing is applied)."""

import ipaddress

from vcluster_ns.netns import BRIDGE, plan_network
from vcluster_ns.spec import ClusterSpec


def test_plan_network():
    plan = plan_network(ClusterSpec(nodes=3, network="10.5.0.0/16"))
    assert plan.bridge == BRIDGE
    assert [str(a) for a in plan.addresses] == ["10.5.0.10", "10.5.0.11", "10.5.0.12"]
    assert plan.unreachable == ipaddress.IPv4Network("10.5.0.0/16")
    # the cluster IP is not held by anyone before gnt-cluster init
    assert ipaddress.IPv4Address("10.5.0.1") not in plan.addresses
