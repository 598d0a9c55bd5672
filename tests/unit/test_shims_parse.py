"""shims/ssh.py and shims/scp.py: command-line parsing and host/path splitting."""

import pytest

from vcluster_ns.shims import scp, ssh


def test_ssh_options_with_and_without_arguments():
    options, dest, command = ssh.parse([
        "-o", "StrictHostKeyChecking=no", "-oBatchMode=yes", "-p", "22", "-i", "key",
        "-4", "-N", "-t", "root@node2", "gnt-node", "list"])
    assert options == {"o": ["StrictHostKeyChecking=no", "BatchMode=yes"], "p": ["22"],
                       "i": ["key"], "4": [True], "N": [True], "t": [True]}
    assert dest == "root@node2"
    assert command == ["gnt-node", "list"]


def test_ssh_bundled_flags_and_attached_values():
    options, dest, command = ssh.parse(["-4Nt", "-p22", "-tp", "2222", "node1"])
    assert options["4"] == [True] and options["N"] == [True]
    assert options["t"] == [True, True]
    assert options["p"] == ["22", "2222"]
    assert dest == "node1" and command == []


def test_ssh_command_as_one_word_or_many():
    assert ssh.parse(["node1", "echo a; echo b"])[2] == ["echo a; echo b"]
    assert ssh.parse(["node1", "ls", "-l", "/tmp"])[2] == ["ls", "-l", "/tmp"]
    # options after the destination belong to the command
    options, dest, command = ssh.parse(["-n", "node1", "-t", "x"])
    assert options == {"n": [True]} and dest == "node1" and command == ["-t", "x"]


def test_ssh_double_dash():
    options, dest, command = ssh.parse(["-q", "--", "node3", "--", "uptime"])
    assert options == {"q": [True]}
    assert dest == "node3"
    assert command == ["--", "uptime"]
    assert ssh.parse(["--", "-weird-host"])[1] == "-weird-host"


def test_ssh_no_destination():
    assert ssh.parse([]) == ({}, None, [])
    assert ssh.parse(["-V"]) == ({"V": [True]}, None, [])
    assert ssh.parse(["-o", "A=b", "--"]) == ({"o": ["A=b"]}, None, [])


@pytest.mark.parametrize("argv,letter", [(["-Z", "node1"], "Z"), (["-4Z", "node1"], "Z"),
                                         (["-3", "node1"], "3")])
def test_ssh_unknown_option(argv, letter):
    with pytest.raises(ValueError, match=f"unknown option -- {letter}"):
        ssh.parse(argv)


@pytest.mark.parametrize("argv", [["-p"], ["-o"], ["-4", "-i"]])
def test_ssh_option_missing_argument(argv):
    with pytest.raises(ValueError, match="requires an argument"):
        ssh.parse(argv)


@pytest.mark.parametrize("destination,host", [
    ("node1", "node1"),
    ("root@node1", "node1"),
    ("root@node1.example.test", "node1.example.test"),
    ("a@b@node2", "node2"),
    ("ssh://root@node1:22", "node1"),
    ("ssh://node1", "node1"),
    ("[192.0.2.10]", "192.0.2.10"),
    ("root@[192.0.2.10]:22", "192.0.2.10"),
    ("192.0.2.10", "192.0.2.10"),
    ("fe80::1", "fe80::1"),
])
def test_ssh_split_destination(destination, host):
    assert ssh.split_destination(destination) == host


def test_scp_flags_and_options_with_arguments():
    flags, operands = scp.parse(["-r", "-p", "-P", "22", "-i", "key", "-o",
                                 "BatchMode=yes", "-q", "src", "node2:/dst"])
    assert flags == {"r", "p", "q"}
    assert operands == ["src", "node2:/dst"]


def test_scp_bundled_and_attached():
    flags, operands = scp.parse(["-rpq", "-P22", "-oA=b", "-3", "a", "b", "c"])
    assert flags == {"r", "p", "q", "3"}
    assert operands == ["a", "b", "c"]


def test_scp_double_dash_and_dash_operands():
    flags, operands = scp.parse(["-r", "--", "-file", "node1:/x"])
    assert flags == {"r"} and operands == ["-file", "node1:/x"]
    # after the first operand, dashes are operands too
    assert scp.parse(["a", "-r", "b"]) == (set(), ["a", "-r", "b"])
    assert scp.parse(["-", "b"]) == (set(), ["-", "b"])


def test_scp_unknown_option():
    with pytest.raises(ValueError, match="unknown option -- Z"):
        scp.parse(["-Z", "a", "b"])
    with pytest.raises(ValueError, match="unknown option -- t"):
        scp.parse(["-rt", "a", "b"])


@pytest.mark.parametrize("operand,expected", [
    ("node1:/tmp/x", ("node1", "/tmp/x")),
    ("root@node1:/tmp/x", ("node1", "/tmp/x")),
    ("node1:x", ("node1", "/root/x")),
    ("node1:", ("node1", "/root/.")),
    ("192.0.2.10:/etc/hosts", ("192.0.2.10", "/etc/hosts")),
    ("/tmp/a:b", (None, "/tmp/a:b")),
    ("./a:b", (None, "./a:b")),
    ("local-file", (None, "local-file")),
    (":x", (None, ":x")),
    ("/abs/path", (None, "/abs/path")),
])
def test_scp_split_operand(operand, expected):
    assert scp.split_operand(operand) == expected


def test_ssh_host_resolution_covers_localhost_and_secondary_ips(tmp_path):
    from vcluster_ns.shims.common import Cluster
    from vcluster_ns.spec import ClusterSpec

    ClusterSpec(name="c", nodes=3, secondary_network="198.51.100.0/24").save(
        tmp_path / "cluster.json")
    cluster = Cluster(str(tmp_path))
    assert cluster.node_for_host("node2") == "node2"
    assert cluster.node_for_host("192.0.2.12") == "node3"
    assert cluster.node_for_host("198.51.100.11") == "node2"  # secondary IP
    assert cluster.node_for_host("localhost", current="node3") == "node3"
    assert cluster.node_for_host("127.0.0.1", current="node1") == "node1"
    assert cluster.node_for_host("localhost") is None  # no node of its own
    assert cluster.node_for_host("198.51.100.99") is None
