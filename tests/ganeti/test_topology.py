"""Nodes that differ (cluster files): Ganeti and its htools see each node's
own memory and CPUs, node groups hold their instances, up seeds instances.

Two clusters, each shared by the tests of its part, in order.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from helpers import Cli, verify_errors, wait_for

pytestmark = pytest.mark.ganeti

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
MIB = {"node1": 2048, "node2": 4096, "node3": 8192, "node4": 16384}
CPUS = {"node1": 1, "node2": 2, "node3": 4, "node4": 8}
DISK = {"node1": 10240, "node2": 20480, "node3": 40960, "node4": 81920}


def cluster_from(tmp_path_factory, prefix: str, example: str):
    """A cluster made from a docs/examples file, down at the module's end."""
    cli = Cli(tmp_path_factory.mktemp(prefix) / "clusters")
    cli("up", "-f", str(EXAMPLES / example))
    yield cli
    if cli.pid1():
        cli("down", check=False)


@pytest.fixture(scope="module")
def het(tmp_path_factory):
    yield from cluster_from(tmp_path_factory, "het", "heterogeneous.toml")


def node_figures(cli: Cli) -> dict[str, tuple[int, int, int]]:
    """name -> (mtotal, mfree, ctotal), memory in MiB."""
    out = cli("run", "node1", "gnt-node", "list", "--no-headers", "--units=m",
              "--separator=|", "-o", "name,mtotal,mfree,ctotal").stdout
    rows = [line.split("|") for line in out.split()]
    return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}


def add_instance(cli: Cli, name: str, memory: int, *where: str,
                 template: str = "diskless") -> None:
    disks = ["--disk", "0:size=64M"] if template != "diskless" else []
    cli("run", "node1", "gnt-instance", "add", "-t", template, *disks, "--no-name-check",
        "--no-ip-check", "--no-nics", "-o", "noop", "-B", f"memory={memory}", *where, name)


def primaries(cli: Cli) -> dict[str, str]:
    out = cli("run", "node1", "gnt-instance", "list", "--no-headers", "--separator=|",
              "-o", "name,pnode,status").stdout
    rows = [line.split("|") for line in out.split()]
    assert all(r[2] == "running" for r in rows), out
    return {r[0]: r[1] for r in rows}


def test_each_node_reports_its_own_memory_and_cpus(het):
    figures = node_figures(het)
    assert {n: f[0] for n, f in figures.items()} == MIB
    assert {n: f[1] for n, f in figures.items()} == MIB  # no instance yet
    assert {n: f[2] for n, f in figures.items()} == CPUS
    out = het("run", "node1", "gnt-node", "list", "--no-headers", "--units=m",
              "--separator=|", "-o", "name,dtotal,dfree").stdout
    disks = {r[0]: (int(r[1]), int(r[2])) for r in (line.split("|") for line in out.split())}
    assert disks == {n: (d, d) for n, d in DISK.items()}
    status = het("status").stdout
    assert re.search(r"node4\s+default\s+16G\s+8\s+80G", status), status


def test_hspace_capacity_follows_the_sizes(het):
    # htools keep 64 MiB of each node's free memory out of allocations (its
    # tiered results show 2048 - 64 = 1984 on node1, ... 16384 - 64 = 16320
    # on node4).  Instances of 1 GiB memory, 1 GiB disk, 1 CPU on the empty
    # cluster: memory allows 1984//1024 + 4032//1024 + 8128//1024 +
    # 16320//1024 = 1 + 3 + 7 + 15 = 26; CPUs (vcpu-ratio 4) would allow
    # 4 + 8 + 16 + 32 = 60 and disk far more, so memory decides: 26.
    # --no-capacity-checks: by default hspace also keeps the cluster able
    # to lose any node (global N+1) and reports fewer.
    out = het("run", "node1", "hspace", "-L", "--disk-template=file", "--no-capacity-checks",
              "--standard-alloc=1024,1024,1").stdout
    # the sums of the file's sizes
    assert "MEM 30720, DSK 153600, CPU 15," in out, out
    normal = out.split("Normal (fixed-size) allocation results:")[1]
    assert re.search(r"-\s+26 instances allocated", normal), out
    assert "of spec MEM 16320," in out, out
    assert "FailMem" in normal, out


def test_hail_places_on_the_node_with_most_free_memory(het):
    add_instance(het, "big1", 3072, "-n", "node4")
    wait_for(lambda: node_figures(het)["node4"][1] == MIB["node4"] - 3072,
             timeout=120, what="node4's mfree to fall by the instance's memory")
    # Three of 3 GiB: node4 has 7 GiB free, less than node3's 8, and hail's
    # N+1 check still passes (node3 and node2 could take them over).
    add_instance(het, "big2", 3072, "-n", "node4")
    add_instance(het, "big3", 3072, "-n", "node4")
    add_instance(het, "placed", 512, "-I", "hail")
    assert primaries(het)["placed"] == "node3"
    for name in ("big1", "big2", "big3", "placed"):
        het("run", "node1", "gnt-instance", "remove", "-f", name)
    wait_for(lambda: {n: f[1] for n, f in node_figures(het).items()} == MIB,
             timeout=120, what="mfree back to the totals")


def test_hbal_moves_instances_toward_the_emptier_nodes(het):
    for i in range(1, 4):  # 3 x 512 MiB on node2 (4 GiB), the others empty
        add_instance(het, f"crowd{i}", 512, "-n", "node2", template="sharedfile")
    out = het("run", "node1", "hbal", "-L").stdout
    moves = re.findall(r"^\s*\d+\.\s+(\S+)\s+(\S+)\s+=>\s+(\S+)", out, re.M)
    assert moves, out
    assert all(source == "node2" and target != "node2" for _, source, target in moves), out
    het("run", "node1", "hbal", "-L", "-X", timeout=900)
    after = primaries(het)
    assert sum(1 for n in after.values() if n == "node2") < 3, after
    again = het("run", "node1", "hbal", "-L").stdout
    assert "Solution length=0" in again or "No solution found" in again, again
    figures = node_figures(het)
    for node, total in MIB.items():  # mfree is what the instances left
        used = 512 * sum(1 for n in after.values() if n == node)
        assert figures[node][1] == total - used, (node, figures)


# -- node groups and seeded instances ------------------------------------------

@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    yield from cluster_from(tmp_path_factory, "grp", "groups.toml")


def test_up_seeds_fifty_running_instances(grouped):
    placed = primaries(grouped)
    assert sorted(placed) == sorted(f"instance{i}" for i in range(1, 51))
    counts = {n: list(placed.values()).count(n) for n in set(placed.values())}
    # Round-robin over the nodes that take instances: node2 starts drained.
    assert counts == {"node1": 17, "node3": 17, "node4": 16}, counts


def test_nodes_are_in_their_groups_with_their_roles(grouped):
    out = grouped("run", "node1", "gnt-node", "list", "--no-headers", "--separator=|",
                  "--units=m", "-o", "name,group,mtotal,master_capable,drained").stdout
    rows = {r[0]: r[1:] for r in (line.split("|") for line in out.split())}
    assert rows["node1"] == ["default", "4096", "Y", "N"]
    assert rows["node2"] == ["default", "4096", "Y", "Y"]
    assert rows["node3"] == ["rack2", "2048", "Y", "N"]
    assert rows["node4"] == ["rack2", "2048", "N", "N"]


def test_instances_stay_within_their_group(grouped):
    # node1 and node2 have far more free memory, but an instance of rack2
    # that moves can only go to rack2's other node.
    add_instance(grouped, "mover", 256, "-n", "node3", template="sharedfile")
    grouped("run", "node1", "gnt-instance", "migrate", "-f", "-I", "hail", "mover",
            timeout=600)
    assert primaries(grouped)["mover"] == "node4"
    assert verify_errors(grouped) == []


def test_dump_config_of_the_running_cluster(grouped):
    import tomllib
    data = tomllib.loads(grouped("up", "--dump-config").stdout)
    assert data["nodes"]["node3"]["group"] == "rack2"
    assert data["nodes"]["node3"]["memory"] == "2G"
    assert data["instances"]["count"] == 50


def test_offline_node_and_hail_placement_from_a_cluster_file(tmp_path_factory):
    """Roles at creation and seeding by hail, for real: node3 starts
    offline, and hail places every instance on node1 or node2, the first on
    node2 (the most free memory)."""
    # Short path: Ganeti's sockets below <root>/<cluster>/<node> must fit.
    cli = Cli(tmp_path_factory.mktemp("oh") / "c", "oh")
    try:
        cli("up", "-f", str(EXAMPLES / "offline-and-hail.toml"))
        nodes = cli("run", "master", "gnt-node", "list", "--no-headers", "--separator=|",
                    "-o", "name,offline").stdout.split()
        assert nodes == ["node1|N", "node2|N", "node3|Y"]
        listing = cli("run", "master", "gnt-instance", "list", "--no-headers",
                      "--separator=|", "-o", "name,pnode,status").stdout.split()
        rows = [line.split("|") for line in listing]
        assert [r[0] for r in rows] == [f"instance{i}" for i in range(1, 5)]
        assert {r[1] for r in rows} <= {"node1", "node2"} and rows[0][1] == "node2"
        assert {r[2] for r in rows} == {"running"}
        assert verify_errors(cli, "master") == []
    finally:
        if cli.pid1():
            cli("down", check=False)
