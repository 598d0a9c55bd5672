"""Real Ganeti on isolated nodes: default bind addresses, a secondary network,
a master IP that moves, and the two partition scenarios of docs/faults.md.

Tests in this module run in order and share one cluster.
"""

from __future__ import annotations

import json

import pytest

from helpers import Cli, left_over, verify_errors, wait_for
from hostsnap import HostSnapshot

CLUSTER_IP = "192.0.2.1"
NODES = ("node1", "node2", "node3")


@pytest.fixture(scope="module")
def isolated3(tmp_path_factory):
    before = HostSnapshot.take()
    cli = Cli(tmp_path_factory.mktemp("net") / "clusters")
    cli("up", "--nodes", "3", "--secondary-network", "198.51.100.0/24")
    cli.host_before = before
    yield cli
    if cli.pid1():
        cli("down", check=False)


def holders_of_cluster_ip(cli: Cli) -> list[str]:
    return [n for n in NODES
            if f"{CLUSTER_IP}/" in cli("run", n, "ip", "-o", "-4", "addr", "show", "eth0").stdout]


def rapi_master_via_cluster_ip(cli: Cli, node: str) -> str | None:
    """Whoever answers RAPI at the cluster IP, as seen from ``node``."""
    out = cli("run", node, "curl", "-sk", "--max-time", "5",
              f"https://{CLUSTER_IP}:5080/2/info", check=False)
    try:
        return json.loads(out.stdout)["master"]
    except (ValueError, KeyError, TypeError):
        return None


def daemon_states(cli: Cli, node: str) -> dict[str, str]:
    info = json.loads(cli("status", "--json").stdout)
    (entry,) = [n for n in info["nodes"] if n["name"] == node]
    return {d["daemon"].removeprefix("ganeti-"): d["state"] for d in entry["daemons"]}


def test_daemons_answer_on_their_nodes_loopback(isolated3: Cli):
    # gnt-node list-drbd asks the local confd at 127.0.0.1: in one shared
    # namespace it would find nobody there.
    out = isolated3("run", "node1", "gnt-node", "list-drbd", "node1")
    assert out.stdout.split()[:3] == ["Node", "Minor", "Instance"]
    noded = isolated3("run", "node2", "sh", "-c", "cat /proc/$(cat "
                      "$GANETI_ROOTDIR/var/run/ganeti/ganeti-noded.pid)/cmdline")
    argv = noded.stdout.split("\0")
    assert "/usr/sbin/ganeti-noded" in argv and "-b" not in argv


def test_init_leaves_no_route_to_the_cluster_ip_behind(isolated3: Cli):
    # up adds an unreachable route on node1 while gnt-cluster init runs (its
    # "is the cluster IP free" ping then fails at once); a leftover would cut
    # node1 off from the master IP once another node is master.
    for node in NODES:
        routes = isolated3("run", node, "ip", "route", "show", "table", "all").stdout
        assert "unreachable" not in routes, (node, routes)


def test_every_node_has_its_secondary_ip(isolated3: Cli):
    out = isolated3("run", "node1", "gnt-node", "list", "--no-headers",
                    "-o", "name,pip,sip").stdout
    assert [line.split() for line in out.splitlines()] == [
        ["node1", "192.0.2.10", "198.51.100.10"],
        ["node2", "192.0.2.11", "198.51.100.11"],
        ["node3", "192.0.2.12", "198.51.100.12"],
    ]


def test_master_ip_moves_with_the_master(isolated3: Cli):
    cli = isolated3
    assert holders_of_cluster_ip(cli) == ["node1"]
    assert rapi_master_via_cluster_ip(cli, "node3") == "node1"
    cli("run", "node2", "gnt-cluster", "master-failover")
    wait_for(lambda: holders_of_cluster_ip(cli) == ["node2"], 60,
             what="the master IP to be on node2 only")
    # Neighbours learn the move from master-ip-setup's gratuitous ARP.
    wait_for(lambda: rapi_master_via_cluster_ip(cli, "node3") == "node2", 90,
             what="the cluster IP to answer from node2")
    cli("run", "node1", "gnt-cluster", "master-failover")
    wait_for(lambda: holders_of_cluster_ip(cli) == ["node1"], 60,
             what="the master IP to be back on node1")


def test_partitioned_node_is_reported_then_healed(isolated3: Cli):
    cli = isolated3
    cli("net", "partition", "node3")
    errors = verify_errors(cli)
    # e.g. "ERROR: node node3: while contacting node: Error 7: Failed to connect"
    assert any("node node3: while contacting node" in e for e in errors), errors
    cli("net", "heal")
    wait_for(lambda: verify_errors(cli) == [], 180, interval=5,
             what="gnt-cluster verify to be clean after heal")


def test_master_cut_off_fails_over_and_learns_after_heal(isolated3: Cli):
    cli = isolated3
    cli("net", "partition", "node1")
    failover = cli("run", "node2", "gnt-cluster", "master-failover", "--no-voting",
                   "--yes-do-it", check=False)
    assert failover.returncode == 0, failover.stdout + failover.stderr
    assert cli("run", "node2", "gnt-cluster", "getmaster").stdout.strip() == "node2"
    assert "node2" in holders_of_cluster_ip(cli)
    cli("net", "heal")
    # The old master comes back (as after a power cycle): Ganeti's own vote
    # tells its wconfd and luxid that they are no longer master.
    cli("node", "restart", "node1")
    states = daemon_states(cli, "node1")
    assert states["wconfd"] == "not-master" and states["luxid"] == "not-master", states
    assert holders_of_cluster_ip(cli) == ["node2"]
    # Ganeti's documented repair: redistribute the configuration.
    cli("run", "node2", "gnt-cluster", "redist-conf")
    assert cli("run", "node1", "gnt-cluster", "getmaster").stdout.strip() == "node2"
    wait_for(lambda: verify_errors(cli, master="node2") == [], 180, interval=5,
             what="gnt-cluster verify on node2 to be clean")
    assert json.loads(cli("status", "--json").stdout)["master"] == "node2"


def test_down_with_faults_in_force_leaves_nothing(isolated3: Cli):
    cli = isolated3
    cli("net", "partition", "node3")
    cli("net", "down", "node2")
    cli("down")
    wait_for(lambda: not left_over(cli.host_before, cli), 30,
             what="the host to look as before")
    assert left_over(cli.host_before, cli) == []


def test_shared_mode_still_runs_ganeti(tmp_path_factory):
    """vcluster-setup's single namespace, kept as --network-mode shared."""
    cli = Cli(tmp_path_factory.mktemp("sh") / "clusters", "shared")
    try:
        cli("up", "--nodes", "2", "--network-mode", "shared")
        out = cli("run", "node1", "gnt-node", "list", "--no-headers", "-o", "name").stdout
        assert out.split() == ["node1", "node2"]
        # one namespace: node2 sees node1's address (and the master IP on lo)
        addresses = cli("run", "node2", "ip", "-o", "-4", "addr", "show").stdout
        assert "192.0.2.10/32" in addresses and f"{CLUSTER_IP}/32" in addresses
        assert verify_errors(cli) == []
    finally:
        if cli.pid1():
            cli("down", check=False)
