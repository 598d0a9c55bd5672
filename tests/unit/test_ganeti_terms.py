"""ganeti.py: daemon arguments, readiness probes and master detection."""

from pathlib import Path

from vcluster_ns import ganeti
from vcluster_ns.daemonspec import Listening
from vcluster_ns.spec import ClusterSpec

SPEC = ClusterSpec(nodes=2, network_mode="shared")
ISOLATED = ClusterSpec(nodes=2, secondary_network="198.51.100.0/24")


def test_isolated_daemons_keep_their_default_bind_address():
    args = ganeti.daemon_args(ISOLATED, "node2")
    assert args == {"NODED_ARGS": "--no-mlock"}
    assert ganeti.daemon_argv(ISOLATED, "node1", "ganeti-confd") == [
        "/usr/sbin/ganeti-confd", "-f"]


def test_shared_daemon_args_bind_the_node_address():
    args = ganeti.daemon_args(SPEC, "node2")
    assert args["NODED_ARGS"] == "--no-mlock -b 192.0.2.11"
    assert args["CONFD_ARGS"] == "-b 192.0.2.11"
    assert args["WCONFD_ARGS"] == "" and args["LUXID_ARGS"] == ""


def test_daemon_argv():
    assert ganeti.daemon_argv(SPEC, "node1", "ganeti-noded") == [
        "/usr/sbin/ganeti-noded", "-f", "--no-mlock", "-b", "192.0.2.10"]
    assert ganeti.daemon_argv(SPEC, "node1", "ganeti-wconfd", ["--force-node"]) == [
        "/usr/sbin/ganeti-wconfd", "-f", "--force-node"]


def test_readiness():
    root = Path("/r/c/node1")
    assert ganeti.readiness(SPEC, root, "node1", "ganeti-noded") == \
        Listening("tcp", ("192.0.2.10", 1811))
    assert ganeti.readiness(SPEC, root, "node1", "ganeti-confd") == \
        Listening("udp", ("192.0.2.10", 1814))
    assert ganeti.readiness(SPEC, root, "node1", "ganeti-luxid", "/proc/7/net") == \
        Listening("unix", "/r/c/node1/var/run/ganeti/socket/ganeti-query", "/proc/7/net")
    assert ganeti.readiness(SPEC, root, "node1", "ganeti-unknown") is None


def test_master_detection(tmp_path):
    root = tmp_path / "node1"
    assert ganeti.master_of(root) is None
    assert not ganeti.is_initialised(root)
    assert ganeti.daemons_for(root, "node1") == list(ganeti.NODE_DAEMONS)
    (root / "var/lib/ganeti").mkdir(parents=True)
    (root / "var/lib/ganeti/ssconf_master_node").write_text("node1\n")
    (root / "var/lib/ganeti/server.pem").write_text("x")
    assert ganeti.master_of(root) == "node1"
    assert ganeti.is_initialised(root)
    assert ganeti.daemons_for(root, "node1") == list(ganeti.START_ORDER)
    assert ganeti.daemons_for(root, "node2") == list(ganeti.NODE_DAEMONS)


def test_init_and_node_add_argv():
    argv = ganeti.init_argv(ClusterSpec(domain="example.test"))
    assert argv[:2] == ["gnt-cluster", "init"]
    assert argv[-1] == "cluster.example.test"
    assert "--file-storage-dir=/srv/ganeti/file-storage" in argv
    assert "--master-netdev=eth0" in argv
    assert ganeti.node_add_argv(SPEC, "node2") == ["gnt-node", "add", "--no-ssh-key-check",
                                                   "node2"]
    assert "--master-netdev=lo" in ganeti.init_argv(SPEC)


def test_secondary_network_in_init_and_node_add():
    argv = ganeti.init_argv(ISOLATED)
    assert argv[argv.index("-s") + 1] == "198.51.100.10"
    assert ganeti.node_add_argv(ISOLATED, "node2") == [
        "gnt-node", "add", "--no-ssh-key-check", "-s", "198.51.100.11", "node2"]


def test_cluster_ip_route_only_while_an_isolated_init_runs():
    assert ganeti.cluster_ip_route_argv(ISOLATED, "add") == [
        "ip", "route", "add", "unreachable", "192.0.2.1/32"]
    assert ganeti.cluster_ip_route_argv(ISOLATED, "del")[2] == "del"
    assert ganeti.cluster_ip_route_argv(SPEC, "add") is None  # shared: the prefix already is


def test_shipped_os_definitions():
    assert (ganeti.os_definitions_dir() / "dummy" / "create").is_file()


def test_transient_node_add_errors():
    assert ganeti.is_transient_add_error(
        "Failure: prerequisites not met for this operation: Node not reachable by ping")
    assert ganeti.is_transient_add_error("SSH daemon on node95:22 (IP address 198.18.0.104) "
                                         "didn't become responsive within 10.0 seconds")
    assert not ganeti.is_transient_add_error("Failure: node already in the cluster")
