"""Isolated network mode without Ganeti: a network namespace per node, and
network faults (partition, heal, link down/up, delay/loss) applied for real."""

from __future__ import annotations

import json
import subprocess

import pytest

from helpers import Cli, wait_for
from hostsnap import HostSnapshot
from vcluster_ns.doctor import netem_error


def reaches(cli: Cli, node: str, ip: str, port: int = 22, timeout: int = 3) -> bool:
    """Can ``node`` open a TCP connection to ip:port (every node listens on 22)?"""
    script = f"echo > /dev/tcp/{ip}/{port}"
    return cli("run", node, "timeout", str(timeout), "bash", "-c", script,
               check=False).returncode == 0


def faults(cli: Cli) -> dict[str, list[str]]:
    info = json.loads(cli("status", "--json").stdout)
    return {n["name"]: n["faults"] for n in info["nodes"] if n["faults"]}


@pytest.fixture
def up3(cli: Cli) -> Cli:
    cli("up", "--no-init", "--nodes", "3", "--secondary-network", "198.51.100.0/24")
    return cli


def test_every_node_has_its_own_network(up3: Cli):
    cli = up3
    before = HostSnapshot.take()
    namespaces = {n: cli("run", n, "readlink", "/proc/self/ns/net").stdout
                  for n in ("node1", "node2", "node3")}
    assert len(set(namespaces.values())) == 3
    for i, node in enumerate(("node1", "node2", "node3")):
        assert cli("run", node, "hostname").stdout.strip() == node
        addresses = cli("run", node, "ip", "-o", "-4", "addr", "show").stdout
        own = {f"192.0.2.{10 + i}/24", f"198.51.100.{10 + i}/24", "127.0.0.1/8"}
        assert {w for w in addresses.split() if "/" in w and w[0].isdigit()} == own
        # The node's /sys shows its own devices: Ganeti looks for its bridge there.
        assert cli("run", node, "ls", "/sys/class/net").stdout.split() == \
            ["eth0", "eth1", "lo", "vcbr0"]
    assert reaches(cli, "node1", "192.0.2.12") and reaches(cli, "node1", "198.51.100.11")
    # Nobody holds the cluster IP until Ganeti adds it to the master: it fails fast.
    assert not reaches(cli, "node1", "192.0.2.1", timeout=10)
    assert not [d for d in before.differences(HostSnapshot.take(), owner=cli.dir)
                if not d.startswith("processes")]


def test_loopback_belongs_to_one_node(up3: Cli):
    cli = up3
    server = subprocess.Popen(
        cli.argv("run", "node1", "python3", "-c",
                 "import socket; s = socket.socket(); s.bind(('127.0.0.1', 7000)); "
                 "s.listen(); print('ready', flush=True); s.accept(); s.accept()"),
        stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        assert reaches(cli, "node1", "127.0.0.1", 7000)
        assert not reaches(cli, "node2", "127.0.0.1", 7000)
    finally:
        server.kill()
        server.wait()


def test_partition_and_heal(up3: Cli):
    cli = up3
    cli("net", "partition", "node3")
    assert faults(cli) == {"node3": ["partitioned (island 1)"]}
    assert not reaches(cli, "node1", "192.0.2.12")
    assert not reaches(cli, "node1", "198.51.100.12")  # the secondary cable too
    assert reaches(cli, "node1", "192.0.2.11")
    # Two nodes on one island still reach each other, and only each other.
    cli("net", "partition", "node2", "node3")
    assert reaches(cli, "node2", "192.0.2.12")
    assert not reaches(cli, "node1", "192.0.2.11")
    assert "island" in cli("status").stdout
    out = cli("net", "heal")
    assert "healed" in out.stdout
    assert faults(cli) == {}
    for target in ("192.0.2.11", "192.0.2.12"):
        assert reaches(cli, "node1", target)


def test_link_down_and_up(up3: Cli):
    cli = up3
    cli("net", "down", "node2")
    assert faults(cli) == {"node2": ["link down"]}
    link = cli("run", "node2", "ip", "-o", "link", "show", "eth0").stdout
    assert "NO-CARRIER" in link or "LOWERLAYERDOWN" in link
    assert not reaches(cli, "node1", "192.0.2.11")
    cli("net", "up", "node2")
    wait_for(lambda: reaches(cli, "node1", "192.0.2.11"), 30, what="node2's link to work")
    assert faults(cli) == {}


def test_delay_and_loss_need_netem(up3: Cli):
    cli = up3
    missing = netem_error()
    result = cli("net", "delay", "node2", "300ms", check=False)
    if missing:
        assert result.returncode == 4
        assert "netem is not supported by this kernel" in result.stderr
        assert cli("net", "loss", "node2", "5%", check=False).returncode == 4
        assert faults(cli) == {}
        return
    assert result.returncode == 0, result.stderr
    assert faults(cli) == {"node2": ["delay 300ms"]}
    timed = cli("run", "node1", "bash", "-c",
                "TIMEFORMAT=%R; time (echo > /dev/tcp/192.0.2.11/22)")
    assert float(timed.stderr.strip().splitlines()[-1]) >= 0.3
    cli("net", "heal")
    assert faults(cli) == {}


@pytest.mark.parametrize("args,code,message", [
    (("net", "partition", "node9"), 2, "unknown node 'node9'"),
    (("net", "partition", "node1", "node2", "node3"), 2, "cuts nobody off"),
    (("net", "delay", "node2", "fast"), 2, "invalid delay 'fast'"),
    (("net", "loss", "node2", "150%"), 2, "invalid loss '150%'"),
    (("net", "down"), 2, "Missing argument"),
])
def test_bad_network_requests(up3: Cli, args, code, message):
    result = up3(*args, check=False)
    assert result.returncode == code
    assert message in result.stderr and "Traceback" not in result.stderr
    assert faults(up3) == {}


def test_shared_mode_refuses_network_faults(cli: Cli):
    cli("up", "--no-init", "--nodes", "2", "--network-mode", "shared")
    addresses = cli("run", "node1", "ip", "-o", "-4", "addr", "show").stdout
    assert "192.0.2.10/32" in addresses and "192.0.2.11/32" in addresses
    result = cli("net", "partition", "node2", check=False)
    assert result.returncode == 2
    assert "need a network namespace per node" in result.stderr
