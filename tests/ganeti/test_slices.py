"""One Ganeti cluster over two slices run by two unprivileged users (issue 21).

The two users reach each other only through ssh on localhost, each through
the other's own unprivileged sshd (scripts/slice-peers, run by scripts/test
as root): the same code paths as two machines, with only the address and
port changed.  This user runs the master's slice (node1..node3); the peer
user runs node4..node6 and joins it.  One pair of slices serves every test
of the module, in order.

Needs VCLUSTER_NS_TEST_PEER ("user@127.0.0.1:PORT": this user reaches the
peer) and VCLUSTER_NS_TEST_PEER_JOIN (the peer reaches this user); skips
only when they are absent (CI always sets them).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from helpers import Cli, wait_for
from vcluster_ns.spec import parse_join

PEER = os.environ.get("VCLUSTER_NS_TEST_PEER")
PEER_JOIN = os.environ.get("VCLUSTER_NS_TEST_PEER_JOIN")
NAME = "sl"
NODES = ["--nodes", "6", "--instances", "4", "--watcher-interval", "0"]
A_NODES, B_NODES = ["node1", "node2", "node3"], ["node4", "node5", "node6"]

pytestmark = pytest.mark.skipif(
    not (PEER and PEER_JOIN),
    reason="no second user: scripts/test sets VCLUSTER_NS_TEST_PEER(_JOIN) "
           "(scripts/slice-peers)")


def ssh_argv(target: str, command: list[str]) -> list[str]:
    user, host, port = parse_join(target)
    return ["ssh", "-o", "BatchMode=yes", "-p", str(port), "-l", user, host,
            shlex.join(command)]


class PeerCli(Cli):
    """``vcluster-ns`` run by the peer user, through its sshd."""

    local = False  # the peer's processes and files: its fixture brings it down

    def __init__(self, root: str, cluster: str = NAME):
        super().__init__(root, cluster)

    def argv(self, *args: str) -> list[str]:
        return ssh_argv(PEER, [sys.executable, "-m", "vcluster_ns.entry", "--root",
                               str(self.root), "--cluster", self.cluster, *args])


def peer_shell(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(ssh_argv(PEER, list(command)), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def running_titles(*dirs: str) -> list[str]:
    """Processes (of any user) whose command line names one of ``dirs``."""
    out = subprocess.run(["ps", "-eo", "user:20,args"], capture_output=True,
                         text=True).stdout.splitlines()
    return [line for line in out if any(d in line for d in dirs) and "ps -eo" not in line]


def node_names(cli: Cli) -> list[str]:
    result = cli("run", "master", "gnt-node", "list", "--no-headers", "-o", "name")
    return result.stdout.split()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    a = Cli(tmp_path_factory.mktemp("slice-a") / "clusters", NAME)
    made = peer_shell("mktemp", "-d", "/tmp/vcluster-slice-b.XXXXXX")
    assert made.returncode == 0, made.stderr
    b = PeerCli(made.stdout.strip())
    join_command = shlex.join([sys.executable, "-m", "vcluster_ns.entry", "--root", str(a.root)])
    try:
        a("up", *NODES, "--slice", "1-3")
        b("up", *NODES, "--slice", "4-6", "--join", PEER_JOIN, "--join-command", join_command)
        a.join_command = join_command
        yield a, b
    finally:
        b("down", check=False)
        a("down", check=False)
        peer_shell("rm", "-rf", str(b.root))


def test_six_nodes_from_either_side_and_verify_clean(pair):
    a, b = pair
    assert node_names(a) == A_NODES + B_NODES
    assert node_names(b) == A_NODES + B_NODES
    verify = a("run", "master", "gnt-cluster", "verify", check=False)
    errors = [line for line in verify.stdout.splitlines() if "ERROR" in line]
    # This kernel has no /proc/sysrq-trigger: Ganeti says so for every node.
    assert errors and all("sysrq-trigger" in line for line in errors), verify.stdout
    status = json.loads(b("status", "--json").stdout)
    assert status["slice"]["slice"] == "4-6"
    assert [link["state"] for link in status["slice"]["links"]] == ["up"]
    assert status["link_keeper"]["state"] == "up"
    assert "link to master's slice: up" in b("status").stdout


def test_commands_cross_slices_with_stdin_and_status(pair):
    a, b = pair
    result = b("run", "node1", "bash", "-c", "echo on $(hostname); cat; exit 7",
               input="from the peer\n", check=False)
    assert (result.returncode, result.stdout) == (7, "on node1\nfrom the peer\n")
    result = a("run", "node6", "--", "sh", "-c", "hostname >&2", check=False)
    assert (result.returncode, result.stderr.strip()) == (0, "node6")


def test_instance_added_on_the_other_slice(pair):
    a, b = pair
    a("run", "master", "gnt-instance", "add", "-t", "diskless", "-o", "noop",
      "--no-name-check", "--no-ip-check", "-n", "node5", "instance1")
    listed = b("run", "master", "gnt-instance", "list", "--no-headers",
               "-o", "name,pnode,status").stdout.split()
    assert listed == ["instance1", "node5", "running"]


def test_master_failover_across_the_link(pair):
    a, b = pair
    b("run", "node4", "gnt-cluster", "master-failover")
    for cli in (a, b):
        assert cli("run", "master", "hostname").stdout.strip() == "node4"
    probe = 'exec 3<>/dev/tcp/192.0.2.1/1811 && echo answered'  # the master IP, noded
    for cli, node in ((a, "node2"), (b, "node6")):
        assert cli("run", node, "bash", "-c", probe).stdout.strip() == "answered"
    assert node_names(a) == A_NODES + B_NODES


def test_cut_link_then_heal(pair):
    a, b = pair
    a("net", "partition", *B_NODES)
    assert "cut" in a("status").stdout
    assert a("run", "node4", "true", check=False).returncode == 255

    def unreachable() -> bool:  # the master (node4) cannot reach the other slice
        rows = b("run", "master", "gnt-node", "list", "--no-headers", "-o",
                 "name,mfree", check=False).stdout.split("\n")
        return {r.split()[0] for r in rows if r.split()[1:] == ["?"]} == set(A_NODES)

    wait_for(unreachable, timeout=120, interval=1, what="node1..3 unreachable")
    a("net", "heal")
    wait_for(lambda: a("run", "master", "true", check=False).returncode == 0, timeout=60,
             interval=1, what="the master reachable after heal")
    rows = a("run", "master", "gnt-node", "list", "--no-headers", "-o", "name,mfree").stdout
    assert "?" not in rows and len(rows.split("\n")) >= 6


def test_bad_joins_say_one_line_and_create_nothing(pair):
    a, b = pair
    other = PeerCli(b.root, "bad")
    cases = [(["--slice", "3-5"], 2, "overlaps slice 1-3"),
             (["--slice", "4-6", "--network", "198.51.100.0/24"], 2, "--network"),
             (["--slice", "7"], 2, "not within node1..node6")]
    for extra, code, text in cases:
        result = other("up", *NODES, *extra, "--join", PEER_JOIN, "--join-command",
                       f"{a.join_command} --cluster {NAME}", check=False)
        assert result.returncode == code, result.stderr
        assert text in result.stderr and len(result.stderr.strip().splitlines()) == 1
    user, host, port = parse_join(PEER_JOIN)
    result = other("up", *NODES, "--slice", "4-6", "--join", f"{user}@{host}:1",
                   check=False)
    assert result.returncode == 1 and "cannot reach --join" in result.stderr
    assert peer_shell("test", "-e", f"{b.root}/bad").returncode == 1


def test_down_on_both_sides_leaves_nothing(pair):
    a, b = pair
    b("down")
    a("down")
    assert running_titles(str(a.root), str(b.root)) == []
    assert "vde_plug" not in subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                            text=True).stdout
