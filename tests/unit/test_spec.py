"""spec.py: ClusterSpec validation, addresses, names, persistence."""

import ipaddress
import json

import pytest

from vcluster_ns.errors import ExitCode, InvalidInput, OperationFailed
from vcluster_ns.spec import ClusterSpec, check_domain, check_label, parse_network


def test_defaults():
    spec = ClusterSpec()
    assert (spec.name, spec.nodes, spec.network, spec.domain, spec.instances,
            spec.cluster_name) == ("default", 3, "192.0.2.0/24", "", 20, "cluster")
    assert spec.node_names == ["node1", "node2", "node3"]
    assert spec.master_node == "node1"
    assert spec.instance_names[0] == "instance1" and len(spec.instance_names) == 20
    assert spec.cluster_fqdn == "cluster"


def test_spec_is_frozen():
    with pytest.raises(Exception):
        ClusterSpec().nodes = 5


@pytest.mark.parametrize("nodes", [0, -1, -100])
def test_node_count_below_one(nodes):
    with pytest.raises(InvalidInput) as exc:
        ClusterSpec(nodes=nodes)
    assert exc.value.exit_code == ExitCode.USAGE == 2
    assert "node count" in exc.value.message


@pytest.mark.parametrize("nodes", ["3", 2.0, None])
def test_node_count_not_an_int(nodes):
    with pytest.raises(InvalidInput):
        ClusterSpec(nodes=nodes)


def test_node_count_above_maximum():
    with pytest.raises(InvalidInput, match="2000"):
        ClusterSpec(nodes=2001, network="10.0.0.0/8")


def test_too_many_nodes_for_network_suggests_larger_one():
    with pytest.raises(InvalidInput) as exc:
        ClusterSpec(nodes=300)
    assert exc.value.exit_code == 2
    assert "too small" in exc.value.message
    assert "198.18.0.0/16" in exc.value.one_line()
    # The suggestion really is big enough.
    assert ClusterSpec(nodes=300, network="198.18.0.0/16").nodes == 300


def test_network_capacity_boundaries():
    # /24 has host offsets 1..254; 20 instances follow the nodes.
    assert ClusterSpec(nodes=225).last_host_offset() == 254
    with pytest.raises(InvalidInput):
        ClusterSpec(nodes=226)
    assert ClusterSpec(nodes=245, instances=0).last_host_offset() == 254
    with pytest.raises(InvalidInput):
        ClusterSpec(nodes=246, instances=0)


@pytest.mark.parametrize("network", ["192.0.2.0/30", "192.0.2.0/31", "192.0.2.0/32",
                                     "192.0.2.0/29"])
def test_tiny_networks_rejected(network):
    with pytest.raises(InvalidInput, match="too small"):
        ClusterSpec(network=network, instances=0, nodes=1)


def test_negative_instances_rejected():
    with pytest.raises(InvalidInput, match="instance count"):
        ClusterSpec(instances=-1)


def test_zero_instances_allowed():
    spec = ClusterSpec(instances=0)
    assert spec.instance_names == [] and spec.instance_ips == {}


@pytest.mark.parametrize("name", ["Bad/Name", "a/b", "..", ".", "a b", "Upper", "",
                                  "-lead", "trail-", "x" * 64, "under_score", "a.b"])
def test_invalid_cluster_names(name):
    with pytest.raises(InvalidInput) as exc:
        ClusterSpec(name=name)
    assert exc.value.exit_code == 2
    assert repr(name) in exc.value.message


@pytest.mark.parametrize("name", ["a", "default", "c-2", "x" * 63, "0"])
def test_valid_cluster_names(name):
    assert ClusterSpec(name=name).name == name
    assert check_label("cluster name", name) == name


def test_invalid_ganeti_cluster_name():
    with pytest.raises(InvalidInput, match="Ganeti cluster name"):
        ClusterSpec(cluster_name="My Cluster")


@pytest.mark.parametrize("domain", ["Example.test", "example..test", ".example",
                                    "exa mple.test", "a/b", "x." * 120 + "x"])
def test_invalid_domains(domain):
    with pytest.raises(InvalidInput, match="invalid domain"):
        ClusterSpec(domain=domain)


def test_valid_domain():
    assert check_domain("") == ""
    assert check_domain("example.test") == "example.test"


@pytest.mark.parametrize("network", ["banana", "192.0.2.0/33", "300.0.0.0/24", ""])
def test_invalid_cidr(network):
    with pytest.raises(InvalidInput, match="invalid network") as exc:
        ClusterSpec(network=network)
    assert exc.value.exit_code == 2


def test_host_bits_set_rejected():
    with pytest.raises(InvalidInput, match="invalid network"):
        parse_network("192.0.2.1/24")


@pytest.mark.parametrize("network", ["2001:db8::/64", "::/0", "fd00::/8"])
def test_ipv6_rejected(network):
    with pytest.raises(InvalidInput, match="IPv6") as exc:
        ClusterSpec(network=network)
    assert "198.18.0.0/16" in exc.value.one_line()


def test_address_assignment_default():
    spec = ClusterSpec(nodes=3, instances=2)
    assert spec.cluster_ip == ipaddress.IPv4Address("192.0.2.1")
    assert {n: str(ip) for n, ip in spec.node_ips.items()} == {
        "node1": "192.0.2.10", "node2": "192.0.2.11", "node3": "192.0.2.12"}
    assert {n: str(ip) for n, ip in spec.instance_ips.items()} == {
        "instance1": "192.0.2.100", "instance2": "192.0.2.101"}
    assert str(spec.node_ip("node2")) == "192.0.2.11"


def test_address_assignment_ninety_nodes_keeps_instances_at_100():
    spec = ClusterSpec(nodes=90, instances=1)
    assert str(spec.node_ip("node90")) == "192.0.2.99"
    assert str(spec.instance_ips["instance1"]) == "192.0.2.100"


def test_address_assignment_instances_after_last_node_when_more_than_90():
    spec = ClusterSpec(nodes=120, instances=2, network="198.18.0.0/16")
    assert str(spec.node_ip("node120")) == "198.18.0.129"
    assert [str(ip) for ip in spec.instance_ips.values()] == ["198.18.0.130",
                                                             "198.18.0.131"]
    all_ips = list(spec.node_ips.values()) + list(spec.instance_ips.values()) + \
        [spec.cluster_ip]
    assert len(set(all_ips)) == len(all_ips)


def test_addresses_follow_the_network():
    spec = ClusterSpec(network="10.1.2.0/24", nodes=1)
    assert str(spec.cluster_ip) == "10.1.2.1"
    assert str(spec.node_ip("node1")) == "10.1.2.10"


def test_names_with_domain():
    spec = ClusterSpec(nodes=2, instances=1, domain="example.test")
    assert spec.node_names == ["node1.example.test", "node2.example.test"]
    assert spec.instance_names == ["instance1.example.test"]
    assert spec.cluster_fqdn == "cluster.example.test"
    assert spec.master_node == "node1.example.test"


def test_resolve_node_short_and_full():
    spec = ClusterSpec(nodes=3, domain="example.test")
    assert spec.resolve_node("node2") == "node2.example.test"
    assert spec.resolve_node("node2.example.test") == "node2.example.test"
    plain = ClusterSpec(nodes=3)
    assert plain.resolve_node("node3") == "node3"


@pytest.mark.parametrize("name", ["node4", "node0", "node", "", "node1.other.test",
                                  "cluster"])
def test_resolve_unknown_node(name):
    spec = ClusterSpec(nodes=3, domain="example.test")
    with pytest.raises(InvalidInput, match="unknown node") as exc:
        spec.resolve_node(name)
    assert exc.value.exit_code == 2
    assert "node1.example.test..node3.example.test" in exc.value.hint


def test_json_round_trip():
    spec = ClusterSpec(name="c2", nodes=5, network="10.9.0.0/16", domain="ex.test",
                       instances=7, cluster_name="gc")
    text = spec.to_json()
    assert json.loads(text)["version"] == 1
    assert ClusterSpec.from_json(text) == spec


def test_save_and_load(tmp_path):
    spec = ClusterSpec(nodes=4)
    path = tmp_path / "cluster.json"
    spec.save(path)
    assert ClusterSpec.load(path) == spec
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster.json"]


@pytest.mark.parametrize("text", [
    "", "{", "not json", "[1, 2]", "null", '"string"',
    '{"name": "x"}',                                     # no version
    '{"version": 2, "name": "x"}',                       # wrong version
    '{"version": "1", "name": "x"}',                     # version of wrong type
    '{"version": 1, "bogus": 1}',                        # unknown field
    '{"version": 1, "nodes": 0}',                        # invalid value
    '{"version": 1, "name": "Bad/Name"}',
    '{"version": 1, "network": "::/0"}',
    '{"version": 1, "nodes": "3"}',
])
def test_corrupted_json(text):
    with pytest.raises(OperationFailed) as exc:
        ClusterSpec.from_json(text, where="/x/cluster.json")
    assert exc.value.exit_code == 1
    assert exc.value.message.startswith("corrupted /x/cluster.json")
    assert "destroy" in exc.value.hint


def test_load_binary_file(tmp_path):
    path = tmp_path / "cluster.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(OperationFailed, match="corrupted"):
        ClusterSpec.load(path)


def test_differences():
    a = ClusterSpec(nodes=3, domain="", instances=20)
    b = ClusterSpec(nodes=5, domain="example.test", instances=20)
    assert a.differences(b, {"nodes", "domain", "instances", "network"}) == [
        "domain", "nodes"]
    assert a.differences(b, {"instances"}) == []
    assert a.differences(b, set()) == []
    assert a.differences(a, {"nodes", "domain"}) == []


def test_smallest_workable_network():
    # /28: host offsets 1..14; one node at offset 10 fits when no instances.
    spec = ClusterSpec(network="192.0.2.0/28", nodes=1, instances=0)
    assert str(spec.node_ip("node1")) == "192.0.2.10"
    with pytest.raises(InvalidInput):
        ClusterSpec(network="192.0.2.0/28", nodes=1, instances=1)


def test_isolated_is_the_default_network_mode():
    spec = ClusterSpec()
    assert spec.network_mode == "isolated" and spec.isolated
    assert str(spec.switch_ip) == "192.0.2.2"
    assert spec.node_secondary_ip("node1") is None


def test_old_cluster_json_keeps_the_shared_network():
    text = ClusterSpec().to_json().replace('"network_mode": "isolated",\n', "")
    assert "network_mode" not in text
    assert ClusterSpec.from_json(text).network_mode == "shared"


def test_secondary_network_addresses():
    spec = ClusterSpec(nodes=3, secondary_network="198.51.100.0/24")
    assert str(spec.node_secondary_ip("node3")) == "198.51.100.12"
    assert str(spec.secondary_switch_ip) == "198.51.100.2"
    assert ClusterSpec.from_json(spec.to_json()) == spec


@pytest.mark.parametrize("kwargs,message", [
    ({"network_mode": "bridged"}, "invalid network mode 'bridged'"),
    ({"secondary_network": "192.0.2.128/25"}, "overlaps the network 192.0.2.0/24"),
    ({"secondary_network": "198.51.100.0/28", "nodes": 10}, "is too small for 10 nodes"),
    ({"secondary_network": "fd00::/64"}, "IPv6 network"),
    ({"secondary_network": "198.51.100.0/24", "network_mode": "shared"},
     "needs per-node network namespaces"),
])
def test_bad_network_modes_and_secondary_networks(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        ClusterSpec(**kwargs)
