"""Snapshots of a real Ganeti cluster: restored under a new name (next to the
original, both up) and over the original (--reset), the cluster verifies
clean and lists the same instances.

Tests in this module run in order and share the clusters (module fixture).
"""

from __future__ import annotations

import pytest

from helpers import Cli, expect_root, left_over, verify_errors, wait_for
from hostsnap import HostSnapshot

LISTING = ["gnt-instance", "list", "--no-headers", "-o", "name,pnode,status,os"]


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    """3 nodes, a diskless and a file-backed instance."""
    before = HostSnapshot.take()
    # Short names: Ganeti's sockets below <root>/<cluster>/<node> must fit
    # the 107 bytes of a unix socket path.
    cli = Cli(tmp_path_factory.mktemp("gs") / "clusters", "orig")
    cli("up", "--nodes", "3")
    cli("run", "node1", "gnt-instance", "add", "-t", "diskless", "-o", "noop",
        "--no-name-check", "--no-ip-check", "-n", "node2", "inst1")
    cli("run", "node1", "gnt-instance", "add", "--os-size", "1G", "--disk-template=file",
        "--os-type", "dummy", "-B", "memory=192", "-I", "hail", "instance1")
    cli.host_before = before
    cli.listing = cli("run", "node1", *LISTING).stdout.split("\n")
    yield cli
    for other in (cli, copy_of(cli)):
        if other.pid1():
            other("down", check=False)


def copy_of(original: Cli) -> Cli:
    return Cli(original.root, "copy")


def instance_disk_holder(cli: Cli) -> str:
    pnode = cli("run", "node1", "gnt-instance", "list", "--no-headers", "-o", "pnode",
                "instance1").stdout.strip()
    seen = cli("run", pnode, "sh", "-c", "head -c 40 /srv/ganeti/file-storage/instance1/*")
    assert seen.stdout.startswith("vcluster-ns dummy OS disk of instance1"), seen.stdout
    return pnode


def test_snapshot_of_the_down_cluster(original: Cli):
    expect_root()
    assert [l.split()[0] for l in original.listing if l] == ["inst1", "instance1"]
    refused = original("snapshot", "prepared", check=False)
    assert refused.returncode == 2 and "is up" in refused.stderr
    original("down")
    original("snapshot", "prepared")
    tree = original.root / ".snapshots/prepared/tree"
    disks = list(tree.glob("node*/file-storage/instance1/*"))
    assert len(disks) == 1 and disks[0].stat().st_size == 1 << 30
    assert disks[0].stat().st_blocks * 512 < 1 << 20  # still sparse


def test_a_name_too_long_for_ganetis_sockets_is_refused_before_copying(original: Cli):
    from vcluster_ns.ganeti import LONGEST_SOCKET
    room = 107 - len(f"{original.root}//node3/{LONGEST_SOCKET}")
    long = Cli(original.root, "l" * (room + 1))
    result = long("up", "--from-snapshot", "prepared", check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"Error: cluster directory {long.dir} is too long for "
                                    "Ganeti's unix sockets"), result.stderr
    assert sorted(p.name for p in original.root.iterdir()) == [".snapshots", "orig"]


def test_restore_under_a_new_name_next_to_the_original(original: Cli):
    copy = copy_of(original)
    original("up")
    copy("up", "--from-snapshot", "prepared")
    assert copy("run", "node1", *LISTING).stdout.split("\n") == original.listing
    assert verify_errors(copy) == []
    nodes = copy("run", "node1", "gnt-node", "list", "--no-headers", "-o", "name").stdout
    assert nodes.split() == ["node1", "node2", "node3"]
    instance_disk_holder(copy)
    # Ganeti's paths below the cluster directory were moved to the copy's.
    info = copy("run", "node1", "gnt-cluster", "info").stdout
    assert f"{copy.dir}/node1/srv/ganeti/shared-file-storage" in info
    assert str(original.dir) not in info
    # Two clusters, one state each: a change in the copy stays there.
    copy("run", "node1", "gnt-instance", "remove", "-f", "inst1")
    assert original("run", "node1", *LISTING).stdout.split("\n") == original.listing
    assert verify_errors(original) == []


def test_reset_puts_the_original_back(original: Cli):
    original("run", "node1", "gnt-instance", "remove", "-f", "instance1")
    original("run", "node1", "gnt-instance", "add", "-t", "diskless", "-o", "noop",
             "--no-name-check", "--no-ip-check", "-n", "node3", "inst2")
    original("down")
    original("up", "--from-snapshot", "prepared", "--reset")
    assert original("run", "node1", *LISTING).stdout.split("\n") == original.listing
    assert verify_errors(original) == []
    instance_disk_holder(original)


def test_host_is_untouched(original: Cli):
    copy = copy_of(original)
    for cli in (original, copy):
        cli("down")
        wait_for(lambda: not cli.cluster_processes(), 60, what="cluster processes to end")
    assert left_over(original.host_before, original, copy) == []
