"""Slices without a machine: ranges, addresses, the join check, the remote shell's frames."""

from __future__ import annotations

import pytest

from vcluster_ns import rexec, slices
from vcluster_ns.errors import ClusterNotUp, InvalidInput
from vcluster_ns.layout import ClusterPaths, render_hosts
from vcluster_ns.netns import plan_network
from vcluster_ns.shims.ssh import localize
from vcluster_ns.spec import ClusterSpec, parse_join, parse_slice

JOIN = "alice@hosta:2222"


def joining(**kw) -> ClusterSpec:
    return ClusterSpec(**{"nodes": 6, "slice": "4-6", "join": JOIN, **kw})


def test_a_slice_runs_its_nodes_and_knows_every_address():
    a, b = ClusterSpec(nodes=6, slice="1-3"), joining()
    assert a.node_names == ["node1", "node2", "node3"]
    assert b.node_names == ["node4", "node5", "node6"]
    assert a.all_node_ips == b.all_node_ips  # both computed from the node index
    assert str(b.node_ip("node4")) == "192.0.2.13" and b.master_node == "node1"
    assert "192.0.2.10\tnode1" in render_hosts(b)  # every slice lists every node


def test_only_the_masters_slice_switch_has_an_address():
    assert str(ClusterSpec(nodes=6, slice="1-3").switch_ip) == "192.0.2.2"
    plan = plan_network(joining())
    assert [s.address for s in plan.switches] == [None]
    assert sorted(plan.nodes) == ["node4", "node5", "node6"]


@pytest.mark.parametrize("text, message", [
    ("7", "not within node1..node6"), ("5-4", "not within"), ("x", "invalid slice"),
    ("0-2", "not within")])
def test_bad_slices(text, message):
    with pytest.raises(InvalidInput, match=message):
        parse_slice(text, 6)


@pytest.mark.parametrize("fields, message", [
    ({"slice": "4-6"}, "does not hold node1"),
    ({"slice": "1-3", "join": JOIN}, "holds node1"),
    ({"join": JOIN}, "--join needs --slice"),
    ({"slice": "1-3", "network_mode": "shared"}, "network namespace per node"),
    ({"slice": "4-6", "join": "a b"}, "invalid --join")])
def test_bad_slice_combinations(fields, message):
    with pytest.raises(InvalidInput, match=message):
        ClusterSpec(nodes=6, **fields)


def test_join_addresses():
    assert parse_join("bob@127.0.0.1:2200") == ("bob", "127.0.0.1", 2200)
    assert parse_join("hosta") == (None, "hosta", None)
    argv = slices.ssh_argv(joining(join_command="/opt/v/bin/vcluster-ns --root /r"),
                           "link-hello")
    assert argv[-2] == "hosta"
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-l") + 1] == "alice"
    assert argv[-1] == "/opt/v/bin/vcluster-ns --root /r --cluster default link-hello"
    named = joining(join_command="vcluster-ns --cluster other")
    assert slices.remote_words(named) == ["vcluster-ns", "--cluster", "other"]


def hello(**kw) -> dict:
    return {**slices.hello_answer(ClusterSpec(nodes=6, slice="1-3"), True, {}, "t", "3.0.2"),
            **kw}


def test_check_peer_accepts_a_matching_slice_and_refuses_the_rest():
    slices.check_peer(joining(), hello(), "3.0.2", [])
    slices.check_peer(joining(), hello(slices=["4-6"]), "3.0.2", [])  # itself, again
    with pytest.raises(InvalidInput, match="overlaps slice 1-3"):
        slices.check_peer(joining(slice="3-5"), hello(), "3.0.2", [])
    with pytest.raises(InvalidInput, match="overlaps slice 5-6"):
        slices.check_peer(joining(), hello(slices=["5-6"]), "3.0.2", [])
    with pytest.raises(InvalidInput, match="--nodes"):
        slices.check_peer(joining(nodes=7), hello(), "3.0.2", [])
    with pytest.raises(InvalidInput, match="Ganeti 3.1.0, the master's slice 3.0.2"):
        slices.check_peer(joining(), hello(), "3.1.0", [])
    slices.check_peer(joining(), hello(), "3.1.0", ["3.0.2"])  # --ganeti-extra has it
    with pytest.raises(ClusterNotUp):
        slices.check_peer(joining(), hello(up=False), "3.0.2", [])


def test_which_links_a_partition_cuts():
    hub, leaf = ClusterSpec(nodes=6, slice="1-2"), joining()
    registry = {"3-4": {}, "5-6": {}}
    assert slices.partition_peers(hub, ["node1"], registry) is None  # an ordinary one
    assert slices.partition_peers(hub, ["node5", "node6"], registry) == ["5-6"]
    assert slices.partition_peers(hub, ["node3", "node4", "node5", "node6"],
                                  registry) == ["3-4", "5-6"]
    with pytest.raises(InvalidInput, match="not whole joined slices"):
        slices.partition_peers(hub, ["node5"], registry)
    with pytest.raises(InvalidInput, match="cuts whole slices"):
        slices.partition_peers(hub, ["node1", "node5"], registry)
    assert slices.partition_peers(leaf, ["node4", "node5", "node6"], {}) == ["1"]
    assert slices.partition_peers(leaf, ["node1", "node2", "node3"], {}) == ["1"]
    assert slices.partition_peers(leaf, ["node4"], {}) is None


def test_frames_survive_any_split():
    data = rexec.frame(rexec.STDOUT, b"hello") + rexec.frame(rexec.EXIT, b"7")
    for cut in range(len(data) + 1):
        reader = rexec.FrameReader()
        assert reader.feed(data[:cut]) + reader.feed(data[cut:]) == [
            (rexec.STDOUT, b"hello"), (rexec.EXIT, b"7")]


def test_a_remote_command_is_localised_to_this_machines_directories(tmp_path):
    paths = ClusterPaths(tmp_path / "c")
    script = "ln -s x /home/a/c/node1/etc/ganeti/lib; cat /home/a/c/node4/x"
    assert localize(script, "/home/a/c/node1", paths, "node5") == (
        f"ln -s x {paths.dir}/node5/etc/ganeti/lib; cat {paths.dir}/node4/x")
