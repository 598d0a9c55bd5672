"""faults.py: network fault state and the ip/tc commands that apply it."""

import pytest

from vcluster_ns.errors import InvalidInput
from vcluster_ns.faults import NetworkFaults, check_delay, check_loss, is_netem_missing
from vcluster_ns.spec import ClusterSpec

SPEC = ClusterSpec(nodes=4)


def test_partition_moves_the_cables_to_an_island_switch():
    faults = NetworkFaults(SPEC)
    commands = faults.partition(["node3", "node4"])
    assert commands == [
        ["ip", "link", "add", "vcisl1", "type", "bridge"],
        ["ip", "link", "set", "vcisl1", "up"],
        ["ip", "link", "set", "vn3", "master", "vcisl1"],
        ["ip", "link", "set", "vn4", "master", "vcisl1"],
    ]
    assert faults.of_node("node3") == ["partitioned (island 1 with node4)"]
    assert faults.of_node("node1") == []


def test_a_second_partition_takes_nodes_out_of_the_first():
    faults = NetworkFaults(SPEC)
    faults.partition(["node3"])
    commands = faults.partition(["node3", "node4"])
    # island 1 is left empty: its switch goes before the new island is made
    assert commands[0] == ["ip", "link", "del", "vcisl1"]
    assert commands[-2:] == [["ip", "link", "set", "vn3", "master", "vcisl1"],
                             ["ip", "link", "set", "vn4", "master", "vcisl1"]]
    assert faults.as_dict()["islands"] == [["node3", "node4"]]


def test_heal_undoes_everything():
    faults = NetworkFaults(ClusterSpec(nodes=3, secondary_network="198.51.100.0/24"))
    faults.partition(["node1"])
    faults.set_link("node2", up=False)
    faults.set_netem("node3", "delay", "50ms")
    commands = faults.heal()
    assert ["ip", "link", "set", "vn1", "master", "vcbr0"] in commands
    assert ["ip", "link", "set", "vs1", "master", "vcbr1"] in commands
    assert ["ip", "link", "del", "vcisl1s"] in commands
    assert ["ip", "link", "set", "vs2", "up"] in commands
    assert ["tc", "qdisc", "del", "dev", "vn3", "root"] in commands
    assert faults.as_dict() == {"islands": [], "down": [], "netem": {}}


def test_delay_and_loss_combine_in_one_qdisc():
    faults = NetworkFaults(SPEC)
    faults.set_netem("node2", "delay", "50ms")
    assert faults.set_netem("node2", "loss", "5%") == [
        ["tc", "qdisc", "replace", "dev", "vn2", "root", "netem", "delay", "50ms",
         "loss", "5%"]]
    assert faults.of_node("node2") == ["delay 50ms", "loss 5%"]


def test_partition_of_nothing_or_everything_is_refused():
    faults = NetworkFaults(SPEC)
    with pytest.raises(InvalidInput):
        faults.partition([])
    with pytest.raises(InvalidInput, match="cuts nobody off"):
        faults.partition(SPEC.node_names)


@pytest.mark.parametrize("bad", ["", "50", "fast", "-1ms", "50 ms"])
def test_bad_delays(bad):
    with pytest.raises(InvalidInput, match="invalid delay"):
        check_delay(bad)


@pytest.mark.parametrize("bad", ["", "5", "101%", "x%", "-5%"])
def test_bad_losses(bad):
    with pytest.raises(InvalidInput, match="invalid loss"):
        check_loss(bad)


def test_good_values():
    assert check_delay("1.5s") == "1.5s" and check_loss("0.5%") == "0.5%"


def test_netem_absence_is_recognised_from_tc():
    assert is_netem_missing("Error: Specified qdisc kind is unknown.")
    assert not is_netem_missing("Error: argument \"vn9\" is wrong: Device does not exist")
